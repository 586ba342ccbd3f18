package clustertest_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// likelyError is, per operation the workflows call, the named exception a real deployment is
// most likely to meet there (from the operation's documented errors), with why.
var likelyError = map[string]struct{ code, why string }{
	"cloudhsmv2 CreateCluster":         {"CloudHsmAccessDeniedException", "the role lacks a permission CloudHSM needs"},
	"cloudhsmv2 CreateHsm":             {"CloudHsmInvalidRequestException", "the cluster is not ready for another HSM"},
	"cloudhsmv2 DeleteCluster":         {"CloudHsmInvalidRequestException", "an HSM still exists"},
	"cloudhsmv2 DeleteHsm":             {"CloudHsmResourceNotFoundException", "the HSM is already gone"},
	"cloudhsmv2 DescribeClusters":      {"CloudHsmServiceException", "a service-side refusal"},
	"cloudhsmv2 InitializeCluster":     {"CloudHsmInvalidRequestException", "the cluster is not UNINITIALIZED or the certificate is refused"},
	"ec2 DescribeInstances":            {"InvalidInstanceID.NotFound", "the client instance is gone"},
	"ec2 DescribeSubnets":              {"InvalidSubnetID.NotFound", "a subnet is gone"},
	"lambda Invoke":                    {"ResourceNotReadyException", "the function is not active yet"},
	"s3 PutObject":                     {"AccessDenied", "the pre-signed ResponseURL expired"},
	"secretsmanager CreateSecret":      {"ResourceExistsException", "a concurrent attempt created it"},
	"secretsmanager DescribeSecret":    {"AccessDeniedException", "the role cannot read the secret's metadata"},
	"secretsmanager GetRandomPassword": {"InvalidRequestException", "a refused request"},
	"secretsmanager GetSecretValue":    {"DecryptionFailure", "the KMS key cannot decrypt the CA secret"},
	"ssm GetCommandInvocation":         {"InvocationDoesNotExist", "SSM does not know the invocation yet (eventual consistency)"},
	"ssm SendCommand":                  {"InvalidInstanceId", "the instance's SSM agent is offline"},
	"states StartExecution":            {"ExecutionLimitExceeded", "too many running executions"},
	"states DescribeExecution":         {"ExecutionDoesNotExist", "the execution is unknown"},
	"states GetExecutionHistory":       {"ExecutionDoesNotExist", "the execution is unknown"},
}

// matrixCase is one fault on one operation.
type matrixCase struct {
	service, op string
	kind        sandbox.FaultKind
	code        string
}

func (c matrixCase) name() string {
	if c.kind == sandbox.FaultError {
		return c.service + " " + c.op + " " + c.code
	}
	return c.service + " " + c.op + " " + string(c.kind)
}

