package customresource_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// answerVia builds the answer step as lambdas/cfn-answer does, sending to the fake S3 URL.
func answerVia(s3 *fakeS3) (*customresource.Answer, cfn.Event) {
	ev := cfEvent(cfn.RequestCreate, "", nil)
	ev.ResponseURL = s3.URL + "/response?X-Amz-Signature=abc"
	return &customresource.Answer{Send: customresource.HTTPSender(s3.Client())}, ev
}

// sentResponse decodes the one body S3 received.
func sentResponse(t *testing.T, s3 *fakeS3) cfn.Response {
	t.Helper()
	if len(s3.bodies) != 1 {
		t.Fatalf("S3 stored %d responses; want exactly 1", len(s3.bodies))
	}
	if len(s3.bodies[0]) > customresource.MaxBody {
		t.Fatalf("body of %d bytes; CloudFormation takes at most %d", len(s3.bodies[0]), customresource.MaxBody)
	}
	var r cfn.Response
	if err := json.Unmarshal(s3.bodies[0], &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Answer turns the workflow's outcome (or the error a Catch put at $.Error) into one response with
// a PhysicalResourceId and a body within CloudFormation's 4,096 bytes, PUT to the ResponseURL.
func TestAnswer(t *testing.T) {
	bigReason := strings.Repeat("ü", 6000)
	cases := []struct {
		name string
		in   func(ev cfn.Event) customresource.AnswerInput
		want cfn.Response // RequestId, StackId and LogicalResourceId are checked apart
		out  customresource.AnswerOutput
	}{
		{"success with data", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk",
				Data: map[string]any{"ClusterId": "cluster-abcdefghijk", "HsmIps": "10.0.0.11,10.0.1.12"}}}
		}, cfn.Response{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk", Data: map[string]any{"ClusterId": "cluster-abcdefghijk", "HsmIps": "10.0.0.11,10.0.1.12"}},
			customresource.AnswerOutput{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"}},
		{"no status is success", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{PhysicalResourceID: "cluster-abcdefghijk"}}
		}, cfn.Response{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"},
			customresource.AnswerOutput{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"}},
		{"caught Lambda error names what was made", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusFailed, PhysicalResourceID: "cluster-abcdefghijk"},
				Error: &customresource.CaughtError{Error: "TerminalError", Cause: `{"errorMessage":"sign CSR: cluster cluster-abcdefghijk is ACTIVE","errorType":"TerminalError"}`}}
		}, cfn.Response{Status: cfn.StatusFailed, PhysicalResourceID: "cluster-abcdefghijk", Reason: "sign CSR: cluster cluster-abcdefghijk is ACTIVE"},
			customresource.AnswerOutput{Status: cfn.StatusFailed, PhysicalResourceID: "cluster-abcdefghijk", Reason: "sign CSR: cluster cluster-abcdefghijk is ACTIVE"}},
		{"caught error overrides a success status", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusSuccess},
				Error: &customresource.CaughtError{Error: "States.Timeout", Cause: "State timed out"}}
		}, cfn.Response{Status: cfn.StatusFailed, PhysicalResourceID: "strongroom-none-" + requestID, Reason: "States.Timeout: State timed out"},
			customresource.AnswerOutput{Status: cfn.StatusFailed, PhysicalResourceID: "strongroom-none-" + requestID, Reason: "States.Timeout: State timed out"}},
		{"a failed clean-up is part of the reason", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusFailed, PhysicalResourceID: "cks-1/failed-create"},
				Error:   &customresource.CaughtError{Error: "ConnectionFailed", Cause: "USER_NOT_FOUND"},
				Cleanup: &customresource.CaughtError{Error: "TerminalError", Cause: `{"errorMessage":"disconnect key store cks-1: AccessDeniedException","errorType":"TerminalError"}`}}
		}, cfn.Response{Status: cfn.StatusFailed, PhysicalResourceID: "cks-1/failed-create", Reason: "ConnectionFailed: USER_NOT_FOUND; clean-up: disconnect key store cks-1: AccessDeniedException"},
			customresource.AnswerOutput{Status: cfn.StatusFailed, PhysicalResourceID: "cks-1/failed-create", Reason: "ConnectionFailed: USER_NOT_FOUND; clean-up: disconnect key store cks-1: AccessDeniedException"}},
		{"a clean-up note does not fail a success", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"},
				Cleanup: &customresource.CaughtError{Error: "X", Cause: "Y"}}
		}, cfn.Response{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"},
			customresource.AnswerOutput{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"}},
		{"the outcome's own reason wins", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusFailed, Reason: "HsmCount: too many"},
				Error: &customresource.CaughtError{Error: "X", Cause: "Y"}}
		}, cfn.Response{Status: cfn.StatusFailed, PhysicalResourceID: "strongroom-none-" + requestID, Reason: "HsmCount: too many"},
			customresource.AnswerOutput{Status: cfn.StatusFailed, PhysicalResourceID: "strongroom-none-" + requestID, Reason: "HsmCount: too many"}},
		{"data too large becomes a failure", func(ev cfn.Event) customresource.AnswerInput {
			return customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk",
				Data: map[string]any{"Blob": strings.Repeat("x", customresource.MaxBody)}}}
		}, cfn.Response{Status: cfn.StatusFailed, PhysicalResourceID: "cluster-abcdefghijk", Reason: customresource.ErrDataTooLarge.Error()},
			customresource.AnswerOutput{Status: cfn.StatusFailed, PhysicalResourceID: "cluster-abcdefghijk", Reason: customresource.ErrDataTooLarge.Error()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s3 := newFakeS3(t)
			step, ev := answerVia(s3)
			out, err := step.Handle(context.Background(), tc.in(ev))
			if err != nil {
				t.Fatal(err)
			}
			if out != tc.out {
				t.Fatalf("out = %+v; want %+v", out, tc.out)
			}
			r := sentResponse(t, s3)
			want := tc.want
			want.RequestID, want.StackID, want.LogicalResourceID = requestID, stackID, "Cluster"
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("response =\n  %+v\nwant\n  %+v", r, want)
			}
		})
	}

	// A reason too long for the body is shortened, visibly, to fit.
	s3 := newFakeS3(t)
	step, ev := answerVia(s3)
	if _, err := step.Handle(context.Background(), customresource.AnswerInput{Event: ev, Error: &customresource.CaughtError{Error: "E", Cause: bigReason}}); err != nil {
		t.Fatal(err)
	}
	if r := sentResponse(t, s3); r.Status != cfn.StatusFailed || !strings.HasPrefix(r.Reason, "E: üü") || !strings.HasSuffix(r.Reason, " [...truncated]") {
		t.Fatalf("reason %q...", r.Reason[:40])
	}
}

