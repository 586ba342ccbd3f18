package clustertest_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// The fault matrices aim each fault at a call site: one Lambda function's calls of one operation
// in one request of a lifecycle (the rows come from a baseline run's records, attributed to the
// functions by sandbox.CallSites). A rule's Skip alone cannot reach a site reliably: how many
// times the workflows poll DescribeClusters (and so invoke cluster-describe) before a state
// changes depends on how long each function ran on the wall clock, which the sandbox clock
// multiplies (two baseline Creates polled 10+18+15 and 10+16+13 times), and the ordinal of every
// later DescribeClusters and lambda Invoke moves with it. So each rule is armed when its request
// starts, with Fault.When from sandbox.Caller accepting only the site's function's calls, and
// Skip 0: it meets the site's first call in that request. After the run, the calls the rule hit
// are attributed again from the records, independently, and must all belong to the site.

// otherCaller names the function behind a call no running task makes: the entry starts
// executions, the safety net reads them and answers.
func otherCaller(def *resourcedef.Resource) func(service, op string) string {
	return func(service, op string) string {
		switch {
		case service == "states" && op == "StartExecution":
			return def.Entry.Name
		case service == "states", service == "s3":
			return def.SafetyNet.Name
		}
		return ""
	}
}

var (
	clusterMay   = stacktest.MayCall(resourcedef.Cluster)
	clusterOther = otherCaller(resourcedef.Cluster)
)

// lifePhase is one request of a lifecycle a fault matrix runs.
type lifePhase struct {
	name string
	kind string // cloudformation.RequestCreate, RequestUpdate or RequestDelete
	// hsms is the HsmCount a Create or Update asks for; extra are further properties it sets.
	hsms  int
	extra map[string]any
	// target says whether the phase's call sites are rows of the matrix.
	target bool
}

func (p lifePhase) props() map[string]any {
	props := clustertest.Properties(p.hsms)
	maps.Copy(props, p.extra)
	return props
}

// lifeRun is what happened in one run of a lifecycle.
type lifeRun struct {
	cells    []string // one per phase, for the table
	problems []string
	requests []string
	// bounds are each phase's records, [from, to) in the recorder, from its start until every
	// execution and invocation it caused had ended.
	bounds map[string][2]int
	// failed counts the requests answered FAILED (rollbacks included); firstFailure is the first
	// such answer's reason.
	failed       int
	firstFailure string
}

