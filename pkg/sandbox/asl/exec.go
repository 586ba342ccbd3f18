package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Invoker runs Task resources. For a Lambda function ARN it receives the ARN and the state's
// effective input; for arn:aws:states:::lambda:invoke it receives the FunctionName parameter and
// the Payload parameter (the interpreter builds the integration's wrapped result); for
// arn:aws:states:::aws-sdk:<service>:<action> it receives the resource ARN and the parameters.
//
// A task failure is returned as *Failure, whose Name is what Retry and Catch match (a Lambda
// function's errorType, or Lambda.ResourceNotFoundException, SecretsManager.<Exception>, ...).
// Any other error is reported as States.TaskFailed with the error's text as the cause. The
// returned value may be any JSON-marshalable Go value or a json.RawMessage.
type Invoker interface {
	Invoke(ctx context.Context, resource string, input any) (any, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, resource string, input any) (any, error)

// Invoke implements Invoker.
func (f InvokerFunc) Invoke(ctx context.Context, resource string, input any) (any, error) {
	return f(ctx, resource, input)
}

// Options identify an execution and provide its dependencies.
type Options struct {
	// Clock drives Wait states, retry intervals and timeouts. Required.
	Clock core.Clock
	// Invoker runs Task states. Required when the machine has Task states.
	Invoker Invoker

	ExecutionARN, ExecutionName       string
	StateMachineARN, StateMachineName string
	RoleARN, Region                   string

	// OnEvent, when set, sees each history event as it is recorded, in order.
	OnEvent func(Event)
	// RequestID makes the RequestId of a lambda:invoke result; a random UUID when nil.
	RequestID func() string
	// MaxEvents caps the history; the execution fails when it is reached (AWS: 25,000).
	MaxEvents int
}

// Execution statuses, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// MaxPayloadBytes is Step Functions' limit on a state's input or output (256 KiB).
const MaxPayloadBytes = 256 * 1024

// Result is how an execution ended.
type Result struct {
	Status string
	// Output is the final output (SUCCEEDED only) and OutputJSON its text.
	Output     any
	OutputJSON string
	// Error and Cause say why a FAILED, TIMED_OUT or ABORTED execution ended.
	Error, Cause string
	StartDate    time.Time
	StopDate     time.Time
}

// Execution is a running (or finished) state machine execution.
type Execution struct {
	def    *Definition
	opts   Options
	input  any
	start  time.Time
	ctx    context.Context
	cancel context.CancelCauseFunc

	// deadline is the machine's TimeoutSeconds in sandbox time (zero when none). Sleeps that would
	// run past it end at it with a timeout, so the outcome never depends on which of two timers
	// the scheduler runs first.
	deadline time.Time

	mu     sync.Mutex
	events []Event
	result *Result
	done   chan struct{}
}

// sleep waits d of sandbox time, or until the machine's deadline, which times the execution out.
func (e *Execution) sleep(ctx context.Context, d time.Duration) error {
	if !e.deadline.IsZero() {
		if left := e.deadline.Sub(e.opts.Clock.Now()); d >= left {
			if left > 0 {
				if err := e.opts.Clock.Sleep(ctx, left); err != nil {
					return err
				}
			}
			e.cancel(errMachineTimeout)
			return errMachineTimeout
		}
	}
	return e.opts.Clock.Sleep(ctx, d)
}

type stopCause struct{ err, cause string }

func (s *stopCause) Error() string { return "aborted: " + s.err }

var (
	errMachineTimeout = errors.New("execution timed out")
	errHistoryLimit   = errors.New("history limit reached")
)

// Start begins an execution in its own goroutine and returns at once. The execution ends on its
// own, when parent is cancelled (ABORTED), when Stop is called, or at the machine's
// TimeoutSeconds (TIMED_OUT).
func Start(parent context.Context, def *Definition, input any, opts Options) *Execution {
	if opts.MaxEvents == 0 {
		opts.MaxEvents = 25000
	}
	ctx, cancel := context.WithCancelCause(parent)
	e := &Execution{def: def, opts: opts, input: input, ctx: ctx, cancel: cancel, done: make(chan struct{}), start: opts.Clock.Now()}
	e.emit(&thread{}, "ExecutionStarted", map[string]any{
		"input": MustString(input), "inputDetails": map[string]any{"truncated": false}, "roleArn": opts.RoleARN,
	})
	go e.run()
	return e
}

// Run runs an execution to its end.
func Run(ctx context.Context, def *Definition, input any, opts Options) (*Result, []Event) {
	e := Start(ctx, def, input, opts)
	<-e.Done()
	return e.Result(), e.Events()
}

// Stop aborts a running execution (StopExecution) with an optional error and cause.
func (e *Execution) Stop(errName, cause string) {
	e.cancel(&stopCause{err: errName, cause: cause})
}

// Done is closed when the execution has ended.
func (e *Execution) Done() <-chan struct{} { return e.done }

// Result is the outcome, or nil while running.
func (e *Execution) Result() *Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.result
}

