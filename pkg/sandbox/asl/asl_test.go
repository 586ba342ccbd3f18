package asl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

func TestParseRefusesWithFieldAndState(t *testing.T) {
	cases := []struct {
		name, def string
		want      []string // substrings of the error: the code, the location and the fix
	}{
		{"unsupported resource", `{"StartAt":"Q","States":{"Q":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}}`,
			[]string{"INVALID_RESOURCE", "/States/Q/Resource", "arn:aws:states:::lambda:invoke"}},
		{"callback pattern", `{"StartAt":"Q","States":{"Q":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","End":true}}}`,
			[]string{"INVALID_RESOURCE", "no .sync or .waitForTaskToken"}},
		{"missing next target", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`,
			[]string{"MISSING_TRANSITION_TARGET", "/States/A/Next", "B"}},
		{"unknown field", `{"StartAt":"A","States":{"A":{"Type":"Pass","Resource":"x","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED", "/States/A/Resource", "'Resource'"}},
		{"jsonata refused", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
			[]string{"/QueryLanguage", "JSONPath"}},
		{"unreachable", `{"StartAt":"A","States":{"A":{"Type":"Succeed"},"B":{"Type":"Succeed"}}}`,
			[]string{"UNREACHABLE_STATE", "/States/B"}},
		{"bad retry", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[{"ErrorEquals":["States.ALL","X"],"BackoffRate":0.5}],"End":true}}}`,
			[]string{"/States/A/Retry[0]/ErrorEquals", "States.ALL must appear alone", "/States/A/Retry[0]/BackoffRate"}},
		{"reserved error name", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Catch":[{"ErrorEquals":["States.Typo"],"Next":"A"}],"End":true}}}`,
			[]string{"States.Typo", "reserved"}},
		{"bad template path", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"nope"},"End":true}}}`,
			[]string{"/States/A/Parameters/x.$", "must begin with '$'"}},
		{"bad intrinsic", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Nope(1)"},"End":true}}}`,
			[]string{"/States/A/Parameters/x.$", "unknown function States.Nope"}},
		{"wait needs one field", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`,
			[]string{"/States/W", "exactly one of Seconds"}},
		{"distributed map", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`,
			[]string{"ProcessorConfig/Mode", "INLINE"}},
		{"duplicate name in branch", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}],"End":true}}}`,
			[]string{"DUPLICATE_STATE_NAME", "/States/P/Branches[0]/States/P"}},
		{"not json", `{"StartAt":`, []string{"INVALID_JSON_DESCRIPTION"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.def))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse = %v, want a *ValidationError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// recorder is a stand-in invoker that answers from a table and remembers what it was sent.
type recorder struct {
	answers map[string]any
	fail    map[string]*Failure
	seen    map[string]any
}

func (r *recorder) Invoke(ctx context.Context, resource string, input any) (any, error) {
	if r.seen == nil {
		r.seen = map[string]any{}
	}
	r.seen[resource] = input
	if f, ok := r.fail[resource]; ok {
		return nil, f
	}
	return r.answers[resource], nil
}

func mustParse(t *testing.T, def string) *Definition {
	t.Helper()
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testOptions(inv Invoker) Options {
	return Options{
		Clock: core.NewScaledClock(10000), Invoker: inv,
		ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:sm:e1", ExecutionName: "e1",
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:sm", StateMachineName: "sm",
		RoleARN: "arn:aws:iam::123456789012:role/r", Region: "us-east-1",
		RequestID: func() string { return "req-1" },
	}
}

func eventTypes(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestHistoryEvents(t *testing.T) {
	fn := "arn:aws:lambda:us-east-1:123456789012:function:Step"
	cases := []struct {
		name, def string
		inv       *recorder
		want      []string
	}{
		{"lambda function ARN", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fn + `","End":true}}}`,
			&recorder{answers: map[string]any{fn: map[string]any{"ok": true}}},
			[]string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"}},
		{"lambda function failure", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fn + `","End":true}}}`,
			&recorder{fail: map[string]*Failure{fn: {Name: "TerminalError", Cause: "no"}}},
			[]string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed", "ExecutionFailed"}},
		{"lambda:invoke integration", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"` + fn + `","Payload":{"a":1}},"End":true}}}`,
			&recorder{answers: map[string]any{fn: map[string]any{"ok": true}}},
			[]string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}},
		{"choice wait pass succeed fail", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.go","BooleanEquals":true,"Next":"W"}],"Default":"F"},"W":{"Type":"Wait","Seconds":1,"Next":"P"},"P":{"Type":"Pass","Next":"S"},"S":{"Type":"Succeed"},"F":{"Type":"Fail"}}}`,
			&recorder{},
			[]string{"ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}},
		{"map", `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`,
			&recorder{},
			[]string{"ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"}},
		{"parallel", `{"StartAt":"X","States":{"X":{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}],"End":true}}}`,
			&recorder{},
			[]string{"ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "PassStateEntered", "PassStateExited", "ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			input := any(NewObject())
			if c.name == "choice wait pass succeed fail" {
				o := NewObject()
				o.Set("go", true)
				input = o
			}
			if c.name == "map" {
				input = []any{1.0}
			}
			res, evs := Run(context.Background(), mustParse(t, c.def), input, testOptions(c.inv))
			if got := strings.Join(eventTypes(evs), ","); got != strings.Join(c.want, ",") {
				t.Errorf("events\n got %s\nwant %s (result %+v)", got, strings.Join(c.want, ","), res)
			}
			for i, e := range evs {
				if e.ID != int64(i+1) {
					t.Errorf("event %d has id %d", i, e.ID)
				}
				if i > 0 && (e.PreviousEventID < 1 || e.PreviousEventID >= e.ID) {
					t.Errorf("event %d (%s) has previousEventId %d", e.ID, e.Type, e.PreviousEventID)
				}
				if e.Details != nil && e.DetailsKey == "" {
					t.Errorf("event %s has details but no details key", e.Type)
				}
			}
		})
	}
}

