package alerts_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/alerts"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/nagreport"
)

const (
	testOrgID = "o-a1b2c3d4e5"
	// testManagementAccount is the management account of the delegated-administrator stack.
	testManagementAccount = "444455556666"
)

// synthesis is one central-mode stack, synthesized once in an app with cdk-nag's AwsSolutions
// checks, as infra/main.go applies them.
type synthesis struct {
	once  sync.Once
	stack *alerts.AlertsStack
	tmpl  assertions.Template
	doc   map[string]any
	err   error
	// nag is cdk-nag's report of the stack.
	nag nagreport.Report
}

var (
	// centralSynth is central mode in the management account; delegatedSynth in a CloudTrail
	// delegated administrator (ManagementAccountID).
	centralSynth, delegatedSynth synthesis
)

func (s *synthesis) get(t *testing.T, id, managementAccount string) (*alerts.AlertsStack, assertions.Template, map[string]any) {
	t.Helper()
	s.once.Do(func() {
		ctx, err := settings.ReadCDKJSON("../../cdk.json")
		if err != nil {
			s.err = err
			return
		}
		ctx["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] = true
		out := filepath.Join(tmp, id+".out")
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
		s.stack, s.err = alerts.NewAlertsStack(app, id, &alerts.AlertsStackProps{
			RelayAssetDir: relayDir, EventSources: settings.DefaultAlertEventSources, OrganizationID: testOrgID,
			ManagementAccountID: managementAccount,
		})
		if s.err != nil {
			return
		}
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		s.tmpl = assertions.Template_FromStack(s.stack.Stack, nil)
		if s.doc, s.err = templatetest.JSON(s.tmpl); s.err != nil {
			return
		}
		s.nag, s.err = nagreport.Read(out)
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.stack, s.tmpl, s.doc
}

// central is the central-mode stack AlertsCentral, deployed in the management account.
func central(t *testing.T) (*alerts.AlertsStack, assertions.Template, map[string]any) {
	t.Helper()
	return centralSynth.get(t, "AlertsCentral", "")
}

// delegated is the central-mode stack AlertsDelegated, deployed in a delegated administrator of
// the organization whose management account is testManagementAccount.
func delegated(t *testing.T) (*alerts.AlertsStack, assertions.Template, map[string]any) {
	t.Helper()
	return delegatedSynth.get(t, "AlertsDelegated", testManagementAccount)
}

// Single-account mode declares no organization resources: no bus, no bus policy, no
// organization trail, the default bus's three rules only.
func TestSingleAccountHasNoOrganizationResources(t *testing.T) {
	for _, typ := range []string{"AWS::Events::EventBus", "AWS::Events::EventBusPolicy"} {
		templatetest.Count(t, plain, typ, 0)
	}
	for id, p := range templatetest.Resources(plainJSON, "AWS::CloudTrail::Trail") {
		if _, ok := p["IsOrganizationTrail"]; ok {
			t.Errorf("trail %s sets IsOrganizationTrail in single-account mode", id)
		}
	}
	for id, p := range templatetest.Resources(plainJSON, "AWS::Events::Rule") {
		if _, ok := p["EventBusName"]; ok {
			t.Errorf("rule %s is on a custom bus in single-account mode", id)
		}
	}
	if plainStack.OrganizationBus != nil {
		t.Error("OrganizationBus set in single-account mode")
	}
	if strings.Contains(fmt.Sprint(plainJSON), testOrgID) || strings.Contains(fmt.Sprint(plainJSON), "PrincipalOrgID") {
		t.Error("the single-account template names an organization")
	}
}

func TestCentralOrganizationTrail(t *testing.T) {
	_, tmpl, doc := central(t)
	templatetest.Has(t, tmpl, "AWS::CloudTrail::Trail", map[string]any{"IsOrganizationTrail": true, "TrailName": "AlertsCentral-trail", "IsMultiRegionTrail": true})
	// AWS's documented statement: CloudTrail writes the organization's log files under
	// AWSLogs/<organization id>/, for this trail only.
	_, policy := templatetest.Only(t, doc, "AWS::S3::BucketPolicy", "TrailBucketPolicy")
	found := false
	for _, s := range policy["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		res, _ := json.Marshal(st["Resource"])
		if st["Effect"] != "Allow" || !strings.Contains(string(res), "/AWSLogs/"+testOrgID+"/*") {
			continue
		}
		found = true
		cond, _ := json.Marshal(st["Condition"])
		if st["Action"] != "s3:PutObject" || !strings.Contains(string(cond), `"aws:SourceArn"`) || !strings.Contains(string(cond), "trail/AlertsCentral-trail") ||
			!strings.Contains(string(cond), "bucket-owner-full-control") {
			t.Errorf("organization log statement %v: want s3:PutObject for this trail's aws:SourceArn with bucket-owner-full-control", st)
		}
	}
	if !found {
		t.Errorf("no bucket statement lets CloudTrail write under AWSLogs/%s/", testOrgID)
	}
}

func TestCentralBusPolicy(t *testing.T) {
	s, tmpl, doc := central(t)
	if s.OrganizationBus == nil {
		t.Fatal("no OrganizationBus")
	}
	templatetest.Has(t, tmpl, "AWS::Events::EventBus", map[string]any{"Name": settings.CentralBusName})
	bus, _ := templatetest.Only(t, doc, "AWS::Events::EventBus", "OrganizationBus")
	templatetest.Count(t, tmpl, "AWS::Events::EventBusPolicy", 1)
	templatetest.Has(t, tmpl, "AWS::Events::EventBusPolicy", map[string]any{
		"EventBusName": ref(bus),
		"Statement": map[string]any{
			"Sid": "cdk-AllowOrganizationPutEvents", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"}, "Action": "events:PutEvents",
			"Resource":  arn(bus),
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": testOrgID}},
		},
	})
}

// The bus's rules repeat the default bus's, with the same target: the relay, its dead-letter
// queue and retries; the queue's key admits EventBridge for them, and an alarm watches each one's
// dead-letter writes under the bus's metric dimensions.
func TestCentralRulesOnTheBus(t *testing.T) {
	_, tmpl, doc := central(t)
	bus, _ := templatetest.Only(t, doc, "AWS::Events::EventBus", "OrganizationBus")
	relay, _ := templatetest.Only(t, doc, "AWS::Lambda::Function", "TrailRelay")
	dlq, _ := templatetest.Only(t, doc, "AWS::SQS::Queue", "UndeliveredAlerts")
	target := []any{map[string]any{
		"Arn":              arn(relay),
		"DeadLetterConfig": map[string]any{"Arn": arn(dlq)},
		"RetryPolicy":      map[string]any{"MaximumEventAgeInSeconds": float64(alerts.TargetMaxEventAgeHours * 3600), "MaximumRetryAttempts": float64(alerts.TargetRetryAttempts)},
	}}
	templatetest.Count(t, tmpl, "AWS::Events::Rule", 6)
	var patterns [2][]string
	for _, p := range templatetest.Resources(doc, "AWS::Events::Rule") {
		b, _ := json.Marshal(p["EventPattern"])
		i := 0
		if _, onBus := p["EventBusName"]; onBus {
			i = 1
		}
		patterns[i] = append(patterns[i], string(b))
	}
	sortStrings(patterns[0])
	sortStrings(patterns[1])
	if strings.Join(patterns[0], "\n") != strings.Join(patterns[1], "\n") {
		t.Errorf("bus rule patterns\n%s\nwant the default bus's\n%s", strings.Join(patterns[1], "\n"), strings.Join(patterns[0], "\n"))
	}
	for _, name := range []string{"AlertsCentral-OrgCloudTrailEvents", "AlertsCentral-OrgRotationFailed", "AlertsCentral-OrgHealthFindings"} {
		templatetest.Has(t, tmpl, "AWS::Events::Rule", map[string]any{"Name": name, "EventBusName": ref(bus), "Targets": target})
		templatetest.Has(t, tmpl, "AWS::CloudWatch::Alarm", map[string]any{
			"MetricName": "InvocationsFailedToBeSentToDLQ",
			"Dimensions": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "EventBusName", "Value": settings.CentralBusName}, map[string]any{"Name": "RuleName", "Value": name}}),
		})
	}
}

