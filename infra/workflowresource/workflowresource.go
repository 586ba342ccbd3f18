// Package workflowresource is the one CDK implementation of a workflow-backed custom resource,
// declared from its CDK-free definition (pkg/resourcedef): a Lambda function per step with exactly
// the definition's grants and environment, the state machines from statemachines/ with their
// ${Placeholder}s filled by the steps' ARNs (each may invoke only the steps its ASL names), the
// entry (service token), the safety net (an EventBridge rule on the request workflows' executions
// ending FAILED, TIMED_OUT or ABORTED, with a dead-letter queue), alarms on the workflows' failures
// and the safety net's dead letters, the customer-managed key for the
// resource's secrets, its SSM documents, and the custom resource itself. Given an alert relay
// (Props.AlertRelay), every workflow's executions that end without success also go to it, and its
// role may read their histories. infra/hsmcluster and infra/keystore add only what is theirs
// (properties, a client role's policy, a schedule).
//
// Least privilege: one role per function; a grant on "*" or on an ARN pattern carries the
// definition's reason as a cdk-nag suppression that names exactly its findings.
package workflowresource

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/dashboard"
	"github.com/strongroom/strongroom/infra/golambda"
	"github.com/strongroom/strongroom/infra/nagsuppress"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/statemachines"
)

// Props configure the declaration.
type Props struct {
	Definition *resourcedef.Resource
	// BuildDir holds prebuilt build/<function>/bootstrap files; empty bundles each function from
	// this module's sources (golambda.Bundle).
	BuildDir string
	// SecretPrefix names the resource's secrets: <SecretPrefix>/<suffix>.
	SecretPrefix string
	// ClientInstanceID is the client instance the documents run on (a token is fine); required
	// when a grant names the ClientInstance, so SendCommand reaches no other instance.
	ClientInstanceID *string
	// VpcID is the VPC of the cluster (a token is fine); required when a grant names the Vpc or
	// its security groups.
	VpcID *string
	// Inputs resolve the definition's Input refs to ARNs.
	Inputs map[string][]*string
	// Properties are the custom resource's (CloudFormation adds ServiceToken).
	Properties map[string]any
	// LogRetention of the functions' and state machines' logs; default three months.
	LogRetention awslogs.RetentionDays
	// AlarmTopic, when set, is notified by every alarm (and when it clears).
	AlarmTopic awssns.ITopic
	// AlertRelay, when set, is sent each workflow's executions that end FAILED, TIMED_OUT or
	// ABORTED (all the workflows, not only the request ones the safety net answers for; the
	// WorkflowAlertsRule, dead-lettering to the safety net's queue), and its role may read those
	// executions' histories (states:GetExecutionHistory, to name the state that failed), nothing
	// else. The rule, the invoke permission and the role's policy are declared here, so the
	// relay's stack (infra/alerts) does not reference this one.
	AlertRelay awslambda.IFunction
}

// WorkflowResource is what was declared.
type WorkflowResource struct {
	Resource      awscdk.CustomResource
	SecretsKey    awskms.Key
	StateMachines map[string]awsstepfunctions.StateMachine
	// Functions by lambdas/<name>: the steps, the entry and the safety net.
	Functions map[string]*golambda.Function
	Entry     *golambda.Function
	SafetyNet *golambda.Function
	// Health is the scheduled health check and HealthRule the rule that runs it every
	// resourcedef.HealthInterval; both nil when the definition has none.
	Health     *golambda.Function
	HealthRule awsevents.Rule
	// Documents by pkg/hsmdocs name.
	Documents map[string]awsssm.CfnDocument
	// Alarms watch the workflows (an execution failed, timed out or was aborted), the safety net
	// (a delivery dead-lettered: a request may be unanswered) and every function (its errors and
	// throttles; FunctionErrorThreshold).
	Alarms []awscloudwatch.Alarm
	// WorkflowLogs are the state machines' execution logs, by workflow kind.
	WorkflowLogs map[string]awslogs.LogGroup
	// Dashboard shows the alarms, the workflows' executions and the functions' errors, throttles
	// and durations, and the latest executions from the workflows' logs.
	Dashboard awscloudwatch.Dashboard
	// AlertsRule and AlertRelayPolicy are declared when Props.AlertRelay is set: the rule that
	// sends the workflows' failed executions to the relay, and the relay role's read of their
	// histories.
	AlertsRule       awsevents.Rule
	AlertRelayPolicy awsiam.Policy

	resolver *resolver
}

