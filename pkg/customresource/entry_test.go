package customresource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/customresource/entry"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// validator accepts properties with a "SubnetIds" list of two or more and records its calls.
type validator struct{ calls int }

func (v *validator) validate(ev *cfn.Event) error {
	v.calls++
	errs := customresource.PropertyErrors{ResourceType: "Custom::CloudHsmCluster"}
	if list, _ := ev.ResourceProperties["SubnetIds"].([]any); len(list) < 2 {
		errs.Add("SubnetIds", "give at least two private subnets in different Availability Zones (got %d)", len(list))
	}
	return errs.Err()
}

var goodProps = map[string]any{"SubnetIds": []any{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}}

func newEntry(s *fakeSFN, v *validator, rec *recorder) *entry.Entry {
	return &entry.Entry{SFN: s,
		StateMachines: map[cfn.RequestType]string{cfn.RequestCreate: createSM, cfn.RequestUpdate: updateSM, cfn.RequestDelete: deleteSM},
		Validate:      v.validate, Send: rec.send}
}

// Entry starts the request type's state machine with the event as input, naming the execution
// after the request (ExecutionName), and answers nothing itself: the workflow answers. Properties
// are validated for Create and Update only: a Delete must work whatever they say.
func TestEntryStartsTheRequestsWorkflow(t *testing.T) {
	cases := []struct {
		rt       cfn.RequestType
		physical string
		props    map[string]any
		machine  string
		validate bool
	}{
		{cfn.RequestCreate, "", goodProps, createSM, true},
		{cfn.RequestUpdate, "cluster-abcdefghijk", goodProps, updateSM, true},
		{cfn.RequestDelete, "cluster-abcdefghijk", map[string]any{"SubnetIds": "not a list"}, deleteSM, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.rt), func(t *testing.T) {
			s, v, rec := newFakeSFN(), &validator{}, &recorder{}
			ev := cfEvent(tc.rt, tc.physical, tc.props)
			out, err := newEntry(s, v, rec).Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			name := string(tc.rt) + "-" + requestID
			if customresource.ExecutionName(ev) != name {
				t.Fatalf("ExecutionName = %q; want %q", customresource.ExecutionName(ev), name)
			}
			arn := execARN(tc.machine, name)
			if want := (entry.EntryOutput{Action: "started", ExecutionARN: arn}); out != want {
				t.Fatalf("out = %+v; want %+v", out, want)
			}
			e := s.execs[arn]
			if len(s.execs) != 1 || e == nil || e.machine != tc.machine {
				t.Fatalf("executions: %v", s.execs)
			}
			var in customresource.WorkflowInput
			if err := json.Unmarshal([]byte(e.input), &in); err != nil || !reflect.DeepEqual(in.Event, ev) {
				t.Fatalf("workflow input %s does not carry the event (%v)", e.input, err)
			}
			if rec.attempts != 0 {
				t.Fatal("the entry answered a request its workflow is to answer")
			}
			if called := v.calls > 0; called != tc.validate {
				t.Fatalf("validator called %d times; want called: %v", v.calls, tc.validate)
			}
		})
	}
}

