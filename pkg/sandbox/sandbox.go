package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudtrail"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudwatch"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/dynamodb"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/events"
	"github.com/strongroom/strongroom/pkg/sandbox/iam"
	"github.com/strongroom/strongroom/pkg/sandbox/kms"
	"github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/logs"
	"github.com/strongroom/strongroom/pkg/sandbox/s3"
	"github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/sns"
	"github.com/strongroom/strongroom/pkg/sandbox/sqs"
	"github.com/strongroom/strongroom/pkg/sandbox/ssm"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
	"github.com/strongroom/strongroom/pkg/sandbox/sts"
	"github.com/strongroom/strongroom/pkg/sandbox/xray"
)

// Static credentials the sandbox hands to the functions it runs and prints for shells. The
// sandbox does not check signatures, so any key works; these only make the SDK sign requests.
const (
	AccessKeyID     = "AKIASANDBOX000000000"
	SecretAccessKey = "sandbox-secret-access-key-not-a-secret"
)

// Sandbox is the whole emulated AWS surface behind one Server: every service Strongroom uses that
// exists in this tree, wired to one clock, one fault table and one recorder.
type Sandbox struct {
	*Server
	STS    *sts.Service
	IAM    *iam.Service
	Lambda *lambda.Service
	Events *events.Service
	// CloudFormation drives custom resources; its ResponseURLs are served by this sandbox.
	CloudFormation *cloudformation.Driver
	SecretsManager *secretsmanager.Service
	SNS            *sns.Service
	SQS            *sqs.Service
	EC2            *ec2.Service
	CloudHSM       *cloudhsm.Service
	SSM            *ssm.Service
	KMS            *kms.Service
	StepFunctions  *stepfunctions.Service
	DynamoDB       *dynamodb.Service
	CloudWatch     *cloudwatch.Service
	S3             *s3.Service
	CloudTrail     *cloudtrail.Service
	XRay           *xray.Service
	Logs           *logs.Service

	mu         sync.Mutex
	executions []string // Step Functions execution ARNs seen in status changes
	// traced are the functions (by name) with TracingConfig Active and the state machines (by ARN)
	// with tracing enabled (SetActiveTracing).
	traced map[string]bool
	// functionENIs are the network interfaces Lambda made for each VPC function (AttachFunctionVPC).
	functionENIs map[string][]FunctionENI
}

