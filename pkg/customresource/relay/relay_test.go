package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/customresource/relay"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// fakeLambda answers Invoke with a fixed result and keeps what it was sent.
type fakeLambda struct {
	out  *lambda.InvokeOutput
	err  error
	sent []*lambda.InvokeInput
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.sent = append(f.sent, in)
	return f.out, f.err
}

// answers records what the relay PUT to CloudFormation.
type answers struct {
	got []*cfn.Response
	url []string
	err error
}

func (a *answers) send(_ context.Context, r *cfn.Response, url string) error {
	a.got = append(a.got, r)
	a.url = append(a.url, url)
	return a.err
}

func event() cfn.Event {
	return cfn.Event{RequestType: cfn.RequestCreate, RequestID: "req-1", ResponseURL: "https://cloudformation-custom-resource-response.s3.amazonaws.com/presigned",
		StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/StrongroomDatabase/1", LogicalResourceID: "ApplicationUser",
		ResourceProperties: map[string]any{"Grants": []any{"SELECT ON app.*"}}}
}

func TestRelay(t *testing.T) {
	ok, _ := json.Marshal(customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "app@db:3306", Data: map[string]any{"Username": "app"}})
	refused, _ := json.Marshal(map[string]string{"errorType": lambdaerr.NameTerminal,
		"errorMessage": "user app at db:3306: log in as the superuser strongroom_admin: login refused: Error 1045"})
	timedOut := []byte(`{"errorMessage":"2026-12-07T02:00:00.000Z 1234 Task timed out after 60.00 seconds"}`)
	cases := []struct {
		name       string
		fn         *fakeLambda
		wantStatus cfn.StatusType
		wantID     string
		wantReason []string
	}{
		{"the function's outcome", &fakeLambda{out: &lambda.InvokeOutput{Payload: ok}}, cfn.StatusSuccess, "app@db:3306", nil},
		{"the function refuses", &fakeLambda{out: &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: refused}},
			cfn.StatusFailed, "strongroom-none-req-1", []string{"strongroom-dbuser failed", "login refused"}},
		{"the function times out", &fakeLambda{out: &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: timedOut}},
			cfn.StatusFailed, "strongroom-none-req-1", []string{"strongroom-dbuser failed", "Task timed out"}},
		{"the invocation is refused", &fakeLambda{err: errors.New("AccessDeniedException: not authorized to perform lambda:InvokeFunction")},
			cfn.StatusFailed, "strongroom-none-req-1", []string{"invoke strongroom-dbuser", "AccessDenied", "lambda:InvokeFunction on it"}},
		{"the function answers garbage", &fakeLambda{out: &lambda.InvokeOutput{Payload: []byte(`"done"`)}},
			cfn.StatusFailed, "strongroom-none-req-1", []string{"not an outcome"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &answers{}
			r := &relay.Relay{Lambda: c.fn, Function: "strongroom-dbuser", Answer: &customresource.Answer{Send: a.send}}
			ev := event()
			if _, err := r.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if len(a.got) != 1 || a.url[0] != ev.ResponseURL {
				t.Fatalf("answered %d times (%v), want once to the ResponseURL", len(a.got), a.url)
			}
			got := a.got[0]
			if got.Status != c.wantStatus || got.PhysicalResourceID != c.wantID {
				t.Errorf("answered %s %s, want %s %s", got.Status, got.PhysicalResourceID, c.wantStatus, c.wantID)
			}
			for _, w := range c.wantReason {
				if !strings.Contains(got.Reason, w) {
					t.Errorf("reason %q lacks %q", got.Reason, w)
				}
			}
			// The function gets the request, synchronously, without the means to answer it.
			in := c.fn.sent[0]
			if aws.ToString(in.FunctionName) != "strongroom-dbuser" || in.InvocationType != "RequestResponse" {
				t.Errorf("invoked %s %s", aws.ToString(in.FunctionName), in.InvocationType)
			}
			var sent cfn.Event
			if err := json.Unmarshal(in.Payload, &sent); err != nil {
				t.Fatal(err)
			}
			if sent.ResponseURL != "" || strings.Contains(string(in.Payload), "presigned") {
				t.Errorf("the function was given the ResponseURL: %s", in.Payload)
			}
			if sent.RequestID != ev.RequestID || sent.ResourceProperties["Grants"] == nil {
				t.Errorf("the function was sent %s", in.Payload)
			}
		})
	}
}

// A failed PUT is the relay's error, so Lambda's retry of CloudFormation's asynchronous
// invocation answers again.
func TestRelayAnswerFails(t *testing.T) {
	ok, _ := json.Marshal(customresource.Outcome{Status: cfn.StatusSuccess})
	a := &answers{err: lambdaerr.Retryable("put response to CloudFormation: HTTP 503 SlowDown", nil)}
	r := &relay.Relay{Lambda: &fakeLambda{out: &lambda.InvokeOutput{Payload: ok}}, Function: "fn", Answer: &customresource.Answer{Send: a.send}}
	if _, err := r.Handle(context.Background(), event()); err == nil || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("err = %v, want the PUT's failure", err)
	}
}
