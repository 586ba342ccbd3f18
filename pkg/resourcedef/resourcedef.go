// Package resourcedef describes each workflow-backed custom resource once, as data free of the
// CDK: its Lambda functions (the service-token entry, the steps, the safety net), each function's
// environment and IAM grants, its state machines and the ${Placeholder}s that wire steps into them.
// The CDK construct (infra/workflowresource) and the sandbox harness
// (pkg/sandbox/testkit/stacktest) both read it, so what is tested is what is deployed.
//
// A newcomer finds a step's code in lambdas/<function> and pkg/<package>/<step>.go, its ASL state
// in statemachines/<workflow file> (by its ${Placeholder}), and its grant here, in cluster.go or
// keystore.go, next to the function's name.
package resourcedef

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Resource is one workflow-backed custom resource type.
type Resource struct {
	// Type is the CloudFormation type, for example "Custom::CloudHsmCluster".
	Type string
	// Noun names the resource in descriptions ("cluster", "key store").
	Noun string
	// ServiceTimeout is the custom resource's ServiceTimeout: CloudFormation gives up on an answer
	// after it. Every request workflow times out earlier (TimeoutSeconds in its ASL file) so the
	// safety net answers first.
	ServiceTimeout time.Duration
	// Entry is the service token: it validates the request and starts the request's workflow.
	Entry Function
	// SafetyNet answers FAILED for a request workflow that ended without answering.
	SafetyNet Function
	// Health is the scheduled health check (pkg/health): a rule invokes it every HealthInterval
	// with the resource's PhysicalResourceId and properties (health.Input), and it sends its
	// findings to the default event bus. Empty Name: the resource has none.
	Health Function
	// Steps are the functions the workflows invoke, each through its Placeholder.
	Steps []Step
	// Workflows are the state machines.
	Workflows []Workflow
	// SecretsKey describes the customer-managed KMS key the resource's secrets are encrypted with.
	SecretsKey string
	// Documents are the SSM Command documents (pkg/hsmdocs names) the resource creates.
	Documents []string
	// Instance are the grants the client instance's role needs to run the Documents: the
	// documents read the resource's secrets on the instance. The construct's user gives the role
	// (infra/hsmcluster's stack, infra/keystore's ClientRole).
	Instance []Grant
}

// Function is one Lambda function: lambdas/<Name>, its environment and its grants.
type Function struct {
	Name string
	// Description is the function's; empty means "Strongroom <Type> step <Name>".
	Description string
	// Env maps each environment variable to the value it carries (never a secret: names and ARNs).
	Env map[string]Ref
	// Grants are everything the function's role may do; each is used by some call of the function.
	Grants []Grant
}

// Step is a function a workflow invokes through ${Placeholder}.
type Step struct {
	Function
	Placeholder string
}

// Workflow is one state machine.
type Workflow struct {
	// Kind is "Create", "Update" or "Delete" for a request workflow, or another name ("Rotate").
	Kind string
	// File is the ASL file in statemachines/.
	File string
}

// RequestKinds are the workflows the entry starts, one per CloudFormation request type, and the
// ones the safety net watches.
var RequestKinds = []string{"Create", "Update", "Delete"}

// IsRequest tells whether w answers a CloudFormation request.
func (w Workflow) IsRequest() bool {
	for _, k := range RequestKinds {
		if w.Kind == k {
			return true
		}
	}
	return false
}

// Grant is one IAM policy statement of a function's role.
type Grant struct {
	Actions []string
	On      []Ref
	// Condition is an IAM condition block (operator -> key -> value), or nil.
	Condition map[string]map[string]string
	// Why is required when On holds a wildcard or a pattern (Any, Clusters, Secret,
	// VpcSecurityGroups, NewSecurityGroups, Executions): the reviewer's and cdk-nag's reason that nothing narrower
	// exists.
	Why string
}

// RefKind names what a Ref points at.
type RefKind string

