package hsmcluster

import (
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/smithy-go"
)

// EventRef is the part of the CloudFormation event the steps need.
type EventRef struct {
	RequestType        cfn.RequestType `json:"RequestType"`
	RequestID          string          `json:"RequestId"`
	StackID            string          `json:"StackId"`
	LogicalResourceID  string          `json:"LogicalResourceId"`
	PhysicalResourceID string          `json:"PhysicalResourceId,omitempty"`
}

// SecretPrefix is where a resource's secrets are named by default: strongroom/<stack>/<logical id>.
func SecretPrefix(stackID, logicalID string) string {
	name := stackID
	// arn:aws:cloudformation:<region>:<account>:stack/<name>/<guid>
	if parts := strings.Split(stackID, ":"); len(parts) >= 6 {
		if seg := strings.Split(parts[5], "/"); len(seg) >= 2 {
			name = seg[1]
		}
	}
	return "strongroom/" + name + "/" + logicalID
}

// SpecOf parses and validates a CloudFormation event's properties (new or old).
func SpecOf(ev EventRef, props map[string]any) (Spec, error) {
	return Parse(props, Defaults{SecretPrefix: SecretPrefix(ev.StackID, ev.LogicalResourceID)})
}

func APICode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func APIMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return err.Error()
}

// ValidateRequest is the entry step's check of Create and Update requests: the properties parse.
// It needs no AWS call, so a bad request is answered before any workflow starts and nothing is
// created. Whether an update changes an immutable property is decided by the plan step, against
// the deployed cluster (see PlanRequest).
func ValidateRequest(ev *cfn.Event) error {
	_, err := SpecOf(RefOf(ev), ev.ResourceProperties)
	return err
}

func RefOf(ev *cfn.Event) EventRef {
	return EventRef{RequestType: ev.RequestType, RequestID: ev.RequestID, StackID: ev.StackID,
		LogicalResourceID: ev.LogicalResourceID, PhysicalResourceID: ev.PhysicalResourceID}
}
