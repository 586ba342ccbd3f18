package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/alertstate"
	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/health/emit"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/sandbox"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	snssvc "github.com/strongroom/strongroom/pkg/sandbox/sns"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// These tests run the relay against the sandbox's SNS, EventBridge and Lambda through real SDK
// clients, and this command's real bootstrap through the Runtime API emulator. The parsing,
// rendering and redaction rules themselves are tested in pkg/trailalert.

// binaries["trailrelay"] is this command built for the host with make build's flags, by
// stacktest.Main from the module root.
var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, "trailrelay-test-", "trailrelay", []string{"trailrelay"}, &binaries))
}

// fixtures returns pkg/trailalert's recorded EventBridge events, by file name.
func fixtures(t testing.TB) map[string][]byte {
	return trailalerttest.Fixtures(t, "../../pkg/trailalert/testdata/events")
}

// alertTopic creates the alert topic as infra/alerts does, encrypted with a customer managed key,
// and returns both ARNs.
func alertTopic(ctx context.Context, t *testing.T, env *sandboxtest.Env) (topicARN, keyARN string) {
	t.Helper()
	keyARN, err := stacktest.CreateKey(ctx, env.AWSConfig(), "the alert topic's key")
	if err != nil {
		t.Fatal(err)
	}
	topic, err := sns.NewFromConfig(env.AWSConfig()).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("strongroom-alerts"),
		Attributes: map[string]string{"KmsMasterKeyId": keyARN}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(topic.TopicArn), keyARN
}

// relayGrants are what the relay's role is granted on, as infra/alerts (and, for Executions,
// infra/workflowresource) grant it on the stacks' resources; empty ones are left out.
type relayGrants struct {
	Topic, Key, Table, Executions string
	// Rules may invoke the relay (the stacks' AWS::Lambda::Permission per rule).
	Rules []string
}

// relayUnderIAM runs the relay function ("strongroom-trailrelay", fnARN) under a role of exactly
// the actions pkg/trailalert and pkg/alertstate declare, on g's resources, with IAM enforced on
// env (stacktest.EnforceIAM, which the caller turns on); each of g.Rules may invoke it.
func relayUnderIAM(ctx context.Context, t *testing.T, env *sandboxtest.Env, fnARN string, g relayGrants) {
	t.Helper()
	var stmts []stacktest.Statement
	for _, s := range []stacktest.Statement{
		{Actions: trailalert.TopicActions, Resources: []string{g.Topic}},
		{Actions: trailalert.TopicKeyActions, Resources: []string{g.Key}},
		{Actions: alertstate.TableActions, Resources: []string{g.Table}},
		{Actions: trailalert.HistoryActions, Resources: []string{g.Executions}},
	} {
		if s.Resources[0] != "" {
			stmts = append(stmts, s)
		}
	}
	stacktest.FunctionRole(ctx, t, env.Sandbox, env.AWSConfig(), "strongroom-trailrelay", stmts...)
	for _, rule := range g.Rules {
		if err := stacktest.MayInvoke(ctx, env.AWSConfig(), fnARN, "events.amazonaws.com", rule); err != nil {
			t.Fatal(err)
		}
	}
}

// snsSandbox is the sandbox's SNS emulator on 127.0.0.1 with one topic and two e-mail
// subscriptions: everyone@ gets every alert, oncall@ filters on severity = critical.
type snsSandbox struct {
	srv      *sandbox.Server
	svc      *snssvc.Service
	client   *sns.Client
	url      string
	topicARN string
}

