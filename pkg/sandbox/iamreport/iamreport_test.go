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
	rows := iamreport.Build(sts, decisions)
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
		"iam-report: 2 roles, 5 granted actions: 3 used, 1 not used here with a reason, 1 unused\n",
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
	rows := iamreport.Build(sts, decisions)
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
