package stepfunctions_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

const role = "arn:aws:iam::123456789012:role/sfn"

// env is a whole sandbox (pkg/sandbox, with this service registered by the platform), reached
// by the real aws-sdk-go-v2 Step Functions client over HTTP.
type env struct {
	lambda  *lambda.Service
	states  *stepfunctions.Service
	client  *sfn.Client
	mu      sync.Mutex
	changes []stepfunctions.StatusChange
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvAt(t, 2000)
}

// newEnvAt is newEnv with the sandbox clock at scale: a task's TimeoutSeconds is that many
// sandbox seconds, so a lower scale gives in-process handlers more wall time on a loaded machine.
func newEnvAt(t *testing.T, scale float64) *env {
	t.Helper()
	sb := sandboxtest.New(t, sandboxtest.Scale(scale))
	e := &env{lambda: sb.Lambda, states: sb.StepFunctions, client: sfn.NewFromConfig(sb.AWSConfig())}
	// The test records status changes itself (the platform's hook publishes them to EventBridge).
	e.states.OnStatusChange(func(c stepfunctions.StatusChange) {
		e.mu.Lock()
		e.changes = append(e.changes, c)
		e.mu.Unlock()
	})
	return e
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) create(t *testing.T, name, def string) string {
	t.Helper()
	out, err := e.client.CreateStateMachine(ctxFor(t), &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatalf("CreateStateMachine %s: %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

// waitDone polls DescribeExecution, as a client would, until the execution leaves RUNNING.
func (e *env) waitDone(t *testing.T, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	ctx := ctxFor(t)
	for {
		out, err := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still RUNNING", arn)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestCreateDescribeValidate(t *testing.T) {
	e := newEnv(t)
	ctx := ctxFor(t)
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`
	arn := e.create(t, "simple", def)
	if arn != "arn:aws:states:us-east-1:123456789012:stateMachine:simple" {
		t.Errorf("arn %s", arn)
	}
	if again := e.create(t, "simple", def); again != arn {
		t.Errorf("re-creating the same machine gave %s", again)
	}
	_, err := e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("simple"), Definition: aws.String(`{"StartAt":"Q","States":{"Q":{"Type":"Succeed"}}}`), RoleArn: aws.String(role)})
	var exists *types.StateMachineAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("a different definition under the same name: %v, want StateMachineAlreadyExists", err)
	}
	d, err := e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.Definition) != def || d.Status != types.StateMachineStatusActive || d.Type != types.StateMachineTypeStandard || aws.ToString(d.RoleArn) != role {
		t.Errorf("DescribeStateMachine = %+v", d)
	}

	bad := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Next":"Gone"}}}`
	_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(bad), RoleArn: aws.String(role)})
	var invalid *types.InvalidDefinition
	if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "/States/T/Resource") || !strings.Contains(invalid.ErrorMessage(), "MISSING_TRANSITION_TARGET") {
		t.Errorf("CreateStateMachine with a bad definition: %v, want InvalidDefinition naming the state and fields", err)
	}
	v, err := e.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(bad)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(v.Diagnostics) < 2 || v.Diagnostics[0].Severity != types.ValidateStateMachineDefinitionSeverityError {
		t.Errorf("ValidateStateMachineDefinition = %+v", v)
	}
	ok, err := e.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(def)})
	if err != nil || ok.Result != types.ValidateStateMachineDefinitionResultCodeOk || len(ok.Diagnostics) != 0 {
		t.Errorf("ValidateStateMachineDefinition(valid) = %+v, %v", ok, err)
	}
	_, err = e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:nope")})
	var missing *types.StateMachineDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("DescribeStateMachine(unknown) = %v, want StateMachineDoesNotExist", err)
	}
	// DynamoDB is not emulated by the sandbox, so no integration can run this resource.
	_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("sdk"), RoleArn: aws.String(role),
		Definition: aws.String(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:dynamodb:putItem","End":true}}}`)})
	if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "no integration") {
		t.Errorf("an aws-sdk resource without an integration: %v, want InvalidDefinition", err)
	}
}