// In central mode the dead-letter queue's policy still has one Allow for EventBridge, listing all
// six rules (the default bus's and the organization bus's), as the queue key's statement does.
func TestCentralDeadLetterPolicy(t *testing.T) {
	for _, c := range []struct {
		name, stack string
		synth       func(*testing.T) (*alerts.AlertsStack, assertions.Template, map[string]any)
	}{{"management account", "AlertsCentral", central}, {"delegated administrator", "AlertsDelegated", delegated}} {
		t.Run(c.name, func(t *testing.T) {
			_, _, doc := c.synth(t)
			bus := settings.CentralBusName + "/" + c.stack
			checkDeadLetterPolicy(t, doc, c.stack+"-CloudTrailEvents", c.stack+"-RotationFailed", c.stack+"-HealthFindings",
				bus+"-OrgCloudTrailEvents", bus+"-OrgRotationFailed", bus+"-OrgHealthFindings")
		})
	}
}

// cdk-nag's AwsSolutions checks find nothing unsuppressed in central mode, in the management
// account and in a delegated administrator.
func TestCentralNagClean(t *testing.T) {
	for _, c := range []struct {
		name  string
		synth func(*testing.T) (*alerts.AlertsStack, assertions.Template, map[string]any)
		nag   *nagreport.Report
	}{{"management account", central, &centralSynth.nag}, {"delegated administrator", delegated, &delegatedSynth.nag}} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := c.synth(t)
			if err := c.nag.Err(); err != nil {
				t.Error(err)
			}
			// The report is only evidence if cdk-nag really evaluated the stack's resources.
			if n := c.nag.Count(nagreport.Compliant); n < 15 {
				t.Errorf("only %d compliant checks: did cdk-nag run on the stack?", n)
			}
			if msgs := templatetest.NagMessages(t, s.Stack); len(msgs) > 0 {
				t.Errorf("cdk-nag findings:\n%s", strings.Join(msgs, "\n"))
			}
		})
	}
}

