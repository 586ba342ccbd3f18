package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
)

// clusterStack is the cluster stack's name in cdk.out.
const clusterStack = "StrongroomCluster"

// clusterResourceType is the custom resource the cluster stack declares.
const clusterResourceType = "Custom::CloudHsmCluster"

// watchInterval is how often (wall time) the watcher polls execution histories and
// DescribeClusters while a workflow runs.
const watchInterval = 25 * time.Millisecond

// cluster deploys the cluster stack, whose custom resource's Create runs the whole workflow, then
// scales it up by one HSM (2 -> 3 with the stack's default) and deletes it, printing each state as
// it happens.
func (d *demo) cluster(ctx context.Context) (string, error) {
	p := d.p
	p.heading("3. CloudHSM cluster: Custom::CloudHsmCluster -> Step Functions -> Lambda steps")
	template := d.template(clusterStack)
	if _, err := os.Stat(template); err != nil {
		p.line("skipped: cdk.out has no %s (%s): the CDK app does not declare it, or cdk.out predates it (make synth)", clusterStack, filepath.Base(template))
		return "cdk.out has no " + clusterStack + " stack, so there is nothing to deploy", errSkipped
	}

	// The key store's alerts are shown as the e-mails they become.
	if err := d.alertsFirst(ctx, "the cluster and key store stacks import "+alertsStack+"'s alarm topic and alert relay"); err != nil {
		return "", err
	}

	w := newWatcher(d)
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.run(wctx) }()
	stop := func() {
		w.poll(ctx) // a last look, so the final states are printed before the outcome
		stopWatch()
		<-done
	}

	defer func() { d.deploy.Progress = nil }()
	dep, err := d.deployWatched(ctx, w, clusterStack, clusterResourceType, "Create",
		" (functions are the real lambdas/* binaries; state machines are statemachines/*.asl.json as synthesized)")
	if err == nil {
		err = d.testAlarms(ctx)
	}
	if err != nil {
		stop()
		return "", err
	}
	log, st, id, created := dep.log, dep.st, dep.id, dep.created
	clusterID := created.PhysicalResourceID
	hsms, err := w.activeHsms(ctx, clusterID)
	if err != nil {
		stop()
		return "", err
	}
	p.line("cluster %s is ACTIVE with %d HSMs in %s", clusterID, len(hsms), strings.Join(hsms, ", "))
	// The activation reached the HSMs from the client instance: the VPC's flow logs saw it.
	if err := d.checkFlowLogs(ctx, clusterID); err != nil {
		stop()
		return "", err
	}

	// The key store needs what the cluster has now: ACTIVE, with two ACTIVE HSMs in two zones.
	keyStore, err := d.keyStore(ctx, w, clusterID)
	if err != nil {
		stop()
		return "", fmt.Errorf("key store: %w", err)
	}
	p.heading("3d. CloudHSM cluster " + clusterID + ": scale up, then delete")

	// Scale up by one HSM from what the stack asked for (2 by default).
	asked := humanValue(created.Event.ResourceProperties["HsmCount"])
	from, err := strconv.Atoi(asked)
	if err != nil || from != len(hsms) {
		stop()
		return "", fmt.Errorf("the stack asked for HsmCount %s and the cluster has %d ACTIVE HSMs", asked, len(hsms))
	}
	to := from + 1
	set := map[string]any{"HsmCount": to}
	scale := "Update " + log.setChange(created.Event.ResourceProperties, set)
	d.deploy.Progress = log.progress
	updated, err := d.deploy.Update(ctx, st, id, set)
	w.poll(ctx)
	if err != nil {
		stop()
		return "", fmt.Errorf("%s: %w", scale, err)
	}
	printOutcome(d, scale, updated)
	if updated.Status != "SUCCESS" {
		stop()
		return "", fmt.Errorf("%s answered %s: %s", scale, updated.Status, updated.Reason)
	}
	if hsms, err = w.activeHsms(ctx, clusterID); err != nil {
		stop()
		return "", err
	}
	if len(hsms) != to {
		stop()
		return "", fmt.Errorf("after the update the cluster has %d ACTIVE HSMs; want %d", len(hsms), to)
	}
	p.line("cluster %s is ACTIVE with %d HSMs in %s", clusterID, to, strings.Join(hsms, ", "))
	if err := d.clusterHealth(ctx, st); err != nil {
		stop()
		return "", err
	}
	if err := d.refusedModeChange(ctx, w, dep, clusterID, to); err != nil {
		stop()
		return "", err
	}

	outs, err := d.deploy.Destroy(ctx, st)
	stop()
	for _, o := range outs {
		printOutcome(d, "Delete", o)
	}
	if err != nil {
		return "", fmt.Errorf("delete %s: %w", clusterStack, err)
	}
	out, err := cloudhsmv2.NewFromConfig(d.aws).DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{})
	if err != nil {
		return "", fmt.Errorf("describe clusters after the delete: %w", err)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.ClusterId) == clusterID && (c.State != "DELETED" || len(c.Hsms) > 0) {
			return "", fmt.Errorf("after the delete cluster %s is %s with %d HSMs; want DELETED with none", clusterID, c.State, len(c.Hsms))
		}
	}
	caSecret, _ := created.Data["CustomerCaCertificateSecretArn"].(string)
	ca, err := sm.NewFromConfig(d.aws).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(caSecret)})
	if err != nil {
		return "", fmt.Errorf("the customer CA certificate secret %q should outlive the cluster: %w", caSecret, err)
	}
	if ca.DeletedDate != nil {
		return "", fmt.Errorf("the customer CA certificate secret %s is scheduled for deletion; it must be kept", caSecret)
	}
	p.line("cluster %s is DELETED; the customer CA secret %s is kept (a backup can only be restored with it)", clusterID, aws.ToString(ca.Name))
	w.mu.Lock()
	slowest := w.slowest
	w.mu.Unlock()
	return fmt.Sprintf("cluster %s: Create (%d HSMs), Update (%d HSMs), a Mode change refused and e-mailed, Delete answered SUCCESS; %s; %d workflow executions, %d states entered, slowest Lambda step %s of sandbox time",
		clusterID, from, to, keyStore, w.executions(), w.statesEntered(), round(slowest)), nil
}