func TestLambdaTasksRetryWaitAndHistory(t *testing.T) {
	e := newEnv(t)
	var calls int
	var mu sync.Mutex
	fn, err := e.lambda.RegisterHandler("flaky", func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n < 3 {
			return nil, lambdaerr.Retryable("describe cluster", errors.New("throttled"))
		}
		return []byte(`{"attempt":` + string(rune('0'+n)) + `}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	def := `{"StartAt":"Step","States":{
	  "Step":{"Type":"Task","Resource":"` + fn + `","ResultPath":"$.step","Retry":[{"ErrorEquals":["RetryableError"],"IntervalSeconds":2,"BackoffRate":2,"MaxAttempts":3}],"Next":"Pause"},
	  "Pause":{"Type":"Wait","Seconds":60,"Next":"Invoke"},
	  "Invoke":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"flaky","Payload.$":"$"},"ResultSelector":{"p.$":"$.Payload"},"ResultPath":"$.invoked","Next":"Missing"},
	  "Missing":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:absent","Catch":[{"ErrorEquals":["Lambda.ResourceNotFoundException"],"ResultPath":"$.missing","Next":"Done"}],"End":true},
	  "Done":{"Type":"Succeed"}}}`
	arn := e.create(t, "flow", def)
	ctx := ctxFor(t)
	start, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("run-1"), Input: aws.String(`{"id":"c-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	d := e.waitDone(t, aws.ToString(start.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out struct {
		ID      string `json:"id"`
		Step    struct{ Attempt int }
		Invoked struct{ P struct{ Attempt int } }
		Missing struct{ Error, Cause string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "c-1" || out.Step.Attempt != 3 || out.Invoked.P.Attempt != 4 || out.Missing.Error != "Lambda.ResourceNotFoundException" {
		t.Errorf("output %s", aws.ToString(d.Output))
	}
	if d.StopDate.Sub(*d.StartDate) < 66*time.Second {
		t.Errorf("the execution took %v of sandbox time; the Wait (60 s) and retries (2 s + 4 s) need at least 66 s", d.StopDate.Sub(*d.StartDate))
	}

	// The whole history, then the same read a page of 4 at a time and in reverse.
	full, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var types_ []string
	for _, ev := range full.Events {
		types_ = append(types_, string(ev.Type))
	}
	joined := strings.Join(types_, ",")
	for _, want := range []string{
		"ExecutionStarted,TaskStateEntered,LambdaFunctionScheduled,LambdaFunctionStarted,LambdaFunctionFailed,LambdaFunctionScheduled",
		"LambdaFunctionSucceeded,TaskStateExited,WaitStateEntered,WaitStateExited,TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,TaskStateExited",
		"LambdaFunctionFailed,TaskStateExited,SucceedStateEntered,SucceedStateExited,ExecutionSucceeded",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("history %s lacks %s", joined, want)
		}
	}
	first := full.Events[0]
	if first.ExecutionStartedEventDetails == nil || aws.ToString(first.ExecutionStartedEventDetails.Input) != `{"id":"c-1"}` || aws.ToString(first.ExecutionStartedEventDetails.RoleArn) != role {
		t.Errorf("ExecutionStarted details %+v", first.ExecutionStartedEventDetails)
	}
	for _, ev := range full.Events {
		if ev.Type == types.HistoryEventTypeLambdaFunctionFailed {
			if det := ev.LambdaFunctionFailedEventDetails; det == nil || aws.ToString(det.Error) != "RetryableError" || !strings.Contains(aws.ToString(det.Cause), "throttled") {
				t.Errorf("LambdaFunctionFailed details %+v", det)
			}
			break
		}
	}
	var paged []types.HistoryEvent
	var token *string
	for range 100 {
		p, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 4, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, p.Events...)
		if token = p.NextToken; token == nil {
			break
		}
	}
	if len(paged) != len(full.Events) {
		t.Errorf("paged history has %d events, want %d", len(paged), len(full.Events))
	}
	rev, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, ReverseOrder: true, MaxResults: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Events) != 1 || rev.Events[0].Type != types.HistoryEventTypeExecutionSucceeded || rev.NextToken == nil {
		t.Errorf("reverseOrder first page %+v", rev.Events)
	}
}

