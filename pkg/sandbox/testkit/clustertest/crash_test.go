package clustertest_test

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfnapi "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestCrashAfterSideEffect kills each function once, right after its handler succeeded (its side
// effect done: a cluster or HSM created, a secret stored, a command sent, an answer PUT) and
// before it returns, through lambdaenv.SandboxCrashOnceVar. The Lambda reports Runtime.ExitError,
// the state machine (or, for the entry function, Lambda's asynchronous retry) runs the step again,
// and the resource must converge: Create answers SUCCESS with one cluster of two ACTIVE HSMs, one
// CA and one admin password, and Delete leaves no cluster.
func TestCrashAfterSideEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a cluster lifecycle per function; run without -short")
	}
	var fns []string
	for _, fn := range clustertest.Functions() {
		// The safety net runs only after a workflow failed (the fault matrix covers it); the health
		// check runs on a schedule, in no workflow (pkg/health's tests cover it).
		if fn != "cfn-safetynet" && fn != resourcedef.Cluster.Health.Name {
			fns = append(fns, fn)
		}
	}
	inParallel(t, len(fns), func(i int) string { return fns[i] }, func(t *testing.T, i int) {
		fn := fns[i]
		{
			marker := filepath.Join(t.TempDir(), "crash-once")
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			r := newRig(t, clustertest.Options{Env: map[string]map[string]string{fn: {lambdaenv.SandboxCrashOnceVar: marker}}})
			props := clustertest.Properties(2)
			out, err := r.dep.Create(r.ctx, "Cluster", props)
			if err != nil {
				t.Fatal(err)
			}
			requireSuccess(t, "create", out)
			if fn == "cluster-settings" {
				// It runs only in an Update: change a setting so it has work to crash after.
				next := maps.Clone(props)
				next["BackupRetentionDays"] = "30"
				up, err := r.dep.Update(r.ctx, "Cluster", out.PhysicalResourceID, props, next)
				if err != nil {
					t.Fatal(err)
				}
				requireSuccess(t, "update", up)
				if p := r.cluster(t, out.PhysicalResourceID).BackupRetentionPolicy; p == nil || aws.ToString(p.Value) != "30" {
					t.Errorf("backup retention after the crashed and retried update = %+v; want 30 days", p)
				}
				props = next
			}
			del, err := r.dep.Delete(r.ctx, "Cluster", out.PhysicalResourceID, props)
			if err != nil {
				t.Fatal(err)
			}
			requireSuccess(t, "delete", del)
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Fatalf("%s never crashed (the marker is still there)", fn)
			}
			if n := countErrors(r, fn, "Runtime.ExitError"); n != 1 {
				t.Errorf("%s ended with Runtime.ExitError %d times; want 1", fn, n)
			}
			r.requireOneCreateCluster(t) // a retried create must find its cluster
			secrets := 0
			for _, rec := range r.env.Recorder.Records("secretsmanager", "CreateSecret") {
				if rec.ErrorCode == "" {
					secrets++
				}
			}
			if secrets != 3 {
				t.Errorf("%d secrets created; want 3 (CA key, CA certificate, admin password)", secrets)
			}
			if live := r.liveClusters(t); len(live) != 0 {
				t.Errorf("%d clusters remain after delete", len(live))
			}
			// A crash after the answer's PUT makes the retry PUT it again: S3 overwrites the object
			// with the same body, which CloudFormation reads once. The answers must agree.
			for _, o := range []*cloudformation.Outcome{out, del} {
				answers := r.env.CloudFormation.Answers(o.Event.RequestID)
				if fn != "cfn-answer" && len(answers) != 1 {
					t.Errorf("%s request answered %d times; want once", o.Event.RequestType, len(answers))
				}
				for _, a := range answers[1:] {
					if a.Response == nil || a.Response.Status != answers[0].Response.Status || a.Response.PhysicalResourceID != answers[0].Response.PhysicalResourceID {
						t.Errorf("%s request: a repeated answer differs from the first", o.Event.RequestType)
					}
				}
			}
			r.env.CheckNoSecrets(t)
		}
	})
}

// requireOneCreateCluster fails t unless the run made one CreateCluster call. Only an attempt of
// the create step that timed out (on a loaded machine: a function's wall time counts scale times
// against its state's TimeoutSeconds, and the function itself runs on) can overlap its retry and
// make a second cluster, which the workflow's RemoveDuplicates deletes
// (TestDuplicateClustersOfARequestAreRemoved): one more call is allowed per timed-out attempt, as
// the function (Sandbox.Timedout) or its state (States.Timeout in the Create's history) saw it.
func (r *rig) requireOneCreateCluster(t *testing.T) {
	t.Helper()
	timedOut := countErrors(r, "cluster-create", lambdaruntime.ErrorTypeTimeout)
	arns, err := r.dep.Executions(r.ctx, "Create")
	if err != nil {
		t.Fatal(err)
	}
	sfn := sfnapi.NewFromConfig(r.env.AWSConfig())
	for _, arn := range arns {
		h, err := sfn.GetExecutionHistory(r.ctx, &sfnapi.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
		if err != nil {
			t.Fatal(err)
		}
		state := ""
		for _, e := range h.Events {
			switch {
			case e.StateEnteredEventDetails != nil:
				state = aws.ToString(e.StateEnteredEventDetails.Name)
			case state == "CreateCluster" && (e.TaskTimedOutEventDetails != nil || e.LambdaFunctionTimedOutEventDetails != nil):
				timedOut++
			}
		}
	}
	if n := r.env.Recorder.Count("cloudhsmv2", "CreateCluster"); n < 1 || n > 1+timedOut {
		t.Errorf("%d CreateCluster calls (%d attempts of the create step timed out); want 1", n, timedOut)
	}
}

// countErrors counts invocations of fn that ended with the function error errorType.
func countErrors(r *rig, fn, errorType string) int {
	n := 0
	for _, inv := range r.env.Lambda.History(fn) {
		if inv.Error != nil && inv.Error.Type == errorType {
			n++
		}
	}
	return n
}
