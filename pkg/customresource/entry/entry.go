// Package entry is a workflow-backed custom resource's service token (lambdas/cluster-entry,
// lambdas/keystore-entry): it checks a request and starts the request's workflow, or answers at
// once what needs no workflow. It is apart from pkg/customresource so that only the entry functions
// link the Step Functions client (docs/architecture.md, "What each function links").
package entry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// StarterAPI is the part of the Step Functions client the entry step uses.
type StarterAPI interface {
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	// DescribeExecution tells, after starts that failed without an answer (a timeout, a 5xx),
	// whether one of them started the execution after all.
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ StarterAPI = (*sfn.Client)(nil)

// Validator checks a request's properties before any workflow starts; its error text is the
// FAILED reason. It is not called for Delete: a delete must work whatever the properties say.
type Validator func(ev *cfn.Event) error

// Entry is the custom resource's service token: it answers at once what needs no workflow (bad
// properties, a Delete of a resource that was never created) and otherwise starts the request's
// workflow and returns, leaving the answer to the workflow.
type Entry struct {
	SFN StarterAPI
	// StateMachines maps each request type to its state machine ARN.
	StateMachines map[cfn.RequestType]string
	Validate      Validator
	Send          customresource.Sender
	// StartBudget bounds how long a start that keeps failing with a retryable error is retried
	// (each attempt with the SDK's own retries) before the entry answers FAILED itself; zero means
	// DefaultStartBudget. The invocation's deadline, less AnswerReserve, bounds it too.
	StartBudget time.Duration
	// Now and Pause are the clock and the wait between attempts (nil: lambdaenv.Clock, the wall
	// clock or, under the sandbox, its clock); tests give a fake clock.
	Now   func() time.Time
	Pause func(ctx context.Context, d time.Duration) error
}

// DefaultStartBudget is how long the entry keeps retrying a start: CloudFormation invokes the
// service token asynchronously, and a Lambda retry of an invocation that returned an error is not
// guaranteed (after two, the event is dropped), so an entry that gave up without answering would
// leave the stack waiting for the ServiceTimeout (an hour by default). It answers FAILED instead,
// naming the cause, and the stack rolls back at once.
const DefaultStartBudget = 20 * time.Second

// AnswerReserve is the time kept before the invocation's deadline to send the FAILED answer.
const AnswerReserve = 5 * time.Second

// startBackoff is the wait after attempt n (1-based): 1 s, 2 s, 4 s, then 5 s each.
func startBackoff(n int) time.Duration {
	return min(time.Second<<(n-1), 5*time.Second)
}

// StateMachineEnv names the environment variable that holds each request type's state machine
// ARN; pkg/resourcedef sets them on every entry function (its test holds the two together).
var StateMachineEnv = map[cfn.RequestType]string{
	cfn.RequestCreate: "CREATE_STATE_MACHINE_ARN",
	cfn.RequestUpdate: "UPDATE_STATE_MACHINE_ARN",
	cfn.RequestDelete: "DELETE_STATE_MACHINE_ARN",
}

// New returns the entry of a resource whose properties validate checks, answering CloudFormation
// with customresource.DefaultSender. getenv reads each of StateMachineEnv (a main passes one that
// ends the cold start when a variable is missing).
func New(api StarterAPI, validate Validator, getenv func(name string) string) *Entry {
	machines := map[cfn.RequestType]string{}
	for kind, env := range StateMachineEnv {
		machines[kind] = getenv(env)
	}
	return &Entry{SFN: api, StateMachines: machines, Validate: validate, Send: customresource.DefaultSender}
}

// EntryOutput tells what the entry step did, for its log line.
type EntryOutput struct {
	Action       string `json:"Action"`
	ExecutionARN string `json:"ExecutionArn,omitempty"`
}

// start starts the execution, retrying a retryable failure until the budget is spent. It returns
// the first success, an ExecutionAlreadyExists, a terminal error, or the last retryable error
// with how many attempts were made over how long.
func (s *Entry) start(ctx context.Context, kind cfn.RequestType, in *sfn.StartExecutionInput) (*sfn.StartExecutionOutput, error) {
	budget := s.StartBudget
	if budget <= 0 {
		budget = DefaultStartBudget
	}
	now, wait := s.Now, s.Pause
	if now == nil || wait == nil {
		now, wait = lambdaenv.Clock()
	}
	began := now()
	giveUp := began.Add(budget)
	if d, ok := ctx.Deadline(); ok && d.Add(-AnswerReserve).Before(giveUp) {
		giveUp = d.Add(-AnswerReserve)
	}
	for attempt := 1; ; attempt++ {
		// An attempt ends with the budget, so a hanging call leaves time to answer.
		actx, cancel := context.WithDeadline(ctx, giveUp)
		out, err := s.SFN.StartExecution(actx, in)
		cancel()
		var exists *sfntypes.ExecutionAlreadyExists
		if err == nil || errors.As(err, &exists) {
			return out, err
		}
		err = lambdaerr.Classify(err)
		var terminal *lambdaerr.TerminalError
		if errors.As(err, &terminal) {
			return nil, fmt.Errorf("start %s workflow: %w", kind, err)
		}
		next := startBackoff(attempt)
		if now().Add(next).After(giveUp) || wait(ctx, next) != nil {
			// A failed attempt may still have started the execution (the request went through,
			// the answer was lost): if so, the workflow answers, and a FAILED answer here would
			// leave what it makes to no one.
			if started := s.started(ctx, in); started != nil {
				return started, nil
			}
			return nil, fmt.Errorf("start %s workflow: gave up after %d attempts over %s (%s): %w",
				kind, attempt, now().Sub(began).Round(time.Second), notStarted[kind], err)
		}
	}
}

// started returns the execution the input names when Step Functions has it, or nil. It has its
// own few seconds: the invocation's budget is spent by now.
func (s *Entry) started(ctx context.Context, in *sfn.StartExecutionInput) *sfn.StartExecutionOutput {
	arn := executionARN(aws.ToString(in.StateMachineArn), aws.ToString(in.Name))
	if arn == "" {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AnswerReserve/2)
	defer cancel()
	d, err := s.SFN.DescribeExecution(dctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil
	}
	return &sfn.StartExecutionOutput{ExecutionArn: d.ExecutionArn, StartDate: d.StartDate}
}

// executionARN is the ARN of execution name of the state machine machine:
// arn:<partition>:states:<region>:<account>:stateMachine:<machine name> ->
// arn:<partition>:states:<region>:<account>:execution:<machine name>:<name>; "" for another shape.
func executionARN(machine, name string) string {
	before, after, ok := strings.Cut(machine, ":stateMachine:")
	if !ok || after == "" || strings.Contains(after, ":") {
		return ""
	}
	return before + ":execution:" + after + ":" + name
}

// notStarted says, per request type, what a start that never happened means for the stack.
var notStarted = map[cfn.RequestType]string{
	cfn.RequestCreate: "nothing was created; deploy again once Step Functions accepts the start",
	cfn.RequestUpdate: "nothing was changed; CloudFormation rolls the update back",
	cfn.RequestDelete: "nothing was deleted; retry the stack operation once Step Functions accepts the start",
}

// Handle implements the step.
func (s *Entry) Handle(ctx context.Context, ev cfn.Event) (EntryOutput, error) {
	answer := func(o customresource.Outcome) (EntryOutput, error) {
		// Not on ctx alone: a start that used the budget leaves ctx close to its deadline.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AnswerReserve)
		defer cancel()
		_, err := (&customresource.Answer{Send: s.Send}).Handle(actx, customresource.AnswerInput{Event: ev, Outcome: o})
		return EntryOutput{Action: "answered " + string(o.Status)}, err
	}
	switch ev.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete:
	default:
		return answer(customresource.Outcome{Status: cfn.StatusFailed, Reason: fmt.Sprintf("unknown RequestType %q", ev.RequestType)})
	}
	if ev.RequestType == cfn.RequestDelete && customresource.NamesNoResource(ev.PhysicalResourceID) {
		return answer(customresource.Outcome{Status: cfn.StatusSuccess})
	}
	if ev.RequestType != cfn.RequestDelete && s.Validate != nil {
		if err := s.Validate(&ev); err != nil {
			return answer(customresource.Outcome{Status: cfn.StatusFailed, Reason: err.Error()})
		}
	}
	arn := s.StateMachines[ev.RequestType]
	if arn == "" {
		return answer(customresource.Outcome{Status: cfn.StatusFailed, Reason: fmt.Sprintf("no workflow is configured for %s requests", ev.RequestType)})
	}
	input, err := json.Marshal(customresource.WorkflowInput{Event: ev})
	if err != nil {
		return EntryOutput{}, lambdaerr.Terminal("encode workflow input", err)
	}
	out, err := s.start(ctx, ev.RequestType, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(arn),
		// The request id names the execution, so a retried invocation of this Lambda for the same
		// request starts nothing new.
		Name:  aws.String(customresource.ExecutionName(ev)),
		Input: aws.String(string(input)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return EntryOutput{Action: "already started"}, nil
	}
	if err != nil {
		// No execution exists (a start refused, or one that kept failing until the budget was
		// spent), so no workflow and no safety net will answer: answer now, or the stack waits
		// for the ServiceTimeout.
		return answer(customresource.Outcome{Status: cfn.StatusFailed, Reason: err.Error()})
	}
	return EntryOutput{Action: "started", ExecutionARN: aws.ToString(out.ExecutionArn)}, nil
}