// Events returns a copy of the history so far.
func (e *Execution) Events() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

// StartDate is when the execution started, on the clock.
func (e *Execution) StartDate() time.Time { return e.start }

func (e *Execution) emit(th *thread, typ string, details map[string]any) int64 {
	e.mu.Lock()
	if e.result != nil {
		e.mu.Unlock()
		return th.last
	}
	if len(e.events) >= e.opts.MaxEvents && !strings.HasPrefix(typ, "Execution") {
		e.mu.Unlock()
		e.cancel(errHistoryLimit)
		return th.last
	}
	ev := Event{ID: int64(len(e.events) + 1), PreviousEventID: th.last, Timestamp: e.opts.Clock.Now(), Type: typ, Details: details}
	if details != nil {
		ev.DetailsKey = DetailsKeyFor(typ)
	}
	e.events = append(e.events, ev)
	th.last = ev.ID
	e.mu.Unlock()
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(ev)
	}
	return ev.ID
}

func (e *Execution) run() {
	defer close(e.done)
	defer e.cancel(nil)
	if e.def.TimeoutSeconds > 0 {
		e.deadline = e.start.Add(time.Duration(e.def.TimeoutSeconds) * time.Second)
		stop := e.opts.Clock.AfterFunc(time.Duration(e.def.TimeoutSeconds)*time.Second, func() { e.cancel(errMachineTimeout) })
		defer stop()
	}
	th := &thread{last: 1}
	out, f := e.runMachine(e.ctx, th, e.def, e.input, nil)
	res := &Result{StartDate: e.start}
	var typ string
	var details map[string]any
	cause := context.Cause(e.ctx)
	switch {
	case f == nil && e.ctx.Err() == nil:
		text := MustString(out)
		res.Status, res.Output, res.OutputJSON = StatusSucceeded, out, text
		typ, details = "ExecutionSucceeded", payloadDetails("output", text)
	case errors.Is(cause, errMachineTimeout):
		res.Status, res.Error, res.Cause = StatusTimedOut, ErrTimeout, "The execution timed out after its TimeoutSeconds"
		typ, details = "ExecutionTimedOut", map[string]any{"error": res.Error, "cause": res.Cause}
	case errors.Is(cause, errHistoryLimit):
		res.Status, res.Error = StatusFailed, ErrRuntime
		res.Cause = fmt.Sprintf("The execution reached the maximum number of history events (%d)", e.opts.MaxEvents)
		typ, details = "ExecutionFailed", map[string]any{"error": res.Error, "cause": res.Cause}
	case e.ctx.Err() != nil:
		res.Status = StatusAborted
		var sc *stopCause
		if errors.As(cause, &sc) {
			res.Error, res.Cause = sc.err, sc.cause
		}
		typ, details = "ExecutionAborted", map[string]any{}
		if res.Error != "" {
			details["error"] = res.Error
		}
		if res.Cause != "" {
			details["cause"] = res.Cause
		}
	default:
		res.Status, res.Error, res.Cause = StatusFailed, f.Name, f.Cause
		typ, details = "ExecutionFailed", map[string]any{"error": f.Name, "cause": f.Cause}
	}
	res.StopDate = e.opts.Clock.Now()
	e.emit(th, typ, details)
	e.mu.Lock()
	e.result = res
	e.mu.Unlock()
}

