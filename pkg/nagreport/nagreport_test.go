package nagreport_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/nagreport"
)

func TestRead(t *testing.T) {
	cases := []struct {
		name     string
		dir      string
		files    int
		rows     int
		counts   map[string]int
		findings []string // "rule resource" of each finding, in order
	}{
		{
			name: "synthesized alerts stack: compliant and one suppression", dir: "compliant", files: 1, rows: 19,
			counts: map[string]int{nagreport.Compliant: 18, nagreport.Suppressed: 1},
		},
		{
			name: "error and warning level violations in two stacks", dir: "findings", files: 3, rows: 23,
			counts: map[string]int{nagreport.Compliant: 18, nagreport.Suppressed: 1, nagreport.NonCompliant: 4},
			findings: []string{
				"AwsSolutions-SQS2 NagCanary/PlainQueue/Resource",
				"AwsSolutions-SQS3 NagCanary/PlainQueue/Resource",
				"AwsSolutions-SQS4 NagCanary/PlainQueue/Resource",
				"AwsSolutions-DDB3 NagWarningCanary/Table/Resource",
			},
		},
		{
			name: "a rule that could not be evaluated is a finding", dir: "unknown", files: 1, rows: 2,
			counts:   map[string]int{nagreport.Compliant: 1, nagreport.Unknown: 1},
			findings: []string{"AwsSolutions-IAM5 StrongroomAlerts/TrailRelayRole/DefaultPolicy/Resource"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := nagreport.Read(filepath.Join("testdata", c.dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Files) != c.files || len(rep.Rows) != c.rows {
				t.Errorf("%d files, %d rows; want %d, %d", len(rep.Files), len(rep.Rows), c.files, c.rows)
			}
			for _, v := range []string{nagreport.Compliant, nagreport.NonCompliant, nagreport.Suppressed, nagreport.Unknown} {
				if got := rep.Count(v); got != c.counts[v] {
					t.Errorf("%s: %d rows, want %d", v, got, c.counts[v])
				}
			}
			var got []string
			for _, f := range rep.Findings() {
				got = append(got, f.RuleID+" "+f.ResourceID)
			}
			if strings.Join(got, "\n") != strings.Join(c.findings, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.findings, "\n"))
			}
			err = rep.Err()
			if len(c.findings) == 0 {
				if err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Err() = nil with findings")
			}
			for _, f := range c.findings {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("Err() does not list %q:\n%v", f, err)
				}
			}
		})
	}
}

func TestReadKeepsSuppressionReasons(t *testing.T) {
	rep, err := nagreport.Read("testdata/compliant")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rows {
		if r.Compliance != nagreport.Suppressed {
			continue
		}
		// The CSV doubles quotes inside quoted fields; the reason comes back as written.
		want := `[Resource::*] X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "*" is the only resource they accept.`
		if r.RuleID != "AwsSolutions-IAM5" || r.Reason != want || r.Line != 20 {
			t.Errorf("suppressed row = %+v, want IAM5 at line 20 with reason %q", r, want)
		}
		return
	}
	t.Fatal("no suppressed row")
}

func TestReadRefuses(t *testing.T) {
	cases := []struct {
		name string
		dir  string
		want string
	}{
		{"directory without reports", t.TempDir(), "cdk-nag did not run"},
		{"missing directory", filepath.Join(t.TempDir(), "cdk.out"), "run `cdk synth` first"},
		{"unexpected header", "testdata/badheader", "another report format"},
		{"unknown compliance value", "testdata/badcompliance", `line 3: compliance "Noncompliant"`},
		{"empty report file", "testdata/emptyfile", "empty file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := nagreport.Read(c.dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseRejectsShortRows(t *testing.T) {
	in := "Rule ID,Resource ID,Compliance,Exception Reason,Rule Level,Rule Info\n\"AwsSolutions-S1\",\"X/Resource\",\"Compliant\"\n"
	if _, err := nagreport.Parse(strings.NewReader(in), "short.csv"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want a parse error naming line 2", err)
	}
}
