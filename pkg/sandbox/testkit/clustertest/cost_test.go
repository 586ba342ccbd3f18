package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// milestone is a moment of the cluster's journey: when the emulated CloudHSM reached it, and when
// the workflow first saw it in a Describe result.
type milestone struct {
	name            string
	reached, notice time.Time
}

// clusterWatch records, on the sandbox clock, when the cluster first showed each milestone. It
// reads the emulated service in process (no API call, so the figures below are not inflated).
func clusterWatch(ctx context.Context, r *rig) func() map[string]time.Time {
	seen := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		id := ""
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond) // 0.1 s of sandbox time at scale 100
			now := r.env.Clock.Now()
			if id == "" {
				for _, rec := range r.env.Recorder.Records("cloudhsmv2", "CreateCluster") {
					var out struct{ Cluster struct{ ClusterId string } }
					if rec.ErrorCode == "" && json.Unmarshal(rec.ResponseBody, &out) == nil {
						id = out.Cluster.ClusterId
					}
				}
				continue
			}
			c, err := r.env.CloudHSM.Cluster(id)
			if err != nil {
				continue
			}
			active := 0
			for _, h := range c.Hsms {
				if h.State == "ACTIVE" {
					active++
				}
			}
			mark := func(k string) {
				if _, ok := seen[k]; !ok {
					seen[k] = now
				}
			}
			mark("cluster " + c.State)
			if active >= 1 {
				mark("first HSM ACTIVE")
			}
			if c.State == "ACTIVE" && active == 2 && len(c.Hsms) == 2 {
				mark("2 HSMs ACTIVE")
				return
			}
		}
	}()
	return func() map[string]time.Time { <-done; return seen }
}

// TestCreateCost measures one Create at default settings (2 HSMs): state transitions, Lambda
// invocations, AWS API calls, and the polling lag, from the moment the emulated cluster reached
// each milestone to the moment a Describe step reported it, in sandbox time (the durations AWS
// would take). The figures are written to create-cost.txt.
func TestCreateCost(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	r.env.Recorder.Reset()
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	watch := clusterWatch(ctx, r)
	start := r.env.Clock.Now()
	out, err := r.dep.Create(r.ctx, "Cluster", clustertest.Properties(2))
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "create", out)
	seen := watch()
	end := r.env.Clock.Now()
	// The calls of the Create itself, before this test reads the history through the API.
	records := r.env.Recorder.Records("", "")
	invocations := len(r.env.Lambda.History(""))

	arn, _ := out.Data["WorkflowExecutionArn"].(string)
	sf := sfn.NewFromConfig(r.env.AWSConfig())
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(sf, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(r.ctx)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, page.Events...)
	}
	transitions, tasks := 0, 0
	noticed := map[string]time.Time{}
	for _, e := range events {
		if e.StateEnteredEventDetails != nil {
			transitions++
			if e.Type == sfntypes.HistoryEventTypeTaskStateEntered {
				tasks++
			}
		}
		d := e.StateExitedEventDetails
		if d == nil || aws.ToString(d.Name) != "Describe" {
			continue
		}
		var st struct {
			Cluster struct {
				State         string
				HasCsr        bool
				ActiveHsms    int
				AllHsmsActive bool
			}
		}
		if json.Unmarshal([]byte(aws.ToString(d.Output)), &st) != nil {
			continue
		}
		mark := func(k string) {
			if _, ok := noticed[k]; !ok {
				noticed[k] = aws.ToTime(e.Timestamp)
			}
		}
		mark("cluster " + st.Cluster.State)
		if st.Cluster.ActiveHsms >= 1 {
			mark("first HSM ACTIVE")
		}
		if st.Cluster.State == "ACTIVE" && st.Cluster.ActiveHsms == 2 && st.Cluster.AllHsmsActive {
			mark("2 HSMs ACTIVE")
		}
	}

	calls := map[string]int{}
	total := 0
	for _, rec := range records {
		if rec.Internal {
			continue // Step Functions' Lambda invocations, counted above
		}
		calls[rec.Service+" "+rec.Operation]++
		total++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "One Custom::CloudHsmCluster Create, HsmCount 2, default settings (sandbox durations: cluster %s, HSM %s, initialize %s)\n",
		"3m", "6m", "5m")
	fmt.Fprintf(&b, "create took %s of sandbox time (CloudFormation event to answer)\n", end.Sub(start).Round(time.Second))
	fmt.Fprintf(&b, "state transitions (states entered, what Standard Workflows bill): %d, of which Task states: %d\n", transitions, tasks)
	fmt.Fprintf(&b, "Lambda invocations: %d (entry + workflow tasks)\n", invocations)
	fmt.Fprintf(&b, "AWS API calls made by the functions: %d\n", total)
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-40s %d\n", k, calls[k])
	}
	fmt.Fprintf(&b, "polling lag (cluster reached -> workflow noticed; the Poll Wait is 20 s):\n")
	var ms []milestone
	for k, at := range seen {
		ms = append(ms, milestone{name: k, reached: at, notice: noticed[k]})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].reached.Before(ms[j].reached) })
	for _, m := range ms {
		if m.notice.IsZero() {
			fmt.Fprintf(&b, "  %-28s reached +%-8s never seen by a Describe (passed between polls or acted on directly)\n", m.name, m.reached.Sub(start).Round(time.Second))
			continue
		}
		lag := m.notice.Sub(m.reached)
		fmt.Fprintf(&b, "  %-28s reached +%-8s noticed +%-8s lag %s\n", m.name, m.reached.Sub(start).Round(time.Second), m.notice.Sub(start).Round(time.Second), lag.Round(100*time.Millisecond))
		// One Poll interval plus the Describe's own run time bounds the lag; at this scale each
		// millisecond of a function's wall time is 0.1 s of sandbox time.
		// "reached" is when the test's own watcher saw the state, so the workflow can notice it
		// a moment earlier: a small negative lag is the watcher's polling, not the workflow's.
		if lag < -5*time.Second || lag > 60*time.Second {
			t.Errorf("%s: lag %s is outside -5-60 s", m.name, lag)
		}
	}
	for _, k := range []string{"cluster UNINITIALIZED", "cluster INITIALIZED", "cluster ACTIVE", "2 HSMs ACTIVE"} {
		if _, ok := seen[k]; !ok {
			t.Errorf("the watcher never saw %s", k)
		}
	}
	if transitions == 0 || invocations == 0 || total == 0 {
		t.Errorf("empty figures: transitions %d, invocations %d, calls %d", transitions, invocations, total)
	}
	t.Log("\n" + b.String())
	writeArtifact(t, "create-cost.txt", b.String())
}