// mapItem is $$.Map.Item inside a Map iteration.
type mapItem struct {
	index int
	value any
}

var errAborted = &Failure{Name: "States.Aborted", Cause: "the execution was stopped"}

func (e *Execution) runMachine(ctx context.Context, th *thread, def *Definition, input any, item *mapItem) (any, *Failure) {
	name, data := def.StartAt, input
	for {
		if ctx.Err() != nil {
			return nil, errAborted
		}
		st := def.States[name]
		out, next, end, f := e.runState(ctx, th, st, data, item)
		if f != nil {
			return nil, f
		}
		if end {
			return out, nil
		}
		name, data = next, out
	}
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// contextObject builds $$ for one state attempt (AWS's documented members and order).
func (e *Execution) contextObject(state string, entered time.Time, retries int, item *mapItem) *Object {
	ex := NewObject()
	ex.Set("Id", e.opts.ExecutionARN)
	ex.Set("Input", e.input)
	ex.Set("Name", e.opts.ExecutionName)
	ex.Set("RoleArn", e.opts.RoleARN)
	ex.Set("StartTime", timestamp(e.start))
	ex.Set("RedriveCount", 0.0)
	stObj := NewObject()
	stObj.Set("EnteredTime", timestamp(entered))
	stObj.Set("Name", state)
	stObj.Set("RetryCount", float64(retries))
	sm := NewObject()
	sm.Set("Id", e.opts.StateMachineARN)
	sm.Set("Name", e.opts.StateMachineName)
	c := NewObject()
	c.Set("Execution", ex)
	c.Set("State", stObj)
	c.Set("StateMachine", sm)
	if item != nil {
		it := NewObject()
		it.Set("Index", float64(item.index))
		it.Set("Value", item.value)
		m := NewObject()
		m.Set("Item", it)
		c.Set("Map", m)
	}
	return c
}

// runState runs one state with its Retry and Catch, recording its entered and exited events.
func (e *Execution) runState(ctx context.Context, th *thread, st *State, raw any, item *mapItem) (out any, next string, end bool, f *Failure) {
	entered := e.opts.Clock.Now()
	enteredID := e.emit(th, st.Type+"StateEntered", map[string]any{
		"name": st.Name, "input": MustString(raw), "inputDetails": map[string]any{"truncated": false},
	})
	counts := make([]int, len(st.Retry))
	retries := 0
	for {
		cobj := e.contextObject(st.Name, entered, retries, item)
		out, next, f = e.attempt(ctx, th, st, raw, cobj, item)
		if f == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, "", false, errAborted
		}
		if terminal(f.Name) {
			return nil, "", false, &Failure{Name: f.Name, Cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", st.Name, enteredID, f.Cause)}
		}
		if i := matchHandler(st.Retry, f); i >= 0 && counts[i] < st.Retry[i].MaxAttempts {
			r := st.Retry[i]
			secs := float64(r.IntervalSeconds) * math.Pow(r.BackoffRate, float64(counts[i]))
			if r.MaxDelaySeconds > 0 && secs > float64(r.MaxDelaySeconds) {
				secs = float64(r.MaxDelaySeconds)
			}
			if r.JitterStrategy == "FULL" {
				secs *= mrand.Float64()
			}
			counts[i]++
			retries++
			if err := e.sleep(ctx, time.Duration(secs*float64(time.Second))); err != nil {
				return nil, "", false, errAborted
			}
			continue
		}
		if i := matchCatcher(st.Catch, f); i >= 0 {
			c := st.Catch[i]
			errObj := NewObject()
			errObj.Set("Error", f.Name)
			errObj.Set("Cause", f.Cause)
			var err error
			out, err = applyResultPath(c.ResultPath, raw, errObj)
			if err != nil {
				return nil, "", false, asFailure(err)
			}
			e.emit(th, st.Type+"StateExited", map[string]any{"name": st.Name, "output": MustString(out), "outputDetails": map[string]any{"truncated": false}})
			return out, c.Next, false, nil
		}
		return nil, "", false, f
	}
	if st.Type == "Fail" {
		return nil, "", false, f
	}
	if err := checkSize(out, "output", st.Name); err != nil {
		return nil, "", false, err
	}
	e.emit(th, st.Type+"StateExited", map[string]any{"name": st.Name, "output": MustString(out), "outputDetails": map[string]any{"truncated": false}})
	end = st.End || st.Type == "Succeed"
	if next == "" && !end {
		next = st.Next
	}
	return out, next, end, nil
}

func matchHandler(rs []Retrier, f *Failure) int {
	for i, r := range rs {
		if errorMatches(r.ErrorEquals, f) {
			return i
		}
	}
	return -1
}

func matchCatcher(cs []Catcher, f *Failure) int {
	for i, c := range cs {
		if errorMatches(c.ErrorEquals, f) {
			return i
		}
	}
	return -1
}

// errorMatches applies AWS's matching rules: an exact name, States.ALL for any error, and
// States.TaskFailed for any error except States.Timeout. (States.Runtime and
// States.DataLimitExceeded never reach here: they are terminal.)
func errorMatches(names []string, f *Failure) bool {
	for _, n := range names {
		switch {
		case n == f.Name, n == ErrAll:
			return true
		case n == ErrTaskFailed && f.Name != ErrTimeout:
			return true
		}
	}
	return false
}

func asFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Name: ErrRuntime, Cause: err.Error()}
}

