package customresource_test

// In-memory Step Functions (behind StarterAPI and HistoryAPI), a recording Sender, and a stand-in
// for the S3 pre-signed ResponseURL that HTTPSender PUTs to. Errors are the SDK's typed errors
// inside smithy.OperationError and an HTTP response error, as the SDK v2 client returns them, so
// errors.As in the code under test and lambdaerr.Classify at the boundary see realistic chains.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/customresource/entry"
	"github.com/strongroom/strongroom/pkg/customresource/safetynet"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

const (
	stackID   = "arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	requestID = "0f4b6c2e-7d1a-4c3b-9e8f-5a6b7c8d9e0f"
	smPrefix  = "arn:aws:states:us-east-1:123456789012:stateMachine:"
	createSM  = smPrefix + "strongroom-cluster-create"
	updateSM  = smPrefix + "strongroom-cluster-update"
	deleteSM  = smPrefix + "strongroom-cluster-delete"
)

func sdkError(op string, status int, apiErr error) error {
	return &smithy.OperationError{ServiceID: "SFN", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      apiErr,
		},
		RequestID: "9b2f6a1e-0000-4000-8000-000000000000",
	}}
}

func throttled(op string) error {
	return sdkError(op, 400, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient})
}

type execution struct {
	arn, name, machine, input string
	status                    sfntypes.ExecutionStatus
	errCode, cause            string
	history                   []sfntypes.HistoryEvent
}

// fakeSFN holds state machines and their executions. An execution's name is unique per state
// machine: starting it again with the same input while it runs returns it (Standard workflows
// are idempotent that way); otherwise the name is refused with ExecutionAlreadyExists.
type fakeSFN struct {
	mu       sync.Mutex
	machines map[string]bool
	execs    map[string]*execution
	fail     map[string][]error
	// historyPage is how many events a GetExecutionHistory page holds.
	historyPage int
	// loseStarts makes StartExecution start the execution and then fail with a 5xx, as a request
	// that went through whose answer was lost.
	loseStarts bool
	calls      []string
}

func newFakeSFN() *fakeSFN {
	return &fakeSFN{machines: map[string]bool{createSM: true, updateSM: true, deleteSM: true}, execs: map[string]*execution{}, fail: map[string][]error{}, historyPage: 2}
}

func (f *fakeSFN) inject(op string, err error) { f.fail[op] = append(f.fail[op], err) }

func (f *fakeSFN) take(op string) error {
	f.calls = append(f.calls, op)
	if q := f.fail[op]; len(q) > 0 {
		f.fail[op] = q[1:]
		return q[0]
	}
	return nil
}

func execARN(machine, name string) string {
	return "arn:aws:states:us-east-1:123456789012:execution:" + machine[len(smPrefix):] + ":" + name
}

func validName(name string) bool {
	if len(name) < 1 || len(name) > 80 {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "StartExecution"
	if err := f.take(op); err != nil {
		return nil, err
	}
	machine, name, input := aws.ToString(in.StateMachineArn), aws.ToString(in.Name), aws.ToString(in.Input)
	if !f.machines[machine] {
		return nil, sdkError(op, 400, &sfntypes.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + machine + "'")})
	}
	if !validName(name) {
		return nil, sdkError(op, 400, &sfntypes.InvalidName{Message: aws.String("Invalid Name: '" + name + "'")})
	}
	if !json.Valid([]byte(input)) || len(input) > 256*1024 {
		return nil, sdkError(op, 400, &sfntypes.InvalidExecutionInput{Message: aws.String("Invalid execution input")})
	}
	arn := execARN(machine, name)
	if e, ok := f.execs[arn]; ok {
		if e.status == sfntypes.ExecutionStatusRunning && e.input == input {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(time.Unix(0, 0))}, nil
		}
		return nil, sdkError(op, 400, &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + arn + "'")})
	}
	f.execs[arn] = &execution{arn: arn, name: name, machine: machine, input: input, status: sfntypes.ExecutionStatusRunning}
	if f.loseStarts {
		return nil, sdkError(op, 500, &smithy.GenericAPIError{Code: "InternalFailure", Message: "the answer was lost"})
	}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(time.Unix(0, 0))}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "DescribeExecution"
	if err := f.take(op); err != nil {
		return nil, err
	}
	e, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, sdkError(op, 400, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + aws.ToString(in.ExecutionArn) + "'")})
	}
	out := &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), StateMachineArn: aws.String(e.machine),
		Status: e.status, Input: aws.String(e.input)}
	if e.errCode != "" {
		out.Error = aws.String(e.errCode)
	}
	if e.cause != "" {
		out.Cause = aws.String(e.cause)
	}
	return out, nil
}

