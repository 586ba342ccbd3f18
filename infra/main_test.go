package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/database/dbconfig"
	"github.com/strongroom/strongroom/infra/forwarder"
	"github.com/strongroom/strongroom/infra/keystore"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/cost"
	"github.com/strongroom/strongroom/pkg/nagreport"
)

// The tests synthesize with no build directory, so every function is bundled from this module's
// sources (golambda.Bundle), as for an app that imports the constructs; "missing build output"
// covers `make build`'s directory.
func TestMain(m *testing.M) { templatetest.Main(m) }

// cdkJSONContext is the context `cdk synth` passes from cdk.json, plus extra values as -c would.
func cdkJSONContext(t *testing.T, extra map[string]any) map[string]any {
	t.Helper()
	ctx, err := settings.ReadCDKJSON("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		ctx[k] = v
	}
	return ctx
}

func noEnv(string) any { return nil }

// synth declares the app as `cdk synth` does and writes the cloud assembly to a temporary directory.
func synth(t *testing.T, extra map[string]any, addStacks func(awscdk.App)) (awscdk.App, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "cdk.out")
	app, err := newApp(options{context: cdkJSONContext(t, extra), outdir: out, env: noEnv})
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	if addStacks != nil {
		addStacks(app)
	}
	app.Synth(nil)
	return app, out
}

func stack(t *testing.T, app awscdk.App, id string) awscdk.Stack {
	t.Helper()
	c := app.Node().TryFindChild(jsii.String(id))
	if c == nil {
		t.Fatalf("no stack %s in the app", id)
	}
	return c.(awscdk.Stack)
}