// New builds a sandbox with every available service registered. Call Start to serve it.
func New(opts Options) *Sandbox {
	srv := NewServer(opts)
	sb := &Sandbox{Server: srv}
	sb.STS = sts.New(srv.Account)
	srv.RegisterQuery(sb.STS)
	sb.IAM = iam.New(srv.Clock, srv.Account)
	srv.RegisterQuery(sb.IAM)

	sb.Lambda = lambda.New(lambda.Config{
		Clock: srv.Clock, Region: srv.Region, Account: srv.Account,
		Observer:  sb.recordInvocation,
		BaseEnv:   sb.functionEnv,
		Intercept: sb.interceptInvocation,
	})
	srv.RegisterREST(sb.Lambda)
	srv.Recorder.AddSource("lambda function environments", sb.Lambda.Environments)

	sb.Events = events.New(srv.Clock, sb.Lambda, srv.Region, srv.Account)
	srv.RegisterJSON(sb.Events)

	sb.CloudFormation = cloudformation.New(srv.Clock, sb.Lambda, srv.URL, srv.Region, srv.Account)
	srv.RegisterREST(sb.CloudFormation)

	sb.SecretsManager = secretsmanager.New(srv.Clock, sb.Lambda, secretsmanager.WithRegion(srv.Region), secretsmanager.WithAccount(srv.Account))
	srv.RegisterJSON(sb.SecretsManager)
	// Rotation service events reach EventBridge through CloudTrail as "AWS Service Event via
	// CloudTrail" (the sandbox behaves as if the account has a trail, which delivery needs).
	sb.SecretsManager.OnRotationEvent(func(e secretsmanager.RotationEvent) {
		rec := e.CloudTrailRecord(srv.Account, srv.Region)
		if _, err := sb.Events.Publish(context.Background(), secretsmanager.EventSource, secretsmanager.EventDetailType, rec); err != nil {
			srv.log.Error("publish secrets manager rotation event", "event", e.Name, "error", err.Error())
		}
	})

	sb.EC2 = ec2.New(srv.Clock, ec2.WithAccount(srv.Account))
	srv.RegisterQuery(sb.EC2)
	// Flow logs publish the flows Connect records to their CloudWatch Logs groups with their roles.
	sb.EC2.SetFlowDeliverer(sb.deliverFlowLogs)

	sb.CloudHSM = cloudhsm.New(srv.Clock, sb.EC2, cloudhsm.WithRegion(srv.Region), cloudhsm.WithAccount(srv.Account))
	srv.RegisterJSON(sb.CloudHSM)

	sb.SNS = sns.New(srv.Clock, sns.WithRegion(srv.Region), sns.WithAccount(srv.Account))
	srv.RegisterQuery(sb.SNS)

	// SQS over JSON 1.0 (the SDK's protocol) and Query (the AWS CLI's); queue URLs are this server's.
	sb.SQS = sqs.New(srv.Clock, srv.URL, sqs.WithRegion(srv.Region), sqs.WithAccount(srv.Account))
	srv.RegisterJSON(sb.SQS)
	srv.RegisterQuery(sqs.NewQuery(sb.SQS))
	// EventBridge sends a target's dead letters to its queue as events.amazonaws.com.
	sb.Events.SetDeadLetterSender(sb.sendDeadLetter)
	sb.Lambda.SetDeadLetterSender(sb.sendFunctionDeadLetter)

	// CloudWatch alarms publish their notifications to SNS topics as cloudwatch.amazonaws.com.
	sb.CloudWatch = cloudwatch.New(srv.Clock, sb.publishAlarm, cloudwatch.WithRegion(srv.Region), cloudwatch.WithAccount(srv.Account))
	srv.RegisterRPCv2(sb.CloudWatch)
	srv.RegisterQuery(sb.CloudWatch) // the AWS CLI's protocol

	sb.DynamoDB = dynamodb.New(srv.Clock, dynamodb.WithRegion(srv.Region), dynamodb.WithAccount(srv.Account))
	srv.RegisterJSON(sb.DynamoDB)

	// The client instance runs documents' scripts under bash: its AWS CLI reads secrets from this
	// sandbox, its cloudhsm-cli (package hsmclient) drives the emulated cluster. Strongroom's
	// documents are registered as the CDK app deploys them. Every process started there, with
	// its argv and environment, is scanned for secrets.
	sb.SSM = ssm.New(srv.Clock, sb.EC2, sb.CloudHSM, ssm.WithAccount(srv.Account), ssm.WithDocuments(hsmdocs.Contents()),
		ssm.WithAWS(srv.InstanceAccess()), ssm.WithNetwork(sb.EC2))
	srv.RegisterJSON(sb.SSM)
	srv.Recorder.AddSource("client instance processes and files", sb.SSM.Processes)

	// KMS custom key stores connect to the emulated cluster as kmsuser.
	sb.KMS = kms.New(srv.Clock, sb.CloudHSM, kms.WithRegion(srv.Region), kms.WithAccount(srv.Account))
	srv.RegisterJSON(sb.KMS)

	// X-Ray before S3, whose MatchREST would take any path signed for s3 (X-Ray's only xray's).
	sb.XRay = xray.New(srv.Clock, xray.WithRegion(srv.Region), xray.WithAccount(srv.Account))
	srv.RegisterREST(sb.XRay)

	// S3 after the CloudFormation driver, whose response URLs are S3 paths too; SSE-KMS objects'
	// data keys come from KMS as S3 asks for them (recorded as internal KMS calls).
	sb.S3 = s3.New(srv.Clock, srv.Internal(sb.KMS), s3.WithRegion(srv.Region), s3.WithAccount(srv.Account))
	sb.S3.SetRequester(srv.requesterARN)
	srv.RegisterREST(sb.S3)
	// Trails deliver the calls the server records, as CloudTrail's management events.
	sb.CloudTrail = cloudtrail.New(srv.Clock, sb.S3, srv.cloudTrailRecords, sb.KMS.KeyARN, cloudtrail.WithRegion(srv.Region), cloudtrail.WithAccount(srv.Account))
	srv.RegisterJSON(sb.CloudTrail)
	// CloudWatch Logs holds what functions print and state machines log; what lands there is
	// scanned for secrets like every other store.
	sb.Logs = logs.New(srv.Clock, sb.KMS.KeyARN, logs.WithRegion(srv.Region), logs.WithAccount(srv.Account))
	srv.RegisterJSON(sb.Logs)
	srv.Recorder.AddSource("cloudwatch logs events", sb.Logs.Contents)
	// Functions' output reaches their log groups with their execution roles.
	sb.Lambda.SetLogDeliverer(sb.deliverFunctionLogs)

	sb.StepFunctions = stepfunctions.New(srv.Clock, sb.Lambda, stepfunctions.WithRegion(srv.Region), stepfunctions.WithAccount(srv.Account))
	srv.RegisterJSON(sb.StepFunctions)
	// Executions of a state machine with a logging configuration log their events to its group.
	sb.StepFunctions.SetLogging(nil, sb.writeExecutionLogs)
	// aws-sdk integrations: arn:aws:states:::aws-sdk:<service>:<action>, with errors named
	// <ServiceName>.<ErrorName> in PascalCase, as Step Functions names them.
	for _, in := range []struct {
		sdk, prefix string
		svc         core.JSONService
	}{
		{"secretsmanager", "SecretsManager", sb.SecretsManager},
		{"cloudhsmv2", "CloudHsmV2", sb.CloudHSM},
		{"ssm", "Ssm", sb.SSM},
		{"kms", "Kms", sb.KMS},
		{"eventbridge", "EventBridge", sb.Events},
	} {
		sb.StepFunctions.AddJSONService(in.sdk, srv.Internal(in.svc), in.prefix)
	}
	// Execution status changes reach EventBridge as AWS emits them (source aws.states). The
	// executions are remembered so secret scans cover their histories (every state's input and
	// output, which AWS keeps for 90 days).
	srv.Recorder.AddSource("step functions execution histories", sb.executionHistories)
	sb.StepFunctions.OnStatusChange(func(c stepfunctions.StatusChange) {
		sb.traceExecution(c)
		if arn, ok := c.Detail["executionArn"].(string); ok {
			sb.mu.Lock()
			if !slices.Contains(sb.executions, arn) {
				sb.executions = append(sb.executions, arn)
			}
			sb.mu.Unlock()
		}
		if _, err := sb.Events.Publish(context.Background(), c.Source, c.DetailType, c.Detail, c.Resources...); err != nil {
			srv.log.Error("publish step functions status change", "error", err.Error())
		}
	})
	return sb
}

