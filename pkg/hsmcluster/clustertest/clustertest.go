// Package clustertest stands Custom::CloudHsmCluster up in a sandbox exactly as the CDK construct
// (infra/hsmcluster) deploys it, without a synthesized template: the real lambdas/<name> mains
// built for the host and registered as sandbox Lambda functions with the environment the
// construct gives them, the three state machines from statemachines/ with the construct's
// DefinitionSubstitutions, the activation document (pkg/hsmdocs) created through SSM, the
// customer-managed KMS key, and the safety-net rule on Step Functions execution status changes.
// Requests then go through the sandbox's CloudFormation driver, as a stack operation sends them.
//
// It is test support for the end-to-end, fault, crash and cost tests of issue #5, and for the
// demo; it is not used in production.
package clustertest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest/stacktest"
)

// Placeholders maps each ${Placeholder} of the cluster ASL files to the lambdas/<name> whose ARN
// fills it. It mirrors infra/hsmcluster.Placeholders (kept out of this package's imports: the CDK
// modules are heavy); TestPlaceholdersMatchASL checks both against the files.
var Placeholders = map[string]string{
	"ActivateFunctionArn":      "cluster-activate",
	"AnswerFunctionArn":        "cfn-answer",
	"CheckFunctionArn":         "cluster-check",
	"CommandStatusFunctionArn": "command-status",
	"CreateFunctionArn":        "cluster-create",
	"DeleteFunctionArn":        "cluster-delete",
	"DescribeFunctionArn":      "cluster-describe",
	"InitializeFunctionArn":    "cluster-initialize",
	"PasswordFunctionArn":      "cluster-password",
	"PlanFunctionArn":          "cluster-plan",
	"ReportFunctionArn":        "cluster-report",
	"ScaleFunctionArn":         "cluster-scale",
	"SignFunctionArn":          "cluster-sign",
}

