package iamreport_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/iamreport"
)

// TestReport: a role's statements, from its own Policies and an AWS::IAM::Policy (one of another
// stack's role too, through Fn::ImportValue), held against decisions: used actions count their
// decisions and calls, an unused logs action has its reason, an unused action with none is flagged,
// a denied decision counts for nothing.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	doc := func(statements ...map[string]any) map[string]any {
		list := make([]any, len(statements))
		for i, s := range statements {
			list[i] = s
		}
		return map[string]any{"Version": "2012-10-17", "Statement": list}
	}
	allow := func(actions ...string) map[string]any {
		return map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}
	}
	tmpl := map[string]any{"Resources": map[string]any{
		"StepRole": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"AssumeRolePolicyDocument": doc(),
			"Policies":                 []any{map[string]any{"PolicyName": "own", "PolicyDocument": doc(allow("s3:GetObject"))}},
		}},
		"StepPolicy": map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
			"PolicyName": "StepPolicy", "Roles": []any{map[string]any{"Ref": "StepRole"}},
			"PolicyDocument": doc(allow("logs:PutLogEvents"), map[string]any{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}, allow("kms:Decrypt", "kms:Describe*")),
		}},
		"ClientRead": map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
			"PolicyName": "ClientRead", "Roles": []any{map[string]any{"Fn::ImportValue": "Other:ExportsOutputRefClientRole910E33D4FCE59CD5"}},
			"PolicyDocument": doc(allow("secretsmanager:GetSecretValue")),
		}},
	}}
	b, _ := json.Marshal(tmpl)
	if err := os.WriteFile(filepath.Join(dir, "Stack.template.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	sts, err := iamreport.Load(dir, []string{"Stack"})
	if err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/Stack-StepRole"
	decisions := []sandbox.Decision{
		{Role: role, Service: "kms", Operation: "Decrypt", Action: "kms:Decrypt", Allowed: true, Grants: []string{"StepPolicy#3"}},
		{Role: role, Service: "kms", Operation: "Decrypt", Action: "kms:Decrypt", Allowed: true, Grants: []string{"StepPolicy#3"}},
		{Role: role, Service: "kms", Operation: "DescribeKey", Action: "kms:DescribeKey", Allowed: true, Grants: []string{"StepPolicy#3"}},
		{Role: role, Service: "s3", Operation: "GetObject", Action: "s3:GetObject", Allowed: false},
		{Role: "arn:aws:iam::123456789012:role/Other-ClientRole910E33D4", Service: "secretsmanager", Operation: "GetSecretValue",
			Action: "secretsmanager:GetSecretValue", Allowed: true, Grants: []string{"ClientRead#1"}},
	}
	rows := iamreport.Build(sts, decisions, nil)
	var out strings.Builder
	unused, err := iamreport.Write(&out, rows)
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"Stack-StepRole (Stack)\n",
		"  StepPolicy#3 kms:Decrypt: used 2 (kms Decrypt x2)\n",
		"  StepPolicy#3 kms:Describe*: used 1 (kms DescribeKey x1)\n",
		"  StepPolicy#1 logs:PutLogEvents: not used here; CloudWatch Logs",
		"  own#1 s3:GetObject: UNUSED",
		"Other-ClientRole910E33D4 (Stack)\n  ClientRead#1 secretsmanager:GetSecretValue: used 1",
		"iam-report: 2 roles, 5 granted actions: 3 used in the demo, 0 used only in the tests, 1 not used here with a reason, 1 unused\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if unused != 1 || strings.Contains(text, "kms:*") {
		t.Errorf("unused = %d (want 1); a Deny statement is no grant:\n%s", unused, text)
	}
}

// TestPathReasons: a role-specific reason covers its action only in the roles it names; the same
// action unused in another role is flagged, and a used action carries no reason.
func TestPathReasons(t *testing.T) {
	sts := []iamreport.Statement{
		{Stack: "S", Role: "S-ClusterSettingsRoleAB12", Policy: "P1", Number: 1, Actions: []string{"cloudhsm:ModifyCluster"}},
		{Stack: "S", Role: "S-ClusterScaleRoleCD34", Policy: "P2", Number: 1, Actions: []string{"cloudhsm:ModifyCluster"}},
		{Stack: "S", Role: "S-UserRotationRoleEF56", Policy: "P3", Number: 1, Actions: []string{"secretsmanager:ListSecretVersionIds"}},
	}
	decisions := []sandbox.Decision{{Role: "arn:aws:iam::123456789012:role/S-UserRotationRoleEF56", Service: "secretsmanager", Operation: "ListSecretVersionIds",
		Action: "secretsmanager:ListSecretVersionIds", Allowed: true, Grants: []string{"P3#1"}}}
	rows := iamreport.Build(sts, decisions, nil)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for _, r := range rows {
		switch r.Role {
		case "S-ClusterSettingsRoleAB12":
			if r.Unused() || !strings.Contains(r.Reason, "BackupRetentionDays") {
				t.Errorf("settings role's ModifyCluster: reason %q, want the settings path", r.Reason)
			}
		case "S-ClusterScaleRoleCD34":
			if !r.Unused() {
				t.Errorf("scale role's ModifyCluster has reason %q; no path uses it there, so it must be flagged", r.Reason)
			}
		case "S-UserRotationRoleEF56":
			if r.Uses != 1 || r.Reason != "" {
				t.Errorf("used ListSecretVersionIds: uses %d, reason %q; want 1 and none", r.Uses, r.Reason)
			}
		}
	}
}