// publishAlarm publishes an alarm action's notification (MessageStructure json) to SNS, recorded
// as an internal Publish by cloudwatch.amazonaws.com (no wire call records it).
func (sb *Sandbox) publishAlarm(ctx context.Context, topicARN, subject, message string) error {
	id, err := sb.SNS.Publish(ctx, topicARN, subject, message, "json")
	rec := Record{
		Time: sb.Clock.Now(), RequestID: core.NewUUID(), Service: "sns", Operation: "Publish", Protocol: "internal",
		Path: topicARN, RequestBody: []byte(message), Status: 200, ResponseBody: []byte(id), Internal: true,
		Caller: cloudwatch.Principal,
	}
	if err != nil {
		ce := asCoreError(err)
		rec.Status, rec.ErrorCode, rec.ResponseBody = ce.Status, ce.Code, []byte(ce.Message)
	}
	sb.Recorder.Add(rec)
	return err
}

// sendDeadLetter sends EventBridge's dead letter of rule ruleARN to the queue queueARN as
// events.amazonaws.com on behalf of the rule: under EnforceIAM only the queue's policy (and an
// encrypted queue's key's) can allow it (onBehalfOf). The send is recorded as an internal call.
func (sb *Sandbox) sendDeadLetter(ctx context.Context, ruleARN, queueARN, body string, attributes map[string]string) error {
	return sb.sendToQueue(ctx, eventsPrincipal, "rule "+ruleARN, queueARN, body, attributes, func(e *enforcer, req authz.Request) error {
		return e.onBehalfOf(ctx, sb.Clock.Now(), eventsPrincipal, ruleARN, "sqs", "SendMessage", req)
	})
}

