package hsmcluster_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/hsmcluster"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/nagreport"
	"github.com/strongroom/strongroom/pkg/resourcedef"
)

// One synthesis serves every assertion: CDK synthesis is the slow part of these tests.
var (
	tmpl   map[string]any
	report nagreport.Report
)

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
		tmp, err := os.MkdirTemp("", "hsmcluster-test-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		ctx, err := settings.ReadCDKJSON("../../cdk.json")
		if err != nil {
			return fail(err)
		}
		out := filepath.Join(tmp, "cdk.out")
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
		// Environment-agnostic, as `make synth` builds it without a configured account
		// (infra's TestEnvironment covers a pinned account and region).
		// No BuildDir: the functions are bundled from this module's sources, as for an app that
		// imports the construct.
		s, err := hsmcluster.NewClusterStack(app, "Cluster", &hsmcluster.StackProps{})
		if err != nil {
			return fail(err)
		}
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(true)}), nil)
		app.Synth(nil)
		// Read the report before the assertions synthesize again (cdk-nag would append its rows twice).
		if report, err = nagreport.Read(out); err != nil {
			return fail(err)
		}
		raw, _ := json.Marshal(assertions.Template_FromStack(s.Stack, nil).ToJSON())
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			return fail(err)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// resourceStarAllowed are the actions that accept no resource ARN (or act on resources that do
// not exist before the call), as the construct's package comment says; nothing else may be "*".
var resourceStarAllowed = map[string]bool{
	"cloudhsm:DescribeClusters": true, "cloudhsm:DescribeBackups": true, "cloudhsm:CreateCluster": true, "cloudhsm:TagResource": true,
	"iam:CreateServiceLinkedRole": true, "secretsmanager:GetRandomPassword": true, "ssm:GetCommandInvocation": true,
	"ec2:DescribeSecurityGroups": true, "ec2:DescribeSubnets": true,
	"ec2:DescribeVpcs": true, "ec2:CreateTags": true, "ec2:CreateNetworkInterface": true, "ec2:DescribeNetworkInterfaces": true,
	"ec2:DeleteNetworkInterface": true, "ec2:DetachNetworkInterface": true,
	"ec2:DescribeInstances": true, "kms:DescribeCustomKeyStores": true,
	// The Service Authorization Reference gives cloudhsm:DeleteHsm no resource type.
	"cloudhsm:DeleteHsm": true,
	// X-Ray and CloudWatch Logs delivery of the state machines and functions.
	"xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true, "xray:GetSamplingRules": true, "xray:GetSamplingTargets": true,
	"logs:CreateLogDelivery": true, "logs:GetLogDelivery": true, "logs:UpdateLogDelivery": true, "logs:DeleteLogDelivery": true,
	"logs:ListLogDeliveries": true, "logs:PutResourcePolicy": true, "logs:DescribeResourcePolicies": true, "logs:DescribeLogGroups": true,
}

func TestLeastPrivilege(t *testing.T) {
	policies := templatetest.Resources(tmpl, "AWS::IAM::Policy")
	starStatements := 0
	defer func() {
		// The allowlist is exercised: the construct does have actions that accept no ARN.
		if starStatements == 0 {
			t.Error("no statement on Resource \"*\" was found; the template walk is broken")
		}
	}()
	if len(policies) < 10 {
		t.Fatalf("%d IAM policies; want one per function at least", len(policies))
	}
	for id, p := range policies {
		doc := p["PolicyDocument"].(map[string]any)
		for _, st := range list(doc["Statement"]) {
			sm := st.(map[string]any)
			if sm["Effect"] != "Allow" {
				continue
			}
			star := false
			for _, r := range list(sm["Resource"]) {
				if r == "*" {
					star = true
				}
			}
			if star {
				starStatements++
			}
			for _, a := range list(sm["Action"]) {
				s, _ := a.(string)
				if s == "*" || strings.HasSuffix(s, ":*") {
					t.Errorf("%s: action %q is a wildcard", id, s)
				}
				if star && !resourceStarAllowed[s] {
					t.Errorf("%s: %s on Resource \"*\"; scope it to this construct's resources", id, s)
				}
			}
		}
	}
}

