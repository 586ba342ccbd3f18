package trailalert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// SNS limits (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
const (
	// MaxMessageBytes is SNS's limit on a message, counting the body and every attribute's name,
	// type and value. Message.Size counts the subject as well, to stay on the safe side.
	MaxMessageBytes = 262144
	// MaxSubjectChars: SNS wants subjects of printable ASCII "less than 100 characters long".
	MaxSubjectChars = 99
)

// Message attribute names set on every message (all of type String).
const (
	AttrEventSource = "event_source"
	AttrEventName   = "event_name"
	AttrSeverity    = alertrules.SeverityAttribute
	AttrAccount     = "account"
	AttrRegion      = "region"
)

// Caps on single fields of the body's summary, so the event JSON keeps most of the budget.
const (
	maxLineField  = 2048
	maxResources  = 50
	truncatedNote = "\n\n[TRUNCATED: the redacted event JSON is %d bytes; only the first %d are shown, to stay within SNS's 256 KB message limit. The full event is in CloudTrail (link above).]\n"
)

// Message is one rendered alert.
type Message struct {
	Subject string
	Body    string
	// Attributes are SNS message attributes of type String.
	Attributes map[string]string
	Severity   Severity
	Rule       string
	EventID    string
	// Truncated is set when the event JSON was cut to fit MaxMessageBytes.
	Truncated bool
	// Redacted counts the sensitive field values replaced by RedactedMarker.
	Redacted int
	// RedactedCopies counts the other strings in which copies of those values were replaced.
	RedactedCopies int
}

