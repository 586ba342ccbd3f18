package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudtrail"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudwatch"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/iam"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/logs"
	"github.com/strongroom/strongroom/pkg/sandbox/s3"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
)

// BindRole makes the calls of principal (a function's name, InstancePrincipal's) calls of a
// session of the role roleARN, as Lambda gives a function its execution role's session and an
// instance profile gives an instance its role's. Enforced calls of a principal with no role are
// calls of the account's operator and are not judged.
func (s *Server) BindRole(principal, roleARN string) {
	s.principals.mu.Lock()
	defer s.principals.mu.Unlock()
	if s.principals.roles == nil {
		s.principals.roles = map[string]string{}
	}
	s.principals.roles[principal] = roleARN
}

// RoleOf returns the ARN of the role BindRole gave principal, "" for none.
func (s *Server) RoleOf(principal string) string {
	s.principals.mu.RLock()
	defer s.principals.mu.RUnlock()
	return s.principals.roles[principal]
}

// Decision is one authorization the sandbox judged: a role session's call, one of the IAM actions
// it needs (pkg/sandbox/authz), and what the judge decided with the policies in force.
type Decision struct {
	Time               time.Time
	Role, Session      string
	Service, Operation string
	Action, Resource   string
	Allowed            bool
	// Grants name the statements that allowed it: "<policy>#<statement number, from 1>", the policy being an
	// inline policy's name, a managed policy's ARN, or "resource:<ARN>" for the resource's policy.
	Grants []string
	// Message is AWS's access-denied text for a denial.
	Message string
}

// enforcer judges every call a role session makes (Sandbox.EnforceIAM).
type enforcer struct {
	judge *iamjudge.Judge
	iam   *iam.Service
	env   authz.Env
	// resourcePolicy returns the policy of the resource an ARN names, "" for none.
	resourcePolicy func(arn string) string

	mu        sync.Mutex
	cache     map[string]iamjudge.Result
	decisions []Decision
}

