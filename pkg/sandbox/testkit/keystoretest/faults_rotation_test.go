package keystoretest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// rotationErrors is, per operation the rotation's functions call, the named exception a real
// deployment is most likely to meet there.
var rotationErrors = map[string]string{
	"cloudhsmv2 DescribeClusters":      "CloudHsmAccessDeniedException",
	"kms DescribeCustomKeyStores":      "AccessDeniedException",
	"kms DisconnectCustomKeyStore":     "CustomKeyStoreInvalidStateException",
	"kms ConnectCustomKeyStore":        "CloudHsmClusterNotActiveException",
	"kms UpdateCustomKeyStore":         "CustomKeyStoreInvalidStateException",
	"secretsmanager DescribeSecret":    "InvalidParameterException",
	"secretsmanager GetRandomPassword": "InvalidParameterException",
	"secretsmanager GetSecretValue":    "DecryptionFailure",
	"secretsmanager PutSecretValue":    "EncryptionFailure",
	"secretsmanager CreateSecret":      "EncryptionFailure",
	"ssm SendCommand":                  "InvalidInstanceId",
	"ssm GetCommandInvocation":         "InvocationDoesNotExist",
	"lambda Invoke":                    "ResourceNotReadyException",
}

// rotationLanes bounds how many rotation lifecycles run at once: few, since the key store tests
// run at scale 100 (a function's wall time counts 100 times against its state's TimeoutSeconds)
// and `make test` runs the cluster's matrices at the same time.
var rotationLanes = make(chan struct{}, 4)

// rotationCase is one fault aimed at one call site of the rotation.
type rotationCase struct {
	site  sandbox.CallSite
	kind  sandbox.FaultKind
	code  string
	count int
}

func (c rotationCase) fault() string {
	switch c.kind {
	case sandbox.FaultThrottle:
		return fmt.Sprintf("throttle x%d", c.count)
	case sandbox.FaultInternal:
		return fmt.Sprintf("5xx x%d", c.count)
	}
	return fmt.Sprintf("%s x%d", c.code, c.count)
}

// rotationRun is one run of create, rotate, delete.
type rotationRun struct {
	cells, problems []string
	status, cause   string
	// from and to are the rotation's records.
	from, to int
}

