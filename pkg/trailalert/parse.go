package trailalert

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// EventBridge detail-types of the CloudTrail events this package accepts.
const (
	DetailTypeAPICall       = "AWS API Call via CloudTrail"
	DetailTypeConsoleSignIn = "AWS Console Sign In via CloudTrail"
	// DetailTypeServiceEvent carries non-API events such as Secrets Manager's RotationFailed.
	DetailTypeServiceEvent = "AWS Service Event via CloudTrail"
)

// Sentinel errors for input that cannot be relayed. Callers branch with errors.Is.
var (
	// ErrMalformed: the input is not valid JSON (for example truncated).
	ErrMalformed = errors.New("trailalert: event is not valid JSON")
	// ErrNotCloudTrail: valid JSON, but not an EventBridge event carrying a CloudTrail record.
	ErrNotCloudTrail = errors.New("trailalert: not a CloudTrail event delivered by EventBridge")
	// ErrMissingField: a field every CloudTrail event has is absent or empty.
	ErrMissingField = errors.New("trailalert: required field missing")
	// ErrInvalidField: a field has the wrong JSON type or an unparseable value.
	ErrInvalidField = errors.New("trailalert: field has an invalid value")
)

// Event is a parsed CloudTrail event with its EventBridge envelope. The envelope's detail is
// decoded into Record (Envelope.Detail stays nil). Raw keeps the bytes the Event was decoded
// from: Parse's Event holds the input as received, nothing redacted; the Event a message is
// rendered from is decoded from the redacted document (see Alerter.Alert).
type Event struct {
	Envelope events.CloudWatchEvent
	Record   Record
	Raw      []byte
}

// Record is the CloudTrail record in the envelope's detail (the fields this package reads; see
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
type Record struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        UserIdentity    `json:"userIdentity"`
	EventTime           string          `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	ErrorCode           string          `json:"errorCode"`
	ErrorMessage        string          `json:"errorMessage"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData"`
	RequestID           string          `json:"requestID"`
	EventID             string          `json:"eventID"`
	ReadOnly            *bool           `json:"readOnly"`
	Resources           []Resource      `json:"resources"`
	EventType           string          `json:"eventType"`
	ManagementEvent     *bool           `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	EventCategory       string          `json:"eventCategory"`
	TLSDetails          *TLSDetails     `json:"tlsDetails"`

	// Parsed from the fields above by Parse.
	Time time.Time `json:"-"`
}

// UserIdentity says who made the request.
type UserIdentity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId"`
	ARN            string          `json:"arn"`
	AccountID      string          `json:"accountId"`
	AccessKeyID    string          `json:"accessKeyId"`
	UserName       string          `json:"userName"`
	InvokedBy      string          `json:"invokedBy"`
	SessionContext *SessionContext `json:"sessionContext"`
}

