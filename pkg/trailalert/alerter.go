package trailalert

import (
	"fmt"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// Options configure an Alerter. Zero values take the defaults.
type Options struct {
	// SensitiveFields are the field-name markers to redact; nil means DefaultSensitiveFields.
	SensitiveFields []string
	// Rules is the severity table; nil means DefaultRules.
	Rules []Rule
	// OperatorRules are the operator's ignore rules, severity overrides and Strongroom's own role
	// names (ALERT_RULES, pkg/alertrules), applied to CloudTrail events after the severity table;
	// nil means none. Workflow failures and health findings are not subject to them.
	OperatorRules *alertrules.Rules
}

// Alerter runs the whole pipeline for one event: parse, classify, redact, render.
type Alerter struct {
	redactor *Redactor
	rules    []Rule
	operator *alertrules.Rules
}

// New returns an Alerter, checking the options.
func New(opts Options) (*Alerter, error) {
	fields := opts.SensitiveFields
	if fields == nil {
		fields = DefaultSensitiveFields
	}
	red, err := NewRedactor(fields)
	if err != nil {
		return nil, fmt.Errorf("sensitive fields: %w", err)
	}
	rules := opts.Rules
	if rules == nil {
		rules = DefaultRules
	}
	if err := Validate(rules); err != nil {
		return nil, fmt.Errorf("severity rules: %w", err)
	}
	return &Alerter{redactor: red, rules: rules, operator: opts.OperatorRules}, nil
}

// Alert turns one EventBridge-delivered CloudTrail event into a message. Errors are Parse's
// sentinels and safe to log; an event the operator's rules skip is a *Skipped (ErrNoAlert).
//
// The severity is decided on the event as received (a rule may read a field that is redacted),
// but everything the message shows - subject, attributes, summary and excerpt - is built from the
// redacted event alone, so no value the Redactor hides can reach the message by another way.
func (a *Alerter) Alert(raw []byte) (*Message, error) {
	ev, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	c, skip := a.applyOperatorRules(ev, Classify(ev, a.rules))
	if skip != nil {
		return nil, skip
	}
	// Parse has checked raw is valid JSON, which the redactor relies on. The redaction is laid
	// out for the excerpt as it is written.
	red := a.redactor.redact(raw, true)
	shown := ev
	if red.fields > 0 || red.copies > 0 {
		// Something was replaced: decode what is left. (Otherwise the redacted document holds
		// the same values as raw, and decoding it again would only cost time.)
		shown = redactedEvent(red.out)
	}
	return render(shown, c, red), nil
}