func TestLambdaInvokeResultShape(t *testing.T) {
	fn := "arn:aws:lambda:us-east-1:123456789012:function:Step"
	inv := &recorder{answers: map[string]any{fn: map[string]any{"ok": true}}}
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"`+fn+`","Payload":{"a.$":"$.a"}},"End":true}}}`)
	in, _ := ParseJSON([]byte(`{"a":7}`))
	res, evs := Run(context.Background(), def, in, testOptions(inv))
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Cause)
	}
	if got := MustString(inv.seen[fn]); got != `{"a":7}` {
		t.Errorf("the function got %s, want the Payload {\"a\":7}", got)
	}
	out := res.Output.(*Object)
	want := []string{"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}
	if strings.Join(out.Keys, ",") != strings.Join(want, ",") {
		t.Errorf("result members %v, want %v", out.Keys, want)
	}
	if got := MustString(out.Values["Payload"]); got != `{"ok":true}` {
		t.Errorf("Payload %s", got)
	}
	if got := MustString(out.Values["SdkResponseMetadata"]); got != `{"RequestId":"req-1"}` {
		t.Errorf("SdkResponseMetadata %s", got)
	}
	for _, e := range evs {
		if e.Type == "TaskScheduled" {
			if e.Details["resourceType"] != "lambda" || e.Details["resource"] != "invoke" || e.Details["region"] != "us-east-1" {
				t.Errorf("TaskScheduled details %v", e.Details)
			}
		}
	}
}

func TestStopAborts(t *testing.T) {
	def := mustParse(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
	opts := testOptions(&recorder{})
	opts.Clock = core.NewScaledClock(1) // a real hour: only Stop can end it
	e := Start(context.Background(), def, NewObject(), opts)
	e.Stop("Operator.Stopped", "test")
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the execution did not end after Stop")
	}
	res := e.Result()
	if res.Status != StatusAborted || res.Error != "Operator.Stopped" {
		t.Errorf("result %+v, want ABORTED with the stop error", res)
	}
	evs := e.Events()
	if last := evs[len(evs)-1]; last.Type != "ExecutionAborted" {
		t.Errorf("last event %s, want ExecutionAborted", last.Type)
	}
}

func TestHistoryLimitEndsRunawayLoop(t *testing.T) {
	def := mustParse(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Choice","Choices":[{"Variable":"$.done","IsPresent":true,"Next":"End"}],"Default":"A"},"End":{"Type":"Succeed"}}}`)
	opts := testOptions(&recorder{})
	opts.MaxEvents = 200
	res, evs := Run(context.Background(), def, NewObject(), opts)
	if res.Status != StatusFailed || res.Error != ErrRuntime || !strings.Contains(res.Cause, "maximum number of history events") {
		t.Errorf("result %+v, want a States.Runtime failure at the history limit", res)
	}
	if len(evs) > 202 {
		t.Errorf("%d events recorded past a limit of 200", len(evs))
	}
}

