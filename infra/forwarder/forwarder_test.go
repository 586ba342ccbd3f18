package forwarder_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/alerts"
	"github.com/strongroom/strongroom/infra/forwarder"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/nagreport"
)

const centralBus = "arn:aws:events:eu-west-1:111122223333:event-bus/strongroom-alerts"

// One synthesis, with cdk-nag as infra/main.go applies it, serves every test.
var (
	stack *forwarder.ForwarderStack
	tmpl  assertions.Template
	doc   map[string]any
	nag   nagreport.Report
)

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		tmp, err := os.MkdirTemp("", "forwarder-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		out := filepath.Join(tmp, "cdk.out")
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
		if stack, err = forwarder.New(app, forwarder.StackName, &forwarder.Props{
			CentralBusArn: centralBus, EventSources: []string{"aws.kms", "aws.iam"}, AlertEmail: "secops@example.com",
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(true)}), nil)
		tmpl = assertions.Template_FromStack(stack.Stack, nil)
		if doc, err = templatetest.JSON(tmpl); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if nag, err = nagreport.Read(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func arn(id string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }

// Each rule on the member's default bus matches what the central stack relays and targets the
// central bus through the role, dead-lettering to the queue.
func TestRulesForwardToTheCentralBus(t *testing.T) {
	role, _ := templatetest.Only(t, doc, "AWS::IAM::Role", "ForwardRole")
	dlq, _ := templatetest.Only(t, doc, "AWS::SQS::Queue", "UnforwardedEvents")
	target := []any{map[string]any{"Arn": centralBus, "RoleArn": arn(role), "DeadLetterConfig": map[string]any{"Arn": arn(dlq)}}}
	for _, c := range []struct {
		name    string
		pattern map[string]any
	}{
		{"StrongroomAlertsForwarder-CloudTrailEvents", map[string]any{"source": []any{"aws.kms", "aws.iam"},
			"detail-type": []any{alerts.DetailTypeAPICall, alerts.DetailTypeConsoleSignIn}}},
		{"StrongroomAlertsForwarder-RotationFailed", map[string]any{"source": []any{"aws.secretsmanager"},
			"detail-type": []any{alerts.DetailTypeServiceEvent}, "detail": map[string]any{"eventName": []any{"RotationFailed"}}}},
		{"StrongroomAlertsForwarder-HealthFindings", map[string]any{"source": []any{health.Source}, "detail-type": []any{health.DetailType}}},
	} {
		templatetest.Has(t, tmpl, "AWS::Events::Rule", map[string]any{
			"Name": c.name, "EventPattern": assertions.Match_ObjectEquals(&c.pattern), "Targets": target,
			"EventBusName": assertions.Match_Absent(),
		})
	}
	templatetest.Count(t, tmpl, "AWS::Events::Rule", 3)
	templatetest.Count(t, tmpl, "AWS::Events::EventBus", 0)
	templatetest.Count(t, tmpl, "AWS::CloudTrail::Trail", 0)
}

// The role: EventBridge of this account only may assume it, and it may put events on the
// central bus and do nothing else.
func TestForwardRoleIsLeastPrivilege(t *testing.T) {
	role, props := templatetest.Only(t, doc, "AWS::IAM::Role", "ForwardRole")
	trust, _ := json.Marshal(props["AssumeRolePolicyDocument"])
	if !strings.Contains(string(trust), `"Service":"events.amazonaws.com"`) || !strings.Contains(string(trust), `"aws:SourceAccount"`) {
		t.Errorf("trust policy %s: want events.amazonaws.com confined by aws:SourceAccount", trust)
	}
	if _, ok := props["ManagedPolicyArns"]; ok {
		t.Errorf("role %s has managed policies", role)
	}
	var statements []any
	for id, p := range templatetest.Resources(doc, "AWS::IAM::Policy") {
		roles, _ := json.Marshal(p["Roles"])
		if !strings.Contains(string(roles), role) {
			continue
		}
		t.Logf("policy %s", id)
		statements = append(statements, p["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
	}
	want := []any{map[string]any{"Action": "events:PutEvents", "Effect": "Allow", "Resource": centralBus}}
	got, _ := json.Marshal(statements)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("role statements %s; want only %s", got, wantJSON)
	}
}

// Alarms on the dead-letter queue, and on each rule's lost dead letters, notify the encrypted topic, which CloudWatch of this
// account may publish to.
func TestDeadLetterAlarm(t *testing.T) {
	dlq, _ := templatetest.Only(t, doc, "AWS::SQS::Queue", "UnforwardedEvents")
	topic, _ := templatetest.Only(t, doc, "AWS::SNS::Topic", "ForwarderAlarmTopic")
	key, _ := templatetest.Only(t, doc, "AWS::KMS::Key", "ForwarderKey")
	templatetest.Has(t, tmpl, "AWS::SNS::Topic", map[string]any{"KmsMasterKeyId": arn(key)})
	templatetest.Has(t, tmpl, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName":   "ApproximateNumberOfMessagesVisible",
		"Dimensions":   []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{dlq, "QueueName"}}}},
		"AlarmActions": []any{map[string]any{"Ref": topic}},
		"OKActions":    []any{map[string]any{"Ref": topic}},
	})
	// An event the dead-letter queue refused is lost: each rule's InvocationsFailedToBeSentToDLQ.
	for _, rule := range []string{"CloudTrailEvents", "RotationFailed", "HealthFindings"} {
		templatetest.Has(t, tmpl, "AWS::CloudWatch::Alarm", map[string]any{
			"Namespace": "AWS/Events", "MetricName": "InvocationsFailedToBeSentToDLQ", "Statistic": "Sum",
			"Dimensions":   []any{map[string]any{"Name": "RuleName", "Value": "StrongroomAlertsForwarder-" + rule}},
			"AlarmActions": []any{map[string]any{"Ref": topic}},
			"OKActions":    []any{map[string]any{"Ref": topic}},
		})
	}
	templatetest.Has(t, tmpl, "AWS::SNS::Subscription", map[string]any{"Protocol": "email", "Endpoint": "secops@example.com"})
	// EventBridge may send dead letters for this stack's rules only.
	_, qp := templatetest.Only(t, doc, "AWS::SQS::QueuePolicy", "UnforwardedEventsPolicy")
	b, _ := json.Marshal(qp["PolicyDocument"])
	if !strings.Contains(string(b), `"aws:SourceArn"`) || !strings.Contains(string(b), "events.amazonaws.com") {
		t.Errorf("queue policy %s: want events.amazonaws.com confined by aws:SourceArn", b)
	}
}