func (l *lifeRun) problem(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// answered checks one request's outcome as CloudFormation saw it and returns its cell text.
func (l *lifeRun) answered(what string, o *cloudformation.Outcome) string {
	if o == nil {
		l.problem("%s: no request was sent", what)
		return what + " not sent"
	}
	l.requests = append(l.requests, o.Event.RequestID)
	if o.TimedOut {
		l.problem("%s got no answer before the ServiceTimeout", what)
		return what + " TIMED OUT"
	}
	if o.Status == cloudformation.StatusSuccess {
		return what + " SUCCESS"
	}
	l.failed++
	reason := ""
	if o.Answer != nil && o.Answer.Response != nil {
		reason = o.Answer.Response.Reason
	}
	if reason == "" {
		l.problem("%s answered FAILED without a reason (%s)", what, o.Reason)
	}
	if l.firstFailure == "" {
		l.firstFailure = reason
	}
	return what + " FAILED: " + stacktest.Reason(reason, 140)
}

// settle waits until no execution runs and no asynchronous invocation is queued or running
// (a safety net is invoked a moment after an execution ends, so quiet is checked twice).
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

// clusterState is what the tests check of a cluster after an Update: its HSMs, its backup
// retention and its tags.
type clusterState struct {
	hsms, active int
	retention    string
	tags         map[string]string
}

func (r *rig) clusterState(ctx context.Context, id string) (clusterState, error) {
	var st clusterState
	out, err := r.hsm.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		return st, err
	}
	if len(out.Clusters) != 1 {
		return st, fmt.Errorf("describe cluster %s: %d clusters", id, len(out.Clusters))
	}
	c := out.Clusters[0]
	for _, h := range c.Hsms {
		st.hsms++
		if h.State == types.HsmStateActive {
			st.active++
		}
	}
	if c.BackupRetentionPolicy != nil {
		st.retention = aws.ToString(c.BackupRetentionPolicy.Value)
	}
	st.tags = map[string]string{}
	for _, tg := range c.TagList {
		st.tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return st, nil
}

// checkCluster says how the cluster differs from what the properties in force ask for: HsmCount
// HSMs, all ACTIVE, BackupRetentionDays (default hsmcluster.DefaultBackupDays) and each of Tags;
// a tag only other (the properties before or after) set must be absent.
func (r *rig) checkCluster(ctx context.Context, id string, props, other map[string]any) []string {
	st, err := r.clusterState(ctx, id)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	want := props["HsmCount"]
	if fmt.Sprint(st.hsms) != want || fmt.Sprint(st.active) != want {
		problems = append(problems, fmt.Sprintf("%d HSMs (%d ACTIVE); want %v", st.hsms, st.active, want))
	}
	retention := fmt.Sprint(hsmcluster.DefaultBackupDays)
	if v, ok := props["BackupRetentionDays"]; ok {
		retention = fmt.Sprint(v)
	}
	if st.retention != retention {
		problems = append(problems, fmt.Sprintf("backup retention %s days; want %s", st.retention, retention))
	}
	tags, _ := props["Tags"].(map[string]any)
	for k, v := range tags {
		if st.tags[k] != fmt.Sprint(v) {
			problems = append(problems, fmt.Sprintf("tag %s = %q; want %q", k, st.tags[k], v))
		}
	}
	otherTags, _ := other["Tags"].(map[string]any)
	for k := range otherTags {
		if _, kept := tags[k]; !kept {
			if v, ok := st.tags[k]; ok {
				problems = append(problems, fmt.Sprintf("tag %s = %q remains; the properties in force do not set it", k, v))
			}
		}
	}
	return problems
}

// runLife sends the phases' requests in order through the CloudFormation driver. arm, when set,
// runs at the start of each phase. A failed Create ends the lifecycle (the driver sent its
// rollback Delete); a failed Update is rolled back by the driver and skips the later Updates; a
// Delete answered FAILED is retried, with every fault removed, as an operator would. limit, when
// set and positive for a phase, is the sandbox time its request must be answered in. At the end every fault is
// removed and every request must have been answered exactly once, no cluster may remain and no
// secret may show in what was recorded. beforeClear, when set, runs before any fault rule is
// removed (to read a rule's hits).
func (r *rig) runLife(ctx context.Context, phases []lifePhase, limit func(lifePhase) time.Duration, arm func(lifePhase), beforeClear func()) *lifeRun {
	l := &lifeRun{bounds: map[string][2]int{}}
	clearFaults := func() {
		if beforeClear != nil {
			beforeClear()
		}
		r.env.Faults.Clear()
	}
	var id string
	var props map[string]any
	gone, stopped := false, false
	send := func(p lifePhase, do func(context.Context) (*cloudformation.Outcome, error)) (*cloudformation.Outcome, bool) {
		sent := r.env.Clock.Now()
		out, err := do(ctx)
		if err != nil {
			l.problem("%s did not finish: %v", p.name, err)
			return nil, false
		}
		if bound := limit(p); bound > 0 && out.Answer != nil {
			if took := out.Answer.At.Sub(sent); took > bound {
				l.problem("%s was answered after %v of sandbox time; want within %v (the ServiceTimeout is %v)",
					p.name, took.Round(time.Second), bound, r.dep.Def.ServiceTimeout)
			}
		}
		return out, true
	}
	if limit == nil {
		limit = func(lifePhase) time.Duration { return 0 }
	}
	for _, p := range phases {
		if (gone && p.kind != cloudformation.RequestCreate) || (stopped && p.kind == cloudformation.RequestUpdate) || ctx.Err() != nil {
			l.cells = append(l.cells, p.name+" -")
			continue
		}
		from := r.env.Recorder.Count("", "")
		if arm != nil {
			arm(p)
		}
		var cell string
		switch p.kind {
		case cloudformation.RequestCreate:
			next := p.props()
			out, ok := send(p, func(c context.Context) (*cloudformation.Outcome, error) { return r.dep.Create(c, "Cluster", next) })
			if !ok {
				cell, gone = p.name+" NO ANSWER", true
				break
			}
			cell = l.answered(p.name, out)
			if out.Status == cloudformation.StatusSuccess {
				id, props = out.PhysicalResourceID, next
				break
			}
			gone = true
			if out.Rollback == nil {
				l.problem("%s failed and was not rolled back", p.name)
				break
			}
			cell += " | " + l.answered("rollback delete", out.Rollback)
			if out.Rollback.Status != cloudformation.StatusSuccess {
				l.problem("the rollback delete of the failed %s answered %s", p.name, out.Rollback.Status)
			}
		case cloudformation.RequestUpdate:
			next := p.props()
			out, ok := send(p, func(c context.Context) (*cloudformation.Outcome, error) {
				return r.dep.Update(c, "Cluster", id, props, next)
			})
			if !ok {
				cell, stopped = p.name+" NO ANSWER", true
				break
			}
			cell = l.answered(p.name, out)
			inForce, other := next, props
			if out.Status == cloudformation.StatusSuccess {
				props = next
			} else {
				stopped, inForce, other = true, props, next
				if out.Rollback == nil {
					l.problem("%s failed and was not rolled back", p.name)
				} else {
					cell += " | " + l.answered("rollback update", out.Rollback)
					if out.Rollback.Status != cloudformation.StatusSuccess {
						l.problem("the rollback of the failed %s answered %s", p.name, out.Rollback.Status)
					}
				}
			}
			r.settle(ctx)
			for _, d := range r.checkCluster(ctx, id, inForce, other) {
				l.problem("after %s the cluster has %s", p.name, d)
			}
		case cloudformation.RequestDelete:
			out, ok := send(p, func(c context.Context) (*cloudformation.Outcome, error) { return r.dep.Delete(c, "Cluster", id, props) })
			if ok {
				cell = l.answered(p.name, out)
			} else {
				cell = p.name + " NO ANSWER"
			}
			if !ok || out.Status != cloudformation.StatusSuccess {
				// CloudFormation leaves the stack DELETE_FAILED; the operator deletes again.
				r.settle(ctx)
				clearFaults()
				again, err := r.dep.Delete(ctx, "Cluster", id, props)
				if err != nil {
					l.problem("the retried delete did not finish: %v", err)
				} else {
					cell += " | " + l.answered("retried delete", again)
					if again.Status != cloudformation.StatusSuccess {
						l.problem("the retried delete answered %s", again.Status)
					}
				}
			}
			gone = true
		}
		r.settle(ctx)
		l.bounds[p.name] = [2]int{from, r.env.Recorder.Count("", "")}
		l.cells = append(l.cells, cell)
	}
	clearFaults()
	if !gone && id != "" && ctx.Err() == nil {
		l.problem("the lifecycle left cluster %s in place", id)
	}
	r.settle(ctx)
	for _, req := range l.requests {
		if n := len(r.env.CloudFormation.Answers(req)); n != 1 {
			l.problem("request %s was answered %d times", req, n)
		}
	}
	if out, err := r.hsm.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{}); err != nil {
		l.problem("describe clusters: %v", err)
	} else {
		for _, c := range out.Clusters {
			if c.State != types.ClusterStateDeleted {
				l.problem("cluster %s remains (%s)", aws.ToString(c.ClusterId), c.State)
			}
		}
	}
	if leaks := r.env.SecretLeaks(); len(leaks) > 0 {
		l.problem("secret leak: %s", leaks[0])
	}
	return l
}

