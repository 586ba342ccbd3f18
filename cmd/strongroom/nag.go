package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/strongroom/strongroom/pkg/nagreport"
)

// nagOut receives what nag-report prints (tests replace it).
var nagOut io.Writer = os.Stdout

// runNagReport checks every cdk-nag report in the cloud assembly directory named by its one
// argument and, with -suppressed, first lists every suppressed finding with its reason.
func runNagReport(_ context.Context, args []string) error {
	fs := newFlagSet("nag-report", []string{"strongroom nag-report [-suppressed] <cdk.out directory>"}, `
Read every cdk-nag report (`+nagreport.Pattern+`) in a synthesized cloud assembly and fail, listing
them, if any rule is Non-Compliant or could not be evaluated (UNKNOWN), or if there is no report at
all (cdk-nag did not run). Otherwise print a one-line summary.

With -suppressed, first list every suppressed finding with the reason its suppression gives, grouped
by rule (with the rule's level and what it checks), then by resource.`)
	suppressed := fs.Bool("suppressed", false, "list the suppressed findings with their reasons")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		return usageErrorf(fs, "missing the cloud assembly directory, for example cdk.out")
	case 1:
	default:
		return usageErrorf(fs, "unexpected argument %q: nag-report checks one cloud assembly directory", fs.Arg(1))
	}
	dir := fs.Arg(0)
	rep, err := nagreport.Read(dir)
	if err != nil {
		return err
	}
	if *suppressed {
		if err := writeSuppressions(nagOut, dir, rep.Suppressions()); err != nil {
			return err
		}
	}
	if err := rep.Err(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(nagOut, "nag-report: %s: %s\n", dir, rep.Summary())
	return err
}

// writeSuppressions lists rows (nagreport.Report.Suppressions: sorted by rule, then resource) as
//
//	nag-report: DIR: N suppressed finding(s):
//	RULE (LEVEL): what the rule checks
//	  RESOURCE
//	    reason, continuation lines indented alike
func writeSuppressions(w io.Writer, dir string, rows []nagreport.Row) error {
	var b strings.Builder
	if len(rows) == 0 {
		fmt.Fprintf(&b, "nag-report: %s: no suppressed findings\n", dir)
	} else {
		fmt.Fprintf(&b, "nag-report: %s: %d suppressed finding(s):\n", dir, len(rows))
	}
	for i, r := range rows {
		if i == 0 || r.RuleID != rows[i-1].RuleID {
			fmt.Fprintf(&b, "%s (%s): %s\n", r.RuleID, r.Level, r.Info)
		}
		fmt.Fprintf(&b, "  %s\n", r.ResourceID)
		reason := strings.ReplaceAll(strings.TrimSpace(r.Reason), "\r\n", "\n")
		fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(reason, "\n", "\n    "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