// sendFunctionDeadLetter sends a function's asynchronous event that failed every attempt to its
// dead-letter queue, as Lambda does with the function's execution role (Lambda developer guide,
// "Dead-letter queues"): under EnforceIAM the role bound to the function must be allowed
// sqs:SendMessage on the queue and, for an encrypted queue, the key's actions via SQS.
func (sb *Sandbox) sendFunctionDeadLetter(ctx context.Context, function, queueARN, body string, attributes map[string]string) error {
	return sb.sendToQueue(ctx, function, "function "+function, queueARN, body, attributes, func(e *enforcer, req authz.Request) error {
		return sb.asFunction(ctx, e, function, "sqs", "SendMessage", req)
	})
}

// asFunction judges a call Lambda makes for function with its execution role (the role bound to
// the function's name), as e.authorize judges the function's own calls; nil when allowed, when IAM
// is not enforced (e nil) or when the function has no role. It is the one path for those calls:
// a function's dead letters (sendToQueue), its log lines (deliverFunctionLogs) and its VPC
// network interfaces (functionvpc.go); X-Ray's segments go through putSegment (tracing.go), which
// state machines share.
func (sb *Sandbox) asFunction(ctx context.Context, e *enforcer, function, service, op string, req authz.Request) error {
	role := sb.Server.RoleOf(function)
	if e == nil || role == "" {
		return nil // a function with no role is the operator's stand-in, not judged (BindRole)
	}
	if denied := e.authorize(ctx, sb.Clock.Now(), role, sessionARN(sb.Account, role, function), service, op, req); denied != nil {
		return denied
	}
	return nil
}

// deliverFunctionLogs delivers the lines an execution environment of function printed to its log
// group, as Lambda does with the function's execution role (Lambda developer guide, "Sending
// Lambda function logs to CloudWatch Logs"): logs:CreateLogStream for the environment's stream on
// its first delivery, then logs:PutLogEvents, each judged under EnforceIAM. A refused call drops
// the lines (on AWS the function runs on and its logs are lost) and is a denied Decision. The
// sandbox's Lambda creates no log group: a function whose group does not exist loses its lines
// (the stacks deploy each function's group).
func (sb *Sandbox) deliverFunctionLogs(ctx context.Context, function, group, stream string, lines []lambda.LogLine) error {
	if !sb.Logs.Exists(group) {
		return fmt.Errorf("deliver %d lines of function %s: log group %s does not exist (deploy the function's AWS::Logs::LogGroup first)", len(lines), function, group)
	}
	sb.Server.mu.RLock()
	e := sb.Server.enforcer
	sb.Server.mu.RUnlock()
	req := authz.Request{JSON: map[string]any{"logGroupName": group, "logStreamName": stream}}
	if !sb.Logs.StreamExists(group, stream) {
		if err := sb.asFunction(ctx, e, function, "logs", "CreateLogStream", req); err != nil {
			return fmt.Errorf("create log stream %s in %s for function %s: %w", stream, group, function, err)
		}
		if err := sb.Logs.CreateStream(group, stream); err != nil && !sb.Logs.StreamExists(group, stream) {
			return fmt.Errorf("create log stream %s in %s for function %s: %w", stream, group, function, err)
		}
	}
	if err := sb.asFunction(ctx, e, function, "logs", "PutLogEvents", req); err != nil {
		return fmt.Errorf("put %d log events of function %s into %s: %w", len(lines), function, group, err)
	}
	events := make([]logs.Event, len(lines))
	for i, l := range lines {
		events[i] = logs.Event{Timestamp: l.Time.UnixMilli(), Message: l.Message}
	}
	if err := sb.Logs.PutBatches(group, stream, events); err != nil {
		return fmt.Errorf("put %d log events of function %s into %s: %w", len(events), function, group, err)
	}
	return nil
}

