// Package alertstate is the alert relay's memory, kept in a DynamoDB table so that every relay
// invocation, concurrent or not, sees the same: the last status of each health condition
// (Transition, so a condition alerts only when its status changes), and how often an alert
// recurred within a window (Occur, so duplicates are sent once and their count reported).
//
// The table has a partition key pk (S) and a time-to-live attribute expiresAt (epoch seconds):
// infra/alerts declares it. A condition's item has pk "status/<key>"; an occurrence counter's,
// "occur/<key>", so the two kinds never collide. Both are written atomically, in one request
// each, with conditions that make concurrent relays agree. The state is disposable: losing it
// costs at most one repeated or one extra alert.
package alertstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Attribute names of the table's items.
const (
	KeyAttribute = "pk"
	// TTLAttribute holds when an item may be deleted, in epoch seconds (the table's TTL setting).
	TTLAttribute = "expiresAt"

	statusAttribute      = "status"
	changedAtAttribute   = "changedAt"   // when the status was recorded, epoch milliseconds
	windowStartAttribute = "windowStart" // epoch milliseconds
	countAttribute       = "occurrences"
)

// Retention is how long a condition's status is kept after it was last recorded (and a counter
// after its window ends): a condition silent for longer starts afresh, as if never seen.
const Retention = 30 * 24 * time.Hour

// maxKeyBytes bounds a caller's key: DynamoDB's partition key limit is 2,048 bytes, and the
// prefix needs a few.
const maxKeyBytes = 1024

// maxAttempts bounds Occur's optimistic retries; each lost race means another relay moved the
// counter, so a few attempts always suffice unless the table is being hammered.
const maxAttempts = 8

// Store reads and writes the relay's state in one table.
type Store struct {
	api   API
	table string
}

// New returns a store over the table (its name or ARN, from ALERT_STATE_TABLE).
func New(api API, table string) (*Store, error) {
	if api == nil {
		return nil, errors.New("alertstate: a DynamoDB client is required")
	}
	if table == "" {
		return nil, errors.New("alertstate: the table name is empty: set ALERT_STATE_TABLE to the alert state table's name")
	}
	return &Store{api: api, table: table}, nil
}

func checkKey(key string) error {
	if key == "" || len(key) > maxKeyBytes {
		return fmt.Errorf("alertstate: key %.40q must be 1 to %d bytes", key, maxKeyBytes)
	}
	return nil
}

func epochSeconds(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

func epochMillis(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

func number(n int) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
}

// Transition records that the condition key has status at the time at and returns the status
// recorded before ("" when the condition was never seen, or not within Retention). One PutItem
// with ReturnValues ALL_OLD does both, so of two relays recording at once each sees the other's
// status or none, never a stale one: the relay alerts when previous differs from status.
func (s *Store) Transition(ctx context.Context, key, status string, at time.Time) (previous string, err error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if status == "" {
		return "", fmt.Errorf("alertstate: record status of %s: the status is empty", key)
	}
	out, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			KeyAttribute:       &types.AttributeValueMemberS{Value: "status/" + key},
			statusAttribute:    &types.AttributeValueMemberS{Value: status},
			changedAtAttribute: epochMillis(at),
			TTLAttribute:       epochSeconds(at.Add(Retention)),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return "", fmt.Errorf("alertstate: record status %s of %s: %w", status, key, err)
	}
	// TTL deletion lags expiry by up to days: an expired item counts as never seen.
	if expired(out.Attributes, at) {
		return "", nil
	}
	if v, ok := out.Attributes[statusAttribute].(*types.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return "", nil
}

// expired says whether an item's TTL attribute is at or before at.
func expired(it map[string]types.AttributeValue, at time.Time) bool {
	n, ok := numberAttr(it, TTLAttribute)
	return ok && n <= at.Unix()
}

func numberAttr(it map[string]types.AttributeValue, name string) (int64, bool) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

// Occurrence is what Occur found.
type Occurrence struct {
	// First is true for the occurrence that opens a window: the one to send.
	First bool
	// Count is the occurrences in the current window so far, this one included (1 when First).
	Count int
	// SuppressedBefore, set when First, is how many occurrences the previous window had beyond
	// its first: the ones not sent, for the new alert to mention. 0 when there was none.
	SuppressedBefore int
}

// Occur counts an occurrence of key at the time at, in windows of the given length that start at
// an occurrence: the first occurrence after a window has ended (or ever) opens a new one. Every
// step is a conditional UpdateItem or PutItem, so of any number of relays seeing the same
// occurrence at once exactly one gets First.
//
// The steps: count the occurrence into the current window if it is still open (windowStart after
// at - window); otherwise open a window, conditionally on the item being absent (PutItem) or
// still holding the window that was seen to have ended (UpdateItem, returning its count). A lost
// race starts over.
func (s *Store) Occur(ctx context.Context, key string, at time.Time, window time.Duration) (Occurrence, error) {
	if err := checkKey(key); err != nil {
		return Occurrence{}, err
	}
	if window <= 0 {
		return Occurrence{}, fmt.Errorf("alertstate: count occurrence of %s: the window %s is not positive", key, window)
	}
	pk := map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: "occur/" + key}}
	expires := epochSeconds(at.Add(window + Retention))
	for range maxAttempts {
		// 1. The window is open: count this occurrence into it. (A missing windowStart compares
		// false, so this also fails when there is no counter yet.)
		out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           aws.String(s.table),
			Key:                                 pk,
			UpdateExpression:                    aws.String("ADD #count :one SET #expires = :expires"),
			ConditionExpression:                 aws.String(":cutoff < #start"),
			ExpressionAttributeNames:            map[string]string{"#count": countAttribute, "#expires": TTLAttribute, "#start": windowStartAttribute},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":one": number(1), ":expires": expires, ":cutoff": epochMillis(at.Add(-window))},
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			n, ok := numberAttr(out.Attributes, countAttribute)
			if !ok {
				return Occurrence{}, fmt.Errorf("alertstate: count occurrence of %s: the update returned no %s", key, countAttribute)
			}
			return Occurrence{Count: int(n)}, nil
		}
		var closed *types.ConditionalCheckFailedException
		if !errors.As(err, &closed) {
			return Occurrence{}, fmt.Errorf("alertstate: count occurrence of %s: %w", key, err)
		}
		// 2. No window is open: open one, unless another relay just did.
		occ, won, err := s.openWindow(ctx, key, pk, closed.Item, at, expires)
		if err != nil || won {
			return occ, err
		}
	}
	return Occurrence{}, fmt.Errorf("alertstate: count occurrence of %s: lost %d races to other relays in a row", key, maxAttempts)
}

