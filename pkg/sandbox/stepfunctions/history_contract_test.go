package stepfunctions_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// The end of a failed execution's history, as the alert relay (pkg/trailalert) reads it: newest
// first in small pages without execution data, following previousEventId from the last event
// back to the state it failed in. Shapes per the API reference's HistoryEvent and its
// *EventDetails (ExecutionFailed, ExecutionAborted, LambdaFunctionFailed, StateEntered).

// history pages through an execution's history newest first, pageSize events at a time.
func (e *env) history(t *testing.T, arn string, pageSize int32) ([]types.HistoryEvent, int) {
	t.Helper()
	var all []types.HistoryEvent
	var token *string
	pages := 0
	for {
		out, err := e.client.GetExecutionHistory(ctxFor(t), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn),
			ReverseOrder: true, MaxResults: pageSize, IncludeExecutionData: aws.Bool(false), NextToken: token})
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		pages++
		if len(out.Events) > int(pageSize) {
			t.Fatalf("page of %d events; maxResults was %d", len(out.Events), pageSize)
		}
		all = append(all, out.Events...)
		if token = out.NextToken; token == nil {
			return all, pages
		}
	}
}

// stateOf follows previousEventId from event id back to a StateEntered event.
func stateOf(t *testing.T, events []types.HistoryEvent, id int64) (string, types.HistoryEventType) {
	t.Helper()
	byID := map[int64]types.HistoryEvent{}
	for _, e := range events {
		byID[e.Id] = e
	}
	for id != 0 {
		e, ok := byID[id]
		if !ok {
			t.Fatalf("previousEventId %d names no event", id)
		}
		if strings.HasSuffix(string(e.Type), "StateEntered") {
			if e.StateEnteredEventDetails == nil {
				t.Fatalf("%s without stateEnteredEventDetails", e.Type)
			}
			return aws.ToString(e.StateEnteredEventDetails.Name), e.Type
		}
		id = e.PreviousEventId
	}
	return "", ""
}