// Delivery settings of the rules' Lambda targets. EventBridge retries a delivery Lambda refuses
// (throttling, a missing permission) with backoff until the attempts or the event's age run out,
// then puts the event in the safety net's dead-letter queue. The safety net has two hours (its
// answer is what CloudFormation waits for, up to the custom resource's ServiceTimeout); an alert
// an hour late is better read in the queue, whose alarm notifies the alarm topic directly.
const (
	TargetRetryAttempts              = 20
	SafetyNetMaxEventAgeHours        = 2
	AlertRelayTargetMaxEventAgeHours = 1
)

// New declares the resource's parts directly under scope (so their logical ids are the scope's
// children's), then the custom resource "Resource".
func New(scope constructs.Construct, p Props) (*WorkflowResource, error) {
	def := p.Definition
	if def == nil {
		return nil, fmt.Errorf("workflowresource: Props.Definition is required")
	}
	if err := def.Check(); err != nil {
		return nil, err
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	w := &WorkflowResource{StateMachines: map[string]awsstepfunctions.StateMachine{},
		Functions: map[string]*golambda.Function{}, Documents: map[string]awsssm.CfnDocument{},
		WorkflowLogs: map[string]awslogs.LogGroup{}}
	stack := awscdk.Stack_Of(scope)
	r := &resolver{stack: stack, w: w, p: p}
	w.resolver = r

	w.SecretsKey = awskms.NewKey(scope, jsii.String("SecretsKey"), &awskms.KeyProps{
		Description:       jsii.String(def.SecretsKey),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	for _, name := range def.Documents {
		text, err := hsmdocs.Content(name)
		if err != nil {
			return nil, err
		}
		var content map[string]any
		if err := json.Unmarshal([]byte(text), &content); err != nil {
			return nil, fmt.Errorf("%s: document %s: %w", def.Type, name, err)
		}
		w.Documents[name] = awsssm.NewCfnDocument(scope, jsii.String(documentID(name)), &awsssm.CfnDocumentProps{
			DocumentType: jsii.String("Command"), DocumentFormat: jsii.String("JSON"), Content: content,
			UpdateMethod: jsii.String("NewVersion"),
		})
	}

	// Steps first: the state machines' substitutions need their ARNs.
	for _, s := range def.Steps {
		desc := s.Description
		if desc == "" {
			desc = "Strongroom " + def.Type + " step " + s.Name
		}
		fn, err := r.function(scope, FunctionID(s.Name), s.Function, desc, 60, 256)
		if err != nil {
			return nil, err
		}
		w.Functions[s.Name] = fn
	}
	subs := map[string]*string{}
	for _, s := range def.Steps {
		subs[s.Placeholder] = w.Functions[s.Name].Function.FunctionArn()
	}
	for _, wf := range def.Workflows {
		sm, err := r.stateMachine(scope, wf, subs)
		if err != nil {
			return nil, err
		}
		w.StateMachines[wf.Kind] = sm
	}
	// Then the functions whose environment or grants name the state machines.
	var err error
	if w.Entry, err = r.function(scope, "Entry", def.Entry, def.Entry.Description, 0, 0); err != nil {
		return nil, err
	}
	if w.SafetyNet, err = r.function(scope, "SafetyNet", def.SafetyNet, def.SafetyNet.Description, 0, 0); err != nil {
		return nil, err
	}
	w.Functions[def.Entry.Name], w.Functions[def.SafetyNet.Name] = w.Entry, w.SafetyNet
	if def.Health.Name != "" {
		if w.Health, err = r.function(scope, "Health", def.Health, def.Health.Description, 60, 256); err != nil {
			return nil, err
		}
		w.Functions[def.Health.Name] = w.Health
	}
	dlq, safetyNet := r.safetyNetRule(scope)
	if p.AlertRelay != nil {
		if err := r.alertRelay(scope, dlq); err != nil {
			return nil, err
		}
	}
	r.alarms(scope, dlq)
	r.dashboard(scope)

	props := map[string]any{}
	for k, v := range p.Properties {
		props[k] = v
	}
	w.Resource = awscdk.NewCustomResource(scope, jsii.String("Resource"), &awscdk.CustomResourceProps{
		ServiceToken:   w.Entry.Function.FunctionArn(),
		ResourceType:   jsii.String(def.Type),
		Properties:     &props,
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(def.ServiceTimeout.Seconds())),
	})
	// The workflows must exist, with their permissions, before CloudFormation sends the first request.
	// So must the safety net (its rule with the rule's permission to invoke it, its function and role)
	// and the alerts rule: a workflow that fails before it can answer (one whose role cannot invoke its
	// answer step) is answered only by the safety net, and CloudFormation would otherwise create them
	// beside the resource, possibly after its first workflow ended, and the sandbox's deploy, which
	// goes in dependency order, always after (cmd/strongroom/iam_mutation_test.go found it: the
	// Create went unanswered until its ServiceTimeout).
	deps := []constructs.IDependable{w.Entry.Function, w.Entry.Role, safetyNet, w.SafetyNet.Function, w.SafetyNet.Role}
	if w.AlertsRule != nil {
		deps = append(deps, w.AlertsRule)
	}
	w.Resource.Node().AddDependency(deps...)
	r.healthRule(scope, props)
	return w, nil
}

// healthRule runs the health check on a schedule, with the resource's PhysicalResourceId (its Ref)
// and its properties as the input (health.Input), so the check follows the resource through
// updates. The rule refers to the resource, so it is created after the Create workflow answered
// and deleted before the Delete workflow starts. A delivery that fails is not dead-lettered: the
// next run is five minutes away, and the function's alarm reports a check that keeps failing.
func (r *resolver) healthRule(scope constructs.Construct, props map[string]any) {
	if r.w.Health == nil {
		return
	}
	r.w.HealthRule = awsevents.NewRule(scope, jsii.String("HealthCheckRule"), &awsevents.RuleProps{
		Description: jsii.String("Strongroom " + r.p.Definition.Noun + " health check"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(resourcedef.HealthInterval.Minutes()))),
	})
	r.w.HealthRule.AddTarget(awseventstargets.NewLambdaFunction(r.w.Health.Function, &awseventstargets.LambdaFunctionProps{
		Event: awsevents.RuleTargetInput_FromObject(map[string]any{
			"ResourceId": r.w.Resource.Ref(), "Properties": props,
		}),
		RetryAttempts: jsii.Number(2),
		MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(resourcedef.HealthInterval.Minutes())),
	}))
}

