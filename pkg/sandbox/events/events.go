// Package events emulates Amazon EventBridge (JSON 1.1, X-Amz-Target AWSEvents.<Op>) on the
// default event bus: PutRule, DescribeRule, DeleteRule, EnableRule, DisableRule, ListRules,
// PutTargets, RemoveTargets, ListTargetsByRule, PutEvents and TestEventPattern, with real
// event-pattern matching (see Pattern) and asynchronous delivery of matching events to Lambda
// targets, in the EventBridge event envelope. Publish is the Go entry for events that AWS services emit
// themselves (source aws.*), such as Step Functions' "Step Functions Execution Status Change".
//
// Differences from AWS: only the default bus exists; only Lambda function ARNs are delivered to
// (other target ARNs are stored and listed, and their deliveries are recorded as skipped);
// Input and InputPath ($ or a dotted path such as $.detail) are applied, InputTransformer is
// refused; scheduled rules have no timer: a schedule fires when FireSchedule is called (a test or
// the demo stands in for the clock reaching the next run).
//
// A target's RetryPolicy and DeadLetterConfig are kept (PutTargets checks the dead-letter queue is
// an SQS queue ARN; ListTargetsByRule returns them) and applied as the EventBridge User Guide's
// "Event retry policy and using dead-letter queues" describes, to handing an event to a Lambda
// target: an error that retrying cannot fix (the function's policy does not allow
// events.amazonaws.com: NO_PERMISSIONS; the function does not exist: NO_RESOURCE) sends the event
// to the target's dead-letter queue at once; a retriable one (Lambda throttling or a service error
// on accepting the event: THROTTLING, INTERNAL_ERROR) is retried with backoff on the sandbox clock
// until MaximumRetryAttempts (default 185) or MaximumEventAgeInSeconds (default 86,400) runs out,
// then dead-lettered (WaitIdle waits for those retries). An event Lambda accepted is Lambda's from
// then on: a function that fails runs the Lambda service's own asynchronous retries and is never
// an EventBridge dead letter. The dead letter is the event as the rule matched it, with the
// message attributes the guide lists (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, and after
// retries EXHAUSTED_RETRY_CONDITION and RETRY_ATTEMPTS; every ERROR_CODE hand returns is one of
// the guide's listed values), sent through the DeadLetterSender the
// sandbox wires, which sends it as events.amazonaws.com (and under IAM enforcement judges it on the
// queue's policy and its key's); a dead letter that cannot be sent is lost, and the Delivery says
// why (DeadLetterErr). A target with no dead-letter queue loses the event, as on AWS.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Limits from the EventBridge quotas and API reference.
const (
	MaxTargetsPerRule = 5
	MaxPutEntries     = 10
	MaxPutEventsBytes = 256 * 1024
	DefaultBus        = "default"
)

// Service is the emulated EventBridge.
type Service struct {
	core.JSONProtocol
	clock           core.Clock
	lambda          core.AsyncLambdaInvoker
	region, account string

	mu          sync.Mutex
	rules       map[string]*rule
	deliveries  []Delivery
	authorize   DeliveryAuthorizer
	deadLetters DeadLetterSender
	// retrying counts the deliveries whose retries run in the background (WaitIdle), under
	// retryCtx, which Close cancels.
	retrying    sync.WaitGroup
	retryCtx    context.Context
	stopRetries context.CancelFunc
}

// DeadLetterSender sends a dead letter of the rule ruleARN to the SQS queue queueARN, as
// EventBridge does: as events.amazonaws.com, with the rule as aws:SourceArn. A non-nil error means
// the dead letter was not sent and is lost.
type DeadLetterSender func(ctx context.Context, ruleARN, queueARN, body string, attributes map[string]string) error

// SetDeadLetterSender wires the SQS that dead letters go to; with none, every dead letter is lost
// (recorded in its Delivery).
func (s *Service) SetDeadLetterSender(send DeadLetterSender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadLetters = send
}