func checkSize(v any, what, state string) *Failure {
	b, err := Marshal(v)
	if err != nil {
		return runtimeErr("the %s of state %s is not JSON: %v", what, state, err)
	}
	if len(b) > MaxPayloadBytes {
		return failf(ErrDataLimitExceeded, "The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit (%d bytes > %d).", state, len(b), MaxPayloadBytes)
	}
	return nil
}

func applyInputPath(p optPath, raw, ctx any) (any, error) {
	switch {
	case !p.set:
		return raw, nil
	case p.null:
		return NewObject(), nil
	}
	v, err := evalPath(p.text, raw, ctx)
	if err != nil {
		return nil, runtimeErr("Invalid path '%s' : No results for path: $['%s']", p.text, strings.TrimPrefix(p.text, "$."))
	}
	return v, nil
}

func applyResultPath(p optPath, raw, result any) (any, error) {
	switch {
	case !p.set:
		return result, nil
	case p.null:
		return raw, nil
	}
	return setResult(p.text, raw, result)
}

func applyOutputPath(p optPath, out, ctx any) (any, error) {
	return applyInputPath(p, out, ctx)
}

// applyTemplate evaluates a payload template (Parameters, ResultSelector, ItemSelector).
func applyTemplate(t, data, ctx any) (any, error) {
	switch x := t.(type) {
	case *Object:
		out := NewObject()
		for _, k := range x.Keys {
			v := x.Values[k]
			if strings.HasSuffix(k, ".$") {
				key := strings.TrimSuffix(k, ".$")
				expr, _ := v.(string)
				var val any
				var err error
				if isIntrinsic(expr) {
					var call *intrinsic
					call, err = parseIntrinsic(expr)
					if err == nil {
						val, err = call.eval(data, ctx)
					}
				} else {
					val, err = evalPath(expr, data, ctx)
					if err != nil {
						err = runtimeErr("The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", expr, k, truncate(MustString(data), 1000))
					}
				}
				if err != nil {
					return nil, err
				}
				out.Set(key, val)
				continue
			}
			val, err := applyTemplate(v, data, ctx)
			if err != nil {
				return nil, err
			}
			out.Set(k, val)
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			val, err := applyTemplate(v, data, ctx)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	}
	return t, nil
}

// attempt runs a state once. It returns the state output and, for Choice, the next state.
func (e *Execution) attempt(ctx context.Context, th *thread, st *State, raw any, cobj *Object, item *mapItem) (any, string, *Failure) {
	if st.Type == "Fail" {
		return nil, "", e.failState(st, raw, cobj)
	}
	in, err := applyInputPath(st.InputPath, raw, cobj)
	if err != nil {
		return nil, "", asFailure(err)
	}
	if st.hasParameters {
		if in, err = applyTemplate(st.Parameters, in, cobj); err != nil {
			return nil, "", asFailure(err)
		}
	}
	if f := checkSize(in, "input", st.Name); f != nil {
		return nil, "", f
	}
	var result any
	next := ""
	switch st.Type {
	case "Pass":
		result = in
		if st.hasResult {
			result = clone(st.Result)
		}
	case "Succeed":
		out, err := applyOutputPath(st.OutputPath, in, cobj)
		return out, "", failureOrNil(err)
	case "Choice":
		for _, r := range st.Choices {
			ok, err := matchRule(r, in, cobj)
			if err != nil {
				return nil, "", asFailure(err)
			}
			if ok {
				next = r.Next
				break
			}
		}
		if next == "" {
			next = st.Default
		}
		if next == "" {
			return nil, "", failf(ErrNoChoiceMatched, "No Matches!")
		}
		out, err := applyOutputPath(st.OutputPath, in, cobj)
		return out, next, failureOrNil(err)
	case "Wait":
		d, f := e.waitDuration(st, in, cobj)
		if f != nil {
			return nil, "", f
		}
		if err := e.sleep(ctx, d); err != nil {
			return nil, "", errAborted
		}
		out, err := applyOutputPath(st.OutputPath, in, cobj)
		return out, "", failureOrNil(err)
	case "Task":
		var f *Failure
		if result, f = e.task(ctx, th, st, in, cobj); f != nil {
			return nil, "", f
		}
		if f := checkSize(result, "result", st.Name); f != nil {
			return nil, "", f
		}
	case "Parallel":
		var f *Failure
		if result, f = e.parallel(ctx, th, st, in); f != nil {
			return nil, "", f
		}
	case "Map":
		var f *Failure
		if result, f = e.mapState(ctx, th, st, in, cobj); f != nil {
			return nil, "", f
		}
	}
	if st.hasResultSelector {
		if result, err = applyTemplate(st.ResultSelector, result, cobj); err != nil {
			return nil, "", asFailure(err)
		}
	}
	out, err := applyResultPath(st.ResultPath, raw, result)
	if err != nil {
		return nil, "", asFailure(err)
	}
	out, err = applyOutputPath(st.OutputPath, out, cobj)
	return out, "", failureOrNil(err)
}

func failureOrNil(err error) *Failure {
	if err == nil {
		return nil
	}
	return asFailure(err)
}

func (e *Execution) failState(st *State, raw any, cobj *Object) *Failure {
	f := &Failure{Name: st.Error, Cause: st.Cause}
	dyn := func(expr, field string) (string, *Failure) {
		var v any
		var err error
		if isIntrinsic(expr) {
			var call *intrinsic
			if call, err = parseIntrinsic(expr); err == nil {
				v, err = call.eval(raw, cobj)
			}
		} else {
			v, err = evalPath(expr, raw, cobj)
		}
		if err != nil {
			return "", asFailure(err)
		}
		s, ok := v.(string)
		if !ok {
			return "", runtimeErr("The %s '%s' of state '%s' must select a string, not %s", field, expr, st.Name, typeName(v))
		}
		return s, nil
	}
	if st.ErrorPath != "" {
		s, rf := dyn(st.ErrorPath, "ErrorPath")
		if rf != nil {
			return rf
		}
		f.Name = s
	}
	if st.CausePath != "" {
		s, rf := dyn(st.CausePath, "CausePath")
		if rf != nil {
			return rf
		}
		f.Cause = s
	}
	return f
}

func (e *Execution) waitDuration(st *State, in any, cobj *Object) (time.Duration, *Failure) {
	now := e.opts.Clock.Now()
	until := func(ts string, field string) (time.Duration, *Failure) {
		t, ok := parseTimestamp(ts)
		if !ok {
			return 0, runtimeErr("The %s of Wait state '%s' is not an RFC 3339 timestamp: %q", field, st.Name, ts)
		}
		return max(t.Sub(now), 0), nil
	}
	switch {
	case st.Seconds != nil:
		return time.Duration(*st.Seconds) * time.Second, nil
	case st.Timestamp != "":
		return until(st.Timestamp, "Timestamp")
	case st.SecondsPath != "":
		v, err := evalPath(st.SecondsPath, in, cobj)
		if err != nil {
			return 0, asFailure(err)
		}
		n, ok := integer(v)
		if !ok || n < 0 {
			return 0, runtimeErr("The SecondsPath '%s' of Wait state '%s' must select a non-negative integer, not %s", st.SecondsPath, st.Name, MustString(v))
		}
		return time.Duration(n) * time.Second, nil
	default:
		v, err := evalPath(st.TimestampPath, in, cobj)
		if err != nil {
			return 0, asFailure(err)
		}
		s, _ := v.(string)
		return until(s, "TimestampPath")
	}
}

func (e *Execution) requestID() string {
	if e.opts.RequestID != nil {
		return e.opts.RequestID()
	}
	return core.NewUUID()
}

// task runs a Task state's resource with its timeout and records the resource's events.
func (e *Execution) task(ctx context.Context, th *thread, st *State, in any, cobj *Object) (any, *Failure) {
	timeout := st.TimeoutSeconds
	if st.TimeoutSecondsPath != "" {
		v, err := evalPath(st.TimeoutSecondsPath, in, cobj)
		if err != nil {
			return nil, asFailure(err)
		}
		n, ok := integer(v)
		if !ok || n < 1 {
			return nil, runtimeErr("The TimeoutSecondsPath '%s' of state '%s' must select a positive integer, not %s", st.TimeoutSecondsPath, st.Name, MustString(v))
		}
		timeout = n
	}
	if e.opts.Invoker == nil {
		return nil, runtimeErr("no task invoker is configured for state '%s'", st.Name)
	}
	kind := ResourceKind(st.Resource)
	target, payload := st.Resource, in
	var resourceType, resource string
	switch kind {
	case "lambda":
		d := map[string]any{"resource": st.Resource, "input": MustString(in), "inputDetails": map[string]any{"truncated": false}}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		e.emit(th, "LambdaFunctionScheduled", d)
		e.emit(th, "LambdaFunctionStarted", nil)
	case "lambda:invoke":
		obj, ok := in.(*Object)
		var fn any
		if ok {
			fn, _ = obj.Get("FunctionName")
		}
		name, _ := fn.(string)
		if name == "" {
			return nil, runtimeErr("The field 'FunctionName' is required by arn:aws:states:::lambda:invoke in state '%s'", st.Name)
		}
		target = name
		payload = nil
		if p, ok := obj.Get("Payload"); ok {
			payload = p
		}
		resourceType, resource = "lambda", "invoke"
	case "aws-sdk":
		parts := strings.Split(st.Resource, ":")
		resourceType, resource = "aws-sdk:"+parts[len(parts)-2], parts[len(parts)-1]
	}
	if resourceType != "" {
		d := map[string]any{"resourceType": resourceType, "resource": resource, "region": e.opts.Region, "parameters": MustString(in)}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		e.emit(th, "TaskScheduled", d)
		e.emit(th, "TaskStarted", map[string]any{"resourceType": resourceType, "resource": resource})
	}
	fail := func(f *Failure, timedOut bool) (any, *Failure) {
		switch {
		case kind == "lambda" && timedOut:
			e.emit(th, "LambdaFunctionTimedOut", map[string]any{"error": f.Name, "cause": f.Cause})
		case kind == "lambda":
			e.emit(th, "LambdaFunctionFailed", map[string]any{"error": f.Name, "cause": f.Cause})
		case timedOut:
			e.emit(th, "TaskTimedOut", map[string]any{"resourceType": resourceType, "resource": resource, "error": f.Name, "cause": f.Cause})
		default:
			e.emit(th, "TaskFailed", map[string]any{"resourceType": resourceType, "resource": resource, "error": f.Name, "cause": f.Cause})
		}
		return nil, f
	}

	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		v   any
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := e.opts.Invoker.Invoke(tctx, target, clone(payload))
		ch <- answer{v, err}
	}()
	var timer chan struct{}
	if timeout > 0 {
		timer = make(chan struct{})
		stop := e.opts.Clock.AfterFunc(time.Duration(timeout)*time.Second, func() { close(timer) })
		defer stop()
	}
	var a answer
	select {
	case a = <-ch:
	case <-timer:
		cancel()
		return fail(&Failure{Name: ErrTimeout, Cause: fmt.Sprintf("The task of state '%s' did not finish within %d seconds", st.Name, timeout)}, true)
	case <-ctx.Done():
		return nil, errAborted
	}
	if a.err != nil {
		var f *Failure
		if !errors.As(a.err, &f) {
			f = &Failure{Name: ErrTaskFailed, Cause: a.err.Error()}
		}
		return fail(f, false)
	}
	result, err := toValue(a.v)
	if err != nil {
		return fail(&Failure{Name: ErrTaskFailed, Cause: "the task returned a value that is not JSON: " + err.Error()}, false)
	}
	if kind == "lambda:invoke" {
		result = e.invokeResult(result)
	}
	text := MustString(result)
	if kind == "lambda" {
		e.emit(th, "LambdaFunctionSucceeded", payloadDetails("output", text))
	} else {
		d := payloadDetails("output", text)
		d["resourceType"], d["resource"] = resourceType, resource
		e.emit(th, "TaskSucceeded", d)
	}
	return result, nil
}