// EnforceIAM makes these pass IAM as AWS would decide it: every call of a principal bound to a
// role (BindRole); every call a state machine's task makes with the state machine's role; every
// delivery EventBridge makes to a Lambda target (as events.amazonaws.com) and every invocation of a
// rotation function by Secrets Manager (as secretsmanager.amazonaws.com), each allowed only by the
// function's policy for that rule or secret; every dead letter EventBridge sends to a target's
// queue (as events.amazonaws.com, sendDeadLetter), allowed only by the queue's policy and, for an
// encrypted queue, its key's; every publish of a CloudWatch alarm's action (as
// cloudwatch.amazonaws.com), allowed only by the topic's policy and its key's; the EC2 calls Lambda
// makes with a VPC function's role (AttachFunctionVPC), every X-Ray segment a traced function or
// state machine sends with its role (SetActiveTracing), and every flow log delivery (the role's
// trust of vpc-flow-logs.amazonaws.com and its session's logs calls, deliverFlowLogs). Each action the operation needs (authz.Needs) must be
// allowed by the role's identity policies (this sandbox's IAM) and, where the resource has one, its
// resource policy (a KMS key policy, a topic policy, a secret's resource policy, a function's
// policy), as judge decides. A denied call is answered with the service's own access-denied error
// and AWS's message, and nothing of it is done. Decisions returns what was judged.
func (sb *Sandbox) EnforceIAM(judge *iamjudge.Judge) {
	e := &enforcer{judge: judge, iam: sb.IAM, cache: map[string]iamjudge.Result{}}
	e.env = authz.Env{Region: sb.Region, Account: sb.Account, Lookup: sb.lookup}
	e.resourcePolicy = sb.resourcePolicy
	sb.Server.mu.Lock()
	sb.Server.enforcer = e
	sb.Server.mu.Unlock()
	// EventBridge invokes a rule's Lambda targets as events.amazonaws.com, and Secrets Manager a
	// secret's rotation function as secretsmanager.amazonaws.com: the function's resource-based
	// policy (the template's AWS::Lambda::Permission) must allow it for that rule or secret.
	sb.Events.SetDeliveryAuthorizer(e.invokedBy(sb, eventsPrincipal))
	sb.SecretsManager.SetInvokeAuthorizer(e.invokedBy(sb, "secretsmanager.amazonaws.com"))
	// CloudWatch publishes an alarm's notification as cloudwatch.amazonaws.com: the topic's policy,
	// and for an encrypted topic its key's policy, must allow it for that alarm.
	sb.CloudWatch.SetPublishAuthorizer(e.publishedBy(sb, cloudwatch.Principal))
	// CloudTrail checks the trail's bucket and key policies on CreateTrail and writes each log file as
	// cloudtrail.amazonaws.com on behalf of the trail: only those policies can allow it.
	sb.CloudTrail.SetAuthorizer(trailAuthorizer{e: e, sb: sb})
	// CloudWatch Logs uses a log group's KMS key as logs.<region>.amazonaws.com with the encryption
	// context aws:logs:arn = the group's ARN: only the key's policy can allow it, and CreateLogGroup
	// is refused when it does not (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs
	// using AWS Key Management Service").
	// A state machine whose logging configuration names a log group needs its role to allow the log
	// delivery actions: CreateStateMachine is refused without them.
	sb.StepFunctions.SetLogging(func(ctx context.Context, roleARN, machine string) error {
		id, err := e.iam.RoleIdentity(roleARN)
		if err != nil {
			return err
		}
		needs := make([]authz.Need, len(authz.StateMachineLogDelivery))
		for i, a := range authz.StateMachineLogDelivery {
			needs[i] = authz.Need{Action: a, Resource: "*"}
		}
		if denied := e.authorizeNeeds(ctx, sb.Clock.Now(), id, roleARN, sessionARN(sb.Account, roleARN, machine), "states", "CreateStateMachine", needs); denied != nil {
			return denied
		}
		return nil
	}, sb.writeExecutionLogs)
	sb.Logs.SetKeyAuthorizer(func(ctx context.Context, groupARN, keyARN string) error {
		return e.onBehalfOf(ctx, sb.Clock.Now(), logs.Principal(sb.Region), groupARN, "kms", "GenerateDataKey",
			authz.Request{JSON: map[string]any{"KeyId": keyARN, "KeySpec": "AES_256", "EncryptionContext": map[string]any{"aws:logs:arn": groupARN}}})
	})
	// S3 server access logging writes log objects as logging.s3.amazonaws.com on behalf of the
	// source bucket: only the target bucket's policy can allow it.
	sb.S3.SetDeliveryAuthorizer(func(ctx context.Context, principal, source, bucket, key, acl string) error {
		return e.onBehalfOf(ctx, sb.Clock.Now(), principal, source, "s3", "PutObject", objectWrite(bucket, key, acl))
	})
	// KMS's key policy lockout safety check: a key policy must let its creator, or whoever puts
	// it, put the next one.
	sb.KMS.SetLockoutCheck(e.lockoutCheck(sb))
	// A state machine's tasks call with its role: invoking a step needs lambda:InvokeFunction, an
	// aws-sdk task its operation's actions, granted to the state machine's role.
	sb.StepFunctions.SetAuthorizer(func(ctx context.Context, c stepfunctions.TaskCall) *core.Error {
		req := authz.Request{}
		if c.FunctionName != "" {
			req.Path = map[string]string{"FunctionName": c.FunctionName}
		}
		if len(c.Params) > 0 {
			_ = json.Unmarshal(c.Params, &req.JSON)
		}
		return e.authorize(ctx, sb.Clock.Now(), c.RoleARN, sessionARN(sb.Account, c.RoleARN, c.Session), c.Service, c.Operation, req)
	})
}

// DeployRoleName is the role the account's operator acts as where a decision needs an identity:
// the CloudFormation execution role a default `cdk bootstrap` creates, through which `cdk deploy`
// has CloudFormation create every resource, with AdministratorAccess as its only policy. Calls
// signed with the operator's static key are not judged; only KMS's lockout safety check, which
// KMS makes of any caller, decides for it (lockoutCheck).
func DeployRoleName(account, region string) string {
	return fmt.Sprintf("cdk-hnb659fds-cfn-exec-role-%s-%s", account, region)
}