// Release closes the window that the occurrence of key at the time at opened (First), when
// nothing else was counted into it since: the relay calls it when the alert it was about to send
// could not be sent, so that the retried delivery is not held back as a duplicate of an alert that
// never went out. A window that has moved on is left as it is.
func (s *Store) Release(ctx context.Context, key string, at time.Time) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: "occur/" + key}},
		UpdateExpression:          aws.String("SET #start = :closed"),
		ConditionExpression:       aws.String("#start = :at AND #count = :one"),
		ExpressionAttributeNames:  map[string]string{"#start": windowStartAttribute, "#count": countAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":closed": number(0), ":at": epochMillis(at), ":one": number(1)},
	})
	var moved *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &moved) {
		return fmt.Errorf("alertstate: release the window of %s: %w", key, err)
	}
	return nil
}

// openWindow starts a window at the time at over the item seen (nil: none). It reports won false,
// with no error, when the item changed since it was seen.
func (s *Store) openWindow(ctx context.Context, key string, pk, seen map[string]types.AttributeValue, at time.Time, expires types.AttributeValue) (Occurrence, bool, error) {
	names := map[string]string{"#start": windowStartAttribute, "#count": countAttribute, "#expires": TTLAttribute}
	values := map[string]types.AttributeValue{":at": epochMillis(at), ":one": number(1), ":expires": expires}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       pk,
		UpdateExpression:          aws.String("SET #start = :at, #count = :one, #expires = :expires"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueUpdatedOld,
	}
	if start, ok := seen[windowStartAttribute]; ok {
		// Replace exactly the window that was seen to have ended.
		in.ConditionExpression = aws.String("#start = :seen")
		values[":seen"] = start
	} else {
		in.ConditionExpression = aws.String("attribute_not_exists(#start)")
	}
	out, err := s.api.UpdateItem(ctx, in)
	var lost *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &lost):
		return Occurrence{}, false, nil
	case err != nil:
		return Occurrence{}, false, fmt.Errorf("alertstate: open a window for %s: %w", key, err)
	}
	occ := Occurrence{First: true, Count: 1}
	// The window before counts only if it is not past its own retention (TTL lags expiry).
	if n, ok := numberAttr(out.Attributes, countAttribute); ok && n > 1 && !expired(seen, at) {
		occ.SuppressedBefore = int(n - 1)
	}
	return occ, true, nil
}

// TableActions are the IAM actions this package's calls need on the state table: the methods of
// API (a test keeps the two in step). infra/alerts grants exactly these to the alert relay.
var TableActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem"}
