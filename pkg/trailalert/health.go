package trailalert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// HealthRule names the rule of every health alert (the Message's Rule).
const HealthRule = "health-check"

// HealthEvent is a parsed "Strongroom Health Check" event (pkg/health): the envelope and the
// finding in its detail.
type HealthEvent struct {
	Envelope events.CloudWatchEvent
	Finding  health.Finding
}

// IsHealthFinding reports whether raw is, by its source and detail-type, a health finding.
func IsHealthFinding(raw []byte) bool {
	if !bytes.Contains(raw, []byte(health.DetailType)) {
		return false
	}
	var e struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	return json.Unmarshal(raw, &e) == nil && e.Source == health.Source && e.DetailType == health.DetailType
}

// ParseHealth decodes a health event; a detail that is not a valid finding wraps ErrInvalidField
// and says which field (health.Validate's words).
func ParseHealth(raw []byte) (*HealthEvent, error) {
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%w: not an EventBridge event: %v", ErrMalformed, err)
	}
	f, err := health.Parse(ev.Detail)
	if err != nil {
		return nil, fmt.Errorf("%w: detail: %v", ErrInvalidField, err)
	}
	ev.Detail = nil
	return &HealthEvent{Envelope: ev, Finding: f}, nil
}

// HealthState remembers each condition's last status, so the relay alerts on a change, not on
// every run of a check. Transition records status for key and returns what it was before ("" for
// a condition never seen), in one atomic step so that two relays given the same change cannot
// both miss or both send it. pkg/alertstate implements it over DynamoDB.
type HealthState interface {
	Transition(ctx context.Context, key, status string, at time.Time) (previous string, err error)
}

// WithHealthState lets the relay alert on a health condition only when it changes. Without it
// every ALARM finding is mailed, every run, and no recovery is.
func WithHealthState(s HealthState) RelayOption {
	return func(r *Relay) { r.state = s }
}

// unsentState is kept for a condition first seen in ALARM whose alert could not be sent: unlike
// any finding's state, so the retry sees a change.
const unsentState = "UNSENT"

// stateOf is what HealthState keeps for a finding: the status, and for an ALARM its severity, so
// a warning that turns critical is a change.
func stateOf(f health.Finding) string {
	if f.Status == health.Alarm {
		return string(health.Alarm) + "/" + f.Severity
	}
	return string(f.Status)
}

// HealthDecision says whether a finding is mailed, given the condition's previous state (stateOf,
// "" when never seen): an ALARM that is new or changed severity is; a return to OK after an ALARM
// is (as a recovery); anything else is not, and the reason says why.
func HealthDecision(f health.Finding, previous string) (send bool, recovered bool, reason string) {
	now := stateOf(f)
	switch {
	case now == previous:
		return false, false, "unchanged since the last check (" + now + ")"
	case f.Status == health.Alarm:
		return true, false, ""
	case strings.HasPrefix(previous, string(health.Alarm)):
		return true, true, ""
	}
	return false, false, "healthy, and not in ALARM before"
}