// administratorAccess is the AWS managed policy AdministratorAccess.
var administratorAccess = iamjudge.Policy{Name: "arn:aws:iam::aws:policy/AdministratorAccess",
	Document: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}

// lockoutCheck decides KMS's lockout safety check (kms.LockoutCheck) with the judge: may the
// caller, a role session or the operator as DeployRoleName's CloudFormation session, make
// kms:PutKeyPolicy on the key with the new policy as its key policy and the caller's own identity
// policies. Recorded as a Decision under the caller's role, so the key policy statement it used
// is counted as used, and a refusal names the statement that is missing.
func (e *enforcer) lockoutCheck(sb *Sandbox) func(ctx context.Context, op, keyARN, policy string) (bool, error) {
	return func(ctx context.Context, op, keyARN, policy string) (bool, error) {
		if !json.Valid([]byte(policy)) {
			return false, nil
		}
		roleARN, session := sb.Server.sessionOf(core.Caller(ctx))
		var policies []iamjudge.Policy
		if roleARN == "" {
			roleARN = fmt.Sprintf("arn:aws:iam::%s:role/%s", sb.Account, DeployRoleName(sb.Account, sb.Region))
			session, policies = sessionARN(sb.Account, roleARN, "AWSCloudFormation"), []iamjudge.Policy{administratorAccess}
		} else {
			id, err := e.iam.RoleIdentity(roleARN)
			if err != nil {
				return false, nil // a role that does not exist can put no policy
			}
			policies = identityPolicies(id)
		}
		d, err := e.record(ctx, sb.Clock.Now(), e.iam.Generation(), roleARN, "kms", op, iamjudge.Request{
			Principal: session, Action: "kms:PutKeyPolicy", Resource: keyARN,
			ResourceAccount: e.env.Account, IdentityPolicies: policies, Context: e.sessionContext(roleARN)}, policy)
		if err != nil {
			return false, judgeFailed(err)
		}
		return d.Allowed, nil
	}
}

// invokedBy judges the service principal invoking a function on behalf of source (a rule, a
// secret): only the function's policy can allow it (onBehalfOf).
func (e *enforcer) invokedBy(sb *Sandbox, principal string) func(ctx context.Context, source, fnARN string) error {
	return func(ctx context.Context, source, fnARN string) error {
		return e.onBehalfOf(ctx, sb.Clock.Now(), principal, source, "lambda", "Invoke", authz.Request{Path: map[string]string{"FunctionName": fnARN}})
	}
}

// publishedBy judges the service principal publishing to an SNS topic on behalf of source (an
// alarm): sns:Publish on the topic and, for a topic with a KmsMasterKeyId, kms:GenerateDataKey
// and kms:Decrypt on its key, which SNS calls on the publisher's behalf (authz.Specials), each
// allowed only by the topic's or the key's policy (onBehalfOf).
func (e *enforcer) publishedBy(sb *Sandbox, principal string) func(ctx context.Context, source, topicARN string) error {
	return func(ctx context.Context, source, topicARN string) error {
		return e.onBehalfOf(ctx, sb.Clock.Now(), principal, source, "sns", "Publish", authz.Request{Query: url.Values{"TopicArn": {topicARN}}})
	}
}

// onBehalfOf judges principal, a service principal, making the call service/op (req) on behalf of
// source, with source as aws:SourceArn and the account as aws:SourceAccount: each of the call's
// authz.Needs is decided on the resource's own policy alone (a service principal has no identity
// policy), recorded as a Decision under principal, and the first refusal is returned as service's
// access-denied error.
func (e *enforcer) onBehalfOf(ctx context.Context, now time.Time, principal, source, service, op string, req authz.Request) error {
	return e.needsOnBehalfOf(ctx, now, principal, source, service, op, req, nil)
}