func TestInputAboveLimit(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.big","b.$":"$.big"},"End":true}}}`)
	in := NewObject()
	in.Set("big", strings.Repeat("y", 150*1024))
	res, _ := Run(context.Background(), def, in, testOptions(&recorder{}))
	if res.Status != StatusFailed || res.Error != ErrDataLimitExceeded {
		t.Errorf("result %s %s, want States.DataLimitExceeded for a 300 KiB effective input", res.Status, res.Error)
	}
}

func TestNoSecretInRuntimeCause(t *testing.T) {
	// A path error names the path and shows the input; Strongroom's payloads carry secret ARNs,
	// never values, so the cause is safe to keep. This pins that the cause is bounded in size.
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.missing"},"End":true}}}`)
	in := NewObject()
	in.Set("pad", strings.Repeat("z", 5000))
	res, _ := Run(context.Background(), def, in, testOptions(&recorder{}))
	if res.Error != ErrRuntime || len(res.Cause) > 1500 {
		t.Errorf("error %s cause of %d bytes, want States.Runtime with a bounded cause", res.Error, len(res.Cause))
	}
}

func TestIntrinsicMathRandomRange(t *testing.T) {
	for i := range 200 {
		v, err := intrinsics["States.MathRandom"]([]any{1.0, 3.0})
		if err != nil {
			t.Fatal(err)
		}
		if f := v.(float64); f < 1 || f >= 3 {
			t.Fatalf("draw %d: %v outside [1, 3)", i, f)
		}
	}
	a, _ := intrinsics["States.MathRandom"]([]any{1.0, 1000.0, 7.0})
	b, _ := intrinsics["States.MathRandom"]([]any{1.0, 1000.0, 7.0})
	if a != b {
		t.Errorf("the same seed gave %v and %v", a, b)
	}
}

func TestJSONPath(t *testing.T) {
	doc, _ := ParseJSON([]byte(`{"a":{"b":[1,2,3]},"items":[{"id":1,"n":"x"},{"id":2,"n":"y"}],"odd key":true}`))
	cases := []struct{ path, want string }{
		{"$", MustString(doc)},
		{"$.a.b[2]", "3"},
		{"$.a.b[-1]", "3"},
		{"$['odd key']", "true"},
		{"$.items[*].id", "[1,2]"},
		{"$.items[?(@.n == 'y')].id", "[2]"},
		{"$..id", "[1,2]"},
		{"$.a.b[0:2]", "[1,2]"},
		{"$.a.b[0,2]", "[1,3]"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			v, err := evalPath(c.path, doc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := MustString(v); got != c.want {
				t.Errorf("%s = %s, want %s", c.path, got, c.want)
			}
		})
	}
}
