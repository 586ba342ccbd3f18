package stacktest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
)

// The grant matrix is the kits' half of issue 13's mutation proof (the other half,
// pkg/sandbox/iammutation, removes statements from cdk.out and runs the demo): each grant of a
// definition is removed alone (DeployOptions.Without), the kit's lifecycle runs, and the outcome is
// classified. A grant the lifecycle never needed shows as "no failure"; a refusal that did not
// fail the request, or a request answered twice or never, is a defect.

// InstanceFunction is the name GrantID uses for the client instance's role (the definition's
// Instance grants).
const InstanceFunction = "client-instance"

// GrantID names one grant of a definition: a function's grant (or InstanceFunction's) by its
// place in the function's Grants, from 0.
type GrantID struct {
	Function string
	Index    int
}

func (g GrantID) String() string { return fmt.Sprintf("%s#%d", g.Function, g.Index) }

// Grants lists every grant of def: the functions' in Functions order, then the instance's.
func Grants(def *resourcedef.Resource) []GrantID {
	var out []GrantID
	for _, f := range def.Functions() {
		for i := range f.Grants {
			out = append(out, GrantID{f.Name, i})
		}
	}
	for i := range def.Instance {
		out = append(out, GrantID{InstanceFunction, i})
	}
	return out
}

// Grant returns the grant id names.
func Grant(def *resourcedef.Resource, id GrantID) (resourcedef.Grant, bool) {
	grants := def.Instance
	if id.Function != InstanceFunction {
		grants = nil
		for _, f := range def.Functions() {
			if f.Name == id.Function {
				grants = f.Grants
			}
		}
	}
	if id.Index < 0 || id.Index >= len(grants) {
		return resourcedef.Grant{}, false
	}
	return grants[id.Index], true
}

// without returns grants less the one id names, when it is of function fn.
func without(grants []resourcedef.Grant, fn string, id *GrantID) []resourcedef.Grant {
	if id == nil || id.Function != fn || id.Index >= len(grants) {
		return grants
	}
	return slices.Delete(slices.Clone(grants), id.Index, id.Index+1)
}

// FullGrantMatrixVar, set to 1, makes a kit's grant matrix remove every grant; by default it
// removes the few its test names, to keep make test in its budget.
const FullGrantMatrixVar = "STRONGROOM_FULL_GRANT_MATRIX"

// FullGrantMatrix tells whether FullGrantMatrixVar asks for every grant.
func FullGrantMatrix() bool { return os.Getenv(FullGrantMatrixVar) == "1" }

// Grant matrix outcomes.
const (
	DeniedFailed        = "denied+FAILED"
	DeniedDeleteRefused = "denied+FAILED, delete refused (the cluster or store stays, as a DELETE_FAILED stack keeps it)"
	// DeniedUnanswered is a grant of the safety net's removed: the probe's request, whose workflow
	// could not answer, goes unanswered, and CloudFormation fails it when its timeout ends.
	DeniedUnanswered = "denied, the safety net's probe unanswered (CloudFormation fails it at its timeout)"
	// DeniedAnsweredTwice is a grant of the entry's removed: the lost start probe's request,
	// whose StartExecution answers were lost, is answered FAILED by the entry, which could not
	// ask whether the execution started, and again by the execution it did start.
	DeniedAnsweredTwice = "denied, the lost start probe answered twice (the entry's FAILED and its workflow's)"
	NoFailure           = "no failure"
)

// Run is what one lifecycle of a grant matrix did.
type Run struct {
	// Outcomes are every CloudFormation request the run sent (each with its Rollback).
	Outcomes []*cloudformation.Outcome
	// Failed are the workflows the run started itself that did not succeed (a key store's
	// rotation), described.
	Failed []string
	// Leftovers count what the run left that its delete should have removed.
	Leftovers int
	// Probes are requests sent to take a path the lifecycle does not (SafetyNetProbe), each
	// with the status it gets when every grant is there.
	Probes []Probe
}

// Probe is a request a lifecycle sends to take a path it cannot otherwise take, and the status
// CloudFormation gets for it when every grant is there.
type Probe struct {
	Outcome    *cloudformation.Outcome
	WantStatus string
	// Denied is the cell when one of the grant's actions was refused and the probe's answer is
	// off as DeniedOff says (probeUnanswered or probeAnsweredTwice): what that refusal does to
	// this probe. Any other off answer is a defect.
	Denied, DeniedOff string
}

// How a probe's answer can be off.
const (
	probeUnanswered    = "unanswered"
	probeAnsweredTwice = "answered twice"
)

// Succeeded tells whether every request of the run so far succeeded and nothing it started
// failed.
func (r *Run) Succeeded() bool {
	for _, o := range r.Outcomes {
		if o.Status != cloudformation.StatusSuccess {
			return false
		}
	}
	return len(r.Failed) == 0
}