// testChatChannels are a Slack and a Teams channel, as the context gives them.
var testChatChannels = []any{
	map[string]any{"kind": "slack", "name": "security-alerts", "workspaceId": "T0123ABCD", "channelId": "C0123ABCD", "minSeverity": "warning"},
	map[string]any{"kind": "teams", "name": "oncall", "teamId": "74361522-da01-538d-aa2e-ac7918c6bb92", "tenantId": "0b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		"channelId": "19%3ab6ef35dc342d4f2d9a3b2b8c1d0e1f2a%40thread.tacv2", "minSeverity": "critical"},
}

func TestAppHasNoUnsuppressedNagFindings(t *testing.T) {
	// Path metadata (as the CDK CLI asks for) ties each template resource to its report rows.
	// With chat channels, so cdk-nag judges the Chatbot configurations and their topics too.
	app, out := synth(t, map[string]any{"aws:cdk:enable-path-metadata": true, settings.KeyAlertChatChannels: testChatChannels}, nil)
	// Read the report before asking for annotations: assertions synthesize again, and cdk-nag then
	// appends a second copy of its rows in the same process.
	rep, err := nagreport.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Error(err)
	}
	// The report is only evidence if cdk-nag really evaluated the stack's resources.
	if rep.Count(nagreport.Compliant) < 15 {
		t.Errorf("only %d compliant checks in %v: did cdk-nag run on the stack?", rep.Count(nagreport.Compliant), rep.Files)
	}
	// The alerts stack's suppressions are few and deliberate: list them so a new one is a reviewed change.
	var suppressed []string
	for _, r := range rep.Rows {
		if r.Compliance == nagreport.Suppressed && strings.HasPrefix(r.ResourceID, AlertsStackName+"/") {
			suppressed = append(suppressed, r.RuleID+" "+r.ResourceID)
		}
	}
	// DDB3: the relay's state table has no point-in-time recovery (its state is disposable, infra/alerts).
	if want := []string{"AwsSolutions-DDB3 StrongroomAlerts/AlertStateTable/Resource", "AwsSolutions-IAM5 StrongroomAlerts/TrailRelayTracingPolicy/Resource"}; strings.Join(suppressed, "\n") != strings.Join(want, "\n") {
		t.Errorf("suppressed findings:\n%s\nwant:\n%s", strings.Join(suppressed, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(filepath.Join(out, AlertsStackName+".template.json")); err != nil {
		t.Errorf("template missing: %v", err)
	}
	if msgs := templatetest.NagMessages(t, stack(t, app, AlertsStackName)); len(msgs) > 0 {
		t.Errorf("cdk-nag annotations on %s:\n%s", AlertsStackName, strings.Join(msgs, "\n"))
	}
	checkWildcardSuppressions(t, out, rep)
	checkServicePrincipalsAreConfined(t, out)
	checkAlarmsNotify(t, out)
	checkWorkflowAlerts(t, out, rep)
	checkDeadLetterQueuesAcceptEventBridge(t, out)
	t.Log(rep.Summary())
}

// checkDeadLetterQueuesAcceptEventBridge: every queue a rule's target dead-letters to can be
// written by EventBridge. EventBridge sends to a dead-letter queue as events.amazonaws.com, which
// the policy of the AWS managed key alias/aws/sqs (which nobody can change) does not let use it: it
// allows only the account's principals, through SQS. So a queue is either SSE-SQS
// (SqsManagedSseEnabled, no KMS key), or encrypted with a customer managed key of the same
// template whose key policy lets events.amazonaws.com GenerateDataKey and Decrypt.
func checkDeadLetterQueuesAcceptEventBridge(t *testing.T, out string) {
	t.Helper()
	checked := 0
	for path, b := range templates(t, out) {
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for id, r := range tmpl.Resources {
			if r.Type != "AWS::Events::Rule" {
				continue
			}
			targets, _ := r.Properties["Targets"].([]any)
			for _, tg := range targets {
				dlq, _ := tg.(map[string]any)["DeadLetterConfig"].(map[string]any)
				if dlq == nil {
					continue
				}
				checked++
				ga, _ := dlq["Arn"].(map[string]any)["Fn::GetAtt"].([]any)
				if len(ga) != 2 {
					t.Errorf("%s %s: dead-letter queue %v is not a queue of the template", path, id, dlq["Arn"])
					continue
				}
				q := tmpl.Resources[fmt.Sprint(ga[0])]
				switch key := q.Properties["KmsMasterKeyId"].(type) {
				case nil:
					if q.Properties["SqsManagedSseEnabled"] != true {
						t.Errorf("%s %s: dead-letter queue %v is not encrypted: use SSE-SQS", path, id, ga[0])
					}
				case string:
					t.Errorf("%s %s: dead-letter queue %v is encrypted with %s, which EventBridge cannot use (its key policy allows only the account's principals): use SSE-SQS or a customer managed key that allows events.amazonaws.com", path, id, ga[0], key)
				default:
					kga, _ := key.(map[string]any)["Fn::GetAtt"].([]any)
					if len(kga) != 2 || !keyAllowsEvents(tmpl.Resources[fmt.Sprint(kga[0])].Properties["KeyPolicy"]) {
						t.Errorf("%s %s: dead-letter queue %v's key %v does not let events.amazonaws.com GenerateDataKey and Decrypt", path, id, ga[0], key)
					}
				}
			}
		}
	}
	if checked < 4 {
		t.Errorf("only %d rule targets with a dead-letter queue: did the templates change?", checked)
	}
}

// keyAllowsEvents: a key policy (as the template holds it) has an Allow statement for
// events.amazonaws.com with kms:GenerateDataKey and kms:Decrypt.
func keyAllowsEvents(policy any) bool {
	doc, _ := policy.(map[string]any)
	sts, _ := doc["Statement"].([]any)
	for _, st := range sts {
		m, _ := st.(map[string]any)
		p, _ := m["Principal"].(map[string]any)
		if m["Effect"] != "Allow" || fmt.Sprint(p["Service"]) != "events.amazonaws.com" {
			continue
		}
		acts := fmt.Sprint(m["Action"])
		if strings.Contains(acts, "kms:GenerateDataKey") && strings.Contains(acts, "kms:Decrypt") {
			return true
		}
	}
	return false
}

// checkWorkflowAlerts: the cluster's and the key store's stacks each send every one of their
// workflows' executions that ends FAILED, TIMED_OUT or ABORTED to the alerts stack's relay (its ARN
// imported from the alerts stack), dead-lettering to their safety net's queue, and grant the
// relay's role (by the name the alerts stack exports) states:GetExecutionHistory on exactly their
// machines' executions, with the wildcard's cdk-nag finding suppressed by name. No other policy of
// any stack is attached to the relay's role, and the alerts stack references neither stack.
func checkWorkflowAlerts(t *testing.T, out string, rep nagreport.Report) {
	t.Helper()
	type resource struct {
		Type       string
		Properties map[string]any
		Metadata   map[string]any
	}
	type template struct {
		Resources map[string]resource
		Outputs   map[string]struct {
			Value  any
			Export struct{ Name any }
		}
	}
	read := func(stackName string) template {
		b, err := os.ReadFile(filepath.Join(out, stackName+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl template
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatal(err)
		}
		return tmpl
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	alertsTmpl := read(AlertsStackName)
	var relay, relayRole string
	for id, r := range alertsTmpl.Resources {
		if r.Type == "AWS::Lambda::Function" {
			if relay != "" {
				t.Fatalf("the alerts stack has functions %s and %s; want the relay only", relay, id)
			}
			relay = id
			role, _ := r.Properties["Role"].(map[string]any)["Fn::GetAtt"].([]any)
			if len(role) == 2 {
				relayRole, _ = role[0].(string)
			}
		}
	}
	if relay == "" || relayRole == "" {
		t.Fatalf("no relay function with a role of its own in %s", AlertsStackName)
	}
	if d := js(alertsTmpl.Resources[relay].Properties["Description"]); !strings.Contains(d, "failed workflow executions") {
		t.Errorf("relay description %s does not say it relays failed workflow executions", d)
	}
	imported := func(value any) string {
		for _, o := range alertsTmpl.Outputs {
			if js(o.Value) == js(value) && o.Export.Name != nil {
				return js(map[string]any{"Fn::ImportValue": o.Export.Name})
			}
		}
		t.Fatalf("%s exports no %s", AlertsStackName, js(value))
		return ""
	}
	relayArn := imported(map[string]any{"Fn::GetAtt": []any{relay, "Arn"}})
	relayRoleName := imported(map[string]any{"Ref": relayRole})
	// The other stacks' names do appear, as text: the relay's ALERT_RULES names Strongroom's stacks to
	// recognise their roles' routine calls. A reference would be an import.
	if b := js(alertsTmpl.Resources); strings.Contains(b, "Fn::ImportValue") {
		t.Errorf("the alerts stack's resources reference another stack")
	}

	sortedJSON := func(vs []any) []string {
		var out []string
		for _, v := range vs {
			out = append(out, js(v))
		}
		sort.Strings(out)
		return out
	}
	for _, stackName := range []string{AlertsStackName, DatabaseStackName, ClusterStackName, keystore.StackName} {
		tmpl := read(stackName)
		var machines, executions []any
		var dlq string
		var rules, policies []string
		for id, r := range tmpl.Resources {
			switch r.Type {
			case "AWS::StepFunctions::StateMachine":
				machines = append(machines, map[string]any{"Ref": id})
				executions = append(executions, map[string]any{"Fn::Join": []any{"", []any{
					"arn:", map[string]any{"Ref": "AWS::Partition"}, ":states:", map[string]any{"Ref": "AWS::Region"}, ":",
					map[string]any{"Ref": "AWS::AccountId"}, ":execution:", map[string]any{"Fn::GetAtt": []any{id, "Name"}}, ":*",
				}}})
			case "AWS::SQS::Queue":
				if strings.Contains(id, "SafetyNetDLQ") {
					dlq = id
				}
			case "AWS::Events::Rule":
				if strings.Contains(js(r.Properties["Targets"]), relayArn) {
					rules = append(rules, id)
				}
			case "AWS::IAM::Policy":
				if strings.Contains(js(r.Properties["Roles"]), relayRoleName) {
					policies = append(policies, id)
				}
			}
		}
		if stackName == AlertsStackName || stackName == DatabaseStackName {
			if len(rules)+len(policies) > 0 {
				t.Errorf("%s: rules %v and policies %v reach the relay; want none", stackName, rules, policies)
			}
			continue
		}
		if len(rules) != 1 || len(policies) != 1 || dlq == "" || len(machines) < 3 {
			t.Errorf("%s: rules %v and policies %v reach the relay, dead-letter queue %q, %d state machines; want one rule and one policy", stackName, rules, policies, dlq, len(machines))
			continue
		}
		rule := tmpl.Resources[rules[0]].Properties
		pattern, _ := rule["EventPattern"].(map[string]any)
		detail, _ := pattern["detail"].(map[string]any)
		named, _ := detail["stateMachineArn"].([]any)
		if js(pattern["source"]) != `["aws.states"]` || js(pattern["detail-type"]) != `["Step Functions Execution Status Change"]` ||
			js(detail["status"]) != `["FAILED","TIMED_OUT","ABORTED"]` || len(detail) != 2 || len(pattern) != 3 ||
			js(sortedJSON(named)) != js(sortedJSON(machines)) {
			t.Errorf("%s %s: pattern %s; want every one of the stack's %d workflows' FAILED, TIMED_OUT and ABORTED executions", stackName, rules[0], js(pattern), len(machines))
		}
		wantTargets := js([]any{map[string]any{
			"Arn": json.RawMessage(relayArn), "Id": "Target0",
			"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}},
			"RetryPolicy":      map[string]any{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 20},
		}})
		if got := js(rule["Targets"]); got != wantTargets {
			t.Errorf("%s %s: targets %s\nwant %s", stackName, rules[0], got, wantTargets)
		}
		policy := tmpl.Resources[policies[0]].Properties
		doc, _ := policy["PolicyDocument"].(map[string]any)
		statements, _ := doc["Statement"].([]any)
		if len(statements) != 1 {
			t.Errorf("%s %s: %d statements; want one", stackName, policies[0], len(statements))
			continue
		}
		st, _ := statements[0].(map[string]any)
		resources, _ := st["Resource"].([]any)
		if st["Effect"] != "Allow" || js(st["Action"]) != `"states:GetExecutionHistory"` || len(st) != 3 ||
			js(sortedJSON(resources)) != js(sortedJSON(executions)) {
			t.Errorf("%s %s: %s; want states:GetExecutionHistory on the executions of the stack's %d machines only", stackName, policies[0], js(st), len(machines))
		}
		if got := js(policy["Roles"]); got != "["+relayRoleName+"]" {
			t.Errorf("%s %s: attached to %s; want the relay's role only", stackName, policies[0], got)
		}
		path, _ := tmpl.Resources[policies[0]].Metadata["aws:cdk:path"].(string)
		suppressed := false
		for _, r := range rep.Rows {
			if r.ResourceID == path && r.RuleID == "AwsSolutions-IAM5" && r.Compliance == nagreport.Suppressed {
				suppressed = true
			}
		}
		if !suppressed {
			t.Errorf("%s %s (%s): no suppressed AwsSolutions-IAM5 row for the execution wildcards", stackName, policies[0], path)
		}
	}
}

// templates reads every synthesized template in out, by path; none is a failure.
func templates(t *testing.T, out string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(out, "*.template.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no templates in %s (%v)", out, err)
	}
	all := map[string][]byte{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		all[path] = b
	}
	return all
}

// checkAlarmsNotify: every alarm of every stack notifies the alert topic when it fires and when it
// clears (the alerts stack's own by reference, the others through its export), and each stack has
// the alarms it must have:
//   - every state machine (the cluster's and the key store's request workflows and the key store's
//     Rotate, scheduled or not): an alarm on its ExecutionsFailed and ExecutionsTimedOut, at 1;
//   - every SQS queue, each a dead-letter queue (the safety nets', also taking the relay's
//     undeliverable workflow alerts, and the alerts stack's undelivered alerts): an alarm on its
//     ApproximateNumberOfMessagesVisible, at 1;
//   - the database: its instance's CPU, free-storage and connections alarms, nothing else;
//
// and one dashboard that shows every one of its alarms.
func checkAlarmsNotify(t *testing.T, out string) {
	t.Helper()
	type metric struct{ Namespace, MetricName, Dimensions string }
	type props struct {
		AlarmActions, OKActions []any
		Namespace, MetricName   string
		Dimensions              any
		Metrics                 []struct {
			MetricStat *struct {
				Metric struct {
					Namespace, MetricName string
					Dimensions            any
				}
			}
		}
		Threshold          float64
		ComparisonOperator string
		DashboardBody      any
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, stackName := range []string{AlertsStackName, ClusterStackName, keystore.StackName, DatabaseStackName} {
		b, err := os.ReadFile(filepath.Join(out, stackName+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties props
			}
		}
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatal(err)
		}
		// watched: each (namespace, metric, dimensions) an alarm at 1 or more watches.
		watched := map[metric]bool{}
		var alarms, machines, queues, dashboards []string
		for id, r := range tmpl.Resources {
			p := r.Properties
			switch r.Type {
			case "AWS::StepFunctions::StateMachine":
				machines = append(machines, id)
			case "AWS::SQS::Queue":
				queues = append(queues, id)
			case "AWS::CloudWatch::Dashboard":
				dashboards = append(dashboards, js(p.DashboardBody))
			case "AWS::CloudWatch::Alarm":
				alarms = append(alarms, id)
				for name, actions := range map[string][]any{"alarm": p.AlarmActions, "OK": p.OKActions} {
					if a := js(actions); len(actions) != 1 || !strings.Contains(a, "AlertTopic") {
						t.Errorf("%s %s: %s actions %s; want the alert topic", stackName, id, name, a)
					}
				}
				if p.Threshold != 1 || p.ComparisonOperator != "GreaterThanOrEqualToThreshold" {
					continue
				}
				watched[metric{p.Namespace, p.MetricName, js(p.Dimensions)}] = true
				for _, m := range p.Metrics {
					if m.MetricStat != nil {
						watched[metric{m.MetricStat.Metric.Namespace, m.MetricStat.Metric.MetricName, js(m.MetricStat.Metric.Dimensions)}] = true
					}
				}
			}
		}
		for _, id := range machines {
			dims := js([]any{map[string]any{"Name": "StateMachineArn", "Value": map[string]any{"Ref": id}}})
			for _, m := range []string{"ExecutionsFailed", "ExecutionsTimedOut"} {
				if !watched[metric{"AWS/States", m, dims}] {
					t.Errorf("%s: no alarm at 1 or more on %s of state machine %s", stackName, m, id)
				}
			}
		}
		for _, id := range queues {
			dims := js([]any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{id, "QueueName"}}}})
			if !watched[metric{"AWS/SQS", "ApproximateNumberOfMessagesVisible", dims}] {
				t.Errorf("%s: no alarm at 1 or more on the messages visible in dead-letter queue %s", stackName, id)
			}
		}
		wantMachines, wantQueues := 0, 1
		switch stackName {
		case ClusterStackName:
			wantMachines = 3
		case keystore.StackName:
			wantMachines = 4 // Create, Update, Delete and Rotate
		case DatabaseStackName:
			wantQueues = 0
		}
		if len(machines) != wantMachines || len(queues) != wantQueues {
			t.Errorf("%s: %d state machines and %d queues; want %d and %d", stackName, len(machines), len(queues), wantMachines, wantQueues)
		}
		if stackName == DatabaseStackName {
			sort.Strings(alarms)
			want := []string{"DatabaseCPUAlarm", "DatabaseConnectionsAlarm", "DatabaseFreeStorageAlarm"}
			if len(alarms) != len(want) {
				t.Errorf("%s alarms %v; want the instance's %v", stackName, alarms, want)
			}
			for i := 0; i < len(want) && i < len(alarms); i++ {
				if !strings.HasPrefix(alarms[i], want[i]) {
					t.Errorf("%s alarms %v; want the instance's %v", stackName, alarms, want)
				}
			}
		}
		if len(dashboards) != 1 {
			t.Errorf("%s: %d dashboards; want one", stackName, len(dashboards))
			continue
		}
		for _, id := range alarms {
			if !strings.Contains(dashboards[0], js([]any{id, "Arn"})) {
				t.Errorf("%s: the dashboard does not show alarm %s", stackName, id)
			}
		}
	}
}

// checkServicePrincipalsAreConfined holds every resource policy (KMS key, SNS topic, SQS queue, S3
// bucket) of the synthesized templates to AWS's confused-deputy guidance: a statement that allows
// an AWS service principal names whose request it serves with aws:SourceArn or aws:SourceAccount,
// so the service cannot use the resource on behalf of another account's resource.
func checkServicePrincipalsAreConfined(t *testing.T, out string) {
	t.Helper()
	policyProp := map[string]string{
		"AWS::KMS::Key": "KeyPolicy", "AWS::SNS::TopicPolicy": "PolicyDocument",
		"AWS::SQS::QueuePolicy": "PolicyDocument", "AWS::S3::BucketPolicy": "PolicyDocument",
	}
	checked := 0
	for path, b := range templates(t, out) {
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties map[string]json.RawMessage
			}
		}
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for id, r := range tmpl.Resources {
			prop, ok := policyProp[r.Type]
			if !ok || r.Properties[prop] == nil {
				continue
			}
			var doc struct {
				Statement []struct {
					Sid       string
					Effect    string
					Principal json.RawMessage
					Condition map[string]map[string]any
				}
			}
			if err := json.Unmarshal(r.Properties[prop], &doc); err != nil {
				t.Fatalf("%s %s: %v", filepath.Base(path), id, err)
			}
			// A statement names a service as {"Service": "x"} or {"Service": ["x", ...]}.
			services := func(raw json.RawMessage) []string {
				var p struct{ Service any }
				if json.Unmarshal(raw, &p) != nil {
					return nil // "*" or an AWS principal
				}
				switch v := p.Service.(type) {
				case string:
					return []string{v}
				case []any:
					var out []string
					for _, x := range v {
						out = append(out, fmt.Sprint(x))
					}
					return out
				}
				return nil
			}
			names := func(cond map[string]map[string]any) bool {
				for _, kv := range cond {
					_, arn := kv["aws:SourceArn"]
					_, account := kv["aws:SourceAccount"]
					if arn || account {
						return true
					}
				}
				return false
			}
			// A Deny of the service outside a source (as infra/alerts adds to the trail bucket)
			// confines its Allows too.
			denied := map[string]bool{}
			for _, st := range doc.Statement {
				if st.Effect == "Deny" && names(st.Condition) {
					for _, svc := range services(st.Principal) {
						denied[svc] = true
					}
				}
			}
			for _, st := range doc.Statement {
				if st.Effect != "Allow" {
					continue
				}
				for _, svc := range services(st.Principal) {
					checked++
					if !names(st.Condition) && !denied[svc] {
						t.Errorf("%s %s statement %q allows %s with no aws:SourceArn or aws:SourceAccount condition", filepath.Base(path), id, st.Sid, svc)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no resource policy allows a service principal: the walk found nothing to check")
	}
}

// checkWildcardSuppressions holds every AwsSolutions-IAM5 suppression in the synthesized templates
// to the exact findings it accepts: one without applies_to would also hide any wildcard added to
// the resource later, and one on a resource cdk-nag finds compliant excuses nothing (and would
// hide the first wildcard added there).
func checkWildcardSuppressions(t *testing.T, out string, rep nagreport.Report) {
	t.Helper()
	// A suppression on an L2 construct's resource also covers its children (a role's default
	// policy): it excuses something when any IAM5 row under the construct is suppressed.
	excused := func(path string) bool {
		construct := strings.TrimSuffix(path, "Resource")
		for _, r := range rep.Rows {
			if r.RuleID == "AwsSolutions-IAM5" && r.Compliance == nagreport.Suppressed && strings.HasPrefix(r.ResourceID, construct) {
				return true
			}
		}
		return false
	}
	checked := 0
	for path, b := range templates(t, out) {
		var tmpl struct {
			Resources map[string]struct {
				Metadata struct {
					Path string `json:"aws:cdk:path"`
					Nag  struct {
						Rules []struct {
							ID        string   `json:"id"`
							AppliesTo []string `json:"applies_to"`
						} `json:"rules_to_suppress"`
					} `json:"cdk_nag"`
				} `json:"Metadata"`
			} `json:"Resources"`
		}
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for id, r := range tmpl.Resources {
			for _, rule := range r.Metadata.Nag.Rules {
				if rule.ID != "AwsSolutions-IAM5" {
					continue
				}
				checked++
				if len(rule.AppliesTo) == 0 {
					t.Errorf("%s %s (%s): an AwsSolutions-IAM5 suppression without applies_to; name the findings it accepts", filepath.Base(path), id, r.Metadata.Path)
				}
				if !excused(r.Metadata.Path) {
					t.Errorf("%s %s (%s): an AwsSolutions-IAM5 suppression where cdk-nag finds no wildcard (the resource and its children are compliant); remove it", filepath.Base(path), id, r.Metadata.Path)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no AwsSolutions-IAM5 suppression found in the templates: did cdk-nag's metadata change?")
	}
}

// canary adds a stack with a queue that breaks three error-level AwsSolutions rules (SQS2 no
// encryption, SQS3 no dead-letter queue, SQS4 no TLS-only policy).
func canary(app awscdk.App) {
	st := awscdk.NewStack(app, jsii.String("NagCanary"), nil)
	awssqs.NewQueue(st, jsii.String("PlainQueue"), &awssqs.QueueProps{Encryption: awssqs.QueueEncryption_UNENCRYPTED})
}

func TestNagReportsANonCompliantResource(t *testing.T) {
	app, out := synth(t, nil, canary)
	rep, err := nagreport.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if err == nil {
		t.Fatal("nag report of an app with a non-compliant queue passed")
	}
	for _, want := range []string{"AwsSolutions-SQS2 NagCanary/PlainQueue/Resource", "AwsSolutions-SQS4 NagCanary/PlainQueue/Resource"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("report error does not list %q:\n%v", want, err)
		}
	}
	if n := len(rep.Findings()); n != 3 {
		t.Errorf("%d findings, want 3 (SQS2, SQS3, SQS4 on the canary only):\n%v", n, err)
	}
	msgs := templatetest.NagMessages(t, stack(t, app, "NagCanary"))
	for _, rule := range []string{"AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"} {
		if !strings.Contains(strings.Join(msgs, "\n"), rule) {
			t.Errorf("no %s error annotation on the canary queue; annotations: %v", rule, msgs)
		}
	}
}

// warningCanary adds a stack whose DynamoDB table breaks a warning-level rule (AwsSolutions-DDB3, no
// point-in-time recovery) and nothing else.
func warningCanary(app awscdk.App) {
	st := awscdk.NewStack(app, jsii.String("NagWarningCanary"), nil)
	awsdynamodb.NewTable(st, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
	})
}

// TestNagGates runs the two gates of `make synth` over real cloud assemblies: the cdk CLI (cdk-nag's
// error-level findings are error annotations, which fail `cdk synth` without any flag; warnings fail it
// only with --strict) and the nag report (every Non-Compliant row fails, whatever its level).
func TestNagGates(t *testing.T) {
	cdk, err := filepath.Abs("../node_modules/.bin/cdk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cdk); err != nil {
		t.Fatalf("the cdk CLI is not installed (%v): run `make npm`", err)
	}
	cdkSynth := func(assembly string, flags ...string) (string, error) {
		args := append([]string{"synth", "--app", assembly, "--quiet", "--no-notices", "--no-version-reporting", "--no-lookups"}, flags...)
		cmd := exec.Command(cdk, args...)
		cmd.Dir = t.TempDir() // no cdk.json: the assembly is the app
		cmd.Env = append(os.Environ(), "CDK_DISABLE_VERSION_CHECK=1", "CDK_CLI_NOTICES=false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	cases := []struct {
		name         string
		addStacks    func(awscdk.App)
		cliFails     bool // plain `cdk synth`
		strictFails  bool // `cdk synth --strict`
		findings     int
		findingRules []string
	}{
		{"compliant app", nil, false, false, 0, nil},
		{"error-level finding", canary, true, true, 3, []string{"AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"}},
		{"warning-level finding", warningCanary, false, true, 1, []string{"AwsSolutions-DDB3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, assembly := synth(t, nil, c.addStacks)
			rep, err := nagreport.Read(assembly)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rep.Findings()); got != c.findings {
				t.Errorf("nag report: %d findings, want %d: %v", got, c.findings, rep.Err())
			}
			for _, rule := range c.findingRules {
				if rep.Err() == nil || !strings.Contains(rep.Err().Error(), rule) {
					t.Errorf("nag report does not list %s: %v", rule, rep.Err())
				}
			}
			for _, run := range []struct {
				flags    []string
				wantFail bool
			}{{nil, c.cliFails}, {[]string{"--strict"}, c.strictFails}} {
				out, err := cdkSynth(assembly, run.flags...)
				if failed := err != nil; failed != run.wantFail {
					t.Errorf("cdk synth %v: failed = %v, want %v:\n%s", run.flags, failed, run.wantFail, out)
				} else if failed && !strings.Contains(out, c.findingRules[0]) {
					t.Errorf("cdk synth %v failed without naming %s:\n%s", run.flags, c.findingRules[0], out)
				}
			}
		})
	}
}

func TestInvalidContextFailsSynthesis(t *testing.T) {
	cases := []struct {
		name    string
		context map[string]any
		want    string
	}{
		{"alert e-mail is not an address", map[string]any{settings.KeyAlertEmail: "ops team"}, "strongroom:alertEmail"},
		{"event source outside aws.*", map[string]any{settings.KeyAlertEventSources: []any{"aws.kms", "custom.app"}}, `"custom.app" is not an AWS event source`},
		{"account without region", map[string]any{settings.KeyAccount: "123456789012"}, "set both"},
		{"ignore rule with an unknown field", map[string]any{settings.KeyAlertIgnore: []any{map[string]any{"eventName": "Describe*"}, map[string]any{"eventname": "Get*"}}},
			"context strongroom:alertIgnore: rule 1: eventname: not a field of a rule"},
		{"severity override without a severity", map[string]any{settings.KeyAlertSeverity: `[{"eventName":"StopLogging"}]`},
			"context strongroom:alertSeverity: rule 0: severity: missing"},
		{"per-severity address that is none", map[string]any{settings.KeyAlertEmail: "team@example.com", settings.KeyAlertEmails: map[string]any{"critical": []any{"oncall"}}},
			"context strongroom:alertEmails: critical address 0"},
		{"organization with an id that is none", map[string]any{settings.KeyOrganization: map[string]any{"mode": "central", "organizationId": "o-1"}},
			"context strongroom:organization: organizationId"},
		{"zones outside the stacks' region", map[string]any{settings.KeyAccount: "123456789012", settings.KeyRegion: "eu-west-1", settings.KeyAvailabilityZones: []any{"us-east-1a", "us-east-1b"}},
			`context strongroom:availabilityZones: "us-east-1a" is not in eu-west-1`},
		{"instance class without a known max_connections", map[string]any{dbconfig.KeyInstanceType: "x2g.large"}, "context strongroom:dbInstanceType: Strongroom does not know the memory of instance class x2g.large"},
		// The cluster's and key store's keys, checked by the resources' own validators.
		{"hsm1.medium for a new cluster", map[string]any{settings.KeyHsmType: "hsm1.medium"}, "context strongroom:hsmType: hsm1.medium can no longer be used for new clusters; use hsm2m.medium"},
		{"backups kept 400 days", map[string]any{settings.KeyClusterBackupRetentionDays: 400.0}, "context strongroom:clusterBackupRetentionDays: must be between 7 and 379 days, got 400"},
		{"network type IPV6", map[string]any{settings.KeyClusterNetworkType: "IPV6"}, "context strongroom:clusterNetworkType: must be IPV4 or DUALSTACK"},
		{"key store name of 257 characters", map[string]any{settings.KeyKeyStoreName: strings.Repeat("k", 257)}, "context strongroom:keyStoreName: is 257 characters; KMS accepts 1 to 256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := newApp(options{context: cdkJSONContext(t, c.context), outdir: t.TempDir(), env: noEnv})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	t.Run("missing build output", func(t *testing.T) {
		_, err := newApp(options{buildDir: t.TempDir(), context: cdkJSONContext(t, nil), outdir: t.TempDir(), env: noEnv})
		if err == nil || !strings.Contains(err.Error(), "make build") {
			t.Fatalf("err = %v, want one telling to run make build", err)
		}
	})
}

func TestEnvironment(t *testing.T) {
	cases := []struct {
		name         string
		context      map[string]any
		env          map[string]string
		account, reg string
		wantAgnostic bool
	}{
		{"offline: environment-agnostic", nil, nil, "", "", true},
		{"region alone from the CLI stays agnostic", nil, map[string]string{"CDK_DEFAULT_REGION": "eu-west-1"}, "", "", true},
		{"credentials found by the CLI", nil, map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}, "111122223333", "eu-west-1", false},
		{"context wins", map[string]any{settings.KeyAccount: "444455556666", settings.KeyRegion: "us-east-1"}, map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}, "444455556666", "us-east-1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := func(k string) any {
				if v, ok := c.env[k]; ok {
					return v
				}
				return nil
			}
			app, err := newApp(options{context: cdkJSONContext(t, c.context), outdir: t.TempDir(), env: env})
			if err != nil {
				t.Fatal(err)
			}
			st := stack(t, app, AlertsStackName)
			agnostic := *awscdk.Token_IsUnresolved(st.Account())
			if agnostic != c.wantAgnostic {
				t.Fatalf("account %s: agnostic = %v, want %v", *st.Account(), agnostic, c.wantAgnostic)
			}
			if !agnostic && (*st.Account() != c.account || *st.Region() != c.reg) {
				t.Errorf("env = %s/%s, want %s/%s", *st.Account(), *st.Region(), c.account, c.reg)
			}
		})
	}
}

