package main

import (
	"context"
	"fmt"
	"strings"
)

// refusedModeChange asks the cluster, through a stack update, for what it cannot change in place:
// its Mode (FIPS is fixed at creation, pkg/hsmcluster's Immutable). The Update workflow's Plan
// step refuses it naming the property and the fix, the workflow answers FAILED and ends FAILED,
// and CloudFormation rolls the stack back (an Update to the old properties, which matches the
// cluster's immutable-properties tag and changes nothing: SUCCESS). The failed execution reaches
// the alert relay, which reads its history and mails it, and the cluster's safety net, which
// finds the request answered. Checked: the answer's reason names Mode, the rollback succeeded,
// the cluster still has hsms ACTIVE HSMs, and exactly one e-mail names the failed workflow.
func (d *demo) refusedModeChange(ctx context.Context, w *watcher, dep watchedDeploy, clusterID string, hsms int) error {
	p := d.p
	mode := "NON_FIPS"
	if humanValue(dep.created.Event.ResourceProperties["Mode"]) == "NON_FIPS" {
		mode = "FIPS"
	}
	set := map[string]any{"Mode": mode}
	seen := len(d.sb.SNS.Deliveries(d.alertTopic))
	d.planned = append(d.planned, "Update "+dep.id)
	p.line("a stack update asks for %s, which a cluster cannot change in place", dep.log.setChange(dep.created.Event.ResourceProperties, set))
	d.deploy.Progress = dep.log.progress
	out, err := d.deploy.Update(ctx, dep.st, dep.id, set)
	w.poll(ctx)
	if err != nil {
		return fmt.Errorf("update Mode to %s: %w", mode, err)
	}
	printOutcome(d, "Update Mode", out)
	if out.Status == "SUCCESS" || !strings.Contains(out.Reason, "Mode") {
		return fmt.Errorf("the update of Mode to %s answered %s (%q); want FAILED naming Mode", mode, out.Status, out.Reason)
	}
	if out.Rollback == nil || out.Rollback.Status != "SUCCESS" {
		return fmt.Errorf("the rollback of the refused Mode change did not succeed: %+v", out.Rollback)
	}
	p.line("CloudFormation rolled the stack back (an Update to the old properties): answered SUCCESS, nothing to change")
	active, err := w.activeHsms(ctx, clusterID)
	if err != nil {
		return err
	}
	if len(active) != hsms {
		return fmt.Errorf("after the refused update the cluster has %d ACTIVE HSMs; want %d", len(active), hsms)
	}
	mailed, err := d.awaitMail(ctx, w, seen)
	if err != nil {
		return err
	}
	if err := printMailed(d, mailed, "[CRITICAL] states:ExecutionFailed cluster update", workflowBodyLines); err != nil {
		return err
	}
	// The safety net runs on the same failure (EventBridge, then Lambda): it must find the request
	// answered and add no answer of its own.
	if err := d.sb.Lambda.WaitIdle(ctx); err != nil {
		return fmt.Errorf("wait for the cluster's safety net: %w", err)
	}
	n := 0
	for _, r := range d.sb.CloudFormation.Requests() {
		if r.Event.LogicalResourceID != dep.id {
			continue
		}
		n++
		if len(r.Answers) != 1 {
			return fmt.Errorf("the %s request of %s was answered %d times; want once", r.Event.RequestType, dep.id, len(r.Answers))
		}
	}
	p.line("each of the %d requests CloudFormation sent %s so far was answered once", n, dep.id)
	return nil
}
