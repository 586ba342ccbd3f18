package trailalert_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// healthEvent is a finding in the envelope EventBridge delivers for PutEvents.
func healthEvent(t *testing.T, f health.Finding) []byte {
	t.Helper()
	detail, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(map[string]any{
		"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": health.DetailType, "source": health.Source,
		"account": "123456789012", "time": f.CheckedAt.Format(time.RFC3339), "region": "us-east-1", "resources": []string{},
		"detail": json.RawMessage(detail),
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var checked = time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)

func disconnected() health.Finding {
	return health.Unhealthy("Custom::CloudHsmKeyStore", "cks-1234567890abcdef0", health.KeyStoreConnection, health.Critical,
		"key store cks-1234567890abcdef0 (prod) is DISCONNECTED from cluster cluster-abcdefghijk: every key in it is unusable",
		"connect it (aws kms connect-custom-key-store --custom-key-store-id cks-1234567890abcdef0)", checked)
}

// A condition is mailed when it changes: a new ALARM, a change of severity, a recovery; not
// while it stays the same, and not a first OK.
func TestHealthDecision(t *testing.T) {
	alarm := disconnected()
	warn := alarm
	warn.Severity = health.Warning
	ok := health.Healthy(alarm.ResourceType, alarm.ResourceID, alarm.Condition, "key store cks-1234567890abcdef0 is CONNECTED", checked)
	for _, c := range []struct {
		name      string
		f         health.Finding
		previous  string
		send, rec bool
	}{
		{"first alarm", alarm, "", true, false},
		{"alarm after ok", alarm, "OK", true, false},
		{"alarm again", alarm, "ALARM/critical", false, false},
		{"warning turned critical", alarm, "ALARM/warning", true, false},
		{"critical turned warning", warn, "ALARM/critical", true, false},
		{"first ok", ok, "", false, false},
		{"ok again", ok, "OK", false, false},
		{"recovered", ok, "ALARM/critical", true, true},
	} {
		send, rec, reason := trailalert.HealthDecision(c.f, c.previous)
		if send != c.send || rec != c.rec || (!send && reason == "") {
			t.Errorf("%s: send %v recovered %v (%q); want %v %v and a reason when not sent", c.name, send, rec, reason, c.send, c.rec)
		}
	}
}

func TestAlertHealth(t *testing.T) {
	a := trailalerttest.NewAlerter(t)
	ev, err := trailalert.ParseHealth(healthEvent(t, disconnected()))
	if err != nil {
		t.Fatal(err)
	}
	m := a.AlertHealth(ev, false, "OK")
	if m.Severity != trailalert.Critical || m.Attributes[trailalert.AttrSeverity] != "critical" || m.Attributes[trailalert.AttrEventSource] != health.Source ||
		m.Attributes[trailalert.AttrEventName] != health.KeyStoreConnection || m.Attributes[trailalert.AttrAccount] != "123456789012" {
		t.Errorf("severity %v, attributes %v", m.Severity, m.Attributes)
	}
	if !strings.HasPrefix(m.Subject, "[CRITICAL] strongroom:keystore-connection ALARM cks-1234567890abcdef0") || len(m.Subject) > trailalert.MaxSubjectChars {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"DISCONNECTED from cluster cluster-abcdefghijk", "connect-custom-key-store", "was OK", "Custom::CloudHsmKeyStore cks-1234567890abcdef0", "2026-12-06 20:00:00 UTC"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
	ok := health.Healthy("Custom::CloudHsmKeyStore", "cks-1234567890abcdef0", health.KeyStoreConnection, "key store cks-1234567890abcdef0 (prod) is CONNECTED to cluster cluster-abcdefghijk", checked)
	ev, err = trailalert.ParseHealth(healthEvent(t, ok))
	if err != nil {
		t.Fatal(err)
	}
	m = a.AlertHealth(ev, true, "ALARM/critical")
	if m.Severity != trailalert.Info || !strings.Contains(m.Subject, "keystore-connection recovered") || !strings.Contains(m.Body, "was ALARM/critical") {
		t.Errorf("recovery: %v %q\n%s", m.Severity, m.Subject, m.Body)
	}
	long := disconnected()
	long.ResourceID = strings.Repeat("x", 200)
	if ev, err = trailalert.ParseHealth(healthEvent(t, long)); err != nil {
		t.Fatal(err)
	}
	if s := a.AlertHealth(ev, false, "").Subject; len(s) > trailalert.MaxSubjectChars || !strings.HasSuffix(s, " in 123456789012") {
		t.Errorf("long subject %q (%d chars)", s, len(s))
	}
}

func TestParseHealthRefusesNamingTheField(t *testing.T) {
	bad := disconnected()
	bad.Severity = "loud"
	if _, err := trailalert.ParseHealth(healthEvent(t, bad)); !errors.Is(err, trailalert.ErrInvalidField) || !strings.Contains(err.Error(), "severity") {
		t.Errorf("bad severity: %v", err)
	}
	bad = disconnected()
	bad.ResourceID = ""
	if _, err := trailalert.ParseHealth(healthEvent(t, bad)); err == nil || !strings.Contains(err.Error(), "resourceId") {
		t.Errorf("no resource: %v", err)
	}
	if !trailalert.IsHealthFinding(healthEvent(t, disconnected())) || trailalert.IsHealthFinding([]byte(`{"source":"aws.kms","detail-type":"`+health.DetailType+`"}`)) {
		t.Error("IsHealthFinding: wrong on the source")
	}
}