// The kinds of Ref. The construct resolves each to an ARN (for grants) or a value (for Env).
const (
	// Any is "*": the action accepts no resource ARN.
	Any RefKind = "any"
	// Clusters are this account and region's CloudHSM clusters (ids are chosen by CloudHSM).
	Clusters RefKind = "clusters"
	// Secret is one of this resource's secrets, by name suffix under its secret prefix
	// (strongroom/<stack>/<construct id>/<Arg>); ARNs end in a random six-character suffix.
	Secret RefKind = "secret"
	// MissingSecret is the ARN Secrets Manager authorizes a call on when no secret of that name
	// exists: the name with no suffix. No secret has that ARN, so it grants nothing on a secret
	// that exists; it lets a step that deletes by name learn that the secret is gone
	// (ResourceNotFoundException) instead of being refused (AccessDeniedException).
	MissingSecret RefKind = "missing-secret"
	// Key is the resource's own customer-managed KMS key (SecretsKey).
	Key RefKind = "key"
	// Document is one of the resource's SSM documents (Arg: its pkg/hsmdocs name). In Env it is
	// the document's name.
	Document RefKind = "document"
	// ClientInstance is the EC2 client instance given to the resource (its id may be a token of
	// another stack); a construct without one cannot be declared.
	ClientInstance RefKind = "client-instance"
	// Vpc is the VPC the resource's cluster lives in (vpc/<id>).
	Vpc RefKind = "vpc"
	// VpcSecurityGroups are the security groups of that VPC: security-group/* under an
	// ArnEquals ec2:Vpc condition naming it, so a grant cannot touch a group of another VPC. Such
	// a grant names no other resource (the condition is the statement's).
	VpcSecurityGroups RefKind = "vpc-security-groups"
	// NewSecurityGroups is security-group/* with no condition: the group CreateSecurityGroup
	// makes, whose id does not exist yet. Pair it with Vpc, which says where it may be made.
	NewSecurityGroups RefKind = "new-security-groups"
	// ServiceLinkedRole is the service-linked role of the service Arg (for example cloudhsm).
	ServiceLinkedRole RefKind = "service-linked-role"
	// Input is a value the construct's user supplies (Arg names it), such as another resource's
	// secret ARN or the keys that encrypt it.
	Input RefKind = "input"
	// StateMachine is the workflow of kind Arg; Executions are its executions.
	StateMachine RefKind = "state-machine"
	Executions   RefKind = "executions"
	// DefaultEventBus is this account and region's default event bus, where health findings go.
	DefaultEventBus RefKind = "default-event-bus"
)

// HealthInterval is how often a resource's health check runs. Five minutes keeps a key store that
// dropped its connection from going unseen for long; it is 8,640 invocations a month, within
// Lambda's free tier for most accounts.
const HealthInterval = 5 * time.Minute

// Ref points at a resource.
type Ref struct {
	Kind RefKind
	Arg  string
}

// Wildcard tells whether the ARN the Ref resolves to holds a "*" or a pattern, so its grant
// needs a reason.
func (r Ref) Wildcard() bool {
	switch r.Kind {
	case Any, Clusters, Secret, VpcSecurityGroups, NewSecurityGroups, Executions:
		return true
	}
	return false
}

func (r Ref) String() string {
	if r.Arg == "" {
		return string(r.Kind)
	}
	return string(r.Kind) + "(" + r.Arg + ")"
}

