// Package health is the contract between Strongroom's scheduled health checks and the alert relay.
// A check (pkg/health/clustercheck, pkg/health/storecheck) looks at one resource and reports each
// of its conditions as a Finding, OK or ALARM, on every run; pkg/health/emit sends the findings to
// EventBridge as "Strongroom Health Check" events (source strongroom.health); the alerts stack's rule
// gives them to the relay, which remembers each condition's last status and alerts only when it
// changes (pkg/trailalert): a condition that stays bad is one alert, not one every run, and its
// recovery is one more.
//
// The checks report, they do not judge history: a run knows nothing of earlier runs, so the same
// finding is sent every run and the relay's state decides. That keeps the checks stateless and
// lets an organization's member accounts forward their findings to a central bus unchanged.
//
// This package holds no AWS client: the relay links it to read the events without linking the
// checks' services.
package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event identity: the PutEvents Source and DetailType of every finding. Source must not start with
// "aws." (EventBridge reserves it).
const (
	Source     = "strongroom.health"
	DetailType = "Strongroom Health Check"
)

// Status of a condition.
type Status string

// Statuses. A check reports every condition it could judge, healthy or not, so the relay sees the
// recovery of a condition it alerted on.
const (
	OK    Status = "OK"
	Alarm Status = "ALARM"
)

// Severity of an ALARM, as the relay's severities name them.
const (
	Warning  = "warning"
	Critical = "critical"
)

// Conditions. A certificate's condition is CertificateExpiry + "/" + the certificate's name.
const (
	KeyStoreConnection = "keystore-connection"
	ClusterState       = "cluster-state"
	ClusterHsms        = "cluster-hsms"
	ClusterZones       = "cluster-zones"
	BackupAge          = "backup-age"
	CertificateExpiry  = "certificate-expiry"
)

// Finding is one condition of one resource at one time: the detail of a health event. It carries
// identifiers, states and explanations, never a secret or a certificate's contents.
type Finding struct {
	// ResourceType is the custom resource's type, for example Custom::CloudHsmCluster.
	ResourceType string `json:"resourceType"`
	// ResourceID is the cluster id or key store id.
	ResourceID string `json:"resourceId"`
	// Condition names what was checked (the constants above).
	Condition string `json:"condition"`
	Status    Status `json:"status"`
	// Severity is Warning or Critical for an ALARM, empty for OK.
	Severity string `json:"severity,omitempty"`
	// Summary is one line: what was observed.
	Summary string `json:"summary"`
	// Fix is what the operator does about an ALARM.
	Fix string `json:"fix,omitempty"`
	// CheckedAt is when the check looked (RFC 3339, UTC).
	CheckedAt time.Time `json:"checkedAt"`
}

// Key identifies the condition across runs: the relay keeps one status per key.
func (f Finding) Key() string {
	return f.ResourceType + "/" + f.ResourceID + "/" + f.Condition
}

// ErrInvalid is returned by Parse for a detail that is not a finding; the message names the field.
var ErrInvalid = errors.New("invalid health finding")

// Parse reads and checks an event's detail.
func Parse(detail []byte) (Finding, error) {
	var f Finding
	if err := json.Unmarshal(detail, &f); err != nil {
		return Finding{}, fmt.Errorf("%w: detail is not a JSON object of a finding: %v", ErrInvalid, err)
	}
	return f, f.Validate()
}

// Validate checks that a finding says what the relay needs: whose, which condition, which status,
// and a severity for an ALARM.
func (f Finding) Validate() error {
	var missing []string
	for _, c := range []struct{ name, v string }{{"resourceType", f.ResourceType}, {"resourceId", f.ResourceID},
		{"condition", f.Condition}, {"summary", f.Summary}} {
		if strings.TrimSpace(c.v) == "" {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s empty", ErrInvalid, strings.Join(missing, ", "))
	}
	switch f.Status {
	case OK:
	case Alarm:
		if f.Severity != Warning && f.Severity != Critical {
			return fmt.Errorf("%w: severity %q of an ALARM is not %s or %s", ErrInvalid, f.Severity, Warning, Critical)
		}
	default:
		return fmt.Errorf("%w: status %q is not %s or %s", ErrInvalid, f.Status, OK, Alarm)
	}
	if f.CheckedAt.IsZero() {
		return fmt.Errorf("%w: checkedAt missing", ErrInvalid)
	}
	return nil
}

// Healthy is an OK finding.
func Healthy(typ, id, condition, summary string, at time.Time) Finding {
	return Finding{ResourceType: typ, ResourceID: id, Condition: condition, Status: OK, Summary: summary, CheckedAt: at.UTC()}
}

// Unhealthy is an ALARM finding.
func Unhealthy(typ, id, condition, severity, summary, fix string, at time.Time) Finding {
	return Finding{ResourceType: typ, ResourceID: id, Condition: condition, Status: Alarm, Severity: severity,
		Summary: summary, Fix: fix, CheckedAt: at.UTC()}
}

// Input is what the resource's scheduled health rule gives its check function: the custom
// resource's PhysicalResourceId and the properties it was declared with (the rule target's input,
// rendered by infra/workflowresource, so it follows the resource through updates).
type Input struct {
	ResourceID string         `json:"ResourceId"`
	Properties map[string]any `json:"Properties"`
}

// Report is what a check function returns: how many findings it sent and the conditions in ALARM,
// for its log and for whoever invokes it by hand.
type Report struct {
	Sent   int      `json:"Sent"`
	Alarms []string `json:"Alarms"`
}

// ReportOf summarizes findings that were sent.
func ReportOf(findings []Finding) Report {
	r := Report{Sent: len(findings), Alarms: []string{}}
	for _, f := range findings {
		if f.Status == Alarm {
			r.Alarms = append(r.Alarms, f.Condition+": "+f.Summary)
		}
	}
	return r
}
