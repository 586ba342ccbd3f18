package customresource_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/customresource/safetynet"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// history builds an execution history. Entries are "Started", "Failed", or a state exit
// {type, name, output} with output as JSON.
type exit struct {
	typ    sfntypes.HistoryEventType
	name   string
	output any
}

func history(t *testing.T, steps ...any) []sfntypes.HistoryEvent {
	t.Helper()
	var out []sfntypes.HistoryEvent
	for i, s := range steps {
		ev := sfntypes.HistoryEvent{Id: int64(i + 1)}
		switch s := s.(type) {
		case sfntypes.HistoryEventType:
			ev.Type = s
		case exit:
			b, err := json.Marshal(s.output)
			if err != nil {
				t.Fatal(err)
			}
			ev.Type = s.typ
			ev.StateExitedEventDetails = &sfntypes.StateExitedEventDetails{Name: aws.String(s.name), Output: aws.String(string(b))}
		}
		out = append(out, ev)
	}
	return out
}

// statusChange is EventBridge's "Step Functions Execution Status Change" event.
func statusChange(arn, status string) events.CloudWatchEvent {
	d, _ := json.Marshal(safetynet.StatusChange{ExecutionARN: arn, StateMachineARN: createSM, Name: arn[strings.LastIndex(arn, ":")+1:], Status: status})
	return events.CloudWatchEvent{DetailType: "Step Functions Execution Status Change", Source: "aws.states", Detail: d}
}

// addExecution puts an ended execution of the request's workflow into the fake.
func addExecution(t *testing.T, s *fakeSFN, ev cfn.Event, status sfntypes.ExecutionStatus, errCode, cause string, h []sfntypes.HistoryEvent) string {
	t.Helper()
	machine := map[cfn.RequestType]string{cfn.RequestCreate: createSM, cfn.RequestUpdate: updateSM, cfn.RequestDelete: deleteSM}[ev.RequestType]
	input, _ := json.Marshal(customresource.WorkflowInput{Event: ev})
	name := customresource.ExecutionName(ev)
	arn := execARN(machine, name)
	s.execs[arn] = &execution{arn: arn, name: name, machine: machine, input: string(input), status: status, errCode: errCode, cause: cause, history: h}
	return arn
}

// The create workflow's states up to the cluster being made and recorded
// (statemachines/cluster-create.asl.json: Init, CheckEnvironment, CreateCluster, RecordClusterId).
func createdClusterHistory(t *testing.T, ev cfn.Event, more ...any) []sfntypes.HistoryEvent {
	steps := []any{
		sfntypes.HistoryEventTypeExecutionStarted,
		exit{sfntypes.HistoryEventTypePassStateExited, "Init", map[string]any{"Event": ev, "PhysicalResourceId": ""}},
		sfntypes.HistoryEventTypeTaskStateEntered,
		exit{sfntypes.HistoryEventTypeTaskStateExited, "CheckEnvironment", map[string]any{"Event": ev, "PhysicalResourceId": "", "Check": map[string]any{"VpcId": "vpc-1"}}},
		exit{sfntypes.HistoryEventTypeTaskStateExited, "CreateCluster", map[string]any{"PhysicalResourceId": "", "Created": map[string]any{"ClusterId": "cluster-abcdefghijk"}}},
		exit{sfntypes.HistoryEventTypePassStateExited, "RecordClusterId", map[string]any{"PhysicalResourceId": "cluster-abcdefghijk", "Created": map[string]any{"ClusterId": "cluster-abcdefghijk"}}},
		exit{sfntypes.HistoryEventTypeTaskStateExited, "Describe", map[string]any{"PhysicalResourceId": "cluster-abcdefghijk", "Cluster": map[string]any{"State": "UNINITIALIZED"}}},
	}
	return history(t, append(steps, more...)...)
}