func startSNS(t *testing.T) *snsSandbox {
	t.Helper()
	srv := sandbox.NewServer(sandbox.Options{})
	svc := snssvc.New(srv.Clock)
	srv.RegisterQuery(svc)
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	s := &snsSandbox{srv: srv, svc: svc, url: url, client: snsClient(url)}
	ctx := context.Background()
	topic, err := s.client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("strongroom-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	s.topicARN = aws.ToString(topic.TopicArn)
	for _, sub := range []struct{ endpoint, filter string }{
		{"everyone@example.com", ""},
		{"oncall@example.com", `{"severity":["critical"]}`},
	} {
		in := &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String(sub.endpoint), ReturnSubscriptionArn: true}
		if sub.filter != "" {
			in.Attributes = map[string]string{"FilterPolicy": sub.filter}
		}
		if _, err := s.client.Subscribe(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// deliveries returns what the subscription with the given e-mail endpoint received.
func (s *snsSandbox) deliveries(endpoint string) []snssvc.Delivery {
	var out []snssvc.Delivery
	for _, d := range s.svc.Deliveries(s.topicARN) {
		if d.Endpoint == endpoint {
			out = append(out, d)
		}
	}
	return out
}

func snsClient(url string) *sns.Client {
	return sns.New(sns.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
}

func newRelay(t *testing.T, s *snsSandbox, topic string, logs io.Writer) *trailalert.Relay {
	t.Helper()
	relay, err := trailalert.NewRelay(trailalerttest.NewAlerter(t), s.client, topic, slog.New(slog.NewJSONHandler(logs, nil)).With("step", "trailrelay"))
	if err != nil {
		t.Fatal(err)
	}
	return relay
}

// TestRelayPublishesThroughTheSDK relays every fixture, and an oversized event, through the real
// SDK client to the sandbox's SNS, which enforces SNS's subject and size rules and applies a
// filter policy on the severity attribute.
func TestRelayPublishesThroughTheSDK(t *testing.T) {
	s := startSNS(t)
	var logs sandboxtest.Buffer
	relay := newRelay(t, s, s.topicARN, &logs)
	a := trailalerttest.NewAlerter(t)
	events := fixtures(t)
	events["oversized"] = trailalerttest.Oversized(t, events["15-iam-putrolepolicy"])
	critical := 0
	for name, raw := range events {
		out, err := relay.Handle(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := a.Alert(raw)
		if out.MessageID == "" || out.Severity != want.Severity.String() || out.EventID != want.EventID || out.Truncated != want.Truncated {
			t.Errorf("%s: output %+v", name, out)
		}
		if want.Severity == trailalert.Critical {
			critical++
		}
	}
	all := s.deliveries("everyone@example.com")
	if len(all) != len(events) {
		t.Fatalf("everyone@ got %d messages; want %d", len(all), len(events))
	}
	byBody := map[string]*trailalert.Message{}
	for _, raw := range events {
		m, _ := a.Alert(raw)
		byBody[m.Body] = m
	}
	for _, d := range all {
		m := byBody[d.Message]
		if m == nil || d.Message != m.Body || d.EmailSubject() != m.Subject {
			t.Errorf("delivery %q does not carry the rendered message", d.Subject)
			continue
		}
		for k, v := range m.Attributes {
			if got := d.Attributes[k]; got.DataType != "String" || got.StringValue != v {
				t.Errorf("%q: attribute %s = %+v; want String %q", d.Subject, k, got, v)
			}
		}
	}
	oncall := s.deliveries("oncall@example.com")
	if len(oncall) != critical || critical == 0 {
		t.Errorf("oncall@ (filter severity=critical) got %d messages; want the %d critical ones", len(oncall), critical)
	}
	for _, d := range oncall {
		if !strings.HasPrefix(d.Subject, "[CRITICAL]") {
			t.Errorf("oncall@ got %q", d.Subject)
		}
	}
	var line map[string]any
	first, _, _ := strings.Cut(logs.String(), "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("log is not JSON lines: %q", first)
	}
	for _, k := range []string{"step", "event_id", "event_source", "event_name", "severity", "message_id", "truncated", "redacted"} {
		if _, ok := line[k]; !ok || line["msg"] != "alert published" {
			t.Errorf("log line lacks %s: %v", k, line)
		}
	}
	for _, secret := range []string{"Zq8!vR2#pL5@wM9x", "c2VjcmV0LWJpbmFyeS1ibG9i", "BEGIN PRIVATE KEY", "kmsuserPassw0rdX9", "IQoJb3JpZ2luX2Vj", "after-the-cut"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("secret %.6q... reached the log", secret)
		}
		for _, d := range all {
			if strings.Contains(d.Body, secret) || strings.Contains(d.Subject, secret) {
				t.Errorf("secret %.6q... reached SNS in %q", secret, d.Subject)
			}
		}
	}
}

func TestRelayErrorsCrossTheLambdaBoundaryClassified(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		fault    *sandbox.Fault
		topic    string
		wantType string
		want     error // sentinel, for bad input
	}{
		{name: "not CloudTrail", input: `{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, wantType: lambdaerr.NameTerminal, want: trailalert.ErrNotCloudTrail},
		{name: "truncated", input: `{"detail-type":"AWS API Call via CloudTrail","detail":{"password":"hunter2"`, wantType: lambdaerr.NameTerminal, want: trailalert.ErrMalformed},
		{name: "missing field", input: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","detail":{"password":"hunter2"}}`, wantType: lambdaerr.NameTerminal, want: trailalert.ErrMissingField},
		{name: "execution status unknown", input: `{"detail-type":"Step Functions Execution Status Change","source":"aws.states","account":"123456789012","region":"us-east-1",` +
			`"detail":{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:m:r","status":"EXPLODED","cause":"password=hunter2"}}`, wantType: lambdaerr.NameTerminal, want: trailalert.ErrInvalidField},
		{name: "SNS internal error", fault: &sandbox.Fault{Service: "sns", Operation: "Publish", Kind: sandbox.FaultInternal}, wantType: lambdaerr.NameRetryable},
		{name: "SNS throttling", fault: &sandbox.Fault{Service: "sns", Operation: "Publish", Kind: sandbox.FaultThrottle}, wantType: lambdaerr.NameRetryable},
		{name: "topic does not exist", topic: "arn:aws:sns:us-east-1:123456789012:gone", wantType: lambdaerr.NameTerminal},
	}
	fx := fixtures(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startSNS(t)
			if tc.fault != nil {
				if _, err := s.srv.Faults.Add(*tc.fault); err != nil {
					t.Fatal(err)
				}
			}
			topic := s.topicARN
			if tc.topic != "" {
				topic = tc.topic
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil)).With("step", "trailrelay")
			relay, err := trailalert.NewRelay(trailalerttest.NewAlerter(t), s.client, topic, log)
			if err != nil {
				t.Fatal(err)
			}
			input := []byte(tc.input)
			if tc.input == "" {
				input = fx["07-kms-schedulekeydeletion-iamuser"]
			}
			_, err = lambdaerr.Wrap(log, relay.Handle)(context.Background(), input)
			if got := lambdaerr.TypeName(err); got != tc.wantType {
				t.Errorf("errorType %q (%v); want %q", got, err, tc.wantType)
			}
			if tc.want != nil {
				var term *lambdaerr.TerminalError
				if !errors.As(err, &term) || !strings.Contains(term.Reason, strings.TrimPrefix(tc.want.Error(), "trailalert: ")) {
					t.Errorf("error %v does not carry %v", err, tc.want)
				}
			}
			if strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), `"step":"trailrelay"`) {
				t.Errorf("boundary log %s", logs.String())
			}
			if n := len(s.svc.Deliveries("")); n != 0 {
				t.Errorf("%d messages delivered; want none", n)
			}
		})
	}
}

