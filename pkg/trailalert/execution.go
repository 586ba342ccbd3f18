package trailalert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// The EventBridge event Step Functions sends when an execution's status changes
// (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
const (
	DetailTypeExecutionStatusChange = "Step Functions Execution Status Change"
	SourceStepFunctions             = "aws.states"
)

// ErrNoAlert: a well-formed event that by design produces no alert, such as an execution that is
// RUNNING or SUCCEEDED. The relay logs it as skipped and succeeds; it is not bad input.
var ErrNoAlert = errors.New("trailalert: the event needs no alert")

// ExecutionEvent is a parsed "Step Functions Execution Status Change" event. The envelope's detail
// is decoded into Detail (Envelope.Detail stays nil); Raw keeps the bytes as received.
type ExecutionEvent struct {
	Envelope events.CloudWatchEvent
	Detail   ExecutionDetail
	Raw      []byte
}

// ExecutionDetail is the event's detail. Input, Output, Error and Cause may be null (nil). Input
// and Output are JSON texts that may hold anything the workflow was given or produced: a message
// shows identifiers taken from the redacted input, never the texts themselves.
type ExecutionDetail struct {
	ExecutionARN    string       `json:"executionArn"`
	StateMachineARN string       `json:"stateMachineArn"`
	Name            string       `json:"name"`
	Status          string       `json:"status"`
	StartDate       *int64       `json:"startDate"` // epoch milliseconds
	StopDate        *int64       `json:"stopDate"`  // epoch milliseconds; null while RUNNING
	Input           *string      `json:"input"`
	Output          *string      `json:"output"`
	InputDetails    *DataDetails `json:"inputDetails"`
	OutputDetails   *DataDetails `json:"outputDetails"`
	Error           *string      `json:"error"`
	Cause           *string      `json:"cause"`
}

// DataDetails says whether the event carries the execution's input or output (EventBridge leaves
// out payloads that would make the event too large).
type DataDetails struct {
	Included bool `json:"included"`
}

// IsExecutionStatusChange reports whether raw is, by its detail-type, a Step Functions execution
// status change (and so goes through ParseExecution and AlertExecution rather than Alert). It
// decodes only the detail-type, and only when the bytes can hold it.
func IsExecutionStatusChange(raw []byte) bool {
	if !bytes.Contains(raw, []byte(DetailTypeExecutionStatusChange)) {
		return false
	}
	var dt struct {
		DetailType string `json:"detail-type"`
	}
	return json.Unmarshal(raw, &dt) == nil && dt.DetailType == DetailTypeExecutionStatusChange
}

// ParseExecution decodes a Step Functions execution status change. An execution that ended
// FAILED, TIMED_OUT or ABORTED is returned; RUNNING, SUCCEEDED and PENDING_REDRIVE fail with
// ErrNoAlert. Other errors wrap ErrMalformed, ErrNotCloudTrail (another detail-type),
// ErrMissingField or ErrInvalidField and name the field; like Parse's, they never quote values.
func ParseExecution(raw []byte) (*ExecutionEvent, error) {
	var w struct {
		events.CloudWatchEvent
		Detail *ExecutionDetail `json:"detail"` // shadows CloudWatchEvent.Detail
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		var dt struct {
			DetailType string `json:"detail-type"`
		}
		if json.Unmarshal(raw, &dt) == nil && dt.DetailType != DetailTypeExecutionStatusChange {
			return nil, notExecution(dt.DetailType)
		}
		return nil, executionDecodeError(err)
	}
	ev := &ExecutionEvent{Envelope: w.CloudWatchEvent, Raw: raw}
	if ev.Envelope.DetailType != DetailTypeExecutionStatusChange {
		return nil, notExecution(ev.Envelope.DetailType)
	}
	switch ev.Envelope.Source {
	case "":
		return nil, fmt.Errorf("%w: source", ErrMissingField)
	case SourceStepFunctions:
	default:
		return nil, fmt.Errorf("%w: source of a %s event must be %s", ErrInvalidField, DetailTypeExecutionStatusChange, SourceStepFunctions)
	}
	if w.Detail == nil {
		return nil, fmt.Errorf("%w: detail", ErrMissingField)
	}
	ev.Detail = *w.Detail
	d := &ev.Detail
	if d.ExecutionARN == "" {
		return nil, fmt.Errorf("%w: detail.executionArn", ErrMissingField)
	}
	switch sfntypes.ExecutionStatus(d.Status) {
	case "":
		return nil, fmt.Errorf("%w: detail.status", ErrMissingField)
	case sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut, sfntypes.ExecutionStatusAborted:
	case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusSucceeded, sfntypes.ExecutionStatusPendingRedrive:
		return nil, fmt.Errorf("%w: execution status %s (only %s, %s and %s are alerts)", ErrNoAlert, d.Status,
			sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut, sfntypes.ExecutionStatusAborted)
	default:
		return nil, fmt.Errorf("%w: detail.status is not an execution status (want %s, %s or %s for an alert)", ErrInvalidField,
			sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut, sfntypes.ExecutionStatusAborted)
	}
	if ev.Account() == "" {
		return nil, fmt.Errorf("%w: account (neither account nor detail.executionArn names one)", ErrMissingField)
	}
	if ev.Region() == "" {
		return nil, fmt.Errorf("%w: region (neither region nor detail.executionArn names one)", ErrMissingField)
	}
	return ev, nil
}

