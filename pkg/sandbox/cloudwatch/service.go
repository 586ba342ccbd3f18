package cloudwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the region of alarm ARNs (default us-east-1).
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account of alarm ARNs (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Principal is the service principal CloudWatch runs alarm actions as.
const Principal = "cloudwatch.amazonaws.com"

// Publisher publishes an alarm's notification to an SNS topic (SNS's Publish, message being a
// MessageStructure json: the Notification by default, CloudWatch's text for e-mail). An error is
// the reason the action failed.
type Publisher func(ctx context.Context, topicARN, subject, message string) error

// PublishAuthorizer judges Principal publishing to topicARN on behalf of the alarm alarmARN (the
// request's aws:SourceArn); an error refuses the publish.
type PublishAuthorizer func(ctx context.Context, alarmARN, topicARN string) error

// Service is the emulated CloudWatch (alarms). It is safe for concurrent use.
type Service struct {
	core.QueryProtocol
	clock core.Clock
	core.Place
	publish Publisher

	mu        sync.Mutex
	authorize PublishAuthorizer
	alarms    map[string]*alarm // by name
}

// The states of an alarm.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// metricFields are PutMetricAlarm's members that say what the alarm watches, kept as given.
var metricFields = []string{
	"MetricName", "Namespace", "Dimensions", "Statistic", "ExtendedStatistic", "Period", "Unit",
	"EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
	"EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
}

type alarm struct {
	name, arn, description                       string
	actionsEnabled                               bool
	okActions, alarmActions, insufficientActions []string
	metric                                       map[string]any
	state, reason, reasonData                    string
	configUpdated, stateUpdated, transitioned    time.Time
	history                                      []HistoryItem
}

// HistoryItem is one entry of an alarm's history, as DescribeAlarmHistory shows it.
type HistoryItem struct {
	Timestamp time.Time
	// Type is ConfigurationUpdate, StateUpdate or Action.
	Type    string
	Summary string
	// Data is the item's JSON detail (for an Action, the action and the error).
	Data string
}

// SetPublishAuthorizer makes every SNS action pass authorize first (Sandbox.EnforceIAM); a refused
// publish delivers nothing and is a failed action of the alarm's history.
func (s *Service) SetPublishAuthorizer(authorize PublishAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = authorize
}

// New returns a CloudWatch with no alarms. publish runs SNS actions; nil makes every action fail
// (no publisher is wired).
func New(clock core.Clock, publish Publisher, opts ...Option) *Service {
	s := &Service{QueryProtocol: identity, clock: clock, Place: core.DefaultPlace, publish: publish, alarms: map[string]*alarm{}}
	return core.Configure(s, opts)
}

var _ core.RPCv2Service = (*Service)(nil)

// ServiceName implements core.RPCv2Service: the Smithy service shape's name.
func (s *Service) ServiceName() string { return "GraniteServiceVersion20100801" }

// RPCOperations implements core.RPCv2Service.
func (s *Service) RPCOperations() map[string]core.RPCOperation {
	return map[string]core.RPCOperation{
		"PutMetricAlarm": s.putMetricAlarm,
		"DescribeAlarms": s.describeAlarms,
		"SetAlarmState":  s.setAlarmState,
		"DeleteAlarms":   s.deleteAlarms,
	}
}

// AlarmARN is the ARN of the alarm named name.
func (s *Service) AlarmARN(name string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", s.Region(), s.Account(), name)
}

// History returns the alarm's history, oldest first (nil for an alarm that does not exist). It is a
// Go API for tests and the demo, not on the wire.
func (s *Service) History(name string) []HistoryItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.alarms[name]; a != nil {
		return slices.Clone(a.history)
	}
	return nil
}

// ActionFailures counts the Action items of the alarm's history that record a failed action.
func (s *Service) ActionFailures(name string) int {
	n := 0
	for _, h := range s.History(name) {
		if h.Type == "Action" && strings.HasPrefix(h.Summary, "Failed") {
			n++
		}
	}
	return n
}

func missing(name string) error {
	return core.Errorf("MissingParameter", "The parameter %s is required.", name)
}

func invalid(format string, args ...any) error {
	return core.Errorf("InvalidParameterValue", format, args...)
}

func notFound(format string, args ...any) error {
	return core.StatusErrorf(404, "ResourceNotFound", format, args...)
}

// str reads a string member.
func str(in map[string]any, name string) string {
	s, _ := in[name].(string)
	return s
}

