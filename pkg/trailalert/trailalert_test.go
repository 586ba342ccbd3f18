package trailalert_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// fixtures returns the EventBridge events in testdata/events, by file name.
func fixtures(t testing.TB) map[string][]byte { return trailalerttest.Fixtures(t, "testdata/events") }

// golden renders a message as the reader and a subscriber filter see it.
func golden(m *trailalert.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s\nAttributes (String):\n", m.Subject)
	keys := make([]string, 0, len(m.Attributes))
	for k := range m.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s = %s\n", k, m.Attributes[k])
	}
	fmt.Fprintf(&b, "Truncated: %v\n----- body -----\n%s", m.Truncated, m.Body)
	return b.String()
}

func TestGoldenMessages(t *testing.T) {
	a := trailalerttest.NewAlerter(t)
	fx := fixtures(t)
	if len(fx) < 15 {
		t.Errorf("only %d fixtures; the issue asks for at least 15", len(fx))
	}
	for name, raw := range fx {
		t.Run(name, func(t *testing.T) {
			m, err := a.Alert(raw)
			if err != nil {
				t.Fatalf("Alert: %v", err)
			}
			got := golden(m)
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("message differs from %s (go test ./pkg/trailalert -run TestGoldenMessages -update rewrites it):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first differing line.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

func TestFixtureClassification(t *testing.T) {
	want := map[string]struct {
		severity trailalert.Severity
		rule     string
		subject  string
	}{
		"01-signin-root-success":                   {trailalert.Critical, "root-user-activity", "[CRITICAL] signin:ConsoleLogin by root in 111122223333"},
		"02-signin-iamuser-failure":                {trailalert.Warning, "console-sign-in-failed", "[WARNING] signin:ConsoleLogin failed by alice in 111122223333"},
		"03-cloudhsm-createcluster-assumedrole":    {trailalert.Info, "", ""},
		"04-cloudhsm-initializecluster":            {trailalert.Info, "", ""},
		"05-cloudhsm-deletehsm":                    {trailalert.Critical, "cloudhsm-deleted", ""},
		"06-cloudhsm-deletecluster":                {trailalert.Critical, "cloudhsm-deleted", "[CRITICAL] cloudhsm:DeleteCluster by Admin/carol@example.com in 111122223333"},
		"07-kms-schedulekeydeletion-iamuser":       {trailalert.Critical, "kms-key-disabled-or-deleted", "[CRITICAL] kms:ScheduleKeyDeletion by bob in 111122223333"},
		"08-kms-disablekey-assumedrole":            {trailalert.Critical, "kms-key-disabled-or-deleted", "[CRITICAL] kms:DisableKey by OpsAutomation/i-0123456789abcdef0 in 111122223333"},
		"09-kms-createcustomkeystore":              {trailalert.Info, "", ""},
		"10-secretsmanager-getsecretvalue":         {trailalert.Info, "", ""},
		"11-secretsmanager-putsecretvalue-secrets": {trailalert.Info, "", ""},
		"12-secretsmanager-deletesecret":           {trailalert.Critical, "secret-deleted", "[CRITICAL] secretsmanager:DeleteSecret by bob in 111122223333"},
		"13-secretsmanager-rotationfailed":         {trailalert.Critical, "secret-rotation-failed", "[CRITICAL] secretsmanager:RotationFailed by secretsmanager.amazonaws.com in 111122223333"},
		"14-cloudtrail-stoplogging":                {trailalert.Critical, "audit-trail-stopped-or-deleted", "[CRITICAL] cloudtrail:StopLogging by Admin/mallory@example.com in 111122223333"},
		"15-iam-putrolepolicy":                     {trailalert.Warning, "policy-changed", "[WARNING] iam:PutRolePolicy by alice in 111122223333"},
		"16-iam-attachuserpolicy":                  {trailalert.Warning, "policy-changed", ""},
		"17-secretsmanager-accessdenied":           {trailalert.Warning, "access-denied", "[WARNING] secretsmanager:GetSecretValue failed: AccessDenied by app-server/i-0fe... in 111122223333"},
		"18-sts-assumerole-awsservice":             {trailalert.Info, "", "[INFO] sts:AssumeRole by lambda.amazonaws.com in 111122223333"},
	}
	a := trailalerttest.NewAlerter(t)
	fx := fixtures(t)
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			raw, ok := fx[name]
			if !ok {
				t.Fatalf("fixture %s missing", name)
			}
			m, err := a.Alert(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Severity != w.severity || m.Rule != w.rule {
				t.Errorf("severity %v rule %q; want %v %q", m.Severity, m.Rule, w.severity, w.rule)
			}
			if w.subject != "" && m.Subject != w.subject {
				t.Errorf("subject %q\n   want %q", m.Subject, w.subject)
			}
		})
	}
	for name := range fx {
		if _, ok := want[name]; !ok {
			t.Errorf("fixture %s has no expected classification here", name)
		}
	}
}

// TestNoSecretReachesMessage collects, independently of the redactor, the values of every field
// whose name is sensitive in every fixture, and checks none appears anywhere in the message.
func TestNoSecretReachesMessage(t *testing.T) {
	a := trailalerttest.NewAlerter(t)
	red, _ := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	total := 0
	for name, raw := range fixtures(t) {
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		secrets, keys := trailalerttest.CollectSensitive(doc, red)
		total += len(secrets)
		m, err := a.Alert(raw)
		if err != nil {
			t.Fatal(err)
		}
		all := m.Subject + "\n" + m.Body + "\n" + fmt.Sprint(m.Attributes)
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("%s: sensitive value %.12q... reached the message", name, s)
			}
			// JSON re-encoding could hide a value behind escapes; check the escaped form too.
			enc, _ := json.Marshal(s)
			if strings.Contains(all, string(enc[1:len(enc)-1])) {
				t.Errorf("%s: sensitive value (escaped) reached the message", name)
			}
		}
		if m.Redacted != keys {
			t.Errorf("%s: Redacted = %d; the fixture has %d sensitive fields", name, m.Redacted, keys)
		}
	}
	if total < 5 {
		t.Errorf("fixtures hold only %d sensitive values; the test proves little", total)
	}
}

func TestMessageInvariants(t *testing.T) {
	a := trailalerttest.NewAlerter(t)
	for name, raw := range fixtures(t) {
		m, err := a.Alert(raw)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, name, m)
		if !strings.Contains(m.Body, "https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/"+m.EventID) {
			t.Errorf("%s: body lacks the CloudTrail console link", name)
		}
		for _, want := range []string{"Who:", "What:", "When:", "From:", "Region:", "Result:", "Severity:", "Event (sensitive fields redacted):"} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("%s: body lacks %q", name, want)
			}
		}
	}
}