// sendToQueue sends body with attributes to the queue queueARN as caller, after judge allows it
// when IAM is enforced, and records the send as an internal call; what names the sender in an
// error.
func (sb *Sandbox) sendToQueue(ctx context.Context, caller, what, queueARN, body string, attributes map[string]string, judge func(*enforcer, authz.Request) error) error {
	queueURL := sb.SQS.URL(sb.SQS.NameOf(queueARN))
	sb.Server.mu.RLock()
	e := sb.Server.enforcer
	sb.Server.mu.RUnlock()
	var err error
	if e != nil {
		err = judge(e, authz.Request{JSON: map[string]any{"QueueUrl": queueURL}})
	}
	id := ""
	if err == nil {
		attrs := make(map[string]sqs.AttributeValue, len(attributes))
		for k, v := range attributes {
			attrs[k] = sqs.AttributeValue{DataType: "String", StringValue: &v}
		}
		id, err = sb.SQS.Send(queueURL, body, attrs, caller)
	}
	rec := Record{
		Time: sb.Clock.Now(), RequestID: core.NewUUID(), Service: "sqs", Operation: "SendMessage", Protocol: "internal",
		Path: queueURL, RequestBody: []byte(body), Status: 200, ResponseBody: []byte(id), Internal: true, Caller: caller,
	}
	if err != nil {
		ce := asCoreError(err)
		rec.Status, rec.ErrorCode, rec.ResponseBody = ce.Status, ce.Code, []byte(ce.Message)
	}
	sb.Recorder.Add(rec)
	if err != nil {
		return fmt.Errorf("send the dead letter of %s to queue %s as %s: %w", what, queueARN, caller, err)
	}
	return nil
}

// writeExecutionLogs writes a state machine execution's events to the log group groupARN names
// (the ":*" form a logging configuration gives), in a new stream. Step Functions delivers them
// through CloudWatch Logs' vended log delivery, which the role's log delivery actions set up at
// CreateStateMachine (judged there), not with a call of the role per event: none is judged here.
func (sb *Sandbox) writeExecutionLogs(groupARN, stream string, events []stepfunctions.LogEvent) error {
	group := logs.NameOf(groupARN)
	if err := sb.Logs.CreateStream(group, stream); err != nil {
		return fmt.Errorf("log the execution's events to %s: %w", groupARN, err)
	}
	batch := make([]logs.Event, len(events))
	for i, e := range events {
		batch[i] = logs.Event{Timestamp: e.Timestamp, Message: e.Message}
	}
	if err := sb.Logs.PutBatches(group, stream, batch); err != nil {
		return fmt.Errorf("log the execution's events to %s: %w", groupARN, err)
	}
	return nil
}

// eventsPrincipal is EventBridge's service principal.
const eventsPrincipal = "events.amazonaws.com"

// executionHistories returns every known execution's history as JSON, for secret scans.
func (sb *Sandbox) executionHistories() []byte {
	sb.mu.Lock()
	arns := slices.Clone(sb.executions)
	sb.mu.Unlock()
	var b bytes.Buffer
	for _, arn := range arns {
		events, err := sb.StepFunctions.History(arn)
		if err != nil {
			continue // an execution the service no longer knows has no history left to leak
		}
		_ = json.NewEncoder(&b).Encode(map[string]any{"executionArn": arn, "events": events})
	}
	return b.Bytes()
}

// Serve starts the sandbox on addr, calls ready with its URL, and serves until ctx ends; then it
// closes everything.
func (sb *Sandbox) Serve(ctx context.Context, addr string, ready func(url string)) error {
	u, err := sb.Start(addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(u)
	}
	<-ctx.Done()
	return sb.Close()
}

// Close stops the HTTP server and then every function environment and queued retry.
func (sb *Sandbox) Close() error {
	err := sb.Server.Close()
	sb.Events.Close()
	sb.StepFunctions.Close()
	sb.SSM.Close()
	sb.KMS.Close()
	sb.SecretsManager.Close()
	sb.CloudHSM.Close()
	return errors.Join(err, sb.Lambda.Close())
}

