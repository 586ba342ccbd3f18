package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/iamreport"
)

// iamReportOut receives what iam-report prints (tests replace it).
var iamReportOut io.Writer = os.Stdout

// demoStacks are the stacks `make demo` deploys, whose roles its IAM decisions cover.
const demoStacks = "StrongroomAlerts StrongroomDatabase StrongroomCluster StrongroomKeyStore"

// runIAMReport holds the statements the templates grant each role against the IAM decisions a demo
// run made.
func runIAMReport(_ context.Context, args []string) error {
	fs := newFlagSet("iam-report", []string{"strongroom iam-report [-decisions FILE] [-test-decisions DIR] [-cdkout DIR] [-stacks \"A B\"] [-strict]"}, `
Least privilege, measured: for every role of the stacks, every action each of its policy statements
grants, with the number of IAM decisions that statement allowed for it while the sandbox ran the
workflows with IAM enforced, and by which calls. An action never used is listed with the reason it is
granted anyway (what uses it on AWS that the sandbox does not run), or flagged UNUSED.

The decisions come from a demo run: make demo writes them (strongroom demo -iam-decisions FILE). With
-test-decisions, the workflow test kits' decisions count too (make test writes them): a kit runs the
same functions and workflows under roles built from the same grants, and its decision counts for the
template role that runs the same function, workflow or client instance.`)
	decisions := fs.String("decisions", "build/iam-decisions.jsonl", "the decisions a demo run wrote (make demo writes this file)")
	cdkOut := fs.String("cdkout", "cdk.out", "the cloud assembly the demo deployed")
	stacks := fs.String("stacks", demoStacks, "the stacks whose roles to report (space-separated)")
	strict := fs.Bool("strict", false, "fail when an action is unused and has no reason")
	testDecisions := fs.String("test-decisions", "", "a directory of the test kits' decisions (make test writes build/iam-decisions-tests); empty: the demo's only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if len(strings.Fields(*stacks)) == 0 {
		return usageErrorf(fs, "-stacks is empty: name at least one stack, for example %q", demoStacks)
	}
	ds, err := iamreport.ReadDecisions(*decisions)
	if err != nil {
		return fmt.Errorf("%w (run make demo first: it writes %s)", err, *decisions)
	}
	var tests []iamreport.TestDecision
	if *testDecisions != "" {
		if tests, err = iamreport.ReadTestDecisions(*testDecisions); err != nil {
			return fmt.Errorf("-test-decisions: %w", err)
		}
	}
	sts, err := iamreport.Load(*cdkOut, strings.Fields(*stacks))
	if err != nil {
		return err
	}
	unused, err := iamreport.Write(iamReportOut, iamreport.Build(sts, ds, tests))
	if err != nil {
		return err
	}
	if *strict && unused > 0 {
		return fmt.Errorf("%d granted actions were never used and have no reason", unused)
	}
	return nil
}
