package stacktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
)

// Deployment is a workflow-backed custom resource standing in one sandbox, declared from the same
// definition (pkg/resourcedef) the CDK construct (infra/workflowresource) reads.
type Deployment struct {
	Def       *resourcedef.Resource
	SB        *sandbox.Sandbox
	Cfg       aws.Config
	StackName string
	// ARNs of the functions by name; Machines by workflow kind; Documents' names by pkg/hsmdocs name.
	ARNs      map[string]string
	Machines  map[string]string
	Documents map[string]string
	KeyARN    string
	RuleName  string
	// SecretPrefix names the resource's secrets, strongroom/<stack>/<construct id>, as the
	// construct's SecretPrefix does.
	SecretPrefix string
	// Definitions are the substituted ASL texts by kind.
	Definitions map[string]string
	// expectDenials is set when some function was deployed Ungranted.
	expectDenials bool
	// actors name what each role's ARN stands for in the report (iamreport's actors).
	actors map[string]string
}

// DeployOptions adjust a deployment.
type DeployOptions struct {
	// StackName names the stack in the driver's events and the resources' names.
	StackName string
	// Env adds environment variables to named functions (for example a crash hook).
	Env map[string]map[string]string
	// ConstructID is the construct's id, which the resource's logical id is in a stack and its
	// secret prefix names (strongroom/<stack>/<ConstructID>): the kits' default.
	ConstructID string
	// Inputs are the values of the definition's Input refs (resourcedef.Names.Inputs).
	Inputs map[string][]string
	// Instance adds grants to the client instance's role (for example the read of a cluster's
	// secrets the test made itself, which the cluster's stack grants on AWS).
	Instance []resourcedef.Grant
	// DocumentNames names documents (by pkg/hsmdocs name) the test creates itself, under these
	// names (for example one with a mistake in it); the functions are given and granted these.
	DocumentNames map[string]string
	// Without removes one grant (a grant matrix's case: grantmatrix.go).
	Without *GrantID
	// Ungranted names functions deployed with no grants at all (a test that shows a missing grant
	// is refused).
	Ungranted map[string]bool
}

// Deploy stands def up: its secrets key and documents, every function (the host binaries bins,
// with the definition's environment), every workflow from statemachines/ with its steps' ARNs,
// and the safety-net rule. logs receives every function's output (pass a Recorder.Writer so
// secret scans cover it).
func Deploy(ctx context.Context, sb *sandbox.Sandbox, cfg aws.Config, def *resourcedef.Resource, bins map[string]string, logs io.Writer, o DeployOptions) (*Deployment, error) {
	if err := def.Check(); err != nil {
		return nil, err
	}
	if o.ConstructID == "" {
		return nil, errors.New("stacktest.Deploy: DeployOptions.ConstructID is required (it names the resource's secrets)")
	}
	d := &Deployment{Def: def, SB: sb, Cfg: cfg, StackName: o.StackName, SecretPrefix: "strongroom/" + o.StackName + "/" + o.ConstructID,
		ARNs: map[string]string{}, Documents: map[string]string{},
		expectDenials: len(o.Ungranted) > 0 || o.Without != nil, actors: map[string]string{}}
	key, err := CreateKey(ctx, cfg, def.SecretsKey)
	if err != nil {
		return nil, err
	}
	d.KeyARN = key
	if judge == nil {
		return nil, errors.New("stacktest.Deploy enforces IAM with the judge stacktest.Main starts: call Main from TestMain")
	}
	sb.EnforceIAM(judge)
	for _, doc := range def.Documents {
		if name, ok := o.DocumentNames[doc]; ok {
			d.Documents[doc] = name
			continue
		}
		// CloudFormation names an AWS::SSM::Document without a Name <stack>-<logical id>-<suffix>;
		// the sandbox's SSM runs a document by its content, not its name.
		name := d.StackName + "-" + strings.TrimPrefix(doc, "Strongroom-") + "Document-SANDBOX"
		if err := CreateDocument(ctx, cfg, name, doc); err != nil {
			return nil, err
		}
		d.Documents[doc] = name
	}
	names := d.names(o)
	if err := d.instanceRole(ctx, names, without(def.Instance, InstanceFunction, o.Without), o.Instance); err != nil {
		return nil, err
	}
	reg := &Registrar{SB: sb, Bins: bins, Logs: logs, Extra: o.Env, ARNs: d.ARNs, Env: map[string]map[string]string{}}
	register := func(f resourcedef.Function) error {
		f.Grants = without(f.Grants, f.Name, o.Without)
		if o.Ungranted[f.Name] {
			f.Grants = nil
		}
		if err := d.functionRole(ctx, names, f); err != nil {
			return err
		}
		env := map[string]string{}
		for k, ref := range f.Env {
			v, err := d.value(ref)
			if err != nil {
				return fmt.Errorf("%s %s: %w", def.Type, f.Name, err)
			}
			env[k] = v
		}
		reg.Env[f.Name] = env
		return reg.Register(f.Name)
	}
	subs := map[string]string{}
	for _, s := range def.Steps {
		if err := register(s.Function); err != nil {
			return nil, err
		}
		subs[s.Placeholder] = d.ARNs[s.Name]
	}
	if err := d.workflowRoles(ctx, d.ARNs); err != nil {
		return nil, err
	}
	d.Machines, d.Definitions, err = StateMachines(ctx, cfg, sb.Account, d.StackName, def.Workflows, subs)
	if err != nil {
		return nil, err
	}
	for _, f := range []resourcedef.Function{def.Entry, def.SafetyNet, def.Health} {
		if f.Name == "" {
			continue // a resource with no health check
		}
		if err := register(f); err != nil {
			return nil, err
		}
	}
	var machines []string
	for _, k := range resourcedef.RequestKinds {
		machines = append(machines, d.Machines[k])
	}
	d.RuleName, err = SafetyNet(ctx, cfg, d.StackName, machines, d.ARNs[def.SafetyNet.Name])
	if err != nil {
		return nil, err
	}
	return d, nil
}

