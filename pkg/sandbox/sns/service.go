package sns

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the region of topic ARNs (default us-east-1).
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account of topic ARNs (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Service is the emulated SNS. It is safe for concurrent use.
type Service struct {
	core.QueryProtocol
	clock core.Clock
	core.Place

	mu         sync.Mutex
	topics     []*topic
	subs       []*subscription
	deliveries map[string][]Delivery // by topic ARN
}

type topic struct {
	arn, name string
	attrs     map[string]string // settable attributes as given
	tags      []tagXML
}

type subscription struct {
	arn, topicARN, protocol, endpoint string
	attrs                             map[string]string
	filter                            *policy
}

// New returns an SNS with no topics.
func New(clock core.Clock, opts ...Option) *Service {
	s := &Service{QueryProtocol: identity, clock: clock, Place: core.DefaultPlace, deliveries: map[string][]Delivery{}}
	return core.Configure(s, opts)
}

// identity is how SNS is addressed on the wire.
var identity = core.NewQueryProtocol("sns", "sns", "http://sns.amazonaws.com/doc/2010-03-31/", core.QueryAWS)

var _ core.QueryService = (*Service)(nil)

// QueryOperations implements core.QueryService.
func (s *Service) QueryOperations() map[string]core.QueryOperation {
	return map[string]core.QueryOperation{
		"CreateTopic":               s.createTopic,
		"DeleteTopic":               s.deleteTopic,
		"GetTopicAttributes":        s.getTopicAttributes,
		"SetTopicAttributes":        s.setTopicAttributes,
		"ListTopics":                s.listTopics,
		"Subscribe":                 s.subscribe,
		"Unsubscribe":               s.unsubscribe,
		"GetSubscriptionAttributes": s.getSubscriptionAttributes,
		"SetSubscriptionAttributes": s.setSubscriptionAttributes,
		"ListSubscriptionsByTopic":  s.listSubscriptionsByTopic,
		"ListSubscriptions":         s.listSubscriptions,
		"Publish":                   s.publish,
	}
}

func invalid(format string, args ...any) error {
	return core.Errorf("InvalidParameter", "Invalid parameter: "+format, args...)
}

func errTopicNotFound() error { return core.StatusErrorf(404, "NotFound", "Topic does not exist") }

func errSubNotFound() error { return core.StatusErrorf(404, "NotFound", "Subscription does not exist") }

// entries reads a Query map "<prefix>.entry.N.<key>/<value>" in index order.
func entries(p url.Values, prefix, keyName, valueName string) [][2]string {
	var out [][2]string
	for _, e := range core.QueryList(p, prefix+".entry") {
		out = append(out, [2]string{e.Get(keyName), e.Get(valueName)})
	}
	return out
}

var (
	topicNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	// Topic attributes CreateTopic and SetTopicAttributes accept.
	topicAttrs = map[string]bool{
		"DisplayName": true, "Policy": true, "DeliveryPolicy": true, "KmsMasterKeyId": true, "SignatureVersion": true,
		"TracingConfig": true, "FifoTopic": true, "ContentBasedDeduplication": true, "ArchivePolicy": true,
		"DataProtectionPolicy": true, "FifoThroughputScope": true,
		"HTTPSuccessFeedbackRoleArn": true, "HTTPFailureFeedbackRoleArn": true, "HTTPSuccessFeedbackSampleRate": true,
		"LambdaSuccessFeedbackRoleArn": true, "LambdaFailureFeedbackRoleArn": true, "LambdaSuccessFeedbackSampleRate": true,
		"SQSSuccessFeedbackRoleArn": true, "SQSFailureFeedbackRoleArn": true, "SQSSuccessFeedbackSampleRate": true,
	}
)

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type createTopicOutput struct {
	TopicArn string `xml:"TopicArn"`
}

func (s *Service) topicARN(name string) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", s.Region(), s.Account(), name)
}