// SafetyNet answers FAILED, once, for a custom-resource execution that ended without an Answer
// state having exited with an answer, naming the last PhysicalResourceId a state recorded (so a
// failed Create's rollback deletes what was made) and the execution's error.
func TestSafetyNetAnswersForAnUnansweredExecution(t *testing.T) {
	const lambdaCause = `{"errorMessage":"describe cluster cluster-abcdefghijk: not authorized","errorType":"TerminalError"}`
	create := cfEvent(cfn.RequestCreate, "", nil)
	update := cfEvent(cfn.RequestUpdate, "cluster-abcdefghijk", nil)
	cases := []struct {
		name         string
		ev           cfn.Event
		status       sfntypes.ExecutionStatus
		errCode      string
		cause        string
		history      func(t *testing.T) []sfntypes.HistoryEvent
		wantPhysical string
		wantReason   func(arn string) string
	}{
		{"create failed after making the cluster", create, sfntypes.ExecutionStatusFailed, "TerminalError", lambdaCause,
			func(t *testing.T) []sfntypes.HistoryEvent {
				return createdClusterHistory(t, create, sfntypes.HistoryEventTypeTaskStateEntered, sfntypes.HistoryEventTypeExecutionFailed)
			}, "cluster-abcdefghijk",
			func(arn string) string {
				return "the Create workflow ended FAILED without answering: describe cluster cluster-abcdefghijk: not authorized (execution " + arn + ")"
			}},
		{"the answer's PUT failed and was caught", create, sfntypes.ExecutionStatusFailed, "States.Runtime", "An error occurred while executing the state 'Failed'",
			func(t *testing.T) []sfntypes.HistoryEvent {
				return createdClusterHistory(t, create,
					exit{sfntypes.HistoryEventTypeTaskStateExited, "AnswerSuccess", map[string]any{"PhysicalResourceId": "cluster-abcdefghijk",
						"Error": map[string]any{"Error": "RetryableError", "Cause": "put response to CloudFormation: HTTP 503 SlowDown"}}},
					sfntypes.HistoryEventTypeExecutionFailed)
			}, "cluster-abcdefghijk",
			func(arn string) string {
				return "the Create workflow ended FAILED without answering: States.Runtime: An error occurred while executing the state 'Failed' (execution " + arn + ")"
			}},
		{"create aborted before anything was made", create, sfntypes.ExecutionStatusAborted, "", "",
			func(t *testing.T) []sfntypes.HistoryEvent {
				return history(t, sfntypes.HistoryEventTypeExecutionStarted,
					exit{sfntypes.HistoryEventTypePassStateExited, "Init", map[string]any{"Event": create, "PhysicalResourceId": ""}},
					sfntypes.HistoryEventTypeExecutionAborted)
			}, "strongroom-none-" + requestID,
			func(arn string) string {
				return "the Create workflow ended ABORTED without answering (execution " + arn + ")"
			}},
		// safetynet.go promises the last id a state recorded, not the first.
		{"the last recorded id wins", create, sfntypes.ExecutionStatusFailed, "", "",
			func(t *testing.T) []sfntypes.HistoryEvent {
				return createdClusterHistory(t, create,
					exit{sfntypes.HistoryEventTypePassStateExited, "RecordClusterId", map[string]any{"PhysicalResourceId": "cluster-bcdefghijkl"}},
					exit{sfntypes.HistoryEventTypeTaskStateExited, "Describe", map[string]any{"Cluster": map[string]any{"State": "UNINITIALIZED"}}},
					sfntypes.HistoryEventTypeExecutionFailed)
			}, "cluster-bcdefghijkl",
			func(arn string) string {
				return "the Create workflow ended FAILED without answering (execution " + arn + ")"
			}},
		{"update timed out", update, sfntypes.ExecutionStatusTimedOut, "States.Timeout", "",
			func(t *testing.T) []sfntypes.HistoryEvent {
				return history(t, sfntypes.HistoryEventTypeExecutionStarted,
					exit{sfntypes.HistoryEventTypePassStateExited, "Init", map[string]any{"Event": update, "PhysicalResourceId": "cluster-abcdefghijk"}},
					sfntypes.HistoryEventTypeExecutionTimedOut)
			}, "cluster-abcdefghijk",
			func(arn string) string {
				return "the Update workflow ended TIMED_OUT without answering: States.Timeout (execution " + arn + ")"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := newFakeSFN(), &recorder{}
			arn := addExecution(t, s, tc.ev, tc.status, tc.errCode, tc.cause, tc.history(t))
			out, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, string(tc.status)))
			if err != nil {
				t.Fatal(err)
			}
			if out.Action != "answered FAILED" || len(rec.sent) != 1 || rec.urls[0] != tc.ev.ResponseURL {
				t.Fatalf("out %+v, %d responses", out, len(rec.sent))
			}
			r := rec.sent[0]
			if r.Status != cfn.StatusFailed || r.PhysicalResourceID != tc.wantPhysical || r.Reason != tc.wantReason(arn) || r.RequestID != requestID {
				t.Fatalf("response = %+v\nwant physical %q reason %q", r, tc.wantPhysical, tc.wantReason(arn))
			}
		})
	}
}

