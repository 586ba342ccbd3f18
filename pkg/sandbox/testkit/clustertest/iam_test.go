package clustertest_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// TestAMissingGrantIsRefused shows that the kit's functions run under their roles with IAM
// enforced (stacktest.Deploy): with the create step's grants gone, its first call is refused with
// AWS's message naming the action and the step's role, the Create answers FAILED once, and the
// rollback leaves no cluster.
func TestAMissingGrantIsRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{Ungranted: map[string]bool{"cluster-create": true}})
	out, err := r.dep.Create(r.ctx, "Cluster", clustertest.Properties(2))
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != cloudformation.StatusFailed || out.TimedOut || len(out.Duplicates) != 0 {
		t.Fatalf("create answered %s (timed out %v, %d extra answers); want FAILED once: %s", out.Status, out.TimedOut, len(out.Duplicates), out.Reason)
	}
	for _, want := range []string{"assumed-role/strongroom-e2e-cluster-create/", "is not authorized to perform: cloudhsm:"} {
		if !strings.Contains(out.Reason, want) {
			t.Errorf("reason does not carry %q: %s", want, out.Reason)
		}
	}
	denied := 0
	for _, d := range r.env.Decisions() {
		if !d.Allowed {
			denied++
			if !strings.HasSuffix(d.Role, "/strongroom-e2e-cluster-create") {
				t.Errorf("refused a call of %s, not of the ungranted step: %s", d.Role, d.Message)
			}
		}
	}
	if denied == 0 {
		t.Error("no call was refused")
	}
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("%d clusters left after the refused create", len(live))
	}
}

// TestEveryGrantIsNeeded is the kit's grant matrix (stacktest.Classify): each grant of
// resourcedef.Cluster removed alone, then a lifecycle that takes every request path the cluster has
// (Create with retention and tags, a run of the health check, an Update that adds an HSM and
// changes them, an Update back to two HSMs, the Delete, and when all of that succeeded the safety
// net's probe, a Delete whose workflow cannot answer, stacktest.Run.SafetyNetProbe, and the lost
// start probe, a Delete whose entry loses its StartExecution's answer,
// stacktest.Run.LostStartProbe). By default it
// removes three grants, each of which must be refused and fail: the scale step's
// cloudhsm:CreateHsm (the Create fails, its rollback removes the cluster), the delete step's
// cloudhsm:DeleteCluster (the Delete fails and the cluster stays) and the safety net's
// states:DescribeExecution (the probe goes unanswered). With STRONGROOM_FULL_GRANT_MATRIX=1 it
// removes every grant; a grant no path needed is listed as "no failure". The table is written as
// grant-matrix.txt to $STRONGROOM_ARTIFACTS (or a temp dir).
func TestEveryGrantIsNeeded(t *testing.T) {
	t.Parallel()
	stacktest.GrantMatrix(t, resourcedef.Cluster, []stacktest.Pick{{Function: "cluster-scale", Action: "cloudhsm:CreateHsm"}, {Function: "cluster-delete", Action: "cloudhsm:DeleteCluster"},
		{Function: "cfn-safetynet", Action: "states:DescribeExecution"}},
		"grant-matrix.txt", writeArtifact, runWithout)
}

// runWithout runs the matrix's lifecycle with grant id removed and classifies it.
func runWithout(t *testing.T, id stacktest.GrantID) (stacktest.Run, []sandbox.Decision) {
	r := newMatrixRig(t, clustertest.Options{Without: &id})
	props := clustertest.Properties(2)
	props["BackupRetentionDays"] = "90"
	props["Tags"] = map[string]any{"team": "hsm", "owner": "security"}
	var run stacktest.Run
	if run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Create(r.ctx, "Cluster", props) }) {
		id0 := run.Outcomes[0].PhysicalResourceID
		grown := clustertest.Properties(3)
		grown["BackupRetentionDays"] = "30"
		grown["Tags"] = map[string]any{"team": "keys", "env": "prod"}
		back := maps.Clone(grown)
		back["HsmCount"] = "2"
		// The health check's schedule rule sends the properties the construct gives the resource,
		// which name its secrets.
		checked := maps.Clone(props)
		prefix := r.dep.SecretPrefix + "/"
		checked["AdminPasswordSecretName"] = prefix + resourcedef.AdminPasswordSecret
		checked["CustomerCaKeySecretName"] = prefix + resourcedef.CAKeySecret
		checked["CustomerCaCertificateSecretName"] = prefix + resourcedef.CACertSecret
		if err := r.dep.CheckHealth(r.ctx, id0, checked); err != nil {
			run.Failed = append(run.Failed, "health check: "+stacktest.Reason(err.Error(), 200))
		}
		run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Update(r.ctx, "Cluster", id0, props, grown) })
		run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Update(r.ctx, "Cluster", id0, grown, back) })
		run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Delete(r.ctx, "Cluster", id0, back) })
		if run.Succeeded() {
			run.SafetyNetProbe(t, r.dep, r.ctx, "Cluster", id0, back)
			run.LostStartProbe(t, r.dep, r.ctx, "Cluster", id0, back)
		}
	}
	run.Leftovers = len(r.liveClusters(t))
	return run, r.env.Decisions()
}