// SafetyNetProbe sends a Delete of physicalID, a resource the lifecycle already deleted (so its
// workflow succeeds at once), while S3 refuses the workflow's two answers (AnswerSuccess, then the
// catch-all AnswerFailure), as TestSafetyNetAnswersWhenTheWorkflowCannot does: the execution ends
// FAILED without answering, and the safety net must answer FAILED. It adds the probe to the run.
// Only after a lifecycle that Succeeded, with nothing else running: the two refusals must meet
// the workflow's answers, and the safety net's third PutObject must pass.
func (r *Run) SafetyNetProbe(t testing.TB, d *Deployment, ctx context.Context, logicalID, physicalID string, props map[string]any) {
	t.Helper()
	if !r.Succeeded() {
		t.Fatal("SafetyNetProbe after a lifecycle that did not succeed: its refusals could meet another answer")
	}
	if _, err := d.SB.Faults.Add(sandbox.Fault{Service: "s3", Operation: "PutObject", Kind: sandbox.FaultError,
		Code: "AccessDenied", Status: 403, Message: "Request has expired", Count: 2}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Delete(ctx, logicalID, physicalID, props)
	if err != nil {
		t.Fatal(err)
	}
	r.Probes = append(r.Probes, Probe{Outcome: out, WantStatus: cloudformation.StatusFailed, Denied: DeniedUnanswered, DeniedOff: probeUnanswered})
}

// LostStartProbe sends a Delete of physicalID, a resource the lifecycle already deleted (so its
// workflow succeeds at once), while the entry function's first StartExecution takes effect and
// its answer is lost (sandbox.FaultLostAnswer) and every later one is throttled (so no retry
// meets the execution and learns it exists), as pkg/customresource/entry_test.go's
// TestEntryFindsAStartWhoseAnswerWasLost does with a stand-in: the entry spends its start budget,
// then must find the execution it started (states:DescribeExecution) and leave the answer to it,
// SUCCESS once. It adds the probe to the run. Only after a lifecycle that Succeeded
// (SafetyNetProbe's reasons).
func (r *Run) LostStartProbe(t testing.TB, d *Deployment, ctx context.Context, logicalID, physicalID string, props map[string]any) {
	t.Helper()
	if !r.Succeeded() {
		t.Fatal("LostStartProbe after a lifecycle that did not succeed")
	}
	for _, f := range []sandbox.Fault{
		{Service: "states", Operation: "StartExecution", Caller: d.Def.Entry.Name, Kind: sandbox.FaultLostAnswer, Count: 1},
		{Service: "states", Operation: "StartExecution", Caller: d.Def.Entry.Name, Kind: sandbox.FaultThrottle},
	} {
		id, err := d.SB.Faults.Add(f)
		if err != nil {
			t.Fatal(err)
		}
		defer d.SB.Faults.Remove(id)
	}
	out, err := d.Delete(ctx, logicalID, physicalID, props)
	if err != nil {
		t.Fatal(err)
	}
	// Either answer can come first: wait for the entry's invocation and the Delete execution to
	// end, then count the answers that came after the first.
	for {
		if err := d.SB.Lambda.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		running, err := sfn.NewFromConfig(d.Cfg).ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(d.Machines["Delete"]), StatusFilter: sfntypes.ExecutionStatusRunning})
		if err != nil {
			t.Fatal(err)
		}
		if len(running.Executions) == 0 {
			break
		}
		if err := d.SB.Clock.Sleep(ctx, time.Second); err != nil {
			t.Fatalf("the lost start probe's Delete execution still running: %v", err)
		}
	}
	if err := d.SB.Lambda.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if answers := d.SB.CloudFormation.Answers(out.Event.RequestID); len(answers) > 1 {
		out.Duplicates = answers[1:]
	}
	r.Probes = append(r.Probes, Probe{Outcome: out, WantStatus: cloudformation.StatusSuccess, Denied: DeniedAnsweredTwice, DeniedOff: probeAnsweredTwice})
}

// Send sends one request of the lifecycle (f), adds its outcome, and tells whether it succeeded;
// t fails at once when the request could not be sent.
func (r *Run) Send(t testing.TB, f func() (*cloudformation.Outcome, error)) bool {
	t.Helper()
	out, err := f()
	if err != nil {
		t.Fatal(err)
	}
	r.Outcomes = append(r.Outcomes, out)
	return out.Status == cloudformation.StatusSuccess
}

