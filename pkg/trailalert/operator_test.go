package trailalert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/alertrules"
	"github.com/strongroom/strongroom/pkg/trailalert"
)

// The fixtures' own roles are named as CloudFormation names a stack's roles: the stack's name, the
// logical id and a suffix.
var ownRoles = []string{"StrongroomClusterSteps-*", "StrongroomKeyStoreSteps-*", "StrongroomRotation-*"}

func operatorAlerter(t *testing.T, r alertrules.Rules) *trailalert.Alerter {
	t.Helper()
	// Through ALERT_RULES's encoding, as the relay gets them.
	text, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := alertrules.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	a, err := trailalert.New(trailalert.Options{OperatorRules: parsed})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// edit returns fixture raw with detail changed by f.
func edit(t *testing.T, raw []byte, f func(detail map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	f(ev["detail"].(map[string]any))
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIgnoreRules: each field of an ignore rule, alone, skips the fixture it matches and only that.
func TestIgnoreRules(t *testing.T) {
	fx := fixtures(t)
	cases := []struct {
		name    string
		rule    alertrules.Match
		skipped string // fixture the rule ignores (as rule 1, after one that matches nothing)
		sent    string // a fixture it must not ignore
	}{
		{"event source", alertrules.Match{EventSource: "secretsmanager.amazonaws.com"}, "10-secretsmanager-getsecretvalue", "08-kms-disablekey-assumedrole"},
		{"event name glob", alertrules.Match{EventName: "Get*Value"}, "10-secretsmanager-getsecretvalue", "11-secretsmanager-putsecretvalue-secrets"},
		{"principal ARN glob", alertrules.Match{PrincipalARN: "arn:aws:sts::*:assumed-role/OpsAutomation/*"}, "08-kms-disablekey-assumedrole", "17-secretsmanager-accessdenied"},
		{"account", alertrules.Match{Account: "111122223333", EventName: "DisableKey"}, "08-kms-disablekey-assumedrole", "07-kms-schedulekeydeletion-iamuser"},
		{"error code", alertrules.Match{ErrorCode: "AccessDenied"}, "17-secretsmanager-accessdenied", "10-secretsmanager-getsecretvalue"},
		{"error code glob on failed calls only", alertrules.Match{ErrorCode: "*", EventSource: "secretsmanager.amazonaws.com"}, "17-secretsmanager-accessdenied", "10-secretsmanager-getsecretvalue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := operatorAlerter(t, alertrules.Rules{Ignore: []alertrules.Match{{Account: "444455556666"}, c.rule}})
			_, err := a.Alert(fx[c.skipped])
			var skip *trailalert.Skipped
			if !errors.As(err, &skip) || !errors.Is(err, trailalert.ErrNoAlert) {
				t.Fatalf("%s: Alert = %v; want it Skipped", c.skipped, err)
			}
			if skip.IgnoreRule != 1 || skip.Reason != "ignore rule 1" || skip.EventID == "" || skip.EventName == "" {
				t.Errorf("%s: skipped as %+v; want ignore rule 1 with the event's id and name", c.skipped, skip)
			}
			if m, err := a.Alert(fx[c.sent]); err != nil || m == nil {
				t.Errorf("%s: Alert = %v; want it sent", c.sent, err)
			}
		})
	}
	t.Run("other account", func(t *testing.T) {
		a := operatorAlerter(t, alertrules.Rules{Ignore: []alertrules.Match{{Account: "444455556666"}}})
		for name, raw := range fx {
			if _, err := a.Alert(raw); err != nil {
				t.Errorf("%s: %v; no fixture is in account 444455556666", name, err)
			}
		}
	})
}

func TestSeverityOverrides(t *testing.T) {
	fx := fixtures(t)
	a := operatorAlerter(t, alertrules.Rules{Severity: []alertrules.Override{
		{Match: alertrules.Match{EventName: "DisableKey", PrincipalARN: "arn:aws:sts::*:assumed-role/OpsAutomation/*"}, Severity: "warning"},
		// Never reached for DisableKey: the first match wins.
		{Match: alertrules.Match{EventSource: "kms.amazonaws.com"}, Severity: "info"},
		{Match: alertrules.Match{EventName: "GetSecretValue"}, Severity: "critical"},
	}})
	for _, c := range []struct {
		fixture, severity, rule string
	}{
		{"08-kms-disablekey-assumedrole", "warning", "severity-rule-0"},     // built in: critical
		{"07-kms-schedulekeydeletion-iamuser", "info", "severity-rule-1"},   // built in: critical
		{"10-secretsmanager-getsecretvalue", "critical", "severity-rule-2"}, // built in: info
		{"17-secretsmanager-accessdenied", "critical", "severity-rule-2"},   // built in: warning
		{"15-iam-putrolepolicy", "warning", "policy-changed"},               // no override: built in
	} {
		m, err := a.Alert(fx[c.fixture])
		if err != nil {
			t.Fatalf("%s: %v", c.fixture, err)
		}
		if m.Severity.String() != c.severity || m.Attributes[trailalert.AttrSeverity] != c.severity || m.Rule != c.rule {
			t.Errorf("%s: severity %s (attribute %s), rule %s; want %s by %s", c.fixture, m.Severity, m.Attributes[trailalert.AttrSeverity], m.Rule, c.severity, c.rule)
		}
		if !strings.HasPrefix(m.Subject, "["+strings.ToUpper(c.severity)+"]") {
			t.Errorf("%s: subject %q does not show %s", c.fixture, m.Subject, c.severity)
		}
	}
}

// TestRoutineCalls: Strongroom's own roles' successful calls of info severity are skipped; their
// failed calls, their calls a rule rates warning or critical, and a same-named role of another
// account are mailed.
func TestRoutineCalls(t *testing.T) {
	fx := fixtures(t)
	a := operatorAlerter(t, alertrules.Rules{OwnRoles: ownRoles})
	for _, name := range []string{"03-cloudhsm-createcluster-assumedrole", "04-cloudhsm-initializecluster", "09-kms-createcustomkeystore", "10-secretsmanager-getsecretvalue"} {
		_, err := a.Alert(fx[name])
		var skip *trailalert.Skipped
		if !errors.As(err, &skip) || skip.Reason != trailalert.RoutineCall || !strings.HasPrefix(skip.Role, "Strongroom") || skip.IgnoreRule != -1 {
			t.Errorf("%s: Alert = %v (%+v); want a routine call skipped, naming the role", name, err, skip)
		}
	}
	sent := map[string][]byte{
		// DeleteHsm by the cluster's own role is critical: still mailed.
		"critical call": fx["05-cloudhsm-deletehsm"],
		"failed call": edit(t, fx["10-secretsmanager-getsecretvalue"], func(d map[string]any) {
			d["errorCode"], d["errorMessage"] = "InternalServiceError", "try again"
		}),
		"another account's role of the same name": edit(t, fx["10-secretsmanager-getsecretvalue"], func(d map[string]any) {
			d["userIdentity"].(map[string]any)["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)["accountId"] = "444455556666"
		}),
		"not an own role": fx["08-kms-disablekey-assumedrole"],
	}
	for name, raw := range sent {
		if m, err := a.Alert(raw); err != nil || m == nil {
			t.Errorf("%s: Alert = %v; want it mailed", name, err)
		}
	}
	// Without own roles, the same calls are mailed (the default, as in the golden messages).
	if m, err := operatorAlerter(t, alertrules.Rules{}).Alert(fx["10-secretsmanager-getsecretvalue"]); err != nil || m == nil {
		t.Errorf("no own roles: Alert = %v; want it mailed", err)
	}
	// An override to warning makes an own role's call no longer routine.
	raised := operatorAlerter(t, alertrules.Rules{OwnRoles: ownRoles, Severity: []alertrules.Override{{Match: alertrules.Match{EventName: "GetSecretValue"}, Severity: "warning"}}})
	if m, err := raised.Alert(fx["10-secretsmanager-getsecretvalue"]); err != nil || m.Severity != trailalert.Warning {
		t.Errorf("raised to warning: Alert = %v, %v; want it mailed as warning", m, err)
	}
}

// countingPublisher counts Publish calls.
type countingPublisher struct{ calls int }

func (p *countingPublisher) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	p.calls++
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

// TestRelaySkipsByRules: the relay publishes nothing for a skipped event, succeeds, and logs the
// reason with the rule's index or the role.
func TestRelaySkipsByRules(t *testing.T) {
	fx := fixtures(t)
	a := operatorAlerter(t, alertrules.Rules{OwnRoles: ownRoles, Ignore: []alertrules.Match{{EventName: "DisableKey"}}})
	pub := &countingPublisher{}
	var logs bytes.Buffer
	relay, err := trailalert.NewRelay(a, pub, "arn:aws:sns:us-east-1:111122223333:alerts", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := relay.Handle(context.Background(), fx["08-kms-disablekey-assumedrole"])
	if err != nil || out.Skipped != "ignore rule 0" || out.MessageID != "" {
		t.Errorf("ignored: Handle = %+v, %v", out, err)
	}
	out, err = relay.Handle(context.Background(), fx["10-secretsmanager-getsecretvalue"])
	if err != nil || out.Skipped != trailalert.RoutineCall {
		t.Errorf("routine: Handle = %+v, %v", out, err)
	}
	if pub.calls != 0 {
		t.Errorf("%d messages published for skipped events", pub.calls)
	}
	if out, err := relay.Handle(context.Background(), fx["05-cloudhsm-deletehsm"]); err != nil || out.MessageID == "" || pub.calls != 1 {
		t.Errorf("critical own-role call: Handle = %+v, %v, %d published; want it published", out, err, pub.calls)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 || lines[0]["msg"] != "event skipped" || lines[0]["ignore_rule"] != 0.0 || lines[0]["event_name"] != "DisableKey" ||
		lines[1]["reason"] != trailalert.RoutineCall || !strings.HasPrefix(lines[1]["role"].(string), "StrongroomRotation-") {
		t.Errorf("logs:\n%s", logs.String())
	}
}