// needsOnBehalfOf is onBehalfOf judging only the needs keep accepts (every need when keep is nil).
func (e *enforcer) needsOnBehalfOf(ctx context.Context, now time.Time, principal, source, service, op string, req authz.Request, keep func(authz.Need) bool) error {
	needs, err := authz.Needs(e.env, service, op, req)
	if err != nil {
		// Fail closed, as for a role's call (authorize).
		return deniedError(service, fmt.Sprintf("the sandbox cannot authorize %s's %s %s: %v", principal, service, op, err))
	}
	if keep != nil {
		needs = slices.DeleteFunc(needs, func(n authz.Need) bool { return !keep(n) })
	}
	gen := e.iam.Generation()
	for _, n := range needs {
		if n.Principal != "" || n.Only != "" {
			continue // made by yet another principal, or only on first use (authorize)
		}
		cx := map[string][]string{"aws:SourceArn": {source}, "aws:SourceAccount": {e.env.Account}}
		for k, v := range n.Context {
			cx[k] = v
		}
		if denied := e.judgeAndRecord(ctx, now, gen, principal, service, op, iamjudge.Request{
			Principal: principal, Action: n.Action, Resource: n.Resource, ResourceAccount: e.env.Account, Context: cx,
		}); denied != nil {
			return denied
		}
	}
	return nil
}

// judgeAndRecord decides req with the resource's own policy added, records the Decision under
// role (a role's ARN, or a service principal), and returns the service's access-denied error when
// req is refused.
func (e *enforcer) judgeAndRecord(ctx context.Context, now time.Time, gen uint64, role, service, op string, req iamjudge.Request) *core.Error {
	d, err := e.record(ctx, now, gen, role, service, op, req, e.resourcePolicy(req.Resource))
	switch {
	case err != nil:
		return judgeFailed(err)
	case !d.Allowed:
		return deniedError(service, d.Message)
	}
	return nil
}

// judgeFailed is the answer to a call the judge could not decide.
func judgeFailed(err error) *core.Error {
	return core.StatusErrorf(http.StatusInternalServerError, "InternalFailure", "the sandbox's IAM judge failed: %v", err)
}

// record decides req with rp as the resource's policy ("" for none: judgeAndRecord gives the one
// the resource has, lockoutCheck the one a request would put in place) and records the Decision
// under role; an error is the judge's failure to decide, and records nothing.
func (e *enforcer) record(ctx context.Context, now time.Time, gen uint64, role, service, op string, req iamjudge.Request, rp string) (Decision, error) {
	if rp != "" {
		req.ResourcePolicy = json.RawMessage(rp)
	}
	res, err := e.decide(ctx, gen, role, rp, req)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Time: now, Role: role, Session: req.Principal, Service: service, Operation: op,
		Action: req.Action, Resource: req.Resource, Allowed: res.Allowed()}
	for _, g := range res.Grants {
		name := g.Policy
		if g.PolicyType == iamjudge.ResourcePolicy {
			name = "resource:" + req.Resource
		}
		d.Grants = append(d.Grants, fmt.Sprintf("%s#%d", name, g.StatementIndex))
	}
	if !res.Allowed() {
		d.Message = iamjudge.Message(req, res)
	}
	e.mu.Lock()
	e.decisions = append(e.decisions, d)
	e.mu.Unlock()
	return d, nil
}

// sessionARN is the ARN a session of roleARN named session calls as.
func sessionARN(account, roleARN, session string) string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleARN[strings.LastIndex(roleARN, "/")+1:], session)
}

// Decisions returns every authorization judged since EnforceIAM, in order.
func (s *Server) Decisions() []Decision {
	s.mu.RLock()
	e := s.enforcer
	s.mu.RUnlock()
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Decision(nil), e.decisions...)
}