func (l *rotationRun) problem(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// settle waits until no execution runs and no asynchronous invocation is queued or running.
func (r *rig) settle(ctx context.Context) {
	for quiet := 0; quiet < 2 && ctx.Err() == nil; {
		_ = r.env.Lambda.WaitIdle(ctx)
		if r.env.RunningExecutions() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rotationLife creates a key store (deleted with the stack), rotates its kmsuser password with
// arm run first, and deletes it. The rotation must end (SUCCEEDED, or FAILED with a cause) and
// leave the store CONNECTED, or connecting on its own, with the password KMS holds working on the
// HSM; the delete must remove the store and kmsuser; every request is answered once and no secret
// shows in what was recorded.
func (r *rig) rotationLife(t *testing.T, arm func(), beforeClear func()) *rotationRun {
	l := &rotationRun{}
	ctx := r.ctx
	props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-rotation", true)
	out, err := r.dep.Create(ctx, "KeyStore", props)
	if err != nil || out.Status != cloudformation.StatusSuccess {
		l.problem("the create did not succeed: %v %+v", err, out)
		return l
	}
	id := out.PhysicalResourceID
	requests := []string{out.Event.RequestID}
	r.settle(ctx)
	l.from = r.env.Recorder.Count("", "")
	if arm != nil {
		arm()
	}
	l.status, _, l.cause, err = r.dep.Rotate(ctx, id, props)
	if err != nil {
		l.problem("the rotation did not end: %v", err)
	}
	r.settle(ctx)
	l.to = r.env.Recorder.Count("", "")
	if beforeClear != nil {
		beforeClear()
	}
	r.env.Faults.Clear()
	cell := "rotation " + l.status
	if l.status != "SUCCEEDED" && l.status != "FAILED" && l.status != "" {
		// TIMED_OUT is the workflow's TimeoutSeconds (55 minutes) ending a rotation that never
		// finished by itself: it hung, and nothing answered for it in the meantime.
		l.problem("the rotation ended %s: it did not finish by itself (the workflow's own timeout ended it)", l.status)
	}
	if l.status == "FAILED" {
		cell += ": " + stacktest.Reason(l.cause, 140)
		if l.cause == "" {
			l.problem("the rotation FAILED without a cause")
		}
	}
	// A failed rotation reconnects the store: it must reach CONNECTED, which KMS only reaches with
	// the kmsuser password the HSM has.
	state := r.waitConnected(ctx, t, id)
	cell += " | store " + state
	if state != string(kmstypes.ConnectionStateTypeConnected) {
		l.problem("after the rotation the store is %s; want CONNECTED (a failed rotation reconnects it)", state)
	}
	del, err := r.dep.Delete(ctx, "KeyStore", id, props)
	if err != nil {
		l.problem("the delete did not finish: %v", err)
	} else {
		requests = append(requests, del.Event.RequestID)
		cell += " | delete " + del.Status
		if del.Status != cloudformation.StatusSuccess {
			l.problem("the delete answered %s: %s", del.Status, del.Reason)
		}
	}
	r.settle(ctx)
	for _, req := range requests {
		if n := len(r.env.CloudFormation.Answers(req)); n != 1 {
			l.problem("request %s was answered %d times", req, n)
		}
	}
	if n := r.stores(t); n != 0 {
		l.problem("%d key stores remain after the delete", n)
	}
	if r.kmsUser(t) {
		l.problem("kmsuser remains on the cluster after the delete")
	}
	if leaks := r.env.SecretLeaks(); len(leaks) > 0 {
		l.problem("secret leak: %s", leaks[0])
	}
	l.cells = append(l.cells, cell)
	return l
}

// waitConnected waits (at most 30 minutes of sandbox time) for the store to leave CONNECTING and
// returns its state, with the connection error code when it failed.
func (r *rig) waitConnected(ctx context.Context, t *testing.T, id string) string {
	deadline := r.env.Clock.Now().Add(30 * time.Minute)
	for {
		s := r.store(t, id)
		if s == nil {
			return "gone"
		}
		state := string(s.ConnectionState)
		if s.ConnectionState != kmstypes.ConnectionStateTypeConnecting || r.env.Clock.Now().After(deadline) || ctx.Err() != nil {
			if s.ConnectionErrorCode != "" {
				state += " (" + string(s.ConnectionErrorCode) + ")"
			}
			return state
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRotationFaultMatrix rotates the kmsuser password of a key store (the
// keystore-rotate-password workflow, as the schedule starts it) with a fault aimed at each call
// site of the rotation (a function's calls of one operation, from a baseline rotation's records):
// the operation's likely named exception, and on the KMS and Lambda sites throttling twice or one
// 5xx, sampled as stacktest.SampleFaults says. The rotation must end by itself: SUCCEEDED under a transient fault, and
// otherwise SUCCEEDED or FAILED with a cause (not TIMED_OUT by the workflow's TimeoutSeconds); either way the store must end CONNECTED (which KMS reaches
// only with the password the HSM has), the stack's delete must then remove the store and kmsuser,
// every request is answered once, no secret leaks, and the fault must have hit, and hit only, the
// site it names. STRONGROOM_FULL_FAULT_MATRIX=1 runs every fault at every site. The table is
// fault-matrix-rotation.txt.
func TestRotationFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a key store lifecycle per case; run without -short")
	}
	t.Parallel()
	full := os.Getenv("STRONGROOM_FULL_FAULT_MATRIX") != ""
	may := stacktest.MayCall(resourcedef.KeyStore)
	def := resourcedef.KeyStore
	other := func(service, op string) string {
		switch {
		case service == "states" && op == "StartExecution":
			return def.Entry.Name
		case service == "states", service == "s3":
			return def.SafetyNet.Name
		}
		return ""
	}
	var base *rotationRun
	var records []sandbox.Record
	for try := 1; ; try++ {
		r := newRig(t, keystoretest.Options{}, 2)
		r.env.Recorder.Reset()
		base = r.rotationLife(t, nil, nil)
		if len(base.problems) == 0 && base.status == "SUCCEEDED" {
			records = r.env.Recorder.Records("", "")[base.from:base.to]
			break
		}
		msg := fmt.Sprintf("the baseline rotation failed its checks: %s %s", base.status, strings.Join(base.problems, "; "))
		if try == 3 {
			t.Fatal(msg)
		}
		t.Log(msg + "; trying again")
	}
	var wants []stacktest.SiteWant
	for _, s := range sandbox.CallSites(records, may) {
		if sandbox.IsInstancePrincipal(s.Function) {
			continue // the instance's AWS CLI retries its own calls (ssm's TestInstanceCallsCarryTheInstanceRole)
		}
		_, ok := rotationErrors[s.Service+" "+s.Operation]
		if !ok {
			t.Errorf("operation %s %s (called by %s) has no likely named exception in rotationErrors: add one", s.Service, s.Operation, s.Function)
		}
		wants = append(wants, stacktest.SiteWant{Site: s, Named: ok, Transient: full || s.Service == "kms" || s.Service == "lambda"})
	}
	var cases []rotationCase
	for _, f := range stacktest.SampleFaults(wants, full) {
		cases = append(cases, rotationCase{site: f.Site, kind: f.Kind, code: rotationErrors[f.Site.Service+" "+f.Site.Operation], count: f.Count})
	}
	type result struct {
		c        rotationCase
		hits     int
		run      *rotationRun
		problems []string
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rotationLanes <- struct{}{}
			defer func() { <-rotationLanes }()
			name := strings.NewReplacer(" ", "_").Replace(c.site.String() + "/" + c.fault())
			t.Run(name, func(t *testing.T) {
				r := newRig(t, keystoretest.Options{}, 2)
				rule, hits := 0, 0
				arm := func() {
					var err error
					rule, err = r.env.Faults.Add(sandbox.Fault{Service: c.site.Service, Operation: c.site.Operation, Kind: c.kind,
						Code: c.code, Message: "injected " + c.code, Count: c.count, When: r.env.Caller(c.site.Function, may, other)})
					if err != nil {
						t.Fatal(err)
					}
				}
				l := r.rotationLife(t, arm, func() {
					for _, f := range r.env.Faults.List() {
						if f.ID == rule {
							hits = f.Hits
						}
					}
				})
				problems := l.problems
				if c.kind != sandbox.FaultError && l.status != "SUCCEEDED" {
					problems = append(problems, fmt.Sprintf("a %s fault was not absorbed: the rotation ended %s: %s", c.fault(), l.status, stacktest.Reason(l.cause, 200)))
				}
				if hits == 0 {
					problems = append(problems, fmt.Sprintf("the fault (%s %s %s) was never hit", c.site.Service, c.site.Operation, c.fault()))
				} else {
					recs := r.env.Recorder.Records("", "")[l.from:l.to]
					callers := sandbox.Callers(recs, may)
					at, elsewhere := 0, map[string]int{}
					for _, rec := range recs {
						if rec.Injected == "" || rec.Service != c.site.Service || rec.Operation != c.site.Operation {
							continue
						}
						if callers[rec.Seq] == c.site.Function {
							at++
						} else {
							elsewhere[callers[rec.Seq]]++
						}
					}
					if at != hits || len(elsewhere) > 0 {
						problems = append(problems, fmt.Sprintf("the fault hit %d calls; %d of them at %s, others at %v", hits, at, c.site, elsewhere))
					}
				}
				for _, p := range problems {
					t.Errorf("%s, %s: %s", c.site, c.fault(), p)
				}
				results[i] = result{c: c, hits: hits, run: l, problems: problems}
			})
		}()
	}
	wg.Wait()
	var b strings.Builder
	fmt.Fprintf(&b, "Custom::CloudHsmKeyStore kmsuser password rotation fault matrix (%d cases; full=%v; sandbox scale %d)\n", len(cases), full, scale)
	fmt.Fprintf(&b, "function operation (baseline ordinal) | fault (hits) -> rotation | store after it | stack delete | check\n")
	failed := 0
	for _, o := range results {
		check := "ok"
		if len(o.problems) > 0 {
			failed++
			check = "FAIL " + strings.Join(o.problems, "; ")
		}
		cells := ""
		if o.run != nil {
			cells = strings.Join(o.run.cells, " | ")
		}
		fmt.Fprintf(&b, "%-60s %-44s (%d) -> %s | %s\n", fmt.Sprintf("%s (%d)", o.c.site, o.c.site.Skip), o.c.fault(), o.hits, cells, check)
	}
	fmt.Fprintf(&b, "totals: %d cases, %d failed their checks\n", len(cases), failed)
	t.Log("\n" + b.String())
	writeArtifact(t, "fault-matrix-rotation.txt", b.String())
}

// writeArtifact writes text as name to $STRONGROOM_ARTIFACTS (or the test's temp dir).
func writeArtifact(t *testing.T, name, text string) {
	t.Helper()
	dir := os.Getenv("STRONGROOM_ARTIFACTS")
	if dir == "" || os.MkdirAll(dir, 0o755) != nil {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Errorf("write %s: %v", p, err)
		return
	}
	t.Logf("wrote %s", p)
}
