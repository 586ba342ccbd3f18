// Package relay answers CloudFormation for a custom resource whose function cannot: a function in
// a VPC without a route to S3 (such as the database stack's lambdas/dbuser, which may reach only
// the database and the Secrets Manager endpoint) cannot PUT to the pre-signed ResponseURL. The
// relay, outside the VPC, receives the request, invokes that function synchronously with the
// request minus its ResponseURL (the function never holds the means to answer), and answers with
// the customresource.Outcome the function returns, or FAILED with the function's error, its
// timeout, or a refused invocation as the reason. So every request is answered once the function
// returns or times out, never left to CloudFormation's hour-long timeout.
//
// The relay's own failure to answer (S3 refusing the PUT) is returned as its error: Lambda retries
// an asynchronous invocation (CloudFormation's) twice, and the function converges, so a retry
// repeats nothing it should not.
package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/strongroom/strongroom/pkg/customresource"
)

// EnvFunction names the environment variable holding the function the relay invokes.
const EnvFunction = "TARGET_FUNCTION"

// Invoker is the Lambda call the relay makes; *lambda.Client satisfies it.
type Invoker interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ Invoker = (*lambda.Client)(nil)

// Relay is the relay step.
type Relay struct {
	Lambda Invoker
	// Function is the name or ARN of the function that does the work.
	Function string
	Answer   *customresource.Answer
	Log      *slog.Logger
}

// Handle invokes the function with ev and answers CloudFormation with what it returned.
func (r *Relay) Handle(ctx context.Context, ev cfn.Event) (customresource.AnswerOutput, error) {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inner := ev
	inner.ResponseURL = ""
	in := customresource.AnswerInput{Event: ev, Outcome: r.invoke(ctx, inner)}
	out, err := r.Answer.Handle(ctx, in)
	if err != nil {
		return out, err
	}
	log.Info("answered CloudFormation", "request", string(ev.RequestType), "request_id", ev.RequestID,
		"status", string(out.Status), "physical_id", out.PhysicalResourceID, "reason", out.Reason)
	return out, nil
}

// invoke runs the function and turns whatever happened into an outcome.
func (r *Relay) invoke(ctx context.Context, ev cfn.Event) customresource.Outcome {
	failed := func(format string, args ...any) customresource.Outcome {
		return customresource.Outcome{Status: cfn.StatusFailed, Reason: fmt.Sprintf(format, args...)}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return failed("encode the request for %s: %v", r.Function, err)
	}
	res, err := r.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(r.Function),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return failed("invoke %s: %v; the relay's role needs lambda:InvokeFunction on it, and the function must exist", r.Function, err)
	}
	if res.FunctionError != nil {
		caught := &customresource.CaughtError{Error: aws.ToString(res.FunctionError), Cause: string(res.Payload)}
		return failed("%s failed: %s", r.Function, caught.Reason())
	}
	var o customresource.Outcome
	if err := json.Unmarshal(res.Payload, &o); err != nil {
		return failed("%s answered %d bytes that are not an outcome: %v", r.Function, len(res.Payload), err)
	}
	if o.Status == "" {
		o.Status = cfn.StatusSuccess
	}
	return o
}

// InvokeActions are the IAM actions the relay's call needs on its target function (the methods of
// Invoker). infra/database grants exactly these, on the function itself (no version or alias).
var InvokeActions = []string{"lambda:InvokeFunction"}
