package trailalert

import "fmt"

// Options configure an Alerter. Zero values take the defaults.
type Options struct {
	// SensitiveFields are the field-name markers to redact; nil means DefaultSensitiveFields.
	SensitiveFields []string
	// Rules is the severity table; nil means DefaultRules.
	Rules []Rule
}

// Alerter runs the whole pipeline for one event: parse, classify, redact, render.
type Alerter struct {
	redactor *Redactor
	rules    []Rule
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
	return &Alerter{redactor: red, rules: rules}, nil
}

// Alert turns one EventBridge-delivered CloudTrail event into a message. Errors are Parse's
// sentinels and safe to log.
func (a *Alerter) Alert(raw []byte) (*Message, error) {
	ev, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	c := Classify(ev, a.rules)
	// Parse has checked raw is valid JSON, which the redactor relies on. One pass redacts and
	// indents the excerpt.
	w := redactWriter{r: a.redactor, in: raw, out: make([]byte, 0, len(raw)+len(raw)/2), indent: true}
	w.value(w.ws(0))
	return Render(ev, c, w.out, w.n), nil
}
