// Package alertrules provides the operator's alert rules and their one validator: ignore rules and
// severity overrides for CloudTrail events (the CDK context keys strongroom:alertIgnore and
// strongroom:alertSeverity), and the role-name patterns of Strongroom's own roles. infra/settings
// validates the context with it at synth; infra/alerts hands the result to the relay as the
// ALERT_RULES environment variable (Encode), which pkg/trailalert's relay reads at cold start with
// the same checks (Parse). It imports neither the CDK nor the SDK, so both sides can link it.
//
// Errors name the rule by its index in its list and the field at fault ("rule 2: principalArn:
// ..."); callers prefix the context key or the variable.
package alertrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// Severities, as the relay's messages carry them in their severity attribute
// (pkg/trailalert/render.go) and as the context names them.
const (
	Info     = "info"
	Warning  = "warning"
	Critical = "critical"
)

// SeverityAttribute is the SNS message attribute that carries the severity, on which per-severity
// subscriptions filter (pkg/trailalert's AttrSeverity).
const SeverityAttribute = "severity"

// Severities are the severities, lowest first.
var Severities = []string{Info, Warning, Critical}

// AtLeast returns sev and every severity above it, lowest first: what a subscriber of sev "and
// above" receives. An unknown severity has none.
func AtLeast(sev string) []string {
	for i, s := range Severities {
		if s == sev {
			return append([]string(nil), Severities[i:]...)
		}
	}
	return nil
}

// Match fields, as they are spelled in the context and in ALERT_RULES.
const (
	FieldEventSource  = "eventSource"
	FieldEventName    = "eventName"
	FieldPrincipalARN = "principalArn"
	FieldAccount      = "account"
	FieldErrorCode    = "errorCode"
	FieldSeverity     = "severity"
)

var matchFields = []string{FieldEventSource, FieldEventName, FieldPrincipalARN, FieldAccount, FieldErrorCode}

// Match selects CloudTrail events. Every field given must match and an empty field matches
// anything; a given field never matches an event that lacks it (errorCode "*" matches failed
// calls only, principalArn "*" only events with an identity ARN). EventName, PrincipalARN and
// ErrorCode may use '*' for any run of characters; EventSource and Account compare exactly.
// Comparisons are case-sensitive, as CloudTrail's values are.
type Match struct {
	// EventSource is CloudTrail's eventSource, such as kms.amazonaws.com.
	EventSource string `json:"eventSource,omitempty"`
	// EventName is CloudTrail's eventName, such as GetSecretValue or Describe*.
	EventName string `json:"eventName,omitempty"`
	// PrincipalARN is userIdentity.arn, such as arn:aws:sts::*:assumed-role/Deployer/*.
	PrincipalARN string `json:"principalArn,omitempty"`
	// Account is the 12-digit account the event happened in.
	Account string `json:"account,omitempty"`
	// ErrorCode is CloudTrail's errorCode of a failed call, such as ThrottlingException.
	ErrorCode string `json:"errorCode,omitempty"`
}

// Override sets the severity of the events it matches.
type Override struct {
	Match
	// Severity is Info, Warning or Critical.
	Severity string `json:"severity"`
}

// Rules are what the relay applies to a CloudTrail event before mailing it.
type Rules struct {
	// Ignore: an event matching any is not mailed (the first match is logged by its index).
	Ignore []Match `json:"ignore,omitempty"`
	// Severity: the first match decides the severity, over the built-in classification.
	Severity []Override `json:"severity,omitempty"`
	// OwnRoles are IAM role-name patterns ('*' for any run) of Strongroom's own roles, whose
	// successful calls of info severity are routine and not mailed (pkg/trailalert).
	OwnRoles []string `json:"ownRoles,omitempty"`
}

// Event is what a Match is compared with: a CloudTrail event's fields, "" when absent.
type Event struct {
	EventSource, EventName, PrincipalARN, Account, ErrorCode string
}

// MaxEncodedBytes bounds ALERT_RULES: Lambda allows 4 KB for all of a function's environment
// variables together, and the relay's other variables need the rest.
const MaxEncodedBytes = 3000

var (
	eventSourceRE = lazyregexp.New(`^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.amazonaws\.com$`)
	eventNameRE   = lazyregexp.New(`^[A-Za-z0-9*]{1,128}$`)
	errorCodeRE   = lazyregexp.New(`^[A-Za-z0-9.:_*-]{1,128}$`)
	accountRE     = lazyregexp.New(`^[0-9]{12}$`)
	// principalRE: an ARN (or a pattern starting with '*'), printable and without spaces.
	principalRE = lazyregexp.New(`^(arn:|\*)[!-~]*$`)
	// roleNameRE: IAM's role-name characters, and '*'.
	roleNameRE = lazyregexp.New(`^[A-Za-z0-9+=,.@_*-]{1,64}$`)
)