// Size is the message's size as SNS counts it (body and attributes), plus the subject.
func (m *Message) Size() int {
	n := len(m.Body) + len(m.Subject)
	for k, v := range m.Attributes {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// PublishInput is the SNS Publish request for the message.
func (m *Message) PublishInput(topicARN string) *sns.PublishInput {
	attrs := make(map[string]snstypes.MessageAttributeValue, len(m.Attributes))
	for k, v := range m.Attributes {
		attrs[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return &sns.PublishInput{
		TopicArn:          aws.String(topicARN),
		Subject:           aws.String(m.Subject),
		Message:           aws.String(m.Body),
		MessageAttributes: attrs,
	}
}

// Render builds the message for ev, classified as c, whose redacted JSON (compact, or already
// indented) is redacted. Every part of the message is read from ev: to keep redacted values out
// of the subject, attributes and summary, ev must be decoded from the redacted JSON, as
// Alerter.Alert does.
func Render(ev *Event, c Classification, redacted []byte, redactedCount int) *Message {
	return render(ev, c, redaction{out: redacted, fields: redactedCount})
}

func render(ev *Event, c Classification, red redaction) *Message {
	redacted := red.out
	rec := &ev.Record
	m := &Message{
		Subject:        subject(ev, c.Severity),
		Severity:       c.Severity,
		Rule:           c.Rule,
		EventID:        rec.EventID,
		Redacted:       red.fields,
		RedactedCopies: red.copies,
		Attributes: map[string]string{
			AttrEventSource: attrValue(rec.EventSource),
			AttrEventName:   attrValue(rec.EventName),
			AttrSeverity:    c.Severity.String(),
			AttrAccount:     attrValue(ev.Account()),
			AttrRegion:      attrValue(ev.Region()),
		},
	}
	var b strings.Builder
	summary(&b, ev, c, red)
	b.WriteString("\nEvent (sensitive fields redacted):\n")

	pretty := bytes.NewBuffer(redacted)
	if !bytes.Contains(redacted, []byte("\n")) {
		// Compact input (from Redactor.Redact): lay it out for a reader.
		var ind bytes.Buffer
		if json.Indent(&ind, redacted, "", "  ") == nil {
			pretty = &ind
		}
	}
	pretty.WriteByte('\n')

	m.Body = b.String()
	budget := MaxMessageBytes - m.Size()
	if pretty.Len() <= budget {
		m.Body += pretty.String()
		return m
	}
	// Cut the JSON, never the summary, and say so where the reader will see it.
	note := fmt.Sprintf(truncatedNote, pretty.Len(), 0)
	keep := budget - len(note) - 16 // room for the digits of the kept length
	if keep < 0 {
		keep = 0
	}
	keep = runeBoundary(pretty.Bytes(), keep)
	m.Body += string(pretty.Bytes()[:keep]) + fmt.Sprintf(truncatedNote, pretty.Len(), keep)
	m.Truncated = true
	return m
}

// summary writes the human-readable head of the body.
func summary(b *strings.Builder, ev *Event, c Classification, red redaction) {
	rec := &ev.Record
	for _, part := range []string{strings.ToUpper(c.Severity.String()), ": ", line(ev.Service()), " ",
		line(rec.EventName), " by ", line(who(ev)), " in account ", line(ev.Account()), " (", line(ev.Region()), ")\n\n"} {
		b.WriteString(part)
	}
	field := func(name, value string) { writeField(b, 12, name, value) }
	field("Who:", identity(&rec.UserIdentity))
	what := rec.EventName + " on " + rec.EventSource
	if kind := eventKind(rec); kind != "" {
		what += " (" + kind + ")"
	}
	field("What:", what)
	when := rec.EventTime // a redacted eventTime reads as RedactedMarker
	if !rec.Time.IsZero() {
		when = rec.Time.Format("2006-01-02 15:04:05 UTC")
	}
	field("When:", when)
	from := rec.SourceIPAddress
	if rec.UserAgent != "" {
		from = strings.TrimSpace(from + " using " + rec.UserAgent)
	}
	field("From:", from)
	if rec.TLSDetails != nil && rec.TLSDetails.TLSVersion != "" {
		field("TLS:", rec.TLSDetails.TLSVersion+" "+rec.TLSDetails.CipherSuite)
	}
	field("Region:", ev.Region())
	field("Account:", ev.Account())
	for i, r := range resources(ev) {
		name := ""
		if i == 0 {
			name = "Resources:"
		}
		if i == maxResources {
			field("", "... (more in the event JSON)")
			break
		}
		field(name, r)
	}
	field("Result:", result(rec))
	why := "no rule matched"
	if c.Rule != "" {
		why = c.Rule + ": " + c.Why
	}
	field("Severity:", c.Severity.String()+" ("+why+")")
	field("Console:", ConsoleURL(ev.Region(), rec.EventID))
	field("Event ID:", rec.EventID)
	field("Request ID:", rec.RequestID)
	if red.fields > 0 || red.copies > 0 {
		note := strconv.Itoa(red.fields) + " sensitive field value(s) replaced by " + RedactedMarker
		if red.copies > 0 {
			note += ", and copies of them in " + strconv.Itoa(red.copies) + " other value(s)"
		}
		field("Redacted:", note)
	}
}

// ConsoleURL links to the event in the CloudTrail console, or "" when region or id hold
// characters that do not belong in them (the link must not be steerable by event content).
func ConsoleURL(region, eventID string) string {
	if !token(region, "-") || !token(eventID, "-") {
		return ""
	}
	return "https://" + region + ".console.aws.amazon.com/cloudtrail/home?region=" + region + "#/events/" + eventID
}

func token(s, extra string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// who is the short principal name used in the subject.
func who(ev *Event) string {
	u := &ev.Record.UserIdentity
	switch u.Type {
	case "Root":
		return "root"
	case "IAMUser":
		return firstNonEmpty(u.UserName, arnTail(u.ARN), u.PrincipalID, "IAM user")
	case "AssumedRole":
		role := ""
		if u.SessionContext != nil {
			role = u.SessionContext.SessionIssuer.UserName
		}
		session := arnTail(u.ARN)
		switch {
		case role != "" && session != "" && session != role:
			return role + "/" + session
		case role != "":
			return role
		}
		return firstNonEmpty(session, u.PrincipalID, "assumed role")
	case "AWSService":
		return firstNonEmpty(u.InvokedBy, "AWS service")
	}
	if u.Type == "" && u.InvokedBy != "" {
		return u.InvokedBy
	}
	return firstNonEmpty(u.UserName, arnTail(u.ARN), u.InvokedBy, u.PrincipalID, u.Type, "unknown principal")
}

// identity is the full description of the caller for the body.
func identity(u *UserIdentity) string {
	var issuer, mfa string
	if sc := u.SessionContext; sc != nil {
		issuer = labelled("via ", sc.SessionIssuer.ARN)
		switch sc.Attributes.MFAAuthenticated {
		case "true":
			mfa = "MFA-authenticated session"
		case "false":
			mfa = "session without MFA"
		}
	}
	who := joinNonEmpty(u.Type, firstNonEmpty(u.ARN, u.UserName), labelled("invoked by ", u.InvokedBy),
		labelled("access key ", u.AccessKeyID), issuer, mfa)
	return firstNonEmpty(who, "unknown principal")
}

func eventKind(rec *Record) string {
	access := ""
	if rec.ReadOnly != nil {
		access = "write"
		if *rec.ReadOnly {
			access = "read-only"
		}
	}
	return joinNonEmpty(rec.EventType, rec.EventCategory, access)
}

// joinNonEmpty joins the values that are not empty with ", ".
func joinNonEmpty(vals ...string) string {
	var parts []string
	for _, v := range vals {
		if v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ", ")
}

// labelled is label+v, or "" when v is empty.
func labelled(label, v string) string {
	if v == "" {
		return ""
	}
	return label + v
}

// result describes the outcome: success, a failed sign-in, or the error code and message.
func result(rec *Record) string {
	if rec.EventName == "ConsoleLogin" {
		if r := signInResult(rec); r != "" {
			s := "console sign-in " + r
			if rec.ErrorMessage != "" {
				s += ": " + rec.ErrorMessage
			}
			if mfa := mfaUsed(rec); mfa != "" {
				s += " (MFA used: " + mfa + ")"
			}
			return s
		}
	}
	switch {
	case rec.ErrorCode != "" && rec.ErrorMessage != "":
		return "FAILED " + rec.ErrorCode + ": " + rec.ErrorMessage
	case rec.ErrorCode != "":
		return "FAILED " + rec.ErrorCode
	case rec.ErrorMessage != "":
		return "FAILED: " + rec.ErrorMessage
	}
	return "success"
}

func mfaUsed(rec *Record) string {
	var a struct {
		MFAUsed string `json:"MFAUsed"`
	}
	decodeObject(rec.AdditionalEventData, &a)
	return a.MFAUsed
}

// decodeObject decodes raw into v when raw is a JSON object and reports whether it is; anything
// else (absent, null, a string, an array) leaves v as it is. A member whose type does not fit its
// field in v is skipped and the others still decode: what the record holds beyond that is in the
// event JSON the body shows.
func decodeObject(raw json.RawMessage, v any) bool {
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	_ = json.Unmarshal(raw, v)
	return true
}

// resourceParams are the request parameters (and additional event data) that name the resource
// acted on, in the order the body lists them.
type resourceParams struct {
	ClusterID          string `json:"clusterId"`
	HsmID              string `json:"hsmId"`
	BackupID           string `json:"backupId"`
	KeyID              string `json:"keyId"`
	CustomKeyStoreID   string `json:"customKeyStoreId"`
	CustomKeyStoreName string `json:"customKeyStoreName"`
	SecretID           string `json:"secretId"`
	SecretIDAdditional string `json:"SecretId"`
	Name               string `json:"name"`
	TrailName          string `json:"trailName"`
	RoleName           string `json:"roleName"`
	UserName           string `json:"userName"`
	GroupName          string `json:"groupName"`
	PolicyArn          string `json:"policyArn"`
	PolicyName         string `json:"policyName"`
}

// list adds "name=value" for each parameter set, except values already listed as a resource ARN.
func (p *resourceParams) list(arns map[string]bool, add func(string)) {
	for _, kv := range [...]struct{ k, v string }{
		{"clusterId", p.ClusterID}, {"hsmId", p.HsmID}, {"backupId", p.BackupID}, {"keyId", p.KeyID},
		{"customKeyStoreId", p.CustomKeyStoreID}, {"customKeyStoreName", p.CustomKeyStoreName},
		{"secretId", p.SecretID}, {"SecretId", p.SecretIDAdditional}, {"name", p.Name}, {"trailName", p.TrailName},
		{"roleName", p.RoleName}, {"userName", p.UserName}, {"groupName", p.GroupName},
		{"policyArn", p.PolicyArn}, {"policyName", p.PolicyName},
	} {
		if kv.v != "" && !arns[kv.v] {
			add(kv.k + "=" + kv.v)
		}
	}
}

// resources lists the record's resources, then identifying request parameters and additional data.
func resources(ev *Event) []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	arns := map[string]bool{}
	for _, r := range ev.Record.Resources {
		arns[r.ARN] = true
		switch {
		case r.ARN == "":
		case r.Type != "":
			add(r.ARN + " (" + r.Type + ")")
		default:
			add(r.ARN)
		}
	}
	for _, doc := range []json.RawMessage{ev.Record.RequestParameters, ev.Record.AdditionalEventData} {
		// A parameter of another type (a nested object called name, say) is skipped: the others
		// still decode, and the full request is in the event JSON.
		var p resourceParams
		if decodeObject(doc, &p) {
			p.list(arns, add)
		}
	}
	if len(out) == 0 {
		for _, r := range ev.Envelope.Resources {
			if r != "" {
				add(r)
			}
		}
	}
	return out
}

// subject builds "[SEVERITY] service:Action[ failed: Code] by principal in account", at most
// MaxSubjectChars printable ASCII characters. The principal is shortened first, then the error.
func subject(ev *Event, sev Severity) string {
	rec := &ev.Record
	head := "[" + strings.ToUpper(sev.String()) + "] " + ascii(ev.Service()) + ":" + ascii(rec.EventName)
	outcome := ""
	switch {
	case rec.EventName == "ConsoleLogin" && signInResult(rec) == "Failure":
		outcome = " failed"
	case rec.ErrorCode != "":
		outcome = " failed: " + ascii(rec.ErrorCode)
	}
	principal := ascii(who(ev))
	tail := " in " + ascii(ev.Account())
	if over := len(head) + len(outcome) + len(" by ") + len(principal) + len(tail) - MaxSubjectChars; over > 0 && len(principal) > 12 {
		keep := max(len(principal)-over-3, 9)
		principal = principal[:keep] + "..."
	}
	s := head + outcome + " by " + principal + tail
	if len(s) > MaxSubjectChars {
		s = s[:MaxSubjectChars-3] + "..."
	}
	return s
}

// ascii maps s to printable ASCII: other runes (control characters, non-ASCII) become '?'.
func ascii(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// line makes an untrusted value safe for one line of the body: control characters and line
// separators become spaces (so no value can forge a line), and it is capped at maxLineField bytes.
func line(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		for _, r := range s {
			if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
				r = ' '
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	if len(s) > maxLineField {
		s = s[:runeBoundary([]byte(s), maxLineField)] + " ...[cut]"
	}
	return s
}

// attrValue keeps SNS attribute values non-empty (SNS refuses empty ones) and valid UTF-8.
func attrValue(s string) string {
	s = strings.ToValidUTF8(clip(s, 256), "?")
	if s == "" {
		return "unknown"
	}
	return s
}

// runeBoundary returns the largest n' <= n that does not split a UTF-8 sequence in b.
func runeBoundary(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// arnTail is the part of an ARN after its last '/' (a user, role session or resource name).
func arnTail(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 && i+1 < len(arn) {
		return arn[i+1:]
	}
	return ""
}

// writeField writes one "Name:   value" line of a message's summary, the name padded to width and
// the value on one line; an empty value writes nothing.
func writeField(b *strings.Builder, width int, name, value string) {
	if value == "" {
		return
	}
	b.WriteString(name)
	for i := len(name); i < width; i++ {
		b.WriteByte(' ')
	}
	b.WriteString(line(value))
	b.WriteByte('\n')
}
