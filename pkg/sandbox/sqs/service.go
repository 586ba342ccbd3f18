package sqs

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Limits and defaults from the Amazon SQS API Reference (CreateQueue, ReceiveMessage).
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultRetention         = 345600 * time.Second
	DefaultMaximumSize       = 1048576
	MaxReceive               = 10
	// MaxWallWait bounds a long poll in wall time (see the package doc).
	MaxWallWait = 2 * time.Second
)

// Service is the emulated SQS.
type Service struct {
	core.JSONProtocol
	clock core.Clock
	core.Place
	// baseURL is the sandbox's URL, which queue URLs start with.
	baseURL func() string

	mu     sync.Mutex
	queues map[string]*queue // by name
}

type queue struct {
	name              string
	created, modified time.Time
	attrs             map[string]string // the settable attributes given
	tags              map[string]string
	messages          []*message
	// arrived is closed and replaced when a message is sent, waking long polls.
	arrived chan struct{}
}

type message struct {
	id, body, md5Body, md5Attrs, sender string
	attrs                               map[string]AttributeValue
	sent, visibleAt, firstReceive       time.Time
	receives                            int
	// receipt is the handle of the latest receive; a handle of an earlier one still deletes.
	receipt string
}

// AttributeValue is a message attribute as SendMessage takes it.
type AttributeValue struct {
	DataType    string
	StringValue *string `json:",omitempty"`
	BinaryValue []byte  `json:",omitempty"`
}

// Option configures a Service.
type Option func(*Service)

// WithRegion and WithAccount set where the queues are.
var (
	WithRegion  = core.WithRegion[Service]
	WithAccount = core.WithAccount[Service]
)

// New returns SQS with no queues; baseURL gives the sandbox's URL for queue URLs (nil or "" for
// SQS's own endpoint, https://sqs.<region>.amazonaws.com).
func New(clock core.Clock, baseURL func() string, opts ...Option) *Service {
	s := &Service{JSONProtocol: identity, clock: clock, Place: core.DefaultPlace, baseURL: baseURL, queues: map[string]*queue{}}
	return core.Configure(s, opts)
}

var identity = core.NewJSONProtocol("sqs", "AmazonSQS", "1.0")

var (
	_ core.JSONService     = (*Service)(nil)
	_ core.QueryCompatible = (*Service)(nil)
)

// queryCodes are the awsQueryError codes of the error shapes that have one (aws-sdk-go-v2
// service/sqs schemas); AccessDenied is the sandbox's enforcement's (Sandbox.EnforceIAM).
var queryCodes = map[string]string{
	"QueueDoesNotExist":    "AWS.SimpleQueueService.NonExistentQueue",
	"QueueNameExists":      "QueueAlreadyExists",
	"MessageNotInflight":   "AWS.SimpleQueueService.MessageNotInflight",
	"PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
	"UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
	"KmsAccessDenied":      "KMS.AccessDeniedException",
}

// QueryErrorCode implements core.QueryCompatible.
func (s *Service) QueryErrorCode(code string) string {
	if q, ok := queryCodes[code]; ok {
		return q
	}
	return code
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateQueue":             core.Handler(s.createQueue),
		"GetQueueUrl":             core.Handler(s.getQueueURL),
		"GetQueueAttributes":      core.Handler(s.getQueueAttributes),
		"SetQueueAttributes":      core.Handler(s.setQueueAttributes),
		"ListQueues":              core.Handler(s.listQueues),
		"DeleteQueue":             core.Handler(s.deleteQueue),
		"SendMessage":             core.Handler(s.sendMessage),
		"ReceiveMessage":          core.Handler(s.receiveMessage),
		"DeleteMessage":           core.Handler(s.deleteMessage),
		"ChangeMessageVisibility": core.Handler(s.changeVisibility),
		"PurgeQueue":              core.Handler(s.purgeQueue),
	}
}

func errNoQueue() *core.Error {
	return core.Errorf("QueueDoesNotExist", "The specified queue does not exist.")
}

// ARN returns the ARN of the queue name.
func (s *Service) ARN(name string) string {
	return "arn:aws:sqs:" + s.Region() + ":" + s.Account() + ":" + name
}