// TestSecurityGroupsAndCommandsAreScoped: the actions that change or delete a security group reach
// only the groups of the cluster's VPC (an ArnEquals ec2:Vpc condition naming it), a group is
// created only in that VPC, and SendCommand reaches only the client instance (no instance/*).
func TestSecurityGroupsAndCommandsAreScoped(t *testing.T) {
	vpcRef := func(v any) bool {
		b, _ := json.Marshal(v)
		return strings.Contains(string(b), `:vpc/`) && strings.Contains(string(b), `"Ref":"Vpc`)
	}
	seen := map[string]int{}
	for id, p := range templatetest.Resources(tmpl, "AWS::IAM::Policy") {
		for _, st := range list(p["PolicyDocument"].(map[string]any)["Statement"]) {
			sm := st.(map[string]any)
			res, _ := json.Marshal(sm["Resource"])
			for _, a := range list(sm["Action"]) {
				switch a {
				case "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DeleteSecurityGroup":
					seen[a.(string)]++
					cond, _ := sm["Condition"].(map[string]any)
					arnEq, _ := cond["ArnEquals"].(map[string]any)
					if !strings.Contains(string(res), ":security-group/*") || !vpcRef(arnEq["ec2:Vpc"]) {
						t.Errorf("%s: %s on %s with condition %v; want security-group/* under ArnEquals ec2:Vpc of the cluster's VPC", id, a, res, sm["Condition"])
					}
				case "ec2:CreateSecurityGroup":
					seen[a.(string)]++
					if !vpcRef(sm["Resource"]) || strings.Contains(string(res), `"*"`) {
						t.Errorf("%s: %s on %s; want the cluster's VPC and security-group/*", id, a, res)
					}
				case "ssm:SendCommand":
					seen[a.(string)]++
					if strings.Contains(string(res), "instance/*") || !strings.Contains(string(res), ":instance/") {
						t.Errorf("%s: %s on %s; want the client instance only", id, a, res)
					}
				}
			}
		}
	}
	for _, a := range []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress",
		"ec2:DeleteSecurityGroup", "ec2:CreateSecurityGroup", "ssm:SendCommand"} {
		if seen[a] == 0 {
			t.Errorf("no statement grants %s: the walk missed it", a)
		}
	}
}

func TestCustomResourceAndWorkflows(t *testing.T) {
	crs := templatetest.Resources(tmpl, "Custom::CloudHsmCluster")
	if len(crs) != 1 {
		t.Fatalf("%d Custom::CloudHsmCluster resources; want 1", len(crs))
	}
	for id, p := range crs {
		if fmt.Sprint(p["ServiceTimeout"]) != fmt.Sprint(hsmcluster.ServiceTimeoutSeconds) {
			t.Errorf("%s: ServiceTimeout = %v; want %d", id, p["ServiceTimeout"], hsmcluster.ServiceTimeoutSeconds)
		}
	}
	machines := templatetest.Resources(tmpl, "AWS::StepFunctions::StateMachine")
	if len(machines) != 3 {
		t.Fatalf("%d state machines; want create, update and delete", len(machines))
	}
	for id, p := range machines {
		def, _ := json.Marshal(p["DefinitionString"])
		if !strings.Contains(string(def), `TimeoutSeconds`) {
			t.Errorf("%s: the definition sets no TimeoutSeconds", id)
		}
		if tc, _ := p["TracingConfiguration"].(map[string]any); tc["Enabled"] != true {
			t.Errorf("%s: tracing is off", id)
		}
		lc, _ := p["LoggingConfiguration"].(map[string]any)
		if lc["Level"] != "ALL" || len(list(lc["Destinations"])) == 0 {
			t.Errorf("%s: logging = %v; want level ALL to a log group", id, lc)
		}
	}
	for id, p := range templatetest.Resources(tmpl, "AWS::Logs::LogGroup") {
		if p["RetentionInDays"] == nil {
			t.Errorf("log group %s keeps logs forever; set a retention", id)
		}
	}
	// Every function traces, logs to its own group, and has its own role.
	roles := map[string]string{}
	for id, p := range templatetest.Resources(tmpl, "AWS::Lambda::Function") {
		if tc, _ := p["TracingConfig"].(map[string]any); tc["Mode"] != "Active" {
			t.Errorf("function %s: X-Ray tracing is not Active", id)
		}
		if lc, _ := p["LoggingConfig"].(map[string]any); lc["LogGroup"] == nil {
			t.Errorf("function %s logs to no log group of its own", id)
		}
		role, _ := json.Marshal(p["Role"])
		if other, dup := roles[string(role)]; dup {
			t.Errorf("functions %s and %s share a role", id, other)
		}
		roles[string(role)] = id
	}
	if want := len(resourcedef.Cluster.Functions()); len(roles) != want {
		t.Errorf("%d functions; want the %d of pkg/resourcedef's Cluster (steps, entry, safety net)", len(roles), want)
	}
	outputs, _ := tmpl["Outputs"].(map[string]any)
	var names []string
	for k := range outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	if !strings.Contains(strings.Join(names, ","), "ClusterId") {
		t.Errorf("outputs %v lack ClusterId", names)
	}
}

func TestNagClean(t *testing.T) {
	if report.Count(nagreport.Compliant) < 15 {
		t.Fatalf("only %d compliant checks in %v: did cdk-nag run on the stack?", report.Count(nagreport.Compliant), report.Files)
	}
	for _, f := range report.Findings() {
		t.Errorf("unsuppressed cdk-nag finding: %s", f)
	}
}