// invokeResult wraps a function's response the way the lambda:invoke integration returns it.
func (e *Execution) invokeResult(payload any) *Object {
	id := e.requestID()
	headers := NewObject()
	headers.Set("Connection", "keep-alive")
	headers.Set("Content-Type", "application/json")
	headers.Set("Date", e.opts.Clock.Now().UTC().Format(time.RFC1123))
	headers.Set("X-Amz-Executed-Version", "$LATEST")
	headers.Set("x-amzn-Remapped-Content-Length", "0")
	headers.Set("x-amzn-RequestId", id)
	all := NewObject()
	for _, k := range headers.Keys {
		all.Set(k, []any{headers.Values[k]})
	}
	meta := NewObject()
	meta.Set("AllHttpHeaders", all)
	meta.Set("HttpHeaders", headers)
	meta.Set("HttpStatusCode", 200.0)
	resp := NewObject()
	resp.Set("RequestId", id)
	o := NewObject()
	o.Set("ExecutedVersion", "$LATEST")
	o.Set("Payload", payload)
	o.Set("SdkHttpMetadata", meta)
	o.Set("SdkResponseMetadata", resp)
	o.Set("StatusCode", 200.0)
	return o
}

func toValue(v any) (any, error) {
	switch t := v.(type) {
	case json.RawMessage:
		if len(t) == 0 {
			return nil, nil
		}
		return ParseJSON(t)
	case []byte:
		if len(t) == 0 {
			return nil, nil
		}
		return ParseJSON(t)
	}
	return FromGo(v)
}

