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

const testOrgID = "o-a1b2c3d4e5"

var (
	centralOnce  sync.Once
	centralStack *alerts.AlertsStack
	centralTmpl  assertions.Template
	centralJSON  map[string]any
	centralErr   error
	// centralNag is cdk-nag's report of the central stack, read after the first synthesis.
	centralNag nagreport.Report
)

// central synthesizes, once, a central-mode stack in an app with cdk-nag's AwsSolutions checks,
// as infra/main.go applies them.
func central(t *testing.T) (*alerts.AlertsStack, assertions.Template, map[string]any) {
	t.Helper()
	centralOnce.Do(func() {
		ctx, err := settings.ReadCDKJSON("../../cdk.json")
		if err != nil {
			centralErr = err
			return
		}
		ctx["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] = true
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(tmp, "central.out"))})
		centralStack, centralErr = alerts.NewAlertsStack(app, "AlertsCentral", &alerts.AlertsStackProps{
			RelayAssetDir: relayDir, EventSources: settings.DefaultAlertEventSources, OrganizationID: testOrgID,
		})
		if centralErr != nil {
			return
		}
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		centralTmpl = assertions.Template_FromStack(centralStack.Stack, nil)
		if centralJSON, centralErr = templatetest.JSON(centralTmpl); centralErr != nil {
			return
		}
		centralNag, centralErr = nagreport.Read(filepath.Join(tmp, "central.out"))
	})
	if centralErr != nil {
		t.Fatal(centralErr)
	}
	return centralStack, centralTmpl, centralJSON
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
	key, props := templatetest.Only(t, doc, "AWS::KMS::Key", "AlertsKey")
	policy, _ := json.Marshal(props["KeyPolicy"])
	if !strings.Contains(string(policy), ":rule/"+settings.CentralBusName+"/AlertsCentral-OrgCloudTrailEvents") {
		t.Errorf("key %s admits no dead letters of the bus's rules: %s", key, policy)
	}
}

// cdk-nag's AwsSolutions checks find nothing unsuppressed in central mode.
func TestCentralNagClean(t *testing.T) {
	s, _, _ := central(t)
	if err := centralNag.Err(); err != nil {
		t.Error(err)
	}
	// The report is only evidence if cdk-nag really evaluated the stack's resources.
	if n := centralNag.Count(nagreport.Compliant); n < 15 {
		t.Errorf("only %d compliant checks: did cdk-nag run on the stack?", n)
	}
	if msgs := templatetest.NagMessages(t, s.Stack); len(msgs) > 0 {
		t.Errorf("cdk-nag findings:\n%s", strings.Join(msgs, "\n"))
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