// FunctionID is the construct id of lambdas/<name>: "cluster-sign" -> "ClusterSign".
func FunctionID(name string) string {
	out := []rune{}
	up := true
	for _, r := range name {
		if r == '-' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		out = append(out, r)
	}
	return string(out)
}

// documentID is the construct id of a document: "Strongroom-CreateCryptoUser" -> "CreateCryptoUserDocument".
func documentID(name string) string {
	const prefix = "Strongroom-"
	if len(name) > len(prefix) && name[:len(prefix)] == prefix {
		name = name[len(prefix):]
	}
	return FunctionID(name) + "Document"
}

// resolver turns the definition's refs into ARNs and values of this stack.
type resolver struct {
	stack awscdk.Stack
	w     *WorkflowResource
	p     Props
}

// names are the stack's names for the definition's refs, as far as declared so far (the state
// machines once declared): CloudFormation tokens in string form, resolved by resourcedef.Names.
func (r *resolver) names() resourcedef.Names {
	n := resourcedef.Names{
		Partition: *r.stack.Partition(), Region: *r.stack.Region(), Account: *r.stack.Account(),
		SecretPrefix: r.p.SecretPrefix, Documents: map[string]string{},
		StateMachines: map[string]resourcedef.StateMachineName{}, Inputs: map[string][]string{},
	}
	if r.w.SecretsKey != nil {
		n.KeyARN = *r.w.SecretsKey.KeyArn()
	}
	for name, d := range r.w.Documents {
		n.Documents[name] = *d.Ref()
	}
	if r.p.ClientInstanceID != nil {
		n.ClientInstanceID = *r.p.ClientInstanceID
	}
	if r.p.VpcID != nil {
		n.VpcID = *r.p.VpcID
	}
	for kind, sm := range r.w.StateMachines {
		n.StateMachines[kind] = resourcedef.StateMachineName{ARN: *sm.StateMachineArn(), Name: *sm.StateMachineName()}
	}
	for k, v := range r.p.Inputs {
		for _, s := range v {
			n.Inputs[k] = append(n.Inputs[k], *s)
		}
	}
	return n
}

