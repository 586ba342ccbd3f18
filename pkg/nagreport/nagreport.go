// Package nagreport reads the compliance reports cdk-nag writes next to a synthesized cloud assembly
// (cdk.out/<pack>-<stack>-NagReport.csv), turns every unsuppressed finding into an error and lists
// the suppressed ones with the reasons their suppressions give.
//
// cdk-nag writes one row per rule and resource with a Compliance column: "Compliant", "Non-Compliant",
// "Suppressed" (with the suppression's reason) or "UNKNOWN" (the rule could not be evaluated, for example
// on an unresolvable token). Non-Compliant and UNKNOWN rows are findings; a directory with no report at
// all is an error too, because it means cdk-nag did not run and nothing was checked.
package nagreport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Pattern matches the report files of every rule pack and stack in a cloud assembly directory.
const Pattern = "*-NagReport.csv"

// Compliance values cdk-nag writes.
const (
	Compliant    = "Compliant"
	NonCompliant = "Non-Compliant"
	Suppressed   = "Suppressed"
	Unknown      = "UNKNOWN"
)

// header is the first line of every report, in cdk-nag 2.x order.
var header = []string{"Rule ID", "Resource ID", "Compliance", "Exception Reason", "Rule Level", "Rule Info"}

// Row is one line of a report.
type Row struct {
	File       string // report file name, for example AwsSolutions--StrongroomAlerts-NagReport.csv
	Line       int    // 1-based line number in File
	RuleID     string // for example AwsSolutions-S1
	ResourceID string // construct path, for example StrongroomAlerts/TrailBucket/Resource
	Compliance string
	Reason     string // the suppression's reason for Suppressed rows, "N/A" otherwise
	Level      string // Error or Warning
	Info       string // what the rule checks, stated as the failure
}

// Finding reports whether the row needs action: a violation or a rule that could not be evaluated.
func (r Row) Finding() bool { return r.Compliance == NonCompliant || r.Compliance == Unknown }

func (r Row) String() string {
	return fmt.Sprintf("%s:%d: %s %s [%s, %s]: %s", r.File, r.Line, r.RuleID, r.ResourceID, r.Compliance, r.Level, r.Info)
}

// Report is the content of every report in one directory.
type Report struct {
	Files []string
	Rows  []Row
}

// Findings returns the rows that need action, in file and line order.
func (r Report) Findings() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Finding() {
			out = append(out, row)
		}
	}
	return out
}

// Suppressions returns the Suppressed rows, each with the reason its suppression gives, ordered by
// rule, then resource, then report file and line, so that every resource a rule is waived for is
// listed together and the order does not depend on which stack was synthesized first.
func (r Report) Suppressions() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Compliance == Suppressed {
			out = append(out, row)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.ResourceID != b.ResourceID {
			return a.ResourceID < b.ResourceID
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return out
}

// Count returns how many rows have the given compliance value.
func (r Report) Count(compliance string) int {
	n := 0
	for _, row := range r.Rows {
		if row.Compliance == compliance {
			n++
		}
	}
	return n
}

// Err is nil when there is no finding, and otherwise lists every finding, one per line.
func (r Report) Err() error {
	f := r.Findings()
	if len(f) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d unsuppressed cdk-nag finding(s); fix each resource, or suppress the rule next to it with a reason:", len(f))
	for _, row := range f {
		b.WriteString("\n  ")
		b.WriteString(row.String())
	}
	return errors.New(b.String())
}

// Summary is a one-line account of the report, for a passing run.
func (r Report) Summary() string {
	return fmt.Sprintf("%d report(s), %d check(s): %d compliant, %d suppressed, %d non-compliant, %d unknown",
		len(r.Files), len(r.Rows), r.Count(Compliant), r.Count(Suppressed), r.Count(NonCompliant), r.Count(Unknown))
}

// Read parses every report in dir. It fails when dir holds no report or a report is not in cdk-nag's format.
func Read(dir string) (Report, error) {
	paths, err := filepath.Glob(filepath.Join(dir, Pattern))
	if err != nil {
		return Report{}, fmt.Errorf("list nag reports in %s: %w", dir, err)
	}
	if len(paths) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return Report{}, fmt.Errorf("read nag reports: %w (run `cdk synth` first)", err)
		}
		return Report{}, fmt.Errorf("no %s in %s: cdk-nag did not run (is the AwsSolutionsChecks aspect applied with reports on?)", Pattern, dir)
	}
	sort.Strings(paths)
	var rep Report
	for _, p := range paths {
		rows, err := readFile(p)
		if err != nil {
			return Report{}, err
		}
		rep.Files = append(rep.Files, filepath.Base(p))
		rep.Rows = append(rep.Rows, rows...)
	}
	return rep, nil
}

func readFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open nag report: %w", err)
	}
	defer f.Close()
	rows, err := Parse(f, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("nag report %s: %w", path, err)
	}
	return rows, nil
}

// Parse reads one report; name labels its rows.
func Parse(r io.Reader, name string) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(header)
	first, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file, want the header line " + strings.Join(header, ","))
		}
		return nil, fmt.Errorf("header: %w", err)
	}
	if strings.Join(first, ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("header is %q, want %q (a cdk-nag version with another report format?)", strings.Join(first, ","), strings.Join(header, ","))
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		row := Row{File: name, Line: line, RuleID: rec[0], ResourceID: rec[1], Compliance: rec[2], Reason: rec[3], Level: rec[4], Info: rec[5]}
		switch row.Compliance {
		case Compliant, NonCompliant, Suppressed, Unknown:
		default:
			return nil, fmt.Errorf("line %d: compliance %q is none of %s, %s, %s, %s", line, row.Compliance, Compliant, NonCompliant, Suppressed, Unknown)
		}
		if row.RuleID == "" || row.ResourceID == "" {
			return nil, fmt.Errorf("line %d: empty rule or resource id", line)
		}
		rows = append(rows, row)
	}
}
