package clustertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
)

// TestUpdateFaultMatrix creates a tagged cluster of 2 HSMs, then updates it to 3 HSMs, back to 2,
// and changes its BackupRetentionDays and Tags (one changed, one added, one dropped), then deletes
// it; the faults are aimed at the call sites of the three Updates (TestFaultMatrix covers Create
// and Delete). Besides the checks of TestFaultMatrix, after each Update the cluster must have the
// HSM count, backup retention and tags the properties ask for, or, after a failed Update and
// CloudFormation's rollback Update, those it had before; a failed Update ends the sequence and
// the cluster is deleted. By default each site of the first Update
// gets its named exception, and of the later Updates the sites the first did not have
// (DeleteHsm, the settings' own calls); transient faults go to the CloudHSM calls that change
// the cluster. STRONGROOM_FULL_FAULT_MATRIX=1 runs every fault at every site. The table is
// fault-matrix-update.txt.
func TestUpdateFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix drives dozens of cluster lifecycles; run without -short")
	}
	t.Parallel()
	seen := map[string]bool{} // function operation pairs of earlier Updates
	tagged := map[string]any{"Tags": map[string]any{"team": "hsm", "owner": "security"}}
	faultMatrix{
		title:    "Custom::CloudHsmCluster fault matrix, Update (HsmCount 2->3, 3->2, BackupRetentionDays and Tags)",
		artifact: "fault-matrix-update.txt",
		phases: []lifePhase{
			{name: "Create", kind: cloudformation.RequestCreate, hsms: 2, extra: tagged},
			{name: "Update 2->3", kind: cloudformation.RequestUpdate, hsms: 3, extra: tagged, target: true},
			{name: "Update 3->2", kind: cloudformation.RequestUpdate, hsms: 2, extra: tagged, target: true},
			// A new retention, a tag changed, one added and one dropped.
			{name: "Update settings", kind: cloudformation.RequestUpdate, hsms: 2, target: true,
				extra: map[string]any{"BackupRetentionDays": "30", "Tags": map[string]any{"team": "keys", "env": "prod"}}},
			{name: "Delete", kind: cloudformation.RequestDelete},
		},
		cases: func(phase string, sites []sandbox.CallSite, full bool) []siteCase {
			return siteCases(t, phase, sites, full, func(s sandbox.CallSite) (named, transient bool) {
				key := s.Function + " " + s.Service + " " + s.Operation
				novel := !seen[key]
				seen[key] = true
				changes := s.Service == "cloudhsmv2" && !strings.HasPrefix(s.Operation, "Describe")
				return novel, novel && changes
			})
		},
	}.run(t)
}

// TestSafetyNetFaultMatrix makes the Create workflow end without answering (the client instance's
// subnet lookup fails, then the answer's PUT is refused), so the safety net has to answer, and
// fails each of the safety net's own calls (reading the execution, reading its history, the
// answer's PUT) with throttling twice, one 5xx and its named exception. The safety net must still
// answer FAILED, once, saying the workflow ended without answering; the rollback Delete must
// succeed and leave nothing. The table is fault-matrix-safetynet.txt.
func TestSafetyNetFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a dozen cluster requests; run without -short")
	}
	t.Parallel()
	net := resourcedef.Cluster.SafetyNet.Name
	faultMatrix{
		title:    "Custom::CloudHsmCluster fault matrix, the safety net answering for a Create that could not",
		artifact: "fault-matrix-safetynet.txt",
		phases:   []lifePhase{{name: "Create", kind: cloudformation.RequestCreate, hsms: 2, target: true}},
		setup: func(r *rig) []sandbox.Fault {
			return []sandbox.Fault{
				{Service: "ec2", Operation: "DescribeSubnets", Kind: sandbox.FaultError, Code: "InvalidSubnetID.NotFound", Count: 1,
					When: r.env.Caller("cluster-check", clusterMay, clusterOther)},
				{Service: "s3", Operation: "PutObject", Kind: sandbox.FaultError, Code: "AccessDenied", Status: 403, Message: "Request has expired", Count: 1,
					When: r.env.Caller("cfn-answer", clusterMay, clusterOther)},
			}
		},
		failsByDesign: true,
		cases: func(phase string, sites []sandbox.CallSite, _ bool) []siteCase {
			var own []sandbox.CallSite
			for _, s := range sites {
				if s.Function == net {
					own = append(own, s)
				}
			}
			if len(own) == 0 {
				t.Errorf("the baseline's safety net made no call: %v", sites)
			}
			return siteCases(t, phase, own, true, nil)
		},
		expect: func(_ *rig, _ siteCase, l *lifeRun) []string {
			if !strings.Contains(l.firstFailure, "without answering") {
				return []string{fmt.Sprintf("the Create was not answered by the safety net: %q", l.firstFailure)}
			}
			return nil
		},
	}.run(t)
}

// TestEntryFailsPersistently fails every StartExecution of a request (throttling, a 5xx, a named
// refusal), so the entry function can never start the workflow. CloudFormation must still get
// exactly one answer, FAILED with a reason naming the cause, well before the ServiceTimeout (here
// within a quarter of it) instead of the stack waiting the hour out; no execution may start; a
// failed Create's rollback Delete must succeed, and a failed Delete must succeed when retried
// once the fault is gone (which starts the one Delete execution). The table is
// fault-matrix-entry.txt.
func TestEntryFailsPersistently(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cluster requests; run without -short")
	}
	t.Parallel()
	entry := resourcedef.Cluster.Entry.Name
	m := faultMatrix{
		title:    "Custom::CloudHsmCluster fault matrix, the entry function unable to start a workflow",
		artifact: "fault-matrix-entry.txt",
		phases: []lifePhase{
			{name: "Create", kind: cloudformation.RequestCreate, hsms: 2, target: true},
			{name: "Delete", kind: cloudformation.RequestDelete, target: true},
		},
		within: resourcedef.Cluster.ServiceTimeout / 4,
		cases: func(phase string, sites []sandbox.CallSite, full bool) []siteCase {
			var out []siteCase
			for _, s := range sites {
				if s.Function != entry || s.Operation != "StartExecution" {
					continue
				}
				for _, c := range []siteCase{
					{phase: phase, site: s, kind: sandbox.FaultThrottle},
					{phase: phase, site: s, kind: sandbox.FaultInternal},
					{phase: phase, site: s, kind: sandbox.FaultError, code: likelyError["states StartExecution"].code},
				} {
					if full || phase == "Create" || c.kind == sandbox.FaultThrottle {
						out = append(out, c)
					}
				}
			}
			return out
		},
	}
	m.expect = func(r *rig, c siteCase, l *lifeRun) []string {
		var problems []string
		// The Create's workflow never starts; the Delete's starts once, for the retried delete.
		want := map[string]int{"Create": 0, "Delete": 1}[c.phase]
		if arns, err := r.dep.Executions(r.ctx, c.phase); err != nil || len(arns) != want {
			problems = append(problems, fmt.Sprintf("%d %s executions (%v); want %d", len(arns), c.phase, err, want))
		}
		if l.failed == 0 {
			problems = append(problems, "no request was answered FAILED")
		}
		cause := map[sandbox.FaultKind]string{sandbox.FaultThrottle: "ThrottlingException", sandbox.FaultInternal: "InternalFailure", sandbox.FaultError: c.code}[c.kind]
		if l.failed > 0 && !strings.Contains(l.firstFailure, cause) && !strings.Contains(l.firstFailure, "StartExecution") {
			problems = append(problems, fmt.Sprintf("the FAILED reason does not name the cause (%s): %q", cause, l.firstFailure))
		}
		return problems
	}
	m.run(t)
}