// findings are the cdk-nag findings the ARN a ref resolves to raises, which the grant's reason
// must cover: IAM5 flags "*" in a resource (a secret's "-??????" pattern is not flagged).
func (r *resolver) findings(ref resourcedef.Ref) []string {
	switch ref.Kind {
	case resourcedef.Any:
		return []string{"Resource::*"}
	case resourcedef.Clusters:
		return []string{"Resource::" + nagsuppress.ARN(r.stack, "cloudhsm", "cluster/*")}
	case resourcedef.VpcSecurityGroups, resourcedef.NewSecurityGroups:
		return []string{"Resource::" + nagsuppress.ARN(r.stack, "ec2", "security-group/*")}
	case resourcedef.Executions:
		// The machine's Name attribute, which cdk-nag prints as <LogicalId.Name>, so a suppression
		// can name this exact finding.
		sm := r.w.StateMachines[ref.Arg]
		logical := r.stack.GetLogicalId(sm.Node().DefaultChild().(awscdk.CfnElement))
		return []string{"Resource::" + nagsuppress.ARN(r.stack, "states", "execution:<"+*logical+".Name>:*")}
	}
	return nil
}

// statement resolves g against names into a policy statement, with the cdk-nag findings its
// wildcards raise (its Why must cover them).
func (r *resolver) statement(names resourcedef.Names, g resourcedef.Grant) (awsiam.PolicyStatement, []string, error) {
	st, err := names.Statement(g)
	if err != nil {
		return nil, nil, err
	}
	props := &awsiam.PolicyStatementProps{Actions: jsii.Strings(st.Actions...), Resources: jsii.Strings(st.Resources...)}
	if st.Condition != nil {
		cond := map[string]any{}
		for op, kv := range st.Condition {
			cond[op] = kv
		}
		props.Conditions = &cond
	}
	var findings []string
	for _, on := range g.On {
		findings = append(findings, r.findings(on)...)
	}
	return awsiam.NewPolicyStatement(props), findings, nil
}