// SessionContext describes temporary credentials (assumed roles, federation).
type SessionContext struct {
	SessionIssuer struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"sessionIssuer"`
	Attributes struct {
		CreationDate     string `json:"creationDate"`
		MFAAuthenticated string `json:"mfaAuthenticated"`
	} `json:"attributes"`
}

// Resource is an entry of the record's resources list.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}

// TLSDetails is the TLS session of the request.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion"`
	CipherSuite              string `json:"cipherSuite"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
}

// Account is the account the event happened in: the envelope's, else the record's recipient.
func (e *Event) Account() string {
	return firstNonEmpty(e.Envelope.AccountID, e.Record.RecipientAccountID, e.Record.UserIdentity.AccountID)
}

// Region is the region the call was made in: the record's awsRegion, else the envelope's.
func (e *Event) Region() string { return firstNonEmpty(e.Record.AWSRegion, e.Envelope.Region) }

// Service is the event source without ".amazonaws.com", for example "kms".
func (e *Event) Service() string { return strings.TrimSuffix(e.Record.EventSource, ".amazonaws.com") }

// Parse decodes an EventBridge-delivered CloudTrail event. Errors wrap ErrMalformed,
// ErrNotCloudTrail, ErrMissingField or ErrInvalidField and name the field; they never quote values.
func Parse(raw []byte) (*Event, error) {
	// One decoding pass over the whole input: the envelope's detail decodes straight into Record.
	var w struct {
		events.CloudWatchEvent
		Detail *Record `json:"detail"` // shadows CloudWatchEvent.Detail
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		// A detail of some other event type can clash with Record's field types: name the real
		// problem (not CloudTrail) before the clash.
		var dt struct {
			DetailType string `json:"detail-type"`
		}
		if json.Unmarshal(raw, &dt) == nil && dt.DetailType != "" && !knownDetailType(dt.DetailType) {
			return nil, notCloudTrail(dt.DetailType)
		}
		return nil, decodeError(err)
	}
	ev := &Event{Envelope: w.CloudWatchEvent, Raw: raw}
	if !knownDetailType(ev.Envelope.DetailType) {
		return nil, notCloudTrail(ev.Envelope.DetailType)
	}
	if ev.Envelope.Source == "" {
		return nil, fmt.Errorf("%w: source", ErrMissingField)
	}
	if w.Detail == nil {
		return nil, fmt.Errorf("%w: detail", ErrMissingField)
	}
	ev.Record = *w.Detail
	r := &ev.Record
	for _, f := range []struct{ name, value string }{
		{"detail.eventSource", r.EventSource},
		{"detail.eventName", r.EventName},
		{"detail.eventID", r.EventID},
		{"detail.eventTime", r.EventTime},
	} {
		if f.value == "" {
			return nil, fmt.Errorf("%w: %s", ErrMissingField, f.name)
		}
	}
	t, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil {
		return nil, fmt.Errorf("%w: detail.eventTime is not an RFC 3339 time", ErrInvalidField)
	}
	r.Time = t.UTC()
	if ev.Account() == "" {
		return nil, fmt.Errorf("%w: account (neither account nor detail.recipientAccountId is set)", ErrMissingField)
	}
	if ev.Region() == "" {
		return nil, fmt.Errorf("%w: region (neither detail.awsRegion nor region is set)", ErrMissingField)
	}
	return ev, nil
}

// redactedEvent decodes the redacted document of an event Parse accepted, for rendering. It never
// fails: a field the redaction turned into a string of RedactedMarker (an object, a list, a
// boolean, a time) is left empty, and the fields around it still decode, because json.Unmarshal
// carries on past a type mismatch. The envelope's time is not decoded (nothing renders it, and a
// redacted one would stop the decoding); the record's Time is set when eventTime still parses.
func redactedEvent(doc []byte) *Event {
	var w struct {
		events.CloudWatchEvent
		Time   json.RawMessage `json:"time"`   // shadows CloudWatchEvent.Time
		Detail *Record         `json:"detail"` // shadows CloudWatchEvent.Detail
	}
	_ = json.Unmarshal(doc, &w) // best effort, as above
	ev := &Event{Envelope: w.CloudWatchEvent, Raw: doc}
	if w.Detail != nil {
		ev.Record = *w.Detail
	}
	if t, err := time.Parse(time.RFC3339, ev.Record.EventTime); err == nil {
		ev.Record.Time = t.UTC()
	}
	return ev
}

func knownDetailType(dt string) bool {
	return dt == DetailTypeAPICall || dt == DetailTypeConsoleSignIn || dt == DetailTypeServiceEvent
}

func notCloudTrail(detailType string) error {
	if detailType == "" {
		return fmt.Errorf("%w: detail-type is missing", ErrNotCloudTrail)
	}
	return fmt.Errorf("%w: detail-type %q is not one of %q, %q, %q", ErrNotCloudTrail,
		clip(detailType, 64), DetailTypeAPICall, DetailTypeConsoleSignIn, DetailTypeServiceEvent)
}

// decodeError maps a json error to a sentinel, naming the field but not the offending value.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "unexpected end"):
		return fmt.Errorf("%w: unexpected end of input at byte %d (truncated?)", ErrMalformed, syn.Offset)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: syntax error at byte %d", ErrMalformed, syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("%w: the event must be a JSON object, not %s", ErrNotCloudTrail, typ.Value)
	case errors.As(err, &typ) && typ.Field == "detail":
		return fmt.Errorf("%w: detail must be a JSON object (the CloudTrail record), not %s", ErrInvalidField, typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("%w: %s has JSON type %s, want %s", ErrInvalidField, typ.Field, typ.Value, typ.Type)
	case errors.As(err, &tim):
		return fmt.Errorf("%w: time is not an RFC 3339 time", ErrInvalidField)
	default:
		return fmt.Errorf("%w: the event could not be decoded", ErrMalformed)
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// clip shortens s to at most n bytes on a rune boundary, for quoting untrusted names in errors.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
