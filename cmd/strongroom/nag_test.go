package main

import (
	"strings"
	"testing"
)

func TestNagReportCommand(t *testing.T) {
	const testdata = "../../pkg/nagreport/testdata/"
	cases := []struct {
		name      string
		args      []string
		code      int
		stdout    []string // substrings, in order
		stderr    []string
		notStdout string
	}{
		{name: "clean assembly", args: []string{testdata + "compliant"}, code: 0,
			stdout:    []string{"nag-report: " + testdata + "compliant: 1 report(s), 19 check(s): 18 compliant, 1 suppressed, 0 non-compliant, 0 unknown\n"},
			notStdout: "AwsSolutions-IAM5"},
		{name: "findings are listed", args: []string{testdata + "findings"}, code: 1,
			stderr: []string{"strongroom nag-report: 4 unsuppressed cdk-nag finding(s)", "AwsSolutions-DDB3 NagWarningCanary/Table/Resource"}},
		{name: "suppressions are listed before the findings", args: []string{"-suppressed", testdata + "findings"}, code: 1,
			stdout: []string{"1 suppressed finding(s):\nAwsSolutions-IAM5 (Error): ", "  StrongroomAlerts/TrailRelayRole/DefaultPolicy/Resource\n    [Resource::*] X-Ray"},
			stderr: []string{"AwsSolutions-SQS2 NagCanary/PlainQueue/Resource"}},
		{name: "no suppressions", args: []string{"-suppressed", testdata + "unknown"}, code: 1,
			stdout: []string{"nag-report: " + testdata + "unknown: no suppressed findings\n"}, stderr: []string{"AwsSolutions-IAM5"}},
		{name: "no reports", args: []string{t.TempDir()}, code: 1, stderr: []string{"cdk-nag did not run"}},
		{name: "no argument", args: nil, code: 2,
			stderr: []string{"strongroom nag-report: missing the cloud assembly directory", "usage: strongroom nag-report [-suppressed] <cdk.out directory>", "-suppressed"}},
		{name: "two arguments", args: []string{testdata + "compliant", "cdk.out"}, code: 2,
			stderr: []string{`strongroom nag-report: unexpected argument "cdk.out"`, "usage: strongroom nag-report"}},
		{name: "unknown flag", args: []string{"-suppresed", testdata + "compliant"}, code: 2,
			stderr: []string{"strongroom nag-report: flag provided but not defined: -suppresed\nusage: strongroom nag-report"}},
		{name: "bad flag value", args: []string{"-suppressed=maybe", testdata + "compliant"}, code: 2,
			stderr: []string{`strongroom nag-report: invalid boolean value "maybe" for -suppressed`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCaptured(t, append([]string{"nag-report"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			assertInOrder(t, "stdout", stdout, c.stdout)
			assertInOrder(t, "stderr", stderr, c.stderr)
			if c.notStdout != "" && strings.Contains(stdout, c.notStdout) {
				t.Errorf("stdout has %q:\n%s", c.notStdout, stdout)
			}
			if c.code == 0 && stderr != "" {
				t.Errorf("stderr of a success:\n%s", stderr)
			}
			if c.code == 2 && stdout != "" {
				t.Errorf("stdout of a usage error:\n%s", stdout)
			}
		})
	}
}

// TestNagReportSuppressed checks the whole -suppressed listing: grouped by rule, resources in
// order under each, every reason exactly as the reports give it, a reason's second line indented
// like its first, then the summary of the passing run.
func TestNagReportSuppressed(t *testing.T) {
	dir := "../../pkg/nagreport/testdata/suppressed"
	code, stdout, stderr := runCaptured(t, "nag-report", "-suppressed", dir)
	if code != 0 || stderr != "" {
		t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
	}
	want := "nag-report: " + dir + `: 8 suppressed finding(s):
AwsSolutions-IAM4 (Error): The IAM user, role, or group uses AWS managed policies.
  StrongroomCluster/ClientRole/Resource
    [Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore] AmazonSSMManagedInstanceCore is AWS's minimal policy for the SSM agent that runs the activation document.
  StrongroomDatabase/Database/MonitoringRole/Resource
    [Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole] The enhanced-monitoring role uses AWS's managed policy for it, which only writes the RDSOSMetrics log group; RDS documents this policy as the way to grant enhanced monitoring.
AwsSolutions-IAM5 (Error): The IAM entity contains wildcard permissions and does not have a cdk-nag rule suppression with evidence for those permission.
  StrongroomCluster/Cluster/ClusterCreate/ServiceRole/DefaultPolicy/Resource
    [Resource::*] cloudhsm:DescribeClusters accepts no resource ARN (the service authorization reference lists none). Other actions of this role are scoped.
  StrongroomCluster/Cluster/ClusterDelete/ServiceRole/DefaultPolicy/Resource
    [Resource::*] cloudhsm:DescribeClusters accepts no resource ARN (the service authorization reference lists none). Other actions of this role are scoped.
  StrongroomDatabase/RotateSingleUser/ServiceRole/DefaultPolicy/Resource
    [Resource::*] secretsmanager:GetRandomPassword and the EC2 network-interface actions Lambda uses to place the function in the VPC (the content of AWSLambdaVPCAccessExecutionRole) support no resource-level permissions; "*" is the only resource they accept.
AwsSolutions-RDS11 (Error): The RDS instance or Aurora DB cluster uses the default endpoint port.
  StrongroomDatabase/Database/Resource
    MariaDB keeps its default port 3306: the database is reachable only from the rotation functions' security group, in subnets without a route out of the VPC, with TLS required; a different port would hide nothing and the secrets carry the port anyway.
AwsSolutions-RDS3 (Warning): The non-Aurora RDS DB instance does not have multi-AZ support enabled.
  StrongroomDatabase/Database/Resource
    Single-AZ by default to halve the instance cost of a small deployment; backups and the final snapshot protect the data.
    Set context strongroom:dbMultiAz=true for a standby in a second AZ.
AwsSolutions-SQS3 (Error): The SQS queue is not used as a dead-letter queue (DLQ) and does not have a DLQ enabled.
  StrongroomCluster/Cluster/SafetyNetDLQ/Resource
    this queue is itself the dead-letter queue of the safety net's deliveries.
nag-report: ` + dir + `: 2 report(s), 13 check(s): 5 compliant, 8 suppressed, 0 non-compliant, 0 unknown
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}