// workflowOperations runs Create then Delete with no fault and returns the operations the
// functions and the workflows called, as "service operation", sorted: the matrix's rows. The
// test's own calls are excluded by resetting the recorder after deployment.
func workflowOperations(t *testing.T) []string {
	r := newRig(t, clustertest.Options{})
	r.env.Recorder.Reset()
	out, err := r.dep.Create(r.ctx, "Cluster", clustertest.Properties(2))
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "baseline create", out)
	del, err := r.dep.Delete(r.ctx, "Cluster", out.PhysicalResourceID, clustertest.Properties(2))
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "baseline delete", del)
	seen := map[string]bool{}
	for _, rec := range r.env.Recorder.Records("", "") {
		if rec.Service == "lambda" && rec.Operation != "Invoke" {
			continue // asynchronous deliveries (CloudFormation, EventBridge) are AWS's own retries
		}
		seen[rec.Service+" "+rec.Operation] = true
	}
	ops := make([]string, 0, len(seen))
	for k := range seen {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// outcome of one matrix case, for the artifact.
type outcome struct {
	c      matrixCase
	hits   int
	create string
	after  string
	ok     bool
	note   string
}

// TestFaultMatrix injects, into each operation the workflows call, (a) throttling twice, (b) one
// 5xx and (c) the operation's most likely named exception, then runs Create and (if it
// succeeded) Delete. Every run must end with exactly one answer per request, a FAILED answer must
// carry a reason, and no cluster may remain after the Delete (or the rollback Delete of a failed
// Create). Throttling and a single 5xx must be absorbed (SUCCESS). The matrix is written as
// fault-matrix.txt to $STRONGROOM_ARTIFACTS (or the test's temp dir).
//
// By default one named exception per service and every throttle/5xx of CloudHSM run;
// STRONGROOM_FULL_FAULT_MATRIX=1 runs every operation x fault.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix drives dozens of cluster lifecycles; run without -short")
	}
	ops := workflowOperations(t)
	t.Logf("operations the workflows call: %s", strings.Join(ops, ", "))
	full := os.Getenv("STRONGROOM_FULL_FAULT_MATRIX") != ""
	var cases []matrixCase
	for _, op := range ops {
		svc, name, _ := strings.Cut(op, " ")
		le, ok := likelyError[op]
		if !ok || le.code == "" {
			t.Errorf("operation %s has no likely named exception in likelyError: add one", op)
			continue
		}
		for _, c := range []matrixCase{
			{svc, name, sandbox.FaultThrottle, ""},
			{svc, name, sandbox.FaultInternal, ""},
			{svc, name, sandbox.FaultError, le.code},
		} {
			if full || representative(c) {
				cases = append(cases, c)
			}
		}
	}
	results := make([]outcome, len(cases))
	inParallel(t, len(cases), func(i int) string { return strings.ReplaceAll(cases[i].name(), " ", "_") }, func(t *testing.T, i int) {
		results[i] = runFaultCase(t, cases[i])
	})

	var b strings.Builder
	fmt.Fprintf(&b, "Custom::CloudHsmCluster fault matrix (%d cases; full=%v; sandbox scale %d)\n", len(cases), full, scale)
	fmt.Fprintf(&b, "operation x fault (hits) -> create answer | after (delete or rollback) | check\n")
	counts := map[string]int{}
	for _, o := range results {
		check := "ok"
		if !o.ok {
			check = "FAIL " + o.note
		}
		fmt.Fprintf(&b, "%-40s %-34s (%d) -> %s | %s | %s\n", o.c.service+" "+o.c.op, faultLabel(o.c), o.hits, o.create, o.after, check)
		switch {
		case strings.HasPrefix(o.create, cloudformation.StatusSuccess):
			counts["SUCCESS"]++
		case strings.HasPrefix(o.create, cloudformation.StatusFailed):
			counts["FAILED"]++
		}
		if !o.ok {
			counts["check failed"]++
		}
	}
	fmt.Fprintf(&b, "totals: %d cases, %d create SUCCESS (then deleted), %d create FAILED (then rolled back), %d checks failed\n",
		len(cases), counts["SUCCESS"], counts["FAILED"], counts["check failed"])
	t.Log("\n" + b.String())
	writeArtifact(t, "fault-matrix.txt", b.String())
}

func faultLabel(c matrixCase) string {
	switch c.kind {
	case sandbox.FaultThrottle:
		return "throttle x2"
	case sandbox.FaultInternal:
		return "5xx x1"
	}
	return c.code + " x1"
}

// representative picks the default run: every named exception (the paths that change the
// outcome) and throttling/5xx on CloudHSM and the Lambda invocations (the busiest paths).
func representative(c matrixCase) bool {
	return c.kind == sandbox.FaultError || c.service == "cloudhsmv2" || c.service == "lambda"
}

// parallelCases bounds how many lifecycles run at once. They spend nearly all their time
// waiting on the sandbox clock (a whole matrix uses about 30 s of CPU), so more than
// GOMAXPROCS run well; t.Parallel would cap them at -test.parallel (GOMAXPROCS, 2 here).
const parallelCases = 10

// inParallel runs n subtests, parallelCases at a time, from goroutines (t.Run may be called
// concurrently) and returns when all have finished.
func inParallel(t *testing.T, n int, name func(int) string, run func(*testing.T, int)) {
	sem := make(chan struct{}, parallelCases)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(name(i), func(t *testing.T) { run(t, i) })
		}()
	}
	wg.Wait()
}