// createTopic is idempotent by name: the same name with the same attributes answers the existing
// ARN; different attributes are refused, as SNS does.
func (s *Service) createTopic(_ context.Context, p url.Values) (any, error) {
	name := p.Get("Name")
	attrs := map[string]string{}
	for _, e := range entries(p, "Attributes", "key", "value") {
		if !topicAttrs[e[0]] {
			return nil, invalid("Attributes Reason: Unknown attribute %s", e[0])
		}
		attrs[e[0]] = e[1]
	}
	fifo := attrs["FifoTopic"] == "true"
	base := strings.TrimSuffix(name, ".fifo")
	switch {
	case !topicNameRe.MatchString(base) || len(name) > 256:
		return nil, invalid("Topic Name: must be 1 to 256 letters, digits, hyphens and underscores (plus .fifo for FIFO topics)")
	case fifo != strings.HasSuffix(name, ".fifo"):
		return nil, invalid("Topic Name: a FIFO topic's name must end with .fifo, and only FIFO topics may")
	}
	if v, ok := attrs["Policy"]; ok && !json.Valid([]byte(v)) {
		return nil, invalid("Policy Error: the policy is not valid JSON")
	}
	var tags []tagXML
	for _, m := range core.QueryList(p, "Tags.member") {
		tags = append(tags, tagXML{m.Get("Key"), m.Get("Value")})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := s.topicARN(name)
	if t, err := s.findTopic(arn); err == nil {
		for k, v := range attrs {
			if t.attrs[k] != v {
				return nil, invalid("Attributes Reason: Topic already exists with different attributes")
			}
		}
		return createTopicOutput{arn}, nil
	}
	s.topics = append(s.topics, &topic{arn: arn, name: name, attrs: attrs, tags: tags})
	return createTopicOutput{arn}, nil
}

// findTopic returns the topic arn names; a topic that does not exist is NotFound.
func (s *Service) findTopic(arn string) (*topic, error) {
	if i := slices.IndexFunc(s.topics, func(t *topic) bool { return t.arn == arn }); i >= 0 {
		return s.topics[i], nil
	}
	return nil, errTopicNotFound()
}

func (s *Service) deleteTopic(_ context.Context, p url.Values) (any, error) {
	return core.Locked(&s.mu, s.findTopic, p.Get("TopicArn"), func(t *topic) (any, error) {
		s.topics = slices.DeleteFunc(s.topics, func(x *topic) bool { return x == t })
		s.subs = slices.DeleteFunc(s.subs, func(x *subscription) bool { return x.topicARN == t.arn })
		return nil, nil
	})
}

type entryXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type attributesOutput struct {
	Attributes []entryXML `xml:"Attributes>entry"`
}

func sortedEntries(m map[string]string) []entryXML {
	out := make([]entryXML, 0, len(m))
	for k, v := range m {
		out = append(out, entryXML{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (s *Service) defaultPolicy(arn string) string {
	return fmt.Sprintf(`{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"%s","Condition":{"StringEquals":{"AWS:SourceOwner":"%s"}}}]}`, arn, s.Account())
}

func (s *Service) getTopicAttributes(_ context.Context, p url.Values) (any, error) {
	return core.Locked(&s.mu, s.findTopic, p.Get("TopicArn"), func(t *topic) (any, error) {
		confirmed := 0
		for _, sub := range s.subs {
			if sub.topicARN == t.arn {
				confirmed++
			}
		}
		m := map[string]string{
			"TopicArn": t.arn, "Owner": s.Account(), "Policy": s.defaultPolicy(t.arn), "DisplayName": "",
			"SubscriptionsConfirmed": strconv.Itoa(confirmed), "SubscriptionsPending": "0", "SubscriptionsDeleted": "0",
			"EffectiveDeliveryPolicy": `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}`,
		}
		for k, v := range t.attrs {
			m[k] = v
		}
		return attributesOutput{sortedEntries(m)}, nil
	})
}

func (s *Service) setTopicAttributes(_ context.Context, p url.Values) (any, error) {
	name, value := p.Get("AttributeName"), p.Get("AttributeValue")
	if !topicAttrs[name] || name == "FifoTopic" {
		return nil, invalid("AttributeName: %q is not an attribute SetTopicAttributes can change", name)
	}
	if name == "Policy" && !json.Valid([]byte(value)) {
		return nil, invalid("Policy Error: the policy is not valid JSON")
	}
	return core.Locked(&s.mu, s.findTopic, p.Get("TopicArn"), func(t *topic) (any, error) {
		t.attrs[name] = value
		return nil, nil
	})
}

type topicMemberXML struct {
	TopicArn string `xml:"TopicArn"`
}

type listTopicsOutput struct {
	Topics    []topicMemberXML `xml:"Topics>member"`
	NextToken string           `xml:"NextToken,omitempty"`
}

const pageSize = 100

func page(total int, token string) (start, end int, next string, err error) {
	if token != "" {
		start, err = strconv.Atoi(token)
		if err != nil || start < 0 || start > total {
			return 0, 0, "", invalid("NextToken")
		}
	}
	end = min(start+pageSize, total)
	if end < total {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

func (s *Service) listTopics(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start, end, next, err := page(len(s.topics), p.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	out := listTopicsOutput{NextToken: next}
	for _, t := range s.topics[start:end] {
		out.Topics = append(out.Topics, topicMemberXML{t.arn})
	}
	return out, nil
}

// Subscription attributes Subscribe and SetSubscriptionAttributes accept.
var subAttrs = map[string]bool{
	"DeliveryPolicy": true, "FilterPolicy": true, "FilterPolicyScope": true, "RawMessageDelivery": true,
	"RedrivePolicy": true, "SubscriptionRoleArn": true, "ReplayPolicy": true,
}

var (
	lambdaARNRe = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$`)
	sqsARNRe    = regexp.MustCompile(`^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$`)
)

func checkEndpoint(protocol, endpoint string) error {
	switch protocol {
	case "email", "email-json":
		if a, err := mail.ParseAddress(endpoint); err != nil || a.Address != endpoint {
			return invalid("Email address")
		}
	case "lambda":
		if !lambdaARNRe.MatchString(endpoint) {
			return invalid("Lambda endpoint ARN")
		}
	case "sqs":
		if !sqsARNRe.MatchString(endpoint) {
			return invalid("SQS endpoint ARN")
		}
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return invalid("Endpoint must match the specified protocol")
		}
	case "sms", "application", "firehose":
		if endpoint == "" {
			return invalid("Endpoint")
		}
	default:
		return invalid("Invalid protocol type: %s", protocol)
	}
	return nil
}

// applySubAttr validates and sets one subscription attribute. Caller holds s.mu.
func applySubAttr(sub *subscription, name, value string) error {
	if !subAttrs[name] {
		return invalid("AttributeName")
	}
	switch name {
	case "RawMessageDelivery":
		if value != "true" && value != "false" {
			return invalid("Attributes Reason: RawMessageDelivery: Invalid value [%s]. Must be true or false.", value)
		}
		if value == "true" && (sub.protocol == "email" || sub.protocol == "email-json") {
			return invalid("Attributes Reason: Delivery protocol [%s] does not support raw message delivery.", sub.protocol)
		}
	case "FilterPolicyScope":
		if value != "MessageAttributes" && value != "MessageBody" {
			return invalid("Attributes Reason: FilterPolicyScope: Invalid value [%s]. Please use either MessageBody or MessageAttributes", value)
		}
	}
	next := map[string]string{}
	for k, v := range sub.attrs {
		next[k] = v
	}
	if name == "FilterPolicy" && value == "" {
		delete(next, name)
	} else {
		next[name] = value
	}
	filter := sub.filter
	if name == "FilterPolicy" || name == "FilterPolicyScope" {
		filter = nil
		if fp := next["FilterPolicy"]; fp != "" {
			f, err := parsePolicy(fp, next["FilterPolicyScope"] == "MessageBody")
			if err != nil {
				return invalid("Attributes Reason: FilterPolicy: %v", err)
			}
			filter = f
		}
	}
	sub.attrs, sub.filter = next, filter
	return nil
}

type subscribeOutput struct {
	SubscriptionArn string `xml:"SubscriptionArn"`
}

// subscribe records a subscription. Confirmation is automatic in the sandbox: an e-mail
// subscription is confirmed at once (there is no inbox to click in), so its ARN is returned rather
// than "pending confirmation".
func (s *Service) subscribe(_ context.Context, p url.Values) (any, error) {
	protocol, endpoint := p.Get("Protocol"), p.Get("Endpoint")
	if protocol == "" {
		return nil, invalid("Protocol")
	}
	if err := checkEndpoint(protocol, endpoint); err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.findTopic, p.Get("TopicArn"), func(t *topic) (any, error) {
		given := entries(p, "Attributes", "key", "value")
		for _, sub := range s.subs {
			if sub.topicARN == t.arn && sub.protocol == protocol && sub.endpoint == endpoint {
				// Subscribing again is idempotent unless the attributes differ, as SNS answers.
				for _, e := range given {
					if sub.attrs[e[0]] != e[1] {
						return nil, invalid("Attributes Reason: Subscription already exists with different attributes")
					}
				}
				return subscribeOutput{sub.arn}, nil
			}
		}
		sub := &subscription{arn: t.arn + ":" + core.NewUUID(), topicARN: t.arn, protocol: protocol, endpoint: endpoint, attrs: map[string]string{}}
		// FilterPolicyScope first, so the policy is parsed in its scope.
		sort.SliceStable(given, func(i, j int) bool { return given[i][0] == "FilterPolicyScope" && given[j][0] != "FilterPolicyScope" })
		for _, e := range given {
			if err := applySubAttr(sub, e[0], e[1]); err != nil {
				return nil, err
			}
		}
		s.subs = append(s.subs, sub)
		return subscribeOutput{sub.arn}, nil
	})
}

// findSub returns the subscription arn names; one that does not exist is NotFound.
func (s *Service) findSub(arn string) (*subscription, error) {
	if i := slices.IndexFunc(s.subs, func(sub *subscription) bool { return sub.arn == arn }); i >= 0 {
		return s.subs[i], nil
	}
	return nil, errSubNotFound()
}

func (s *Service) unsubscribe(_ context.Context, p url.Values) (any, error) {
	return core.Locked(&s.mu, s.findSub, p.Get("SubscriptionArn"), func(sub *subscription) (any, error) {
		s.subs = slices.DeleteFunc(s.subs, func(x *subscription) bool { return x == sub })
		return nil, nil
	})
}

func (s *Service) setSubscriptionAttributes(_ context.Context, p url.Values) (any, error) {
	return core.Locked(&s.mu, s.findSub, p.Get("SubscriptionArn"), func(sub *subscription) (any, error) {
		if err := applySubAttr(sub, p.Get("AttributeName"), p.Get("AttributeValue")); err != nil {
			return nil, err
		}
		return nil, nil
	})
}

func (s *Service) getSubscriptionAttributes(_ context.Context, p url.Values) (any, error) {
	return core.Locked(&s.mu, s.findSub, p.Get("SubscriptionArn"), func(sub *subscription) (any, error) {
		m := map[string]string{
			"SubscriptionArn": sub.arn, "TopicArn": sub.topicARN, "Protocol": sub.protocol, "Endpoint": sub.endpoint,
			"Owner": s.Account(), "ConfirmationWasAuthenticated": "true", "PendingConfirmation": "false",
			"RawMessageDelivery": "false", "SubscriptionPrincipal": fmt.Sprintf("arn:aws:iam::%s:root", s.Account()),
		}
		for k, v := range sub.attrs {
			m[k] = v
		}
		if _, ok := m["FilterPolicy"]; ok {
			if _, ok := m["FilterPolicyScope"]; !ok {
				m["FilterPolicyScope"] = "MessageAttributes"
			}
		}
		return attributesOutput{sortedEntries(m)}, nil
	})
}

type subMemberXML struct {
	TopicArn        string `xml:"TopicArn"`
	Protocol        string `xml:"Protocol"`
	SubscriptionArn string `xml:"SubscriptionArn"`
	Owner           string `xml:"Owner"`
	Endpoint        string `xml:"Endpoint"`
}

type listSubsOutput struct {
	Subscriptions []subMemberXML `xml:"Subscriptions>member"`
	NextToken     string         `xml:"NextToken,omitempty"`
}

func (s *Service) listSubs(topicARN, token string) (any, error) {
	var matching []*subscription
	for _, sub := range s.subs {
		if topicARN == "" || sub.topicARN == topicARN {
			matching = append(matching, sub)
		}
	}
	start, end, next, err := page(len(matching), token)
	if err != nil {
		return nil, err
	}
	out := listSubsOutput{NextToken: next}
	for _, sub := range matching[start:end] {
		out.Subscriptions = append(out.Subscriptions, subMemberXML{sub.topicARN, sub.protocol, sub.arn, s.Account(), sub.endpoint})
	}
	return out, nil
}

func (s *Service) listSubscriptionsByTopic(_ context.Context, p url.Values) (any, error) {
	return core.Locked(&s.mu, s.findTopic, p.Get("TopicArn"), func(t *topic) (any, error) {
		return s.listSubs(t.arn, p.Get("NextToken"))
	})
}

func (s *Service) listSubscriptions(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listSubs("", p.Get("NextToken"))
}
