package keystoretest_test

import (
	"maps"
	"testing"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// TestEveryGrantIsNeeded is the kit's grant matrix (stacktest.Classify): each grant of
// resourcedef.KeyStore removed alone, then a lifecycle that takes the store's paths (Create, a run
// of the health check, a rename Update, the kmsuser password rotation, the Delete that deletes the
// store, and when all of that succeeded the safety net's probe, a Delete whose workflow cannot
// answer, stacktest.Run.SafetyNetProbe, and the lost start probe, a Delete whose entry loses its
// StartExecution's answer, stacktest.Run.LostStartProbe). By default it removes two grants, each of which must be refused and fail: the create
// step's kms:CreateCustomKeyStore grant and the client instance's read of the kmsuser password (the
// Create's document cannot read it). With STRONGROOM_FULL_GRANT_MATRIX=1 it removes every grant; a
// grant no path needed is listed as "no failure". The table is written as keystore-grant-matrix.txt to
// $STRONGROOM_ARTIFACTS (or a temp dir).
func TestEveryGrantIsNeeded(t *testing.T) {
	stacktest.GrantMatrix(t, resourcedef.KeyStore, []stacktest.Pick{{Function: "keystore-create", Action: "kms:CreateCustomKeyStore"}, {Function: stacktest.InstanceFunction, Action: "secretsmanager:GetSecretValue"}},
		"keystore-grant-matrix.txt", writeArtifact, runWithout)
}

// runWithout runs the matrix's lifecycle with grant id removed and classifies it.
func runWithout(t *testing.T, id stacktest.GrantID) (stacktest.Run, []sandbox.Decision) {
	r := newRig(t, keystoretest.Options{Without: &id}, 2)
	props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-matrix", true)
	var run stacktest.Run
	if run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Create(r.ctx, "KeyStore", props) }) {
		store := run.Outcomes[0].PhysicalResourceID
		if err := r.dep.CheckHealth(r.ctx, store, props); err != nil {
			run.Failed = append(run.Failed, "health check: "+stacktest.Reason(err.Error(), 200))
		}
		renamed := maps.Clone(props)
		renamed["KeyStoreName"] = "strongroom-matrix-renamed"
		run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Update(r.ctx, "KeyStore", store, props, renamed) })
		status, _, cause, err := r.dep.Rotate(r.ctx, store, renamed)
		if err != nil {
			t.Fatal(err)
		}
		if status != "SUCCEEDED" {
			run.Failed = append(run.Failed, "rotation "+status+": "+stacktest.Reason(cause, 120))
		}
		run.Send(t, func() (*cloudformation.Outcome, error) { return r.dep.Delete(r.ctx, "KeyStore", store, renamed) })
		if run.Succeeded() {
			run.SafetyNetProbe(t, r.dep.Deployment, r.ctx, "KeyStore", store, renamed)
			run.LostStartProbe(t, r.dep.Deployment, r.ctx, "KeyStore", store, renamed)
		}
	}
	run.Leftovers = r.stores(t)
	if r.kmsUser(t) {
		run.Leftovers++
	}
	return run, r.env.Decisions()
}