// Matches reports whether e matches every field m gives.
func (m *Match) Matches(e Event) bool {
	return field(m.EventSource, e.EventSource, false) && field(m.EventName, e.EventName, true) &&
		field(m.PrincipalARN, e.PrincipalARN, true) && field(m.Account, e.Account, false) &&
		field(m.ErrorCode, e.ErrorCode, true)
}

func field(want, got string, glob bool) bool {
	switch {
	case want == "":
		return true
	case got == "":
		return false
	case glob:
		return Glob(want, got)
	default:
		return want == got
	}
}

// Ignored returns the index of the first ignore rule e matches, or -1.
func (r *Rules) Ignored(e Event) int {
	for i := range r.Ignore {
		if r.Ignore[i].Matches(e) {
			return i
		}
	}
	return -1
}

// Override returns the severity and index of the first override e matches, or "" and -1.
func (r *Rules) Override(e Event) (string, int) {
	for i := range r.Severity {
		if r.Severity[i].Matches(e) {
			return r.Severity[i].Severity, i
		}
	}
	return "", -1
}

// IsOwnRole reports whether roleName matches one of OwnRoles.
func (r *Rules) IsOwnRole(roleName string) bool {
	if roleName == "" {
		return false
	}
	for _, p := range r.OwnRoles {
		if Glob(p, roleName) {
			return true
		}
	}
	return false
}

// Empty reports whether r has no rule at all.
func (r *Rules) Empty() bool {
	return len(r.Ignore) == 0 && len(r.Severity) == 0 && len(r.OwnRoles) == 0
}

// DecodeIgnore reads an ignore list as the context gives it: decoded JSON (a list of objects, from
// cdk.json) or a string holding that JSON (from `cdk -c`). nil is no rules.
func DecodeIgnore(v any) ([]Match, error) {
	items, err := list(v, `[{"eventSource": "kms.amazonaws.com", "eventName": "Describe*"}]`)
	if err != nil {
		return nil, err
	}
	var out []Match
	for i, item := range items {
		m, _, err := decodeRule(i, item, false)
		if err != nil {
			return nil, err
		}
		if err := checkIgnore(i, m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// DecodeSeverity reads a list of overrides as DecodeIgnore reads an ignore list.
func DecodeSeverity(v any) ([]Override, error) {
	items, err := list(v, `[{"eventName": "StopLogging", "severity": "critical"}]`)
	if err != nil {
		return nil, err
	}
	var out []Override
	for i, item := range items {
		m, sev, err := decodeRule(i, item, true)
		if err != nil {
			return nil, err
		}
		out = append(out, Override{Match: m, Severity: sev})
	}
	return out, nil
}

// DecodeOwnRoles reads a list of role-name patterns: each 1-64 of IAM's role-name characters or
// '*', and none that is only '*' (every role would be Strongroom's).
func DecodeOwnRoles(v any) ([]string, error) {
	items, err := list(v, `["StrongroomCluster-*"]`)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("role pattern %d: got %s, want a string such as \"StrongroomCluster-*\"", i, jsonType(item))
		}
		if !roleNameRE.MatchString(s) {
			return nil, fmt.Errorf("role pattern %d: %q is not an IAM role-name pattern: use 1-64 letters, digits, +=,.@_- or '*'", i, s)
		}
		if strings.Trim(s, "*") == "" {
			return nil, fmt.Errorf("role pattern %d: %q matches every role; name a prefix such as \"StrongroomCluster-*\"", i, s)
		}
		out = append(out, s)
	}
	return out, nil
}

// Parse reads ALERT_RULES (Encode's output) with the checks the context had; "" is no rules. The
// errors name the list (ignore, severity, ownRoles), the rule and the field.
func Parse(text string) (*Rules, error) {
	r := &Rules{}
	if strings.TrimSpace(text) == "" {
		return r, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var errs []error
	for k, v := range raw {
		var err error
		switch k {
		case "ignore":
			r.Ignore, err = DecodeIgnore(v)
		case "severity":
			r.Severity, err = DecodeSeverity(v)
		case "ownRoles":
			r.OwnRoles, err = DecodeOwnRoles(v)
		default:
			err = errors.New("unknown member; want ignore, severity or ownRoles")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// Encode returns r as ALERT_RULES's compact JSON, refusing more than MaxEncodedBytes.
func (r *Rules) Encode() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode the alert rules: %w", err)
	}
	if len(b) > MaxEncodedBytes {
		return "", fmt.Errorf("the alert rules take %d bytes of JSON, over the %d the relay's environment leaves them (Lambda allows 4 KB for all its variables); use fewer rules or '*' patterns", len(b), MaxEncodedBytes)
	}
	return string(b), nil
}

// list accepts decoded JSON or a string of JSON (as `cdk -c key=value` gives every value) that is
// a list; example shows one in the error.
func list(v any, example string) ([]any, error) {
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		var decoded any
		if err := json.Unmarshal([]byte(s), &decoded); err != nil {
			return nil, fmt.Errorf("%q is not JSON (%v); give a list such as %s", clip(s), err, example)
		}
		v = decoded
	}
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return t, nil
	case []map[string]any:
		out := make([]any, len(t))
		for i := range t {
			out[i] = t[i]
		}
		return out, nil
	default:
		return nil, fmt.Errorf("got %s, want a list such as %s", jsonType(v), example)
	}
}

// decodeRule reads rule i: an object of match fields (and severity when withSeverity), each a
// checked string, with at least one match field.
func decodeRule(i int, item any, withSeverity bool) (Match, string, error) {
	obj, ok := item.(map[string]any)
	if !ok {
		return Match{}, "", fmt.Errorf("rule %d: got %s, want an object such as {\"eventName\": \"Describe*\"}", i, jsonType(item))
	}
	var m Match
	var sev string
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := obj[k]
		s, isString := v.(string)
		var dst *string
		switch k {
		case FieldEventSource:
			dst = &m.EventSource
		case FieldEventName:
			dst = &m.EventName
		case FieldPrincipalARN:
			dst = &m.PrincipalARN
		case FieldAccount:
			dst = &m.Account
		case FieldErrorCode:
			dst = &m.ErrorCode
		case FieldSeverity:
			if withSeverity {
				dst = &sev
			}
		}
		if dst == nil {
			want := strings.Join(matchFields, ", ")
			if withSeverity {
				want += " or " + FieldSeverity
			}
			return Match{}, "", fmt.Errorf("rule %d: %s: not a field of a rule; use %s", i, k, want)
		}
		if !isString {
			return Match{}, "", fmt.Errorf("rule %d: %s: got %s, want a string", i, k, jsonType(v))
		}
		if err := checkField(k, s); err != nil {
			return Match{}, "", fmt.Errorf("rule %d: %s: %w", i, k, err)
		}
		*dst = s
	}
	if m == (Match{}) {
		return Match{}, "", fmt.Errorf("rule %d: no match field; set at least one of %s", i, strings.Join(matchFields, ", "))
	}
	if withSeverity && sev == "" {
		return Match{}, "", fmt.Errorf("rule %d: %s: missing; set %s, %s or %s", i, FieldSeverity, Info, Warning, Critical)
	}
	return m, sev, nil
}

