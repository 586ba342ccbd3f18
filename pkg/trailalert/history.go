package trailalert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// ExecutionHistoryAPI is the part of the Step Functions client the relay uses.
type ExecutionHistoryAPI interface {
	GetExecutionHistory(ctx context.Context, params *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

var _ ExecutionHistoryAPI = (*sfn.Client)(nil)

// How the history is read: newest first, a page of HistoryPageSize events at a time, at most
// HistoryMaxPages pages (the failed state is almost always on the first), within HistoryTimeout
// (the relay must still publish within its Lambda timeout when Step Functions is slow).
const (
	HistoryPageSize = 25
	HistoryMaxPages = 4
	HistoryTimeout  = 10 * time.Second
)

// ExecutionFailure is what an execution's history says about how it ended. Error and cause texts
// are as Step Functions recorded them: render them only through AlertExecution, which redacts.
type ExecutionFailure struct {
	// EventType is the history's last event (ExecutionFailed, ExecutionTimedOut or
	// ExecutionAborted), and Error and Cause its details.
	EventType    string
	Error, Cause string
	// State is the last state entered before the execution ended, and StateType its type (Task,
	// Fail, Wait, ...): found by following previousEventId back from the last event, so a state
	// of another Parallel branch or Map iteration is not taken for it. Empty when the execution
	// ended before entering a state.
	State, StateType string
	// Approximate is set when the chain could not be followed to its state within the events
	// read (HistoryMaxPages, or a failed call): State is then the newest state entered among
	// them, "" when none was.
	Approximate bool
	// Step is the newest failure of a step (TaskFailed, LambdaFunctionFailed, TaskTimedOut, ...)
	// in the events read, nil when there was none. A workflow that catches an error and ends in a
	// Fail state has its real failure here, in an earlier state than State.
	Step *StepFailure
	// Pages and Events count the GetExecutionHistory calls made and the events they returned.
	Pages, Events int
	// ReadError is the error code of the GetExecutionHistory call that failed (for example
	// AccessDeniedException or ThrottlingException), "" when the history was read. What was read
	// before the failure is kept.
	ReadError string
}

// StepFailure is a failure event of a step and the state it happened in.
type StepFailure struct {
	EventType    string
	EventID      int64
	State        string
	StateType    string
	Error, Cause string
}

// ReadExecutionFailure reads the end of an execution's history with GetExecutionHistory
// (reverseOrder, maxResults HistoryPageSize, includeExecutionData false: no state's input or
// output is fetched) and pages back only until the failed state, and the failed step when the
// failed state is a Fail state, are found. On an error it returns what it had read, with
// ReadError set, and the error wrapped with what was attempted.
func ReadExecutionFailure(ctx context.Context, api ExecutionHistoryAPI, executionARN string) (*ExecutionFailure, error) {
	ctx, cancel := context.WithTimeout(ctx, HistoryTimeout)
	defer cancel()
	r := historyReader{seen: map[int64]eventLink{}}
	f := &r.f
	var token *string
	for f.Pages < HistoryMaxPages {
		out, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(executionARN),
			ReverseOrder:         true,
			MaxResults:           HistoryPageSize,
			IncludeExecutionData: aws.Bool(false),
			NextToken:            token,
		})
		if err != nil {
			r.finish()
			f.ReadError = ErrorCode(err)
			return f, fmt.Errorf("get the execution history of %s (page %d): %w", executionARN, f.Pages+1, err)
		}
		f.Pages++
		for i := range out.Events {
			r.add(&out.Events[i])
		}
		r.resolve()
		if token = out.NextToken; token == nil || r.done() {
			break
		}
	}
	r.finish()
	return f, nil
}

// eventLink is what the reader keeps of each event: enough to follow previousEventId.
type eventLink struct {
	prev  int64
	state string // the state's name, for a *StateEntered event
	typ   string
}

type historyReader struct {
	f    ExecutionFailure
	seen map[int64]eventLink
	// stateAt and stepAt are the next event ids to look at on the way back to the StateEntered
	// event of the failed state and of the failed step (0: the chain ended).
	stateAt, stepAt int64
	terminal        bool
	newest          *eventLink // the newest StateEntered event read, for Approximate
}

func (r *historyReader) add(e *sfntypes.HistoryEvent) {
	r.f.Events++
	typ := string(e.Type)
	link := eventLink{prev: e.PreviousEventId, typ: typ}
	if strings.HasSuffix(typ, "StateEntered") && e.StateEnteredEventDetails != nil {
		link.state = aws.ToString(e.StateEnteredEventDetails.Name)
		if r.newest == nil {
			r.newest = &link
		}
	}
	r.seen[e.Id] = link
	if errName, cause, ok := executionEnd(e); ok && !r.terminal {
		r.terminal = true
		r.f.EventType, r.f.Error, r.f.Cause = typ, errName, cause
		r.stateAt = e.PreviousEventId
		return
	}
	if errName, cause, ok := stepFailure(e); ok && r.f.Step == nil {
		r.f.Step = &StepFailure{EventType: typ, EventID: e.Id, Error: errName, Cause: cause}
		r.stepAt = e.PreviousEventId
	}
}