// TestTrailRelayLambdaEndToEnd runs the real trailrelay bootstrap behind the Runtime API emulator,
// with its SDK client pointed at an SNS endpoint through AWS_ENDPOINT_URL, as on Lambda.
func TestTrailRelayLambdaEndToEnd(t *testing.T) {
	s := startSNS(t)
	var stdout, stderr sandboxtest.Buffer
	env := []string{
		"TOPIC_ARN=" + s.topicARN,
		"REDACT_FIELDS=versionStages, clientRequestToken",
		"AWS_ENDPOINT_URL=" + s.url,
		"AWS_ACCESS_KEY_ID=AKIASANDBOX000000000",
		"AWS_SECRET_ACCESS_KEY=not-a-secret",
	}
	f, err := lambdaruntime.NewFunction(lambdaruntime.Config{
		Path: binaries["trailrelay"], FunctionName: "strongroom-trailrelay", Env: env, Timeout: 10 * time.Second,
		Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fx := fixtures(t)
	ctx := context.Background()

	res, err := f.Invoke(ctx, fx["11-secretsmanager-putsecretvalue-secrets"])
	if err != nil || res.FunctionError != nil {
		t.Fatalf("invoke: %v %v\nstderr: %s", err, res.FunctionError, stderr.String())
	}
	var out struct {
		MessageID string `json:"messageId"`
		Redacted  int    `json:"redacted"`
	}
	got := s.deliveries("everyone@example.com")
	if err := json.Unmarshal(res.Payload, &out); err != nil || len(got) != 1 || out.MessageID != got[0].MessageID || out.Redacted != 6 {
		t.Fatalf("response %s (%v); want the delivered message's id and 6 redacted (3 default, versionStages twice and clientRequestToken from REDACT_FIELDS)", res.Payload, err)
	}
	if !strings.Contains(got[0].Message, `"clientRequestToken": "[REDACTED]"`) || strings.Contains(got[0].Message, "Zq8!vR2") {
		t.Fatalf("redaction wrong:\n%.2000s", got[0].Message)
	}

	// Bad input (Lambda's Invoke only accepts JSON, so it is valid JSON that is not a CloudTrail
	// record): the function error is a TerminalError, and the boundary log names the missing field.
	res, err = f.Invoke(ctx, []byte(`{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","detail":{"password":"hunter2"}}`))
	if err != nil || res.FunctionError == nil || res.FunctionError.Type != "TerminalError" {
		t.Fatalf("bad input: %v %+v", err, res.FunctionError)
	}
	for _, stream := range []string{stdout.String(), stderr.String(), res.FunctionError.Message} {
		if strings.Contains(stream, "hunter2") {
			t.Error("the bad event's password reached a log or the error")
		}
	}
	// The function's stdout is copied from a pipe: give the copy a moment to catch up.
	const failed = `"msg":"step failed","step":"trailrelay","function":"strongroom-trailrelay","errorType":"TerminalError"`
	for i := 0; i < 100 && !strings.Contains(stdout.String(), failed); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), failed) {
		t.Errorf("no boundary log line for the failure:\n%s", stdout.String())
	}
	if n := len(s.svc.Deliveries("")); n != 1 {
		t.Errorf("%d deliveries after the bad event; want still 1", n)
	}
	if f.Starts() != 1 {
		t.Errorf("environment restarted %d times; a handled error must not kill it", f.Starts()-1)
	}
}