// Functions are every Lambda of the construct: the steps, the entry (service token) and the
// safety net.
func Functions() []string {
	names := []string{"cluster-entry", "cfn-safetynet"}
	for _, n := range Placeholders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Workflows are the state machine files by request type.
var Workflows = map[string]string{
	"Create": "cluster-create.asl.json",
	"Update": "cluster-update.asl.json",
	"Delete": "cluster-delete.asl.json",
}

// Options adjust a deployment.
type Options struct {
	// Env adds environment variables to named functions (for example a crash hook).
	Env map[string]map[string]string
	// StackName names the stack in the driver's events (default "strongroom-e2e").
	StackName string
}

// Deployment is the construct standing in one sandbox.
type Deployment struct {
	SB        *sandbox.Sandbox
	Cfg       aws.Config
	StackName string
	// ARNs by function name; Machines by request type.
	ARNs     map[string]string
	Machines map[string]string
	Document string
	KeyARN   string
	RuleName string
	// Definitions are the substituted ASL texts by request type.
	Definitions map[string]string
}

// Deploy registers everything the construct declares. logs receives every function's output
// (pass a Recorder.Writer so secret scans cover it).
func Deploy(ctx context.Context, sb *sandbox.Sandbox, cfg aws.Config, root string, bins map[string]string, logs interface {
	Write([]byte) (int, error)
}, o Options) (*Deployment, error) {
	d := &Deployment{SB: sb, Cfg: cfg, StackName: o.StackName, ARNs: map[string]string{}}
	if d.StackName == "" {
		d.StackName = "strongroom-e2e"
	}
	// CloudFormation names an AWS::SSM::Document without a Name <stack>-<logical id>-<suffix>; the
	// sandbox's SSM recognises the content (hsmdocs.Identify), not the name.
	d.Document = d.StackName + "-ActivateDocument-SANDBOX"
	key, err := stacktest.CreateKey(ctx, cfg, "Encrypts the CloudHSM admin password and the customer CA secrets (Strongroom)")
	if err != nil {
		return nil, err
	}
	d.KeyARN = key
	if err := stacktest.CreateDocument(ctx, cfg, d.Document, hsmdocs.ActivateCluster); err != nil {
		return nil, err
	}

	// The construct's per-function environment (infra/hsmcluster New).
	reg := &stacktest.Registrar{SB: sb, Bins: bins, Logs: logs, Extra: o.Env, ARNs: d.ARNs, Env: map[string]map[string]string{
		"cluster-sign":     {"CA_KMS_KEY_ID": d.KeyARN},
		"cluster-password": {"SECRET_KMS_KEY_ID": d.KeyARN},
		"cluster-activate": {"ACTIVATE_DOCUMENT": d.Document},
	}}
	subs, err := reg.Substitutions(Placeholders)
	if err != nil {
		return nil, err
	}
	d.Machines, d.Definitions, err = stacktest.StateMachines(ctx, cfg, sb.Account, root, d.StackName, []string{"Create", "Update", "Delete"}, Workflows, subs)
	if err != nil {
		return nil, err
	}
	reg.Env["cluster-entry"] = map[string]string{
		"CREATE_STATE_MACHINE_ARN": d.Machines["Create"],
		"UPDATE_STATE_MACHINE_ARN": d.Machines["Update"],
		"DELETE_STATE_MACHINE_ARN": d.Machines["Delete"],
	}
	if err := reg.Register("cluster-entry"); err != nil {
		return nil, err
	}
	if err := reg.Register("cfn-safetynet"); err != nil {
		return nil, err
	}

	// The safety net: the construct's rule pattern and target retry policy.
	d.RuleName, err = stacktest.SafetyNet(ctx, cfg, d.StackName, []string{d.Machines["Create"], d.Machines["Update"], d.Machines["Delete"]}, d.ARNs["cfn-safetynet"])
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Properties are a valid Custom::CloudHsmCluster's properties in the sandbox's default VPC:
// subnets in us-east-1a/b/c, the SSM-managed client instance, hsmCount HSMs, and CloudFormation's
// string form for scalars.
func Properties(hsmCount int) map[string]any {
	subnets := make([]any, 0, len(ec2.DefaultSubnetIDs))
	for _, s := range ec2.DefaultSubnetIDs {
		subnets = append(subnets, s)
	}
	return map[string]any{
		"SubnetIds":        subnets,
		"HsmCount":         fmt.Sprint(hsmCount),
		"ClientInstanceId": ec2.DefaultInstanceID,
	}
}

// ServiceTimeout is the construct's custom resource ServiceTimeout (infra/hsmcluster).
const ServiceTimeout = time.Hour

// Spec is the driver's resource for this deployment with props.
func (d *Deployment) Spec(logicalID string, props map[string]any) cloudformation.ResourceSpec {
	return cloudformation.ResourceSpec{
		StackName: d.StackName, LogicalResourceID: logicalID, ResourceType: "Custom::CloudHsmCluster",
		ServiceToken: d.ARNs["cluster-entry"], Properties: props, ServiceTimeout: ServiceTimeout,
	}
}

// Create sends Create (and, after a failure, the rollback Delete) and waits for the answers.
func (d *Deployment) Create(ctx context.Context, logicalID string, props map[string]any) (*cloudformation.Outcome, error) {
	return d.SB.CloudFormation.Create(ctx, d.Spec(logicalID, props))
}

// Update sends Update from old to props for the resource physicalID.
func (d *Deployment) Update(ctx context.Context, logicalID, physicalID string, old, props map[string]any) (*cloudformation.Outcome, error) {
	spec := d.Spec(logicalID, props)
	spec.PhysicalResourceID, spec.OldProperties = physicalID, old
	return d.SB.CloudFormation.Update(ctx, spec)
}

// Delete sends Delete for the resource physicalID.
func (d *Deployment) Delete(ctx context.Context, logicalID, physicalID string, props map[string]any) (*cloudformation.Outcome, error) {
	spec := d.Spec(logicalID, props)
	spec.PhysicalResourceID = physicalID
	return d.SB.CloudFormation.Delete(ctx, spec)
}

// Executions lists the executions of the request type's state machine, newest first.
func (d *Deployment) Executions(ctx context.Context, kind string) ([]string, error) {
	out, err := sfn.NewFromConfig(d.Cfg).ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(d.Machines[kind])})
	if err != nil {
		return nil, err
	}
	arns := make([]string, 0, len(out.Executions))
	for _, e := range out.Executions {
		arns = append(arns, aws.ToString(e.ExecutionArn))
	}
	return arns, nil
}

// Reason shortens a FAILED reason for a table cell.
func Reason(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
