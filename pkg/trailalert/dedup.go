package trailalert

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/alertstate"
)

// DedupWindow is how long an alert's duplicates are held back: the same event delivered again
// (CloudTrail and EventBridge deliver at least once, and a retried delivery carries the same event
// id), and the same failure repeated (one principal's call failing with one error code, as a
// polling client's does every minute). The first in a window is mailed; the first of the next
// window says how many the one before held back.
const DedupWindow = 15 * time.Minute

// Occurrences counts occurrences of a key in windows, atomically across relays, and releases a
// window whose alert could not be sent (pkg/alertstate).
type Occurrences interface {
	Occur(ctx context.Context, key string, at time.Time, window time.Duration) (alertstate.Occurrence, error)
	Release(ctx context.Context, key string, at time.Time) error
}

// opened are the windows an alert about to be sent opened: released when it is not sent.
type opened struct {
	keys []string
	at   time.Time
}

// release reopens the windows, so the retried delivery is not held back as a duplicate of an
// alert that never went out.
func (r *Relay) release(ctx context.Context, o opened) {
	for _, k := range o.keys {
		if err := r.dedup.Release(ctx, k, o.at); err != nil {
			r.log.WarnContext(ctx, "duplicate window not released; a retry may be held back", "key", k, "error", err.Error())
		}
	}
}

// WithDedup lets the relay hold back duplicates (DedupWindow). Without it every delivery is mailed.
func WithDedup(o Occurrences) RelayOption {
	return func(r *Relay) { r.dedup = o }
}

// dedupKeys are the keys an event is counted under: its id always, and for a failed API call the
// failure's shape (source, call, error code, principal, account, region). Only identifiers and
// codes: the keys are stored.
func dedupKeys(raw []byte, eventID string) []string {
	keys := []string{"event/" + eventID}
	var ev struct {
		Account string `json:"account"`
		Region  string `json:"region"`
		Detail  struct {
			EventSource  string `json:"eventSource"`
			EventName    string `json:"eventName"`
			ErrorCode    string `json:"errorCode"`
			AWSRegion    string `json:"awsRegion"`
			Recipient    string `json:"recipientAccountId"`
			UserIdentity struct {
				ARN         string `json:"arn"`
				PrincipalID string `json:"principalId"`
			} `json:"userIdentity"`
		} `json:"detail"`
	}
	if json.Unmarshal(raw, &ev) != nil || ev.Detail.ErrorCode == "" {
		return keys
	}
	d := ev.Detail
	who := firstNonEmpty(d.UserIdentity.ARN, d.UserIdentity.PrincipalID, "unknown")
	return append(keys, "failure/"+strings.Join([]string{d.EventSource, d.EventName, d.ErrorCode, who,
		firstNonEmpty(d.Recipient, ev.Account), firstNonEmpty(d.AWSRegion, ev.Region)}, "/"))
}

// held decides whether the alert for raw is held back as a duplicate: the reason when it is, "".
// When the first of a window follows a window with held-back repeats, a line saying how many is
// added to the message. A store that fails lets the alert through (a repeat is better than a
// loss). The windows it opened are returned, to release if the alert is not sent.
func (r *Relay) held(ctx context.Context, raw []byte, m *Message) (string, opened) {
	o := opened{at: r.now()}
	if r.dedup == nil {
		return "", o
	}
	for _, key := range dedupKeys(raw, m.EventID) {
		occ, err := r.dedup.Occur(ctx, key, o.at, DedupWindow)
		if err != nil {
			r.log.WarnContext(ctx, "duplicate check failed; sending", "key", key, "error", err.Error())
			continue
		}
		window := DedupWindow.String()
		switch {
		case !occ.First && strings.HasPrefix(key, "event/"):
			return "a repeated delivery of event " + m.EventID + " (" + strconv.Itoa(occ.Count) + " in " + window + "); the first was sent", opened{}
		case !occ.First:
			return "the same failure, " + strconv.Itoa(occ.Count) + " times in " + window + "; the first was sent, the next window's first says how many were held back", opened{}
		case occ.SuppressedBefore > 0:
			m.Body += "\nRepeats:       " + strconv.Itoa(occ.SuppressedBefore) + " more alert(s) like this one (same call, error and principal) were held back in the " + window + " before this one.\n"
		}
		o.keys = append(o.keys, key)
	}
	return "", o
}