// arnPart returns field i of a colon-separated ARN, or "".
func arnPart(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 8)
	if len(parts) <= i || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}

// Account is the envelope's account, else the execution ARN's.
func (e *ExecutionEvent) Account() string {
	return firstNonEmpty(e.Envelope.AccountID, arnPart(e.Detail.ExecutionARN, 4))
}

// Region is the execution ARN's region, else the envelope's.
func (e *ExecutionEvent) Region() string {
	return firstNonEmpty(arnPart(e.Detail.ExecutionARN, 3), e.Envelope.Region)
}

// EventName names the execution's end as its history does: ExecutionFailed, ExecutionTimedOut or
// ExecutionAborted (the event_name attribute of its message).
func (e *ExecutionEvent) EventName() string { return executionEventName(e.Detail.Status) }

func executionEventName(status string) string {
	switch sfntypes.ExecutionStatus(status) {
	case sfntypes.ExecutionStatusFailed:
		return string(sfntypes.HistoryEventTypeExecutionFailed)
	case sfntypes.ExecutionStatusTimedOut:
		return string(sfntypes.HistoryEventTypeExecutionTimedOut)
	case sfntypes.ExecutionStatusAborted:
		return string(sfntypes.HistoryEventTypeExecutionAborted)
	}
	return "Execution"
}

// MachineName is the state machine's name: from stateMachineArn (arn:...:stateMachine:NAME, a
// version or alias suffix left out), else from the execution ARN (arn:...:execution:NAME:RUN).
func (e *ExecutionEvent) MachineName() string {
	if arnPart(e.Detail.StateMachineARN, 5) == "stateMachine" {
		if n, _, _ := strings.Cut(arnPart(e.Detail.StateMachineARN, 6), ":"); n != "" {
			return n
		}
	}
	n, _, _ := strings.Cut(arnPart(e.Detail.ExecutionARN, 6), ":")
	n, _, _ = strings.Cut(n, "/") // a Map Run child execution: machine/label
	return n
}

// times are the execution's start and stop, zero when the detail lacks them.
func (d *ExecutionDetail) times() (start, stop time.Time) {
	if d.StartDate != nil {
		start = time.UnixMilli(*d.StartDate).UTC()
	}
	if d.StopDate != nil {
		stop = time.UnixMilli(*d.StopDate).UTC()
	}
	return start, stop
}

// WorkflowKind recognises Strongroom's workflows by their state machine's name: the CDK app names
// them after their construct path, Cluster/<Kind>Workflow and KeyStore/<Kind>Workflow
// (CloudFormation adds a hash and a random suffix: ClusterCreateWorkflow5E2B6C1D-Yq3tK8wZ1mNa),
// the sandbox after the ASL file (cluster-create, keystore-rotate-password). It returns, for
// example, "cluster create" or "key store rotate", or "" for any other machine.
func WorkflowKind(machineName string) string {
	norm := string(normalizeKey(nil, []byte(machineName)))
	for _, r := range [...]struct{ marker, noun string }{{"keystore", "key store"}, {"cluster", "cluster"}} {
		for rest := norm; ; {
			i := strings.Index(rest, r.marker)
			if i < 0 {
				break
			}
			rest = rest[i+len(r.marker):]
			for _, action := range [...]string{"create", "update", "delete", "rotate"} {
				if strings.HasPrefix(rest, action) && (action != "rotate" || r.noun == "key store") {
					return r.noun + " " + action
				}
			}
		}
	}
	return ""
}

// ExecutionConsoleURL links to the execution in the Step Functions console of its partition, or
// "" when the ARN is not an execution ARN of a known partition or holds characters that do not
// belong in a link (event content must not be able to steer or break it).
func ExecutionConsoleURL(executionARN string) string {
	partition, region := arnPart(executionARN, 1), arnPart(executionARN, 3)
	if arnPart(executionARN, 2) != "states" || arnPart(executionARN, 5) != "execution" ||
		!token(region, "-") || !accountID(arnPart(executionARN, 4)) || len(executionARN) > 2048 {
		return ""
	}
	for i := 0; i < len(executionARN); i++ {
		if c := executionARN[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte("\"#%<>\\^`{|}", c) >= 0 {
			return ""
		}
	}
	host := consoleHost(partition, region)
	if host == "" {
		return ""
	}
	return "https://" + host + "/states/home?region=" + region + "#/v2/executions/details/" + executionARN
}

// consoleHost is the AWS Management Console's host for a region of a partition, "" for a
// partition this package does not know.
func consoleHost(partition, region string) string {
	switch partition {
	case "aws":
		return region + ".console.aws.amazon.com"
	case "aws-us-gov":
		return "console.amazonaws-us-gov.com"
	case "aws-cn":
		return "console.amazonaws.cn"
	}
	return ""
}

func accountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func notExecution(detailType string) error {
	if detailType == "" {
		return fmt.Errorf("%w: detail-type is missing", ErrNotCloudTrail)
	}
	return fmt.Errorf("%w: detail-type %q is not %q", ErrNotCloudTrail, clip(detailType, 64), DetailTypeExecutionStatusChange)
}

// executionDecodeError is decodeError with the detail described as a status change's.
func executionDecodeError(err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field == "detail" {
		return fmt.Errorf("%w: detail must be a JSON object (the execution's status change), not %s", ErrInvalidField, typ.Value)
	}
	return decodeError(err)
}
