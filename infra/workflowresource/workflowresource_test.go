package workflowresource_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/infra/workflowresource"
	"github.com/strongroom/strongroom/pkg/resourcedef"
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
			if counts["AWS::CloudWatch::Alarm"] != len(def.Workflows)+1 || len(w.Alarms) != len(def.Workflows)+1 {
				t.Errorf("%d alarms; want one per workflow and one on the safety net's dead letters", counts["AWS::CloudWatch::Alarm"])
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
