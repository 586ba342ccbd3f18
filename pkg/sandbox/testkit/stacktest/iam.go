package stacktest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/iamreport"
	"github.com/strongroom/strongroom/statemachines"
)

// The roles a kit deploys are the construct's (infra/workflowresource): each function's grants
// from pkg/resourcedef resolved by resourcedef.Names, as the construct resolves them; each
// workflow's lambda:InvokeFunction on the steps its ASL names (the function and its versions, as
// CDK's grantInvoke writes it); the client instance's Instance grants beside AWS's
// AmazonSSMManagedInstanceCore (infra/hsmcluster's stack); and the safety net's Lambda permission
// for its rule. What the kits leave out has no emulation to call: CloudWatch Logs and X-Ray.

// lambdaTrust, ec2Trust and statesTrust are the trust policies CDK writes for a function's, an
// instance's and a state machine's role.
const (
	lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	ec2Trust    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	statesTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
)

// ssmManagedInstanceCore is the AWS-managed policy the client instance's role carries.
const ssmManagedInstanceCore = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

// names are the deployment's names for the definition's refs; the state machines' are the ones
// StateMachines gives them, so the functions that precede the machines can be granted on them.
func (d *Deployment) names(o DeployOptions) resourcedef.Names {
	n := resourcedef.Names{
		Partition: "aws", Region: d.SB.Region, Account: d.SB.Account,
		SecretPrefix: d.SecretPrefix, KeyARN: d.KeyARN,
		Documents: d.Documents, ClientInstanceID: ec2.DefaultInstanceID, VpcID: ec2.DefaultVPCID,
		StateMachines: map[string]resourcedef.StateMachineName{}, Inputs: o.Inputs,
	}
	for _, w := range d.Def.Workflows {
		name := machineName(d.StackName, w.Kind)
		n.StateMachines[w.Kind] = resourcedef.StateMachineName{ARN: n.ARN("states", "stateMachine:"+name), Name: name}
	}
	return n
}

// machineName is the name StateMachines gives the workflow of kind, and machineRole its role's.
func machineName(stack, kind string) string { return stack + "-" + kind + "Workflow" }
func machineRole(stack, kind string) string { return machineName(stack, kind) + "Role" }

// role creates the role name trusting trust, with policy (nil: none) as its inline policy "grants"
// and the managed policies (deploy.CreateRole, as a template's roles are made), and returns its ARN.
func role(ctx context.Context, c *iam.Client, name, trust string, policy any, managed ...string) (string, error) {
	var inline []deploy.InlinePolicy
	if policy != nil {
		doc, err := json.Marshal(policy)
		if err != nil {
			return "", err
		}
		inline = []deploy.InlinePolicy{{Name: "grants", Document: string(doc)}}
	}
	r, err := deploy.CreateRole(ctx, c, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}, inline, managed)
	if err != nil {
		return "", err
	}
	return aws.ToString(r.Arn), nil
}

// functionRole creates f's execution role from its grants and binds f's calls to it.
func (d *Deployment) functionRole(ctx context.Context, names resourcedef.Names, f resourcedef.Function) error {
	var policy any
	if len(f.Grants) > 0 {
		p, err := names.Policy(f.Grants)
		if err != nil {
			return fmt.Errorf("%s %s: %w", d.Def.Type, f.Name, err)
		}
		policy = p
	}
	arn, err := role(ctx, iam.NewFromConfig(d.Cfg), roleName(d.StackName, f.Name), lambdaTrust, policy)
	if err != nil {
		return err
	}
	d.SB.BindRole(f.Name, arn)
	d.actors[arn] = iamreport.FunctionActor(d.Def.Type, f.Name)
	return nil
}