// lookup resolves what authz needs from the services' state (authz.Env.Lookup).
func (sb *Sandbox) lookup(kind authz.Kind, ref string) string {
	switch kind {
	case authz.KMSKey:
		return sb.KMS.KeyARN(ref)
	case authz.Secret:
		r, _ := sb.SecretsManager.Ref(ref)
		return r.ARN
	case authz.SecretKMSKey:
		r, _ := sb.SecretsManager.Ref(ref)
		return r.KMSKeyID
	case authz.TopicKMSKey:
		return sb.SNS.TopicAttribute(ref, "KmsMasterKeyId")
	case authz.QueueKMSKey:
		return sb.SQS.Attribute(ref, "KmsMasterKeyId")
	case authz.CiphertextKey:
		blob, err := base64.StdEncoding.DecodeString(ref)
		if err != nil {
			return ""
		}
		return sb.KMS.CiphertextKeyARN(blob)
	case authz.Role:
		return sb.IAM.RoleARNByName(ref)
	case authz.SubnetVPC:
		vpc, _ := sb.EC2.SubnetVPC(ref)
		return vpc
	case authz.BucketKMSKey:
		return sb.S3.BucketKMSKey(ref)
	case authz.ObjectKMSKey:
		bucket, key, _ := strings.Cut(ref, "/")
		return sb.S3.ObjectKMSKey(bucket, key)
	case authz.ClusterVPC:
		c, _ := sb.CloudHSM.Cluster(ref)
		return c.VpcID
	case authz.GroupVPC:
		vpc, _ := sb.EC2.GroupVPC(ref)
		return vpc
	}
	return ""
}

// resourcePolicy is the policy of the resource arn names, for the services that have them.
func (sb *Sandbox) resourcePolicy(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	switch parts[2] {
	case "kms":
		if strings.HasPrefix(parts[5], "key/") {
			p, _ := sb.KMS.KeyPolicy(arn)
			return p
		}
	case "sns":
		return sb.SNS.TopicAttribute(arn, "Policy")
	case "sqs":
		return sb.SQS.Attribute(arn, "Policy")
	case "secretsmanager":
		r, _ := sb.SecretsManager.Ref(arn)
		return r.Policy
	case "lambda":
		return sb.Lambda.Policy(arn)
	case "s3":
		// A bucket's policy governs the bucket and its objects (arn:aws:s3:::bucket[/key]).
		bucket, _, _ := strings.Cut(parts[5], "/")
		return sb.S3.BucketPolicy(bucket)
	}
	return ""
}

// accessDenied is each service's access-denied error on the wire: its code and HTTP status.
var accessDenied = map[string]struct {
	code   string
	status int
}{
	"kms": {"AccessDeniedException", http.StatusBadRequest}, "secretsmanager": {"AccessDeniedException", http.StatusBadRequest},
	"cloudhsmv2": {"CloudHsmAccessDeniedException", http.StatusBadRequest}, "ssm": {"AccessDeniedException", http.StatusBadRequest},
	"states": {"AccessDeniedException", http.StatusBadRequest}, "events": {"AccessDeniedException", http.StatusBadRequest},
	"dynamodb": {"AccessDeniedException", http.StatusBadRequest}, "lambda": {"AccessDeniedException", http.StatusForbidden},
	"sns": {"AuthorizationError", http.StatusForbidden}, "ec2": {"UnauthorizedOperation", http.StatusForbidden},
	"iam": {"AccessDenied", http.StatusForbidden}, "sts": {"AccessDenied", http.StatusForbidden},
	// SQS's JSON answer names the Query code AccessDenied in X-Amzn-Query-Error (sqs.QueryErrorCode).
	"sqs": {"AccessDenied", http.StatusForbidden},
	"s3":  {"AccessDenied", http.StatusForbidden},
}

func deniedError(service, message string) *core.Error {
	d, ok := accessDenied[service]
	if !ok {
		d.code, d.status = "AccessDeniedException", http.StatusForbidden
	}
	if service == "ec2" {
		message = "You are not authorized to perform this operation. " + message
	}
	return core.StatusErrorf(d.status, d.code, "%s", message)
}

