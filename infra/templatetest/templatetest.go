// Package templatetest runs the CDK assertions library's checks on a synthesized template as test
// assertions. The library reports a mismatch by throwing a JavaScript error, which jsii turns
// into a Go panic; these helpers turn it into a test error that names what was checked, so one
// failed assertion does not end the test binary.
package templatetest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Main is a CDK test binary's TestMain: it runs the tests, then stops the jsii runtime (the Node
// process behind the CDK) before exiting with their status.
func Main(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// Check runs f, an assertions call, and reports a panic from it as a test error about what.
func Check(t testing.TB, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// Has checks that tmpl has a resource of type typ whose Properties match props (assertions'
// HasResourceProperties: an object-like match).
func Has(t testing.TB, tmpl assertions.Template, typ string, props map[string]any) {
	t.Helper()
	Check(t, typ, func() { tmpl.HasResourceProperties(jsii.String(typ), props) })
}

// Count checks that tmpl has exactly n resources of type typ.
func Count(t testing.TB, tmpl assertions.Template, typ string, n float64) {
	t.Helper()
	Check(t, typ+" count", func() { tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
}

// JSON returns tmpl as decoded JSON (the template's sections by name), for checks the assertions
// library does not express.
func JSON(tmpl assertions.Template) (map[string]any, error) {
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Resources returns the Properties of every resource of type typ in the decoded template tmpl
// (JSON), by logical id; a resource without Properties has a nil map.
func Resources(tmpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tmpl["Resources"].(map[string]any) {
		rm := r.(map[string]any)
		if rm["Type"] == typ {
			p, _ := rm["Properties"].(map[string]any)
			out[id] = p
		}
	}
	return out
}

// Only returns the logical id and Properties of the single resource of type typ in tmpl whose
// logical id starts with prefix; none or several fail the test.
func Only(t testing.TB, tmpl map[string]any, typ, prefix string) (string, map[string]any) {
	t.Helper()
	var ids []string
	var props map[string]any
	for id, p := range Resources(tmpl, typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
			props = p
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d %s resources named %s*: %v", len(ids), typ, prefix, ids)
	}
	return ids[0], props
}

// Properties returns the Properties of the resource logicalID in tmpl (nil when it has none); a
// missing resource fails the test.
func Properties(t testing.TB, tmpl map[string]any, logicalID string) map[string]any {
	t.Helper()
	r, ok := tmpl["Resources"].(map[string]any)[logicalID].(map[string]any)
	if !ok {
		t.Fatalf("no resource %s", logicalID)
	}
	p, _ := r["Properties"].(map[string]any)
	return p
}

// DashboardBody returns the DashboardBody of the single AWS::CloudWatch::Dashboard in the decoded
// template tmpl (JSON) as the text CloudFormation will make of it (Text), so a test can look for
// what it shows: an alarm is ${<its logical id>.Arn}. None or several dashboards fail the test.
func DashboardBody(t testing.TB, tmpl map[string]any) string {
	t.Helper()
	dashboards := Resources(tmpl, "AWS::CloudWatch::Dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("%d dashboards; want one", len(dashboards))
	}
	var body any
	for _, p := range dashboards {
		body = p["DashboardBody"]
	}
	return Text(t, body)
}

// DashboardShowsAlarms checks that the dashboard body (DashboardBody) shows every one of alarms,
// and that there is at least one.
func DashboardShowsAlarms(t testing.TB, body string, alarms []awscloudwatch.Alarm) {
	t.Helper()
	if len(alarms) == 0 {
		t.Error("no alarms to look for on the dashboard")
	}
	for _, a := range alarms {
		if id := LogicalID(a); !strings.Contains(body, "${"+id+".Arn}") {
			t.Errorf("the dashboard does not show alarm %s", id)
		}
	}
}

// Text returns the string value v of a decoded template (a string, or a Ref, Fn::GetAtt or
// Fn::Join of them) as the text CloudFormation will make of it, with each reference written
// ${LogicalId} or ${LogicalId.Attribute} (and ${AWS::AccountId}, ${AWS::Region}, ... for pseudo
// parameters). Anything else fails the test.
func Text(t testing.TB, v any) string {
	t.Helper()
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v)
		case map[string]any:
			if ref, ok := v["Ref"].(string); ok {
				b.WriteString("${" + ref + "}")
				return
			}
			if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) == 2 {
				b.WriteString(fmt.Sprintf("${%v.%v}", att[0], att[1]))
				return
			}
			if join, ok := v["Fn::Join"].([]any); ok && len(join) == 2 {
				sep, _ := join[0].(string)
				parts, _ := join[1].([]any)
				for i, p := range parts {
					if i > 0 {
						b.WriteString(sep)
					}
					write(p)
				}
				return
			}
			t.Fatalf("template text: unexpected %v", v)
		default:
			t.Fatalf("template text: unexpected %v", v)
		}
	}
	write(v)
	return b.String()
}

// LogicalID is the logical id of c's CloudFormation resource (its default child's, for a
// higher-level construct) in its stack.
func LogicalID(c constructs.IConstruct) string {
	el, ok := c.Node().DefaultChild().(awscdk.CfnElement)
	if !ok {
		el = c.(awscdk.CfnElement)
	}
	return *awscdk.Stack_Of(c).GetLogicalId(el)
}

// NagMessages returns the cdk-nag findings (error and warning annotations) of a stack, each as
// "<construct path>: <message>", read through JSON to leave out the stack trace an annotation carries.
func NagMessages(t testing.TB, st awscdk.Stack) []string {
	t.Helper()
	ann := assertions.Annotations_FromStack(st)
	nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
	var out []string
	for _, m := range append(*ann.FindError(jsii.String("*"), nag), *ann.FindWarning(jsii.String("*"), nag)...) {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			ID    string `json:"id"`
			Entry struct {
				Data any `json:"data"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s: %v", msg.ID, msg.Entry.Data))
	}
	return out
}
