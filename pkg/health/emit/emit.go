// Package emit sends health findings to EventBridge as "Strongroom Health Check" events on the
// account's default event bus, where the alerts stack's rule picks them up (pkg/health).
package emit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/strongroom/strongroom/pkg/health"
)

// Putter is the part of the EventBridge client Send uses.
type Putter interface {
	PutEvents(ctx context.Context, params *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ Putter = (*eventbridge.Client)(nil)

// maxEntries is PutEvents' limit of entries a call (the EventBridge API reference).
const maxEntries = 10

// Send puts one event per finding, ten a call. resourceARN, when set, is each event's Resources
// entry. PutEvents answers 200 even when some entries failed (FailedEntryCount); those are an
// error naming each failed condition and its code, so the Lambda fails and is seen.
func Send(ctx context.Context, api Putter, resourceARN string, findings []health.Finding) error {
	var failed []string
	for start := 0; start < len(findings); start += maxEntries {
		batch := findings[start:min(start+maxEntries, len(findings))]
		entries := make([]types.PutEventsRequestEntry, 0, len(batch))
		for _, f := range batch {
			if err := f.Validate(); err != nil {
				return fmt.Errorf("send finding %s: %w", f.Key(), err)
			}
			detail, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("encode finding %s: %w", f.Key(), err)
			}
			e := types.PutEventsRequestEntry{Source: aws.String(health.Source), DetailType: aws.String(health.DetailType),
				Detail: aws.String(string(detail)), Time: aws.Time(f.CheckedAt)}
			if resourceARN != "" {
				e.Resources = []string{resourceARN}
			}
			entries = append(entries, e)
		}
		out, err := api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put %d health events: %w", len(entries), err)
		}
		for i, r := range out.Entries {
			if r.ErrorCode != nil && i < len(batch) {
				failed = append(failed, batch[i].Condition+": "+aws.ToString(r.ErrorCode))
			}
		}
		if out.FailedEntryCount > 0 && len(failed) == 0 {
			failed = append(failed, fmt.Sprintf("%d entries (no error codes returned)", out.FailedEntryCount))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("EventBridge refused health events: %s", strings.Join(failed, "; "))
	}
	return nil
}