// URL returns the URL of the queue name.
func (s *Service) URL(name string) string {
	base := ""
	if s.baseURL != nil {
		base = s.baseURL()
	}
	if base == "" {
		base = "https://sqs." + s.Region() + ".amazonaws.com"
	}
	return strings.TrimSuffix(base, "/") + "/" + s.Account() + "/" + name
}

// NameOf returns the queue name a queue URL or ARN of this account names, "" for none.
func (s *Service) NameOf(ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.Split(ref, ":")
		if len(parts) == 6 && parts[2] == "sqs" && parts[4] == s.Account() {
			return parts[5]
		}
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 || segs[len(segs)-2] != s.Account() {
		return ""
	}
	return segs[len(segs)-1]
}

// find returns the queue a URL names; s.mu is held.
func (s *Service) find(queueURL string) (*queue, error) {
	if queueURL == "" {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter QueueUrl.")
	}
	q, ok := s.queues[s.NameOf(queueURL)]
	if !ok {
		return nil, errNoQueue()
	}
	return q, nil
}

// Attribute returns attribute name of the queue a URL or ARN names ("" for none): a settable one
// as set, or QueueArn.
func (s *Service) Attribute(ref, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[s.NameOf(ref)]
	if !ok {
		return ""
	}
	if name == "QueueArn" {
		return s.ARN(q.name)
	}
	return q.attrs[name]
}

var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// settable are the attributes CreateQueue and SetQueueAttributes take, each with its check; the
// FIFO ones are refused (standard queues only).
var settable = map[string]func(string) bool{
	"DelaySeconds":                  intIn(0, 900),
	"MaximumMessageSize":            intIn(1024, DefaultMaximumSize),
	"MessageRetentionPeriod":        intIn(60, 1209600),
	"ReceiveMessageWaitTimeSeconds": intIn(0, 20),
	"VisibilityTimeout":             intIn(0, 43200),
	"KmsDataKeyReusePeriodSeconds":  intIn(60, 86400),
	"KmsMasterKeyId":                func(v string) bool { return v != "" },
	"SqsManagedSseEnabled":          func(v string) bool { return v == "true" || v == "false" },
	"Policy":                        func(v string) bool { return json.Valid([]byte(v)) },
	"RedrivePolicy":                 func(v string) bool { return json.Valid([]byte(v)) },
	"RedriveAllowPolicy":            func(v string) bool { return json.Valid([]byte(v)) },
}

func intIn(lo, hi int) func(string) bool {
	return func(v string) bool {
		n, err := strconv.Atoi(v)
		return err == nil && n >= lo && n <= hi
	}
}

func checkAttributes(attrs map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		check, ok := settable[k]
		if !ok {
			return core.Errorf("InvalidAttributeName", "Unknown Attribute %s.", k)
		}
		if !check(attrs[k]) {
			return core.Errorf("InvalidAttributeValue", "Invalid value for the parameter %s.", k)
		}
	}
	return nil
}

type createQueueInput struct {
	QueueName  string
	Attributes map[string]string
	Tags       map[string]string `json:"tags"`
}