// printOutcome prints what the custom resource answered CloudFormation.
func printOutcome(d *demo, what string, o *cloudformation.Outcome) {
	p := d.p
	if o == nil {
		p.line("%s: no outcome", what)
		return
	}
	if o.Status != "SUCCESS" {
		p.line("%s answered %s: %s", what, o.Status, o.Reason)
		return
	}
	p.line("%s answered SUCCESS, PhysicalResourceId %s", what, o.PhysicalResourceID)
	keys := make([]string, 0, len(o.Data))
	for k := range o.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.plain("      Data.%-32s %s", k, humanValue(o.Data[k]))
	}
}

// watcher prints each state entered by every workflow execution of the cluster and key store
// stacks, each cluster and HSM state change and each key store ConnectionState change, by polling
// GetExecutionHistory, DescribeClusters and DescribeCustomKeyStores (real SDK clients) on a ticker.
type watcher struct {
	d    *demo
	sfn  *sfn.Client
	hsm  *cloudhsmv2.Client
	kms  *kms.Client
	mu   sync.Mutex
	seen map[string]*execSeen // by execution ARN
	// clusters, HSMs and key stores: last state printed, by id
	states  map[string]string
	hsms    map[string][]string // HSM ids ever seen, by cluster id
	entered int
	// slowest is the longest Task (Lambda step) in sandbox time: a scale so high that a step's
	// wall time exceeds its TimeoutSeconds would fail the workflow with States.Timeout.
	slowest time.Duration
}

// execSeen is how far an execution's history has been printed. Poll loops (a Task, then Choice and
// Wait states, then the Task again) print once, with a count when the loop moves on.
type execSeen struct {
	name    string
	events  int
	last    string // last Task state printed
	repeats int
	done    bool
	// scheduled is when the running Task was scheduled, for the slowest-step figure.
	scheduled time.Time
}