// stringList reads a list of strings.
func stringList(in map[string]any, name string) ([]string, error) {
	raw, ok := in[name]
	if !ok || raw == nil || raw == "" { // the Query protocol sends an empty list as ""
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, invalid("The parameter %s must be a list of strings.", name)
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, invalid("The parameter %s must be a list of strings.", name)
		}
		out = append(out, s)
	}
	return out, nil
}

// integer reads an integer member; ok is false when it is absent.
func integer(in map[string]any, name string) (n int64, ok bool, err error) {
	switch v := in[name].(type) {
	case nil:
		return 0, false, nil
	case int64:
		return v, true, nil
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true, nil
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, true, nil
		}
	}
	return 0, false, invalid("The parameter %s must be an integer.", name)
}

var comparisons = []string{
	"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
	"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold",
}

// checkActions accepts SNS topic ARNs, the only actions the sandbox runs.
func checkActions(name string, arns []string) error {
	if len(arns) > 5 {
		return invalid("The collection %s must not have a size greater than 5.", name)
	}
	for _, a := range arns {
		if !strings.HasPrefix(a, "arn:aws:sns:") {
			return invalid("Invalid arn syntax: %s (the sandbox runs SNS topic actions only; %s accepts arn:aws:sns:<region>:<account>:<topic>).", a, name)
		}
	}
	return nil
}

func (s *Service) putMetricAlarm(_ context.Context, in map[string]any) (any, error) {
	name := str(in, "AlarmName")
	if name == "" {
		return nil, missing("AlarmName")
	}
	if len(name) > 255 {
		return nil, invalid("The parameter AlarmName must be shorter than 256 characters.")
	}
	a := &alarm{name: name, arn: s.AlarmARN(name), description: str(in, "AlarmDescription"), actionsEnabled: true, metric: map[string]any{}}
	if len(a.description) > 1024 {
		return nil, invalid("The parameter AlarmDescription must be shorter than 1025 characters.")
	}
	switch v := in["ActionsEnabled"].(type) {
	case bool:
		a.actionsEnabled = v
	case string:
		a.actionsEnabled = v != "false"
	}
	var err error
	for _, l := range []struct {
		name string
		to   *[]string
	}{{"OKActions", &a.okActions}, {"AlarmActions", &a.alarmActions}, {"InsufficientDataActions", &a.insufficientActions}} {
		if *l.to, err = stringList(in, l.name); err != nil {
			return nil, err
		}
		if err := checkActions(l.name, *l.to); err != nil {
			return nil, err
		}
	}
	for _, f := range metricFields {
		if v, ok := in[f]; ok && v != nil {
			a.metric[f] = v
		}
	}
	if err := checkMetric(in, a.metric); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	summary := fmt.Sprintf("Alarm %q created", name)
	if old := s.alarms[name]; old != nil {
		// An update keeps the state and the history; it replaces the configuration.
		a.state, a.reason, a.reasonData = old.state, old.reason, old.reasonData
		a.stateUpdated, a.transitioned, a.history = old.stateUpdated, old.transitioned, old.history
		summary = fmt.Sprintf("Alarm %q updated", name)
	} else {
		a.state, a.reason = StateInsufficientData, "Unchecked: Initial alarm creation"
		a.stateUpdated, a.transitioned = now, now
	}
	a.configUpdated = now
	a.history = append(a.history, HistoryItem{Timestamp: now, Type: "ConfigurationUpdate", Summary: summary})
	s.alarms[name] = a
	return nil, nil
}

