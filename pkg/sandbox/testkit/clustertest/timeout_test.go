package clustertest_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"

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

// TestDuplicateClustersOfARequestAreRemoved makes, while the Create workflow waits for its
// cluster, a second cluster with the same tags: what two create attempts that ran at once leave
// (a timed-out invocation whose CreateCluster landed after its retry had listed the clusters; a
// fault matrix case on a loaded machine once leaked one so). The Create must end with one cluster,
// the one it answered with; a duplicate made after the Create is removed by the Delete, which must
// leave none.
func TestDuplicateClustersOfARequestAreRemoved(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	props := clustertest.Properties(2)
	type result struct {
		out *cloudformation.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := r.dep.Create(r.ctx, "Cluster", props)
		done <- result{out, err}
	}()
	first := r.awaitCluster(t)
	if first.State != types.ClusterStateCreateInProgress {
		t.Fatalf("the workflow's cluster is %s before the duplicate is made; want CREATE_IN_PROGRESS", first.State)
	}
	dup := r.duplicate(t, first)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	requireSuccess(t, "create with a duplicate cluster", res.out)
	if live := r.liveClusters(t); len(live) != 1 || aws.ToString(live[0].ClusterId) != res.out.PhysicalResourceID {
		t.Fatalf("live clusters after the create: %v; want only %s (duplicate %s removed)", clusterIDs(live), res.out.PhysicalResourceID, dup)
	}

	late := r.duplicate(t, r.cluster(t, res.out.PhysicalResourceID))
	for r.cluster(t, late).State == types.ClusterStateCreateInProgress {
		time.Sleep(10 * time.Millisecond) // a few sandbox minutes
	}
	del, err := r.dep.Delete(r.ctx, "Cluster", res.out.PhysicalResourceID, props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete with a duplicate cluster", del)
	if live := r.liveClusters(t); len(live) != 0 {
		t.Fatalf("live clusters after the delete: %v; want none", clusterIDs(live))
	}
}

// awaitCluster waits (in wall time) for the first cluster to be listed and returns it.
func (r *rig) awaitCluster(t *testing.T) types.Cluster {
	t.Helper()
	for r.ctx.Err() == nil {
		if live := r.liveClusters(t); len(live) > 0 {
			return live[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no cluster was created")
	return types.Cluster{}
}

// duplicate creates a cluster with c's subnets, type and tags (its create request's among them)
// and returns its id.
func (r *rig) duplicate(t *testing.T, c types.Cluster) string {
	t.Helper()
	var subnets []string
	for _, s := range c.SubnetMapping {
		subnets = append(subnets, s)
	}
	out, err := r.hsm.CreateCluster(r.ctx, &cloudhsmv2.CreateClusterInput{SubnetIds: subnets, HsmType: c.HsmType, TagList: c.TagList})
	if err != nil {
		t.Fatalf("create the duplicate of %s: %v", aws.ToString(c.ClusterId), err)
	}
	return aws.ToString(out.Cluster.ClusterId)
}

func clusterIDs(cs []types.Cluster) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, aws.ToString(c.ClusterId)+" "+string(c.State))
	}
	return ids
}
