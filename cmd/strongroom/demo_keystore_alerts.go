package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	ebsandbox "github.com/strongroom/strongroom/pkg/sandbox/events"
	snssvc "github.com/strongroom/strongroom/pkg/sandbox/sns"
)

// demoRename is the KeyStoreName the demo's failed stack update asks for.
const demoRename = "strongroom-payments"

// alertWait bounds (in wall time) the wait for an e-mail that a workflow's end or a health check
// sends, and for a ConnectionState KMS reaches on the sandbox clock (8 minutes to connect: 4 s
// at x120).
const alertWait = 30 * time.Second

// The body lines printEmail shows for a health check's e-mail and a failed workflow's.
var (
	healthBodyLines   = []string{"Resource:", "Status:", "Fix:"}
	workflowBodyLines = []string{"Workflow:", "Failed state:", "Error:", "Cause:"}
)

// keyStoreAlerts shows the two alerts the key store stack sends by e-mail, on the store the key
// store section deployed and used. It runs there, between the store's use and its stack's
// deletion, because the store and its scheduled health rule exist only while that stack is
// deployed: after the cluster section nothing is left to check.
//
//   - A disconnection: an operator disconnects the store through KMS; the stack's HealthCheckRule
//     fires (the sandbox's FireSchedule, standing in for the next 5-minute run), its keystore-health
//     function sends the finding, and the alerts stack's relay mails the ALARM; reconnected, the
//     next run mails the recovery, and a run after that mails nothing (the relay's state table).
//   - A failed workflow: a rename through a stack update while KMS fails (the sandbox's fault
//     table answers the update step's UpdateCustomKeyStore with KMSInternalException) runs the
//     Update workflow's retries out; it answers FAILED, CloudFormation rolls the name back, and the
//     WorkflowAlertsRule gives the FAILED execution to the relay, which mails it.
//
// It leaves the store CONNECTED under its name, as the section found it, and the clock running.
// It returns the summary's fragment.
func (d *demo) keyStoreAlerts(ctx context.Context, w *watcher, dep watchedDeploy, storeID string) (string, error) {
	p := d.p
	p.heading("3b. Alerts from the key store " + storeID + ": a disconnection its health check finds, a workflow that fails")
	if d.alertTopic == "" {
		return "", errors.New("the alerts stack's topic is unknown: the alerts stack was not deployed")
	}
	st := dep.st
	ruleID := resourceAt(st, "HealthCheckRule")
	if ruleID == "" {
		return "", fmt.Errorf("stack %s has no HealthCheckRule", keyStoreStack)
	}
	rule := st.Physical(ruleID)
	schedule, _ := st.Template.Resources[ruleID].Properties["ScheduleExpression"].(string)
	p.line("health check: rule %s runs lambdas/keystore-health %s with the store's id as input; the sandbox fires it now, as the schedule would (FireSchedule)", rule, schedule)
	kc := kms.NewFromConfig(d.aws)
	mails := 0

	// run fires the check, prints its findings and returns what the relay mailed to everyone.
	run := func(what string) ([]snssvc.Delivery, error) {
		mailed, findings, err := d.fireHealthCheck(ctx, rule)
		if err != nil {
			return nil, err
		}
		for _, f := range findings {
			p.line("health check (%s): %s %s: %s", what, f.Condition, f.Status, f.Summary)
		}
		return mailed, nil
	}
	// A first run finds the store CONNECTED: OK, and never in ALARM before, so nothing is mailed.
	mailed, err := run("store CONNECTED")
	if err != nil {
		return "", err
	}
	if len(mailed) != 0 {
		return "", fmt.Errorf("the first health check of a CONNECTED store mailed %q; want nothing (healthy, and never in ALARM)", mailed[0].Subject)
	}
	p.line("  the relay mailed nothing: healthy, and never in ALARM before")

	// An operator disconnects the store, as `aws kms disconnect-custom-key-store` does.
	p.line("an operator disconnects the store: DisconnectCustomKeyStore %s", storeID)
	if _, err := kc.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)}); err != nil {
		return "", fmt.Errorf("disconnect key store %s: %w", storeID, err)
	}
	if err := waitStoreState(ctx, w, kc, storeID, kmstypes.ConnectionStateTypeDisconnected); err != nil {
		return "", err
	}
	if mailed, err = run("store DISCONNECTED"); err != nil {
		return "", err
	}
	alarm := "[CRITICAL] strongroom:" + health.KeyStoreConnection + " ALARM " + storeID
	if err := printMailed(d, mailed, alarm, healthBodyLines); err != nil {
		return "", err
	}
	mails++

	p.line("the operator connects it again: ConnectCustomKeyStore %s", storeID)
	if _, err := kc.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)}); err != nil {
		return "", fmt.Errorf("connect key store %s: %w", storeID, err)
	}
	if err := waitStoreState(ctx, w, kc, storeID, kmstypes.ConnectionStateTypeConnected); err != nil {
		return "", err
	}
	if mailed, err = run("store CONNECTED again"); err != nil {
		return "", err
	}
	if err := printMailed(d, mailed, "[INFO] strongroom:"+health.KeyStoreConnection+" recovered "+storeID, healthBodyLines); err != nil {
		return "", err
	}
	mails++
	if mailed, err = run("next run"); err != nil {
		return "", err
	}
	if len(mailed) != 0 {
		return "", fmt.Errorf("a health check with nothing changed mailed %q; want nothing", mailed[0].Subject)
	}
	p.line("  the relay mailed nothing: unchanged since the last check (its state table, pkg/alertstate)")

	failed, err := d.failedRename(ctx, w, dep, storeID)
	if err != nil {
		return "", err
	}
	if err := printMailed(d, failed, "[CRITICAL] states:ExecutionFailed ", workflowBodyLines); err != nil {
		return "", err
	}
	mails++
	store, err := describeStore(ctx, kc, storeID)
	if err != nil {
		return "", err
	}
	name := aws.ToString(store.CustomKeyStoreName)
	if store.ConnectionState != kmstypes.ConnectionStateTypeConnected || name != humanValue(dep.created.Event.ResourceProperties["KeyStoreName"]) {
		return "", fmt.Errorf("after the rolled-back update key store %s is %s named %q; want CONNECTED under its old name", storeID, store.ConnectionState, name)
	}
	p.line("key store %s is CONNECTED and still named %s: the stack is as it was", storeID, name)
	return fmt.Sprintf("%d alert e-mails (disconnected, recovered, failed Update)", mails), nil
}