// statements declares grants as statements of role's policy, each wildcard's reason a cdk-nag
// suppression on role.
func (r *resolver) statements(role awsiam.IRole, grants []resourcedef.Grant) error {
	names := r.names()
	for _, g := range grants {
		st, findings, err := r.statement(names, g)
		if err != nil {
			return err
		}
		role.AddToPrincipalPolicy(st)
		if len(findings) > 0 {
			nagsuppress.Add(role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5", Reason: g.Why, AppliesTo: findings})
		}
	}
	return nil
}

// InstanceStatements are the definition's Instance grants as policy statements, for the client
// instance's role (which the construct's user owns). Such a grant names no wildcard cdk-nag flags:
// one that did is refused, since its suppression would belong on a role of another construct.
func (w *WorkflowResource) InstanceStatements() ([]awsiam.PolicyStatement, error) {
	r := w.resolver
	names := r.names()
	var out []awsiam.PolicyStatement
	for _, g := range r.p.Definition.Instance {
		st, findings, err := r.statement(names, g)
		if err != nil {
			return nil, fmt.Errorf("%s client instance grant: %w", r.p.Definition.Type, err)
		}
		if len(findings) > 0 {
			return nil, fmt.Errorf("%s client instance grant of %v names a wildcard (%v): name the resources", r.p.Definition.Type, g.Actions, findings)
		}
		out = append(out, st)
	}
	return out, nil
}

// value resolves an Env ref.
func (r *resolver) value(ref resourcedef.Ref) (*string, error) {
	switch ref.Kind {
	case resourcedef.Key:
		return r.w.SecretsKey.KeyArn(), nil
	case resourcedef.Document:
		d, ok := r.w.Documents[ref.Arg]
		if !ok {
			return nil, fmt.Errorf("document %s is not among the definition's Documents", ref.Arg)
		}
		return d.Ref(), nil
	case resourcedef.StateMachine:
		sm, ok := r.w.StateMachines[ref.Arg]
		if !ok {
			return nil, fmt.Errorf("no %s workflow", ref.Arg)
		}
		return sm.StateMachineArn(), nil
	}
	return nil, fmt.Errorf("%s cannot be an environment value", ref)
}

// function declares one function with its environment and grants.
func (r *resolver) function(scope constructs.Construct, id string, f resourcedef.Function, desc string, timeout, memory float64) (*golambda.Function, error) {
	fail := func(err error) (*golambda.Function, error) {
		return nil, fmt.Errorf("%s function %s: %w", r.p.Definition.Type, f.Name, err)
	}
	env := map[string]*string{}
	names := make([]string, 0, len(f.Env))
	for k := range f.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, err := r.value(f.Env[k])
		if err != nil {
			return fail(err)
		}
		env[k] = v
	}
	props := golambda.Props{
		AssetDir: golambda.Prebuilt(r.p.BuildDir, f.Name), Bundle: f.Name,
		Description: desc, Environment: env, LogRetention: r.p.LogRetention,
	}
	if len(env) == 0 {
		props.Environment = nil
	}
	if timeout > 0 {
		props.Timeout = awscdk.Duration_Seconds(jsii.Number(timeout))
		props.MemorySize = memory
	}
	fn, err := golambda.New(scope, id, props)
	if err != nil {
		return nil, err
	}
	if err := r.statements(fn.Role, f.Grants); err != nil {
		return fail(err)
	}
	return fn, nil
}

// stateMachine declares one workflow from its embedded ASL file.
func (r *resolver) stateMachine(scope constructs.Construct, wf resourcedef.Workflow, subs map[string]*string) (awsstepfunctions.StateMachine, error) {
	def := r.p.Definition
	asl, err := statemachines.Read(wf.File)
	if err != nil {
		return nil, err
	}
	steps, err := def.StepsOf(asl)
	if err != nil {
		return nil, err
	}
	logs := awslogs.NewLogGroup(scope, jsii.String(wf.Kind+"WorkflowLogs"), &awslogs.LogGroupProps{Retention: r.p.LogRetention})
	r.w.WorkflowLogs[wf.Kind] = logs
	// The ASL is inlined (not uploaded as an asset) so the template shows exactly what runs and
	// the sandbox can load it from cdk.out.
	sm := awsstepfunctions.NewStateMachine(scope, jsii.String(wf.Kind+"Workflow"), &awsstepfunctions.StateMachineProps{
		Comment:                 jsii.String("Strongroom " + def.Type + " " + wf.Kind),
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(asl)),
		DefinitionSubstitutions: &subs,
		TracingEnabled:          jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Payloads carry ids and secret ARNs only, never a secret, so they may be logged.
			IncludeExecutionData: jsii.Bool(true),
		},
	})
	// Each workflow may invoke only the steps its ASL file names.
	var invokes []string
	for _, s := range steps {
		fn := r.w.Functions[s.Name]
		fn.Function.GrantInvoke(sm)
		logical := r.stack.GetLogicalId(fn.Function.Node().DefaultChild().(awscdk.CfnElement))
		invokes = append(invokes, fmt.Sprintf("Resource::<%s.Arn>:*", *logical))
	}
	nagsuppress.Add(sm, true, nagsuppress.Rule{
		ID: "AwsSolutions-IAM5", AppliesTo: invokes,
		Reason: "lambda:InvokeFunction on a function's versions and aliases (ARN:*) is how CDK grants invoke; the functions are the steps this workflow's ASL names.",
	}, nagsuppress.Rule{
		ID: "AwsSolutions-IAM5", AppliesTo: []string{"Resource::*"},
		Reason: "X-Ray and CloudWatch Logs delivery actions of a state machine accept no resource ARNs.",
	})
	return sm, nil
}

