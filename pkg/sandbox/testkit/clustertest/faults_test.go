package clustertest_test

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// likelyError is, per operation the workflows call, the named exception a real deployment is
// most likely to meet there (from the operation's documented errors), with why.
var likelyError = map[string]struct{ code, why string }{
	"cloudhsmv2 CreateCluster":          {"CloudHsmAccessDeniedException", "the role lacks a permission CloudHSM needs"},
	"cloudhsmv2 CreateHsm":              {"CloudHsmInvalidRequestException", "the cluster is not ready for another HSM"},
	"cloudhsmv2 DeleteCluster":          {"CloudHsmInvalidRequestException", "an HSM still exists"},
	"cloudhsmv2 DeleteHsm":              {"CloudHsmResourceNotFoundException", "the HSM is already gone"},
	"cloudhsmv2 DescribeClusters":       {"CloudHsmServiceException", "a service-side refusal"},
	"cloudhsmv2 InitializeCluster":      {"CloudHsmInvalidRequestException", "the cluster is not UNINITIALIZED or the certificate is refused"},
	"cloudhsmv2 ModifyCluster":          {"CloudHsmInvalidRequestException", "the cluster is not in a state that accepts the change"},
	"cloudhsmv2 TagResource":            {"CloudHsmTagException", "a tag is refused (too many tags, a reserved key)"},
	"cloudhsmv2 UntagResource":          {"CloudHsmTagException", "a tag cannot be removed"},
	"ec2 AuthorizeSecurityGroupIngress": {"RulesPerSecurityGroupLimitExceeded", "the cluster's group already has as many rules as the quota allows"},
	"ec2 DescribeInstances":             {"InvalidInstanceID.NotFound", "the client instance is gone"},
	"ec2 DescribeSubnets":               {"InvalidSubnetID.NotFound", "a subnet is gone"},
	"kms DescribeCustomKeyStores":       {"AccessDeniedException", "the role cannot list the key stores"},
	"lambda Invoke":                     {"ResourceNotReadyException", "the function is not active yet"},
	"s3 PutObject":                      {"AccessDenied", "the pre-signed ResponseURL expired"},
	"secretsmanager CreateSecret":       {"ResourceExistsException", "a concurrent attempt created it"},
	"secretsmanager DescribeSecret":     {"AccessDeniedException", "the role cannot read the secret's metadata"},
	"secretsmanager GetRandomPassword":  {"InvalidRequestException", "a refused request"},
	"secretsmanager GetSecretValue":     {"DecryptionFailure", "the KMS key cannot decrypt the CA secret"},
	"ssm GetCommandInvocation":          {"InvocationDoesNotExist", "SSM does not know the invocation yet (eventual consistency)"},
	"ssm SendCommand":                   {"InvalidInstanceId", "the instance's SSM agent is offline"},
	"states StartExecution":             {"ExecutionLimitExceeded", "too many running executions"},
	"states DescribeExecution":          {"ExecutionDoesNotExist", "the execution is unknown"},
	"states GetExecutionHistory":        {"ExecutionDoesNotExist", "the execution is unknown"},
}

// TestFaultMatrix runs Create (2 HSMs) then Delete, and for each call site of that lifecycle (a
// function's calls of one operation in one request, from a baseline run's records) fails the
// site's first call in its request: with the operation's most likely named exception, and on the
// CloudHSM and Lambda sites with throttling twice or one 5xx (siteCases samples both by default). Every run must end with
// exactly one answer per request (rollbacks and a retried Delete included), a FAILED answer must
// carry a reason, no cluster may remain after the Delete (or the rollback Delete of a failed
// Create; a Delete answered FAILED is retried with the faults removed, as an operator would), no
// secret may show in what was recorded, throttling and a 5xx must be absorbed (every request
// SUCCESS), and the fault must have hit, and hit only, the calls of the site it names: a fault
// never hit fails its case. The table is written as fault-matrix.txt to $STRONGROOM_ARTIFACTS (or
// the test's temp dir).
//
// STRONGROOM_FULL_FAULT_MATRIX=1 runs throttling, a 5xx and the named exception at every site.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix drives dozens of cluster lifecycles; run without -short")
	}
	t.Parallel()
	faultMatrix{
		title:    "Custom::CloudHsmCluster fault matrix, Create and Delete",
		artifact: "fault-matrix.txt",
		phases: []lifePhase{
			{name: "Create", kind: cloudformation.RequestCreate, hsms: 2, target: true},
			{name: "Delete", kind: cloudformation.RequestDelete, target: true},
		},
		cases: func(phase string, sites []sandbox.CallSite, full bool) []siteCase {
			return siteCases(t, phase, sites, full, func(s sandbox.CallSite) (named, transient bool) {
				return true, s.Service == "cloudhsmv2" || s.Service == "lambda"
			})
		},
	}.run(t)
}

// siteCases makes a phase's cases. For each site, as choose says: the operation's likely named
// exception once, and a transient fault, throttling twice or one 5xx, sampled as
// stacktest.SampleFaults says. choose nil, or full, gives every site the named exception and both
// transient faults.
func siteCases(t *testing.T, phase string, sites []sandbox.CallSite, full bool, choose func(sandbox.CallSite) (named, transient bool)) []siteCase {
	var wants []stacktest.SiteWant
	for _, s := range sites {
		if sandbox.IsInstancePrincipal(s.Function) {
			// The client instance's AWS CLI reads in the documents' scripts: the CLI retries them
			// itself with wall-clock backoff, which ssm's TestInstanceCallsCarryTheInstanceRole
			// proves; a missing secret there is keystoretest's TestDocumentMistakesFailWithTheToolsOwnError.
			continue
		}
		_, ok := likelyError[s.Service+" "+s.Operation]
		if !ok {
			t.Errorf("operation %s %s (called by %s) has no likely named exception in likelyError: add one", s.Service, s.Operation, s.Function)
		}
		w := stacktest.SiteWant{Site: s, Named: ok, Transient: true}
		if choose != nil && !full {
			named, transient := choose(s) // once per site: choose may remember what it saw
			w.Named, w.Transient = named && ok, transient
		}
		wants = append(wants, w)
	}
	var out []siteCase
	for _, f := range stacktest.SampleFaults(wants, full || choose == nil) {
		out = append(out, siteCase{phase: phase, site: f.Site, kind: f.Kind, code: likelyError[f.Site.Service+" "+f.Site.Operation].code, count: f.Count})
	}
	return out
}

// parallelCases bounds how many lifecycles the matrices run at once, all matrices together. They
// spend nearly all their time waiting on the sandbox clock and on the instance's scripts (run
// alone, the whole package uses about 320 s of CPU in about 9 minutes), so more than GOMAXPROCS
// run well; t.Parallel would cap them at -test.parallel (stacktest.Parallel here).
const parallelCases = 10

// lanes is the package's one pool of parallelCases slots.
var lanes = make(chan struct{}, parallelCases)

// inParallel runs n subtests, at most parallelCases at a time across the package, from goroutines
// (t.Run may be called concurrently) and returns when all have finished. They start in a fixed
// shuffled order, so that cases that reach the same CPU-heavy step (generating the customer CA's
// RSA key, say) at the same moment are not all side by side: on a loaded machine a function's wall
// time counts scale times against its state's TimeoutSeconds.
func inParallel(t *testing.T, n int, name func(int) string, run func(*testing.T, int)) {
	var wg sync.WaitGroup
	for _, i := range rand.New(rand.NewPCG(15, 14)).Perm(n) {
		lanes <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-lanes }()
			t.Run(name(i), func(t *testing.T) { run(t, i) })
		}()
	}
	wg.Wait()
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