// fireHealthCheck fires the health rule, waits for the check and the relay it feeds, and returns
// the e-mails mailed to everyone and the findings the check sent (read from the deliveries of
// EventBridge, where they pass on their way to the relay).
func (d *demo) fireHealthCheck(ctx context.Context, rule string) ([]snssvc.Delivery, []health.Finding, error) {
	seenMail, seenEvents := len(d.sb.SNS.Deliveries(d.alertTopic)), len(d.sb.Events.Deliveries())
	fired, err := d.sb.Events.FireSchedule(ctx, rule)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range fired {
		if f.Err != "" {
			return nil, nil, fmt.Errorf("rule %s did not reach %s: %s", rule, f.Arn, f.Err)
		}
	}
	// The check runs asynchronously, and so does the relay its findings reach.
	if err := d.sb.Lambda.WaitIdle(ctx); err != nil {
		return nil, nil, fmt.Errorf("wait for the health check and the relay: %w", err)
	}
	var findings []health.Finding
	for _, dl := range d.sb.Events.Deliveries()[seenEvents:] {
		var env ebsandbox.Envelope
		if json.Unmarshal(dl.Payload, &env) != nil || env.Source != health.Source {
			continue
		}
		f, err := health.Parse(env.Detail)
		if err != nil {
			return nil, nil, fmt.Errorf("the relay was given a health event that is not a finding: %w", err)
		}
		findings = append(findings, f)
	}
	if len(findings) == 0 {
		return nil, nil, fmt.Errorf("rule %s fired, and its check sent no finding to the relay (run with -v for the function's logs)", rule)
	}
	var mailed []snssvc.Delivery
	for _, m := range d.sb.SNS.Deliveries(d.alertTopic)[seenMail:] {
		if m.Endpoint == alertsEveryone {
			mailed = append(mailed, m)
		}
	}
	return mailed, findings, nil
}