// siteCase is one fault aimed at one call site.
type siteCase struct {
	phase string
	site  sandbox.CallSite
	kind  sandbox.FaultKind
	code  string
	// count is how many of the site's calls the rule fails (0: every one).
	count int
}

func (c siteCase) fault() string {
	label := c.code
	switch c.kind {
	case sandbox.FaultThrottle:
		label = "throttle"
	case sandbox.FaultInternal:
		label = "5xx"
	}
	if c.count == 0 {
		return label + " xN"
	}
	return fmt.Sprintf("%s x%d", label, c.count)
}

func (c siteCase) name() string {
	return strings.NewReplacer(" ", "_", ">", "", "/", "_").Replace(c.phase + "/" + c.site.String() + "/" + c.fault())
}

// faultMatrix describes one matrix: a lifecycle, the faults every run of it has (the baseline's
// included), which call sites become rows and with which faults, and what a case must show
// beyond the lifecycle's own checks.
type faultMatrix struct {
	title, artifact string
	phases          []lifePhase
	// within bounds the answer to the request a case's fault is armed in, in sandbox time (0: the
	// ServiceTimeout only).
	within time.Duration
	setup  func(r *rig) []sandbox.Fault
	// failsByDesign says the setup makes the lifecycle fail, so a transient fault's case may too.
	failsByDesign bool
	// cases returns the faults for the call sites of one phase (in baseline order).
	cases func(phase string, sites []sandbox.CallSite, full bool) []siteCase
	// expect adds the matrix's own checks of a case's run.
	expect func(r *rig, c siteCase, l *lifeRun) []string
}

