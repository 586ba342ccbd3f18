package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Integration runs one aws-sdk integration action with the task's parameters. A *core.Error is
// reported to the state machine as "<ErrorPrefix>.<Code>", as Step Functions names SDK errors.
type Integration struct {
	ErrorPrefix string
	Call        func(ctx context.Context, params json.RawMessage) (json.RawMessage, error)
	// Service and Operation name the call for authorization (a sandbox service id and operation).
	Service, Operation string
}

// TaskCall is a call a Task state makes with the state machine's role, for authorization: a Lambda
// invocation (Service "lambda", Operation "Invoke", FunctionName) or an aws-sdk integration's
// operation with its JSON parameters.
type TaskCall struct {
	// RoleARN is the state machine's role; Session names the role session (the execution's name).
	RoleARN, Session   string
	Service, Operation string
	FunctionName       string
	Params             json.RawMessage
}

// Authorizer decides whether a task may make its call; a non-nil *core.Error refuses it, and the
// task fails with it as Step Functions names a service error (Lambda.<Code>, <Prefix>.<Code>).
type Authorizer func(ctx context.Context, call TaskCall) *core.Error

// StatusChange is the EventBridge event Step Functions emits when an execution's status changes.
type StatusChange struct {
	Source     string         `json:"source"`
	DetailType string         `json:"detail-type"`
	Resources  []string       `json:"resources"`
	Time       time.Time      `json:"time"`
	Detail     map[string]any `json:"detail"`
}

// Service is the emulated Step Functions.
type Service struct {
	core.JSONProtocol
	clock  core.Clock
	lambda core.LambdaInvoker
	core.Place

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	integrations map[string]Integration // "secretsmanager:describeSecret"
	onStatus     func(StatusChange)
	authorize    Authorizer
	// authorizeLogging and writeLogs are SetLogging's.
	authorizeLogging LoggingAuthorizer
	writeLogs        LogWriter
	machines         map[string]*machine   // by ARN
	executions       map[string]*execution // by ARN
}

type machine struct {
	arn, name, definition, roleArn, typ string
	def                                 *asl.Definition
	created                             time.Time
	logging                             *LoggingConfiguration
}

type execution struct {
	arn, name, input string
	machine          *machine
	run              *asl.Execution
}

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the region used in ARNs (default us-east-1).
func WithRegion(r string) Option { return core.WithRegion[Service](r) }

// WithAccount sets the account used in ARNs (default 123456789012).
func WithAccount(a string) Option { return core.WithAccount[Service](a) }

// New returns a Step Functions service whose tasks invoke functions through lambda.
func New(clock core.Clock, lambda core.LambdaInvoker, opts ...Option) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{JSONProtocol: identity, clock: clock, lambda: lambda, Place: core.DefaultPlace, ctx: ctx, cancel: cancel,
		integrations: map[string]Integration{}, machines: map[string]*machine{}, executions: map[string]*execution{}}
	return core.Configure(s, opts)
}

// Close aborts every running execution and waits for them to end.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// OnStatusChange sets the hook called (in its own goroutine's order, one call at a time per
// execution) with each execution status change.
func (s *Service) OnStatusChange(f func(StatusChange)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onStatus = f
}

// SetAuthorizer makes every task call pass authorize first, as Step Functions makes them with the
// state machine's role; nil (the default) authorizes everything.
func (s *Service) SetAuthorizer(authorize Authorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = authorize
}

// AddIntegration makes arn:aws:states:::aws-sdk:<service>:<action> runnable.
func (s *Service) AddIntegration(service, action string, in Integration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.integrations[service+":"+action] = in
}

// AddJSONService makes every operation of a JSON-protocol service an aws-sdk integration: the
// action is the operation name with a lower-case first letter, the parameters its JSON input.
func (s *Service) AddJSONService(sdkService string, svc core.JSONService, errorPrefix string) {
	for op, fn := range svc.Operations() {
		action := strings.ToLower(op[:1]) + op[1:]
		s.AddIntegration(sdkService, action, Integration{ErrorPrefix: errorPrefix, Service: svc.ServiceID(), Operation: op, Call: func(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
			out, err := fn(ctx, params)
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}})
	}
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateStateMachine":             core.Handler(s.createStateMachine),
		"DescribeStateMachine":           core.Handler(s.describeStateMachine),
		"DeleteStateMachine":             core.Handler(s.deleteStateMachine),
		"ListStateMachines":              core.Handler(s.listStateMachines),
		"StartExecution":                 core.Handler(s.startExecution),
		"DescribeExecution":              core.Handler(s.describeExecution),
		"StopExecution":                  core.Handler(s.stopExecution),
		"ListExecutions":                 core.Handler(s.listExecutions),
		"GetExecutionHistory":            core.Handler(s.getExecutionHistory),
		"ValidateStateMachineDefinition": core.Handler(s.validateDefinition),
	}
}