func newWatcher(d *demo) *watcher {
	return &watcher{d: d, sfn: sfn.NewFromConfig(d.aws), hsm: cloudhsmv2.NewFromConfig(d.aws), kms: kms.NewFromConfig(d.aws),
		seen: map[string]*execSeen{}, states: map[string]string{}, hsms: map[string][]string{}}
}

func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.poll(ctx)
		}
	}
}

func (w *watcher) executions() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func (w *watcher) statesEntered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.entered
}

// poll prints what changed since the last poll. Errors are not fatal here (the workflow's own
// outcome decides the section); they are printed once per kind.
func (w *watcher) poll(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	w.pollClusters(ctx)
	w.pollKeyStores(ctx)
	w.pollExecutions(ctx)
}

func (w *watcher) pollClusters(ctx context.Context) {
	out, err := w.hsm.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{})
	if err != nil {
		return
	}
	p := w.d.p
	for _, c := range out.Clusters {
		id := aws.ToString(c.ClusterId)
		if s := string(c.State); w.states[id] != s {
			p.line("  cluster %s: %s", id, transition(w.states[id], s))
			w.states[id] = s
		}
		present := map[string]bool{}
		for _, h := range c.Hsms {
			hid := aws.ToString(h.HsmId)
			present[hid] = true
			if s := string(h.State); w.states[hid] != s {
				p.line("  HSM %s (%s, %s): %s", hid, aws.ToString(h.AvailabilityZone), aws.ToString(h.EniIp), transition(w.states[hid], s))
				w.states[hid] = s
			}
		}
		// A deleted HSM leaves the cluster's list rather than showing DELETED for long.
		for _, hid := range w.hsms[id] {
			if !present[hid] && w.states[hid] != "removed" {
				p.line("  HSM %s: %s", hid, transition(w.states[hid], "removed"))
				w.states[hid] = "removed"
			}
		}
		for hid := range present {
			if !slices.Contains(w.hsms[id], hid) {
				w.hsms[id] = append(w.hsms[id], hid)
			}
		}
	}
}

func transition(from, to string) string {
	if from == "" {
		return to
	}
	return from + " -> " + to
}

func (w *watcher) pollExecutions(ctx context.Context) {
	machines, err := w.sfn.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		return
	}
	for _, m := range machines.StateMachines {
		if !strings.HasPrefix(aws.ToString(m.Name), clusterStack+"-") && !strings.HasPrefix(aws.ToString(m.Name), keyStoreStack+"-") {
			continue
		}
		execs, err := w.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: m.StateMachineArn})
		if err != nil {
			continue
		}
		// Oldest first, so a Create's lines come before an Update's.
		list := slices.Clone(execs.Executions)
		sort.Slice(list, func(i, j int) bool { return aws.ToTime(list[i].StartDate).Before(aws.ToTime(list[j].StartDate)) })
		for _, e := range list {
			w.pollExecution(ctx, aws.ToString(m.Name), e)
		}
	}
}