// roleName is <stack>-<name>, cut to IAM's 64 characters.
func roleName(stack, name string) string {
	n := stack + "-" + name
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// workflowRoles creates each workflow's role: lambda:InvokeFunction on the steps its ASL names.
func (d *Deployment) workflowRoles(ctx context.Context, stepARNs map[string]string) error {
	c := iam.NewFromConfig(d.Cfg)
	for _, w := range d.Def.Workflows {
		asl, err := readWorkflow(w.File)
		if err != nil {
			return err
		}
		steps, err := d.Def.StepsOf(asl)
		if err != nil {
			return err
		}
		var resources []string
		for _, s := range steps {
			resources = append(resources, stepARNs[s.Name], stepARNs[s.Name]+":*")
		}
		policy := map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": resources}}}
		arn, err := role(ctx, c, machineRole(d.StackName, w.Kind), statesTrust, policy)
		if err != nil {
			return err
		}
		d.actors[arn] = iamreport.WorkflowActor(d.Def.Type, w.Kind)
	}
	return nil
}

// instanceRole creates the client instance's role (the definition's Instance grants, own, and
// extra) and binds the instance's calls to it.
func (d *Deployment) instanceRole(ctx context.Context, names resourcedef.Names, own, extra []resourcedef.Grant) error {
	grants := append(append([]resourcedef.Grant(nil), own...), extra...)
	var policy any
	if len(grants) > 0 {
		p, err := names.Policy(grants)
		if err != nil {
			return fmt.Errorf("%s client instance: %w", d.Def.Type, err)
		}
		policy = p
	}
	arn, err := role(ctx, iam.NewFromConfig(d.Cfg), roleName(d.StackName, "ClientRole"), ec2Trust, policy, ssmManagedInstanceCore)
	if err != nil {
		return err
	}
	d.SB.BindRole(sandbox.InstancePrincipal(ec2.DefaultInstanceID), arn)
	d.actors[arn] = iamreport.InstanceActor
	return nil
}

// MayInvoke lets the service principal (events.amazonaws.com, secretsmanager.amazonaws.com)
// invoke fn on behalf of sourceARN (a rule, a secret) only, as the AWS::Lambda::Permission CDK
// adds for a rule's Lambda target or a rotation schedule.
func MayInvoke(ctx context.Context, cfg aws.Config, fn, principal, sourceARN string) error {
	sum := sha256.Sum256([]byte(principal + " " + sourceARN))
	if _, err := lambda.NewFromConfig(cfg).AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String(fn), StatementId: aws.String(fmt.Sprintf("Allow%x", sum[:8])), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String(principal), SourceArn: aws.String(sourceARN),
	}); err != nil {
		return fmt.Errorf("let %s invoke %s for %s: %w", principal, fn, sourceARN, err)
	}
	return nil
}

// judge is the package's IAM judge (one Node process for every test of the binary), started by
// Main; Deploy makes its sandbox enforce IAM with it.
var judge *iamjudge.Judge

// readWorkflow reads an ASL file of statemachines/.
func readWorkflow(file string) (string, error) { return statemachines.Read(file) }

// counts are the decisions every CheckIAM saw, for Main's report.
var counts struct {
	sync.Mutex
	checks, judged, denied int
}

func iamCounts() (checks, judged, denied int) {
	counts.Lock()
	defer counts.Unlock()
	return counts.checks, counts.judged, counts.denied
}

// ExpectDenials makes CheckIAM count refusals without failing: the test shows a refusal itself.
func (d *Deployment) ExpectDenials() { d.expectDenials = true }

// CheckIAM makes t fail, when it ends, for every call the sandbox refused: a grant the construct
// lacks (a deployment with Ungranted functions, or told ExpectDenials, only counts them). It counts
// the decisions for Main's report.
func (d *Deployment) CheckIAM(t testing.TB) {
	t.Cleanup(func() {
		decisions := d.SB.Decisions()
		denied := 0
		for _, dec := range decisions {
			if dec.Allowed {
				continue
			}
			denied++
			if !d.expectDenials {
				t.Errorf("IAM refused %s %s of %s: %s", dec.Service, dec.Operation, dec.Session, dec.Message)
			}
		}
		counts.Lock()
		counts.checks++
		counts.judged += len(decisions)
		counts.denied += denied
		counts.Unlock()
		if err := record(decisions, d.actors); err != nil {
			t.Errorf("record the IAM decisions: %v", err)
		}
	})
}

