package cfntemplate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
)

type fakeDeployment map[string]string

func (f fakeDeployment) Ref(id string) (any, error) {
	if v, ok := f[id]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("no resource %s", id)
}

func (f fakeDeployment) GetAtt(id, attr string) (any, error) {
	if v, ok := f[id+"."+attr]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("no attribute %s.%s", id, attr)
}

const tmpl = `{
 "Parameters": {"BootstrapVersion": {"Type": "String", "Default": "/cdk-bootstrap/hnb659fds/version"}},
 "Conditions": {"IsUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}, "NotUsEast1": {"Fn::Not": [{"Condition": "IsUsEast1"}]}},
 "Resources": {
  "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
  "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
  "Machine": {"Type": "AWS::StepFunctions::StateMachine", "DependsOn": ["Fn"], "Properties": {
    "DefinitionString": {"Fn::Join": ["", ["{\"Resource\":\"", {"Fn::GetAtt": ["Fn", "Arn"]}, "\"}"]]},
    "Sub": {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:x/${Fn}/${Fn.Arn}/${!Literal}"},
    "SubVars": {"Fn::Sub": ["${A}-${B}", {"A": "a", "B": {"Ref": "Role"}}]},
    "Pick": {"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]},
    "If": {"Fn::If": ["IsUsEast1", "east", "elsewhere"]},
    "Gone": {"Ref": "AWS::NoValue"},
    "List": ["a", {"Ref": "AWS::NoValue"}, "b"]
  }}
 }
}`

func TestResolveAndOrder(t *testing.T) {
	var tp cfntemplate.Template
	if err := json.Unmarshal([]byte(tmpl), &tp); err != nil {
		t.Fatal(err)
	}
	order, err := tp.Order()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"Role", "Fn", "Machine"}) {
		t.Fatalf("order %v", order)
	}
	ev := &cfntemplate.Evaluator{T: &tp, R: fakeDeployment{"Fn": "fn-name", "Fn.Arn": "arn:fn", "Role": "role-name", "Role.Arn": "arn:role"},
		Env: cfntemplate.Env{Region: "us-east-1", AccountID: "123456789012", Partition: "aws"}}
	got, err := ev.Resolve(tp.Resources["Machine"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"DefinitionString": `{"Resource":"arn:fn"}`,
		"Sub":              "arn:aws:states:us-east-1:123456789012:x/fn-name/arn:fn/${Literal}",
		"SubVars":          "a-role-name",
		"Pick":             "y",
		"If":               "east",
		"List":             []any{"a", "b"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resolved\n got %#v\nwant %#v", got, want)
	}
	ev.Env.Region = "eu-west-1"
	if ok, err := ev.Condition("NotUsEast1"); err != nil || !ok {
		t.Fatalf("NotUsEast1 = %v %v", ok, err)
	}
	if v, _ := ev.Resolve(map[string]any{"Ref": "BootstrapVersion"}); v != "/cdk-bootstrap/hnb659fds/version" {
		t.Fatalf("parameter default: %v", v)
	}
}

func TestErrors(t *testing.T) {
	tp := &cfntemplate.Template{Resources: map[string]cfntemplate.Resource{
		"A": {Type: "X", Properties: map[string]any{"P": map[string]any{"Ref": "B"}}},
		"B": {Type: "X", DependsOn: "A"},
	}}
	if _, err := tp.Order(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	ev := &cfntemplate.Evaluator{T: tp, R: fakeDeployment{}}
	if _, err := ev.Resolve(map[string]any{"Fn::Transform": "x"}); !errors.Is(err, cfntemplate.ErrUnsupported) || !strings.Contains(err.Error(), "Fn::Transform") {
		t.Fatalf("unsupported: %v", err)
	}
	if _, err := ev.Resolve(map[string]any{"Fn::ImportValue": "Other:Export"}); err == nil || !strings.Contains(err.Error(), "no deployed stack exports it") {
		t.Fatalf("missing import: %v", err)
	}
	ev.Env.Imports = map[string]any{"Other:Export": "vpc-1"}
	if v, err := ev.Resolve(map[string]any{"Fn::ImportValue": "Other:Export"}); err != nil || v != "vpc-1" {
		t.Fatalf("import: %v %v", v, err)
	}
	if _, err := ev.Resolve(map[string]any{"Ref": "Missing"}); err == nil {
		t.Fatal("unknown Ref resolved")
	}
}