// authorize judges c when enforcement is on and its caller is a role session; a non-nil result is
// the error to answer with. decode gives the request as authz reads it.
func (c *call) authorize(decode func() authz.Request) *core.Error {
	c.s.mu.RLock()
	e := c.s.enforcer
	c.s.mu.RUnlock()
	if e == nil || c.caller == "" {
		return nil
	}
	roleARN, session := c.s.sessionOf(c.caller)
	if roleARN == "" {
		return nil
	}
	return e.authorize(c.r.Context(), c.s.Clock.Now(), roleARN, session, c.service, c.operation, decode())
}

func (e *enforcer) authorize(ctx context.Context, now time.Time, roleARN, principal, service, op string, req authz.Request) *core.Error {
	id, err := e.iam.RoleIdentity(roleARN)
	if err != nil {
		return deniedError(service, fmt.Sprintf("User: %s is not authorized to perform this call: its role %s does not exist", principal, roleARN))
	}
	needs, err := authz.Needs(e.env, service, op, req)
	if err != nil {
		// Fail closed: a call the table cannot authorize is a gap to fix, not a call to allow.
		return deniedError(service, fmt.Sprintf("the sandbox cannot authorize this call: %v", err))
	}
	return e.authorizeNeeds(ctx, now, id, roleARN, principal, service, op, needs)
}

// authorizeNeeds judges needs for a session (principal) of the role roleARN, whose identity is id,
// recording each Decision under service and op; the first refusal is returned.
func (e *enforcer) authorizeNeeds(ctx context.Context, now time.Time, id iam.Identity, roleARN, principal, service, op string, needs []authz.Need) *core.Error {
	gen := e.iam.Generation()
	policies := identityPolicies(id)
	var made []*authz.ServiceLinkedRole
	for _, n := range needs {
		slr := n.ServiceLinkedRole
		if slr != nil && e.iam.RoleARNByName(slr.Name) != "" {
			continue // the service made its role on an earlier call
		}
		if n.Principal != "" || (n.Only != "" && slr == nil) {
			// A call the service makes as its own principal is judged where the service makes it.
			continue
		}
		cx := e.sessionContext(roleARN)
		for k, v := range n.Context {
			cx[k] = v
		}
		// Every resource the sandbox serves is the account's own ("*" and account-less ARNs too).
		if denied := e.judgeAndRecord(ctx, now, gen, roleARN, service, op, iamjudge.Request{Principal: principal, Action: n.Action,
			Resource: n.Resource, ResourceAccount: e.env.Account, IdentityPolicies: policies, Context: cx}); denied != nil {
			return denied
		}
		if slr != nil {
			made = append(made, slr)
		}
	}
	// The account's first such call, allowed: the service creates its role with the caller's
	// permission (a fresh sandbox account has no service-linked role). Only once every need of the
	// call passed: a call refused for another action makes nothing.
	for _, slr := range made {
		e.iam.EnsureServiceLinkedRole(slr.Principal, slr.Name)
	}
	return nil
}

// identityPolicies are a role's inline and managed policies as the judge reads them.
func identityPolicies(id iam.Identity) []iamjudge.Policy {
	policies := make([]iamjudge.Policy, len(id.Policies))
	for i, p := range id.Policies {
		policies[i] = iamjudge.Policy{Name: p.Name, Document: json.RawMessage(p.JSON)}
	}
	return policies
}

// sessionContext is the global condition keys of a call a session of roleARN makes.
func (e *enforcer) sessionContext(roleARN string) map[string][]string {
	return map[string][]string{
		"aws:PrincipalArn": {roleARN}, "aws:PrincipalAccount": {e.env.Account},
		"aws:PrincipalType": {"AssumedRole"}, "aws:RequestedRegion": {e.env.Region},
	}
}