// safetyNetRule sends the request workflows' executions that ended without success to the
// safety net, with a dead-letter queue for deliveries that still fail.
func (r *resolver) safetyNetRule(scope constructs.Construct) (awssqs.Queue, awsevents.Rule) {
	// SSE-SQS, not the AWS managed key alias/aws/sqs: EventBridge sends dead letters as
	// events.amazonaws.com, which that key's policy (fixed by AWS: the account's principals through
	// SQS only) does not let use it, so every dead letter would be lost (infra/main_test.go
	// checkDeadLetterQueuesAcceptEventBridge).
	dlq := awssqs.NewQueue(scope, jsii.String("SafetyNetDLQ"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nagsuppress.Add(dlq, true, nagsuppress.Rule{ID: "AwsSolutions-SQS3", Reason: "this queue is itself the dead-letter queue of the safety net's deliveries."})
	var arns []*string
	for _, k := range resourcedef.RequestKinds {
		arns = append(arns, r.w.StateMachines[k].StateMachineArn())
	}
	rule := awsevents.NewRule(scope, jsii.String("SafetyNetRule"), &awsevents.RuleProps{
		Description: jsii.String("Strongroom " + r.p.Definition.Noun + " workflows that ended FAILED, TIMED_OUT or ABORTED"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings("Step Functions Execution Status Change"),
			Detail: &map[string]any{
				"status":          []string{"FAILED", "TIMED_OUT", "ABORTED"},
				"stateMachineArn": arns,
			},
		},
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(r.w.SafetyNet.Function, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(SafetyNetMaxEventAgeHours)),
		RetryAttempts:   jsii.Number(TargetRetryAttempts),
	}))
	return dlq, rule
}

// alertRelay sends every workflow's executions that ended without success to Props.AlertRelay,
// whose deliveries that still fail go to the safety net's dead-letter queue, and lets the relay's
// role read those executions' histories. Both are this stack's: the Lambda permission CDK adds for
// the rule is placed with the rule, and the policy is attached to the relay's role by name.
func (r *resolver) alertRelay(scope constructs.Construct, dlq awssqs.Queue) error {
	def := r.p.Definition
	relay := r.p.AlertRelay
	if relay.Role() == nil {
		return fmt.Errorf("%s: Props.AlertRelay has no role to grant the read of the workflows' histories", def.Type)
	}
	var machines, executions []*string
	var findings []string
	for _, wf := range def.Workflows {
		sm := r.w.StateMachines[wf.Kind]
		machines = append(machines, sm.StateMachineArn())
		ref := resourcedef.Ref{Kind: resourcedef.Executions, Arg: wf.Kind}
		arns, err := r.names().ARNs(ref)
		if err != nil {
			return err
		}
		executions = append(executions, *jsii.Strings(arns...)...)
		findings = append(findings, r.findings(ref)...)
	}
	r.w.AlertsRule = awsevents.NewRule(scope, jsii.String("WorkflowAlertsRule"), &awsevents.RuleProps{
		Description: jsii.String("Strongroom " + def.Noun + " workflows that ended FAILED, TIMED_OUT or ABORTED, to the alert relay"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings("Step Functions Execution Status Change"),
			Detail: &map[string]any{
				"status":          []string{"FAILED", "TIMED_OUT", "ABORTED"},
				"stateMachineArn": machines,
			},
		},
	})
	r.w.AlertsRule.AddTarget(awseventstargets.NewLambdaFunction(relay, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(AlertRelayTargetMaxEventAgeHours)),
		RetryAttempts:   jsii.Number(TargetRetryAttempts),
	}))
	policy := awsiam.NewPolicy(scope, jsii.String("WorkflowAlertsRelayPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{relay.Role()},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(trailalert.HistoryActions...), Resources: &executions,
		})},
	})
	// An inline policy's name must be unique on its role, and CDK names it after its logical id,
	// which leaves out the stack: two stacks with the same construct path would collide on the
	// relay's role. The name from the whole path (stack included) cannot.
	policy.Node().DefaultChild().(awsiam.CfnPolicy).SetPolicyName(awscdk.Names_UniqueResourceName(policy,
		&awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(128)}))
	nagsuppress.Add(policy, true, nagsuppress.Rule{
		ID: "AwsSolutions-IAM5", AppliesTo: findings,
		Reason: "states:GetExecutionHistory on the executions of this resource's workflows (execution:<machine name>:*): the alert relay reads the history of whichever execution failed, and execution names are chosen when each starts.",
	})
	r.w.AlertRelayPolicy = policy
	return nil
}