func (s *Service) createQueue(_ context.Context, in createQueueInput) (any, error) {
	switch {
	case strings.HasSuffix(in.QueueName, ".fifo") || in.Attributes["FifoQueue"] != "":
		return nil, core.Errorf("UnsupportedOperation", "The Strongroom sandbox emulates standard queues only: FIFO queue %s is not supported.", in.QueueName)
	case !queueName.MatchString(in.QueueName):
		return nil, core.Errorf("InvalidParameterValue", "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if err := checkAttributes(in.Attributes); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[in.QueueName]; ok {
		for k, v := range in.Attributes {
			if q.attrs[k] != v {
				return nil, core.Errorf("QueueNameExists", "A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return map[string]string{"QueueUrl": s.URL(q.name)}, nil
	}
	now := s.clock.Now()
	q := &queue{name: in.QueueName, created: now, modified: now, attrs: map[string]string{}, tags: map[string]string{}, arrived: make(chan struct{})}
	maps.Copy(q.attrs, in.Attributes)
	maps.Copy(q.tags, in.Tags)
	s.queues[q.name] = q
	return map[string]string{"QueueUrl": s.URL(q.name)}, nil
}

func (s *Service) getQueueURL(_ context.Context, in struct {
	QueueName              string
	QueueOwnerAWSAccountId string
}) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[in.QueueName]; !ok || (in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != s.Account()) {
		return nil, errNoQueue()
	}
	return map[string]string{"QueueUrl": s.URL(in.QueueName)}, nil
}

type queueURLInput struct{ QueueUrl string }

// computed are the read-only attributes GetQueueAttributes returns.
var computed = []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
	"CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"}

// attributes returns every attribute of q: the settable ones with their defaults, and the computed
// ones; s.mu is held.
func (s *Service) attributes(q *queue) map[string]string {
	now := s.clock.Now()
	s.expire(q, now)
	out := map[string]string{
		"DelaySeconds": "0", "MaximumMessageSize": strconv.Itoa(DefaultMaximumSize),
		"MessageRetentionPeriod": strconv.Itoa(int(DefaultRetention / time.Second)), "ReceiveMessageWaitTimeSeconds": "0",
		"VisibilityTimeout": strconv.Itoa(int(DefaultVisibilityTimeout / time.Second)), "SqsManagedSseEnabled": "true",
	}
	if q.attrs["KmsMasterKeyId"] != "" {
		out["SqsManagedSseEnabled"], out["KmsDataKeyReusePeriodSeconds"] = "false", "300"
	}
	maps.Copy(out, q.attrs)
	visible, inflight, delayed := 0, 0, 0
	for _, m := range q.messages {
		switch {
		case m.receives == 0 && m.visibleAt.After(now):
			delayed++
		case m.visibleAt.After(now):
			inflight++
		default:
			visible++
		}
	}
	out["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
	out["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inflight)
	out["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
	out["CreatedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
	out["LastModifiedTimestamp"] = strconv.FormatInt(q.modified.Unix(), 10)
	out["QueueArn"] = s.ARN(q.name)
	return out
}

func (s *Service) getQueueAttributes(_ context.Context, in struct {
	QueueUrl       string
	AttributeNames []string
}) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.find(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	all := s.attributes(q)
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if _, ok := settable[n]; !ok && !slices.Contains(computed, n) {
			return nil, core.Errorf("InvalidAttributeName", "Unknown Attribute %s.", n)
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"Attributes": out}, nil
}

func (s *Service) setQueueAttributes(_ context.Context, in struct {
	QueueUrl   string
	Attributes map[string]string
}) (any, error) {
	if err := checkAttributes(in.Attributes); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.find(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	for k, v := range in.Attributes {
		q.attrs[k] = v
	}
	q.modified = s.clock.Now()
	return struct{}{}, nil
}

func (s *Service) listQueues(_ context.Context, in struct {
	QueueNamePrefix string
	MaxResults      *int
	NextToken       string
}) (any, error) {
	s.mu.Lock()
	var urls []string
	for _, n := range slices.Sorted(maps.Keys(s.queues)) {
		if strings.HasPrefix(n, in.QueueNamePrefix) {
			urls = append(urls, s.URL(n))
		}
	}
	s.mu.Unlock()
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(urls) {
			return nil, core.Errorf("InvalidParameterValue", "Invalid NextToken value.")
		}
		start = n
	}
	end := len(urls)
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, core.Errorf("InvalidParameterValue", "Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.")
		}
		end = min(end, start+*in.MaxResults)
	}
	out := map[string]any{}
	if end > start {
		out["QueueUrls"] = urls[start:end]
	}
	if in.MaxResults != nil && end < len(urls) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Service) deleteQueue(_ context.Context, in queueURLInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.find(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	delete(s.queues, q.name)
	close(q.arrived) // wake long polls, which then find no queue
	return struct{}{}, nil
}

type sendMessageInput struct {
	QueueUrl          string
	MessageBody       string
	DelaySeconds      *int
	MessageAttributes map[string]AttributeValue
}

func (s *Service) sendMessage(_ context.Context, in sendMessageInput) (any, error) {
	m, err := s.send(in.QueueUrl, in.MessageBody, in.DelaySeconds, in.MessageAttributes, s.Account())
	if err != nil {
		return nil, err
	}
	out := map[string]string{"MessageId": m.id, "MD5OfMessageBody": m.md5Body}
	if m.md5Attrs != "" {
		out["MD5OfMessageAttributes"] = m.md5Attrs
	}
	return out, nil
}

// Send puts a message on the queue a URL or ARN names, as sender (a principal's id or a service
// principal), as an AWS service sends one (EventBridge's dead letters). It returns the message id.
func (s *Service) Send(ref, body string, attrs map[string]AttributeValue, sender string) (string, error) {
	if strings.HasPrefix(ref, "arn:") {
		if name := s.NameOf(ref); name != "" {
			ref = s.URL(name)
		}
	}
	m, err := s.send(ref, body, nil, attrs, sender)
	if err != nil {
		return "", err
	}
	return m.id, nil
}

var attrName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)

func (s *Service) send(queueURL, body string, delay *int, attrs map[string]AttributeValue, sender string) (*message, error) {
	if body == "" {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter MessageBody.")
	}
	if !validBody(body) {
		return nil, core.Errorf("InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
	}
	if len(attrs) > 10 {
		return nil, core.Errorf("InvalidParameterValue", "Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	size := len(body)
	for n, v := range attrs {
		lower := strings.ToLower(n)
		if !attrName.MatchString(n) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") || strings.HasPrefix(n, ".") ||
			strings.HasSuffix(n, ".") || strings.Contains(n, "..") {
			return nil, core.Errorf("InvalidParameterValue", "Message attribute name '%s' is invalid.", n)
		}
		switch transportType(v.DataType) {
		case 1:
			if v.StringValue == nil {
				return nil, core.Errorf("InvalidParameterValue", "Message attribute '%s' must contain a non-empty value of type '%s'.", n, v.DataType)
			}
			size += len(*v.StringValue)
		case 2:
			if len(v.BinaryValue) == 0 {
				return nil, core.Errorf("InvalidParameterValue", "Message attribute '%s' must contain a non-empty value of type 'Binary'.", n)
			}
			size += len(v.BinaryValue)
		default:
			return nil, core.Errorf("InvalidParameterValue", "The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", n)
		}
		size += len(n) + len(v.DataType)
	}
	if delay != nil && (*delay < 0 || *delay > 900) {
		return nil, core.Errorf("InvalidParameterValue", "Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *delay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.find(queueURL)
	if err != nil {
		return nil, err
	}
	all := s.attributes(q)
	if maxSize, _ := strconv.Atoi(all["MaximumMessageSize"]); size > maxSize {
		return nil, core.Errorf("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxSize)
	}
	d := 0
	if delay != nil {
		d = *delay
	} else {
		d, _ = strconv.Atoi(all["DelaySeconds"])
	}
	now := s.clock.Now()
	m := &message{id: core.NewUUID(), body: body, md5Body: md5Hex([]byte(body)), md5Attrs: attributesMD5(attrs), sender: sender,
		attrs: attrs, sent: now, visibleAt: now.Add(time.Duration(d) * time.Second)}
	q.messages = append(q.messages, m)
	close(q.arrived)
	q.arrived = make(chan struct{})
	return m, nil
}

// validBody reports whether every character is one SQS accepts (SendMessage, MessageBody).
func validBody(b string) bool {
	for _, r := range b {
		ok := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return false
		}
	}
	return true
}

// transportType is the MD5 encoding's transport type of a data type: 1 for String and Number
// (and their custom types, such as Number.float), 2 for Binary, 0 for anything else.
func transportType(dataType string) byte {
	base, _, _ := strings.Cut(dataType, ".")
	switch base {
	case "String", "Number":
		return 1
	case "Binary":
		return 2
	}
	return 0
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// attributesMD5 is MD5OfMessageAttributes as the Amazon SQS Developer Guide ("Calculating the MD5
// message digest for message attributes") defines it: for each attribute in name order, its name,
// data type and value each as a 4-byte big-endian length and the bytes, with the transport type's
// byte before the value. "" for no attributes.
func attributesMD5(attrs map[string]AttributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	var b []byte
	field := func(v []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	for _, n := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[n]
		field([]byte(n))
		field([]byte(v.DataType))
		t := transportType(v.DataType)
		b = append(b, t)
		if t == 2 {
			field(v.BinaryValue)
		} else {
			field([]byte(*v.StringValue))
		}
	}
	return md5Hex(b)
}

// expire drops the messages older than the queue's retention period; s.mu is held.
func (s *Service) expire(q *queue, now time.Time) {
	retention := DefaultRetention
	if v, err := strconv.Atoi(q.attrs["MessageRetentionPeriod"]); err == nil {
		retention = time.Duration(v) * time.Second
	}
	q.messages = slices.DeleteFunc(q.messages, func(m *message) bool { return now.Sub(m.sent) >= retention })
}

type receiveInput struct {
	QueueUrl                    string
	MaxNumberOfMessages         *int
	VisibilityTimeout           *int
	WaitTimeSeconds             *int
	MessageAttributeNames       []string
	MessageSystemAttributeNames []string
	AttributeNames              []string
}

// Message is a received message as ReceiveMessage answers it.
type Message struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string         `json:",omitempty"`
	MD5OfMessageAttributes string                    `json:",omitempty"`
	MessageAttributes      map[string]AttributeValue `json:",omitempty"`
}

func (s *Service) receiveMessage(ctx context.Context, in receiveInput) (any, error) {
	limit := 1
	if in.MaxNumberOfMessages != nil {
		limit = *in.MaxNumberOfMessages
		if limit < 1 || limit > MaxReceive {
			return nil, core.Errorf("InvalidParameterValue", "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", limit)
		}
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200) {
		return nil, core.Errorf("InvalidParameterValue", "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *in.VisibilityTimeout)
	}
	if in.WaitTimeSeconds != nil && (*in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20) {
		return nil, core.Errorf("InvalidParameterValue", "Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
	}
	s.mu.Lock()
	q, err := s.find(in.QueueUrl)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	attrs := s.attributes(q)
	wait, _ := strconv.Atoi(attrs["ReceiveMessageWaitTimeSeconds"])
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	s.mu.Unlock()
	deadline := s.clock.Now().Add(time.Duration(wait) * time.Second)
	wallDeadline := time.Now().Add(min(MaxWallWait, time.Duration(float64(wait)*float64(time.Second)/max(s.clock.Scale(), 1e-9))))
	for {
		s.mu.Lock()
		q, err := s.find(in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		got := s.take(q, attrs, in, limit)
		arrived := q.arrived
		s.mu.Unlock()
		now := s.clock.Now()
		if len(got) > 0 || !now.Before(deadline) || !time.Now().Before(wallDeadline) {
			if len(got) == 0 {
				return struct{}{}, nil
			}
			return map[string]any{"Messages": got}, nil
		}
		// Wake when a message arrives, the wait's sandbox time ends, or its wall bound.
		timer := time.NewTimer(min(time.Until(wallDeadline), 50*time.Millisecond))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-arrived:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// take receives up to limit visible messages of q; s.mu is held.
func (s *Service) take(q *queue, attrs map[string]string, in receiveInput, limit int) []Message {
	now := s.clock.Now()
	s.expire(q, now)
	visibility, _ := strconv.Atoi(attrs["VisibilityTimeout"])
	if in.VisibilityTimeout != nil {
		visibility = *in.VisibilityTimeout
	}
	system := append(slices.Clone(in.MessageSystemAttributeNames), in.AttributeNames...)
	var out []Message
	for _, m := range q.messages {
		if len(out) == limit {
			break
		}
		if m.visibleAt.After(now) {
			continue
		}
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.visibleAt = now.Add(time.Duration(visibility) * time.Second)
		m.receipt = base64.RawURLEncoding.EncodeToString([]byte(q.name + "/" + m.id + "/" + core.RandomHex(8)))
		r := Message{MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: m.md5Body, Body: m.body}
		sys := map[string]string{
			"SenderId": m.sender, "SentTimestamp": strconv.FormatInt(m.sent.UnixMilli(), 10),
			"ApproximateReceiveCount": strconv.Itoa(m.receives), "ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
		}
		for _, n := range system {
			if n == "All" {
				r.Attributes = sys
				break
			}
			if v, ok := sys[n]; ok {
				if r.Attributes == nil {
					r.Attributes = map[string]string{}
				}
				r.Attributes[n] = v
			}
		}
		picked := map[string]AttributeValue{}
		for n, v := range m.attrs {
			if wanted(in.MessageAttributeNames, n) {
				picked[n] = v
			}
		}
		if len(picked) > 0 {
			r.MessageAttributes, r.MD5OfMessageAttributes = picked, attributesMD5(picked)
		}
		out = append(out, r)
	}
	return out
}

// wanted reports whether ReceiveMessage's MessageAttributeNames ask for attribute n: All, .*, the
// name, or a prefix ending in .*.
func wanted(names []string, n string) bool {
	for _, w := range names {
		if w == "All" || w == ".*" || w == n || (strings.HasSuffix(w, ".*") && strings.HasPrefix(n, strings.TrimSuffix(w, "*"))) {
			return true
		}
	}
	return false
}

// byReceipt returns the message of a receipt handle in q, nil if it was deleted; s.mu is held.
func (s *Service) byReceipt(q *queue, handle string) (*message, error) {
	raw, err := base64.RawURLEncoding.DecodeString(handle)
	parts := strings.Split(string(raw), "/")
	if handle == "" || err != nil || len(parts) != 3 || parts[0] != q.name {
		return nil, core.Errorf("ReceiptHandleIsInvalid", "The input receipt handle \"%s\" is not a valid receipt handle.", handle)
	}
	for _, m := range q.messages {
		if m.id == parts[1] {
			return m, nil
		}
	}
	return nil, nil
}

type receiptInput struct {
	QueueUrl          string
	ReceiptHandle     string
	VisibilityTimeout *int
}

// receipt finds the queue in.QueueUrl names and the message in.ReceiptHandle names in it (nil for
// a handle of a message no longer there, byReceipt's rule); s.mu must be held.
func (s *Service) receipt(in receiptInput) (*queue, *message, error) {
	q, err := s.find(in.QueueUrl)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.byReceipt(q, in.ReceiptHandle)
	if err != nil {
		return nil, nil, err
	}
	return q, m, nil
}

func (s *Service) deleteMessage(_ context.Context, in receiptInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, m, err := s.receipt(in)
	if err != nil {
		return nil, err
	}
	if m != nil {
		q.messages = slices.DeleteFunc(q.messages, func(x *message) bool { return x == m })
	}
	return struct{}{}, nil
}

func (s *Service) changeVisibility(_ context.Context, in receiptInput) (any, error) {
	if in.VisibilityTimeout == nil || *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200 {
		return nil, core.Errorf("InvalidParameterValue", "Value for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, m, err := s.receipt(in)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if m == nil || m.receives == 0 || !m.visibleAt.After(now) {
		return nil, core.Errorf("MessageNotInflight", "Message does not exist or is not available for visibility timeout change.")
	}
	m.visibleAt = now.Add(time.Duration(*in.VisibilityTimeout) * time.Second)
	if *in.VisibilityTimeout == 0 {
		close(q.arrived)
		q.arrived = make(chan struct{})
	}
	return struct{}{}, nil
}

func (s *Service) purgeQueue(_ context.Context, in queueURLInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.find(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.messages = nil
	return struct{}{}, nil
}

// Messages returns the bodies of the messages in the queue a URL or ARN names, oldest first,
// without receiving them (for tests and the demo's checks); an error for no such queue.
func (s *Service) Messages(ref string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[s.NameOf(ref)]
	if !ok {
		return nil, fmt.Errorf("read the messages of queue %s: %w", ref, errNoQueue())
	}
	s.expire(q, s.clock.Now())
	out := make([]string, 0, len(q.messages))
	for _, m := range q.messages {
		out = append(out, m.body)
	}
	return out, nil
}

// Names lists the queues' names, sorted.
func (s *Service) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Collect(maps.Keys(s.queues))
	sort.Strings(names)
	return names
}