// checkMetric applies PutMetricAlarm's rules on the metric fields, normalizing numbers given as
// strings (the Query protocol's) to int64 and float64.
func checkMetric(in, m map[string]any) error {
	for _, f := range []string{"Period", "EvaluationPeriods", "DatapointsToAlarm"} {
		n, ok, err := integer(in, f)
		if err != nil {
			return err
		}
		if ok {
			m[f] = n
		}
	}
	switch v := in["Threshold"].(type) {
	case int64:
		m["Threshold"] = float64(v)
	case string:
		t, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return invalid("The parameter Threshold must be a number.")
		}
		m["Threshold"] = t
	}
	// Metric data queries given as Query parameters carry their numbers and booleans as strings.
	queries, _ := m["Metrics"].([]any)
	for _, q := range queries {
		qm, _ := q.(map[string]any)
		if v, ok := qm["ReturnData"].(string); ok {
			qm["ReturnData"] = v == "true"
		}
		ms, _ := qm["MetricStat"].(map[string]any)
		for _, holder := range []map[string]any{qm, ms} {
			if n, ok, err := integer(holder, "Period"); err != nil {
				return err
			} else if ok {
				holder["Period"] = n
			}
		}
	}
	if n, _ := m["EvaluationPeriods"].(int64); n < 1 {
		return missing("EvaluationPeriods")
	}
	op := str(in, "ComparisonOperator")
	if op == "" {
		return missing("ComparisonOperator")
	}
	if !slices.Contains(comparisons, op) {
		return invalid("The parameter ComparisonOperator must be one of %s.", strings.Join(comparisons, ", "))
	}
	_, hasMetrics := m["Metrics"]
	_, hasName := m["MetricName"]
	switch {
	case hasMetrics && hasName:
		return invalid("Metrics list and MetricName cannot be specified at the same time.")
	case !hasMetrics && !hasName:
		return missing("MetricName")
	case hasName && str(in, "Namespace") == "":
		return missing("Namespace")
	case hasName && str(in, "Statistic") == "" && str(in, "ExtendedStatistic") == "":
		return invalid("Either the Statistic or the ExtendedStatistic parameter must be specified.")
	}
	if _, ok := m["Threshold"]; !ok && str(in, "ThresholdMetricId") == "" {
		return missing("Threshold")
	}
	return nil
}

// describe is the alarm as DescribeAlarms answers it (a MetricAlarm).
func (a *alarm) describe() map[string]any {
	out := map[string]any{
		"AlarmName": a.name, "AlarmArn": a.arn, "ActionsEnabled": a.actionsEnabled,
		"OKActions": nonNil(a.okActions), "AlarmActions": nonNil(a.alarmActions),
		"InsufficientDataActions": nonNil(a.insufficientActions),
		"StateValue":              a.state, "StateReason": a.reason,
		"AlarmConfigurationUpdatedTimestamp": a.configUpdated, "StateUpdatedTimestamp": a.stateUpdated,
		"StateTransitionedTimestamp": a.transitioned,
	}
	if a.description != "" {
		out["AlarmDescription"] = a.description
	}
	if a.reasonData != "" {
		out["StateReasonData"] = a.reasonData
	}
	for k, v := range a.metric {
		out[k] = v
	}
	return out
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

const maxRecordsDefault, maxRecordsLimit = 50, 100

func (s *Service) describeAlarms(_ context.Context, in map[string]any) (any, error) {
	names, err := stringList(in, "AlarmNames")
	if err != nil {
		return nil, err
	}
	prefix, state, actionPrefix := str(in, "AlarmNamePrefix"), str(in, "StateValue"), str(in, "ActionPrefix")
	if prefix != "" && len(names) > 0 {
		return nil, invalid("AlarmNamePrefix and AlarmNames cannot be specified at the same time.")
	}
	if state != "" && !slices.Contains([]string{StateOK, StateAlarm, StateInsufficientData}, state) {
		return nil, invalid("The parameter StateValue must be one of OK, ALARM, INSUFFICIENT_DATA.")
	}
	if types, _ := stringList(in, "AlarmTypes"); len(types) > 0 && !slices.Contains(types, "MetricAlarm") {
		return map[string]any{"MetricAlarms": []any{}, "CompositeAlarms": []any{}}, nil
	}
	limit, ok, err := integer(in, "MaxRecords")
	if err != nil {
		return nil, err
	}
	if !ok {
		limit = maxRecordsDefault
	}
	if limit < 1 || limit > maxRecordsLimit {
		return nil, invalid("The parameter MaxRecords must be between 1 and %d.", maxRecordsLimit)
	}
	s.mu.Lock()
	var matched []*alarm
	for _, a := range s.alarms {
		switch {
		case len(names) > 0 && !slices.Contains(names, a.name),
			prefix != "" && !strings.HasPrefix(a.name, prefix),
			state != "" && a.state != state:
			continue
		}
		if actionPrefix != "" && !slices.ContainsFunc(slices.Concat(a.okActions, a.alarmActions, a.insufficientActions),
			func(x string) bool { return strings.HasPrefix(x, actionPrefix) }) {
			continue
		}
		matched = append(matched, a)
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].name < matched[j].name })
	start := 0
	if tok := str(in, "NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(matched) {
			s.mu.Unlock()
			return nil, core.Errorf("InvalidNextToken", "The service couldn't process your request because the NextToken value is not valid.")
		}
		start = n
	}
	end := min(start+int(limit), len(matched))
	list := make([]any, 0, end-start)
	for _, a := range matched[start:end] {
		list = append(list, a.describe())
	}
	s.mu.Unlock()
	out := map[string]any{"MetricAlarms": list, "CompositeAlarms": []any{}}
	if end < len(matched) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Service) deleteAlarms(_ context.Context, in map[string]any) (any, error) {
	names, err := stringList(in, "AlarmNames")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, missing("AlarmNames")
	}
	if len(names) > 100 {
		return nil, invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var absent []string
	for _, n := range names {
		if s.alarms[n] == nil {
			absent = append(absent, n)
		}
	}
	if len(absent) > 0 {
		// As CloudWatch: an error deletes none of them.
		return nil, notFound("%d/%d alarms not found: %s", len(absent), len(names), strings.Join(absent, ", "))
	}
	for _, n := range names {
		delete(s.alarms, n)
	}
	return nil, nil
}

