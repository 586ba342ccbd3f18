package clustertest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestRetriedRequestIsAnsweredOnce delivers each request of a Create and a Delete to the entry
// function again, exactly as CloudFormation sent it (same RequestId, same ResponseURL), as
// CloudFormation may: the Create once while its workflow runs (StartExecution with the same name
// and input returns the running execution) and once after it ended, the Delete after it ended
// (StartExecution answers ExecutionAlreadyExists, and the entry reports "already started"). Each
// request must be answered exactly once, by one execution, and the cluster created once and
// deleted.
func TestRetriedRequestIsAnsweredOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a cluster lifecycle; run without -short")
	}
	t.Parallel()
	r := newMatrixRig(t, clustertest.Options{})
	entry := resourcedef.Cluster.Entry.Name
	// delivery is the entry's first invocation for the request (the driver's own), or nil.
	delivery := func(requestID string) []byte {
		for _, inv := range r.env.Lambda.History(entry) {
			var ev cloudformation.Event
			if inv.Attempt == 1 && json.Unmarshal(inv.Payload, &ev) == nil && ev.RequestID == requestID {
				return inv.Payload
			}
		}
		return nil
	}
	redeliver := func(payload []byte) {
		t.Helper()
		if err := r.env.Lambda.InvokeAsync(r.ctx, r.dep.ARNs[entry], payload); err != nil {
			t.Fatalf("deliver the request again: %v", err)
		}
	}
	// actions are the entry's results for the request, in order.
	actions := func(requestID string) []string {
		var out []string
		for _, inv := range r.env.Lambda.History(entry) {
			var ev cloudformation.Event
			if json.Unmarshal(inv.Payload, &ev) != nil || ev.RequestID != requestID {
				continue
			}
			if inv.Error != nil {
				out = append(out, "error "+inv.Error.Type+": "+inv.Error.Message)
				continue
			}
			var res struct{ Action, ExecutionArn string }
			_ = json.Unmarshal(inv.Response, &res)
			out = append(out, res.Action+" "+res.ExecutionArn)
		}
		return out
	}

	// While the Create runs: deliver its request again once its execution has started.
	redelivered := make(chan string, 1)
	go func() {
		defer close(redelivered)
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && r.ctx.Err() == nil {
			for _, inv := range r.env.Lambda.History(entry) {
				var ev cloudformation.Event
				if json.Unmarshal(inv.Payload, &ev) == nil && ev.RequestType == cloudformation.RequestCreate && inv.Error == nil {
					if err := r.env.Lambda.InvokeAsync(r.ctx, r.dep.ARNs[entry], inv.Payload); err != nil {
						redelivered <- "error: " + err.Error()
						return
					}
					redelivered <- ev.RequestID
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	props := clustertest.Properties(2)
	out, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "create", out)
	if got := <-redelivered; got != out.Event.RequestID {
		t.Fatalf("the Create request was not delivered again while it ran: %q", got)
	}
	r.settle(r.ctx)
	// After the Create ended: deliver it once more.
	create := delivery(out.Event.RequestID)
	if create == nil {
		t.Fatal("the entry function has no record of the Create request")
	}
	redeliver(create)
	r.settle(r.ctx)

	del, err := r.dep.Delete(r.ctx, "Cluster", out.PhysicalResourceID, props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete", del)
	r.settle(r.ctx)
	if p := delivery(del.Event.RequestID); p == nil {
		t.Fatal("the entry function has no record of the Delete request")
	} else {
		redeliver(p)
	}
	r.settle(r.ctx)

	for _, o := range []*cloudformation.Outcome{out, del} {
		kind := o.Event.RequestType
		got := actions(o.Event.RequestID)
		t.Logf("%s request delivered %d times: %q", kind, len(got), got)
		want := 2
		if kind == cloudformation.RequestCreate {
			want = 3
		}
		if len(got) != want {
			t.Errorf("the entry ran %d times for the %s request; want %d", len(got), kind, want)
		}
		if len(got) > 0 && got[len(got)-1] != "already started " {
			t.Errorf("the %s request delivered after its workflow ended: %q; want \"already started\"", kind, got[len(got)-1])
		}
		if kind == cloudformation.RequestCreate && len(got) == 3 && got[1] != got[0] {
			t.Errorf("the Create request delivered while it ran: %q; want the running execution, %q", got[1], got[0])
		}
		if n := len(r.env.CloudFormation.Answers(o.Event.RequestID)); n != 1 {
			t.Errorf("the %s request was answered %d times; want once", kind, n)
		}
		if arns, err := r.dep.Executions(r.ctx, kind); err != nil || len(arns) != 1 {
			t.Errorf("%d %s executions (%v); want 1", len(arns), kind, err)
		}
	}
	r.requireOneCreateCluster(t)
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("%d clusters remain after the delete", len(live))
	}
	r.env.CheckNoSecrets(t)
}