func TestStartIdempotencyStopAndList(t *testing.T) {
	e := newEnv(t)
	ctx := ctxFor(t)
	arn := e.create(t, "slow", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"End":true}}}`)
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("once"), Input: aws.String(`{"a":1}`)}
	first, err := e.client.StartExecution(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.StartExecution(ctx, in)
	if err != nil || aws.ToString(second.ExecutionArn) != aws.ToString(first.ExecutionArn) {
		t.Errorf("the same name and input while running: %v %v, want the same execution", second, err)
	}
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("once"), Input: aws.String(`{"a":2}`)})
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("the same name with another input: %v, want ExecutionAlreadyExists", err)
	}
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{not json`)})
	var badInput *types.InvalidExecutionInput
	if !errors.As(err, &badInput) {
		t.Errorf("input that is not JSON: %v, want InvalidExecutionInput", err)
	}
	if _, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: first.ExecutionArn, Error: aws.String("Operator.Stop"), Cause: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	d := e.waitDone(t, aws.ToString(first.ExecutionArn))
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Operator.Stop" {
		t.Errorf("after StopExecution: %s %s", d.Status, aws.ToString(d.Error))
	}
	_, err = e.client.StartExecution(ctx, in)
	if !errors.As(err, &exists) {
		t.Errorf("reusing a closed execution's name: %v, want ExecutionAlreadyExists", err)
	}
	other, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), StatusFilter: types.ExecutionStatusAborted})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Executions) != 1 || aws.ToString(list.Executions[0].Name) != "once" {
		t.Errorf("ABORTED executions %+v", list.Executions)
	}
	all, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
	if err != nil || len(all.Executions) != 2 || aws.ToString(all.Executions[0].ExecutionArn) != aws.ToString(other.ExecutionArn) {
		t.Errorf("ListExecutions (newest first) = %+v, %v", all, err)
	}
	e.states.Close() // aborts the second execution; its hook still reports it

	e.mu.Lock()
	defer e.mu.Unlock()
	var statuses []string
	for _, c := range e.changes {
		if c.Resources[0] == aws.ToString(first.ExecutionArn) {
			statuses = append(statuses, c.Detail["status"].(string))
			if c.DetailType != "Step Functions Execution Status Change" || c.Source != "aws.states" {
				t.Errorf("status change %+v", c)
			}
		}
	}
	if strings.Join(statuses, ",") != "RUNNING,ABORTED" {
		t.Errorf("status changes %v, want RUNNING then ABORTED", statuses)
	}
}

func TestSDKIntegrationAndTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := ctxFor(t)
	arn := e.create(t, "sdk", `{"StartAt":"Create","States":{
	  "Create":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:secretsmanager:createSecret","Parameters":{"Name":"db-admin","Description":"made by a state machine"},"ResultSelector":{"name.$":"$.Name"},"ResultPath":"$.created","Next":"Describe"},
	  "Describe":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:secretsmanager:describeSecret","Parameters":{"SecretId":"no-such-secret"},"Catch":[{"ErrorEquals":["SecretsManager.ResourceNotFoundException"],"ResultPath":"$.error","Next":"Done"}],"End":true},
	  "Done":{"Type":"Pass","End":true}}}`)
	start, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	d := e.waitDone(t, aws.ToString(start.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded || !strings.Contains(aws.ToString(d.Output), `"created":{"name":"db-admin"}`) || !strings.Contains(aws.ToString(d.Output), `"Error":"SecretsManager.ResourceNotFoundException"`) {
		t.Errorf("status %s output %s (%s)", d.Status, aws.ToString(d.Output), aws.ToString(d.Cause))
	}

	slow := e.create(t, "bounded", `{"TimeoutSeconds":30,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
	start, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(slow)})
	if err != nil {
		t.Fatal(err)
	}
	d = e.waitDone(t, aws.ToString(start.ExecutionArn))
	if d.Status != types.ExecutionStatusTimedOut {
		t.Errorf("status %s, want TIMED_OUT", d.Status)
	}
	h, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, ReverseOrder: true, MaxResults: 1})
	if err != nil || h.Events[0].Type != types.HistoryEventTypeExecutionTimedOut {
		t.Errorf("last event %+v %v, want ExecutionTimedOut", h.Events, err)
	}
}

func TestStatusChangesOfAFastExecution(t *testing.T) {
	e := newEnv(t)
	arn := e.create(t, "fast", `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":true},"End":true}}}`)
	start, err := e.client.StartExecution(ctxFor(t), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"in":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	e.waitDone(t, aws.ToString(start.ExecutionArn))
	e.states.Close() // waits for the hooks
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.changes) != 2 {
		t.Fatalf("%d status changes, want RUNNING and SUCCEEDED", len(e.changes))
	}
	running, done := e.changes[0].Detail, e.changes[1].Detail
	if running["status"] != "RUNNING" || running["stopDate"] != nil || running["input"] != `{"in":1}` {
		t.Errorf("RUNNING detail %v", running)
	}
	if done["status"] != "SUCCEEDED" || done["output"] != `{"ok":true}` || done["stopDate"] == nil {
		t.Errorf("SUCCEEDED detail %v", done)
	}
}