// checkIgnore refuses an ignore rule whose every field is a bare '*': it would silence nearly
// every event, which no one means.
func checkIgnore(i int, m Match) error {
	for _, f := range []string{m.EventSource, m.EventName, m.PrincipalARN, m.Account, m.ErrorCode} {
		if f != "" && strings.Trim(f, "*") != "" {
			return nil
		}
	}
	return fmt.Errorf("rule %d: every field is only '*', which would ignore nearly every event; name what to ignore", i)
}

func checkField(name, v string) error {
	switch name {
	case FieldEventSource:
		if strings.HasPrefix(v, "aws.") {
			return fmt.Errorf("%q is an EventBridge source; use CloudTrail's eventSource, such as %q", v, strings.TrimPrefix(v, "aws.")+".amazonaws.com")
		}
		if !eventSourceRE.MatchString(v) {
			return fmt.Errorf("%q is not a CloudTrail event source; use one such as \"kms.amazonaws.com\" (exact, no '*')", v)
		}
	case FieldEventName:
		if !eventNameRE.MatchString(v) {
			return fmt.Errorf("%q is not an event name pattern; use letters and digits, '*' for any run, such as \"Describe*\"", v)
		}
	case FieldPrincipalARN:
		if len(v) > 2048 || !principalRE.MatchString(v) {
			return fmt.Errorf("%q is not a principal ARN pattern; use an ARN with '*' for any run, such as \"arn:aws:sts::*:assumed-role/Deployer/*\"", clip(v))
		}
	case FieldAccount:
		if !accountRE.MatchString(v) {
			return fmt.Errorf("%q is not an AWS account id; use its 12 digits, as a string", v)
		}
	case FieldErrorCode:
		if !errorCodeRE.MatchString(v) {
			return fmt.Errorf("%q is not an error code pattern; use one such as \"ThrottlingException\" or \"*NotFound*\"", v)
		}
	case FieldSeverity:
		if AtLeast(v) == nil {
			return fmt.Errorf("%q is not a severity; use %s, %s or %s", v, Info, Warning, Critical)
		}
	}
	return nil
}

func jsonType(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number, int:
		return fmt.Sprintf("the number %v", t)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// clip shortens a value quoted in an error to 80 bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	n := 80
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// Glob matches s against pattern, where '*' matches any run of characters (including none).
func Glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}