// parallel runs every branch on the same input; the result is the branches' outputs in order.
func (e *Execution) parallel(ctx context.Context, th *thread, st *State, in any) (any, *Failure) {
	e.emit(th, "ParallelStateStarted", nil)
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := &fanOut{cancel: cancel, results: make([]any, len(st.Branches))}
	for i, b := range st.Branches {
		runs.wg.Add(1)
		go func() {
			defer runs.wg.Done()
			bt := &thread{last: th.last}
			out, f := e.runMachine(bctx, bt, b, clone(in), nil)
			if f != nil {
				runs.fail(f)
				return
			}
			runs.results[i] = out
		}()
	}
	return runs.wait(ctx, e, th, "Parallel")
}

// fanOut collects the outcomes of the concurrent runs of a Parallel state's branches or a Map
// state's iterations: each run stores its output in results, and the first failure (other than
// an abort) cancels the others.
type fanOut struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	first   *Failure
	cancel  context.CancelFunc
	results []any
}

// fail records a run's failure.
func (r *fanOut) fail(f *Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil && f != errAborted {
		r.first = f
		r.cancel()
	}
}

// wait waits for every run and answers for the state, whose events start with kind ("Parallel"
// or "Map"): aborted when ctx ended, the first failure, or the outputs in order.
func (r *fanOut) wait(ctx context.Context, e *Execution, th *thread, kind string) (any, *Failure) {
	r.wg.Wait()
	if ctx.Err() != nil {
		return nil, errAborted
	}
	if r.first != nil {
		e.emit(th, kind+"StateFailed", nil)
		return nil, r.first
	}
	e.emit(th, kind+"StateSucceeded", nil)
	return r.results, nil
}