// DeliveryAuthorizer decides whether EventBridge, as events.amazonaws.com, may invoke a Lambda
// target for the rule ruleARN (on AWS, the function's resource-based policy must allow it); a
// non-nil error refuses the delivery, which records the error and invokes nothing.
type DeliveryAuthorizer func(ctx context.Context, ruleARN, targetARN string) error

// SetDeliveryAuthorizer makes every delivery pass authorize first; nil (the default) allows all.
func (s *Service) SetDeliveryAuthorizer(authorize DeliveryAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = authorize
}

type rule struct {
	name, arn, description, schedule, roleArn, state string
	patternSrc                                       string
	pattern                                          *Pattern
	targets                                          map[string]Target
}

// Target is a rule target as PutTargets takes it (the members the sandbox supports).
type Target struct {
	ID               string            `json:"Id"`
	Arn              string            `json:"Arn"`
	Input            *string           `json:"Input,omitempty"`
	InputPath        *string           `json:"InputPath,omitempty"`
	RoleArn          *string           `json:"RoleArn,omitempty"`
	InputTransformer json.RawMessage   `json:"InputTransformer,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
}

// RetryPolicy is a target's retry policy (EventBridge API Reference, RetryPolicy).
type RetryPolicy struct {
	MaximumRetryAttempts     *int `json:",omitempty"`
	MaximumEventAgeInSeconds *int `json:",omitempty"`
}

// DeadLetterConfig names a target's dead-letter queue.
type DeadLetterConfig struct {
	Arn *string `json:",omitempty"`
}

// Retry limits and defaults (EventBridge API Reference, RetryPolicy).
const (
	DefaultMaximumRetryAttempts = 185
	DefaultMaximumEventAge      = 86400 * time.Second
)

// Delivery is one event handed to one target.
type Delivery struct {
	Rule     string
	TargetID string
	Arn      string
	// Payload is what the target is (or, for a skipped target, would have been) given.
	Payload []byte
	// Err is why the event was not handed to the target, empty when it was.
	Err  string
	Time time.Time
	// ErrorCode is the dead-letter ERROR_CODE of Err (NO_PERMISSIONS, NO_RESOURCE, THROTTLING,
	// INTERNAL_ERROR), and Retries how many times the event was retried before it was given up.
	ErrorCode string
	Retries   int
	// DeadLetter is the queue the event was sent to as a dead letter, DeadLetterErr why it could
	// not be (the dead letter is lost); both empty for a target with no dead-letter queue.
	DeadLetter, DeadLetterErr string
}

// New returns EventBridge delivering to Lambda targets through lambda.
func New(clock core.Clock, lambda core.AsyncLambdaInvoker, region, account string) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		JSONProtocol: identity, clock: clock, lambda: lambda, region: region, account: account, rules: map[string]*rule{},
		retryCtx: ctx, stopRetries: cancel,
	}
}

// Close stops the deliveries being retried (each is recorded as it stands, without a dead letter)
// and waits for them.
func (s *Service) Close() {
	s.stopRetries()
	s.retrying.Wait()
}

// identity is how EventBridge is addressed on the wire.
var identity = core.NewJSONProtocol("events", "AWSEvents", "1.1")

var _ core.JSONService = (*Service)(nil)

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"PutRule":           core.Handler(s.putRule),
		"DescribeRule":      core.Handler(s.describeRule),
		"DeleteRule":        core.Handler(s.deleteRule),
		"EnableRule":        s.setState("ENABLED"),
		"DisableRule":       s.setState("DISABLED"),
		"ListRules":         core.Handler(s.listRules),
		"PutTargets":        core.Handler(s.putTargets),
		"RemoveTargets":     core.Handler(s.removeTargets),
		"ListTargetsByRule": core.Handler(s.listTargetsByRule),
		"PutEvents":         core.Handler(s.putEvents),
		"TestEventPattern":  core.Handler(s.testEventPattern),
	}
}

var namePattern = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)

func validationError(format string, args ...any) *core.Error {
	return core.Errorf("ValidationException", format, args...)
}

func (s *Service) ruleArn(name string) string {
	return "arn:aws:events:" + s.region + ":" + s.account + ":rule/" + name
}

// checkBus accepts the default bus by name or ARN.
func (s *Service) checkBus(bus *string) error {
	if bus == nil || *bus == "" || *bus == DefaultBus || *bus == "arn:aws:events:"+s.region+":"+s.account+":event-bus/default" {
		return nil
	}
	return core.Errorf("ResourceNotFoundException", "Event bus %s does not exist.", *bus)
}

func (s *Service) findRule(name string) (*rule, error) {
	r, ok := s.rules[name]
	if !ok {
		return nil, core.Errorf("ResourceNotFoundException", "Rule %s does not exist on EventBus default.", name)
	}
	return r, nil
}

type putRuleInput struct {
	Name               string
	EventPattern       *string
	ScheduleExpression *string
	State              *string
	Description        *string
	RoleArn            *string
	EventBusName       *string
}

func (s *Service) putRule(_ context.Context, in putRuleInput) (any, error) {
	if !namePattern.MatchString(in.Name) {
		return nil, validationError("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length 1-64", in.Name)
	}
	if err := s.checkBus(in.EventBusName); err != nil {
		return nil, err
	}
	if in.EventPattern == nil && in.ScheduleExpression == nil {
		return nil, validationError("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	r := &rule{name: in.Name, arn: s.ruleArn(in.Name), state: "ENABLED", targets: map[string]Target{}}
	if in.State != nil {
		switch *in.State {
		case "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
			r.state = *in.State
		default:
			return nil, validationError("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", *in.State)
		}
	}
	if in.EventPattern != nil {
		p, err := CompilePattern(*in.EventPattern)
		if err != nil {
			return nil, core.Errorf("InvalidEventPatternException", "%s", err.Error())
		}
		r.pattern, r.patternSrc = p, *in.EventPattern
	}
	if in.ScheduleExpression != nil {
		r.schedule = *in.ScheduleExpression
	}
	if in.Description != nil {
		r.description = *in.Description
	}
	if in.RoleArn != nil {
		r.roleArn = *in.RoleArn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.rules[in.Name]; ok {
		r.targets = old.targets // PutRule updates a rule in place; its targets stay
	}
	s.rules[in.Name] = r
	return map[string]string{"RuleArn": r.arn}, nil
}

// ruleOut is the DescribeRule output and the ListRules entry shape.
type ruleOut struct {
	Name               string
	Arn                string
	EventPattern       string `json:",omitempty"`
	ScheduleExpression string `json:",omitempty"`
	State              string
	Description        string `json:",omitempty"`
	RoleArn            string `json:",omitempty"`
	EventBusName       string
	CreatedBy          string `json:",omitempty"`
}

func (s *Service) out(r *rule) ruleOut {
	return ruleOut{Name: r.name, Arn: r.arn, EventPattern: r.patternSrc, ScheduleExpression: r.schedule,
		State: r.state, Description: r.description, RoleArn: r.roleArn, EventBusName: DefaultBus}
}

type nameInput struct {
	Name         string
	EventBusName *string
}

func (s *Service) describeRule(_ context.Context, in nameInput) (any, error) {
	if err := s.checkBus(in.EventBusName); err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.findRule, in.Name, func(r *rule) (any, error) {
		o := s.out(r)
		o.CreatedBy = s.account
		return o, nil
	})
}

func (s *Service) deleteRule(_ context.Context, in nameInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rules[in.Name]
	if !ok {
		return struct{}{}, nil // DeleteRule of a missing rule succeeds
	}
	if len(r.targets) > 0 {
		return nil, validationError("Rule can't be deleted since it has targets.")
	}
	delete(s.rules, in.Name)
	return struct{}{}, nil
}

func (s *Service) setState(state string) core.JSONOperation {
	return core.Handler(func(_ context.Context, in nameInput) (any, error) {
		return core.Locked(&s.mu, s.findRule, in.Name, func(r *rule) (any, error) {
			r.state = state
			return struct{}{}, nil
		})
	})
}

type listRulesInput struct {
	NamePrefix   *string
	EventBusName *string
	Limit        *int
	NextToken    *string
}

func (s *Service) listRules(_ context.Context, in listRulesInput) (any, error) {
	if err := s.checkBus(in.EventBusName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var names []string
	for n := range s.rules {
		if in.NamePrefix == nil || strings.HasPrefix(n, *in.NamePrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	rules := make([]ruleOut, 0, len(names))
	for _, n := range names {
		rules = append(rules, s.out(s.rules[n]))
	}
	s.mu.Unlock()
	return paginate("Rules", rules, in.Limit, in.NextToken)
}

// paginate answers a list with Limit and NextToken (the token is the start index).
func paginate[T any](key string, items []T, limit *int, token *string) (any, error) {
	start := 0
	if token != nil && *token != "" {
		if _, err := fmt.Sscan(*token, &start); err != nil || start < 0 || start > len(items) {
			return nil, validationError("The NextToken provided is not valid.")
		}
	}
	end := len(items)
	if limit != nil {
		if *limit < 1 || *limit > 100 {
			return nil, validationError("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *limit)
		}
		end = min(end, start+*limit)
	}
	out := map[string]any{key: items[start:end]}
	if end < len(items) {
		out["NextToken"] = fmt.Sprint(end)
	}
	return out, nil
}

type failedEntry struct {
	TargetID     string `json:"TargetId"`
	ErrorCode    string
	ErrorMessage string
}

type putTargetsInput struct {
	Rule         string
	EventBusName *string
	Targets      []Target
}

func (s *Service) putTargets(_ context.Context, in putTargetsInput) (any, error) {
	if err := s.checkBus(in.EventBusName); err != nil {
		return nil, err
	}
	if len(in.Targets) < 1 || len(in.Targets) > 10 {
		return nil, validationError("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	return core.Locked(&s.mu, s.findRule, in.Rule, func(r *rule) (any, error) {
		added := 0
		for _, t := range in.Targets {
			if _, exists := r.targets[t.ID]; !exists {
				added++
			}
		}
		if len(r.targets)+added > MaxTargetsPerRule {
			return nil, core.Errorf("LimitExceededException", "The requested resource exceeds the maximum number allowed.")
		}
		failed := []failedEntry{}
		for _, t := range in.Targets {
			switch {
			case !namePattern.MatchString(t.ID):
				return nil, validationError("1 validation error detected: Value '%s' at 'targets.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", t.ID)
			case !strings.HasPrefix(t.Arn, "arn:"):
				return nil, validationError("Parameter %s is not valid. Reason: Provided Arn is not in correct format.", t.Arn)
			case len(t.InputTransformer) > 0:
				failed = append(failed, failedEntry{TargetID: t.ID, ErrorCode: "ValidationException", ErrorMessage: "InputTransformer is not supported by the Strongroom sandbox: use Input or InputPath."})
				continue
			case t.Input != nil && !json.Valid([]byte(*t.Input)):
				return nil, validationError("Input is not valid JSON text.")
			case t.Input != nil && t.InputPath != nil:
				return nil, validationError("Only one of Input, InputPath, or InputTransformer must be provided.")
			case t.DeadLetterConfig != nil && t.DeadLetterConfig.Arn != nil && !isQueueARN(*t.DeadLetterConfig.Arn):
				return nil, validationError("Parameter(s) DeadLetterConfig.Arn is not valid. Reason: %s is not an Amazon SQS queue ARN.", *t.DeadLetterConfig.Arn)
			case t.RetryPolicy != nil && t.RetryPolicy.MaximumRetryAttempts != nil && (*t.RetryPolicy.MaximumRetryAttempts < 0 || *t.RetryPolicy.MaximumRetryAttempts > DefaultMaximumRetryAttempts):
				return nil, validationError("1 validation error detected: Value '%d' at 'targets.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value between 0 and 185", *t.RetryPolicy.MaximumRetryAttempts)
			case t.RetryPolicy != nil && t.RetryPolicy.MaximumEventAgeInSeconds != nil && (*t.RetryPolicy.MaximumEventAgeInSeconds < 60 || *t.RetryPolicy.MaximumEventAgeInSeconds > 86400):
				return nil, validationError("1 validation error detected: Value '%d' at 'targets.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 86400", *t.RetryPolicy.MaximumEventAgeInSeconds)
			}
			r.targets[t.ID] = t
		}
		return map[string]any{"FailedEntryCount": len(failed), "FailedEntries": failed}, nil
	})
}

type removeTargetsInput struct {
	Rule         string
	EventBusName *string
	Ids          []string
}

func (s *Service) removeTargets(_ context.Context, in removeTargetsInput) (any, error) {
	return core.Locked(&s.mu, s.findRule, in.Rule, func(r *rule) (any, error) {
		failed := []failedEntry{}
		for _, id := range in.Ids {
			delete(r.targets, id)
		}
		return map[string]any{"FailedEntryCount": 0, "FailedEntries": failed}, nil
	})
}

type listTargetsByRuleInput struct {
	Rule         string
	EventBusName *string
	Limit        *int
	NextToken    *string
}

func (s *Service) listTargetsByRule(_ context.Context, in listTargetsByRuleInput) (any, error) {
	s.mu.Lock()
	r, err := s.findRule(in.Rule)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	ids := make([]string, 0, len(r.targets))
	for id := range r.targets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	targets := make([]Target, 0, len(ids))
	for _, id := range ids {
		targets = append(targets, r.targets[id])
	}
	s.mu.Unlock()
	return paginate("Targets", targets, in.Limit, in.NextToken)
}

// Entry is a PutEvents request entry.
type Entry struct {
	Source       *string
	DetailType   *string `json:"DetailType"`
	Detail       *string
	Resources    []string
	Time         *core.EpochTime
	EventBusName *string
}

// Envelope is an event as EventBridge delivers it to targets (field order as AWS sends it).
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

func (s *Service) putEvents(ctx context.Context, in struct{ Entries []Entry }) (any, error) {
	if len(in.Entries) < 1 || len(in.Entries) > MaxPutEntries {
		return nil, validationError("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", MaxPutEntries)
	}
	size := 0
	for _, e := range in.Entries {
		size += entrySize(e)
	}
	if size > MaxPutEventsBytes {
		return nil, validationError("Total size of the entries in the request is over the limit.")
	}
	results := make([]resultEntry, 0, len(in.Entries))
	failed := 0
	for _, e := range in.Entries {
		code, msg := checkEntry(e)
		if code == "" {
			if err := s.checkBus(e.EventBusName); err != nil {
				code, msg = "InvalidArgument", err.(*core.Error).Message
			}
		}
		if code == "" && strings.HasPrefix(*e.Source, "aws.") {
			code, msg = "NotAuthorizedForSourceException", "Not authorized for the source."
		}
		if code != "" {
			failed++
			results = append(results, resultEntry{ErrorCode: code, ErrorMessage: msg})
			continue
		}
		env := s.envelope(*e.Source, *e.DetailType, json.RawMessage(*e.Detail), e.Resources, e.Time)
		s.dispatch(ctx, env)
		results = append(results, resultEntry{EventID: env.ID})
	}
	return map[string]any{"FailedEntryCount": failed, "Entries": results}, nil
}

func entrySize(e Entry) int {
	n := 0
	for _, p := range []*string{e.Source, e.DetailType, e.Detail} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	if e.Time != nil {
		n += 14
	}
	return n
}

func checkEntry(e Entry) (string, string) {
	switch {
	case e.Source == nil || *e.Source == "":
		return "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case e.DetailType == nil || *e.DetailType == "":
		return "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case e.Detail == nil || *e.Detail == "":
		return "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(*e.Detail), &obj); err != nil || obj == nil {
		return "MalformedDetail", "Detail is malformed."
	}
	return "", ""
}

func (s *Service) envelope(source, detailType string, detail json.RawMessage, resources []string, at *core.EpochTime) Envelope {
	t := s.clock.Now()
	if at != nil {
		t = time.Time(*at)
	}
	if resources == nil {
		resources = []string{}
	}
	return Envelope{Version: "0", ID: core.NewUUID(), DetailType: detailType, Source: source, Account: s.account,
		Time: t.UTC().Format("2006-01-02T15:04:05Z"), Region: s.region, Resources: resources, Detail: detail}
}

// Publish puts an event emitted by an AWS service itself (any source, aws.* included) on the
// default bus and delivers it to matching rules' targets. detail must be a JSON object.
func (s *Service) Publish(ctx context.Context, source, detailType string, detail any, resources ...string) (string, error) {
	b, err := json.Marshal(detail)
	if err != nil {
		return "", fmt.Errorf("publish %s event %q: encode detail: %w", source, detailType, err)
	}
	if code, msg := checkEntry(Entry{Source: &source, DetailType: &detailType, Detail: ptr(string(b))}); code != "" {
		return "", fmt.Errorf("publish %s event %q: %s: %s", source, detailType, code, msg)
	}
	env := s.envelope(source, detailType, b, resources, nil)
	s.dispatch(ctx, env)
	return env.ID, nil
}

func ptr[T any](v T) *T { return &v }

// dispatch hands env to every target of every enabled rule whose pattern matches.
func (s *Service) dispatch(ctx context.Context, env Envelope) {
	body, _ := json.Marshal(env)
	type job struct {
		rule string
		t    Target
	}
	var jobs []job
	s.mu.Lock()
	for _, n := range slices.Sorted(maps.Keys(s.rules)) {
		r := s.rules[n]
		if r.state == "DISABLED" || r.pattern == nil || !r.pattern.Match(body) {
			continue
		}
		for _, t := range r.targets {
			jobs = append(jobs, job{n, t})
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		s.deliver(ctx, j.rule, j.t, body)
	}
}

// deliver hands the event body to one target of rule (after its Input or InputPath) and records
// the delivery. A failure to hand it over is dead-lettered at once, or, when it is retriable,
// retried in the background (the delivery is then recorded when the retries end).
func (s *Service) deliver(ctx context.Context, rule string, t Target, body []byte) Delivery {
	d := Delivery{Rule: rule, TargetID: t.ID, Arn: t.Arn, Time: s.clock.Now()}
	payload, err := targetInput(t, body)
	switch {
	case err != nil:
		d.Err = err.Error()
	case !strings.HasPrefix(t.Arn, "arn:aws:lambda:"):
		// Kept, so a test can read what the target would have been given.
		d.Payload, d.Err = payload, "skipped: the sandbox delivers only to Lambda function targets"
	default:
		d.Payload = payload
		code, err := s.hand(ctx, rule, t, payload)
		if err != nil {
			d.Err, d.ErrorCode = err.Error(), code
			if retriable(code) {
				s.retrying.Add(1)
				go s.retry(s.retryCtx, d, t, body)
				return d
			}
			s.deadLetter(ctx, &d, t, body, "")
		}
	}
	s.record(d)
	return d
}

func (s *Service) record(d Delivery) {
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
}

// hand passes payload to the Lambda target t as EventBridge does (authorized as
// events.amazonaws.com for the rule), returning the dead-letter error code of a failure.
func (s *Service) hand(ctx context.Context, rule string, t Target, payload []byte) (string, error) {
	s.mu.Lock()
	authorize := s.authorize
	s.mu.Unlock()
	if authorize != nil {
		if err := authorize(ctx, s.ruleArn(rule), t.Arn); err != nil {
			return "NO_PERMISSIONS", err
		}
	}
	err := s.lambda.InvokeAsync(ctx, t.Arn, payload)
	if err == nil {
		return "", nil
	}
	var ce *core.Error
	switch {
	case !errors.As(err, &ce):
		return "INTERNAL_ERROR", err
	case ce.Code == "ResourceNotFoundException":
		return "NO_RESOURCE", err
	case ce.Code == "TooManyRequestsException" || ce.Code == "ThrottlingException" || ce.Status == http.StatusTooManyRequests:
		return "THROTTLING", err
	case ce.Fault():
		return "INTERNAL_ERROR", err
	case ce.Code == "AccessDeniedException":
		return "NO_PERMISSIONS", err
	}
	return "INVALID_PARAMETER", err
}

// retriable reports whether EventBridge retries a failure with this code (the guide: missing
// permissions and a missing target are not retried, nor is a request the target refuses).
func retriable(code string) bool { return code == "THROTTLING" || code == "INTERNAL_ERROR" }

// retryDelay is the sandbox time before retry n (from 1): exponential from 1 s, at most 5 minutes,
// standing in for EventBridge's exponential backoff with jitter.
func retryDelay(n int) time.Duration {
	return min(time.Second<<min(n-1, 9), 5*time.Minute)
}

// retry retries d until the target takes the event or t's RetryPolicy runs out, then records d,
// dead-lettered if it never got through.
func (s *Service) retry(ctx context.Context, d Delivery, t Target, body []byte) {
	defer s.retrying.Done()
	attempts, age := DefaultMaximumRetryAttempts, DefaultMaximumEventAge
	if p := t.RetryPolicy; p != nil {
		if p.MaximumRetryAttempts != nil {
			attempts = *p.MaximumRetryAttempts
		}
		if p.MaximumEventAgeInSeconds != nil {
			age = time.Duration(*p.MaximumEventAgeInSeconds) * time.Second
		}
	}
	exhausted := "MaximumRetryAttempts"
	for d.Retries < attempts {
		wait := retryDelay(d.Retries + 1)
		if s.clock.Now().Add(wait).Sub(d.Time) > age {
			exhausted = "MaximumEventAgeInSeconds"
			break
		}
		if s.clock.Sleep(ctx, wait) != nil {
			d.DeadLetterErr = "the sandbox closed while the delivery was being retried"
			s.record(d)
			return
		}
		d.Retries++
		code, err := s.hand(ctx, d.Rule, t, d.Payload)
		if err == nil {
			d.Err, d.ErrorCode = "", ""
			s.record(d)
			return
		}
		d.Err, d.ErrorCode = err.Error(), code
		if !retriable(code) {
			exhausted = ""
			break
		}
	}
	s.deadLetter(ctx, &d, t, body, exhausted)
	s.record(d)
}

// deadLetter sends the event body that could not be delivered to t's dead-letter queue, if it has
// one, with the attributes the EventBridge User Guide lists; exhausted names the retry limit that
// ran out ("" when the error was not retried).
func (s *Service) deadLetter(ctx context.Context, d *Delivery, t Target, body []byte, exhausted string) {
	if t.DeadLetterConfig == nil || t.DeadLetterConfig.Arn == nil {
		return
	}
	d.DeadLetter = *t.DeadLetterConfig.Arn
	attrs := map[string]string{
		"RULE_ARN": s.ruleArn(d.Rule), "TARGET_ARN": t.Arn, "ERROR_CODE": d.ErrorCode, "ERROR_MESSAGE": d.Err,
	}
	if exhausted != "" {
		attrs["EXHAUSTED_RETRY_CONDITION"] = exhausted
		attrs["RETRY_ATTEMPTS"] = strconv.Itoa(d.Retries)
	}
	s.mu.Lock()
	send := s.deadLetters
	s.mu.Unlock()
	if send == nil {
		d.DeadLetterErr = "no dead-letter sender is wired (the sandbox's SQS sends them)"
		return
	}
	if err := send(ctx, s.ruleArn(d.Rule), d.DeadLetter, string(body), attrs); err != nil {
		d.DeadLetterErr = err.Error()
	}
}

// WaitIdle waits until no delivery is being retried, or ctx ends.
func (s *Service) WaitIdle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.retrying.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isQueueARN reports whether arn is an SQS queue's ARN.
func isQueueARN(arn string) bool {
	parts := strings.Split(arn, ":")
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "sqs" && parts[3] != "" && parts[4] != "" && parts[5] != ""
}

// Scheduled events, as EventBridge sends them to a scheduled rule's targets (the EventBridge user
// guide, "Creating a rule that runs on a schedule"): source aws.events, this detail type, the
// rule's ARN as the only resource, an empty detail.
const (
	ScheduleSource     = "aws.events"
	ScheduleDetailType = "Scheduled Event"
)

// FireSchedule runs the scheduled rule name now, as its schedule would when the next run comes:
// each target gets its Input, the InputPath of the event, or else the "Scheduled Event" itself,
// invoked asynchronously as every delivery is (Lambda's WaitIdle waits for them). The event goes
// to the rule's own targets only, never through other rules' patterns, as on AWS. It returns the
// deliveries in target id order. A rule that does not exist, has no ScheduleExpression, or is
// DISABLED (its schedule does not run) is an error naming the rule and why.
func (s *Service) FireSchedule(ctx context.Context, name string) ([]Delivery, error) {
	s.mu.Lock()
	r, err := s.findRule(name)
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("fire the schedule of rule %s: %w", name, err)
	}
	schedule, state, arn := r.schedule, r.state, r.arn
	targets := make([]Target, 0, len(r.targets))
	for _, id := range slices.Sorted(maps.Keys(r.targets)) {
		targets = append(targets, r.targets[id])
	}
	s.mu.Unlock()
	switch {
	case schedule == "":
		return nil, fmt.Errorf("fire the schedule of rule %s: it has no ScheduleExpression (an event pattern rule runs on matching events)", name)
	case state == "DISABLED":
		return nil, fmt.Errorf("fire the schedule of rule %s: it is DISABLED, so its schedule (%s) does not run", name, schedule)
	}
	body, err := json.Marshal(s.envelope(ScheduleSource, ScheduleDetailType, json.RawMessage(`{}`), []string{arn}, nil))
	if err != nil {
		return nil, fmt.Errorf("fire the schedule of rule %s: encode the scheduled event: %w", name, err)
	}
	out := make([]Delivery, 0, len(targets))
	for _, t := range targets {
		out = append(out, s.deliver(ctx, name, t, body))
	}
	return out, nil
}

// targetInput applies a target's Input or InputPath.
func targetInput(t Target, event []byte) ([]byte, error) {
	switch {
	case t.Input != nil:
		return []byte(*t.Input), nil
	case t.InputPath != nil && *t.InputPath != "$":
		var v any
		if err := json.Unmarshal(event, &v); err != nil {
			return nil, err
		}
		path := strings.TrimPrefix(*t.InputPath, "$.")
		for _, k := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("InputPath %s does not select a value", *t.InputPath)
			}
			v = obj[k]
		}
		return json.Marshal(v)
	}
	return event, nil
}

// Deliveries returns every delivery so far, in order.
func (s *Service) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// testEventPattern answers whether an event (a full envelope) matches a pattern.
func (s *Service) testEventPattern(_ context.Context, in struct{ EventPattern, Event string }) (any, error) {
	p, err := CompilePattern(in.EventPattern)
	if err != nil {
		return nil, core.Errorf("InvalidEventPatternException", "%s", err.Error())
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(in.Event), &ev); err != nil {
		return nil, core.Errorf("InvalidArgument", "Parameter Event is not valid. Reason: it is not a JSON object.")
	}
	for _, f := range []string{"id", "account", "source", "time", "region", "detail-type"} {
		if _, ok := ev[f].(string); !ok {
			return nil, core.Errorf("InvalidArgument", "Parameter Event is not valid. Reason: Provided Event does not have the required field %s.", f)
		}
	}
	return map[string]bool{"Result": p.Match([]byte(in.Event))}, nil
}