// Classify classifies run with grant g removed, from decisions (what the sandbox judged). defect
// is set when the outcome breaks the contract: a refusal of one of g's actions that no request or
// workflow reported as failed, a request with no answer or more than one, leftovers though no
// delete was refused, or a failure with no refusal of g's actions.
func Classify(g resourcedef.Grant, decisions []sandbox.Decision, run Run) (cell string, defect bool) {
	var denied []string
	for _, d := range decisions {
		if !d.Allowed && slices.Contains(g.Actions, d.Action) && !slices.Contains(denied, d.Action) {
			denied = append(denied, d.Action)
		}
	}
	failed, deleteFailed := false, false
	var problems []string
	var walk func(o *cloudformation.Outcome)
	walk = func(o *cloudformation.Outcome) {
		if o == nil {
			return
		}
		switch {
		case o.TimedOut || o.Answer == nil:
			problems = append(problems, o.Event.RequestType+" unanswered")
		case len(o.Duplicates) > 0:
			problems = append(problems, fmt.Sprintf("%s answered %d extra times", o.Event.RequestType, len(o.Duplicates)))
		}
		if o.Status == cloudformation.StatusFailed {
			failed = true
			if o.Event.RequestType == "Delete" {
				deleteFailed = true
			}
		}
		walk(o.Rollback)
		walk(o.Cleanup)
	}
	for _, o := range run.Outcomes {
		walk(o)
	}
	if len(run.Failed) > 0 {
		failed = true
	}
	// A probe whose answer is off: the cell its refusal makes (Probe.Denied) when one of the
	// grant's actions was refused and the answer is off as that refusal makes it; else a defect.
	probeCell := ""
	for _, p := range run.Probes {
		o, off, kind := p.Outcome, "", ""
		switch {
		case o.TimedOut || o.Answer == nil:
			off, kind = "went unanswered", probeUnanswered
		case len(o.Duplicates) > 0:
			off, kind = fmt.Sprintf("was answered %d extra times", len(o.Duplicates)), probeAnsweredTwice
		case o.Status != p.WantStatus:
			off = fmt.Sprintf("answered %s, want %s: %s", o.Status, p.WantStatus, Reason(o.Reason, 200))
		}
		switch {
		case off == "":
		case kind == p.DeniedOff && len(denied) > 0:
			if probeCell == "" {
				probeCell = p.Denied
			}
		default:
			problems = append(problems, fmt.Sprintf("probe %s %s", o.Event.RequestType, off))
		}
	}
	leftovers := run.Leftovers
	switch {
	case len(problems) > 0:
		return "DEFECT: " + strings.Join(problems, "; "), true
	case probeCell != "":
		return probeCell + ": " + strings.Join(denied, ", "), false
	case len(denied) > 0 && !failed:
		return "DEFECT: denied " + strings.Join(denied, ", ") + " but every request and workflow succeeded", true
	case leftovers > 0 && !deleteFailed:
		return fmt.Sprintf("DEFECT: %d left behind with no delete refused", leftovers), true
	case len(denied) > 0 && deleteFailed && leftovers > 0:
		return DeniedDeleteRefused + ": " + strings.Join(denied, ", "), false
	case len(denied) > 0:
		return DeniedFailed + ": " + strings.Join(denied, ", "), false
	case failed:
		return "DEFECT: failed with no refusal of the grant's actions: " + strings.Join(append(failures(run.Outcomes), run.Failed...), "; "), true
	}
	return NoFailure, false
}

// Pick names a grant by a function and one of its grant's actions.
type Pick struct{ Function, Action string }

// find returns the GrantID of def the pick names.
func (p Pick) find(def *resourcedef.Resource) (GrantID, error) {
	for _, id := range Grants(def) {
		if g, _ := Grant(def, id); id.Function == p.Function && slices.Contains(g.Actions, p.Action) {
			return id, nil
		}
	}
	return GrantID{}, fmt.Errorf("no grant of %s holds %s in %s", p.Function, p.Action, def.Type)
}

// GrantMatrix runs a kit's grant matrix as parallel subtests of t: every grant of def with
// FullGrantMatrix, otherwise the picks, each of which must then be refused (not NoFailure). run
// deploys with the grant removed (DeployOptions.Without), takes the kit's lifecycle and returns
// what it did and the sandbox's decisions. A defect fails its subtest. The table goes to write
// (name, text) when the subtests end.
func GrantMatrix(t *testing.T, def *resourcedef.Resource, picks []Pick, name string, write func(t *testing.T, name, text string),
	run func(t *testing.T, id GrantID) (Run, []sandbox.Decision)) {
	ids := Grants(def)
	if !FullGrantMatrix() {
		ids = nil
		for _, p := range picks {
			id, err := p.find(def)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	cells := make([]string, len(ids))
	t.Cleanup(func() {
		var ran []string
		for _, c := range cells {
			if c != "" { // a case -run left out
				ran = append(ran, c)
			}
		}
		write(t, name, def.Type+" grants, each removed alone ("+t.Name()+")\n"+strings.Join(ran, "\n")+"\n")
	})
	for i, id := range ids {
		t.Run(id.String(), func(t *testing.T) {
			t.Parallel()
			g, _ := Grant(def, id)
			r, decisions := run(t, id)
			cell, defect := Classify(g, decisions, r)
			cells[i] = fmt.Sprintf("%-28s %-70s %s", id, strings.Join(g.Actions, ","), cell)
			if defect {
				t.Error(cell)
			}
			if !FullGrantMatrix() && cell == NoFailure {
				t.Errorf("removing %s (%v) changed nothing; it must be refused", id, g.Actions)
			}
		})
	}
}

// failures describes the outcomes (and their rollbacks) that FAILED.
func failures(outcomes []*cloudformation.Outcome) []string {
	var out []string
	for _, o := range outcomes {
		for ; o != nil; o = o.Rollback {
			if o.Status == cloudformation.StatusFailed {
				out = append(out, o.Event.RequestType+" FAILED: "+Reason(o.Reason, 200))
			}
		}
	}
	return out
}
