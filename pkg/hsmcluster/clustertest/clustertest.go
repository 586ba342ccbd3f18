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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
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

// RepoRoot returns the module root: the nearest directory above the working directory with go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binaries builds each function's lambdas/<name> main for the host into dir/<name>/bootstrap,
// two at a time (the go build cache makes unchanged code cheap), and returns name -> path.
func Binaries(ctx context.Context, root, dir string) (map[string]string, error) {
	names := Functions()
	out := make(map[string]string, len(names))
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := lambdaruntime.BuildHost(ctx, filepath.Join(root, "lambdas", n), dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[n] = p
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
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
	d := &Deployment{SB: sb, Cfg: cfg, StackName: o.StackName, ARNs: map[string]string{}, Machines: map[string]string{},
		Definitions: map[string]string{}}
	if d.StackName == "" {
		d.StackName = "strongroom-e2e"
	}
	// CloudFormation names an AWS::SSM::Document without a Name <stack>-<logical id>-<suffix>; the
	// sandbox's SSM recognises the content (hsmdocs.Identify), not the name.
	d.Document = d.StackName + "-ActivateDocument-SANDBOX"
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("Encrypts the CloudHSM admin password and the customer CA secrets (Strongroom)"),
	})
	if err != nil {
		return nil, fmt.Errorf("create the secrets key: %w", err)
	}
	d.KeyARN = aws.ToString(key.KeyMetadata.Arn)
	content, err := hsmdocs.Content(hsmdocs.ActivateCluster)
	if err != nil {
		return nil, err
	}
	if _, err := ssm.NewFromConfig(cfg).CreateDocument(ctx, &ssm.CreateDocumentInput{
		Name: aws.String(d.Document), Content: aws.String(content),
		DocumentType: ssmtypes.DocumentTypeCommand, DocumentFormat: ssmtypes.DocumentFormatJson,
	}); err != nil {
		return nil, fmt.Errorf("create document %s: %w", d.Document, err)
	}

	// The construct's per-function environment (infra/hsmcluster New).
	env := map[string]map[string]string{
		"cluster-sign":     {"CA_KMS_KEY_ID": d.KeyARN},
		"cluster-password": {"SECRET_KMS_KEY_ID": d.KeyARN},
		"cluster-activate": {"ACTIVATE_DOCUMENT": d.Document},
	}
	register := func(name string) error {
		bin, ok := bins[name]
		if !ok {
			return fmt.Errorf("no binary for %s", name)
		}
		// The SDK's retry backoff runs at the sandbox clock's speed (lambdaenv.SandboxClockScaleVar).
		vars := map[string]string{lambdaenv.SandboxClockScaleVar: strconv.FormatFloat(sb.Clock.Scale(), 'f', -1, 64)}
		for k, v := range env[name] {
			vars[k] = v
		}
		for k, v := range o.Env[name] {
			vars[k] = v
		}
		arn, err := sb.Lambda.RegisterBinary(name, bin, logs, sblambda.WithEnv(vars), sblambda.WithTimeout(60*time.Second))
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		d.ARNs[name] = arn
		return nil
	}
	for _, n := range Placeholders {
		if _, done := d.ARNs[n]; done {
			continue
		}
		if err := register(n); err != nil {
			return nil, err
		}
	}
	subs := map[string]string{}
	for ph, n := range Placeholders {
		subs[ph] = d.ARNs[n]
	}
	sf := sfn.NewFromConfig(cfg)
	for _, kind := range []string{"Create", "Update", "Delete"} {
		def, err := stepfunctions.LoadFile(filepath.Join(root, "statemachines", Workflows[kind]), subs)
		if err != nil {
			return nil, err
		}
		out, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String(d.StackName + "-" + kind + "Workflow"), Definition: aws.String(def),
			RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s-%sWorkflowRole", sb.Account, d.StackName, kind)),
		})
		if err != nil {
			return nil, fmt.Errorf("create the %s state machine: %w", kind, err)
		}
		d.Machines[kind] = aws.ToString(out.StateMachineArn)
		d.Definitions[kind] = def
	}
	env["cluster-entry"] = map[string]string{
		"CREATE_STATE_MACHINE_ARN": d.Machines["Create"],
		"UPDATE_STATE_MACHINE_ARN": d.Machines["Update"],
		"DELETE_STATE_MACHINE_ARN": d.Machines["Delete"],
	}
	if err := register("cluster-entry"); err != nil {
		return nil, err
	}
	if err := register("cfn-safetynet"); err != nil {
		return nil, err
	}

	// The safety net: the construct's rule pattern and target retry policy.
	pattern, _ := json.Marshal(map[string]any{
		"source":      []string{"aws.states"},
		"detail-type": []string{"Step Functions Execution Status Change"},
		"detail": map[string]any{
			"status":          []string{"FAILED", "TIMED_OUT", "ABORTED"},
			"stateMachineArn": []string{d.Machines["Create"], d.Machines["Update"], d.Machines["Delete"]},
		},
	})
	d.RuleName = d.StackName + "-SafetyNetRule"
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(d.RuleName), EventPattern: aws.String(string(pattern))}); err != nil {
		return nil, fmt.Errorf("put the safety-net rule: %w", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(d.RuleName), Targets: []ebtypes.Target{{
		Id: aws.String("SafetyNet"), Arn: aws.String(d.ARNs["cfn-safetynet"]),
		RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(20), MaximumEventAgeInSeconds: aws.Int32(7200)},
	}}}); err != nil {
		return nil, fmt.Errorf("put the safety-net target: %w", err)
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