// checkInvariants holds for every message, whatever the input.
func checkInvariants(t testing.TB, name string, m *trailalert.Message) {
	t.Helper()
	if len(m.Subject) == 0 || len(m.Subject) > trailalert.MaxSubjectChars {
		t.Errorf("%s: subject length %d not in 1..%d", name, len(m.Subject), trailalert.MaxSubjectChars)
	}
	for i := 0; i < len(m.Subject); i++ {
		if c := m.Subject[i]; c < 0x20 || c > 0x7e {
			t.Errorf("%s: subject byte %d is %#x, not printable ASCII", name, i, c)
			break
		}
	}
	if m.Size() > trailalert.MaxMessageBytes {
		t.Errorf("%s: message is %d bytes, over SNS's %d", name, m.Size(), trailalert.MaxMessageBytes)
	}
	for _, k := range []string{trailalert.AttrEventSource, trailalert.AttrEventName, trailalert.AttrSeverity, trailalert.AttrAccount, trailalert.AttrRegion} {
		if m.Attributes[k] == "" {
			t.Errorf("%s: attribute %s empty (SNS refuses empty values)", name, k)
		}
	}
	if len(m.Attributes) != 5 {
		t.Errorf("%s: %d attributes; want 5", name, len(m.Attributes))
	}
	if !strings.Contains(m.Body, "Event (sensitive fields redacted):") {
		t.Errorf("%s: no event excerpt", name)
	}
}

