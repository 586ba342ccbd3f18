package trailalert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

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
	topicARN string
	log      *slog.Logger
}

// RelayOutput is the Lambda's response (EventBridge ignores it; it helps tests and operators).
type RelayOutput struct {
	MessageID string `json:"messageId"`
	EventID   string `json:"eventId"`
	Severity  string `json:"severity"`
	Truncated bool   `json:"truncated"`
	Redacted  int    `json:"redacted"`
}

// NewRelay checks topicARN (an SNS topic ARN, from the TOPIC_ARN variable) and returns the step.
func NewRelay(alerter *Alerter, pub Publisher, topicARN string, log *slog.Logger) (*Relay, error) {
	if parts := strings.Split(topicARN, ":"); len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5] == "" {
		return nil, fmt.Errorf("TOPIC_ARN %q is not an SNS topic ARN: set it to arn:<partition>:sns:<region>:<account>:<topic>", topicARN)
	}
	if alerter == nil || pub == nil || log == nil {
		return nil, fmt.Errorf("NewRelay needs an Alerter, a Publisher and a Logger")
	}
	return &Relay{alerter: alerter, sns: pub, topicARN: topicARN, log: log}, nil
}

// Handle relays one event. Input that is not a CloudTrail event is a TerminalError (retrying
// cannot fix it); SNS failures keep their SDK error so lambdaerr.Classify can decide.
func (r *Relay) Handle(ctx context.Context, in json.RawMessage) (RelayOutput, error) {
	msg, err := r.alerter.Alert(in)
	if err != nil {
		return RelayOutput{}, lambdaerr.Terminal("cannot relay the event", err)
	}
	out, err := r.sns.Publish(ctx, msg.PublishInput(r.topicARN))
	if err != nil {
		return RelayOutput{}, fmt.Errorf("publish event %s to %s: %w", msg.EventID, r.topicARN, err)
	}
	res := RelayOutput{
		MessageID: aws.ToString(out.MessageId),
		EventID:   msg.EventID,
		Severity:  msg.Severity.String(),
		Truncated: msg.Truncated,
		Redacted:  msg.Redacted,
	}
	r.log.InfoContext(ctx, "alert published", "event_id", msg.EventID,
		"event_source", msg.Attributes[AttrEventSource], "event_name", msg.Attributes[AttrEventName],
		"severity", res.Severity, "rule", msg.Rule, "message_id", res.MessageID,
		"truncated", res.Truncated, "redacted", res.Redacted, "redacted_copies", msg.RedactedCopies, "bytes", msg.Size())
	return res, nil
}
