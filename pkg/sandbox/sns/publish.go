package sns

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Publish limits, as SNS documents them.
const (
	maxMessageBytes     = 262144 // message plus message attributes
	maxSubjectLen       = 100
	maxMessageAttrs     = 10
	maxAttrNameLen      = 256
	defaultEmailSubject = "AWS Notification Message"
)

// MessageAttribute is one message attribute as published.
type MessageAttribute struct {
	DataType    string // String, Number, Binary or String.Array, optionally with a custom suffix
	StringValue string
	BinaryValue []byte
}

// Delivery is one message as delivered to one subscription: what tests and the demo read back.
type Delivery struct {
	MessageID       string
	TopicARN        string
	SubscriptionARN string
	Protocol        string // email, email-json, lambda, sqs, http, https, ...
	Endpoint        string // the e-mail address, function ARN, queue ARN or URL
	Subject         string // as published ("" when none)
	Message         string // the message for this protocol (MessageStructure json picks per protocol)
	Attributes      map[string]MessageAttribute
	// Body is what the endpoint receives: for email the text with SNS's unsubscribe footer; for
	// email-json, sqs and http(s) the JSON notification; for lambda the {"Records":[...]} event;
	// with RawMessageDelivery the message alone.
	Body string
	Time time.Time
	// DisplayName is the topic's DisplayName when the message was published: the sender name of
	// e-mail notifications.
	DisplayName string
}

// Email renders an e-mail delivery as the subscriber's mailbox shows it: sender, recipient,
// subject and body.
func (d Delivery) Email() string {
	from := d.DisplayName
	if from == "" {
		from = "AWS Notifications"
	}
	return fmt.Sprintf("From: %s <no-reply@sns.amazonaws.com>\nTo: %s\nDate: %s\nSubject: %s\n\n%s",
		from, d.Endpoint, d.Time.Format(time.RFC1123Z), d.EmailSubject(), d.Body)
}

// EmailSubject is the subject line an e-mail subscriber sees.
func (d Delivery) EmailSubject() string {
	if d.Subject == "" {
		return defaultEmailSubject
	}
	return d.Subject
}

// Deliveries returns every message delivered to the topic's subscriptions, in delivery order
// (every topic's when topicARN is ""). It is a Go API for tests and the demo, not on the wire.
func (s *Service) Deliveries(topicARN string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if topicARN != "" {
		return slices.Clone(s.deliveries[topicARN])
	}
	var all []Delivery
	for _, t := range s.topics {
		all = append(all, s.deliveries[t.arn]...)
	}
	return all
}

var attrNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// parseAttributes reads MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue /
// .Value.BinaryValue as SDKs send them, and validates them as SNS does.
func parseAttributes(p url.Values) (map[string]MessageAttribute, int, error) {
	idx := map[string]url.Values{}
	for k, vs := range p {
		rest, ok := strings.CutPrefix(k, "MessageAttributes.entry.")
		if !ok {
			continue
		}
		n, field, _ := strings.Cut(rest, ".")
		if idx[n] == nil {
			idx[n] = url.Values{}
		}
		idx[n][field] = vs
	}
	if len(idx) > maxMessageAttrs {
		return nil, 0, core.Errorf("InvalidParameter", "Invalid parameter: MessageAttributes: Number of message attributes [%d] exceeds the allowed maximum [%d].", len(idx), maxMessageAttrs)
	}
	attrs := map[string]MessageAttribute{}
	size := 0
	for _, e := range idx {
		name := e.Get("Name")
		dt := e.Get("Value.DataType")
		lower := strings.ToLower(name)
		switch {
		case name == "" || len(name) > maxAttrNameLen || !attrNameRe.MatchString(name) || strings.HasPrefix(name, ".") ||
			strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
			return nil, 0, paramValue("Message attribute name '%s' is invalid: use 1 to 256 letters, digits, '_', '-' and '.', not starting or ending with '.' and without '..'.", name)
		case strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon."):
			return nil, 0, paramValue("Message attribute name '%s' uses a reserved prefix (AWS. or Amazon.).", name)
		case dt == "":
			return nil, 0, paramValue("The message attribute '%s' must contain non-empty message attribute type.", name)
		}
		if _, dup := attrs[name]; dup {
			return nil, 0, paramValue("Message attribute name '%s' is given more than once.", name)
		}
		a := MessageAttribute{DataType: dt, StringValue: e.Get("Value.StringValue")}
		base, _, _ := strings.Cut(dt, ".")
		switch {
		case dt == "String.Array":
			var arr []any
			if err := json.Unmarshal([]byte(a.StringValue), &arr); err != nil {
				return nil, 0, paramValue("The message attribute '%s' with type 'String.Array' must be a JSON array of strings, numbers, true, false or null.", name)
			}
			for _, el := range arr {
				switch el.(type) {
				case string, float64, bool, nil:
				default:
					return nil, 0, paramValue("The message attribute '%s' with type 'String.Array' must not contain objects or arrays.", name)
				}
			}
		case base == "String":
			if a.StringValue == "" {
				return nil, 0, paramValue("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'String'.", name)
			}
		case base == "Number":
			if _, err := parseNumber(a.StringValue); err != nil {
				return nil, 0, paramValue("The message attribute '%s' with type 'Number' has an invalid value: %v.", name, err)
			}
		case base == "Binary":
			raw := e.Get("Value.BinaryValue")
			b, err := base64.StdEncoding.DecodeString(raw)
			if err != nil || raw == "" {
				return nil, 0, paramValue("The message attribute '%s' with type 'Binary' must contain a non-empty base64 BinaryValue.", name)
			}
			a.BinaryValue, a.StringValue = b, ""
		default:
			return nil, 0, paramValue("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
		}
		attrs[name] = a
		size += len(name) + len(dt) + len(a.StringValue) + len(a.BinaryValue)
	}
	return attrs, size, nil
}

func paramValue(format string, args ...any) error {
	return core.Errorf("ParameterValueInvalid", format, args...)
}

// parseNumber accepts what SNS accepts for Number attributes: a finite decimal within
// ±1,000,000,000 with at most five digits after the point.
func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if math.Abs(f) > 1e9 {
		return 0, fmt.Errorf("%q is outside -1,000,000,000 to 1,000,000,000", s)
	}
	if _, frac, ok := strings.Cut(s, "."); ok && len(strings.TrimRight(frac, "0")) > 5 && !strings.ContainsAny(frac, "eE") {
		return 0, fmt.Errorf("%q has more than five digits after the decimal point", s)
	}
	return f, nil
}