// A response that cannot be built or has nowhere to go is terminal, and nothing is sent.
func TestAnswerCannotSend(t *testing.T) {
	s3 := newFakeS3(t)
	step, ev := answerVia(s3)
	_, err := step.Handle(context.Background(), customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: "MAYBE"}})
	mustType(t, err, lambdaerr.NameTerminal, `build CloudFormation response: outcome status "MAYBE": want SUCCESS or FAILED`)
	ev.ResponseURL = ""
	_, err = step.Handle(context.Background(), customresource.AnswerInput{Event: ev})
	mustType(t, err, lambdaerr.NameTerminal, "answer CloudFormation: the event has no ResponseURL")
	if s3.puts != 0 {
		t.Fatalf("%d PUTs", s3.puts)
	}
}

// HTTPSender classifies S3's answers: transient ones (5xx, 429, SlowDown, RequestTimeout, a
// throttling code, a broken connection) are retryable; a refused URL is terminal. It PUTs without
// a Content-Type, which S3 would refuse as not signed.
func TestHTTPSenderClassifies(t *testing.T) {
	cases := []struct {
		reply    s3Reply
		wantType string
		wantText string
	}{
		{s3Reply{status: 503, code: "SlowDown"}, lambdaerr.NameRetryable, "put response to CloudFormation: HTTP 503 SlowDown"},
		{s3Reply{status: 500, code: "InternalError"}, lambdaerr.NameRetryable, "put response to CloudFormation: HTTP 500 InternalError"},
		{s3Reply{status: 400, code: "RequestTimeout"}, lambdaerr.NameRetryable, "put response to CloudFormation: HTTP 400 RequestTimeout"},
		{s3Reply{status: 429}, lambdaerr.NameRetryable, "put response to CloudFormation: HTTP 429 "},
		{s3Reply{status: 400, header: "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"}, lambdaerr.NameRetryable,
			"put response to CloudFormation: HTTP 400 ThrottlingException"},
		{s3Reply{status: 403, code: "AccessDenied"}, lambdaerr.NameTerminal,
			"put response to CloudFormation: HTTP 403 AccessDenied (the pre-signed URL expired or was altered)"},
		{s3Reply{status: 404, code: "NoSuchBucket"}, lambdaerr.NameTerminal,
			"put response to CloudFormation: HTTP 404 NoSuchBucket (the pre-signed URL expired or was altered)"},
	}
	for _, tc := range cases {
		t.Run(tc.wantText, func(t *testing.T) {
			s3 := newFakeS3(t)
			s3.queue(tc.reply)
			step, ev := answerVia(s3)
			_, err := step.Handle(context.Background(), customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{PhysicalResourceID: "cluster-abcdefghijk"}})
			mustType(t, err, tc.wantType, tc.wantText)
			if s3.puts != 1 {
				t.Fatalf("%d PUTs; want 1", s3.puts)
			}
		})
	}

	s3 := newFakeS3(t)
	step, ev := answerVia(s3)
	s3.Close()
	_, err := step.Handle(context.Background(), customresource.AnswerInput{Event: ev})
	var re *lambdaerr.RetryableError
	if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "put response to CloudFormation: ") {
		t.Fatalf("closed connection: %v", err)
	}
}

