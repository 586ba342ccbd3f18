package alertrules_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

func TestAtLeast(t *testing.T) {
	for sev, want := range map[string][]string{
		"info":     {"info", "warning", "critical"},
		"warning":  {"warning", "critical"},
		"critical": {"critical"},
		"urgent":   nil,
	} {
		if got := alertrules.AtLeast(sev); !reflect.DeepEqual(got, want) {
			t.Errorf("AtLeast(%q) = %v, want %v", sev, got, want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"Describe*", "DescribeKey", true},
		{"Describe*", "Describe", true},
		{"Describe*", "ListKeys", false},
		{"*NotFound*", "ResourceNotFoundException", true},
		{"arn:aws:sts::*:assumed-role/Deployer/*", "arn:aws:sts::111122223333:assumed-role/Deployer/ci-42", true},
		{"arn:aws:sts::*:assumed-role/Deployer/*", "arn:aws:sts::111122223333:assumed-role/DeployerX/ci", false},
		{"*a*a", "a", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := alertrules.Glob(c.pattern, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestMatches(t *testing.T) {
	ev := alertrules.Event{EventSource: "kms.amazonaws.com", EventName: "DescribeKey", PrincipalARN: "arn:aws:sts::111122223333:assumed-role/Ops/x", Account: "111122223333"}
	for _, c := range []struct {
		name string
		m    alertrules.Match
		want bool
	}{
		{"source", alertrules.Match{EventSource: "kms.amazonaws.com"}, true},
		{"other source", alertrules.Match{EventSource: "iam.amazonaws.com"}, false},
		{"name glob", alertrules.Match{EventName: "Describe*"}, true},
		{"principal glob", alertrules.Match{PrincipalARN: "arn:aws:sts::*:assumed-role/Ops/*"}, true},
		{"account", alertrules.Match{Account: "111122223333"}, true},
		{"other account", alertrules.Match{Account: "444455556666"}, false},
		{"every field must match", alertrules.Match{EventSource: "kms.amazonaws.com", EventName: "Disable*"}, false},
		// A given field never matches an event without it: errorCode "*" is failed calls only.
		{"error code on a successful call", alertrules.Match{ErrorCode: "*"}, false},
	} {
		if got := c.m.Matches(ev); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
	failed := ev
	failed.ErrorCode = "AccessDenied"
	if m := (alertrules.Match{ErrorCode: "*"}); !m.Matches(failed) {
		t.Error(`errorCode "*" does not match a failed call`)
	}
}

func TestDecode(t *testing.T) {
	// As cdk.json gives it (decoded JSON) and as -c gives it (a string of JSON).
	for _, v := range []any{
		[]any{map[string]any{"eventSource": "kms.amazonaws.com", "eventName": "Describe*"}, map[string]any{"account": "111122223333"}},
		`[{"eventSource":"kms.amazonaws.com","eventName":"Describe*"},{"account":"111122223333"}]`,
	} {
		got, err := alertrules.DecodeIgnore(v)
		if err != nil {
			t.Fatal(err)
		}
		want := []alertrules.Match{{EventSource: "kms.amazonaws.com", EventName: "Describe*"}, {Account: "111122223333"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeIgnore(%v) = %+v, want %+v", v, got, want)
		}
	}
	sev, err := alertrules.DecodeSeverity([]any{map[string]any{"errorCode": "Throttling*", "severity": "info"}})
	if err != nil || len(sev) != 1 || sev[0].Severity != "info" || sev[0].ErrorCode != "Throttling*" {
		t.Errorf("DecodeSeverity = %+v, %v", sev, err)
	}
	for _, v := range []any{nil, "", []any{}} {
		if got, err := alertrules.DecodeIgnore(v); err != nil || len(got) != 0 {
			t.Errorf("DecodeIgnore(%#v) = %v, %v; want no rules", v, got, err)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	obj := func(kv ...string) []any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return []any{map[string]any{"eventName": "Describe*"}, m}
	}
	// sobj is obj for overrides: the first is valid.
	sobj := func(kv ...string) []any {
		l := obj(kv...)
		l[0].(map[string]any)["severity"] = "info"
		return l
	}
	cases := []struct {
		name     string
		severity bool
		v        any
		want     []string
	}{
		{"not a list", false, map[string]any{"eventName": "x"}, []string{"want a list"}},
		{"broken -c JSON", false, `[{"eventName":`, []string{"is not JSON"}},
		{"item not an object", false, []any{"Describe*"}, []string{"rule 0", "want an object"}},
		{"no field", false, []any{map[string]any{}}, []string{"rule 0", "no match field"}},
		{"unknown field", false, obj("eventname", "Describe*"), []string{"rule 1", "eventname", "not a field"}},
		{"severity in an ignore rule", false, obj("eventName", "x", "severity", "info"), []string{"rule 1", "severity", "not a field"}},
		{"EventBridge source", false, obj("eventSource", "aws.kms"), []string{"rule 1", "eventSource", `"kms.amazonaws.com"`}},
		{"source glob", false, obj("eventSource", "*.amazonaws.com"), []string{"rule 1", "eventSource", "not a CloudTrail event source"}},
		{"event name with a space", false, obj("eventName", "Get Secret"), []string{"rule 1", "eventName"}},
		{"principal not an ARN", false, obj("principalArn", "Deployer"), []string{"rule 1", "principalArn", "not a principal ARN pattern"}},
		{"principal with a space", false, obj("principalArn", "arn:aws:iam::1:role/a b"), []string{"rule 1", "principalArn"}},
		{"short account", false, obj("account", "12345"), []string{"rule 1", "account", "12 digits"}},
		{"account as a number", false, []any{map[string]any{"account": 111122223333.0}}, []string{"rule 0", "account", "want a string"}},
		{"error code with a slash", false, obj("errorCode", "Access/Denied"), []string{"rule 1", "errorCode"}},
		{"ignore everything", false, obj("eventName", "*", "principalArn", "*"), []string{"rule 1", "only '*'"}},
		{"override without severity", true, sobj("eventName", "x"), []string{"rule 1", "severity", "missing"}},
		{"unknown severity", true, sobj("eventName", "x", "severity", "urgent"), []string{"rule 1", "severity", `"urgent" is not a severity`}},
		{"override without match", true, []any{map[string]any{"severity": "info"}}, []string{"rule 0", "no match field"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.severity {
				_, err = alertrules.DecodeSeverity(c.v)
			} else {
				_, err = alertrules.DecodeIgnore(c.v)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestOwnRoles(t *testing.T) {
	r := alertrules.Rules{OwnRoles: []string{"StrongroomCluster-*", "StrongroomKeyStore-*"}}
	for name, want := range map[string]bool{
		"StrongroomCluster-CheckRole4C1A7B2E-Q2W3E4R5T6Y7": true,
		"StrongroomKeyStore-RotateRole-ABC":                true,
		"StrongroomClusterX-Role":                          false,
		"OpsAutomation":                                    false,
		"":                                                 false,
	} {
		if got := r.IsOwnRole(name); got != want {
			t.Errorf("IsOwnRole(%q) = %v, want %v", name, got, want)
		}
	}
	for _, bad := range []any{[]any{"*"}, []any{"a b"}, []any{7.0}} {
		if _, err := alertrules.DecodeOwnRoles(bad); err == nil || !strings.Contains(err.Error(), "role pattern 0") {
			t.Errorf("DecodeOwnRoles(%v) = %v; want an error naming role pattern 0", bad, err)
		}
	}
}

// TestEncodeParse: what infra/alerts writes to ALERT_RULES is what the relay reads back, and the
// relay refuses what the context would have refused.
func TestEncodeParse(t *testing.T) {
	in := alertrules.Rules{
		Ignore:   []alertrules.Match{{EventSource: "kms.amazonaws.com", EventName: "Describe*"}},
		Severity: []alertrules.Override{{Match: alertrules.Match{PrincipalARN: "arn:aws:iam::*:root"}, Severity: "warning"}},
		OwnRoles: []string{"StrongroomCluster-*"},
	}
	text, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := alertrules.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*out, in) {
		t.Errorf("Parse(Encode()) = %+v, want %+v", *out, in)
	}
	if r, err := alertrules.Parse(""); err != nil || !r.Empty() {
		t.Errorf(`Parse("") = %+v, %v; want no rules`, r, err)
	}
	for text, want := range map[string][]string{
		`[]`:                               {"not a JSON object"},
		`{"ignores":[]}`:                   {"ignores", "unknown member"},
		`{"ignore":[{"account":"1"}]}`:     {"ignore", "rule 0", "account"},
		`{"severity":[{"eventName":"x"}]}`: {"severity", "rule 0", "missing"},
		`{"ownRoles":["*"],"ignore":[{"x":"y"}]}`:       {"ownRoles", "ignore", "rule 0"},
		`{"severity":[{"eventName":"x","severity":1}]}`: {"severity", "want a string"},
	} {
		_, err := alertrules.Parse(text)
		if err == nil {
			t.Errorf("Parse(%s) accepted", text)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%s) = %q; want it to contain %q", text, err, w)
			}
		}
	}
	big := alertrules.Rules{}
	for i := 0; i < 100; i++ {
		big.Ignore = append(big.Ignore, alertrules.Match{PrincipalARN: "arn:aws:sts::111122223333:assumed-role/SomeLongRoleName/*"})
	}
	if _, err := big.Encode(); err == nil || !strings.Contains(err.Error(), "4 KB") {
		t.Errorf("Encode of %d rules = %v; want the size refused", len(big.Ignore), err)
	}
}