// caseOutcome is one row of a matrix's table.
type caseOutcome struct {
	c        siteCase
	hits     int
	cells    []string
	problems []string
}

// newMatrixRig is newRig with a context long enough for a whole lifecycle on a loaded machine.
func newMatrixRig(t *testing.T, o clustertest.Options) *rig {
	r := newRig(t, o)
	r.ctx = sandboxtest.Context(t, 5*time.Minute)
	return r
}

// addSetup installs the matrix's setup faults on r and returns them.
func (m faultMatrix) addSetup(t *testing.T, r *rig) []sandbox.Fault {
	if m.setup == nil {
		return nil
	}
	faults := m.setup(r)
	for _, f := range faults {
		if _, err := r.env.Faults.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	return faults
}

// run runs the baseline, then every case in parallel, then writes the table.
func (m faultMatrix) run(t *testing.T) {
	full := os.Getenv("STRONGROOM_FULL_FAULT_MATRIX") != ""
	// The baseline must pass its checks; on a loaded machine a cold function can overrun its
	// state's TimeoutSeconds (wall time counts scale times), so it gets three tries.
	var base *rig
	var bl *lifeRun
	for try := 1; ; try++ {
		base = newMatrixRig(t, clustertest.Options{})
		base.env.Recorder.Reset()
		m.addSetup(t, base)
		bl = base.runLife(base.ctx, m.phases, nil, nil, nil)
		if len(bl.problems) == 0 {
			break
		}
		msg := fmt.Sprintf("the baseline run failed its checks: %s (%s)", strings.Join(bl.problems, "; "), strings.Join(bl.cells, " | "))
		if try == 3 {
			t.Fatal(msg)
		}
		t.Log(msg + "; trying again")
	}
	records := base.env.Recorder.Records("", "")
	var cases []siteCase
	for _, p := range m.phases {
		if !p.target {
			continue
		}
		b := bl.bounds[p.name]
		sites := sandbox.CallSites(records[b[0]:b[1]], clusterMay)
		cases = append(cases, m.cases(p.name, sites, full)...)
	}
	results := make([]caseOutcome, len(cases))
	inParallel(t, len(cases), func(i int) string { return cases[i].name() }, func(t *testing.T, i int) {
		results[i] = m.runCase(t, cases[i])
		for _, p := range results[i].problems {
			t.Errorf("%s %s, %s: %s", cases[i].phase, cases[i].site, cases[i].fault(), p)
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d cases; full=%v; sandbox scale %d)\n", m.title, len(cases), full, scale)
	fmt.Fprintf(&b, "request: function operation (baseline ordinal) | fault (hits) -> each request's answer | check\n")
	failed := 0
	for _, o := range results {
		check := "ok"
		if len(o.problems) > 0 {
			failed++
			check = "FAIL " + strings.Join(o.problems, "; ")
		}
		fmt.Fprintf(&b, "%-12s %-52s %-36s (%d) -> %s | %s\n", o.c.phase+":", fmt.Sprintf("%s (%d)", o.c.site, o.c.site.Skip),
			o.c.fault(), o.hits, strings.Join(o.cells, " | "), check)
	}
	fmt.Fprintf(&b, "totals: %d cases, %d failed their checks\n", len(cases), failed)
	t.Log("\n" + b.String())
	writeArtifact(t, m.artifact, b.String())
}

// runCase runs the lifecycle with the case's rule armed at the start of its request, and checks
// that the rule hit, and hit only, the site's calls.
func (m faultMatrix) runCase(t *testing.T, c siteCase) caseOutcome {
	o := caseOutcome{c: c}
	r := newMatrixRig(t, clustertest.Options{})
	if c.code == "ResourceExistsException" {
		// The injected answer says a secret exists that does not: the step then reads it by name,
		// and Secrets Manager authorizes a call on a missing secret on the name's bare ARN, which
		// the role (granted <name>-??????) is refused, as on AWS. On AWS the secret would exist.
		r.dep.ExpectDenials()
	}
	setup := m.addSetup(t, r)
	ruleID := 0
	arm := func(p lifePhase) {
		if p.name != c.phase {
			return
		}
		id, err := r.env.Faults.Add(sandbox.Fault{Service: c.site.Service, Operation: c.site.Operation, Kind: c.kind, Code: c.code,
			Message: "injected " + c.code, Status: statusOf(c.code), Count: c.count,
			When: r.env.Caller(c.site.Function, clusterMay, clusterOther)})
		if err != nil {
			t.Fatal(err)
		}
		ruleID = id
	}
	hits := 0
	limit := func(p lifePhase) time.Duration {
		if p.name == c.phase {
			return m.within
		}
		return 0
	}
	l := r.runLife(r.ctx, m.phases, limit, arm, func() {
		for _, f := range r.env.Faults.List() {
			if f.ID == ruleID {
				hits = f.Hits
			}
		}
	})
	o.hits, o.cells, o.problems = hits, l.cells, l.problems
	if ruleID == 0 {
		o.problems = append(o.problems, "the fault was never armed: its request was not sent")
		return o
	}
	if hits == 0 {
		o.problems = append(o.problems, fmt.Sprintf("the fault (%s %s %s) was never hit", c.site.Service, c.site.Operation, c.fault()))
	} else {
		b := l.bounds[c.phase]
		recs := r.env.Recorder.Records("", "")[b[0]:b[1]]
		callers := sandbox.Callers(recs, clusterMay)
		at, elsewhere := 0, map[string]int{}
		for _, rec := range recs {
			if rec.Injected == "" || rec.Service != c.site.Service || rec.Operation != c.site.Operation {
				continue
			}
			if callers[rec.Seq] == c.site.Function {
				at++
			} else if !setupHit(setup, rec) {
				elsewhere[callers[rec.Seq]]++
			}
		}
		if at < hits || len(elsewhere) > 0 {
			o.problems = append(o.problems, fmt.Sprintf("the fault hit %d calls; %d of them at %s, others at %v", hits, at, c.site, elsewhere))
		}
	}
	if c.kind != sandbox.FaultError && c.count > 0 && l.failed > 0 && !m.failsByDesign {
		o.problems = append(o.problems, fmt.Sprintf("a %s fault was not absorbed by retries: %s", c.fault(), stacktest.Reason(l.firstFailure, 200)))
	}
	if m.expect != nil {
		o.problems = append(o.problems, m.expect(r, c, l)...)
	}
	return o
}

// setupHit reports whether an injected record may be one of the setup faults' (which aim at
// other functions than any row's).
func setupHit(setup []sandbox.Fault, rec sandbox.Record) bool {
	for _, f := range setup {
		if f.Service == rec.Service && (f.Operation == "" || f.Operation == "*" || f.Operation == rec.Operation) {
			return true
		}
	}
	return false
}

// statusOf is the HTTP status a named exception is sent with.
func statusOf(code string) int {
	if code == "AccessDenied" {
		return 403
	}
	return 0
}