func TestOversizedEventIsTruncatedNotDropped(t *testing.T) {
	big := trailalerttest.Oversized(t, fixtures(t)["15-iam-putrolepolicy"])
	m, err := trailalerttest.NewAlerter(t).Alert(big)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, "oversized", m)
	if !m.Truncated {
		t.Error("Truncated not set")
	}
	if !strings.Contains(m.Body, "[TRUNCATED: the redacted event JSON is ") {
		t.Error("no visible truncation marker")
	}
	if !strings.HasPrefix(m.Body, "WARNING: iam PutRolePolicy by alice") || !strings.Contains(m.Body, "Console:") {
		t.Errorf("summary was cut:\n%.300s", m.Body)
	}
	if strings.Contains(m.Body, "after-the-cut") || strings.Contains(m.Body, "\nForged-Line") {
		t.Error("secret or forged line reached the body")
	}
	if !utf8Valid(m.Body) {
		t.Error("body is not valid UTF-8 after the cut")
	}
	if m.Size() < trailalert.MaxMessageBytes-1024 {
		t.Errorf("message is %d bytes; the cut wasted more than 1 KB of the budget", m.Size())
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestSubjectStaysShortAndASCII(t *testing.T) {
	raw := fixtures(t)["08-kms-disablekey-assumedrole"]
	tests := []struct {
		name    string
		session string
		want    string // prefix
	}{
		{"long session name", strings.Repeat("session", 30), "[CRITICAL] kms:DisableKey by OpsAutomation/session"},
		{"non-ASCII and control characters", "zoë\u0007\u2028\u00a0ops", "[CRITICAL] kms:DisableKey by OpsAutomation/zo????ops in 111122223333"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := bytes.Replace(raw, []byte("i-0123456789abcdef0"), []byte(jsonEscape(tc.session)), -1)
			m, err := trailalerttest.NewAlerter(t).Alert(mod)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, tc.name, m)
			if !strings.HasPrefix(m.Subject, tc.want) {
				t.Errorf("subject %q; want prefix %q", m.Subject, tc.want)
			}
			if !strings.HasSuffix(m.Subject, " in 111122223333") {
				t.Errorf("subject %q lost the account", m.Subject)
			}
		})
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func TestParseErrors(t *testing.T) {
	valid := fixtures(t)["07-kms-schedulekeydeletion-iamuser"]
	mutate := func(f func(ev map[string]any)) []byte {
		var ev map[string]any
		if err := json.Unmarshal(valid, &ev); err != nil {
			t.Fatal(err)
		}
		f(ev)
		b, _ := json.Marshal(ev)
		return b
	}
	detail := func(ev map[string]any) map[string]any { return ev["detail"].(map[string]any) }
	tests := []struct {
		name  string
		input []byte
		want  error
		field string
	}{
		{"empty input", nil, trailalert.ErrMalformed, ""},
		{"truncated JSON", valid[:len(valid)/2], trailalert.ErrMalformed, "truncated"},
		{"not JSON", []byte("DeleteCluster please"), trailalert.ErrMalformed, "syntax"},
		{"JSON array", []byte(`[1,2]`), trailalert.ErrNotCloudTrail, ""},
		{"S3 event notification", []byte(`{"version":"0","detail-type":"Object Created","source":"aws.s3","account":"111122223333","region":"us-east-1","detail":{"bucket":{"name":"b"}}}`), trailalert.ErrNotCloudTrail, "Object Created"},
		{"no detail-type", mutate(func(ev map[string]any) { delete(ev, "detail-type") }), trailalert.ErrNotCloudTrail, "detail-type"},
		{"no source", mutate(func(ev map[string]any) { delete(ev, "source") }), trailalert.ErrMissingField, "source"},
		{"no detail", mutate(func(ev map[string]any) { delete(ev, "detail") }), trailalert.ErrMissingField, "detail"},
		{"detail is a string", mutate(func(ev map[string]any) { ev["detail"] = "secret-ish" }), trailalert.ErrInvalidField, "detail"},
		{"no eventName", mutate(func(ev map[string]any) { delete(detail(ev), "eventName") }), trailalert.ErrMissingField, "detail.eventName"},
		{"no eventSource", mutate(func(ev map[string]any) { delete(detail(ev), "eventSource") }), trailalert.ErrMissingField, "detail.eventSource"},
		{"no eventID", mutate(func(ev map[string]any) { delete(detail(ev), "eventID") }), trailalert.ErrMissingField, "detail.eventID"},
		{"no eventTime", mutate(func(ev map[string]any) { delete(detail(ev), "eventTime") }), trailalert.ErrMissingField, "detail.eventTime"},
		{"bad eventTime", mutate(func(ev map[string]any) { detail(ev)["eventTime"] = "yesterday" }), trailalert.ErrInvalidField, "detail.eventTime"},
		{"bad envelope time", mutate(func(ev map[string]any) { ev["time"] = "soon" }), trailalert.ErrInvalidField, "time"},
		{"eventName not a string", mutate(func(ev map[string]any) { detail(ev)["eventName"] = 42 }), trailalert.ErrInvalidField, "detail.eventName"},
		{"no account anywhere", mutate(func(ev map[string]any) {
			delete(ev, "account")
			delete(detail(ev), "recipientAccountId")
			delete(detail(ev)["userIdentity"].(map[string]any), "accountId")
		}), trailalert.ErrMissingField, "account"},
		{"no region anywhere", mutate(func(ev map[string]any) { delete(ev, "region"); delete(detail(ev), "awsRegion") }), trailalert.ErrMissingField, "region"},
	}
	a := trailalerttest.NewAlerter(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Alert(tc.input)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v; want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
			for _, leak := range []string{"secret-ish", "yesterday", "please", "bob", "AKIA"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes the input (%s)", err, leak)
				}
			}
		})
	}
}