// TestTestDecisions: a kit's decisions count for the template role that runs the same actor (a
// step by its description, a workflow by its kind, the client instance by its profile), for the
// actions they were allowed, and only for those: a denied kit decision, or another actor's, counts
// for nothing. Written and read back through the kits' file format.
func TestTestDecisions(t *testing.T) {
	dir := t.TempDir()
	role := func(id string) map[string]any {
		return map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"AssumeRolePolicyDocument": map[string]any{}}}
	}
	policy := func(roleID string, actions ...string) map[string]any {
		return map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
			"PolicyName": roleID + "Policy", "Roles": []any{map[string]any{"Ref": roleID}},
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}}}}}
	}
	tmpl := map[string]any{"Resources": map[string]any{
		"Resource":                      map[string]any{"Type": "Custom::CloudHsmCluster", "Properties": map[string]any{}},
		"SettingsRole":                  role("SettingsRole"),
		"SettingsPolicy":                policy("SettingsRole", "cloudhsm:ModifyCluster", "cloudhsm:TagResource"),
		"Settings":                      map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{"Description": "Strongroom Custom::CloudHsmCluster step cluster-settings", "Role": map[string]any{"Fn::GetAtt": []any{"SettingsRole", "Arn"}}}},
		"UpdateWorkflowRole":            role("UpdateWorkflowRole"),
		"UpdatePolicy":                  policy("UpdateWorkflowRole", "lambda:InvokeFunction"),
		"ClusterUpdateWorkflowBA35A255": map[string]any{"Type": "AWS::StepFunctions::StateMachine", "Properties": map[string]any{"RoleArn": map[string]any{"Fn::GetAtt": []any{"UpdateWorkflowRole", "Arn"}}}},
		"ClientRole":                    role("ClientRole"),
		"ClientPolicy":                  policy("ClientRole", "secretsmanager:GetSecretValue"),
		"Profile":                       map[string]any{"Type": "AWS::IAM::InstanceProfile", "Properties": map[string]any{"Roles": []any{map[string]any{"Ref": "ClientRole"}}}},
	}}
	b, _ := json.Marshal(tmpl)
	if err := os.WriteFile(filepath.Join(dir, "S.template.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	sts, err := iamreport.Load(dir, []string{"S"})
	if err != nil {
		t.Fatal(err)
	}
	kit := func(actor, action string, allowed bool) iamreport.TestDecision {
		return iamreport.TestDecision{Decision: sandbox.Decision{Role: "arn:aws:iam::123456789012:role/kit-x", Service: "svc", Operation: "Op", Action: action, Allowed: allowed}, Actor: actor}
	}
	decisions := filepath.Join(dir, "kits")
	if err := os.MkdirAll(decisions, 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, d := range []iamreport.TestDecision{
		kit(iamreport.FunctionActor("Custom::CloudHsmCluster", "cluster-settings"), "cloudhsm:ModifyCluster", true),
		kit(iamreport.FunctionActor("Custom::CloudHsmCluster", "cluster-settings"), "cloudhsm:ModifyCluster", true),
		kit(iamreport.FunctionActor("Custom::CloudHsmCluster", "cluster-settings"), "cloudhsm:TagResource", false),
		kit(iamreport.FunctionActor("Custom::CloudHsmCluster", "cluster-scale"), "cloudhsm:TagResource", true),
		kit(iamreport.WorkflowActor("Custom::CloudHsmCluster", "Update"), "lambda:InvokeFunction", true),
		kit(iamreport.InstanceActor, "secretsmanager:GetSecretValue", true),
	} {
		l, _ := json.Marshal(d)
		lines = append(append(lines, l...), '\n')
	}
	if err := os.WriteFile(filepath.Join(decisions, "clustertest.jsonl"), lines, 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := iamreport.ReadTestDecisions(decisions)
	if err != nil {
		t.Fatal(err)
	}
	rows := iamreport.Build(sts, nil, tests)
	got := map[string]int{}
	for _, r := range rows {
		got[r.Role+" "+r.Action] = r.TestUses
	}
	want := map[string]int{
		"S-SettingsRole cloudhsm:ModifyCluster": 2, "S-SettingsRole cloudhsm:TagResource": 0,
		"S-UpdateWorkflowRole lambda:InvokeFunction": 1, "S-ClientRole secretsmanager:GetSecretValue": 1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d test uses, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if _, err := iamreport.ReadTestDecisions(t.TempDir()); err == nil {
		t.Error("an empty directory: no error")
	}
}