// decide asks the judge, or the cache: a decision depends only on the request and the policies,
// which IAM's generation and the resource policy's text pin.
func (e *enforcer) decide(ctx context.Context, gen uint64, roleARN, resourcePolicy string, req iamjudge.Request) (iamjudge.Result, error) {
	keys := make([]string, 0, len(req.Context))
	for k := range req.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d\x00%s\x00%s\x00%s\x00%s\x00%s", gen, roleARN, req.Principal, req.Action, req.Resource, resourcePolicy)
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%s=%s", k, strings.Join(req.Context[k], "\x01"))
	}
	key := b.String()
	e.mu.Lock()
	res, ok := e.cache[key]
	e.mu.Unlock()
	if ok {
		return res, nil
	}
	res, err := e.judge.Decide(ctx, req)
	if err != nil {
		return res, err
	}
	e.mu.Lock()
	e.cache[key] = res
	e.mu.Unlock()
	return res, nil
}

// jsonRequest, queryRequest and restRequest decode a call as authz reads it.
func jsonRequest(body []byte) authz.Request {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return authz.Request{JSON: m}
}

func queryRequest(params url.Values) authz.Request { return authz.Request{Query: params} }

func restRequest(svc core.RESTService, op string, r *http.Request, body []byte) authz.Request {
	req := authz.Request{Query: r.URL.Query()}
	if p, ok := svc.(core.RESTPathParams); ok {
		req.Path = p.PathParams(op, r)
	}
	if len(body) > 0 && json.Valid(body) {
		_ = json.Unmarshal(body, &req.JSON)
	}
	return req
}

// objectWrite is a PutObject request as authz reads it, made by a service over TLS.
func objectWrite(bucket, key, acl string) authz.Request {
	p := map[string]string{"Bucket": bucket, "Key": key, "SecureTransport": "true"}
	if acl != "" {
		p["ACL"] = acl
	}
	return authz.Request{Path: p}
}

// trailAuthorizer judges CloudTrail on behalf of a trail (cloudtrail.Authorizer): its bucket's
// policy for s3:GetBucketAcl and s3:PutObject with bucket-owner-full-control, its key's policy
// for the data key S3 asks KMS for with CloudTrail's encryption context, each as
// cloudtrail.amazonaws.com with the trail as aws:SourceArn (onBehalfOf).
type trailAuthorizer struct {
	e  *enforcer
	sb *Sandbox
}

// trailWrite is CloudTrail's PutObject of a log file, SSE-KMS under kmsKey when set.
func trailWrite(trailARN, bucket, key, kmsKey string) authz.Request {
	req := objectWrite(bucket, key, "bucket-owner-full-control")
	if kmsKey != "" {
		ec, _ := json.Marshal(map[string]string{"aws:cloudtrail:arn": trailARN, "aws:s3:arn": s3.ObjectARN(bucket, key)})
		req.Path["ServerSideEncryption"], req.Path["SSEKMSKeyId"], req.Path["SSEKMSEncryptionContext"] = "aws:kms", kmsKey, string(ec)
	}
	return req
}

func (a trailAuthorizer) Bucket(ctx context.Context, trailARN, bucket, key string) error {
	now := a.sb.Clock.Now()
	if err := a.e.onBehalfOf(ctx, now, cloudtrail.Principal, trailARN, "s3", "GetBucketAcl", authz.Request{Path: map[string]string{"Bucket": bucket, "SecureTransport": "true"}}); err != nil {
		return err
	}
	return a.e.needsOnBehalfOf(ctx, now, cloudtrail.Principal, trailARN, "s3", "PutObject", trailWrite(trailARN, bucket, key, ""),
		func(n authz.Need) bool { return strings.HasPrefix(n.Action, "s3:") })
}

func (a trailAuthorizer) Key(ctx context.Context, trailARN, kmsKey, bucket, key string, describe bool) error {
	now := a.sb.Clock.Now()
	if describe {
		if err := a.e.onBehalfOf(ctx, now, cloudtrail.Principal, trailARN, "kms", "DescribeKey", authz.Request{JSON: map[string]any{"KeyId": kmsKey}}); err != nil {
			return err
		}
	}
	return a.e.needsOnBehalfOf(ctx, now, cloudtrail.Principal, trailARN, "s3", "PutObject", trailWrite(trailARN, bucket, key, kmsKey),
		func(n authz.Need) bool { return strings.HasPrefix(n.Action, "kms:") })
}
