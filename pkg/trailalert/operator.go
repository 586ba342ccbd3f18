package trailalert

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// RoutineCall is the reason a Strongroom role's routine call is skipped.
const RoutineCall = "strongroom routine call"

// Skipped is Alert's error for a CloudTrail event the operator's rules (Options.OperatorRules) say
// not to mail: it matched an ignore rule, or it is a routine call of one of Strongroom's own roles.
// It wraps ErrNoAlert, and its fields are names, never request or response values, so it is safe
// to log.
type Skipped struct {
	EventID, EventSource, EventName string
	// Reason is "ignore rule N" or RoutineCall.
	Reason string
	// IgnoreRule is the index of the ignore rule that matched, -1 for a routine call.
	IgnoreRule int
	// Role is the Strongroom role that made a routine call, "" for an ignore rule.
	Role string
}

func (s *Skipped) Error() string { return ErrNoAlert.Error() + ": " + s.Reason }

// Unwrap makes errors.Is(err, ErrNoAlert) hold.
func (s *Skipped) Unwrap() error { return ErrNoAlert }

// applyOperatorRules applies the operator's rules to ev, whose built-in classification is c: an
// ignored event is Skipped; an override replaces the severity; and a successful call of info
// severity (after the overrides) by one of Strongroom's own roles is Skipped as routine. A failed
// call, or one a rule rates warning or critical, is always mailed, whoever made it.
func (a *Alerter) applyOperatorRules(ev *Event, c Classification) (Classification, *Skipped) {
	r := a.operator
	if r == nil {
		return c, nil
	}
	rec := &ev.Record
	fields := alertrules.Event{
		EventSource: rec.EventSource, EventName: rec.EventName, PrincipalARN: rec.UserIdentity.ARN,
		Account: ev.Account(), ErrorCode: rec.ErrorCode,
	}
	skip := &Skipped{EventID: rec.EventID, EventSource: rec.EventSource, EventName: rec.EventName, IgnoreRule: -1}
	if i := r.Ignored(fields); i >= 0 {
		skip.Reason, skip.IgnoreRule = fmt.Sprintf("ignore rule %d", i), i
		return c, skip
	}
	if sev, i := r.Override(fields); i >= 0 {
		c = Classification{Severity: severityOf(sev), Rule: fmt.Sprintf("severity-rule-%d", i),
			Why: fmt.Sprintf("the operator's severity rule %d sets it", i)}
	}
	if c.Severity == Info && rec.ErrorCode == "" {
		if role := ownRole(ev, r); role != "" {
			skip.Reason, skip.Role = RoutineCall, role
			return c, skip
		}
	}
	return c, nil
}

// ownRole returns the name of the role that made ev when it is one of Strongroom's own: an
// assumed role of the event's own account (a same-named role in another account is not ours)
// whose name matches r.OwnRoles.
func ownRole(ev *Event, r *alertrules.Rules) string {
	id := &ev.Record.UserIdentity
	if id.Type != "AssumedRole" || id.SessionContext == nil {
		return ""
	}
	iss := &id.SessionContext.SessionIssuer
	if iss.Type != "Role" || iss.AccountID != ev.Account() || !r.IsOwnRole(iss.UserName) {
		return ""
	}
	return iss.UserName
}

func severityOf(s string) Severity {
	switch s {
	case alertrules.Warning:
		return Warning
	case alertrules.Critical:
		return Critical
	}
	return Info
}

// skipped logs an event the operator's rules skipped and returns the relay's output for it.
func (r *Relay) skipped(ctx context.Context, s *Skipped) RelayOutput {
	attrs := []any{"event_id", s.EventID, "event_source", s.EventSource, "event_name", s.EventName, "reason", s.Reason}
	if s.IgnoreRule >= 0 {
		attrs = append(attrs, "ignore_rule", s.IgnoreRule)
	}
	if s.Role != "" {
		attrs = append(attrs, "role", s.Role)
	}
	r.log.InfoContext(ctx, "event skipped", attrs...)
	return RelayOutput{EventID: s.EventID, Skipped: s.Reason}
}