// resolve follows both chains as far as the events read reach.
func (r *historyReader) resolve() {
	if r.terminal && r.f.State == "" {
		r.f.State, r.f.StateType, r.stateAt = r.follow(r.stateAt)
	}
	if s := r.f.Step; s != nil && s.State == "" {
		s.State, s.StateType, r.stepAt = r.follow(r.stepAt)
	}
}

// follow walks back from id to a StateEntered event. It returns the state, or the id where the
// events read end (0 when the chain ended without one).
func (r *historyReader) follow(id int64) (state, stateType string, next int64) {
	for id != 0 {
		l, ok := r.seen[id]
		if !ok {
			return "", "", id
		}
		if l.state != "" {
			return l.state, strings.TrimSuffix(l.typ, "StateEntered"), 0
		}
		id = l.prev
	}
	return "", "", 0
}

// done: the failed state is known (or known not to exist); so is the failed step's state, if a
// step failure was read; and a failed Fail state has its step failure, since the Fail state only
// reports what a Catch led to it with.
func (r *historyReader) done() bool {
	if !r.terminal || r.stateAt != 0 {
		return false
	}
	if r.f.Step != nil {
		return r.stepAt == 0
	}
	return r.f.StateType != "Fail"
}

// finish falls back to the newest state entered when the chain to the failed state was cut.
func (r *historyReader) finish() {
	if r.f.State != "" || r.stateAt == 0 {
		return
	}
	r.f.Approximate = true
	if r.newest != nil {
		r.f.State, r.f.StateType = r.newest.state, strings.TrimSuffix(r.newest.typ, "StateEntered")
	}
}

// executionEnd reads the details of an execution's last event.
func executionEnd(e *sfntypes.HistoryEvent) (errName, cause string, ok bool) {
	switch e.Type {
	case sfntypes.HistoryEventTypeExecutionFailed:
		if d := e.ExecutionFailedEventDetails; d != nil {
			return aws.ToString(d.Error), aws.ToString(d.Cause), true
		}
	case sfntypes.HistoryEventTypeExecutionTimedOut:
		if d := e.ExecutionTimedOutEventDetails; d != nil {
			return aws.ToString(d.Error), aws.ToString(d.Cause), true
		}
	case sfntypes.HistoryEventTypeExecutionAborted:
		if d := e.ExecutionAbortedEventDetails; d != nil {
			return aws.ToString(d.Error), aws.ToString(d.Cause), true
		}
	default:
		return "", "", false
	}
	return "", "", true
}

// stepFailure reads the details of an event that records a step's failure.
func stepFailure(e *sfntypes.HistoryEvent) (errName, cause string, ok bool) {
	pick := func(errName, cause *string) (string, string, bool) {
		return aws.ToString(errName), aws.ToString(cause), true
	}
	switch e.Type {
	case sfntypes.HistoryEventTypeTaskFailed:
		if d := e.TaskFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeTaskTimedOut:
		if d := e.TaskTimedOutEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeTaskStartFailed:
		if d := e.TaskStartFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeTaskSubmitFailed:
		if d := e.TaskSubmitFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeLambdaFunctionFailed:
		if d := e.LambdaFunctionFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeLambdaFunctionTimedOut:
		if d := e.LambdaFunctionTimedOutEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeLambdaFunctionStartFailed:
		if d := e.LambdaFunctionStartFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeLambdaFunctionScheduleFailed:
		if d := e.LambdaFunctionScheduleFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeActivityFailed:
		if d := e.ActivityFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeActivityTimedOut:
		if d := e.ActivityTimedOutEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeActivityScheduleFailed:
		if d := e.ActivityScheduleFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeMapRunFailed:
		if d := e.MapRunFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	case sfntypes.HistoryEventTypeEvaluationFailed:
		if d := e.EvaluationFailedEventDetails; d != nil {
			return pick(d.Error, d.Cause)
		}
	default:
		return "", "", false
	}
	return "", "", true
}

// ErrorCode names an AWS call's failure for a message or a log: the service's error code, or
// Timeout, Canceled or RequestError when no answer came. Only the code: an error message may
// quote the request.
func ErrorCode(err error) string {
	var api smithy.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode() != "":
		return ascii(clip(api.ErrorCode(), 64))
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.Is(err, context.Canceled):
		return "Canceled"
	}
	return "RequestError"
}