// What needs no workflow is answered at once, exactly once, and starts nothing: invalid
// properties (FAILED with the validator's text), a Delete of a resource a failed Create never
// made (SUCCESS), an unknown request type, and a request type with no workflow configured.
func TestEntryAnswersAtOnce(t *testing.T) {
	cases := []struct {
		name         string
		ev           cfn.Event
		machines     map[cfn.RequestType]string
		wantStatus   cfn.StatusType
		wantPhysical string
		wantReason   string
	}{
		{"invalid create", cfEvent(cfn.RequestCreate, "", map[string]any{"SubnetIds": []any{"subnet-0123456789abcdef0"}}), nil,
			cfn.StatusFailed, "strongroom-none-" + requestID,
			"invalid Custom::CloudHsmCluster properties: SubnetIds: give at least two private subnets in different Availability Zones (got 1)"},
		{"invalid update keeps the resource", cfEvent(cfn.RequestUpdate, "cluster-abcdefghijk", map[string]any{}), nil,
			cfn.StatusFailed, "cluster-abcdefghijk",
			"invalid Custom::CloudHsmCluster properties: SubnetIds: give at least two private subnets in different Availability Zones (got 0)"},
		{"delete of nothing", cfEvent(cfn.RequestDelete, "strongroom-none-1a2b3c", nil), nil,
			cfn.StatusSuccess, "strongroom-none-1a2b3c", ""},
		{"delete without a physical id", cfEvent(cfn.RequestDelete, "", nil), nil,
			cfn.StatusSuccess, "strongroom-none-" + requestID, ""},
		{"unknown request type", cfEvent("Replace", "cluster-abcdefghijk", goodProps), nil,
			cfn.StatusFailed, "cluster-abcdefghijk", `unknown RequestType "Replace"`},
		{"no workflow configured", cfEvent(cfn.RequestUpdate, "cluster-abcdefghijk", goodProps), map[cfn.RequestType]string{cfn.RequestCreate: createSM},
			cfn.StatusFailed, "cluster-abcdefghijk", "no workflow is configured for Update requests"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, v, rec := newFakeSFN(), &validator{}, &recorder{}
			e := newEntry(s, v, rec)
			if tc.machines != nil {
				e.StateMachines = tc.machines
			}
			out, err := e.Handle(context.Background(), tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if want := "answered " + string(tc.wantStatus); out.Action != want || out.ExecutionARN != "" {
				t.Fatalf("out = %+v; want Action %q", out, want)
			}
			if len(rec.sent) != 1 || rec.urls[0] != tc.ev.ResponseURL {
				t.Fatalf("%d responses sent; want 1 to the ResponseURL", len(rec.sent))
			}
			r := rec.sent[0]
			if r.Status != tc.wantStatus || r.PhysicalResourceID != tc.wantPhysical || r.Reason != tc.wantReason ||
				r.RequestID != requestID || r.StackID != stackID || r.LogicalResourceID != "Cluster" {
				t.Fatalf("response = %+v", r)
			}
			if len(s.execs) != 0 || len(s.calls) != 0 {
				t.Fatalf("started %v", s.calls)
			}
			if tc.ev.RequestType == cfn.RequestDelete && v.calls != 0 {
				t.Fatal("a Delete's properties were validated")
			}
		})
	}
}

// A retried invocation for the same request starts nothing new: Step Functions returns the running
// execution, or refuses the name (ExecutionAlreadyExists) once it has ended, which is "already
// started".
func TestEntryStartFailures(t *testing.T) {
	ctx := context.Background()
	ev := cfEvent(cfn.RequestCreate, "", goodProps)

	s, rec := newFakeSFN(), &recorder{}
	e := newEntry(s, &validator{}, rec)
	first, err := e.Handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.Handle(ctx, ev)
	if err != nil || second != first || len(s.execs) != 1 {
		t.Fatalf("retry while running: %+v %v (%d executions)", second, err, len(s.execs))
	}
	s.execs[first.ExecutionARN].status = sfntypes.ExecutionStatusSucceeded
	third, err := e.Handle(ctx, ev)
	if err != nil || third != (entry.EntryOutput{Action: "already started"}) || len(s.execs) != 1 {
		t.Fatalf("retry after the end: %+v %v", third, err)
	}

}

// fakeClock is the entry's clock: Pause advances it and records the waits.
type fakeClock struct {
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) pause(_ context.Context, d time.Duration) error {
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	return nil
}