// identity is how Step Functions is addressed on the wire.
var identity = core.NewJSONProtocol("states", "AWSStepFunctions", "1.0")

var _ core.JSONService = (*Service)(nil)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (s *Service) machineARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.Region(), s.Account(), name)
}

func (s *Service) executionARN(machine, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", s.Region(), s.Account(), machine, name)
}

// parseDefinition validates a definition, including that every aws-sdk resource is runnable here.
func (s *Service) parseDefinition(text string) (*asl.Definition, []asl.Diagnostic) {
	def, err := asl.Parse([]byte(text))
	if err != nil {
		var verr *asl.ValidationError
		if errors.As(err, &verr) {
			return nil, verr.Diagnostics
		}
		return nil, []asl.Diagnostic{{Code: "SCHEMA_VALIDATION_FAILED", Message: err.Error(), Location: "/"}}
	}
	var diags []asl.Diagnostic
	s.mu.Lock()
	walkStates(def, "", func(loc string, st *asl.State) {
		if st.Type != "Task" || asl.ResourceKind(st.Resource) != "aws-sdk" {
			return
		}
		parts := strings.Split(st.Resource, ":")
		key := parts[len(parts)-2] + ":" + parts[len(parts)-1]
		if _, ok := s.integrations[key]; !ok {
			diags = append(diags, asl.Diagnostic{Code: "INVALID_RESOURCE", Location: loc + "/Resource",
				Message: fmt.Sprintf("the sandbox has no integration for %s (state %s); the platform registers integrations with AddIntegration or AddJSONService", st.Resource, st.Name)})
		}
	})
	s.mu.Unlock()
	return def, diags
}

func walkStates(def *asl.Definition, loc string, visit func(loc string, st *asl.State)) {
	for _, name := range def.Order {
		st := def.States[name]
		sl := loc + "/States/" + name
		visit(sl, st)
		for i, b := range st.Branches {
			walkStates(b, fmt.Sprintf("%s/Branches[%d]", sl, i), visit)
		}
		if st.Processor != nil {
			walkStates(st.Processor, sl+"/ItemProcessor", visit)
		}
	}
}

func invalidDefinition(diags []asl.Diagnostic) *core.Error {
	var parts []string
	for _, d := range diags {
		parts = append(parts, fmt.Sprintf("%s: %s at %s", d.Code, d.Message, d.Location))
	}
	return core.Errorf("InvalidDefinition", "Invalid State Machine Definition: '%s'", strings.Join(parts, ", "))
}

type createInput struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	RoleArn    string `json:"roleArn"`
	Type       string `json:"type"`
	// LoggingConfiguration is checked (checkLogging) before the machine is created.
	LoggingConfiguration *LoggingConfiguration `json:"loggingConfiguration"`
}

func (s *Service) createStateMachine(ctx context.Context, in createInput) (any, error) {
	if err := s.checkLogging(ctx, in.Name, in.RoleArn, in.LoggingConfiguration); err != nil {
		return nil, err
	}
	arn, created, err := s.Create(in.Name, in.Definition, in.RoleArn, in.Type)
	if err != nil {
		return nil, err
	}
	if in.LoggingConfiguration != nil {
		s.mu.Lock()
		s.machines[arn].logging = in.LoggingConfiguration
		s.mu.Unlock()
	}
	return map[string]any{"stateMachineArn": arn, "creationDate": core.EpochTime(created)}, nil
}