func TestTrailRelayLambdaRefusesMissingTopic(t *testing.T) {
	var stdout sandboxtest.Buffer
	p, err := lambdaruntime.Start(context.Background(), lambdaruntime.Config{
		Path: binaries["trailrelay"], FunctionName: "strongroom-trailrelay", Stdout: &stdout,
		Env: []string{"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	res, err := p.Invoke(context.Background(), fixtures(t)["01-signin-root-success"])
	if err != nil || res.FunctionError == nil || res.FunctionError.Type != lambdaruntime.ErrorTypeExit {
		t.Fatalf("invoke without TOPIC_ARN: %v %+v", err, res.FunctionError)
	}
	if !strings.Contains(stdout.String(), "TOPIC_ARN") || !strings.Contains(stdout.String(), `"msg":"cold start: set up the relay"`) {
		t.Errorf("init log does not say what to fix: %s", stdout.String())
	}
}

// TestAlertsPipelineInSandbox runs the whole alerts path in the sandbox: the sandbox's EventBridge
// emits each fixture's CloudTrail record as the AWS service would, a rule with the alerts pattern
// targets the real trailrelay bootstrap (run by the sandbox's Lambda), and the message lands at an
// e-mail subscription of the sandbox's SNS. Nothing here is a stand-in.
func TestAlertsPipelineInSandbox(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 2*time.Minute)
	cfg := env.AWSConfig()
	snsc, ebc := sns.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)

	topicARN, keyARN := alertTopic(ctx, t, env)
	topic := &sns.CreateTopicOutput{TopicArn: aws.String(topicARN)}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String("security@example.com")}); err != nil {
		t.Fatal(err)
	}
	var logs sandboxtest.Buffer
	fnARN, err := env.Lambda.RegisterBinary("strongroom-trailrelay", binaries["trailrelay"], io.MultiWriter(&logs, env.Recorder.Writer("trailrelay logs")),
		sblambda.WithEnv(map[string]string{"TOPIC_ARN": aws.ToString(topic.TopicArn)}), sblambda.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pattern := `{"detail-type":["AWS API Call via CloudTrail","AWS Console Sign In via CloudTrail","AWS Service Event via CloudTrail"],` +
		`"source":["aws.cloudhsm","aws.kms","aws.secretsmanager","aws.iam","aws.sts","aws.cloudtrail","aws.signin"]}`
	rule, err := ebc.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("cloudtrail-alerts"), EventPattern: aws.String(pattern)})
	if err != nil {
		t.Fatal(err)
	}
	stacktest.EnforceIAM(t, env.Sandbox, false)
	relayUnderIAM(ctx, t, env, fnARN, relayGrants{Topic: topicARN, Key: keyARN, Rules: []string{aws.ToString(rule.RuleArn)}})
	if _, err := ebc.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("cloudtrail-alerts"),
		Targets: []ebtypes.Target{{Id: aws.String("relay"), Arn: aws.String(fnARN)}}}); err != nil {
		t.Fatal(err)
	}

	a := trailalerttest.NewAlerter(t)
	want := map[string]string{} // event ID -> severity
	var secrets []string
	red, _ := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	for name, raw := range fixtures(t) {
		var ev struct {
			Source     string          `json:"source"`
			DetailType string          `json:"detail-type"`
			Resources  []string        `json:"resources"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Events.Publish(ctx, ev.Source, ev.DetailType, ev.Detail, ev.Resources...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, _ := a.Alert(raw)
		want[m.EventID] = m.Severity.String()
		var doc any
		_ = json.Unmarshal(raw, &doc)
		vals, _ := trailalerttest.CollectSensitive(doc, red)
		secrets = append(secrets, vals...)
	}

	var got []snssvc.Delivery
	for i := 0; i < 500 && len(got) < len(want); i++ {
		time.Sleep(20 * time.Millisecond)
		got = env.SNS.Deliveries(aws.ToString(topic.TopicArn))
	}
	if len(got) != len(want) {
		t.Fatalf("%d of %d alerts delivered; relay log:\n%s", len(got), len(want), logs.String())
	}
	seen := map[string]bool{}
	for _, d := range got {
		id := d.Body[strings.Index(d.Body, "#/events/")+len("#/events/"):]
		id, _, _ = strings.Cut(id, "\n")
		sev, ok := want[id]
		switch {
		case !ok || seen[id]:
			t.Errorf("delivery %q: event %q unexpected or delivered twice", d.Subject, id)
		case d.Attributes[trailalert.AttrSeverity].StringValue != sev:
			t.Errorf("delivery %q: severity %+v; want %s", d.Subject, d.Attributes[trailalert.AttrSeverity], sev)
		case !strings.HasSuffix(d.Subject, " in "+env.Account):
			t.Errorf("delivery %q: want the account EventBridge reported (%s)", d.Subject, env.Account)
		}
		seen[id] = true
	}
	// The fixtures' secrets legitimately travel in the events handed to the function; they must
	// appear nowhere else: not in what was published to SNS, not in the function's logs.
	input := func(r sandbox.Record, p sandbox.Part) bool {
		return r.Service == "lambda" && strings.HasPrefix(r.Operation, "Invoke") && p == sandbox.PartRequest
	}
	for _, f := range env.Recorder.ScanExcept(input, secrets...) {
		t.Errorf("secret leak: %s", f)
	}
	if !strings.Contains(logs.String(), `"msg":"alert published"`) {
		t.Error("relay logs were not captured, so the scan above proves nothing about them")
	}
}

// TestExecutionFailureAlertInSandbox runs the workflow-failure path end to end in the sandbox: a
// state machine named as the CDK app names the cluster-create workflow fails in its CreateCluster
// Task (the step's error quotes a password, and a property of the input holds another); the
// sandbox's Step Functions emits the status changes to its EventBridge, whose rule targets the
// relay (run by the sandbox's Lambda); the relay reads the history with the real Step Functions
// client and publishes with the real SNS client. The RUNNING change reaches the relay too and is
// skipped. Run with the relay in process, with GetExecutionHistory refused, and as the real
// trailrelay bootstrap (its main wires the Step Functions client).
func TestExecutionFailureAlertInSandbox(t *testing.T) {
	const (
		machine  = "ClusterCreateWorkflow5E2B6C1D-Yq3tK8wZ1mNa"
		run      = "Create-0b7c5a1e-3f2d-4c8b-9e6a-2d4f8b1c7e93"
		password = "Hunter2-Secret-99"
		property = "Xk9#mQ2$vL7pWz"
		token    = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN"
	)
	for _, tc := range []struct {
		name           string
		binary, refuse bool
	}{
		{name: "relay in process"},
		{name: "history refused", refuse: true},
		{name: "trailrelay binary", binary: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := sandboxtest.New(t)
			ctx := sandboxtest.Context(t, time.Minute)
			cfg := env.AWSConfig()
			snsc, ebc, sfnc := sns.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), sfn.NewFromConfig(cfg)
			topicARN, keyARN := alertTopic(ctx, t, env)
			topic := &sns.CreateTopicOutput{TopicArn: aws.String(topicARN)}
			// The relay in process calls with the test's own credentials; the bootstrap runs as the
			// function, under its role.
			if tc.binary {
				stacktest.EnforceIAM(t, env.Sandbox, false)
			}
			if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String("oncall@example.com"),
				Attributes: map[string]string{"FilterPolicy": `{"severity":["critical"]}`}}); err != nil {
				t.Fatal(err)
			}
			if tc.refuse {
				if _, err := env.Faults.Add(sandbox.Fault{Service: "states", Operation: "GetExecutionHistory", Kind: sandbox.FaultError,
					Code: "AccessDeniedException", Message: "User: arn:aws:sts::123456789012:assumed-role/relay/x is not authorized to perform: states:GetExecutionHistory"}); err != nil {
					t.Fatal(err)
				}
			}

			var relayLogs sandboxtest.Buffer
			logs := io.MultiWriter(&relayLogs, env.Recorder.Writer("trailrelay logs"))
			var (
				relayARN string
				err      error
			)
			if tc.binary {
				relayARN, err = env.Lambda.RegisterBinary("strongroom-trailrelay", binaries["trailrelay"], logs,
					sblambda.WithEnv(map[string]string{"TOPIC_ARN": topicARN}), sblambda.WithTimeout(30*time.Second))
			} else {
				log := slog.New(slog.NewJSONHandler(logs, nil)).With("step", "trailrelay")
				relay, rerr := trailalert.NewRelay(trailalerttest.NewAlerter(t), snsc, topicARN, log, trailalert.WithExecutionHistory(sfnc))
				if rerr != nil {
					t.Fatal(rerr)
				}
				handle := lambdaerr.Wrap(log, relay.Handle)
				relayARN, err = env.Lambda.RegisterHandler("strongroom-trailrelay", func(ctx context.Context, p []byte) ([]byte, error) {
					out, err := handle(ctx, p)
					if err != nil {
						return nil, err
					}
					return json.Marshal(out)
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			step, err := env.Lambda.RegisterHandler("strongroom-cluster-create", func(context.Context, []byte) ([]byte, error) {
				return nil, lambdaerr.Terminal("initialize the cluster: login as admin failed: password="+password+" rejected (credential "+property+")", nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			machineRole := "arn:aws:iam::" + env.Account + ":role/workflow"
			if tc.binary {
				machineRole = stacktest.WorkflowRole(ctx, t, cfg, "workflow", stacktest.Statement{Actions: []string{"lambda:InvokeFunction"}, Resources: []string{step}})
			}
			sm, err := sfnc.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(machine), RoleArn: aws.String(machineRole),
				Definition: aws.String(`{"StartAt":"Init","States":{"Init":{"Type":"Pass","Next":"CreateCluster"},
				  "CreateCluster":{"Type":"Task","Resource":"` + step + `","End":true}}}`)})
			if err != nil {
				t.Fatal(err)
			}
			pattern := `{"source":["aws.states"],"detail-type":["Step Functions Execution Status Change"],"detail":{"stateMachineArn":["` + aws.ToString(sm.StateMachineArn) + `"]}}`
			rule, err := ebc.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("workflow-failures"), EventPattern: aws.String(pattern)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.binary {
				relayUnderIAM(ctx, t, env, relayARN, relayGrants{Topic: topicARN, Key: keyARN, Rules: []string{aws.ToString(rule.RuleArn)},
					Executions: "arn:aws:states:" + env.Region + ":" + env.Account + ":execution:" + machine + ":*"})
			}
			if _, err := ebc.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("workflow-failures"),
				Targets: []ebtypes.Target{{Id: aws.String("relay"), Arn: aws.String(relayARN)}}}); err != nil {
				t.Fatal(err)
			}

			input, _ := json.Marshal(map[string]any{"Event": map[string]any{
				"RequestType": "Create", "RequestId": strings.TrimPrefix(run, "Create-"), "ResourceType": "Custom::CloudHsmCluster",
				"LogicalResourceId": "ClusterResource4D1E2F3A", "StackId": "arn:aws:cloudformation:" + env.Region + ":" + env.Account + ":stack/StrongroomCluster/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
				"ResponseURL":        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Security-Token=" + token,
				"ResourceProperties": map[string]any{"HsmCount": "2", "HsmUserPassword": property},
			}})
			exec, err := sfnc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(run), Input: aws.String(string(input))})
			if err != nil {
				t.Fatal(err)
			}
			execARN := aws.ToString(exec.ExecutionArn)

			var got []snssvc.Delivery
			for i := 0; i < 1500 && len(got) == 0; i++ {
				time.Sleep(20 * time.Millisecond)
				got = env.SNS.Deliveries(topicARN)
			}
			if len(got) == 0 {
				t.Fatalf("no alert delivered; relay log:\n%s", relayLogs.String())
			}
			// The RUNNING change was relayed first (EventBridge keeps an execution's order here) and
			// skipped: give a late second message a moment to show.
			time.Sleep(200 * time.Millisecond)
			if got = env.SNS.Deliveries(topicARN); len(got) != 1 {
				t.Fatalf("%d alerts delivered; want one for the FAILED execution (RUNNING is skipped)", len(got))
			}
			d := got[0]
			wantSubject := "[CRITICAL] states:ExecutionFailed cluster create at CreateCluster: TerminalError in " + env.Account
			if tc.refuse {
				wantSubject = "[CRITICAL] states:ExecutionFailed cluster create: TerminalError in " + env.Account
			}
			if d.EmailSubject() != wantSubject || d.Endpoint != "oncall@example.com" {
				t.Errorf("subject %q to %s; want %q to oncall@ (filter severity=critical)", d.EmailSubject(), d.Endpoint, wantSubject)
			}
			failedState := "Failed state:  CreateCluster (Task)\n"
			if tc.refuse {
				failedState = "Failed state:  could not be read: GetExecutionHistory failed with AccessDeniedException (the console shows the history)\n"
			}
			for _, want := range []string{
				failedState,
				"Error:         TerminalError\n",
				`Cause:         {"errorMessage":"initialize the cluster: login as admin failed: password=[REDACTED] rejected (credential [REDACTED])","errorType":"TerminalError"}` + "\n",
				"Console:       https://" + env.Region + ".console.aws.amazon.com/states/home?region=" + env.Region + "#/v2/executions/details/" + execARN + "\n",
				"Resource:      RequestType=Create\n",
				"LogicalResourceId=ClusterResource4D1E2F3A\n",
				"Workflow:      cluster create (state machine " + machine + ")\n",
			} {
				if !strings.Contains(d.Message, want) {
					t.Errorf("message lacks %q:\n%s", want, d.Message)
				}
			}
			for k, v := range map[string]string{trailalert.AttrSeverity: "critical", trailalert.AttrEventName: "ExecutionFailed", trailalert.AttrEventSource: "states.amazonaws.com", trailalert.AttrAccount: env.Account} {
				if a := d.Attributes[k]; a.DataType != "String" || a.StringValue != v {
					t.Errorf("attribute %s = %+v; want String %q", k, a, v)
				}
			}
			relayLog := relayLogs.String()
			for _, want := range []string{`"msg":"event skipped"`, `"msg":"alert published"`, `"execution_arn":"` + execARN + `"`} {
				if !strings.Contains(relayLog, want) {
					t.Errorf("relay log lacks %s:\n%s", want, relayLog)
				}
			}
			if tc.refuse && !strings.Contains(relayLog, `"error_code":"AccessDeniedException"`) {
				t.Errorf("relay log does not name the refused history read:\n%s", relayLog)
			}
			// The secrets travel legitimately in the execution's input, the step's answer and the
			// history; never to SNS or the relay's log.
			findings := env.Recorder.Scan(password, property, token)
			for _, f := range findings {
				if strings.Contains(f.Where, "(sns ") || strings.Contains(f.Where, "trailrelay logs") {
					t.Errorf("secret leak: %s", f)
				}
			}
			if len(findings) == 0 || !strings.Contains(relayLog, `"msg":"alert published"`) {
				t.Error("the scan found the secrets nowhere, or the relay's log was not captured: it proves nothing")
			}
		})
	}
}

// TestHealthAlertsInSandbox sends health findings as the checks do (PutEvents) through a rule on
// the health source to the trailrelay binary, which keeps each condition's status in a DynamoDB
// table (ALERT_STATE_TABLE): a condition is mailed when it goes into ALARM and when it recovers,
// not on every run, and a first OK is not mailed.
func TestHealthAlertsInSandbox(t *testing.T) {
	// The clock at 600x: Lambda retries a failed asynchronous invocation a minute later.
	env := sandboxtest.New(t, sandboxtest.Scale(600))
	ctx := sandboxtest.Context(t, time.Minute)
	cfg := env.AWSConfig()
	snsc, ebc, ddb := sns.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	topicARN, keyARN := alertTopic(ctx, t, env)
	topic := &sns.CreateTopicOutput{TopicArn: aws.String(topicARN)}
	for _, sub := range []struct{ endpoint, filter string }{{"everyone@example.com", ""}, {"oncall@example.com", `{"severity":["critical"]}`}} {
		in := &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String(sub.endpoint)}
		if sub.filter != "" {
			in.Attributes = map[string]string{"FilterPolicy": sub.filter}
		}
		if _, err := snsc.Subscribe(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	table, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("alert-state"), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(alertstate.KeyAttribute), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(alertstate.KeyAttribute), AttributeType: ddbtypes.ScalarAttributeTypeS}}})
	if err != nil {
		t.Fatal(err)
	}
	var relayLogs sandboxtest.Buffer
	relayARN, err := env.Lambda.RegisterBinary("strongroom-trailrelay", binaries["trailrelay"], &relayLogs,
		sblambda.WithEnv(map[string]string{"TOPIC_ARN": topicARN, "ALERT_STATE_TABLE": "alert-state"}), sblambda.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pattern := fmt.Sprintf(`{"source":[%q],"detail-type":[%q]}`, health.Source, health.DetailType)
	rule, err := ebc.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("health"), EventPattern: aws.String(pattern)})
	if err != nil {
		t.Fatal(err)
	}
	stacktest.EnforceIAM(t, env.Sandbox, false)
	relayUnderIAM(ctx, t, env, relayARN, relayGrants{Topic: topicARN, Key: keyARN, Table: aws.ToString(table.TableDescription.TableArn),
		Rules: []string{aws.ToString(rule.RuleArn)}})
	if _, err := ebc.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("health"), Targets: []ebtypes.Target{{Id: aws.String("relay"), Arn: aws.String(relayARN)}}}); err != nil {
		t.Fatal(err)
	}
	const store = "cks-1234567890abcdef0"
	at := env.Clock.Now()
	down := health.Unhealthy("Custom::CloudHsmKeyStore", store, health.KeyStoreConnection, health.Critical,
		"key store "+store+" (prod) is DISCONNECTED from cluster cluster-abcdefghijk: every key in it is unusable", "connect it", at)
	up := health.Healthy("Custom::CloudHsmKeyStore", store, health.KeyStoreConnection, "key store "+store+" (prod) is CONNECTED to cluster cluster-abcdefghijk", at)
	hsms := health.Healthy("Custom::CloudHsmCluster", "cluster-abcdefghijk", health.ClusterHsms, "cluster cluster-abcdefghijk has 2 ACTIVE HSMs (HsmCount 2)", at)
	handled := func() int {
		return strings.Count(relayLogs.String(), `"msg":"alert published"`) + strings.Count(relayLogs.String(), `"msg":"health finding skipped"`)
	}
	for i, f := range []health.Finding{down, down, up, up, hsms, down} {
		if err := emit.Send(ctx, ebc, "", []health.Finding{f}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); handled() < i+1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("finding %d not handled; relay log:\n%s", i, relayLogs.String())
			}
		}
	}
	var subjects []string
	for _, d := range env.SNS.Deliveries(topicARN) {
		if d.Endpoint == "everyone@example.com" {
			subjects = append(subjects, d.EmailSubject())
		}
	}
	want := []string{
		"[CRITICAL] strongroom:keystore-connection ALARM " + store + " in " + env.Account,
		"[INFO] strongroom:keystore-connection recovered " + store + " in " + env.Account,
		"[CRITICAL] strongroom:keystore-connection ALARM " + store + " in " + env.Account,
	}
	if strings.Join(subjects, "\n") != strings.Join(want, "\n") {
		t.Errorf("mailed:\n%s\nwant:\n%s\nrelay log:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"), relayLogs.String())
	}
	oncall := 0
	for _, d := range env.SNS.Deliveries(topicARN) {
		if d.Endpoint == "oncall@example.com" {
			oncall++
		}
	}
	if oncall != 2 {
		t.Errorf("oncall@ (severity=critical) got %d; want the two ALARMs", oncall)
	}
	if n := strings.Count(relayLogs.String(), `"msg":"health finding skipped"`); n != 3 {
		t.Errorf("%d findings skipped; want 3 (a repeat ALARM, a repeat OK, a first OK)", n)
	}

	// A change whose alert SNS refused is alerted when the delivery is retried (Lambda's own
	// retry of the asynchronous invocation).
	// Three refusals: the SDK's own attempts, so the invocation fails and Lambda retries it.
	fault, err := env.Faults.Add(sandbox.Fault{Service: "sns", Operation: "Publish", Kind: sandbox.FaultInternal, Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	zones := health.Unhealthy("Custom::CloudHsmCluster", "cluster-abcdefghijk", health.ClusterZones, health.Warning, "cluster cluster-abcdefghijk has ACTIVE HSMs in 1 zone(s)", "spread them", at)
	if err := emit.Send(ctx, ebc, "", []health.Finding{zones}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n := len(env.SNS.Deliveries(topicARN)); n == 3+2+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused zones alert was not sent on retry; relay log:\n%s", relayLogs.String())
		}
	}
	for _, f := range env.Faults.List() {
		if f.ID == fault && f.Hits != 3 {
			t.Errorf("the publish fault was hit %d times; want 3 (the invocation failed)", f.Hits)
		}
	}
}

// TestDuplicatesHeldBack relays through the real alertstate store over the sandbox's DynamoDB: a
// CloudTrail event delivered three times is mailed once; the same failure (one principal, one
// call, one error code) in three events is mailed once, and the first of the next window says how
// many were held back; another principal's failure is its own.
func TestDuplicatesHeldBack(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	cfg := env.AWSConfig()
	ddb := dynamodb.NewFromConfig(cfg)
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("alert-state"), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(alertstate.KeyAttribute), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(alertstate.KeyAttribute), AttributeType: ddbtypes.ScalarAttributeTypeS}}}); err != nil {
		t.Fatal(err)
	}
	store, err := alertstate.New(ddb, "alert-state")
	if err != nil {
		t.Fatal(err)
	}
	s := startSNS(t)
	var logs sandboxtest.Buffer
	now := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	relay, err := trailalert.NewRelay(trailalerttest.NewAlerter(t), s.client, s.topicARN, slog.New(slog.NewJSONHandler(&logs, nil)),
		trailalert.WithDedup(store), trailalert.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	denied := fixtures(t)["17-secretsmanager-accessdenied"]
	var ev map[string]any
	if err := json.Unmarshal(denied, &ev); err != nil {
		t.Fatal(err)
	}
	variant := func(id, principal string) []byte {
		e := map[string]any{}
		b, _ := json.Marshal(ev)
		_ = json.Unmarshal(b, &e)
		d := e["detail"].(map[string]any)
		d["eventID"] = id
		if principal != "" {
			d["userIdentity"].(map[string]any)["arn"] = principal
		}
		out, _ := json.Marshal(e)
		return out
	}
	mailed := func() int { return len(s.deliveries("everyone@example.com")) }
	relayOnce := func(raw []byte) trailalert.RelayOutput {
		t.Helper()
		out, err := relay.Handle(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := variant("11111111-1111-4111-8111-111111111111", "")
	for i := 0; i < 3; i++ {
		out := relayOnce(first)
		if (i == 0) != (out.MessageID != "") || (i > 0 && !strings.Contains(out.Skipped, "repeated delivery")) {
			t.Errorf("delivery %d of the same event: %+v", i+1, out)
		}
	}
	for i, id := range []string{"22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"} {
		if out := relayOnce(variant(id, "")); !strings.Contains(out.Skipped, "the same failure") {
			t.Errorf("repeat %d of the failure: %+v; want it held back", i+1, out)
		}
	}
	if out := relayOnce(variant("44444444-4444-4444-8444-444444444444", "arn:aws:iam::123456789012:user/someone-else")); out.MessageID == "" {
		t.Errorf("another principal's failure was held back: %+v", out)
	}
	if n := mailed(); n != 2 {
		t.Fatalf("%d mailed; want 2 (the first failure, and another principal's)", n)
	}
	now = now.Add(trailalert.DedupWindow + time.Minute)
	if out := relayOnce(variant("55555555-5555-4555-8555-555555555555", "")); out.MessageID == "" {
		t.Fatalf("the failure in the next window was held back: %+v", out)
	}
	got := s.deliveries("everyone@example.com")
	if len(got) != 3 || !strings.Contains(got[2].Message, "Repeats:       2 more alert(s) like this one") {
		t.Errorf("%d mailed; the last says:\n%s", len(got), got[len(got)-1].Message)
	}
	if strings.Contains(got[0].Message, "Repeats:") {
		t.Errorf("the first alert mentions repeats:\n%s", got[0].Message)
	}

	// An alert SNS refused is not a duplicate when its delivery is retried.
	if _, err := s.srv.Faults.Add(sandbox.Fault{Service: "sns", Operation: "Publish", Kind: sandbox.FaultInternal, Count: 1}); err != nil {
		t.Fatal(err)
	}
	retried := variant("66666666-6666-4666-8666-666666666666", "arn:aws:iam::123456789012:user/third")
	if _, err := relay.Handle(ctx, retried); err == nil {
		t.Fatal("the refused publish was not an error")
	}
	if out := relayOnce(retried); out.MessageID == "" {
		t.Errorf("the retried delivery of an alert SNS refused was held back: %+v", out)
	}
}

// TestChatTopicsFilterBySeverity runs the trailrelay binary with CHAT_TOPICS naming a warning and a
// critical chat topic (the topics AWS Chatbot reads for Slack and Teams channels; here e-mail
// subscriptions stand in for Chatbot's): a warning reaches the warning topic only, a critical both,
// and each is a Chatbot custom notification.
func TestChatTopicsFilterBySeverity(t *testing.T) {
	s := startSNS(t)
	ctx := context.Background()
	chat := map[string]string{}
	for _, sev := range []string{"warning", "critical"} {
		topic, err := s.client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("chat-" + sev)})
		if err != nil {
			t.Fatal(err)
		}
		chat[sev] = aws.ToString(topic.TopicArn)
		if _, err := s.client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String("chatbot-" + sev + "@example.com")}); err != nil {
			t.Fatal(err)
		}
	}
	topics, _ := json.Marshal(chat)
	var stdout, stderr sandboxtest.Buffer
	f, err := lambdaruntime.NewFunction(lambdaruntime.Config{
		Path: binaries["trailrelay"], FunctionName: "strongroom-trailrelay", Timeout: 10 * time.Second, Stdout: &stdout, Stderr: &stderr,
		Env: []string{"TOPIC_ARN=" + s.topicARN, "CHAT_TOPICS=" + string(topics), "AWS_ENDPOINT_URL=" + s.url,
			"AWS_ACCESS_KEY_ID=AKIASANDBOX000000000", "AWS_SECRET_ACCESS_KEY=not-a-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fx := fixtures(t)
	for _, name := range []string{"17-secretsmanager-accessdenied", "01-signin-root-success"} {
		res, err := f.Invoke(ctx, fx[name])
		if err != nil || res.FunctionError != nil {
			t.Fatalf("%s: %v %v\nstderr: %s", name, err, res.FunctionError, stderr.String())
		}
	}
	var subjects []string
	for _, d := range s.svc.Deliveries(s.topicARN) {
		if d.Endpoint == "everyone@example.com" {
			subjects = append(subjects, d.EmailSubject())
		}
	}
	if len(subjects) != 2 || !strings.HasPrefix(subjects[0], "[WARNING]") || !strings.HasPrefix(subjects[1], "[CRITICAL]") {
		t.Fatalf("e-mailed %q; want the warning, then the critical alert", subjects)
	}
	got := map[string][]string{}
	for sev, arn := range chat {
		for _, d := range s.svc.Deliveries(arn) {
			var n struct {
				Version, Source string
				Content         struct{ TextType, Title, Description string }
			}
			if err := json.Unmarshal([]byte(d.Message), &n); err != nil || n.Version != "1.0" || n.Source != "custom" ||
				n.Content.TextType != "client-markdown" || !strings.HasPrefix(n.Content.Description, "```\n") {
				t.Errorf("%s chat message is not a Chatbot custom notification (%v): %.300s", sev, err, d.Message)
			}
			got[sev] = append(got[sev], n.Content.Title)
		}
	}
	if len(got["warning"]) != 2 || len(got["critical"]) != 1 || got["critical"][0] != subjects[1] {
		t.Errorf("chat: warning topic %q, critical topic %q; want both alerts, and the critical one only", got["warning"], got["critical"])
	}
}
