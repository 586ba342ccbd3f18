package alertstate_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/strongroom/strongroom/pkg/alertstate"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// newStore starts a sandbox, creates the state table as infra/alerts declares it (pk S,
// on demand, TTL on expiresAt) and returns a store over it, and the client for the test's reads.
func newStore(t testing.TB) (*alertstate.Store, *dynamodb.Client) {
	t.Helper()
	sb := sandboxtest.New(t)
	client := dynamodb.NewFromConfig(sb.NoRetryConfig())
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("alert-state"),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(alertstate.KeyAttribute), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(alertstate.KeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("alert-state"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(alertstate.TTLAttribute), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	store, err := alertstate.New(client, "alert-state")
	if err != nil {
		t.Fatal(err)
	}
	return store, client
}

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func TestTransitionReturnsThePreviousStatus(t *testing.T) {
	store, client := newStore(t)
	ctx := context.Background()
	steps := []struct {
		key, status string
		at          time.Duration
		previous    string
	}{
		{"rotation/db", "FAILING", 0, ""},
		{"rotation/db", "FAILING", time.Minute, "FAILING"},
		{"rotation/db", "OK", 2 * time.Minute, "FAILING"},
		{"rotation/other", "OK", 2 * time.Minute, ""},
		{"rotation/db", "OK", 3 * time.Minute, "OK"},
		// Silent for longer than the retention: as if never seen, even before TTL deletes it.
		{"rotation/db", "FAILING", 3*time.Minute + alertstate.Retention, ""},
		{"rotation/db", "OK", 4*time.Minute + alertstate.Retention, "FAILING"},
	}
	for i, st := range steps {
		got, err := store.Transition(ctx, st.key, st.status, t0.Add(st.at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != st.previous {
			t.Fatalf("step %d (%s -> %s): previous %q, want %q", i, st.key, st.status, got, st.previous)
		}
	}
	// The item expires Retention after it was last recorded.
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("alert-state"),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "status/rotation/db"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatInt(t0.Add(4*time.Minute+2*alertstate.Retention).Unix(), 10)
	if got, _ := out.Item[alertstate.TTLAttribute].(*types.AttributeValueMemberN); got == nil || got.Value != want {
		t.Fatalf("expiresAt %v, want %s", out.Item[alertstate.TTLAttribute], want)
	}
}

func TestOccurCountsWithinAWindow(t *testing.T) {
	store, _ := newStore(t)
	ctx := context.Background()
	window := 10 * time.Minute
	steps := []struct {
		key  string
		at   time.Duration
		want alertstate.Occurrence
	}{
		{"root-login", 0, alertstate.Occurrence{First: true, Count: 1}},
		{"root-login", time.Minute, alertstate.Occurrence{Count: 2}},
		{"other", time.Minute, alertstate.Occurrence{First: true, Count: 1}},
		{"other", 2 * time.Minute, alertstate.Occurrence{Count: 2}},
		{"root-login", window - time.Millisecond, alertstate.Occurrence{Count: 3}},
		// The window is [start, start+window): its end opens the next, which reports the two unsent.
		{"root-login", window, alertstate.Occurrence{First: true, Count: 1, SuppressedBefore: 2}},
		{"root-login", window + time.Second, alertstate.Occurrence{Count: 2}},
		// A window with one occurrence suppressed one; with none beyond its first, nothing.
		{"root-login", 3 * window, alertstate.Occurrence{First: true, Count: 1, SuppressedBefore: 1}},
		{"root-login", 5 * window, alertstate.Occurrence{First: true, Count: 1}},
		// A counter past its retention reports nothing from before, though TTL has not deleted it.
		{"other", 2*time.Minute + window + alertstate.Retention, alertstate.Occurrence{First: true, Count: 1}},
	}
	for i, st := range steps {
		got, err := store.Occur(ctx, st.key, t0.Add(st.at), window)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != st.want {
			t.Fatalf("step %d (%s at +%s): %+v, want %+v", i, st.key, st.at, got, st.want)
		}
	}
}

// TestConcurrentRelaysAgree: relays that see the same occurrences at once never both send, and
// the counts they get are each a distinct position in the window.
func TestConcurrentRelaysAgree(t *testing.T) {
	store, _ := newStore(t)
	const relays = 20
	window := time.Minute
	race := func(at time.Time) []alertstate.Occurrence {
		var wg sync.WaitGroup
		out := make([]alertstate.Occurrence, relays)
		errs := make([]error, relays)
		for i := range relays {
			wg.Go(func() { out[i], errs[i] = store.Occur(context.Background(), "throttled", at, window) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(got []alertstate.Occurrence, suppressedBefore int) {
		t.Helper()
		var firsts []alertstate.Occurrence
		var counts []int
		for _, o := range got {
			if o.First {
				firsts = append(firsts, o)
			}
			counts = append(counts, o.Count)
		}
		if len(firsts) != 1 || firsts[0].SuppressedBefore != suppressedBefore {
			t.Fatalf("first occurrences %+v, want exactly one reporting %d suppressed", firsts, suppressedBefore)
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("counts %v, want 1 to %d once each", counts, relays)
			}
		}
	}
	check(race(t0), 0)
	// The next window: racing relays both find the old one ended; one opens the new one.
	check(race(t0.Add(window)), relays-1)

	// Transition under the same race: every relay sees the status before or another relay's.
	var wg sync.WaitGroup
	previous := make([]string, relays)
	for i := range relays {
		wg.Go(func() {
			p, err := store.Transition(context.Background(), "cond", "ALARM", t0)
			if err != nil {
				t.Error(err)
			}
			previous[i] = p
		})
	}
	wg.Wait()
	if unseen := slices.Index(previous, ""); unseen < 0 || slices.Contains(previous[unseen+1:], "") {
		t.Fatalf("previous statuses %q: want exactly one relay to see none", previous)
	}
}

func TestMistakesAndFailuresAreErrors(t *testing.T) {
	store, client := newStore(t)
	ctx := context.Background()
	cases := []sandboxtest.ErrorCase[func() error]{
		{Name: "empty key", In: func() error { _, err := store.Transition(ctx, "", "OK", t0); return err }, Want: "key"},
		{Name: "empty status", In: func() error { _, err := store.Transition(ctx, "k", "", t0); return err }, Want: "status is empty"},
		{Name: "no window", In: func() error { _, err := store.Occur(ctx, "k", t0, 0); return err }, Want: "not positive"},
		{Name: "key too long", In: func() error { _, err := store.Occur(ctx, string(make([]byte, 1025)), t0, time.Minute); return err }, Want: "1 to 1024 bytes"},
	}
	sandboxtest.WantErrors(t, cases, func(t *testing.T, f func() error) error { return f() })

	if _, err := alertstate.New(client, ""); err == nil {
		t.Error("New accepted an empty table name")
	}
	// A DynamoDB failure keeps the SDK's error, so the relay can classify it (pkg/lambdaerr).
	missing, err := alertstate.New(client, "no-such-table")
	if err != nil {
		t.Fatal(err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := missing.Transition(ctx, "k", "OK", t0); !errors.As(err, &notFound) {
		t.Errorf("Transition on a missing table: %v", err)
	}
	if _, err := missing.Occur(ctx, "k", t0, time.Minute); !errors.As(err, &notFound) {
		t.Errorf("Occur on a missing table: %v", err)
	}
}

// TestReleaseReopens: an occurrence whose alert could not be sent is released, so the retried
// delivery is first again; a window others counted into since is not released.
func TestReleaseReopens(t *testing.T) {
	store, _ := newStore(t)
	ctx := context.Background()
	window := 10 * time.Minute
	occ, err := store.Occur(ctx, "event/1", t0, window)
	if err != nil || !occ.First {
		t.Fatalf("first: %+v, %v", occ, err)
	}
	if err := store.Release(ctx, "event/1", t0); err != nil {
		t.Fatal(err)
	}
	if occ, err = store.Occur(ctx, "event/1", t0.Add(time.Second), window); err != nil || occ != (alertstate.Occurrence{First: true, Count: 1}) {
		t.Fatalf("after release: %+v, %v; want first again, nothing held back before", occ, err)
	}
	if occ, err = store.Occur(ctx, "event/1", t0.Add(2*time.Second), window); err != nil || occ.First {
		t.Fatalf("repeat: %+v, %v", occ, err)
	}
	// Two counted: the release is refused quietly and the window stays.
	if err := store.Release(ctx, "event/1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if occ, err = store.Occur(ctx, "event/1", t0.Add(3*time.Second), window); err != nil || occ.First || occ.Count != 3 {
		t.Fatalf("after a refused release: %+v, %v; want the window kept (count 3)", occ, err)
	}
	if err := store.Release(ctx, "never-seen", t0); err != nil {
		t.Errorf("release of a key never seen: %v", err)
	}
}