// alarms declares the resource's alarms: each workflow's failed, timed-out and aborted executions,
// the safety net's dead-letter queue, and each function's errors and throttles. Any one means a
// person should look: a CloudFormation request may have failed, or, for the queue, may be waiting
// for its answer (or, with an alert relay, a workflow's failure may not have been mailed); a
// function's alarm comes before its workflow fails (FunctionErrorThreshold). An alarm on two
// metrics is billed as two (about 0.20 USD a month).
func (r *resolver) alarms(scope constructs.Construct, dlq awssqs.Queue) {
	add := func(id, desc string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(desc),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if r.p.AlarmTopic != nil {
			action := awscloudwatchactions.NewSnsAction(r.p.AlarmTopic)
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
		r.w.Alarms = append(r.w.Alarms, a)
	}
	def := r.p.Definition
	five := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	for _, wf := range def.Workflows {
		sm := r.w.StateMachines[wf.Kind]
		add(wf.Kind+"WorkflowFailedAlarm",
			fmt.Sprintf("Strongroom %s %s workflow: an execution failed, timed out or was aborted; its history says where and why", def.Type, wf.Kind),
			awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String("failed + timedOut + aborted"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{
					"failed": sm.MetricFailed(five), "timedOut": sm.MetricTimedOut(five), "aborted": sm.MetricAborted(five),
				},
				Period: awscdk.Duration_Minutes(jsii.Number(5)),
			}), 1)
	}
	deadLetter := fmt.Sprintf("Strongroom %s safety net: a delivery was dead-lettered, so a CloudFormation request may be waiting for its answer", def.Type)
	if r.p.AlertRelay != nil {
		deadLetter = fmt.Sprintf("Strongroom %s: a delivery to the safety net or the alert relay was dead-lettered, so a CloudFormation request may be waiting for its answer, or a workflow failure alert may not have been mailed", def.Type)
	}
	add("SafetyNetDeadLetterAlarm", deadLetter,
		dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}), 1)
	for _, f := range r.functions() {
		threshold, why := float64(FunctionErrorThreshold), fmt.Sprintf("%d or more errors or throttles in 5 minutes: its state's retries are being used up (a workflow fails after %d attempts; the function's log says why)", FunctionErrorThreshold, stepAttempts)
		switch f.fn {
		case r.w.Entry, r.w.SafetyNet:
			threshold, why = 1, "an error or throttle: nothing retries it, so a CloudFormation request may be waiting for its answer (the function's log says why)"
		case r.w.Health:
			threshold, why = 1, "an error or throttle: a health check did not run, so the resource went unwatched until its next run (the function's log says why)"
		}
		add(f.id+"ErrorsAlarm", fmt.Sprintf("Strongroom %s function %s: %s", def.Type, f.name, why),
			awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String("errors + throttles"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{
					"errors": f.fn.Function.MetricErrors(five), "throttles": f.fn.Function.MetricThrottles(five),
				},
				Period: awscdk.Duration_Minutes(jsii.Number(5)),
			}), threshold)
	}
}