// The answer step does not retry by itself: each attempt PUTs once and returns the Sender's
// retryable error, and the state machine's Retry (statemachines/*.asl.json, MaxAttempts 6) runs it
// again. The response is the same on every attempt, so CloudFormation gets one answer.
func TestAnswerRetriedByTheStateMachine(t *testing.T) {
	s3 := newFakeS3(t)
	s3.queue(s3Reply{status: 503, code: "SlowDown"}, s3Reply{status: 500, code: "InternalError"})
	step, ev := answerVia(s3)
	in := customresource.AnswerInput{Event: ev, Outcome: customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abcdefghijk"}}
	var out customresource.AnswerOutput
	var err error
	attempts := 0
	for attempts < 6 {
		attempts++
		out, err = step.Handle(context.Background(), in)
		if err == nil {
			break
		}
		if lambdaerr.TypeName(err) != lambdaerr.NameRetryable {
			t.Fatalf("attempt %d: %v is not retried", attempts, err)
		}
		if s3.puts != attempts {
			t.Fatalf("attempt %d made %d PUTs in all", attempts, s3.puts)
		}
	}
	if err != nil || attempts != 3 || out.Status != cfn.StatusSuccess {
		t.Fatalf("after %d attempts: %+v %v", attempts, out, err)
	}
	if r := sentResponse(t, s3); r.PhysicalResourceID != "cluster-abcdefghijk" || r.Status != cfn.StatusSuccess {
		t.Fatalf("response %+v", r)
	}
}

// CaughtError.Reason prefers a Lambda's own errorMessage, then "Error: Cause".
func TestCaughtErrorReason(t *testing.T) {
	cases := []struct {
		c    customresource.CaughtError
		want string
	}{
		{customresource.CaughtError{Error: "TerminalError", Cause: `{"errorMessage":"SubnetIds: give two","errorType":"TerminalError"}`}, "SubnetIds: give two"},
		{customresource.CaughtError{Error: "States.Timeout", Cause: "State timed out"}, "States.Timeout: State timed out"},
		{customresource.CaughtError{Error: "X", Cause: `{"errorType":"X"}`}, `X: {"errorType":"X"}`},
		{customresource.CaughtError{Error: "HsmDegraded"}, "HsmDegraded"},
		{customresource.CaughtError{}, ""},
	}
	for _, tc := range cases {
		if got := tc.c.Reason(); got != tc.want {
			t.Errorf("Reason(%+v) = %q; want %q", tc.c, got, tc.want)
		}
	}
}