func TestFailedExecutionHistoryNewestFirst(t *testing.T) {
	e := newEnv(t)
	fn, err := e.lambda.RegisterHandler("create-cluster", func(context.Context, []byte) ([]byte, error) {
		return nil, lambdaerr.Terminal("create cluster: subnet in an unsupported zone", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := e.create(t, "ClusterCreateWorkflow", `{"StartAt":"Init","States":{
	  "Init":{"Type":"Pass","Next":"CreateCluster"},
	  "CreateCluster":{"Type":"Task","Resource":"`+fn+`","Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.Error","Next":"AnswerFailure"}],"End":true},
	  "AnswerFailure":{"Type":"Pass","Next":"Failed"},
	  "Failed":{"Type":"Fail","Error":"WorkflowFailed","CausePath":"$.Error.Cause"}}}`)
	start, err := e.client.StartExecution(ctxFor(t), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"Event":{"LogicalResourceId":"Cluster"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.waitDone(t, aws.ToString(start.ExecutionArn)); d.Status != types.ExecutionStatusFailed {
		t.Fatalf("status %s", d.Status)
	}
	events, pages := e.history(t, aws.ToString(start.ExecutionArn), 3)
	if pages < 3 {
		t.Errorf("%d pages of 3 for %d events", pages, len(events))
	}
	for i, ev := range events {
		if want := int64(len(events) - i); ev.Id != want {
			t.Fatalf("event %d has id %d; newest first, ids run %d down to 1", i, ev.Id, len(events))
		}
		if ev.Timestamp == nil || (i > 0 && ev.Timestamp.After(*events[i-1].Timestamp)) {
			t.Errorf("event %d timestamp %v after the newer event's", ev.Id, ev.Timestamp)
		}
		if ev.Id > 1 && (ev.PreviousEventId < 1 || ev.PreviousEventId >= ev.Id) {
			t.Errorf("event %d (%s) previousEventId %d", ev.Id, ev.Type, ev.PreviousEventId)
		}
	}
	last := events[0]
	if last.Type != types.HistoryEventTypeExecutionFailed || last.ExecutionFailedEventDetails == nil || aws.ToString(last.ExecutionFailedEventDetails.Error) != "WorkflowFailed" {
		t.Fatalf("last event %s %+v; want ExecutionFailed WorkflowFailed", last.Type, last.ExecutionFailedEventDetails)
	}
	// The Fail state's CausePath took the caught error's cause: the Lambda error document.
	var cause struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal([]byte(aws.ToString(last.ExecutionFailedEventDetails.Cause)), &cause); err != nil || cause.ErrorType != "TerminalError" || !strings.Contains(cause.ErrorMessage, "unsupported zone") {
		t.Errorf("ExecutionFailed cause %q", aws.ToString(last.ExecutionFailedEventDetails.Cause))
	}
	if name, typ := stateOf(t, events, last.PreviousEventId); name != "Failed" || typ != types.HistoryEventTypeFailStateEntered {
		t.Errorf("the execution's last state is %s (%s); want Failed (FailStateEntered)", name, typ)
	}
	var failed *types.HistoryEvent
	for i := range events {
		if events[i].Type == types.HistoryEventTypeLambdaFunctionFailed {
			failed = &events[i]
			break
		}
	}
	if failed == nil || failed.LambdaFunctionFailedEventDetails == nil || aws.ToString(failed.LambdaFunctionFailedEventDetails.Error) != "TerminalError" {
		t.Fatalf("LambdaFunctionFailed %+v", failed)
	}
	if name, typ := stateOf(t, events, failed.PreviousEventId); name != "CreateCluster" || typ != types.HistoryEventTypeTaskStateEntered {
		t.Errorf("the failed step is in %s (%s); want CreateCluster (TaskStateEntered)", name, typ)
	}
	// includeExecutionData=false: no input or output, the rest of the details kept.
	for _, ev := range events {
		if d := ev.StateEnteredEventDetails; d != nil && d.Input != nil {
			t.Errorf("%s %s carries its input", ev.Type, aws.ToString(d.Name))
		}
		if d := ev.StateExitedEventDetails; d != nil && d.Output != nil {
			t.Errorf("%s carries its output", ev.Type)
		}
		if d := ev.ExecutionStartedEventDetails; d != nil && (d.Input != nil || aws.ToString(d.RoleArn) != role) {
			t.Errorf("ExecutionStarted details %+v", d)
		}
	}
}

func TestAbortedExecutionHistory(t *testing.T) {
	e := newEnv(t)
	arn := e.create(t, "KeyStoreRotateWorkflow", `{"StartAt":"Plan","States":{"Plan":{"Type":"Pass","Next":"DisconnectWait"},"DisconnectWait":{"Type":"Wait","Seconds":86400,"End":true}}}`)
	for _, stop := range []sfn.StopExecutionInput{{}, {Error: aws.String("Operator.Stop"), Cause: aws.String("maintenance")}} {
		start, err := e.client.StartExecution(ctxFor(t), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		// Wait until the execution is in the Wait state, then stop it.
		for {
			events, _ := e.history(t, aws.ToString(start.ExecutionArn), 100)
			if events[0].Type == types.HistoryEventTypeWaitStateEntered {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop.ExecutionArn = start.ExecutionArn
		if _, err := e.client.StopExecution(ctxFor(t), &stop); err != nil {
			t.Fatal(err)
		}
		e.waitDone(t, aws.ToString(start.ExecutionArn))
		events, _ := e.history(t, aws.ToString(start.ExecutionArn), 2)
		last := events[0]
		// The details are there even when StopExecution gave no error or cause, then empty.
		if last.Type != types.HistoryEventTypeExecutionAborted || last.ExecutionAbortedEventDetails == nil ||
			aws.ToString(last.ExecutionAbortedEventDetails.Error) != aws.ToString(stop.Error) || aws.ToString(last.ExecutionAbortedEventDetails.Cause) != aws.ToString(stop.Cause) {
			t.Errorf("last event %s %+v; want ExecutionAborted with error %q", last.Type, last.ExecutionAbortedEventDetails, aws.ToString(stop.Error))
		}
		if name, _ := stateOf(t, events, last.PreviousEventId); name != "DisconnectWait" {
			t.Errorf("aborted in %q; want DisconnectWait", name)
		}
	}
}
