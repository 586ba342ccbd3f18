package clustertest_test

import (
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestStepTimeoutAfterItsSideEffectConverges delays the invocation of the CreateCluster task's
// function (the workflow's second Lambda invocation, after CheckEnvironment) past the task's
// TimeoutSeconds (120 s): Step Functions fails the task with States.Timeout, and the late
// invocation still makes the cluster. The task is retried like any transient failure; whichever
// invocation comes second finds the cluster by its request tag, so the Create succeeds with one
// cluster. Before, States.Timeout went to the catch-all: the FAILED answer named no cluster and
// the rollback left the late invocation's cluster behind.
func TestStepTimeoutAfterItsSideEffectConverges(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	if _, err := r.env.Faults.Add(sandbox.Fault{Service: "lambda", Operation: "Invoke", Kind: sandbox.FaultLatency,
		Latency: sandbox.Duration(150 * time.Second), Skip: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	props := clustertest.Properties(2)
	out, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	if hits := r.env.Faults.List()[0].Hits; hits != 1 {
		t.Fatalf("the latency fault was hit %d times; want 1", hits)
	}
	timedOut := false
	for _, rec := range r.env.Recorder.Records("lambda", "Invoke") {
		timedOut = timedOut || (rec.Injected != "" && rec.Path == "cluster-create")
	}
	if !timedOut {
		t.Fatal("the delayed invocation was not the CreateCluster task's (the case proves nothing otherwise)")
	}
	requireSuccess(t, "create with a timed-out CreateCluster", out)
	if live := r.liveClusters(t); len(live) != 1 {
		t.Errorf("%d clusters after the create; want 1 (the retried step finds the one it made)", len(live))
	}
	del, err := r.dep.Delete(r.ctx, "Cluster", out.PhysicalResourceID, props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete", del)
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("%d clusters remain after the delete", len(live))
	}
}
