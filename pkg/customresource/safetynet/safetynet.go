// Package safetynet answers FAILED for a workflow-backed custom resource whose request workflow
// ended (failed, timed out, aborted) without answering CloudFormation (lambdas/cfn-safetynet). It
// is apart from pkg/customresource so that only the safety net and the entry functions link the
// Step Functions client (docs/architecture.md, "What each function links").
package safetynet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/customresource"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// HistoryAPI is the part of the Step Functions client the safety net uses.
type HistoryAPI interface {
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, params *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

var _ HistoryAPI = (*sfn.Client)(nil)

// StatusChange is the detail of EventBridge's "Step Functions Execution Status Change" event.
type StatusChange struct {
	ExecutionARN    string `json:"executionArn"`
	StateMachineARN string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	Error           string `json:"error"`
	Cause           string `json:"cause"`
}

// SafetyNetOutput tells what the safety net did.
type SafetyNetOutput struct {
	Action string `json:"Action"`
}

// SafetyNet answers FAILED for a workflow execution that ended FAILED, TIMED_OUT or ABORTED
// without any Answer state having exited, so the stack does not wait for CloudFormation's own
// timeout. The answer names the last PhysicalResourceId the workflow recorded in its state (so a
// failed Create's rollback still deletes what was made).
type SafetyNet struct {
	SFN  HistoryAPI
	Send customresource.Sender
}

// Handle implements the step.
func (s *SafetyNet) Handle(ctx context.Context, ev events.CloudWatchEvent) (SafetyNetOutput, error) {
	var d StatusChange
	if err := json.Unmarshal(ev.Detail, &d); err != nil || d.ExecutionARN == "" {
		return SafetyNetOutput{}, lambdaerr.Terminal("safety net: the event is not a Step Functions Execution Status Change", err)
	}
	switch d.Status {
	case "FAILED", "TIMED_OUT", "ABORTED":
	default:
		return SafetyNetOutput{Action: "ignored " + d.Status}, nil
	}
	exec, err := s.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(d.ExecutionARN)})
	if err != nil {
		return SafetyNetOutput{}, fmt.Errorf("describe execution %s: %w", d.ExecutionARN, err)
	}
	var in customresource.WorkflowInput
	if err := json.Unmarshal([]byte(aws.ToString(exec.Input)), &in); err != nil || in.Event.ResponseURL == "" {
		return SafetyNetOutput{Action: "ignored: not a custom-resource execution"}, nil
	}
	answered, physical, err := s.readHistory(ctx, d.ExecutionARN)
	if err != nil {
		return SafetyNetOutput{}, err
	}
	if answered {
		return SafetyNetOutput{Action: "already answered"}, nil
	}
	reason := fmt.Sprintf("the %s workflow ended %s without answering", in.Event.RequestType, d.Status)
	if e := aws.ToString(exec.Error); e != "" || d.Error != "" {
		c := &customresource.CaughtError{Error: firstNonEmpty(e, d.Error), Cause: firstNonEmpty(aws.ToString(exec.Cause), d.Cause)}
		reason += ": " + c.Reason()
	}
	reason += " (execution " + d.ExecutionARN + ")"
	_, err = (&customresource.Answer{Send: s.Send}).Handle(ctx, customresource.AnswerInput{Event: in.Event, Outcome: customresource.Outcome{
		Status: cfn.StatusFailed, PhysicalResourceID: physical, Reason: reason,
	}})
	if err != nil {
		return SafetyNetOutput{}, err
	}
	return SafetyNetOutput{Action: "answered FAILED"}, nil
}

// readHistory reports whether an answer was sent, and the last PhysicalResourceId found at the
// top level of a state's output. An answer was sent when an Answer state exited with the answer
// step's output at $.Answer (its Status): an Answer state whose PUT failed and was caught exits
// without it, so its mere exit proves nothing.
func (s *SafetyNet) readHistory(ctx context.Context, arn string) (answered bool, physical string, err error) {
	p := sfn.NewGetExecutionHistoryPaginator(s.SFN, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, "", fmt.Errorf("read history of %s: %w", arn, err)
		}
		for _, e := range page.Events {
			d := e.StateExitedEventDetails
			if d == nil {
				continue
			}
			var out struct {
				PhysicalResourceID string                       `json:"PhysicalResourceId"`
				Answer             *customresource.AnswerOutput `json:"Answer"`
			}
			if json.Unmarshal([]byte(aws.ToString(d.Output)), &out) != nil {
				continue
			}
			if e.Type == sfntypes.HistoryEventTypeTaskStateExited && strings.HasPrefix(aws.ToString(d.Name), customresource.AnswerStatePrefix) &&
				out.Answer != nil && out.Answer.Status != "" {
				answered = true
			}
			if out.PhysicalResourceID != "" {
				physical = out.PhysicalResourceID
			}
		}
	}
	return answered, physical, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