// SetAlarmState sets the state of the alarm named name, as the wire operation does, and runs the
// new state's actions when the state changes (the demo uses it as an operator testing an alarm).
func (s *Service) SetAlarmState(ctx context.Context, name, state, reason string) error {
	_, err := s.setAlarmState(ctx, map[string]any{"AlarmName": name, "StateValue": state, "StateReason": reason})
	return err
}

func (s *Service) setAlarmState(ctx context.Context, in map[string]any) (any, error) {
	name, state, reason, data := str(in, "AlarmName"), str(in, "StateValue"), str(in, "StateReason"), str(in, "StateReasonData")
	switch {
	case name == "":
		return nil, missing("AlarmName")
	case state == "":
		return nil, missing("StateValue")
	case reason == "":
		return nil, missing("StateReason")
	case !slices.Contains([]string{StateOK, StateAlarm, StateInsufficientData}, state):
		return nil, invalid("The parameter StateValue must be one of OK, ALARM, INSUFFICIENT_DATA.")
	case len(reason) > 1023:
		return nil, invalid("The parameter StateReason must be shorter than 1024 characters.")
	case data != "" && !json.Valid([]byte(data)):
		return nil, core.Errorf("InvalidFormat", "StateReasonData is not valid JSON.")
	}
	now := s.clock.Now()
	s.mu.Lock()
	a := s.alarms[name]
	if a == nil {
		s.mu.Unlock()
		return nil, notFound("Alarm %s not found", name)
	}
	old := a.state
	a.state, a.reason, a.reasonData, a.stateUpdated = state, reason, data, now
	a.history = append(a.history, HistoryItem{Timestamp: now, Type: "StateUpdate",
		Summary: fmt.Sprintf("Alarm updated from %s to %s", old, state)})
	if old == state {
		s.mu.Unlock()
		return nil, nil
	}
	a.transitioned = now
	var actions []string
	if a.actionsEnabled {
		actions = map[string][]string{StateOK: a.okActions, StateAlarm: a.alarmActions, StateInsufficientData: a.insufficientActions}[state]
	}
	subject, message := s.notification(a, old, now)
	arn, authorize := a.arn, s.authorize
	s.mu.Unlock()
	// Actions run outside the lock: a publisher judged by IAM may take a while, and must not hold
	// other alarms' calls.
	for _, topic := range actions {
		item := HistoryItem{Timestamp: s.clock.Now(), Type: "Action", Summary: "Successfully executed action " + topic}
		err := s.runAction(ctx, authorize, arn, topic, subject, message)
		if err != nil {
			item.Summary = "Failed to execute action " + topic
			b, _ := json.Marshal(map[string]string{"actionState": "Failed", "notificationResource": topic, "error": err.Error()})
			item.Data = string(b)
		}
		s.mu.Lock()
		if cur := s.alarms[name]; cur != nil {
			cur.history = append(cur.history, item)
		}
		s.mu.Unlock()
	}
	return nil, nil
}

// runAction publishes one SNS action's notification, judged by authorize first when set.
func (s *Service) runAction(ctx context.Context, authorize PublishAuthorizer, alarmARN, topic, subject, message string) error {
	if s.publish == nil {
		return fmt.Errorf("no SNS publisher is wired to this CloudWatch (cloudwatch.New's publish)")
	}
	if authorize != nil {
		if err := authorize(ctx, alarmARN, topic); err != nil {
			return err
		}
	}
	return s.publish(ctx, topic, subject, message)
}