// TestDashboard: the dashboard shows every alarm of the stack, each rule's invocations and failed
// invocations, and the dead-letter queue's depth.
func TestDashboard(t *testing.T) {
	body := templatetest.DashboardBody(t, doc)
	var alarms []string
	for id := range templatetest.Resources(doc, "AWS::CloudWatch::Alarm") {
		alarms = append(alarms, id)
	}
	if len(stack.Alarms) != len(alarms) {
		t.Errorf("ForwarderStack.Alarms has %d alarms; the template %d (%v)", len(stack.Alarms), len(alarms), alarms)
	}
	templatetest.DashboardShowsAlarms(t, body, stack.Alarms)
	queue := "${" + templatetest.LogicalID(stack.DeadLetterQueue) + ".QueueName}"
	want := []string{`"AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","` + queue + `"`, `{"label":"alarm: 1","value":1,`}
	for _, rule := range []string{"CloudTrailEvents", "RotationFailed", "HealthFindings"} {
		for _, m := range []string{"Invocations", "FailedInvocations"} {
			want = append(want, `"AWS/Events","`+m+`","RuleName","StrongroomAlertsForwarder-`+rule+`"`)
		}
	}
	for _, m := range want {
		if !strings.Contains(body, m) {
			t.Errorf("the dashboard has no %s", m)
		}
	}
}

func TestNagClean(t *testing.T) {
	if err := nag.Err(); err != nil {
		t.Error(err)
	}
	if n := nag.Count(nagreport.Compliant); n < 5 {
		t.Errorf("only %d compliant checks: did cdk-nag run on the stack?", n)
	}
	// One deliberate suppression: cdk-nag does not know EventBridge targets' dead-letter queues.
	var suppressed []string
	for _, r := range nag.Suppressions() {
		suppressed = append(suppressed, r.RuleID+" "+r.ResourceID)
	}
	if want := "AwsSolutions-SQS3 StrongroomAlertsForwarder/UnforwardedEvents/Resource"; strings.Join(suppressed, "\n") != want {
		t.Errorf("suppressed findings %v; want only %s", suppressed, want)
	}
}

func TestInvalidProps(t *testing.T) {
	app := awscdk.NewApp(nil)
	for _, c := range []struct {
		name  string
		props *forwarder.Props
		want  string
	}{
		{"no sources", &forwarder.Props{CentralBusArn: centralBus}, "EventSources"},
		{"the default bus", &forwarder.Props{CentralBusArn: "arn:aws:events:eu-west-1:111122223333:event-bus/default", EventSources: []string{"aws.kms"}}, settings.CentralBusName},
		{"a long stack name", &forwarder.Props{StackProps: awscdk.StackProps{StackName: jsii.String(strings.Repeat("x", 60))}, CentralBusArn: centralBus, EventSources: []string{"aws.kms"}}, "shorter stack name"},
	} {
		if _, err := forwarder.New(app, "Bad"+strings.ReplaceAll(c.name, " ", ""), c.props); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v; want one saying %q", c.name, err, c.want)
		}
	}
}