// TestKmsUserRotationIsOptIn: by default no schedule starts the kmsuser rotation (each run
// disconnects the key store); strongroom:kmsUserRotationSchedule turns it on with the given cron()
// window, starting the key store's Rotate workflow with the store's rotation input.
func TestKmsUserRotationIsOptIn(t *testing.T) {
	for _, c := range []struct {
		name, expr string
	}{{"default: off", ""}, {"a monthly window", "cron(0 3 ? * SUN#1 *)"}} {
		t.Run(c.name, func(t *testing.T) {
			app, err := newApp(options{context: cdkJSONContext(t, map[string]any{settings.KeyKmsUserRotationSchedule: c.expr}), outdir: t.TempDir(), env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			tmpl := assertions.Template_FromStack(stack(t, app, keystore.StackName), nil)
			// The health check's rate(5 minutes) rule is the other scheduled rule; it starts no workflow.
			rules := tmpl.FindResources(jsii.String("AWS::Events::Rule"), &map[string]any{
				"Properties": map[string]any{"ScheduleExpression": assertions.Match_StringLikeRegexp(jsii.String("^cron"))},
			})
			if c.expr == "" {
				if len(*rules) != 0 {
					t.Fatalf("scheduled rules %v; want none by default", *rules)
				}
				return
			}
			if len(*rules) != 1 {
				t.Fatalf("%d scheduled rules; want 1", len(*rules))
			}
			for _, r := range *rules {
				b, _ := json.Marshal(r)
				if !strings.Contains(string(b), `"ScheduleExpression":"`+c.expr+`"`) || !strings.Contains(string(b), "KeyStoreRotateWorkflow") {
					t.Errorf("rule %s; want %s starting the Rotate workflow", b, c.expr)
				}
			}
		})
	}
}

// TestOrganizationModes: strongroom:organization absent declares no bus and no forwarder; central
// gives the alerts stack the organization's bus and trail; member adds the forwarder stack, aimed at
// the central bus. (infra/alerts and infra/forwarder test the templates and cdk-nag.)
func TestOrganizationModes(t *testing.T) {
	const bus = "arn:aws:events:eu-west-1:111122223333:event-bus/strongroom-alerts"
	for _, c := range []struct {
		name                string
		org                 any
		wantBus, wantMember bool
		// trailOwner is the account before :trail/ in the trail ARN the bucket's policy names.
		trailOwner string
	}{
		{"single account", nil, false, false, `{"Ref":"AWS::AccountId"},":trail/`},
		{"central", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5"}, true, false, `{"Ref":"AWS::AccountId"},":trail/`},
		{"central in a delegated administrator", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5", "managementAccountId": "444455556666"},
			true, false, `:444455556666:trail/`},
		{"member", `{"mode":"member","centralBusArn":"` + bus + `"}`, false, true, `{"Ref":"AWS::AccountId"},":trail/`},
	} {
		t.Run(c.name, func(t *testing.T) {
			extra := map[string]any{}
			if c.org != nil {
				extra[settings.KeyOrganization] = c.org
			}
			app, err := newApp(options{context: cdkJSONContext(t, extra), outdir: t.TempDir(), env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			hasBus := stack(t, app, AlertsStackName).Node().TryFindChild(jsii.String("OrganizationBus")) != nil
			fwd := app.Node().TryFindChild(jsii.String(forwarder.StackName))
			if hasBus != c.wantBus || (fwd != nil) != c.wantMember {
				t.Fatalf("organization bus %v, forwarder stack %v; want %v, %v", hasBus, fwd != nil, c.wantBus, c.wantMember)
			}
			// Without synthesizing (the whole app with cdk-nag takes half a minute): the trail
			// owner the bucket policy names (infra/alerts tests the whole template), and the bus
			// the forwarder's targets name.
			alertsStack := stack(t, app, AlertsStackName)
			bucketPolicy := alertsStack.Node().FindChild(jsii.String("TrailBucket")).Node().FindChild(jsii.String("Policy")).Node().DefaultChild().(awss3.CfnBucketPolicy)
			doc, _ := json.Marshal(alertsStack.Resolve(bucketPolicy.PolicyDocument()))
			if want := c.trailOwner + AlertsStackName + `-trail"`; !strings.Contains(string(doc), want) {
				t.Errorf("the trail bucket's policy %s names no %s", doc, want)
			}
			if fwd != nil {
				rule, ok := fwd.Node().TryFindChild(jsii.String("CloudTrailEventsRule")).Node().DefaultChild().(awsevents.CfnRule)
				if !ok {
					t.Fatal("the forwarder has no CloudTrailEventsRule")
				}
				b, _ := json.Marshal(fwd.(awscdk.Stack).Resolve(rule.Targets()))
				if !strings.Contains(string(b), `"arn":"`+bus+`"`) {
					t.Errorf("the forwarder's targets %s do not name %s", b, bus)
				}
			}
		})
	}
}

// missingContext returns the context lookups the cloud assembly in out asks for (manifest.json's
// "missing"): what `cdk synth --no-lookups` refuses with "Context lookups have been disabled".
func missingContext(t *testing.T, out string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Missing []struct{ Key string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range m.Missing {
		keys = append(keys, k.Key)
	}
	return keys
}

// subnetZones returns the AvailabilityZone of every AWS::EC2::Subnet in stackName's template in
// out, as JSON (a zone name, or the Fn::Select of Fn::GetAZs CloudFormation resolves at deploy).
func subnetZones(t *testing.T, out, stackName string) []string {
	t.Helper()
	var zones []string
	for _, r := range templatetest.Resources(readTemplate(t, out, stackName), "AWS::EC2::Subnet") {
		b, _ := json.Marshal(r["AvailabilityZone"])
		zones = append(zones, string(b))
	}
	sort.Strings(zones)
	return zones
}

func readTemplate(t *testing.T, out, stackName string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, stackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestSynthNeedsNoLookup: with a concrete account and region, from the context keys or from the
// CDK_DEFAULT_* variables the CDK CLI sets when it finds credentials, the app synthesizes with no
// context lookup, so `make synth` (cdk synth --no-lookups) passes offline. The VPCs' zones are
// strongroom:availabilityZones when given, else CloudFormation's Fn::GetAZs, as for
// environment-agnostic stacks.
func TestSynthNeedsNoLookup(t *testing.T) {
	const getAZs0, getAZs1 = `{"Fn::Select":[0,{"Fn::GetAZs":""}]}`, `{"Fn::Select":[1,{"Fn::GetAZs":""}]}`
	cliCredentials := map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}
	for _, c := range []struct {
		name    string
		context map[string]any
		env     map[string]string
		// zones are the VPC subnets' zones (JSON), in each of the database's and the cluster's stacks.
		zones []string
	}{
		{"account and region from the context", map[string]any{settings.KeyAccount: "123456789012", settings.KeyRegion: "eu-west-1"}, nil,
			[]string{getAZs0, getAZs1}},
		{"account and region from the CLI's credentials", nil, cliCredentials, []string{getAZs0, getAZs1}},
		{"zones from the context", map[string]any{settings.KeyAvailabilityZones: []any{"eu-west-1c", "eu-west-1a"}}, cliCredentials,
			[]string{`"eu-west-1a"`, `"eu-west-1c"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "cdk.out")
			env := func(k string) any {
				if v, ok := c.env[k]; ok {
					return v
				}
				return nil
			}
			app, err := newApp(options{context: cdkJSONContext(t, c.context), outdir: out, env: env})
			if err != nil {
				t.Fatal(err)
			}
			if st := stack(t, app, DatabaseStackName); *awscdk.Token_IsUnresolved(st.Account()) {
				t.Fatalf("the stacks are environment-agnostic; want them pinned to 123456789012/eu-west-1")
			}
			app.Synth(nil)
			if missing := missingContext(t, out); len(missing) > 0 {
				t.Fatalf("the cloud assembly asks for context lookups %v, which cdk synth --no-lookups refuses", missing)
			}
			for _, stackName := range []string{DatabaseStackName, ClusterStackName} {
				got := subnetZones(t, out, stackName)
				var want []string
				// The database's VPC has one isolated subnet per zone; the cluster's a public and a private one.
				per := map[string]int{DatabaseStackName: 1, ClusterStackName: 2}[stackName]
				for _, z := range c.zones {
					for range per {
						want = append(want, z)
					}
				}
				sort.Strings(want)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%s: subnet zones %v, want %v", stackName, got, want)
				}
			}
		})
	}
}

// TestAvailabilityZones: which zones every stack is given, without synthesizing (TestSynthNeedsNoLookup
// synthesizes): strongroom:availabilityZones for pinned and agnostic stacks; for pinned stacks
// without it, a lookup already in the context (cdk.context.json) is kept, so deployed subnets stay
// in their zones.
func TestAvailabilityZones(t *testing.T) {
	const account, region = "123456789012", "eu-west-1"
	pinned := map[string]any{settings.KeyAccount: account, settings.KeyRegion: region}
	cached := []any{"eu-west-1b", "eu-west-1c", "eu-west-1a"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name    string
		context map[string]any
		want    []string
	}{
		{"an earlier lookup in cdk.context.json is kept", with(pinned, AvailabilityZoneContextKey(account, region), cached), []string{"eu-west-1b", "eu-west-1c", "eu-west-1a"}},
		{"strongroom:availabilityZones before an earlier lookup", with(with(pinned, AvailabilityZoneContextKey(account, region), cached), settings.KeyAvailabilityZones, []any{"eu-west-1a", "eu-west-1c"}),
			[]string{"eu-west-1a", "eu-west-1c"}},
		{"strongroom:availabilityZones for agnostic stacks", map[string]any{settings.KeyAvailabilityZones: "eu-west-1c,eu-west-1b"}, []string{"eu-west-1c", "eu-west-1b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			app, err := newApp(options{context: cdkJSONContext(t, c.context), outdir: t.TempDir(), env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{AlertsStackName, DatabaseStackName, ClusterStackName, keystore.StackName} {
				var got []string
				for _, z := range *stack(t, app, id).AvailabilityZones() {
					got = append(got, *z)
				}
				if strings.Join(got, " ") != strings.Join(c.want, " ") {
					t.Errorf("%s: zones %v, want %v", id, got, c.want)
				}
			}
		})
	}
}

// TestResourceContextKeysReachTemplates: every cluster and key store context key set in the
// context shows in its custom resource's properties as the validator normalized it, and
// strongroom:clusterNetworkType DUALSTACK gives the cluster's VPC an IPv6 block (CloudHSM needs
// IPv6 CIDRs on a dual-stack cluster's subnets). Adopting (strongroom:adoptClusterId) excludes
// restoring, so it is the second synthesis.
func TestResourceContextKeysReachTemplates(t *testing.T) {
	restore := map[string]any{
		settings.KeyHsmCount: 3.0, settings.KeyHsmType: "hsm2m.medium", settings.KeyClusterMode: "NON_FIPS",
		settings.KeyClusterNetworkType: "DUALSTACK", settings.KeyClusterBackupRetentionDays: "30",
		settings.KeyClusterSourceBackupID: "backup-abcdefghijk", settings.KeyCustomerCaKeyType: "RSA_4096",
		settings.KeyCustomerCaValidityDays: 730.0, settings.KeyClusterTags: map[string]any{"team": "payments"},
		settings.KeyIgnoreConnectedKeyStores: true, settings.KeyKeyStoreName: "payments-keys",
		settings.KeyDeleteKeyStoreOnStackDeletion: "true",
	}
	adopt := map[string]any{settings.KeyAdoptClusterID: "cluster-abcdefghijk"}
	for _, c := range []struct {
		name           string
		context        map[string]any
		cluster, store map[string]any
		ipv6           bool
	}{
		{"restore a backup, every other key", restore, map[string]any{
			"HsmCount": "3", "HsmType": "hsm2m.medium", "Mode": "NON_FIPS", "NetworkType": "DUALSTACK", "BackupRetentionDays": "30",
			"SourceBackupId": "backup-abcdefghijk", "CustomerCaKeyType": "RSA_4096", "CustomerCaValidityDays": "730",
			"Tags": map[string]any{"team": "payments"}, "IgnoreConnectedKeyStores": "true",
		}, map[string]any{"KeyStoreName": "payments-keys", "DeleteKeyStoreOnStackDeletion": "true"}, true},
		{"adopt a cluster", adopt, map[string]any{"ClusterId": "cluster-abcdefghijk", "HsmCount": "2"},
			map[string]any{"KeyStoreName": keystore.DefaultKeyStoreName, "DeleteKeyStoreOnStackDeletion": "false"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, out := synth(t, c.context, nil)
			cluster := readTemplate(t, out, ClusterStackName)
			_, props := templatetest.Only(t, cluster, "Custom::CloudHsmCluster", "")
			for k, want := range c.cluster {
				if got := props[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("Custom::CloudHsmCluster %s = %#v, want %#v", k, got, want)
				}
			}
			_, props = templatetest.Only(t, readTemplate(t, out, keystore.StackName), "Custom::CloudHsmKeyStore", "")
			for k, want := range c.store {
				if got := props[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("Custom::CloudHsmKeyStore %s = %#v, want %#v", k, got, want)
				}
			}
			blocks := templatetest.Resources(cluster, "AWS::EC2::VPCCidrBlock")
			if got := len(blocks) > 0; got != c.ipv6 {
				t.Errorf("cluster VPC has an IPv6 block: %v, want %v (%v)", got, c.ipv6, blocks)
			}
			// strongroom cost prices the HSMs the resource will have (pkg/cost reads the template).
			est, err := cost.Assembly(out, "us-east-1", []string{ClusterStackName})
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%s x %shsm2m.medium", c.cluster["HsmCount"], cost.ItemHSMPrefix); !strings.Contains(cost.Format(est), want) {
				t.Errorf("cost of %s lacks %q:\n%s", ClusterStackName, want, cost.Format(est))
			}
			// The settings' stacks pass cdk-nag as the defaults' do (make synth fails otherwise).
			rep, err := nagreport.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				t.Error(err)
			}
		})
	}
}