// A throttled or failing start is retried by the entry itself, with backoff; the request is not
// answered while a retry can still start the workflow.
func TestEntryRetriesAStart(t *testing.T) {
	s, rec, clock := newFakeSFN(), &recorder{}, &fakeClock{t: time.Unix(0, 0)}
	s.inject("StartExecution", throttled("StartExecution"))
	s.inject("StartExecution", sdkError("StartExecution", 500, &smithy.GenericAPIError{Code: "InternalFailure", Message: "internal"}))
	e := newEntry(s, &validator{}, rec)
	e.Now, e.Pause = clock.now, clock.pause
	out, err := e.Handle(context.Background(), cfEvent(cfn.RequestCreate, "", goodProps))
	if err != nil || out.Action != "started" || len(s.execs) != 1 || rec.attempts != 0 {
		t.Fatalf("entry = %+v, %v (%d executions, %d answers); want started after two failures", out, err, len(s.execs), rec.attempts)
	}
	if fmt.Sprint(clock.waits) != "[1s 2s]" {
		t.Errorf("waits %v; want [1s 2s]", clock.waits)
	}
}

// A start that keeps failing with a retryable error until the budget is spent is answered FAILED
// by the entry, naming the cause and the attempts: no execution exists, so nothing else would
// answer, and CloudFormation would wait out the ServiceTimeout.
func TestEntryAnswersWhenStartsKeepFailing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   time.Duration
		deadline time.Duration // of the invocation's context; 0 for none
		attempts int
	}{
		{"default budget", 0, 0, 6},                     // waits 1+2+4+5+5 = 17 s; a sixth wait would pass 20 s
		{"invocation deadline", 0, 12 * time.Second, 4}, // 12 s less the 5 s reserve: waits 1+2+4 s
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec, clock := newFakeSFN(), &recorder{}, &fakeClock{t: time.Now()}
			for range 50 {
				s.inject("StartExecution", sdkError("StartExecution", 500, &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "service unavailable"}))
			}
			e := newEntry(s, &validator{}, rec)
			e.Now, e.Pause, e.StartBudget = clock.now, clock.pause, tc.budget
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, clock.t.Add(tc.deadline))
				defer cancel()
			}
			out, err := e.Handle(ctx, cfEvent(cfn.RequestCreate, "", goodProps))
			if err != nil || out.Action != "answered FAILED" {
				t.Fatalf("entry = %+v, %v; want it to answer FAILED", out, err)
			}
			calls := 0
			for _, c := range s.calls {
				if c == "StartExecution" {
					calls++
				}
			}
			if calls != tc.attempts || len(s.execs) != 0 {
				t.Errorf("%d StartExecution calls (%d executions); want %d and none", calls, len(s.execs), tc.attempts)
			}
			want := fmt.Sprintf("start Create workflow: gave up after %d attempts", tc.attempts)
			if len(rec.sent) != 1 || rec.sent[0].Status != cfn.StatusFailed || !strings.HasPrefix(rec.sent[0].Reason, want) ||
				!strings.Contains(rec.sent[0].Reason, "service unavailable") {
				t.Fatalf("answers %+v; want one FAILED starting %q and naming the cause", rec.sent, want)
			}
		})
	}
}

// A start whose answer is lost (a 5xx after Step Functions started the execution) and later
// attempts that fail spend the budget; the entry then finds the execution and leaves the answer to it, since
// a FAILED answer now would leave what the workflow makes to no one.
func TestEntryFindsAStartWhoseAnswerWasLost(t *testing.T) {
	s, rec, clock := newFakeSFN(), &recorder{}, &fakeClock{t: time.Now()}
	// The first attempt starts it and loses the answer; every later one fails before reaching it.
	s.loseStarts = true
	s.inject("StartExecution", nil)
	for range 50 {
		s.inject("StartExecution", sdkError("StartExecution", 503, &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "unavailable"}))
	}
	e := newEntry(s, &validator{}, rec)
	e.Now, e.Pause = clock.now, clock.pause
	out, err := e.Handle(context.Background(), cfEvent(cfn.RequestCreate, "", goodProps))
	if err != nil || out.Action != "started" || out.ExecutionARN == "" || len(s.execs) != 1 || rec.attempts != 0 {
		t.Fatalf("entry = %+v, %v (%d executions, %d answers); want the lost start found and no answer", out, err, len(s.execs), rec.attempts)
	}
	if !slices.Contains(s.calls, "DescribeExecution") {
		t.Error("the entry did not look for the execution")
	}
}

