package trailalert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Publisher is the part of the SNS client the relay uses.
type Publisher interface {
	Publish(ctx context.Context, params *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ Publisher = (*sns.Client)(nil)

// Relay is the trailrelay Lambda's step: one EventBridge event in, one SNS message out.
type Relay struct {
	alerter  *Alerter
	sns      Publisher
	history  ExecutionHistoryAPI
	state    HealthState
	dedup    Occurrences
	chat     ChatTopics
	now      func() time.Time
	topicARN string
	log      *slog.Logger
}

// RelayOutput is the Lambda's response (EventBridge ignores it; it helps tests and operators).
type RelayOutput struct {
	MessageID string `json:"messageId,omitempty"`
	EventID   string `json:"eventId"`
	Severity  string `json:"severity,omitempty"`
	Truncated bool   `json:"truncated"`
	Redacted  int    `json:"redacted"`
	// Chats counts the chat topics (WithChatTopics) the alert was published to.
	Chats int `json:"chats,omitempty"`
	// Skipped says why an event that needs no alert (ErrNoAlert) was not published.
	Skipped string `json:"skipped,omitempty"`
	// ExecutionARN, FailedState and HistoryError describe a Step Functions execution's alert:
	// the state it failed in, and the error code of a GetExecutionHistory call that failed.
	ExecutionARN string `json:"executionArn,omitempty"`
	FailedState  string `json:"failedState,omitempty"`
	HistoryError string `json:"historyError,omitempty"`
}

// RelayOption configures a Relay.
type RelayOption func(*Relay)

// WithExecutionHistory lets the relay read a failed execution's history, to name the state it
// failed in (ReadExecutionFailure). Without it, an execution's alert says the history was not read.
func WithExecutionHistory(api ExecutionHistoryAPI) RelayOption {
	return func(r *Relay) { r.history = api }
}

// WithClock sets the clock the duplicate windows run on (time.Now by default; the relay's main
// passes lambdaenv.Clock, which follows the sandbox's scaled clock).
func WithClock(now func() time.Time) RelayOption {
	return func(r *Relay) { r.now = now }
}

// NewRelay checks topicARN (an SNS topic ARN, from the TOPIC_ARN variable) and returns the step.
func NewRelay(alerter *Alerter, pub Publisher, topicARN string, log *slog.Logger, opts ...RelayOption) (*Relay, error) {
	if parts := strings.Split(topicARN, ":"); len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5] == "" {
		return nil, fmt.Errorf("TOPIC_ARN %q is not an SNS topic ARN: set it to arn:<partition>:sns:<region>:<account>:<topic>", topicARN)
	}
	if alerter == nil || pub == nil || log == nil {
		return nil, fmt.Errorf("NewRelay needs an Alerter, a Publisher and a Logger")
	}
	r := &Relay{alerter: alerter, sns: pub, topicARN: topicARN, log: log, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Handle relays one event. Input that is neither a CloudTrail event, a Step Functions execution
// status change nor a health finding (pkg/health) is a TerminalError (retrying cannot fix it); an execution that needs
// no alert (RUNNING, SUCCEEDED) is logged as skipped and succeeds; SNS failures keep their SDK
// error so lambdaerr.Classify can decide.
func (r *Relay) Handle(ctx context.Context, in json.RawMessage) (RelayOutput, error) {
	if IsExecutionStatusChange(in) {
		return r.handleExecution(ctx, in)
	}
	if IsHealthFinding(in) {
		return r.handleHealth(ctx, in)
	}
	msg, err := r.alerter.Alert(in)
	var skip *Skipped
	if errors.As(err, &skip) {
		return r.skipped(ctx, skip), nil
	}
	if err != nil {
		return RelayOutput{}, lambdaerr.Terminal("cannot relay the event", err)
	}
	why, open := r.held(ctx, in, msg)
	if why != "" {
		r.log.InfoContext(ctx, "duplicate held back", "event_id", msg.EventID, "event_source", msg.Attributes[AttrEventSource],
			"event_name", msg.Attributes[AttrEventName], "reason", why)
		return RelayOutput{EventID: msg.EventID, Severity: msg.Severity.String(), Skipped: why}, nil
	}
	out, err := r.sns.Publish(ctx, msg.PublishInput(r.topicARN))
	if err != nil {
		r.release(ctx, open)
		return RelayOutput{}, fmt.Errorf("publish event %s to %s: %w", msg.EventID, r.topicARN, err)
	}
	res := RelayOutput{
		MessageID: aws.ToString(out.MessageId),
		EventID:   msg.EventID,
		Severity:  msg.Severity.String(),
		Truncated: msg.Truncated,
		Redacted:  msg.Redacted,
		Chats:     r.toChat(ctx, msg),
	}
	r.log.InfoContext(ctx, "alert published", "event_id", msg.EventID,
		"event_source", msg.Attributes[AttrEventSource], "event_name", msg.Attributes[AttrEventName],
		"severity", res.Severity, "rule", msg.Rule, "message_id", res.MessageID,
		"truncated", res.Truncated, "redacted", res.Redacted, "redacted_copies", msg.RedactedCopies, "bytes", msg.Size())
	return res, nil
}

// handleExecution relays a Step Functions execution status change: the failed state is read from
// the execution's history, and the alert is published even when that read fails.
func (r *Relay) handleExecution(ctx context.Context, in json.RawMessage) (RelayOutput, error) {
	ev, err := ParseExecution(in)
	if errors.Is(err, ErrNoAlert) {
		// Only ParseExecution's own words: the status, never input or output.
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(in, &id)
		res := RelayOutput{EventID: id.ID, Skipped: err.Error()}
		r.log.InfoContext(ctx, "event skipped", "event_id", res.EventID, "detail_type", DetailTypeExecutionStatusChange, "reason", res.Skipped)
		return res, nil
	}
	if err != nil {
		return RelayOutput{}, lambdaerr.Terminal("cannot relay the event", err)
	}
	arn := ev.Detail.ExecutionARN
	var failure *ExecutionFailure
	if r.history != nil {
		failure, err = ReadExecutionFailure(ctx, r.history, arn)
		if err != nil {
			// The SDK's message names the call and the principal, never the history's contents.
			r.log.WarnContext(ctx, "execution history not read; alerting without it", "execution_arn", arn,
				"error_code", failure.ReadError, "pages_read", failure.Pages, "error", err.Error())
		}
	}
	msg := r.alerter.AlertExecution(ev, failure)
	why, open := r.held(ctx, in, msg)
	if why != "" {
		r.log.InfoContext(ctx, "duplicate held back", "event_id", msg.EventID, "execution_arn", arn, "reason", why)
		return RelayOutput{EventID: msg.EventID, Severity: msg.Severity.String(), ExecutionARN: arn, Skipped: why}, nil
	}
	out, err := r.sns.Publish(ctx, msg.PublishInput(r.topicARN))
	if err != nil {
		r.release(ctx, open)
		return RelayOutput{}, fmt.Errorf("publish the alert for execution %s to %s: %w", arn, r.topicARN, err)
	}
	res := RelayOutput{
		MessageID: aws.ToString(out.MessageId), EventID: msg.EventID, Severity: msg.Severity.String(),
		Redacted: msg.Redacted, ExecutionARN: arn, Chats: r.toChat(ctx, msg),
	}
	attrs := []any{"event_id", msg.EventID, "event_source", msg.Attributes[AttrEventSource], "event_name", msg.Attributes[AttrEventName],
		"severity", res.Severity, "rule", msg.Rule, "message_id", res.MessageID, "execution_arn", arn,
		"state_machine", ev.MachineName(), "status", ev.Detail.Status}
	if failure != nil {
		res.FailedState, res.HistoryError = failure.State, failure.ReadError
		attrs = append(attrs, "failed_state", failure.State, "history_error", failure.ReadError, "history_pages", failure.Pages)
	}
	attrs = append(attrs, "redacted", res.Redacted, "redacted_copies", msg.RedactedCopies, "bytes", msg.Size())
	r.log.InfoContext(ctx, "alert published", attrs...)
	return res, nil
}
