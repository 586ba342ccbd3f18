package workflowresource_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/infra/workflowresource"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/statemachines"
)

func TestMain(m *testing.M) { templatetest.Main(m) }

type template struct {
	Resources map[string]struct {
		Type       string
		Properties map[string]any
	}
}

// declare synthesizes def alone in a stack and returns its template and what was declared.
func declare(t *testing.T, def *resourcedef.Resource) (template, *workflowresource.WorkflowResource) {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	topic := awssns.NewTopic(stack, jsii.String("Alarms"), nil)
	w, err := workflowresource.New(stack, workflowresource.Props{
		Definition: def, SecretPrefix: "strongroom/Test/R", ClientInstanceID: jsii.String("i-0123456789abcdef0"), VpcID: jsii.String("vpc-0123456789abcdef0"),
		Inputs: map[string][]*string{
			resourcedef.InputCACertificateSecret: {jsii.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf")},
			resourcedef.InputClusterSecretsKeys:  {jsii.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")},
		},
		Properties: map[string]any{"Example": "value"}, AlarmTopic: topic,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	var tmpl template
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl, w
}

// policyActions are the actions of every IAM policy attached to the role with logical id role,
// except the X-Ray and log-delivery ones every function has.
func policyActions(tmpl template, role string) []string {
	seen := map[string]bool{}
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		roles, _ := json.Marshal(r.Properties["Roles"])
		if !strings.Contains(string(roles), `"`+role+`"`) {
			continue
		}
		doc := r.Properties["PolicyDocument"].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			switch a := st.(map[string]any)["Action"].(type) {
			case string:
				seen[a] = true
			case []any:
				for _, x := range a {
					seen[x.(string)] = true
				}
			}
		}
	}
	var out []string
	for a := range seen {
		if !strings.HasPrefix(a, "xray:") && !strings.HasPrefix(a, "logs:") {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// TestGrantsAreTheDefinitions: each function's role holds exactly the actions its definition
// grants, so the definition is the one place a grant is read or changed.
func TestGrantsAreTheDefinitions(t *testing.T) {
	for _, def := range []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore} {
		t.Run(def.Type, func(t *testing.T) {
			tmpl, w := declare(t, def)
			stack := awscdk.Stack_Of(w.Entry.Function)
			for _, f := range def.Functions() {
				fn, ok := w.Functions[f.Name]
				if !ok {
					t.Fatalf("function %s was not declared", f.Name)
				}
				role := *stack.GetLogicalId(fn.Role.Node().DefaultChild().(awscdk.CfnElement))
				got, want := strings.Join(policyActions(tmpl, role), " "), strings.Join(f.Actions(), " ")
				if got != want {
					t.Errorf("%s: role has %q; definition grants %q", f.Name, got, want)
				}
			}
			counts := map[string]int{}
			for _, r := range tmpl.Resources {
				counts[r.Type]++
			}
			if counts["AWS::Lambda::Function"] != len(def.Functions()) {
				t.Errorf("%d functions; the definition has %d", counts["AWS::Lambda::Function"], len(def.Functions()))
			}
			if counts["AWS::StepFunctions::StateMachine"] != len(def.Workflows) {
				t.Errorf("%d state machines; the definition has %d", counts["AWS::StepFunctions::StateMachine"], len(def.Workflows))
			}
			if want := len(def.Workflows) + 1 + len(def.Functions()); counts["AWS::CloudWatch::Alarm"] != want || len(w.Alarms) != want {
				t.Errorf("%d alarms; want one per workflow, one on the safety net's dead letters and one per function (%d)", counts["AWS::CloudWatch::Alarm"], want)
			}
			if counts["AWS::CloudWatch::Dashboard"] != 1 {
				t.Errorf("%d dashboards; want one", counts["AWS::CloudWatch::Dashboard"])
			}
			if counts["AWS::SSM::Document"] != len(def.Documents) || counts[def.Type] != 1 {
				t.Errorf("resources %v", counts)
			}
		})
	}
}

// TestWorkflowsInvokeOnlyTheirSteps: a state machine's role may invoke exactly the functions its
// ASL names.
func TestWorkflowsInvokeOnlyTheirSteps(t *testing.T) {
	tmpl, w := declare(t, resourcedef.KeyStore)
	stack := awscdk.Stack_Of(w.Entry.Function)
	fnLogical := map[string]string{}
	for name, fn := range w.Functions {
		fnLogical[*stack.GetLogicalId(fn.Function.Node().DefaultChild().(awscdk.CfnElement))] = name
	}
	update := w.StateMachines["Update"]
	role := *stack.GetLogicalId(update.Role().Node().DefaultChild().(awscdk.CfnElement))
	var invoked []string
	for _, r := range tmpl.Resources {
		roles, _ := json.Marshal(r.Properties["Roles"])
		if r.Type != "AWS::IAM::Policy" || !strings.Contains(string(roles), `"`+role+`"`) {
			continue
		}
		doc, _ := json.Marshal(r.Properties["PolicyDocument"])
		for logical, name := range fnLogical {
			if strings.Contains(string(doc), `"`+logical+`"`) {
				invoked = append(invoked, name)
			}
		}
	}
	sort.Strings(invoked)
	// keystore-update.asl.json names ${PlanFunctionArn}, ${UpdateFunctionArn} and ${AnswerFunctionArn}.
	if got := strings.Join(invoked, " "); got != "cfn-answer keystore-plan keystore-update" {
		t.Errorf("the Update workflow may invoke %q", got)
	}
}

// TestRefusesABadDefinition: a definition that fails its own Check declares nothing.
func TestRefusesABadDefinition(t *testing.T) {
	bad := *resourcedef.Cluster
	bad.Workflows = bad.Workflows[:1]
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Bad"), nil)
	if _, err := workflowresource.New(stack, workflowresource.Props{Definition: &bad}); err == nil || !strings.Contains(err.Error(), "no Update workflow") {
		t.Fatalf("err = %v; want the missing Update workflow named", err)
	}
}

// TestAlertRelay: with Props.AlertRelay (a function of another stack, as the alerts stack's relay
// is), every workflow's executions that end without success go to the relay, dead-lettering to the
// safety net's queue, and the relay's role may read exactly those executions' histories; the grant
// and the rule are the resource's stack's, so the relay's stack references nothing of it.
func TestAlertRelay(t *testing.T) {
	for _, def := range []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore} {
		t.Run(def.Type, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			alerts := awscdk.NewStack(app, jsii.String("Alerts"), nil)
			relay := awslambda.NewFunction(alerts, jsii.String("Relay"), &awslambda.FunctionProps{
				Runtime: awslambda.Runtime_PYTHON_3_12(), Handler: jsii.String("index.handler"), Code: awslambda.Code_FromInline(jsii.String("def handler(e, c): pass")),
			})
			stack := awscdk.NewStack(app, jsii.String("Test"), nil)
			w, err := workflowresource.New(stack, workflowresource.Props{
				Definition: def, SecretPrefix: "strongroom/Test/R", ClientInstanceID: jsii.String("i-0123456789abcdef0"), VpcID: jsii.String("vpc-0123456789abcdef0"),
				Inputs: map[string][]*string{
					resourcedef.InputCACertificateSecret: {jsii.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf")},
					resourcedef.InputClusterSecretsKeys:  {jsii.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")},
				},
				AlertRelay: relay,
			})
			if err != nil {
				t.Fatal(err)
			}
			tmpl, err := templatetest.JSON(assertions.Template_FromStack(stack, nil))
			if err != nil {
				t.Fatal(err)
			}
			logical := func(c constructs.IConstruct) string {
				return *awscdk.Stack_Of(c).GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
			}
			if w.AlertsRule == nil || w.AlertRelayPolicy == nil {
				t.Fatal("AlertsRule or AlertRelayPolicy was not declared")
			}
			// The relay's ARN and its role's name come from the alerts stack's exports.
			alertsTmpl, err := templatetest.JSON(assertions.Template_FromStack(alerts, nil))
			if err != nil {
				t.Fatal(err)
			}
			imported := func(value any) any {
				for _, o := range alertsTmpl["Outputs"].(map[string]any) {
					om := o.(map[string]any)
					if reflect.DeepEqual(om["Value"], value) {
						return map[string]any{"Fn::ImportValue": om["Export"].(map[string]any)["Name"]}
					}
				}
				t.Fatalf("the alerts stack exports no %v", value)
				return nil
			}
			relayArn := imported(map[string]any{"Fn::GetAtt": []any{logical(relay), "Arn"}})
			relayRole := imported(map[string]any{"Ref": logical(relay.Role())})

			var machines, executions []any
			for _, wf := range def.Workflows {
				sm := logical(w.StateMachines[wf.Kind])
				machines = append(machines, map[string]any{"Ref": sm})
				executions = append(executions, map[string]any{"Fn::Join": []any{"", []any{
					"arn:", map[string]any{"Ref": "AWS::Partition"}, ":states:", map[string]any{"Ref": "AWS::Region"}, ":",
					map[string]any{"Ref": "AWS::AccountId"}, ":execution:", map[string]any{"Fn::GetAtt": []any{sm, "Name"}}, ":*",
				}}})
			}
			if len(machines) != len(templatetest.Resources(tmpl, "AWS::StepFunctions::StateMachine")) {
				t.Fatalf("the rule would name %d of the stack's state machines", len(machines))
			}
			rule := templatetest.Properties(t, tmpl, logical(w.AlertsRule))
			wantPattern := map[string]any{
				"source": []any{"aws.states"}, "detail-type": []any{"Step Functions Execution Status Change"},
				"detail": map[string]any{"status": []any{"FAILED", "TIMED_OUT", "ABORTED"}, "stateMachineArn": machines},
			}
			if !reflect.DeepEqual(rule["EventPattern"], normalize(wantPattern)) {
				t.Errorf("pattern %v\nwant %v", rule["EventPattern"], wantPattern)
			}
			dlq, _ := templatetest.Only(t, tmpl, "AWS::SQS::Queue", "SafetyNetDLQ")
			wantTargets := []any{map[string]any{
				"Arn": relayArn, "Id": "Target0",
				"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}},
				"RetryPolicy": map[string]any{
					"MaximumEventAgeInSeconds": float64(workflowresource.AlertRelayTargetMaxEventAgeHours * 3600),
					"MaximumRetryAttempts":     float64(workflowresource.TargetRetryAttempts),
				},
			}}
			if !reflect.DeepEqual(rule["Targets"], normalize(wantTargets)) {
				t.Errorf("targets %v\nwant %v", rule["Targets"], wantTargets)
			}
			// EventBridge may invoke the relay for this rule only; the permission is this stack's.
			templatetest.Has(t, assertions.Template_FromStack(stack, nil), "AWS::Lambda::Permission", map[string]any{
				"Action": "lambda:InvokeFunction", "FunctionName": relayArn, "Principal": "events.amazonaws.com",
				"SourceArn": map[string]any{"Fn::GetAtt": []any{logical(w.AlertsRule), "Arn"}},
			})

			policy := templatetest.Properties(t, tmpl, logical(w.AlertRelayPolicy))
			wantStatements := []any{map[string]any{"Effect": "Allow", "Action": "states:GetExecutionHistory", "Resource": executions}}
			if got := policy["PolicyDocument"].(map[string]any)["Statement"]; !reflect.DeepEqual(got, normalize(wantStatements)) {
				g, _ := json.MarshalIndent(got, "", " ")
				t.Errorf("relay policy statements:\n%s\nwant exactly GetExecutionHistory on %d machines' executions", g, len(executions))
			}
			if got := policy["Roles"]; !reflect.DeepEqual(got, normalize([]any{relayRole})) {
				t.Errorf("relay policy attached to %v; want the relay's role only (%v)", got, relayRole)
			}
			if name, _ := policy["PolicyName"].(string); !strings.HasPrefix(name, "Test") || len(name) > 128 {
				t.Errorf("policy name %q; want one from its whole path, stack included", name)
			}
			// The alerts stack gains exports only: no resource of it names this stack.
			if b, _ := json.Marshal(alertsTmpl["Resources"]); strings.Contains(string(b), "Test") {
				t.Errorf("the relay's stack references the resource's stack: %s", b)
			}
			_, alarm := templatetest.Only(t, tmpl, "AWS::CloudWatch::Alarm", "SafetyNetDeadLetterAlarm")
			if d, _ := alarm["AlarmDescription"].(string); !strings.Contains(d, "workflow failure alert may not have been mailed") {
				t.Errorf("dead-letter alarm %q does not say an alert may be lost", d)
			}
		})
	}
}

// normalize round-trips through JSON so Go literals and decoded template values compare equal.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// TestFunctionAlarms: every function has an alarm on its errors plus throttles, at
// FunctionErrorThreshold for a step (which its state retries) and at one for the entry and the
// safety net (which nothing retries), wired to the alarm topic both ways; the threshold is below
// the attempts every Task state makes, read from the ASL files.
func TestFunctionAlarms(t *testing.T) {
	for _, def := range []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore} {
		t.Run(def.Type, func(t *testing.T) {
			tmpl, w := declare(t, def)
			stack := awscdk.Stack_Of(w.Entry.Function)
			logical := func(c constructs.IConstruct) string {
				return *stack.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
			}
			byFunction := map[string]map[string]any{}
			for _, r := range tmpl.Resources {
				if r.Type != "AWS::CloudWatch::Alarm" || r.Properties["Metrics"] == nil {
					continue
				}
				b, _ := json.Marshal(r.Properties["Metrics"])
				for name, fn := range w.Functions {
					if strings.Contains(string(b), `"Ref":"`+logical(fn.Function)+`"`) {
						if byFunction[name] != nil {
							t.Errorf("function %s has two alarms", name)
						}
						byFunction[name] = r.Properties
					}
				}
			}
			for _, f := range def.Functions() {
				alarm := byFunction[f.Name]
				if alarm == nil {
					t.Errorf("function %s has no alarm", f.Name)
					continue
				}
				want := float64(workflowresource.FunctionErrorThreshold)
				if f.Name == def.Entry.Name || f.Name == def.SafetyNet.Name || f.Name == def.Health.Name {
					want = 1
				}
				b, _ := json.Marshal(alarm["Metrics"])
				if alarm["Threshold"] != want || alarm["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" ||
					!strings.Contains(string(b), `"MetricName":"Errors"`) || !strings.Contains(string(b), `"MetricName":"Throttles"`) ||
					!strings.Contains(string(b), `"Expression":"errors + throttles"`) {
					t.Errorf("function %s alarm: threshold %v (want %v), metrics %s", f.Name, alarm["Threshold"], want, b)
				}
				if len(alarm["AlarmActions"].([]any)) != 1 || len(alarm["OKActions"].([]any)) != 1 {
					t.Errorf("function %s alarm actions %v / %v; want the alarm topic both ways", f.Name, alarm["AlarmActions"], alarm["OKActions"])
				}
			}
			for _, wf := range def.Workflows {
				asl, err := statemachines.Read(wf.File)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range taskRetryAttempts(t, asl) {
					if n+1 <= workflowresource.FunctionErrorThreshold {
						t.Errorf("%s: a Task state makes %d attempts; the function alarm's threshold (%d) must stay below", wf.File, n+1, workflowresource.FunctionErrorThreshold)
					}
					// The step alarms' descriptions say how many attempts a state makes.
					for _, st := range def.Steps {
						if d, _ := byFunction[st.Name]["AlarmDescription"].(string); !strings.Contains(d, fmt.Sprintf("after %d attempts", n+1)) {
							t.Errorf("%s alarm description %q; want it to say a workflow fails after %d attempts (%s)", st.Name, d, n+1, wf.File)
						}
					}
				}
			}
		})
	}
}

// taskRetryAttempts lists the largest Retry MaxAttempts of every Task state in asl, nested ones
// included.
func taskRetryAttempts(t *testing.T, asl string) []int {
	t.Helper()
	var out []int
	var walk func(states map[string]json.RawMessage)
	walk = func(states map[string]json.RawMessage) {
		for _, raw := range states {
			var st struct {
				Type     string
				Retry    []struct{ MaxAttempts *int }
				Branches []struct {
					States map[string]json.RawMessage
				}
				ItemProcessor, Iterator *struct {
					States map[string]json.RawMessage
				}
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if st.Type == "Task" {
				most := 0
				for _, r := range st.Retry {
					n := 3 // the ASL default
					if r.MaxAttempts != nil {
						n = *r.MaxAttempts
					}
					most = max(most, n)
				}
				out = append(out, most)
			}
			for _, b := range st.Branches {
				walk(b.States)
			}
			for _, p := range []*struct{ States map[string]json.RawMessage }{st.ItemProcessor, st.Iterator} {
				if p != nil {
					walk(p.States)
				}
			}
		}
	}
	var doc struct{ States map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(asl), &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc.States)
	return out
}

// TestDashboard: the resource's dashboard shows every alarm, every workflow's executions, every
// function's errors, throttles and duration, and a query of the workflows' logs.
func TestDashboard(t *testing.T) {
	tmpl, w := declare(t, resourcedef.Cluster)
	stack := awscdk.Stack_Of(w.Entry.Function)
	raw, _ := json.Marshal(tmpl)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	body := templatetest.DashboardBody(t, doc)
	templatetest.DashboardShowsAlarms(t, body, w.Alarms)
	for kind, sm := range w.StateMachines {
		if id := *stack.GetLogicalId(sm.Node().DefaultChild().(awscdk.CfnElement)); !strings.Contains(body, id) {
			t.Errorf("the dashboard does not show the %s workflow", kind)
		}
		if id := *stack.GetLogicalId(w.WorkflowLogs[kind].Node().DefaultChild().(awscdk.CfnElement)); !strings.Contains(body, id) {
			t.Errorf("the dashboard's log query leaves out the %s workflow's logs", kind)
		}
	}
	for _, m := range []string{"ExecutionsStarted", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "Errors", "Throttles", "Duration", "ExecutionFailed"} {
		if !strings.Contains(body, m) {
			t.Errorf("the dashboard has no %s", m)
		}
	}
}

// The health check runs on a schedule with the resource's Ref and properties as its input
// (health.Input), and its role may put events on the default bus only.
func TestHealthRule(t *testing.T) {
	for _, def := range []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore} {
		t.Run(def.Type, func(t *testing.T) {
			tmpl, w := declare(t, def)
			if w.Health == nil || w.HealthRule == nil {
				t.Fatal("no health function or rule")
			}
			stack := awscdk.Stack_Of(w.Entry.Function)
			logical := func(c constructs.IConstruct) string {
				return *stack.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
			}
			rule := tmpl.Resources[logical(w.HealthRule)]
			if rule.Properties["ScheduleExpression"] != "rate(5 minutes)" {
				t.Errorf("schedule %v; want rate(5 minutes)", rule.Properties["ScheduleExpression"])
			}
			targets, _ := rule.Properties["Targets"].([]any)
			if len(targets) != 1 {
				t.Fatalf("targets %v; want the health function", targets)
			}
			target := targets[0].(map[string]any)
			b, _ := json.Marshal(target)
			if !strings.Contains(string(b), logical(w.Health.Function)) {
				t.Errorf("target %s is not the health function", b)
			}
			input, _ := json.Marshal(target["Input"])
			for _, want := range []string{`\"ResourceId\":\"`, logical(w.Resource), `\"Properties\":{\"Example\":\"value\"}`} {
				if !strings.Contains(string(input), want) {
					t.Errorf("input %s lacks %s", input, want)
				}
			}
			var bus []string
			for _, r := range tmpl.Resources {
				if r.Type != "AWS::IAM::Policy" {
					continue
				}
				b, _ := json.Marshal(r.Properties)
				if strings.Contains(string(b), "events:PutEvents") {
					bus = append(bus, string(b))
				}
			}
			if len(bus) != 1 || !strings.Contains(bus[0], ":event-bus/default") || !strings.Contains(bus[0], logical(w.Health.Role)) {
				t.Errorf("events:PutEvents policies %v; want one, of the health role, on the default bus", bus)
			}
		})
	}
}

// TestSafetyNetBeforeTheResource: the custom resource depends on its safety net (the rule, the
// rule's permission to invoke the function, the function) and on the alerts rule, so both are in
// place before CloudFormation sends the first request: a workflow that fails before it can answer
// is answered only by the safety net.
func TestSafetyNetBeforeTheResource(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	alerts := awscdk.NewStack(app, jsii.String("Alerts"), nil)
	relay := awslambda.NewFunction(alerts, jsii.String("Relay"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PYTHON_3_12(), Handler: jsii.String("index.handler"), Code: awslambda.Code_FromInline(jsii.String("def handler(e, c): pass")),
	})
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	w, err := workflowresource.New(stack, workflowresource.Props{
		Definition: resourcedef.Cluster, SecretPrefix: "strongroom/Test/R", ClientInstanceID: jsii.String("i-0123456789abcdef0"), VpcID: jsii.String("vpc-0123456789abcdef0"),
		Inputs: map[string][]*string{
			resourcedef.InputCACertificateSecret: {jsii.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf")},
			resourcedef.InputClusterSecretsKeys:  {jsii.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")},
		},
		AlertRelay: relay,
	})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templatetest.JSON(assertions.Template_FromStack(stack, nil))
	if err != nil {
		t.Fatal(err)
	}
	resources := tmpl["Resources"].(map[string]any)
	logical := func(c constructs.IConstruct) string {
		return *awscdk.Stack_Of(c).GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
	}
	deps, _ := resources[logical(w.Resource)].(map[string]any)["DependsOn"].([]any)
	want := []string{logical(w.SafetyNet.Function), logical(w.SafetyNet.Role), logical(w.AlertsRule)}
	for id, r := range resources {
		m := r.(map[string]any)
		if m["Type"] == "AWS::Events::Rule" && strings.Contains(id, "SafetyNetRule") {
			want = append(want, id)
		}
		if m["Type"] == "AWS::Lambda::Permission" && (strings.Contains(id, "SafetyNetRule") || strings.Contains(id, "WorkflowAlertsRule")) {
			want = append(want, id)
		}
	}
	if len(want) != 6 {
		t.Fatalf("want the safety net's function, role, rule and permission, and the alerts rule and its permission; found %v", want)
	}
	for _, id := range want {
		if !slices.Contains(deps, any(id)) {
			t.Errorf("the custom resource does not depend on %s (DependsOn %v)", id, deps)
		}
	}
}