// failedRename renames the store through a stack update while the sandbox's fault table makes KMS
// fail the update step's UpdateCustomKeyStore, so the Update workflow's retries run out and it
// fails: the answer is FAILED and CloudFormation's rollback (an Update back to the old name) has
// nothing to do, since the store kept its name. It returns the e-mails the relay then sent.
func (d *demo) failedRename(ctx context.Context, w *watcher, dep watchedDeploy, storeID string) ([]snssvc.Delivery, error) {
	p := d.p
	st, id := dep.st, dep.id
	stepID := resourceAt(st, "KeystoreUpdate")
	step := st.Functions[stepID]
	if step == "" {
		return nil, fmt.Errorf("stack %s has no KeystoreUpdate function", keyStoreStack)
	}
	fault, err := d.sb.Faults.Add(sandbox.Fault{Service: "kms", Operation: "UpdateCustomKeyStore", Caller: step, Kind: sandbox.FaultInternal})
	if err != nil {
		return nil, fmt.Errorf("inject the KMS fault: %w", err)
	}
	defer d.sb.Faults.Remove(fault)
	old := dep.created.Event.ResourceProperties
	set := map[string]any{"KeyStoreName": demoRename}
	change := dep.log.setChange(old, set)
	p.line("a stack update renames the store (%s) while KMS fails: the sandbox's fault table answers UpdateCustomKeyStore from %s with KMSInternalException (500)", change, step)
	seen := len(d.sb.SNS.Deliveries(d.alertTopic))
	d.planned = append(d.planned, "Update "+id)
	d.deploy.Progress = dep.log.progress
	out, err := d.deploy.Update(ctx, st, id, set)
	d.deploy.Progress = nil
	w.poll(ctx)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", change, err)
	}
	if out.Status == "SUCCESS" {
		return nil, fmt.Errorf("update %s answered SUCCESS although KMS failed every rename", change)
	}
	hits := 0
	for _, f := range d.sb.Faults.List() {
		if f.ID == fault {
			hits = f.Hits
		}
	}
	p.line("key store Update answered %s after %d failed UpdateCustomKeyStore calls (the SDK's retries within each Rename attempt, and the workflow's Retry): %s",
		out.Status, hits, firstLine(out.Reason))
	if out.Rollback == nil || out.Rollback.Status != "SUCCESS" {
		return nil, fmt.Errorf("the rollback of the failed update %s did not succeed: %+v", change, out.Rollback)
	}
	p.line("CloudFormation rolled the stack back (an Update to KeyStoreName %s): answered SUCCESS, nothing to rename", humanValue(old["KeyStoreName"]))
	return d.awaitMail(ctx, w, seen)
}

// awaitMail waits, with the clock running, for the relay's e-mails to everyone after the first seen
// deliveries to the alert topic: the relay is invoked when a failed execution's status reaches
// EventBridge, just after the workflow's answer. It returns them (none after alertWait).
func (d *demo) awaitMail(ctx context.Context, w *watcher, seen int) ([]snssvc.Delivery, error) {
	deadline := time.Now().Add(alertWait)
	for {
		if err := d.sb.Lambda.WaitIdle(ctx); err != nil {
			return nil, err
		}
		var mailed []snssvc.Delivery
		for _, m := range d.sb.SNS.Deliveries(d.alertTopic)[seen:] {
			if m.Endpoint == alertsEveryone {
				mailed = append(mailed, m)
			}
		}
		if len(mailed) > 0 || time.Now().After(deadline) {
			w.poll(ctx)
			return mailed, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(watchInterval):
		}
	}
}

// printMailed prints the one e-mail to everyone that a step should have caused, whose subject
// starts with want, with the body lines that start with one of lines, and whom else it reached.
func printMailed(d *demo, mailed []snssvc.Delivery, want string, lines []string) error {
	if len(mailed) != 1 || !strings.HasPrefix(mailed[0].Subject, want) {
		subjects := make([]string, len(mailed))
		for i, m := range mailed {
			subjects[i] = m.Subject
		}
		return fmt.Errorf("the relay mailed %d e-mails to %s (%q); want one, %q... (run with -v for its logs)", len(mailed), alertsEveryone, subjects, want)
	}
	m := mailed[0]
	d.p.line("the relay mailed:")
	printEmailLines(d, m, lines)
	var others []string
	for _, o := range d.sb.SNS.Deliveries(d.alertTopic) {
		if o.MessageID == m.MessageID && o.Endpoint != alertsEveryone {
			others = append(others, o.Endpoint)
		}
	}
	if len(others) > 0 {
		d.p.plain("      also to: %s", strings.Join(others, ", "))
	}
	return nil
}

// waitStoreState waits, with the clock running, until KMS reports the store in state (the watcher
// prints the changes on the way), and gives the watcher a last look.
func waitStoreState(ctx context.Context, w *watcher, kc *kms.Client, storeID string, state kmstypes.ConnectionStateType) error {
	deadline := time.Now().Add(alertWait)
	for {
		s, err := describeStore(ctx, kc, storeID)
		if err != nil {
			return err
		}
		if s.ConnectionState == state {
			w.poll(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("key store %s is %s (%s) after %s of wall time; want %s", storeID, s.ConnectionState, s.ConnectionErrorCode, alertWait, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(watchInterval):
		}
	}
}

// resourceAt is the logical id of the stack's resource whose construct is named construct (its
// aws:cdk:path ends in /<construct>/Resource), or "".
func resourceAt(st *deploy.Stack, construct string) string {
	for id, r := range st.Template.Resources {
		if path, _ := r.Metadata["aws:cdk:path"].(string); strings.HasSuffix(path, "/"+construct+"/Resource") {
			return id
		}
	}
	return ""
}