// mapState runs the processor once per item, at most MaxConcurrency at a time.
func (e *Execution) mapState(ctx context.Context, th *thread, st *State, in any, cobj *Object) (any, *Failure) {
	itemsV := in
	if st.ItemsPath != "" {
		v, err := evalPath(st.ItemsPath, in, cobj)
		if err != nil {
			return nil, asFailure(err)
		}
		itemsV = v
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, runtimeErr("Map state '%s': the ItemsPath must select an array, not %s", st.Name, typeName(itemsV))
	}
	limit := st.MaxConcurrency
	if st.MaxConcurrencyPath != "" {
		v, err := evalPath(st.MaxConcurrencyPath, in, cobj)
		if err != nil {
			return nil, asFailure(err)
		}
		n, ok := integer(v)
		if !ok || n < 0 {
			return nil, runtimeErr("Map state '%s': MaxConcurrencyPath must select a non-negative integer", st.Name)
		}
		limit = n
	}
	if limit == 0 || limit > 40 {
		limit = 40 // inline Map runs up to 40 iterations at once
	}
	e.emit(th, "MapStateStarted", map[string]any{"length": len(items)})
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := &fanOut{cancel: cancel, results: make([]any, len(items))}
	sem := make(chan struct{}, limit)
	for i, it := range items {
		item := &mapItem{index: i, value: it}
		iterIn := it
		if st.hasItemSelector {
			c := e.contextObject(st.Name, time.Time{}, 0, item)
			c.Set("State", cobj.Values["State"])
			v, err := applyTemplate(st.ItemSelector, in, c)
			if err != nil {
				cancel()
				runs.wg.Wait()
				return nil, asFailure(err)
			}
			iterIn = v
		}
		select {
		case sem <- struct{}{}:
		case <-mctx.Done():
		}
		if mctx.Err() != nil {
			break
		}
		runs.wg.Add(1)
		go func() {
			defer runs.wg.Done()
			defer func() { <-sem }()
			it := &thread{last: th.last}
			e.emit(it, "MapIterationStarted", map[string]any{"name": st.Name, "index": i})
			// $$.Map.Item belongs to the Map state's ItemSelector; iteration states do not see it.
			out, f := e.runMachine(mctx, it, st.Processor, iterIn, nil)
			if f != nil {
				if f != errAborted {
					e.emit(it, "MapIterationFailed", map[string]any{"name": st.Name, "index": i})
				} else {
					e.emit(it, "MapIterationAborted", map[string]any{"name": st.Name, "index": i})
				}
				runs.fail(f)
				return
			}
			e.emit(it, "MapIterationSucceeded", map[string]any{"name": st.Name, "index": i})
			runs.results[i] = out
		}()
	}
	return runs.wait(ctx, e, th, "Map")
}