func runFaultCase(t *testing.T, c matrixCase) outcome {
	o := outcome{c: c}
	r := newRig(t, clustertest.Options{})
	count := 1
	if c.kind == sandbox.FaultThrottle {
		count = 2
	}
	if _, err := r.env.Faults.Add(sandbox.Fault{Service: c.service, Operation: c.op, Kind: c.kind, Code: c.code,
		Message: "injected " + c.code, Count: count}); err != nil {
		t.Fatal(err)
	}
	fail := func(format string, args ...any) {
		o.note = fmt.Sprintf(format, args...)
		t.Error(o.note)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 90*time.Second)
	defer cancel()
	props := clustertest.Properties(2)
	out, err := r.dep.Create(ctx, "Cluster", props)
	if err != nil {
		fail("create did not finish: %v", err)
		return o
	}
	o.create = out.Status
	var requests []string
	requests = append(requests, out.Event.RequestID)
	if out.Status == cloudformation.StatusSuccess {
		del, err := r.dep.Delete(ctx, "Cluster", out.PhysicalResourceID, props)
		if err != nil {
			fail("delete did not finish: %v", err)
			return o
		}
		requests = append(requests, del.Event.RequestID)
		o.after = "delete " + del.Status
		if del.Status != cloudformation.StatusSuccess {
			o.after += ": " + clustertest.Reason(del.Reason, 160)
		}
	} else {
		o.create += ": " + clustertest.Reason(strings.TrimPrefix(out.Reason, "Received response status [FAILED] from custom resource. Message returned: "), 160)
		if out.Reason == "" {
			fail("FAILED without a reason")
		}
		if out.TimedOut {
			fail("create got no answer before ServiceTimeout")
		}
		if out.Rollback == nil {
			fail("no rollback delete")
		} else {
			requests = append(requests, out.Rollback.Event.RequestID)
			o.after = "rollback delete " + out.Rollback.Status
		}
	}
	for _, f := range r.env.Faults.List() {
		o.hits += f.Hits
	}
	// Let late answers (a safety net firing after a workflow ended) arrive before counting.
	_ = r.env.Lambda.WaitIdle(ctx)
	r.env.Faults.Clear()
	for _, id := range requests {
		if n := len(r.env.CloudFormation.Answers(id)); n != 1 {
			fail("request %s was answered %d times", id, n)
		}
	}
	if !strings.HasSuffix(o.after, "SUCCESS") {
		fail("the cluster was not removed: %s", o.after)
	}
	if live := r.liveClusters(t); len(live) != 0 {
		fail("%d clusters remain", len(live))
	}
	if c.kind != sandbox.FaultError && out.Status != cloudformation.StatusSuccess {
		fail("a %s fault was not absorbed by retries", c.kind)
	}
	if leaks := r.env.SecretLeaks(); len(leaks) > 0 {
		fail("secret leak: %s", leaks[0])
	}
	if o.hits == 0 {
		o.note = "fault never hit"
	}
	o.ok = o.note == "" || o.note == "fault never hit"
	return o
}

// TestSafetyNetAnswersWhenTheWorkflowCannot refuses the workflow's own two answers (AnswerSuccess,
// then the catch-all AnswerFailure) with AccessDenied, so the execution ends FAILED without having
// answered. The safety net (EventBridge rule on the execution's status change) must then answer
// FAILED, once, naming the cluster so the rollback Delete removes it.
func TestSafetyNetAnswersWhenTheWorkflowCannot(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	if _, err := r.env.Faults.Add(sandbox.Fault{Service: "s3", Operation: "PutObject", Kind: sandbox.FaultError,
		Code: "AccessDenied", Status: 403, Message: "Request has expired", Count: 2}); err != nil {
		t.Fatal(err)
	}
	out, err := r.dep.Create(r.ctx, "Cluster", clustertest.Properties(2))
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != cloudformation.StatusFailed || out.TimedOut {
		t.Fatalf("create = %s (timed out %v); want FAILED from the safety net", out.Status, out.TimedOut)
	}
	if !strings.Contains(out.Reason, "without answering") || !strings.HasPrefix(out.PhysicalResourceID, "cluster-") {
		t.Errorf("answer = %q for %q; want the safety net's reason and the cluster id", out.Reason, out.PhysicalResourceID)
	}
	if out.Rollback == nil || out.Rollback.Status != cloudformation.StatusSuccess {
		t.Fatalf("rollback = %+v; want SUCCESS", out.Rollback)
	}
	_ = r.env.Lambda.WaitIdle(r.ctx)
	if n := len(r.env.CloudFormation.Answers(out.Event.RequestID)); n != 1 {
		t.Errorf("create answered %d times; want once", n)
	}
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("%d clusters remain after the rollback", len(live))
	}
	t.Logf("safety net answer: %s", out.Reason)
}