func (w *watcher) pollExecution(ctx context.Context, machine string, e sfntypes.ExecutionListItem) {
	arn := aws.ToString(e.ExecutionArn)
	s, ok := w.seen[arn]
	if !ok {
		s = &execSeen{name: strings.TrimPrefix(strings.TrimPrefix(machine, clusterStack+"-"), keyStoreStack+"-")}
		w.seen[arn] = s
		w.d.p.line("workflow %s started: execution %s", s.name, aws.ToString(e.Name))
	}
	if s.done {
		return
	}
	var events []sfntypes.HistoryEvent
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000}
	for range 100 {
		out, err := w.sfn.GetExecutionHistory(ctx, in)
		if err != nil {
			return
		}
		events = append(events, out.Events...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	p := w.d.p
	for _, ev := range events[min(s.events, len(events)):] {
		switch {
		case ev.StateEnteredEventDetails != nil:
			w.entered++
			name := aws.ToString(ev.StateEnteredEventDetails.Name)
			if !strings.HasSuffix(string(ev.Type), "TaskStateEntered") && ev.Type != sfntypes.HistoryEventTypeParallelStateEntered &&
				ev.Type != sfntypes.HistoryEventTypeMapStateEntered && ev.Type != sfntypes.HistoryEventTypeFailStateEntered &&
				ev.Type != sfntypes.HistoryEventTypeSucceedStateEntered {
				continue // Choice, Wait and Pass states: the loop around a Task
			}
			if name == s.last {
				s.repeats++
				continue
			}
			polled := ""
			if s.repeats > 0 {
				polled = fmt.Sprintf("   (%s ran %d times while waiting)", s.last, s.repeats+1)
			}
			s.last, s.repeats = name, 0
			p.line("  %s > %s%s", s.name, name, polled)
		case ev.Type == sfntypes.HistoryEventTypeTaskScheduled || ev.Type == sfntypes.HistoryEventTypeLambdaFunctionScheduled:
			s.scheduled = aws.ToTime(ev.Timestamp)
		case ev.Type == sfntypes.HistoryEventTypeTaskSucceeded || ev.Type == sfntypes.HistoryEventTypeLambdaFunctionSucceeded:
			if took := aws.ToTime(ev.Timestamp).Sub(s.scheduled); !s.scheduled.IsZero() && took > w.slowest {
				w.slowest = took
			}
		case ev.ExecutionSucceededEventDetails != nil:
			s.done = true
			p.line("workflow %s SUCCEEDED", s.name)
		case ev.ExecutionFailedEventDetails != nil:
			s.done = true
			p.line("workflow %s FAILED: %s: %s", s.name, aws.ToString(ev.ExecutionFailedEventDetails.Error), firstLine(aws.ToString(ev.ExecutionFailedEventDetails.Cause)))
		case ev.Type == sfntypes.HistoryEventTypeExecutionTimedOut:
			s.done = true
			p.line("workflow %s TIMED_OUT", s.name)
		case ev.Type == sfntypes.HistoryEventTypeExecutionAborted:
			s.done = true
			p.line("workflow %s ABORTED", s.name)
		}
	}
	s.events = len(events)
}

// activeHsms returns "hsm-id (zone)" of the cluster's ACTIVE HSMs, asking DescribeClusters.
func (w *watcher) activeHsms(ctx context.Context, clusterID string) ([]string, error) {
	out, err := w.hsm.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {clusterID}}})
	if err != nil {
		return nil, fmt.Errorf("describe cluster %s: %w", clusterID, err)
	}
	if len(out.Clusters) != 1 {
		return nil, fmt.Errorf("describe cluster %s: %d clusters found", clusterID, len(out.Clusters))
	}
	c := out.Clusters[0]
	if c.State != "ACTIVE" {
		return nil, fmt.Errorf("cluster %s is %s; want ACTIVE", clusterID, c.State)
	}
	var hsms []string
	for _, h := range c.Hsms {
		if h.State == "ACTIVE" {
			hsms = append(hsms, fmt.Sprintf("%s (%s)", aws.ToString(h.HsmId), aws.ToString(h.AvailabilityZone)))
		}
	}
	return hsms, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// clusterHealth fires the cluster stack's health rule once, as its schedule would, so its check
// runs with its own role on the cluster as it is, and prints each finding. Whatever the findings
// say (a new sandbox cluster has no backup yet), the check must run and report.
func (d *demo) clusterHealth(ctx context.Context, st *deploy.Stack) error {
	ruleID := resourceAt(st, "HealthCheckRule")
	if ruleID == "" {
		return fmt.Errorf("stack %s has no HealthCheckRule", clusterStack)
	}
	rule := st.Physical(ruleID)
	schedule, _ := st.Template.Resources[ruleID].Properties["ScheduleExpression"].(string)
	d.p.line("health check: rule %s runs lambdas/cluster-health %s; the sandbox fires it now, as the schedule would (FireSchedule)", rule, schedule)
	mailed, findings, err := d.fireHealthCheck(ctx, rule)
	if err != nil {
		return fmt.Errorf("cluster health check: %w", err)
	}
	for _, f := range findings {
		d.p.line("health check: %s %s: %s", f.Condition, f.Status, f.Summary)
	}
	for _, m := range mailed {
		d.p.line("  the relay mailed: %s", m.Subject)
	}
	return nil
}