// TestCentralTrailOwner: CloudTrail uses the key and writes the logs as the trail of its owner,
// the management account, also when a delegated administrator deploys the stack. So every
// statement of the trail key and the trail bucket that admits CloudTrail names the trail ARN with
// the owner's id (aws:SourceArn; the key's encryption context, the owner's trails), and CloudTrail
// may write under AWSLogs/<owner>/ and AWSLogs/<organization id>/ and nowhere else.
func TestCentralTrailOwner(t *testing.T) {
	for _, c := range []struct {
		name, stack, owner string
		synth              func(*testing.T) (*alerts.AlertsStack, assertions.Template, map[string]any)
	}{
		{"management account", "AlertsCentral", "${AWS::AccountId}", central},
		{"delegated administrator", "AlertsDelegated", testManagementAccount, delegated},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, doc := c.synth(t)
			trailArn := "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:" + c.owner + ":trail/" + c.stack + "-trail"
			ownersTrails := "arn:${AWS::Partition}:cloudtrail:*:" + c.owner + ":trail/*"
			bucket, _ := templatetest.Only(t, doc, "AWS::S3::Bucket", "TrailBucket")
			_, key := templatetest.Only(t, doc, "AWS::KMS::Key", "TrailKey")
			policyID, policy := templatetest.Only(t, doc, "AWS::S3::BucketPolicy", "TrailBucketPolicy")
			// CloudTrail checks the policy when it creates the trail.
			trail, _ := templatetest.Only(t, doc, "AWS::CloudTrail::Trail", "Trail")
			if deps, _ := json.Marshal(doc["Resources"].(map[string]any)[trail].(map[string]any)["DependsOn"]); !strings.Contains(string(deps), `"`+policyID+`"`) {
				t.Errorf("trail %s depends on %s; want the bucket policy %s", trail, deps, policyID)
			}
			var writes []string
			checked := 0
			for what, doc := range map[string]any{"key": key["KeyPolicy"], "bucket": policy["PolicyDocument"]} {
				for _, s := range doc.(map[string]any)["Statement"].([]any) {
					st := s.(map[string]any)
					if p, _ := st["Principal"].(map[string]any); p["Service"] != "cloudtrail.amazonaws.com" {
						continue
					}
					checked++
					cond, _ := st["Condition"].(map[string]any)
					op := "StringEquals"
					if st["Effect"] == "Deny" {
						op = "StringNotEquals"
					}
					kv, _ := cond[op].(map[string]any)
					if kv["aws:SourceArn"] == nil {
						t.Errorf("%s statement %v: no %s aws:SourceArn", what, st["Sid"], op)
					} else if got := templatetest.Text(t, kv["aws:SourceArn"]); got != trailArn {
						t.Errorf("%s statement %v: aws:SourceArn %s; want %s", what, st["Sid"], got, trailArn)
					}
					if like, ok := cond["StringLike"].(map[string]any); ok {
						if got := templatetest.Text(t, like["kms:EncryptionContext:aws:cloudtrail:arn"]); got != ownersTrails {
							t.Errorf("%s statement %v: encryption context %s; want %s", what, st["Sid"], got, ownersTrails)
						}
					}
					if st["Effect"] == "Allow" && st["Action"] == "s3:PutObject" {
						writes = append(writes, templatetest.Text(t, st["Resource"]))
					}
				}
			}
			if checked != 6 {
				t.Errorf("%d statements admit CloudTrail; want the key's 2 and the bucket's 4", checked)
			}
			sort.Strings(writes)
			want := []string{"${" + bucket + ".Arn}/AWSLogs/" + c.owner + "/*", "${" + bucket + ".Arn}/AWSLogs/" + testOrgID + "/*"}
			sort.Strings(want)
			if strings.Join(writes, " ") != strings.Join(want, " ") {
				t.Errorf("CloudTrail may write under %v; want %v", writes, want)
			}
		})
	}
}

func TestCentralRefusesABadManagementAccount(t *testing.T) {
	app := awscdk.NewApp(nil)
	for i, p := range []*alerts.AlertsStackProps{
		{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"}, OrganizationID: testOrgID, ManagementAccountID: "4444-5555-6666"},
		{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"}, ManagementAccountID: testManagementAccount},
	} {
		if _, err := alerts.NewAlertsStack(app, fmt.Sprintf("Bad%d", i), p); err == nil || !strings.Contains(err.Error(), "ManagementAccountID") {
			t.Errorf("%+v: err %v; want one naming ManagementAccountID", p, err)
		}
	}
}

func TestCentralRefusesABadOrganizationID(t *testing.T) {
	app := awscdk.NewApp(nil)
	_, err := alerts.NewAlertsStack(app, "Bad", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"}, OrganizationID: "o-UPPER"})
	if err == nil || !strings.Contains(err.Error(), "OrganizationID") {
		t.Errorf("err %v; want one naming OrganizationID", err)
	}
}

func sortStrings(s []string) { sort.Strings(s) }