// Create registers a state machine, as CreateStateMachine does: a machine of the same name with
// the same definition and role is returned as it is; a different one is StateMachineAlreadyExists.
func (s *Service) Create(name, definition, roleArn, typ string) (string, time.Time, error) {
	if !nameRE.MatchString(name) {
		return "", time.Time{}, core.Errorf("InvalidName", "Invalid Name: '%s' (1-80 characters: letters, digits, '-' and '_')", name)
	}
	if typ == "" {
		typ = "STANDARD"
	}
	if typ != "STANDARD" {
		return "", time.Time{}, core.Errorf("ValidationException", "type %q is not supported by the sandbox; use STANDARD", typ)
	}
	if !strings.HasPrefix(roleArn, "arn:aws:iam::") {
		return "", time.Time{}, core.Errorf("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", roleArn)
	}
	def, diags := s.parseDefinition(definition)
	if len(diags) > 0 {
		return "", time.Time{}, invalidDefinition(diags)
	}
	arn := s.machineARN(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.machines[arn]; ok {
		if m.definition == definition && m.roleArn == roleArn {
			return arn, m.created, nil
		}
		return "", time.Time{}, core.Errorf("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn)
	}
	m := &machine{arn: arn, name: name, definition: definition, roleArn: roleArn, typ: typ, def: def, created: s.clock.Now()}
	s.machines[arn] = m
	return arn, m.created, nil
}

type arnInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	ExecutionArn    string `json:"executionArn"`
}

func (s *Service) machine(arn string) (*machine, error) {
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":stateMachine:") {
		return nil, core.Errorf("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.machines[arn]
	if !ok {
		return nil, core.Errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	return m, nil
}

// Machine returns a state machine's name and role, for in-process callers.
func (s *Service) Machine(arn string) (name, roleArn string, err error) {
	m, err := s.machine(arn)
	if err != nil {
		return "", "", err
	}
	return m.name, m.roleArn, nil
}

func (s *Service) describeStateMachine(_ context.Context, in arnInput) (any, error) {
	m, err := s.machine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	var logging any = map[string]any{"level": "OFF", "includeExecutionData": false}
	s.mu.Lock()
	if m.logging != nil {
		logging = m.logging
	}
	s.mu.Unlock()
	return map[string]any{
		"stateMachineArn": m.arn, "name": m.name, "status": "ACTIVE", "definition": m.definition,
		"roleArn": m.roleArn, "type": m.typ, "creationDate": core.EpochTime(m.created),
		"loggingConfiguration": logging,
	}, nil
}

func (s *Service) deleteStateMachine(_ context.Context, in arnInput) (any, error) {
	if _, err := s.machine(in.StateMachineArn); err != nil {
		var cerr *core.Error
		if errors.As(err, &cerr) && cerr.Code == "StateMachineDoesNotExist" {
			return map[string]any{}, nil // deleting a deleted machine succeeds
		}
		return nil, err
	}
	s.mu.Lock()
	delete(s.machines, in.StateMachineArn)
	s.mu.Unlock()
	return map[string]any{}, nil
}

type listInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	StatusFilter    string  `json:"statusFilter"`
	MaxResults      int     `json:"maxResults"`
	NextToken       *string `json:"nextToken"`
}

func (s *Service) listStateMachines(_ context.Context, in listInput) (any, error) {
	s.mu.Lock()
	var items []map[string]any
	for _, m := range s.machines {
		items = append(items, map[string]any{"stateMachineArn": m.arn, "name": m.name, "type": m.typ, "creationDate": core.EpochTime(m.created)})
	}
	s.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i]["name"].(string) < items[j]["name"].(string) })
	return page("stateMachines", items, in.MaxResults, in.NextToken)
}