// FunctionErrorThreshold is how many errors and throttles of a step function in 5 minutes raise
// its alarm: half the attempts a state makes (stepAttempts), so a retried transient error stays
// quiet and a state that is using its retries up is seen before its workflow fails (which the
// workflow's own alarm reports). The entry and the safety net alarm on one: nothing retries them.
const FunctionErrorThreshold = 3

// stepAttempts is how many times a state runs its step: once, plus the MaxAttempts (6) of the Retry
// every Task state of statemachines/*.asl.json has; TestFunctionAlarms checks the files agree.
const stepAttempts = 7

// namedFunction is one of the resource's functions with its construct id and lambdas/ name.
type namedFunction struct {
	id, name string
	fn       *golambda.Function
}

// functions lists the steps (in definition order), then the entry and the safety net.
func (r *resolver) functions() []namedFunction {
	def := r.p.Definition
	var out []namedFunction
	for _, s := range def.Steps {
		out = append(out, namedFunction{FunctionID(s.Name), s.Name, r.w.Functions[s.Name]})
	}
	out = append(out, namedFunction{"Entry", def.Entry.Name, r.w.Entry}, namedFunction{"SafetyNet", def.SafetyNet.Name, r.w.SafetyNet})
	if r.w.Health != nil {
		out = append(out, namedFunction{"Health", def.Health.Name, r.w.Health})
	}
	return out
}

// dashboard declares the resource's CloudWatch dashboard: its alarms' states; each workflow's
// executions started, succeeded, failed, timed out and aborted; the functions' errors, throttles
// and p99 durations; and the latest executions' starts and ends from the workflows' logs.
func (r *resolver) dashboard(scope constructs.Construct) {
	def := r.p.Definition
	sum := dashboard.Options("Sum", "")
	var executions []awscloudwatch.IWidget
	var logGroups []*string
	for _, wf := range def.Workflows {
		sm := r.w.StateMachines[wf.Kind]
		executions = append(executions, dashboard.Graph(wf.Kind+" workflow executions", dashboard.Width/len(def.Workflows),
			[]awscloudwatch.IMetric{sm.MetricStarted(sum), sm.MetricSucceeded(sum), sm.MetricFailed(sum), sm.MetricTimedOut(sum), sm.MetricAborted(sum)}))
		logGroups = append(logGroups, r.w.WorkflowLogs[wf.Kind].LogGroupName())
	}
	var fns []dashboard.Function
	for _, f := range r.functions() {
		fns = append(fns, dashboard.Function{Name: f.name, Function: f.fn.Function})
	}
	// Step Functions writes each history event as one JSON log line with type and execution_arn.
	latest := awscloudwatch.NewLogQueryWidget(&awscloudwatch.LogQueryWidgetProps{
		Title: jsii.String("Latest executions (starts and ends)"), Width: jsii.Number(dashboard.Width), Height: jsii.Number(8),
		LogGroupNames: &logGroups,
		QueryLines: jsii.Strings(
			"fields @timestamp, type, execution_arn",
			`filter type in ["ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"]`,
			"sort @timestamp desc",
			"limit 50",
		),
	})
	r.w.Dashboard = dashboard.New(scope, "Dashboard",
		dashboard.Alarms(r.w.Alarms), &executions, dashboard.Functions(fns), dashboard.Row(latest))
}
