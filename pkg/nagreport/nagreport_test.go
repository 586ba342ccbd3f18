package nagreport_test

import (
	"fmt"
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
			name: "suppressions in two stacks, one reason spanning two lines", dir: "suppressed", files: 2, rows: 13,
			counts: map[string]int{nagreport.Compliant: 5, nagreport.Suppressed: 8},
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

// TestSuppressions checks that every suppressed row is listed once, by rule and then resource
// whatever file it is in, with its reason exactly as the report gives it.
func TestSuppressions(t *testing.T) {
	cases := []struct {
		dir  string
		want []string // "rule resource file:line | reason"
	}{
		{"compliant", []string{
			`AwsSolutions-IAM5 StrongroomAlerts/TrailRelayRole/DefaultPolicy/Resource AwsSolutions--StrongroomAlerts-NagReport.csv:20 | [Resource::*] X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "*" is the only resource they accept.`,
		}},
		{"suppressed", []string{
			`AwsSolutions-IAM4 StrongroomCluster/ClientRole/Resource AwsSolutions--StrongroomCluster-NagReport.csv:3 | [Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore] AmazonSSMManagedInstanceCore is AWS's minimal policy for the SSM agent that runs the activation document.`,
			`AwsSolutions-IAM4 StrongroomDatabase/Database/MonitoringRole/Resource AwsSolutions--StrongroomDatabase-NagReport.csv:6 | [Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole] The enhanced-monitoring role uses AWS's managed policy for it, which only writes the RDSOSMetrics log group; RDS documents this policy as the way to grant enhanced monitoring.`,
			`AwsSolutions-IAM5 StrongroomCluster/Cluster/ClusterCreate/ServiceRole/DefaultPolicy/Resource AwsSolutions--StrongroomCluster-NagReport.csv:6 | [Resource::*] cloudhsm:DescribeClusters accepts no resource ARN (the service authorization reference lists none). Other actions of this role are scoped.`,
			`AwsSolutions-IAM5 StrongroomCluster/Cluster/ClusterDelete/ServiceRole/DefaultPolicy/Resource AwsSolutions--StrongroomCluster-NagReport.csv:5 | [Resource::*] cloudhsm:DescribeClusters accepts no resource ARN (the service authorization reference lists none). Other actions of this role are scoped.`,
			`AwsSolutions-IAM5 StrongroomDatabase/RotateSingleUser/ServiceRole/DefaultPolicy/Resource AwsSolutions--StrongroomDatabase-NagReport.csv:7 | [Resource::*] secretsmanager:GetRandomPassword and the EC2 network-interface actions Lambda uses to place the function in the VPC (the content of AWSLambdaVPCAccessExecutionRole) support no resource-level permissions; "*" is the only resource they accept.`,
			`AwsSolutions-RDS11 StrongroomDatabase/Database/Resource AwsSolutions--StrongroomDatabase-NagReport.csv:5 | MariaDB keeps its default port 3306: the database is reachable only from the rotation functions' security group, in subnets without a route out of the VPC, with TLS required; a different port would hide nothing and the secrets carry the port anyway.`,
			"AwsSolutions-RDS3 StrongroomDatabase/Database/Resource AwsSolutions--StrongroomDatabase-NagReport.csv:3 | Single-AZ by default to halve the instance cost of a small deployment; backups and the final snapshot protect the data.\nSet context strongroom:dbMultiAz=true for a standby in a second AZ.",
			`AwsSolutions-SQS3 StrongroomCluster/Cluster/SafetyNetDLQ/Resource AwsSolutions--StrongroomCluster-NagReport.csv:7 | this queue is itself the dead-letter queue of the safety net's deliveries.`,
		}},
		{"unknown", nil},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			rep, err := nagreport.Read(filepath.Join("testdata", c.dir))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rep.Suppressions() {
				if r.Compliance != nagreport.Suppressed {
					t.Errorf("%s is listed as suppressed", r)
				}
				got = append(got, fmt.Sprintf("%s %s %s:%d | %s", r.RuleID, r.ResourceID, r.File, r.Line, r.Reason))
			}
			if strings.Join(got, "\n\n") != strings.Join(c.want, "\n\n") {
				t.Errorf("Suppressions():\n%s\nwant:\n%s", strings.Join(got, "\n\n"), strings.Join(c.want, "\n\n"))
			}
		})
	}
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