// Functions are every function of the resource: the entry, the steps, the safety net and the
// health check, by name.
func (r *Resource) Functions() []Function {
	out := []Function{r.Entry, r.SafetyNet}
	if r.Health.Name != "" {
		out = append(out, r.Health)
	}
	for _, s := range r.Steps {
		out = append(out, s.Function)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FunctionNames are the lambdas/<name> of Functions.
func (r *Resource) FunctionNames() []string {
	var out []string
	for _, f := range r.Functions() {
		out = append(out, f.Name)
	}
	return out
}

// Placeholders maps each ${Placeholder} to its step's function name.
func (r *Resource) Placeholders() map[string]string {
	out := make(map[string]string, len(r.Steps))
	for _, s := range r.Steps {
		out[s.Placeholder] = s.Name
	}
	return out
}

// Workflow returns the workflow of kind.
func (r *Resource) Workflow(kind string) (Workflow, bool) {
	for _, w := range r.Workflows {
		if w.Kind == kind {
			return w, true
		}
	}
	return Workflow{}, false
}

// placeholderRE finds the ${Placeholder}s of an ASL text.
var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z]+)\}`)

// PlaceholdersIn lists the distinct ${Placeholder}s an ASL text uses, sorted.
func PlaceholdersIn(asl string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(asl, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// StepsOf returns the steps an ASL text invokes, or an error naming a placeholder no step fills.
func (r *Resource) StepsOf(asl string) ([]Step, error) {
	byPlaceholder := map[string]Step{}
	for _, s := range r.Steps {
		byPlaceholder[s.Placeholder] = s
	}
	var out []Step
	for _, p := range PlaceholdersIn(asl) {
		s, ok := byPlaceholder[p]
		if !ok {
			return nil, fmt.Errorf("%s: ${%s} names no step; add a Step with that Placeholder in pkg/resourcedef", r.Type, p)
		}
		out = append(out, s)
	}
	return out, nil
}

// Check verifies the definition against itself: unique names and placeholders, a reason on every
// wildcard grant, every grant with an action and a resource, the request workflows present.
func (r *Resource) Check() error {
	var problems []string
	seen := map[string]bool{}
	for _, f := range r.Functions() {
		if seen[f.Name] {
			problems = append(problems, "function "+f.Name+" is declared twice")
		}
		seen[f.Name] = true
		for i, g := range f.Grants {
			if len(g.Actions) == 0 || len(g.On) == 0 {
				problems = append(problems, fmt.Sprintf("%s grant %d: needs actions and resources", f.Name, i))
			}
			for _, a := range g.Actions {
				if strings.Contains(a, "*") {
					problems = append(problems, fmt.Sprintf("%s grant %d: wildcard action %q", f.Name, i, a))
				}
			}
			for _, on := range g.On {
				if on.Wildcard() && g.Why == "" {
					problems = append(problems, fmt.Sprintf("%s grant %d on %s: a wildcard or pattern needs Why", f.Name, i, on))
				}
				if on.Kind == VpcSecurityGroups && (len(g.On) > 1 || g.Condition != nil) {
					problems = append(problems, fmt.Sprintf("%s grant %d: %s carries its own condition; give it a grant of its own", f.Name, i, on))
				}
			}
		}
	}
	ph := map[string]bool{}
	for _, s := range r.Steps {
		if s.Placeholder == "" || ph[s.Placeholder] {
			problems = append(problems, fmt.Sprintf("step %s: placeholder %q is empty or taken", s.Name, s.Placeholder))
		}
		ph[s.Placeholder] = true
	}
	for _, k := range RequestKinds {
		if _, ok := r.Workflow(k); !ok {
			problems = append(problems, "no "+k+" workflow")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s definition: %s", r.Type, strings.Join(problems, "; "))
	}
	return nil
}

// Actions are every action r's functions are granted, sorted and distinct.
func (f Function) Actions() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range f.Grants {
		for _, a := range g.Actions {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Shorthands for the definitions.
func on(kind RefKind, arg ...string) Ref {
	r := Ref{Kind: kind}
	if len(arg) > 0 {
		r.Arg = arg[0]
	}
	return r
}

func grant(actions []string, why string, refs ...Ref) Grant {
	return Grant{Actions: actions, On: refs, Why: why}
}

func acts(a ...string) []string { return a }

// requestWorkflowEnv is the entry's environment: the request workflows' ARNs.
var requestWorkflowEnv = map[string]Ref{
	"CREATE_STATE_MACHINE_ARN": on(StateMachine, "Create"),
	"UPDATE_STATE_MACHINE_ARN": on(StateMachine, "Update"),
	"DELETE_STATE_MACHINE_ARN": on(StateMachine, "Delete"),
}

// entry is a resource's service token; it may start only the request workflows.
func entry(name, typ string) Function {
	return Function{
		Name:        name,
		Description: "Strongroom " + typ + " service token: validates and starts the workflow",
		Env:         requestWorkflowEnv,
		Grants: []Grant{grant(acts("states:StartExecution"), "",
			on(StateMachine, "Create"), on(StateMachine, "Update"), on(StateMachine, "Delete")),
			// After starts that failed without an answer: did one start the request's execution?
			grant(acts("states:DescribeExecution"), "execution ARNs end in a per-run name (execution:<machine>:<name>); the grant names this resource's request workflows.",
				on(Executions, "Create"), on(Executions, "Update"), on(Executions, "Delete"))},
	}
}

// safetyNet reads only the request workflows' executions it is told about.
func safetyNet(noun string) Function {
	return Function{
		Name:        "cfn-safetynet",
		Description: "Strongroom: answers CloudFormation FAILED for a " + noun + " workflow that ended without answering",
		Grants: []Grant{grant(acts("states:DescribeExecution", "states:GetExecutionHistory"),
			"execution ARNs end in a per-run name (execution:<machine>:<name>); the grant names this resource's request workflows.",
			on(Executions, "Create"), on(Executions, "Update"), on(Executions, "Delete"))},
	}
}

// answer is the step every workflow ends with; it needs no AWS permission (it PUTs to the
// pre-signed ResponseURL).
var answer = Step{Placeholder: "AnswerFunctionArn", Function: Function{Name: "cfn-answer"}}

// commandStatus polls an SSM command's invocation.
var commandStatus = Step{Placeholder: "CommandStatusFunctionArn", Function: Function{Name: "command-status",
	Grants: []Grant{grant(acts("ssm:GetCommandInvocation"), whyNoARN("ssm:GetCommandInvocation"), on(Any))}}}

func whyNoARN(actions string) string {
	return actions + " accepts no resource ARN (the Service Authorization Reference lists none)."
}