// SecretValues lists every secret value the sandbox's services issued or stored (secret strings,
// generated passwords), for Recorder.Scan.
func (sb *Sandbox) SecretValues() []string {
	// KMS holds the kmsuser passwords it generates on connect, which never pass through Secrets
	// Manager.
	return append(sb.SecretsManager.SecretValues(), sb.KMS.SecretValues()...)
}

// InstanceAccess is how the client instance's AWS CLI reaches this server: its endpoint, region,
// and credentials that name the instance's role session (InstancePrincipal), as the instance
// profile gives them on AWS.
func (s *Server) InstanceAccess() ssm.AWSAccess {
	return ssm.AWSAccess{Endpoint: s.URL, Region: s.Region, Credentials: func(id string) (string, string, string) {
		return s.Credentials(InstancePrincipal(id))
	}}
}

// functionEnv is what function's bootstrap executables get so that their SDK clients reach this
// sandbox, with session credentials of the function's own (Credentials), as Lambda sets
// its execution role's, so each call names its caller.
func (sb *Sandbox) functionEnv(function string) map[string]string {
	key, secret, token := sb.Credentials(function)
	return map[string]string{
		"AWS_ENDPOINT_URL":      sb.URL(),
		"AWS_REGION":            sb.Region,
		"AWS_DEFAULT_REGION":    sb.Region,
		"AWS_ACCESS_KEY_ID":     key,
		"AWS_SECRET_ACCESS_KEY": secret,
		"AWS_SESSION_TOKEN":     token,
	}
}

// recordInvocation records an invocation that no wire call records: one made by another emulated
// service (Secrets Manager rotation, EventBridge targets, the CloudFormation driver) or an
// asynchronous Event run. These records are Internal; a synchronous Invoke over HTTP is recorded
// once, by the server.
func (sb *Sandbox) recordInvocation(inv lambda.Invocation) {
	sb.traceInvocation(inv)
	if inv.ViaAPI {
		return
	}
	code := ""
	if inv.Error != nil {
		code = inv.Error.Type
	}
	op := "Invoke"
	if inv.Async {
		op = fmt.Sprintf("Invoke(Event, attempt %d)", inv.Attempt)
	}
	sb.Recorder.Add(Record{
		Time: inv.End, RequestID: inv.RequestID, Service: "lambda", Operation: op,
		Protocol: "internal", Path: inv.Function, RequestBody: inv.Payload, Status: 200,
		ResponseBody: inv.Response, ErrorCode: code, Internal: true,
	})
}

// Exports returns the shell lines that point the AWS CLI and SDKs at the sandbox.
func (sb *Sandbox) Exports() string {
	var b strings.Builder
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL=%s\n", sb.URL())
	fmt.Fprintf(&b, "export AWS_REGION=%s AWS_DEFAULT_REGION=%s\n", sb.Region, sb.Region)
	fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", AccessKeyID, SecretAccessKey)
	return b.String()
}

// interceptInvocation applies the lambda fault rules (operation Invoke) to an invocation another
// emulated service makes, so a test can throttle the functions a state machine or a rotation
// calls; an injected error is recorded as an internal Invoke (a lost answer's once the
// invocation is asked to run: lambda.AnswerLost).
func (sb *Sandbox) interceptInvocation(ctx context.Context, function string) error {
	ferr, kind := sb.injectInternal(ctx, sb.Lambda, "lambda", "Invoke", "rest")
	if ferr == nil {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"Type": "User", "message": ferr.Message})
	sb.Recorder.Add(Record{
		Time: sb.Clock.Now(), RequestID: core.NewUUID(), Service: "lambda", Operation: "Invoke",
		Protocol: "internal", Path: function, Status: ferr.Status, ResponseBody: body,
		ErrorCode: ferr.Code, Injected: kind, Internal: true,
	})
	if kind == string(FaultLostAnswer) {
		return &lambda.AnswerLost{Err: ferr}
	}
	return ferr
}