// AlertHealth renders a health finding's alert: its severity for an ALARM, Info for a recovery.
func (a *Alerter) AlertHealth(ev *HealthEvent, recovered bool, previous string) *Message {
	f := ev.Finding
	sev := Info
	switch {
	case recovered:
	case f.Severity == health.Critical:
		sev = Critical
	default:
		sev = Warning
	}
	account, region := ev.Envelope.AccountID, ev.Envelope.Region
	what := f.Condition + " " + string(f.Status)
	if recovered {
		what = f.Condition + " recovered"
	}
	m := &Message{
		Severity: sev, Rule: HealthRule, EventID: firstNonEmpty(ev.Envelope.ID, f.Key()),
		Subject: fitSubject("["+strings.ToUpper(sev.String())+"] strongroom:"+ascii(what)+" "+ascii(f.ResourceID), " in "+ascii(clip(account, 20))),
		Attributes: map[string]string{
			AttrEventSource: health.Source,
			AttrEventName:   attrValue(f.Condition),
			AttrSeverity:    sev.String(),
			AttrAccount:     attrValue(account),
			AttrRegion:      attrValue(region),
		},
	}
	var b strings.Builder
	head := strings.ToUpper(sev.String()) + ": Strongroom health check, " + line(f.Summary) + "\n\n"
	if recovered {
		head = "INFO: Strongroom health check, recovered: " + line(f.Summary) + "\n\n"
	}
	b.WriteString(head)
	field := func(name, value string) { writeField(&b, 15, name, value) }
	field("Resource:", f.ResourceType+" "+f.ResourceID)
	field("Condition:", f.Condition)
	status := string(f.Status)
	if f.Severity != "" {
		status += " (" + f.Severity + ")"
	}
	if previous != "" {
		status += ", was " + previous
	}
	field("Status:", status)
	if f.Fix != "" {
		field("Fix:", f.Fix)
	}
	field("Checked at:", f.CheckedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	field("Region:", region)
	field("Account:", account)
	field("Severity:", sev.String()+" ("+HealthRule+": a scheduled check found a change)")
	field("Event ID:", ev.Envelope.ID)
	b.WriteString("\nThe check runs every few minutes; this alert is sent when the condition changes, not on every run.\n")
	m.Body = b.String()
	return m
}

// fitSubject joins head and tail within MaxSubjectChars, shortening head.
func fitSubject(head, tail string) string {
	if len(head)+len(tail) > MaxSubjectChars {
		head = head[:max(MaxSubjectChars-len(tail)-3, 0)] + "..."
	}
	return head + tail
}

// handleHealth relays a health finding when its condition changed. When the state cannot be read
// or written the relay fails open for an ALARM (better a repeated alert than a missed one) and
// skips an OK (a recovery it cannot tell from a first run).
func (r *Relay) handleHealth(ctx context.Context, in json.RawMessage) (RelayOutput, error) {
	ev, err := ParseHealth(in)
	if err != nil {
		return RelayOutput{}, lambdaerr.Terminal("cannot relay the health finding", err)
	}
	f := ev.Finding
	res := RelayOutput{EventID: ev.Envelope.ID}
	previous, stateErr := "", error(nil)
	if r.state != nil {
		previous, stateErr = r.state.Transition(ctx, f.Key(), stateOf(f), f.CheckedAt)
	}
	send, recovered, reason := HealthDecision(f, previous)
	if r.state == nil || stateErr != nil {
		if stateErr != nil {
			r.log.WarnContext(ctx, "health state not kept; deciding without it", "key", f.Key(), "error", stateErr.Error())
		}
		previous = ""
		send, recovered, reason = f.Status == health.Alarm, false, "healthy; without the condition's state a recovery cannot be told from a first run"
	}
	if !send {
		res.Skipped = reason
		r.log.InfoContext(ctx, "health finding skipped", "event_id", res.EventID, "key", f.Key(), "status", f.Status, "reason", reason)
		return res, nil
	}
	msg := r.alerter.AlertHealth(ev, recovered, previous)
	out, err := r.sns.Publish(ctx, msg.PublishInput(r.topicARN))
	if err != nil {
		// Put back what was before, so the retried delivery sees the change again.
		if r.state != nil && stateErr == nil {
			if _, rerr := r.state.Transition(ctx, f.Key(), firstNonEmpty(previous, unsentState), f.CheckedAt); rerr != nil {
				r.log.WarnContext(ctx, "health state not put back; a retry may be skipped", "key", f.Key(), "error", rerr.Error())
			}
		}
		return RelayOutput{}, fmt.Errorf("publish the health alert %s to %s: %w", f.Key(), r.topicARN, err)
	}
	res.MessageID, res.Severity, res.Chats = aws.ToString(out.MessageId), msg.Severity.String(), r.toChat(ctx, msg)
	r.log.InfoContext(ctx, "alert published", "event_id", res.EventID, "event_source", health.Source, "event_name", f.Condition,
		"severity", res.Severity, "rule", msg.Rule, "message_id", res.MessageID, "key", f.Key(), "previous", previous, "recovered", recovered)
	return res, nil
}