// checkSubject applies SNS's subject rules: ASCII text that begins with a letter, number or
// punctuation mark, no line breaks or control characters, at most 100 characters.
func checkSubject(subj string) error {
	if subj == "" || len(subj) > maxSubjectLen {
		return core.Errorf("InvalidParameter", "Invalid parameter: Subject: must be 1 to %d characters; got %d.", maxSubjectLen, len(subj))
	}
	for i, r := range subj {
		if r < 0x20 || r > 0x7e {
			return core.Errorf("InvalidParameter", "Invalid parameter: Subject: must be printable ASCII without line breaks or control characters (character %d is %q).", i, r)
		}
	}
	if subj[0] == ' ' {
		return core.Errorf("InvalidParameter", "Invalid parameter: Subject: must begin with a letter, number or punctuation mark.")
	}
	return nil
}

type publishOutput struct {
	MessageID      string `xml:"MessageId"`
	SequenceNumber string `xml:"SequenceNumber,omitempty"`
}

func (s *Service) publish(_ context.Context, p url.Values) (any, error) {
	topicARN := p.Get("TopicArn")
	if topicARN == "" {
		topicARN = p.Get("TargetArn")
	}
	if topicARN == "" {
		if p.Get("PhoneNumber") != "" {
			return nil, core.Errorf("InvalidParameter", "Invalid parameter: PhoneNumber: SMS is not emulated by the sandbox; publish to a topic.")
		}
		return nil, core.Errorf("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	msg := p.Get("Message")
	if msg == "" {
		return nil, core.Errorf("InvalidParameter", "Invalid parameter: Empty message")
	}
	subject, hasSubject := p.Get("Subject"), p.Has("Subject")
	if hasSubject {
		if err := checkSubject(subject); err != nil {
			return nil, err
		}
	}
	attrs, attrBytes, err := parseAttributes(p)
	if err != nil {
		return nil, err
	}
	if len(msg)+attrBytes > maxMessageBytes {
		return nil, core.Errorf("InvalidParameter", "Invalid parameter: Message too long")
	}
	var perProtocol map[string]any
	if st := p.Get("MessageStructure"); st != "" {
		if st != "json" {
			return nil, core.Errorf("InvalidParameter", "Invalid parameter: MessageStructure: the only valid value is json")
		}
		if err := json.Unmarshal([]byte(msg), &perProtocol); err != nil {
			return nil, core.Errorf("InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse")
		}
		if _, ok := perProtocol["default"].(string); !ok {
			return nil, core.Errorf("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body")
		}
	}
	return core.Locked(&s.mu, s.findTopic, topicARN, func(t *topic) (any, error) {
		out := publishOutput{MessageID: core.NewUUID()}
		if t.attrs["FifoTopic"] == "true" {
			if p.Get("MessageGroupId") == "" {
				return nil, core.Errorf("InvalidParameter", "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
			}
			if p.Get("MessageDeduplicationId") == "" && t.attrs["ContentBasedDeduplication"] != "true" {
				return nil, core.Errorf("InvalidParameter", "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
			}
			out.SequenceNumber = fmt.Sprintf("%020d", s.clock.Now().UnixNano())
		}
		now := s.clock.Now().UTC()
		for _, sub := range s.subs {
			if sub.topicARN != t.arn {
				continue
			}
			m := msg
			if perProtocol != nil {
				m = perProtocol["default"].(string)
				if v, ok := perProtocol[sub.protocol].(string); ok {
					m = v
				}
			}
			if sub.filter != nil {
				get := attributeLookup(attrs)
				if sub.attrs["FilterPolicyScope"] == "MessageBody" {
					get = bodyLookup(m)
				}
				if !sub.filter.matches(get) {
					continue
				}
			}
			d := Delivery{
				MessageID: out.MessageID, TopicARN: t.arn, SubscriptionARN: sub.arn, Protocol: sub.protocol, Endpoint: sub.endpoint,
				Subject: subject, Message: m, Attributes: attrs, Time: now, DisplayName: t.attrs["DisplayName"],
			}
			d.Body = s.render(d, sub.attrs["RawMessageDelivery"] == "true")
			s.deliveries[t.arn] = append(s.deliveries[t.arn], d)
		}
		return out, nil
	})
}

type attrJSON struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

type notification struct {
	Type              string              `json:"Type"`
	MessageID         string              `json:"MessageId"`
	TopicArn          string              `json:"TopicArn"`
	Subject           *string             `json:"Subject"`
	Message           string              `json:"Message"`
	Timestamp         string              `json:"Timestamp"`
	SignatureVersion  string              `json:"SignatureVersion"`
	Signature         string              `json:"Signature"`
	SigningCertURL    string              `json:"SigningCertURL"`
	UnsubscribeURL    string              `json:"UnsubscribeURL"`
	MessageAttributes map[string]attrJSON `json:"MessageAttributes,omitempty"`
}

// render produces what the endpoint receives. The signature is a placeholder: the sandbox does
// not sign notifications.
func (s *Service) render(d Delivery, raw bool) string {
	unsub := fmt.Sprintf("https://sns.%s.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=%s", s.Region(), d.SubscriptionARN)
	if d.Protocol == "email" {
		return d.Message + "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n" +
			unsub + "\n\nPlease do not reply directly to this email. If you have any questions or comments regarding this email, please contact us at https://aws.amazon.com/support\n"
	}
	if raw {
		return d.Message
	}
	n := notification{
		Type: "Notification", MessageID: d.MessageID, TopicArn: d.TopicARN, Message: d.Message,
		Timestamp: d.Time.Format("2006-01-02T15:04:05.000Z"), SignatureVersion: "1",
		Signature:      base64.StdEncoding.EncodeToString([]byte("sandbox-unsigned")),
		SigningCertURL: fmt.Sprintf("https://sns.%s.amazonaws.com/SimpleNotificationService-sandbox.pem", s.Region()),
		UnsubscribeURL: unsub,
	}
	if d.Subject != "" {
		subj := d.Subject
		n.Subject = &subj
	}
	if len(d.Attributes) > 0 && d.Protocol != "email-json" {
		n.MessageAttributes = map[string]attrJSON{}
		for k, a := range d.Attributes {
			v := a.StringValue
			if a.BinaryValue != nil {
				v = base64.StdEncoding.EncodeToString(a.BinaryValue)
			}
			n.MessageAttributes[k] = attrJSON{a.DataType, v}
		}
	}
	if d.Protocol == "lambda" {
		rec := map[string]any{"Records": []any{map[string]any{
			"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": d.SubscriptionARN, "Sns": n,
		}}}
		b, _ := json.Marshal(rec)
		return string(b)
	}
	b, _ := json.Marshal(n)
	return string(b)
}

// Publish publishes message (with subject, unless "", and MessageStructure structure, unless "")
// to the topic as another emulated service does on its own behalf (CloudWatch's alarm actions):
// the wire Publish's checks and deliveries, with no IAM judgement (the caller judges it first). It
// returns the message id.
func (s *Service) Publish(ctx context.Context, topicARN, subject, message, structure string) (string, error) {
	p := url.Values{"TopicArn": {topicARN}, "Message": {message}}
	if subject != "" {
		p.Set("Subject", subject)
	}
	if structure != "" {
		p.Set("MessageStructure", structure)
	}
	out, err := s.publish(ctx, p)
	if err != nil {
		return "", err
	}
	return out.(publishOutput).MessageID, nil
}