// page cuts a list for maxResults/nextToken pagination (default and maximum 1000, as the API).
func page[T any](key string, items []T, maxResults int, token *string) (any, error) {
	start := 0
	if token != nil && *token != "" {
		n, err := strconv.Atoi(*token)
		if err != nil || n < 0 || n > len(items) {
			return nil, core.Errorf("InvalidToken", "Invalid Token: '%s'", *token)
		}
		start = n
	}
	if maxResults < 0 || maxResults > 1000 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", maxResults)
	}
	if maxResults == 0 {
		maxResults = 100
	}
	end := min(start+maxResults, len(items))
	out := map[string]any{key: items[start:end]}
	if items == nil {
		out[key] = []T{}
	}
	if end < len(items) {
		out["nextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

type startInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
}

func (s *Service) startExecution(_ context.Context, in startInput) (any, error) {
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	arn, start, err := s.Start(in.StateMachineArn, in.Name, input)
	if err != nil {
		return nil, err
	}
	return map[string]any{"executionArn": arn, "startDate": core.EpochTime(start)}, nil
}

// Start begins an execution. The same name with the same input while it runs returns the running
// execution (StartExecution is idempotent); otherwise a reused name is ExecutionAlreadyExists.
func (s *Service) Start(machineArn, name, input string) (string, time.Time, error) {
	m, err := s.machine(machineArn)
	if err != nil {
		return "", time.Time{}, err
	}
	if len(input) > asl.MaxPayloadBytes {
		return "", time.Time{}, core.Errorf("InvalidExecutionInput", "Invalid execution input: the input is %d bytes; the limit is %d", len(input), asl.MaxPayloadBytes)
	}
	value, err := asl.ParseJSON([]byte(input))
	if err != nil {
		return "", time.Time{}, core.Errorf("InvalidExecutionInput", "Invalid execution input: the input is not JSON: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		name = core.NewUUID() // StartExecution without a name gets a UUID, as in AWS
	}
	if !nameRE.MatchString(name) {
		return "", time.Time{}, core.Errorf("InvalidName", "Invalid Name: '%s' (1-80 characters: letters, digits, '-' and '_')", name)
	}
	arn := s.executionARN(m.name, name)
	if prev, ok := s.executions[arn]; ok {
		if prev.run.Result() == nil && prev.input == input {
			return arn, prev.run.StartDate(), nil
		}
		return "", time.Time{}, core.Errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	ex := &execution{arn: arn, name: name, input: input, machine: m}
	ex.run = asl.Start(s.ctx, m.def, value, asl.Options{
		Clock: s.clock, Invoker: &invoker{s: s, role: m.roleArn, session: name},
		ExecutionARN: arn, ExecutionName: name, StateMachineARN: m.arn, StateMachineName: m.name,
		RoleARN: m.roleArn, Region: s.Region(),
	})
	s.executions[arn] = ex
	hook := s.onStatus
	s.wg.Add(1)
	running := s.statusChange(ex, nil)
	go func() {
		defer s.wg.Done()
		if hook != nil {
			hook(running)
		}
		<-ex.run.Done()
		s.logExecution(ex)
		if hook != nil {
			hook(s.statusChange(ex, ex.run.Result()))
		}
	}()
	return arn, ex.run.StartDate(), nil
}

func (s *Service) execution(arn string) (*execution, error) {
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":execution:") {
		return nil, core.Errorf("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ex, ok := s.executions[arn]
	if !ok {
		return nil, core.Errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return ex, nil
}

// describe is DescribeExecution's output for an execution.
func (s *Service) describe(ex *execution) map[string]any {
	out := map[string]any{
		"executionArn": ex.arn, "stateMachineArn": ex.machine.arn, "name": ex.name, "status": asl.StatusRunning,
		"startDate": core.EpochTime(ex.run.StartDate()), "input": ex.input,
		"inputDetails": map[string]any{"included": true}, "redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE",
	}
	if res := ex.run.Result(); res != nil {
		out["status"] = res.Status
		out["stopDate"] = core.EpochTime(res.StopDate)
		if res.Status == asl.StatusSucceeded {
			out["output"] = res.OutputJSON
			out["outputDetails"] = map[string]any{"included": true}
		}
		if res.Error != "" {
			out["error"] = res.Error
		}
		if res.Cause != "" {
			out["cause"] = res.Cause
		}
	}
	return out
}

func (s *Service) describeExecution(_ context.Context, in arnInput) (any, error) {
	ex, err := s.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	return s.describe(ex), nil
}

// Describe returns DescribeExecution's fields for an execution, for in-process callers.
func (s *Service) Describe(arn string) (map[string]any, error) {
	ex, err := s.execution(arn)
	if err != nil {
		return nil, err
	}
	return s.describe(ex), nil
}

// Wait blocks until the execution ends or ctx is done.
func (s *Service) Wait(ctx context.Context, arn string) (*asl.Result, error) {
	ex, err := s.execution(arn)
	if err != nil {
		return nil, err
	}
	select {
	case <-ex.run.Done():
		return ex.run.Result(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type stopInput struct {
	ExecutionArn string `json:"executionArn"`
	Error        string `json:"error"`
	Cause        string `json:"cause"`
}

func (s *Service) stopExecution(ctx context.Context, in stopInput) (any, error) {
	ex, err := s.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if ex.run.Result() == nil {
		ex.run.Stop(in.Error, in.Cause)
		select {
		case <-ex.run.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return map[string]any{"stopDate": core.EpochTime(ex.run.Result().StopDate)}, nil
}

func (s *Service) listExecutions(_ context.Context, in listInput) (any, error) {
	if _, err := s.machine(in.StateMachineArn); err != nil {
		return nil, err
	}
	switch in.StatusFilter {
	case "", asl.StatusRunning, asl.StatusSucceeded, asl.StatusFailed, asl.StatusTimedOut, asl.StatusAborted, "PENDING_REDRIVE":
	default:
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]", in.StatusFilter)
	}
	s.mu.Lock()
	var list []*execution
	for _, ex := range s.executions {
		if ex.machine.arn == in.StateMachineArn {
			list = append(list, ex)
		}
	}
	s.mu.Unlock()
	// Newest first, as the API lists them.
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i].run.StartDate(), list[j].run.StartDate()
		if a.Equal(b) {
			return list[i].arn > list[j].arn
		}
		return a.After(b)
	})
	var items []map[string]any
	for _, ex := range list {
		d := s.describe(ex)
		if in.StatusFilter != "" && d["status"] != in.StatusFilter {
			continue
		}
		item := map[string]any{"executionArn": d["executionArn"], "stateMachineArn": d["stateMachineArn"], "name": d["name"], "status": d["status"], "startDate": d["startDate"]}
		if v, ok := d["stopDate"]; ok {
			item["stopDate"] = v
		}
		items = append(items, item)
	}
	return page("executions", items, in.MaxResults, in.NextToken)
}

type historyInput struct {
	ExecutionArn         string  `json:"executionArn"`
	MaxResults           int     `json:"maxResults"`
	NextToken            *string `json:"nextToken"`
	ReverseOrder         bool    `json:"reverseOrder"`
	IncludeExecutionData *bool   `json:"includeExecutionData"`
}

func (s *Service) getExecutionHistory(_ context.Context, in historyInput) (any, error) {
	ex, err := s.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	events := ex.run.Events()
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	withData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	items := make([]map[string]any, 0, len(events))
	for _, e := range events {
		items = append(items, historyEvent(e, withData))
	}
	return page("events", items, in.MaxResults, in.NextToken)
}

// historyEvent is an event as GetExecutionHistory sends it. Without execution data, inputs,
// outputs and parameters are left out, as includeExecutionData=false does.
func historyEvent(e asl.Event, withData bool) map[string]any {
	out := map[string]any{"id": e.ID, "previousEventId": e.PreviousEventID, "timestamp": core.EpochTime(e.Timestamp), "type": e.Type}
	if e.DetailsKey != "" {
		d := make(map[string]any, len(e.Details))
		for k, v := range e.Details {
			if !withData && (k == "input" || k == "output" || k == "parameters") {
				continue
			}
			d[k] = v
		}
		out[e.DetailsKey] = d
	}
	return out
}

// History returns an execution's events, for in-process callers.
func (s *Service) History(arn string) ([]asl.Event, error) {
	ex, err := s.execution(arn)
	if err != nil {
		return nil, err
	}
	return ex.run.Events(), nil
}

type validateDefinitionInput struct {
	Definition string `json:"definition"`
	Type       string `json:"type"`
}

func (s *Service) validateDefinition(_ context.Context, in validateDefinitionInput) (any, error) {
	_, diags := s.parseDefinition(in.Definition)
	out := []map[string]any{}
	for _, d := range diags {
		out = append(out, map[string]any{"severity": "ERROR", "code": d.Code, "message": d.Message, "location": d.Location})
	}
	result := "OK"
	if len(diags) > 0 {
		result = "FAIL"
	}
	return map[string]any{"result": result, "diagnostics": out, "truncated": false}, nil
}

// statusChange builds the EventBridge event for an execution that is RUNNING (res nil) or has
// ended with res.
func (s *Service) statusChange(ex *execution, res *asl.Result) StatusChange {
	status := asl.StatusRunning
	if res != nil {
		status = res.Status
	}
	detail := map[string]any{
		"executionArn": ex.arn, "stateMachineArn": ex.machine.arn, "name": ex.name, "status": status,
		"startDate": ex.run.StartDate().UnixMilli(), "stopDate": nil, "input": ex.input,
		"inputDetails": map[string]any{"included": true}, "output": nil, "outputDetails": nil, "error": nil, "cause": nil,
	}
	now := ex.run.StartDate()
	if res != nil {
		now = res.StopDate
		detail["stopDate"] = res.StopDate.UnixMilli()
		if res.Status == asl.StatusSucceeded {
			detail["output"] = res.OutputJSON
			detail["outputDetails"] = map[string]any{"included": true}
		}
		if res.Error != "" {
			detail["error"] = res.Error
		}
		if res.Cause != "" {
			detail["cause"] = res.Cause
		}
	}
	return StatusChange{Source: "aws.states", DetailType: "Step Functions Execution Status Change", Resources: []string{ex.arn}, Time: now.UTC(), Detail: detail}
}
