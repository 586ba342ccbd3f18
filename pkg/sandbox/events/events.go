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
// the demo stands in for the clock reaching the next run); there are no retries or dead-letter
// queues beyond the Lambda service's own asynchronous retries.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
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

	mu         sync.Mutex
	rules      map[string]*rule
	deliveries []Delivery
	authorize  DeliveryAuthorizer
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
	ID               string          `json:"Id"`
	Arn              string          `json:"Arn"`
	Input            *string         `json:"Input,omitempty"`
	InputPath        *string         `json:"InputPath,omitempty"`
	RoleArn          *string         `json:"RoleArn,omitempty"`
	InputTransformer json.RawMessage `json:"InputTransformer,omitempty"`
}

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
}

// New returns EventBridge delivering to Lambda targets through lambda.
func New(clock core.Clock, lambda core.AsyncLambdaInvoker, region, account string) *Service {
	return &Service{
		JSONProtocol: identity, clock: clock, lambda: lambda, region: region, account: account, rules: map[string]*rule{},
	}
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
// the delivery.
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
		s.mu.Lock()
		authorize := s.authorize
		s.mu.Unlock()
		if authorize != nil {
			if err := authorize(ctx, s.ruleArn(rule), t.Arn); err != nil {
				d.Err = err.Error()
				break
			}
		}
		if err := s.lambda.InvokeAsync(ctx, t.Arn, payload); err != nil {
			d.Err = err.Error()
		}
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return d
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