// An execution whose Answer state exited with the answer step's output was answered, even when it
// then ended FAILED (the workflows end in a Fail state after AnswerFailure); the answer may be
// pages deep in the history.
func TestSafetyNetLeavesAnsweredExecutions(t *testing.T) {
	create := cfEvent(cfn.RequestCreate, "", nil)
	s, rec := newFakeSFN(), &recorder{}
	arn := addExecution(t, s, create, sfntypes.ExecutionStatusFailed, "WorkflowFailed", "sign CSR: cluster is ACTIVE", createdClusterHistory(t, create,
		exit{sfntypes.HistoryEventTypeTaskStateExited, "AnswerFailure", map[string]any{"PhysicalResourceId": "cluster-abcdefghijk",
			"Answer": customresource.AnswerOutput{Status: cfn.StatusFailed, PhysicalResourceID: "cluster-abcdefghijk", Reason: "sign CSR: cluster is ACTIVE"}}},
		sfntypes.HistoryEventTypeFailStateEntered, sfntypes.HistoryEventTypeExecutionFailed))
	out, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, "FAILED"))
	if err != nil || out.Action != "already answered" || rec.attempts != 0 {
		t.Fatalf("out %+v, err %v, %d sends", out, err, rec.attempts)
	}
	if n := countCalls(s, "GetExecutionHistory"); n != 5 {
		t.Fatalf("read %d history pages; the answer is on page 5", n)
	}
}

func countCalls(s *fakeSFN, op string) int {
	n := 0
	for _, c := range s.calls {
		if c == op {
			n++
		}
	}
	return n
}

// What is not an unanswered custom-resource execution is left alone.
func TestSafetyNetIgnores(t *testing.T) {
	s, rec := newFakeSFN(), &recorder{}
	arn := addExecution(t, s, cfEvent(cfn.RequestCreate, "", nil), sfntypes.ExecutionStatusSucceeded, "", "", nil)
	for _, status := range []string{"SUCCEEDED", "RUNNING"} {
		out, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, status))
		if err != nil || out.Action != "ignored "+status {
			t.Fatalf("%s: %+v %v", status, out, err)
		}
	}
	if len(s.calls) != 0 {
		t.Fatalf("read executions that succeeded or run: %v", s.calls)
	}

	// A rotation or other workflow's execution has no CloudFormation event in its input.
	other := execARN(createSM, "rotation-1")
	s.execs[other] = &execution{arn: other, input: `{"SecretId":"x"}`, status: sfntypes.ExecutionStatusFailed}
	if out, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(other, "FAILED")); err != nil || out.Action != "ignored: not a custom-resource execution" {
		t.Fatalf("other workflow: %+v %v", out, err)
	}
	if rec.attempts != 0 {
		t.Fatal("answered")
	}

	_, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), events.CloudWatchEvent{Detail: json.RawMessage(`{"status":"FAILED"}`)})
	mustType(t, err, lambdaerr.NameTerminal, "safety net: the event is not a Step Functions Execution Status Change")
}

// Failures to read the execution or to answer are returned for the invocation's retry.
func TestSafetyNetFailures(t *testing.T) {
	create := cfEvent(cfn.RequestCreate, "", nil)

	s, rec := newFakeSFN(), &recorder{}
	arn := addExecution(t, s, create, sfntypes.ExecutionStatusFailed, "", "", createdClusterHistory(t, create))
	s.inject("DescribeExecution", throttled("DescribeExecution"))
	if _, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, "FAILED")); errType(err) != lambdaerr.NameRetryable ||
		!strings.HasPrefix(err.Error(), "describe execution "+arn+": ") {
		t.Fatalf("describe throttled: %v", err)
	}
	s.inject("GetExecutionHistory", throttled("GetExecutionHistory"))
	if _, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, "FAILED")); errType(err) != lambdaerr.NameRetryable ||
		!strings.HasPrefix(err.Error(), "read history of "+arn+": ") {
		t.Fatalf("history throttled: %v", err)
	}
	if rec.attempts != 0 {
		t.Fatal("answered without knowing whether the workflow had")
	}
	rec.fail = []error{lambdaerr.Retryable("put response to CloudFormation: HTTP 503 SlowDown", nil)}
	if _, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, "FAILED")); errType(err) != lambdaerr.NameRetryable {
		t.Fatalf("send failed: %v", err)
	}
	if out, err := (&safetynet.SafetyNet{SFN: s, Send: rec.send}).Handle(context.Background(), statusChange(arn, "FAILED")); err != nil || out.Action != "answered FAILED" || len(rec.sent) != 1 {
		t.Fatalf("retry: %+v %v", out, err)
	}
}