func (f *fakeSFN) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "GetExecutionHistory"
	if err := f.take(op); err != nil {
		return nil, err
	}
	e, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, sdkError(op, 400, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist")})
	}
	start := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(*in.NextToken)
		if err != nil {
			return nil, sdkError(op, 400, &sfntypes.InvalidToken{Message: aws.String("Invalid Token")})
		}
		start = n
	}
	end := min(start+f.historyPage, len(e.history))
	out := &sfn.GetExecutionHistoryOutput{}
	for _, ev := range e.history[start:end] {
		// includeExecutionData defaults to true; false leaves states' input and output out.
		if in.IncludeExecutionData != nil && !*in.IncludeExecutionData && ev.StateExitedEventDetails != nil {
			d := *ev.StateExitedEventDetails
			d.Output = nil
			ev.StateExitedEventDetails = &d
		}
		out.Events = append(out.Events, ev)
	}
	if end < len(e.history) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

var (
	_ entry.StarterAPI     = (*fakeSFN)(nil)
	_ safetynet.HistoryAPI = (*fakeSFN)(nil)
)

// recorder is a Sender that keeps every response it was asked to send; fail queues errors for the
// next attempts (each attempt is still counted).
type recorder struct {
	attempts int
	sent     []*cfn.Response
	urls     []string
	fail     []error
}

func (r *recorder) send(_ context.Context, resp *cfn.Response, url string) error {
	r.attempts++
	if len(r.fail) > 0 {
		err := r.fail[0]
		r.fail = r.fail[1:]
		return err
	}
	cp := *resp
	r.sent = append(r.sent, &cp)
	r.urls = append(r.urls, url)
	return nil
}

// s3Reply is one programmed answer of the pre-signed URL.
type s3Reply struct {
	status int
	code   string // S3's XML error code
	header string // X-Amzn-ErrorType, as other AWS REST services send
}

// fakeS3 stands in for the pre-signed ResponseURL. Like S3 it refuses a Content-Type the URL was
// not signed with (SignatureDoesNotMatch) and answers 200 to a good PUT; replies queues failures
// for the next requests.
type fakeS3 struct {
	*httptest.Server
	mu      sync.Mutex
	replies []s3Reply
	bodies  [][]byte
	puts    int
}

func newFakeS3(t *testing.T) *fakeS3 {
	f := &fakeS3{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		f.puts++
		reply := s3Reply{status: http.StatusOK}
		switch {
		case r.Header.Get("Content-Type") != "":
			reply = s3Reply{status: http.StatusForbidden, code: "SignatureDoesNotMatch"}
		case r.ContentLength != int64(len(body)):
			reply = s3Reply{status: http.StatusBadRequest, code: "IncompleteBody"}
		case len(f.replies) > 0:
			reply = f.replies[0]
			f.replies = f.replies[1:]
		}
		if reply.status == http.StatusOK {
			f.bodies = append(f.bodies, body)
			return
		}
		if reply.header != "" {
			w.Header().Set("X-Amzn-ErrorType", reply.header)
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(reply.status)
		if reply.code != "" {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message><RequestId>r</RequestId></Error>`, reply.code)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeS3) queue(replies ...s3Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, replies...)
}

// cfEvent is a CloudFormation request for the test stack's "Cluster" resource.
func cfEvent(rt cfn.RequestType, physical string, props map[string]any) cfn.Event {
	return cfn.Event{RequestType: rt, RequestID: requestID, ResponseURL: "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc",
		ResourceType: "Custom::CloudHsmCluster", LogicalResourceID: "Cluster", StackID: stackID, PhysicalResourceID: physical, ResourceProperties: props}
}

func errType(err error) string { return lambdaerr.TypeName(lambdaerr.Classify(err)) }

func mustType(t *testing.T, err error, wantType, wantText string) {
	t.Helper()
	var ok bool
	switch wantType {
	case lambdaerr.NameTerminal:
		var te *lambdaerr.TerminalError
		ok = errors.As(err, &te)
	case lambdaerr.NameRetryable:
		var re *lambdaerr.RetryableError
		ok = errors.As(err, &re)
	}
	if !ok {
		t.Fatalf("err = %v (%T); want a %s", err, err, wantType)
	}
	if err.Error() != wantText {
		t.Fatalf("err =\n  %q\nwant\n  %q", err.Error(), wantText)
	}
}