func TestConsoleURL(t *testing.T) {
	tests := []struct{ name, region, id, want string }{
		{"normal", "eu-west-2", "8f2e4d6a-0c1b-4a9e-b7d3-2e5f8a1c9b04", "https://eu-west-2.console.aws.amazon.com/cloudtrail/home?region=eu-west-2#/events/8f2e4d6a-0c1b-4a9e-b7d3-2e5f8a1c9b04"},
		{"region steering the host", "evil.example.com/x", "abc", ""},
		{"id with a fragment trick", "us-east-1", "abc#/../x", ""},
		{"empty id", "us-east-1", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := trailalert.ConsoleURL(tc.region, tc.id); got != tc.want {
				t.Errorf("ConsoleURL = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts trailalert.Options
		want string
	}{
		{"empty sensitive field", trailalert.Options{SensitiveFields: []string{"password", " _ "}}, "sensitive field 1"},
		{"rule without criteria", trailalert.Options{Rules: []trailalert.Rule{{Name: "all", Severity: trailalert.Critical}}}, "no criteria"},
		{"duplicate rule names", trailalert.Options{Rules: []trailalert.Rule{{Name: "a", Names: []string{"X"}}, {Name: "a", Names: []string{"Y"}}}}, "used twice"},
		{"unknown severity", trailalert.Options{Rules: []trailalert.Rule{{Name: "a", Severity: 9, Names: []string{"X"}}}}, "Severity 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := trailalert.New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