// value resolves an environment ref in the sandbox.
func (d *Deployment) value(ref resourcedef.Ref) (string, error) {
	switch ref.Kind {
	case resourcedef.Key:
		return d.KeyARN, nil
	case resourcedef.Document:
		if n, ok := d.Documents[ref.Arg]; ok {
			return n, nil
		}
	case resourcedef.StateMachine:
		if m, ok := d.Machines[ref.Arg]; ok {
			return m, nil
		}
	}
	return "", fmt.Errorf("cannot resolve %s in the sandbox", ref)
}

// Spec is the driver's resource for this deployment with props.
func (d *Deployment) Spec(logicalID string, props map[string]any) cloudformation.ResourceSpec {
	return cloudformation.ResourceSpec{
		StackName: d.StackName, LogicalResourceID: logicalID, ResourceType: d.Def.Type,
		ServiceToken: d.ARNs[d.Def.Entry.Name], Properties: props, ServiceTimeout: d.Def.ServiceTimeout,
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

// CheckHealth runs the resource's health check once, as its schedule rule does (health.Input:
// the resource's PhysicalResourceId and its properties), and returns the function's error.
func (d *Deployment) CheckHealth(ctx context.Context, physicalID string, props map[string]any) error {
	if d.Def.Health.Name == "" {
		return fmt.Errorf("%s has no health check", d.Def.Type)
	}
	in, err := json.Marshal(map[string]any{"ResourceId": physicalID, "Properties": props})
	if err != nil {
		return err
	}
	if out, err := d.SB.Lambda.Invoke(ctx, d.Def.Health.Name, in); err != nil {
		return fmt.Errorf("%s: %w: %s", d.Def.Health.Name, err, Reason(string(out), 300))
	}
	return nil
}

// Executions lists the executions of the workflow kind, newest first.
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

// MayCall says whether a function of def may make a call, from its IAM grants in the definition
// (the answer PUT to a pre-signed URL needs none, so the functions that answer may call S3): the
// fault matrices attribute recorded calls to functions with it (sandbox.CallSites).
func MayCall(def *resourcedef.Resource) sandbox.MayCall {
	actions := map[string]map[string]bool{}
	for _, f := range def.Functions() {
		m := map[string]bool{}
		for _, a := range f.Actions() {
			m[a] = true
		}
		actions[f.Name] = m
	}
	return func(fn, service, op string) bool {
		if service == "s3" {
			return fn == "cfn-answer" || fn == def.Entry.Name || fn == def.SafetyNet.Name
		}
		prefix := service
		if service == "cloudhsmv2" { // the sandbox's service id; IAM's prefix is cloudhsm
			prefix = "cloudhsm"
		}
		return actions[fn][prefix+":"+op]
	}
}