// An answer the entry could not deliver is an error the invocation's retry can fix.
func TestEntryAnswerDeliveryFailure(t *testing.T) {
	rec := &recorder{fail: []error{lambdaerr.Retryable("put response to CloudFormation: HTTP 503 SlowDown", nil)}}
	ev := cfEvent(cfn.RequestCreate, "", map[string]any{})
	e := newEntry(newFakeSFN(), &validator{}, rec)
	if _, err := e.Handle(context.Background(), ev); errType(err) != lambdaerr.NameRetryable {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.Handle(context.Background(), ev); err != nil || len(rec.sent) != 1 || rec.sent[0].Status != cfn.StatusFailed {
		t.Fatalf("retry: %v, sent %d", err, len(rec.sent))
	}
}

// ExecutionName keeps [A-Za-z0-9-_] of "<RequestType>-<RequestId>" and at most 80 characters, so
// Step Functions accepts it whatever the request id holds.
func TestExecutionName(t *testing.T) {
	long := strings.Repeat("0123456789", 10)
	cases := []struct {
		rt        cfn.RequestType
		requestID string
		want      string
	}{
		{cfn.RequestCreate, requestID, "Create-" + requestID},
		{cfn.RequestUpdate, "a b/c:d.e_f", "Update-abcde_f"},
		{cfn.RequestDelete, "réq-1", "Delete-rq-1"},
		{cfn.RequestDelete, long, ("Delete-" + long)[:80]},
	}
	s := newFakeSFN()
	for _, tc := range cases {
		ev := cfn.Event{RequestType: tc.rt, RequestID: tc.requestID}
		got := customresource.ExecutionName(ev)
		if got != tc.want {
			t.Errorf("ExecutionName(%s, %q) = %q; want %q", tc.rt, tc.requestID, got, tc.want)
		}
		if _, err := s.StartExecution(context.Background(), startInput(got)); err != nil {
			t.Errorf("Step Functions refuses %q: %v", got, err)
		}
	}
}

func startInput(name string) *sfn.StartExecutionInput {
	return &sfn.StartExecutionInput{StateMachineArn: aws.String(createSM), Name: aws.String(name), Input: aws.String("{}")}
}

// A start no retry can fix (the entry may not start the machine, or it does not exist) leaves no
// execution, so neither a workflow nor the safety net would answer: the entry answers FAILED with
// the reason at once instead of leaving the stack to wait for its ServiceTimeout.
func TestEntryAnswersAStartThatCannotSucceed(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"access denied", sdkError("StartExecution", 400, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform states:StartExecution"}),
			"not authorized to perform states:StartExecution"},
		{"state machine gone", sdkError("StartExecution", 400, &sfntypes.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist")}),
			"State Machine Does Not Exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := newFakeSFN(), &recorder{}
			s.inject("StartExecution", tc.err)
			out, err := newEntry(s, &validator{}, rec).Handle(context.Background(), cfEvent(cfn.RequestCreate, "", goodProps))
			if err != nil || out.Action != "answered FAILED" {
				t.Fatalf("entry = %+v, %v; want it to answer FAILED", out, err)
			}
			if len(rec.sent) != 1 || rec.sent[0].Status != cfn.StatusFailed || !strings.Contains(rec.sent[0].Reason, tc.want) ||
				!strings.HasPrefix(rec.sent[0].Reason, "start Create workflow: ") {
				t.Fatalf("answers %+v; want one FAILED naming %q", rec.sent, tc.want)
			}
			if len(s.execs) != 0 {
				t.Fatal("an execution was started")
			}
		})
	}
}
