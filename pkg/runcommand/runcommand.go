// Package runcommand runs Strongroom's SSM Command documents on the CloudHSM client instance and
// reports their progress to the state machine, which polls (Wait/Choice) instead of sleeping.
//
// Parameters carry ids and secret ARNs only: the documents fetch secret values themselves on the
// instance (docs/architecture.md, "Secrets"), because SSM keeps command parameters in its history. Send refuses a
// parameter value that looks like anything but an identifier, ARN, IP or name, as a second line of
// defence against a secret being passed by mistake.
package runcommand

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// API is the part of the SSM client used here.
type API interface {
	SendCommand(ctx context.Context, params *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, params *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
}

var _ API = (*ssm.Client)(nil)

// SendInput asks for one document run on one instance.
type SendInput struct {
	InstanceID string            `json:"InstanceId"`
	Parameters map[string]string `json:"Parameters"`
	Comment    string            `json:"Comment,omitempty"`
}

// Command names a sent command.
type Command struct {
	CommandID  string `json:"CommandId"`
	InstanceID string `json:"InstanceId"`
}

// safeValue matches the values a Strongroom document takes: ids, ARNs, IPs, regions, user names.
// Their length is checked apart (maxValue): Go's regexp refuses repeat counts above 1000.
var safeValue = regexp.MustCompile(`^[A-Za-z0-9:/_.@+=,-]+$`)

// maxValue bounds a parameter value; ARNs are at most 2048 characters.
const maxValue = 2048

// Send runs Document with the given parameters.
type Send struct {
	SSM      API
	Document string
	// TimeoutSeconds bounds the run on the instance (SSM's own default is 3600).
	TimeoutSeconds int32
}

// Handle implements the step.
func (s *Send) Handle(ctx context.Context, in SendInput) (Command, error) {
	if in.InstanceID == "" {
		return Command{}, lambdaerr.Terminal("run command: InstanceId is empty", nil)
	}
	params := map[string][]string{}
	for _, k := range slices.Sorted(maps.Keys(in.Parameters)) {
		v := in.Parameters[k]
		if len(v) > maxValue || !safeValue.MatchString(v) {
			// The value itself is not echoed: it might be the very secret this check exists for.
			return Command{}, lambdaerr.Terminal(fmt.Sprintf("run command %s: parameter %s is not an id, ARN or name; documents take secret ARNs, never values", s.Document, k), nil)
		}
		// Each parameter must match its own pattern from the document (an IP for HsmIp, a secret
		// ARN for *SecretArn...): a generated password wired to the wrong parameter is refused
		// here instead of being kept in SSM's command history.
		if err := hsmdocs.CheckValue(k, v); err != nil {
			return Command{}, lambdaerr.Terminal(fmt.Sprintf("run command %s: %v", s.Document, err), nil)
		}
		params[k] = []string{v}
	}
	comment := in.Comment
	if len(comment) > 100 {
		comment = comment[:100]
	}
	input := &ssm.SendCommandInput{
		DocumentName: aws.String(s.Document),
		InstanceIds:  []string{in.InstanceID},
		Parameters:   params,
		Comment:      aws.String(comment),
	}
	if s.TimeoutSeconds > 0 {
		input.TimeoutSeconds = aws.Int32(s.TimeoutSeconds)
	}
	out, err := s.SSM.SendCommand(ctx, input)
	if err != nil {
		var badInst *ssmtypes.InvalidInstanceId
		var badDoc *ssmtypes.InvalidDocument
		var badParams *ssmtypes.InvalidParameters
		switch {
		case errors.As(err, &badInst):
			return Command{}, lambdaerr.Terminal(fmt.Sprintf("ClientInstanceId: instance %s is not managed by SSM or not running (%s); check the SSM agent and the instance role", in.InstanceID, badInst.ErrorMessage()), nil)
		case errors.As(err, &badDoc):
			return Command{}, lambdaerr.Terminal(fmt.Sprintf("SSM document %s does not exist in this account and region: %s", s.Document, badDoc.ErrorMessage()), nil)
		case errors.As(err, &badParams):
			// SSM's message may quote a value; the reason names the document only.
			return Command{}, lambdaerr.Terminal(fmt.Sprintf("SSM document %s refused its parameters (InvalidParameters); check them against the document's allowed patterns", s.Document), nil)
		}
		return Command{}, fmt.Errorf("send %s to %s: %w", s.Document, in.InstanceID, err)
	}
	return Command{CommandID: aws.ToString(out.Command.CommandId), InstanceID: in.InstanceID}, nil
}

// Status is a command's progress for the state machine's Choice.
type Status struct {
	CommandID  string `json:"CommandId"`
	InstanceID string `json:"InstanceId"`
	Status     string `json:"Status"`
	// Done is true once the command has ended; Succeeded tells how.
	Done      bool `json:"Done"`
	Succeeded bool `json:"Succeeded"`
	// Reason explains a failure: the status details and the end of stderr, for the FAILED answer.
	Reason string `json:"Reason,omitempty"`
}

// maxReason keeps a failure reason well inside CloudFormation's 4 KB answer.
const maxReason = 600

// Check reads a command's invocation status.
type Check struct {
	SSM API
}

// Handle implements the step. Right after SendCommand SSM may not know the invocation yet
// (InvocationDoesNotExist, eventual consistency): that is reported as Pending, not as an error.
func (s *Check) Handle(ctx context.Context, in Command) (Status, error) {
	st := Status{CommandID: in.CommandID, InstanceID: in.InstanceID}
	out, err := s.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(in.CommandID), InstanceId: aws.String(in.InstanceID)})
	var notYet *ssmtypes.InvocationDoesNotExist
	if errors.As(err, &notYet) {
		st.Status = string(ssmtypes.CommandInvocationStatusPending)
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("get invocation of command %s on %s: %w", in.CommandID, in.InstanceID, err)
	}
	st.Status = string(out.Status)
	switch out.Status {
	case ssmtypes.CommandInvocationStatusSuccess:
		st.Done, st.Succeeded = true, true
	case ssmtypes.CommandInvocationStatusFailed, ssmtypes.CommandInvocationStatusCancelled, ssmtypes.CommandInvocationStatusTimedOut:
		st.Done = true
		st.Reason = reason(aws.ToString(out.StatusDetails), out.ResponseCode, aws.ToString(out.StandardErrorContent))
	}
	return st, nil
}

func reason(details string, code int32, stderr string) string {
	stderr = strings.TrimSpace(stderr)
	if len(stderr) > maxReason {
		stderr = "..." + strings.ToValidUTF8(stderr[len(stderr)-maxReason:], "")
	}
	r := fmt.Sprintf("command %s (exit code %d)", details, code)
	if stderr != "" {
		r += ": " + stderr
	}
	return r
}