// DecisionsDirVar names a directory: when set, each test binary of a kit writes every decision
// its tests' sandboxes made to <dir>/<binary>.jsonl (iamreport.TestDecision, one per line), so
// `strongroom iam-report -test-decisions DIR` counts the tests' uses of each grant beside the demo's.
// make test sets it to build/iam-decisions-tests.
const DecisionsDirVar = "STRONGROOM_IAM_DECISIONS_DIR"

// decisionsOut is where record writes (nil: nowhere), opened by Main.
var decisionsOut struct {
	sync.Mutex
	f *os.File
}

// openDecisions opens <DecisionsDirVar>/<name>.jsonl when the variable is set.
func openDecisions(name string) (close func(), err error) {
	dir := os.Getenv(DecisionsDirVar)
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", DecisionsDirVar, err)
	}
	f, err := os.Create(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", DecisionsDirVar, err)
	}
	decisionsOut.f = f
	return func() { _ = f.Close() }, nil
}

// record writes decisions, each with its role's actor, to the decisions file if one is open.
func record(decisions []sandbox.Decision, actors map[string]string) error {
	decisionsOut.Lock()
	defer decisionsOut.Unlock()
	if decisionsOut.f == nil {
		return nil
	}
	enc := json.NewEncoder(decisionsOut.f)
	for _, d := range decisions {
		if err := enc.Encode(iamreport.TestDecision{Decision: d, Actor: actors[d.Role]}); err != nil {
			return err
		}
	}
	return nil
}

// Statement is one Allow statement of a function's role in the function's own test.
type Statement struct{ Actions, Resources []string }

// EnforceIAM makes sb enforce IAM with the binary's judge (started by Main or WithJudge), for a
// function's own test (lambdas/*) that registers the function itself; FunctionRole then gives the
// function its role. When t ends it fails for every call the sandbox refused, unless expectDenials
// (the test shows a refusal itself), and counts the decisions for WithJudge's report.
func EnforceIAM(t testing.TB, sb *sandbox.Sandbox, expectDenials bool) {
	t.Helper()
	if judge == nil {
		t.Fatal("stacktest.EnforceIAM enforces IAM with the judge stacktest.Main or WithJudge starts: call one from TestMain")
	}
	sb.EnforceIAM(judge)
	d := &Deployment{SB: sb, expectDenials: expectDenials}
	d.CheckIAM(t)
}

// FunctionRole creates a role whose inline policy is statements (the actions the function's
// package declares, on the test's resources, as its stack grants them on the stack's) and binds
// the calls of the function principal (its registered name) to it, under EnforceIAM. When t ends
// it fails if no call of the role was judged: a function whose calls all went around the role
// proves nothing. It returns the role's ARN.
func FunctionRole(ctx context.Context, t testing.TB, sb *sandbox.Sandbox, cfg aws.Config, principal string, statements ...Statement) string {
	t.Helper()
	arn := newRole(ctx, t, cfg, roleName("test", principal), lambdaTrust, statements...)
	sb.BindRole(principal, arn)
	t.Cleanup(func() {
		for _, d := range sb.Decisions() {
			if d.Role == arn {
				return
			}
		}
		t.Errorf("no call of %s was judged under its role %s", principal, arn)
	})
	return arn
}

// WorkflowRole creates a state machine's role (trusting states.amazonaws.com) whose inline policy
// is statements, for a test's own state machine under EnforceIAM, and returns its ARN.
func WorkflowRole(ctx context.Context, t testing.TB, cfg aws.Config, name string, statements ...Statement) string {
	t.Helper()
	return newRole(ctx, t, cfg, name, statesTrust, statements...)
}

// newRole creates the role name trusting trust with statements as its inline policy.
func newRole(ctx context.Context, t testing.TB, cfg aws.Config, name, trust string, statements ...Statement) string {
	t.Helper()
	var stmts []map[string]any
	for _, s := range statements {
		stmts = append(stmts, map[string]any{"Effect": "Allow", "Action": s.Actions, "Resource": s.Resources})
	}
	arn, err := role(ctx, iam.NewFromConfig(cfg), name, trust, map[string]any{"Version": "2012-10-17", "Statement": stmts})
	if err != nil {
		t.Fatalf("create the role %s: %v", name, err)
	}
	return arn
}
