package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// fastRetries keeps the SDK's standard retry rules but caps the backoff, so retried faults do not
// slow the test down.
func fastRetries(o *retry.StandardOptions) { o.MaxBackoff = 5 * time.Millisecond }

func TestJSONProtocolErrors(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	post := func(target, auth string) (*http.Response, map[string]any) {
		target, query, _ := strings.Cut(target, "?")
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.URL+"/?"+query, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	const signed = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/events/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef0123"
	tests := []struct {
		name, target, auth string
		status             int
		code               string
	}{
		{"unknown operation", "AWSEvents.Frobnicate", signed, 400, "UnknownOperationException"},
		{"unknown prefix", "NoSuchService.PutRule", signed, 400, "UnknownOperationException"},
		{"unsigned", "AWSEvents.ListRules", "", 403, "MissingAuthenticationTokenException"},
		{"malformed signature", "AWSEvents.ListRules", "Bearer x", 400, "IncompleteSignatureException"},
		{"signed", "AWSEvents.ListRules", signed, 200, ""},
		{"pre-signed", "AWSEvents.ListRules?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fevents%2Faws4_request&X-Amz-Signature=ab", "", 200, ""},
		{"pre-signed without signature", "AWSEvents.ListRules?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fevents%2Faws4_request", "", 400, "IncompleteSignatureException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(tc.target, tc.auth)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId header")
			}
			if tc.code == "" {
				return
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tc.code {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tc.code)
			}
			if body["__type"] != tc.code || body["message"] == "" || body["message"] != body["Message"] {
				t.Errorf("body = %v, want __type %s and a message", body, tc.code)
			}
		})
	}
	// The SDK surfaces an unknown operation as an API error with that code.
	_, err := eventbridge.NewFromConfig(env.AWSConfig()).ActivateEventSource(ctx, &eventbridge.ActivateEventSourceInput{Name: aws.String("x")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Errorf("unimplemented operation via SDK: err = %v, want UnknownOperationException", err)
	}
	// The same for a REST operation the sandbox does not implement.
	_, err = lambda.NewFromConfig(env.AWSConfig()).ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("x")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Errorf("unimplemented REST operation via SDK: err = %v, want UnknownOperationException", err)
	}
}

func TestQueryProtocolErrors(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	form := func(body, auth string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	stsAuth := "AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00"
	otherAuth := "AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/nosuch/aws4_request, SignedHeaders=host, Signature=00"
	tests := []struct {
		name, body, auth string
		status           int
		contains         string
	}{
		{"invalid action", "Action=AssumeRoot&Version=2011-06-15", stsAuth, 400, "<Code>InvalidAction</Code>"},
		{"missing action", "Version=2011-06-15", stsAuth, 400, "<Code>MissingAction</Code>"},
		{"routed by unique action", "Action=GetCallerIdentity&Version=2011-06-15", otherAuth, 200, "<GetCallerIdentityResult>"},
		{"success envelope", "Action=GetCallerIdentity&Version=2011-06-15", stsAuth, 200, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><UserId>`},
		{"request id in body", "Action=GetCallerIdentity&Version=2011-06-15", stsAuth, 200, "<ResponseMetadata><RequestId>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := form(tc.body, tc.auth)
			if status != tc.status || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %s, want %d containing %s", status, body, tc.status, tc.contains)
			}
		})
	}
}

func TestFaultThrottleIsRetriedBySDK(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	if _, err := env.Faults.Add(sandbox.Fault{Service: "events", Operation: "ListRules", Kind: sandbox.FaultThrottle, Count: 2}); err != nil {
		t.Fatal(err)
	}
	client := eventbridge.NewFromConfig(env.AWSConfig(), func(o *eventbridge.Options) { o.Retryer = retry.NewStandard(fastRetries) })
	if _, err := client.ListRules(ctx, &eventbridge.ListRulesInput{}); err != nil {
		t.Fatalf("ListRules after two throttles: %v (the SDK should retry them)", err)
	}
	recs := env.Recorder.Records("events", "ListRules")
	var codes []string
	for _, r := range recs {
		codes = append(codes, fmt.Sprintf("%d %s", r.Status, r.ErrorCode))
	}
	if want := "[400 ThrottlingException 400 ThrottlingException 200 ]"; fmt.Sprint(codes) != want {
		t.Errorf("recorded calls = %v, want %s", codes, want)
	}
	// Query and REST services throttle with their own codes, which the SDK also retries.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultThrottle, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Faults.Add(sandbox.Fault{Service: "lambda", Kind: sandbox.FaultThrottle, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.NewFromConfig(env.AWSConfig(), func(o *sts.Options) { o.Retryer = retry.NewStandard(fastRetries) }).GetCallerIdentity(ctx, nil); err != nil {
		t.Errorf("STS after a Throttling fault: %v", err)
	}
	if _, err := env.Lambda.RegisterHandler("f", func(context.Context, []byte) ([]byte, error) { return []byte("1"), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := lambda.NewFromConfig(env.AWSConfig(), func(o *lambda.Options) { o.Retryer = retry.NewStandard(fastRetries) }).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f")}); err != nil {
		t.Errorf("Lambda after a TooManyRequestsException fault: %v", err)
	}
	want := map[string]string{"sts": "Throttling", "lambda": "TooManyRequestsException"}
	for svc, code := range want {
		if recs := env.Recorder.Records(svc, "*"); len(recs) < 2 || recs[0].ErrorCode != code || recs[0].Injected != "throttle" {
			t.Errorf("%s records = %+v, want the first answered %s", svc, recs, code)
		}
	}
}

func TestFaultErrorsDecodeIntoSDKTypes(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	eb := eventbridge.NewFromConfig(env.AWSConfig(), func(o *eventbridge.Options) { o.Retryer = retry.NewStandard(fastRetries) })

	// A 5xx is the service's own internal-failure exception, retried by the SDK until it gives up.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "events", Operation: "ListRules", Kind: sandbox.FaultInternal, Count: 3}); err != nil {
		t.Fatal(err)
	}
	_, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{})
	var internal *ebtypes.InternalException
	if !errors.As(err, &internal) {
		t.Fatalf("ListRules under 3 internal faults: err = %v, want *types.InternalException", err)
	}
	if n := env.Recorder.Count("events", "ListRules"); n != 3 {
		t.Errorf("attempts = %d, want 3 (the SDK retries 5xx)", n)
	}
	if r := env.Recorder.Records("events", "ListRules")[0]; r.Status != 500 {
		t.Errorf("status = %d, want 500", r.Status)
	}

	// A named exception with its status.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "events", Operation: "DescribeRule", Kind: sandbox.FaultError, Code: "ResourceNotFoundException", Message: "gone", Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("x")})
	var nf *ebtypes.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.Message) != "gone" {
		t.Errorf("named fault: err = %v, want ResourceNotFoundException gone", err)
	}
	// The same over the Query protocol.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultError, Code: "ExpiredTokenException", Message: "expired", Status: 400, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(env.AWSConfig()).GetCallerIdentity(ctx, nil)
	var expired *ststypes.ExpiredTokenException
	if !errors.As(err, &expired) || expired.ErrorMessage() != "expired" {
		t.Errorf("query named fault: err = %v, want ExpiredTokenException", err)
	}
	// And over REST-JSON (Lambda).
	if _, err := env.Faults.Add(sandbox.Fault{Service: "lambda", Kind: sandbox.FaultInternal, Count: 3}); err != nil {
		t.Fatal(err)
	}
	_, err = lambda.NewFromConfig(env.AWSConfig(), func(o *lambda.Options) { o.Retryer = retry.NewStandard(fastRetries) }).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f")})
	var svcErr *lambdatypes.ServiceException
	if !errors.As(err, &svcErr) {
		t.Errorf("lambda internal fault: err = %v, want ServiceException", err)
	}
}

func TestFaultProbabilityAndLatency(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Seed(7), sandboxtest.Scale(1000))
	ctx := sandboxtest.Context(t, 20*time.Second)
	client := sts.NewFromConfig(env.AWSConfig(), func(o *sts.Options) { o.RetryMaxAttempts = 1 })
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultInternal, Probability: 0.5}); err != nil {
		t.Fatal(err)
	}
	failed := 0
	const calls = 100
	for range calls {
		if _, err := client.GetCallerIdentity(ctx, nil); err != nil {
			failed++
		}
	}
	if failed < 30 || failed > 70 {
		t.Errorf("%d of %d calls failed under probability 0.5", failed, calls)
	}
	env.Faults.Clear()

	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultLatency, Latency: sandbox.Duration(30 * time.Second), Count: 1}); err != nil {
		t.Fatal(err)
	}
	before := env.Clock.Now()
	if _, err := client.GetCallerIdentity(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if d := env.Clock.Now().Sub(before); d < 30*time.Second {
		t.Errorf("call took %v of sandbox time, want at least the injected 30s", d)
	}
}

func TestFaultValidation(t *testing.T) {
	sandboxtest.WantErrors(t, []sandboxtest.ErrorCase[sandbox.Fault]{
		{Name: "no service", In: sandbox.Fault{Kind: sandbox.FaultThrottle}, Want: "service"},
		{Name: "unknown kind", In: sandbox.Fault{Service: "kms", Kind: "explode"}, Want: "kind"},
		{Name: "error without code", In: sandbox.Fault{Service: "kms", Kind: sandbox.FaultError}, Want: "code"},
		{Name: "bad status", In: sandbox.Fault{Service: "kms", Kind: sandbox.FaultError, Code: "X", Status: 200}, Want: "status"},
		{Name: "latency without duration", In: sandbox.Fault{Service: "kms", Kind: sandbox.FaultLatency}, Want: "latency"},
		{Name: "probability above one", In: sandbox.Fault{Service: "kms", Kind: sandbox.FaultThrottle, Probability: 2}, Want: "probability"},
		{Name: "negative count", In: sandbox.Fault{Service: "kms", Kind: sandbox.FaultThrottle, Count: -1}, Want: "count"},
	}, func(_ *testing.T, f sandbox.Fault) error { return f.Validate() })
}

func TestAdminAPI(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	do := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, method, env.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, body := do("POST", "/_sandbox/faults", `{"service":"sts","kind":"error","code":"AccessDenied","status":403,"count":1}`); status != 200 || !bytes.Contains(body, []byte(`"id": 1`)) {
		t.Fatalf("add fault: %d %s", status, body)
	}
	if status, body := do("POST", "/_sandbox/faults", `{"service":"sts","kind":"error"}`); status != 400 || !bytes.Contains(body, []byte("needs code")) {
		t.Errorf("invalid fault: %d %s, want 400 naming code", status, body)
	}
	_, err := sts.NewFromConfig(env.AWSConfig()).GetCallerIdentity(ctx, nil)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
		t.Errorf("after admin fault: err = %v, want AccessDenied", err)
	}
	_, body := do("GET", "/_sandbox/faults", "")
	var faults []sandbox.Fault
	if err := json.Unmarshal(body, &faults); err != nil || len(faults) != 1 || faults[0].Hits != 1 {
		t.Errorf("faults = %s (%v), want one rule hit once", body, err)
	}
	if status, _ := do("DELETE", "/_sandbox/faults", ""); status != 200 || len(env.Faults.List()) != 0 {
		t.Errorf("clear faults: status %d, %d rules left", status, len(env.Faults.List()))
	}
	_, body = do("GET", "/_sandbox/records?service=sts", "")
	var recs []map[string]any
	if err := json.Unmarshal(body, &recs); err != nil || len(recs) != 1 || recs[0]["errorCode"] != "AccessDenied" || !strings.Contains(recs[0]["request"].(string), "Action=GetCallerIdentity") {
		t.Errorf("records = %s", body)
	}
	if status, _ := do("DELETE", "/_sandbox/records", ""); status != 200 || env.Recorder.Count("", "") != 0 {
		t.Errorf("delete records: status %d, %d left", status, env.Recorder.Count("", ""))
	}
	if status, body := do("POST", "/_sandbox/clock", `{"scale":50}`); status != 200 || env.Clock.Scale() != 50 {
		t.Errorf("set scale: %d %s", status, body)
	}
	if status, body := do("GET", "/_sandbox/health", ""); status != 200 || !bytes.Contains(body, []byte(`"events"`)) {
		t.Errorf("health: %d %s", status, body)
	}
}

func TestRecordingAndSecretScan(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	const leaked = `pa"ss/word+1`
	const safe = "never-sent-anywhere"
	client := eventbridge.NewFromConfig(env.AWSConfig())
	detail, _ := json.Marshal(map[string]string{"password": leaked})
	if _, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("strongroom.test"), DetailType: aws.String("t"), Detail: aws.String(string(detail)),
	}}}); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(env.Recorder.Writer("relay logs"), `{"msg":"oops","value":"%s"}`, "log-only-secret")

	findings := env.Recorder.Scan(leaked, safe, "log-only-secret")
	var where []string
	for _, f := range findings {
		where = append(where, f.String())
	}
	joined := strings.Join(where, "\n")
	if !strings.Contains(joined, "secret #0 found (json-in-json) in record 1 (events PutEvents) request") {
		t.Errorf("findings = %s, want the JSON-escaped secret in the PutEvents request", joined)
	}
	if strings.Contains(joined, "secret #1") {
		t.Errorf("findings = %s: a value never sent was reported", joined)
	}
	if !strings.Contains(joined, "secret #2 found (raw) in log relay logs") {
		t.Errorf("findings = %s, want the secret in the extra log sink", joined)
	}
	if strings.Contains(joined, leaked) {
		t.Error("a finding prints the secret value")
	}
	recs := env.Recorder.Records("events", "PutEvents")
	if len(recs) != 1 || recs[0].Status != 200 || !bytes.Contains(recs[0].ResponseBody, []byte("EventId")) || recs[0].RequestID == "" || recs[0].Time.IsZero() {
		t.Errorf("record = %+v", recs)
	}
}

// TestPerServiceEndpointVariables checks that clients configured only from the environment,
// with the per-service AWS_ENDPOINT_URL_<SERVICE> variables, reach the one sandbox server.
func TestPerServiceEndpointVariables(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // must be overridden by the service variables
	t.Setenv("AWS_ENDPOINT_URL_STS", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDHSM_V2", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_EC2", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_SNS", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_KMS", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_SSM", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_SFN", env.URL)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", env.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", sandbox.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sandbox.SecretAccessKey)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("none")})
	if _, ok := typed[*lambdatypes.ResourceNotFoundException](err); !ok {
		t.Errorf("Lambda via AWS_ENDPOINT_URL_LAMBDA: err = %v, want ResourceNotFoundException from the sandbox", err)
	}
	_, err = dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("none")})
	if _, ok := typed[*ddbtypes.ResourceNotFoundException](err); !ok {
		t.Errorf("DynamoDB via AWS_ENDPOINT_URL_DYNAMODB: err = %v, want ResourceNotFoundException from the sandbox", err)
	}
	for _, c := range []struct {
		via string
		err error
	}{
		{"STS via AWS_ENDPOINT_URL_STS", errOf(sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil))},
		{"EventBridge via AWS_ENDPOINT_URL_EVENTBRIDGE", errOf(eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{}))},
		{"Secrets Manager via AWS_ENDPOINT_URL_SECRETS_MANAGER", errOf(secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}))},
		{"CloudHSM via AWS_ENDPOINT_URL_CLOUDHSM_V2", errOf(cloudhsmv2.NewFromConfig(cfg).DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{}))},
		{"EC2 via AWS_ENDPOINT_URL_EC2", errOf(ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))},
		{"SNS via AWS_ENDPOINT_URL_SNS", errOf(sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{}))},
		{"KMS via AWS_ENDPOINT_URL_KMS", errOf(kms.NewFromConfig(cfg).DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}))},
		{"SSM via AWS_ENDPOINT_URL_SSM", errOf(ssm.NewFromConfig(cfg).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{}))},
		{"Step Functions via AWS_ENDPOINT_URL_SFN", errOf(sfn.NewFromConfig(cfg).ListStateMachines(ctx, &sfn.ListStateMachinesInput{}))},
	} {
		if c.err != nil {
			t.Errorf("%s: %v", c.via, c.err)
		}
	}
	for _, svc := range []string{"sts", "events", "lambda", "secretsmanager", "cloudhsmv2", "ec2", "sns", "kms", "ssm", "states", "dynamodb"} {
		if env.Recorder.Count(svc, "") == 0 {
			t.Errorf("no %s call reached the sandbox", svc)
		}
	}
}

// stepFunctionsStandIn is a JSON 1.0 service registered by the test, standing where package
// stepfunctions will plug in, to prove the router serves JSON 1.0 to the real sfn client.
type stepFunctionsStandIn struct{}

func (stepFunctionsStandIn) ServiceID() string    { return "sfn" }
func (stepFunctionsStandIn) TargetPrefix() string { return "AWSStepFunctions" }
func (stepFunctionsStandIn) JSONVersion() string  { return "1.0" }
func (stepFunctionsStandIn) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"ListStateMachines": func(context.Context, json.RawMessage) (any, error) {
			return map[string]any{"stateMachines": []map[string]any{{
				"name": "cluster-create", "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:cluster-create",
				"type": "STANDARD", "creationDate": core.Epoch(time.Unix(1700000000, 0)),
			}}}, nil
		},
		"DescribeExecution": func(_ context.Context, in json.RawMessage) (any, error) {
			var req struct{ ExecutionArn string }
			if err := core.Decode(in, &req); err != nil {
				return nil, err
			}
			return nil, core.Errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", req.ExecutionArn)
		},
	}
}

func TestJSON10Service(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	env.RegisterJSON(stepFunctionsStandIn{})
	client := sfn.NewFromConfig(env.AWSConfig())
	out, err := client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(out.StateMachines) != 1 || aws.ToString(out.StateMachines[0].Name) != "cluster-create" || out.StateMachines[0].CreationDate.Unix() != 1700000000 {
		t.Fatalf("ListStateMachines = %+v, %v", out, err)
	}
	_, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:x")})
	var missing *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &missing) || missing.ErrorMessage() != "Execution Does Not Exist: 'arn:x'" {
		t.Errorf("DescribeExecution err = %v, want ExecutionDoesNotExist", err)
	}
	if r := env.Recorder.Records("sfn", "ListStateMachines"); len(r) != 1 {
		t.Errorf("records = %+v", r)
	}
}

// TestInternalFaultCodes checks that an injected 5xx uses each service's own exception, which
// its SDK decodes into the typed error once the retries are spent.
func TestInternalFaultCodes(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	cfg := env.AWSConfig()
	cfg.Retryer = func() aws.Retryer { return retry.NewStandard(fastRetries) }
	tests := []struct {
		service string
		call    func() error
		typed   func(error) (string, bool)
		code    string
	}{
		{"secretsmanager", func() error {
			return errOf(secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}))
		}, typed[*smtypes.InternalServiceError], "InternalServiceError"},
		{"cloudhsmv2", func() error {
			return errOf(cloudhsmv2.NewFromConfig(cfg).DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{}))
		}, typed[*hsmtypes.CloudHsmInternalFailureException], "CloudHsmInternalFailureException"},
		{"sns", func() error {
			return errOf(sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{}))
		}, typed[*snstypes.InternalErrorException], "InternalError"},
		{"kms", func() error {
			return errOf(kms.NewFromConfig(cfg).DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}))
		}, typed[*kmstypes.KMSInternalException], "KMSInternalException"},
		{"ssm", func() error {
			return errOf(ssm.NewFromConfig(cfg).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{}))
		}, typed[*ssmtypes.InternalServerError], "InternalServerError"},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			if _, err := env.Faults.Add(sandbox.Fault{Service: tc.service, Kind: sandbox.FaultInternal, Count: 3}); err != nil {
				t.Fatal(err)
			}
			err := tc.call()
			if _, ok := tc.typed(err); !ok {
				t.Errorf("err = %v, want the typed %s", err, tc.code)
			}
			recs := env.Recorder.Records(tc.service, "")
			if len(recs) != 3 || recs[2].Status != 500 || recs[2].ErrorCode != tc.code {
				t.Errorf("records = %d, last %+v: want 3 attempts answered 500 %s", len(recs), recs[len(recs)-1], tc.code)
			}
			if err := tc.call(); err != nil {
				t.Errorf("after the fault ran out: %v", err)
			}
		})
	}
}

// TestNamedFaultMessages checks that typed errors keep their message whichever member name the
// service's model uses (Secrets Manager and CloudHSM declare Message, EventBridge message).
func TestNamedFaultMessages(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	cfg := env.AWSConfig()
	tests := []struct {
		service, code string
		call          func() error
		message       func(error) (string, bool)
	}{
		{"secretsmanager", "ResourceNotFoundException", func() error {
			return errOf(secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")}))
		}, typed[*smtypes.ResourceNotFoundException]},
		{"cloudhsmv2", "CloudHsmResourceNotFoundException", func() error {
			return errOf(cloudhsmv2.NewFromConfig(cfg).DeleteCluster(ctx, &cloudhsmv2.DeleteClusterInput{ClusterId: aws.String("cluster-aaaaaaaaaaa")}))
		}, typed[*hsmtypes.CloudHsmResourceNotFoundException]},
		{"events", "ResourceNotFoundException", func() error {
			return errOf(eventbridge.NewFromConfig(cfg).DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("x")}))
		}, typed[*ebtypes.ResourceNotFoundException]},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			if _, err := env.Faults.Add(sandbox.Fault{Service: tc.service, Kind: sandbox.FaultError, Code: tc.code, Message: "injected text", Count: 1}); err != nil {
				t.Fatal(err)
			}
			err := tc.call()
			if msg, ok := tc.message(err); !ok || msg != "injected text" {
				t.Errorf("err = %v (typed %v, message %q), want the typed %s with its message", err, ok, msg, tc.code)
			}
		})
	}
}

func TestSecretLeaks(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	sm := secretsmanager.NewFromConfig(env.AWSConfig())
	const password = "Zq8-long-pass-4711"
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String(`{"username":"app","password":"` + password + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{}); err != nil {
		t.Fatal(err)
	}
	if leaks := env.SecretLeaks(); len(leaks) != 0 {
		t.Fatalf("leaks through secret channels only = %v, want none", leaks)
	}

	// Now leak the password three ways: in a message, a function environment and a log.
	topic, err := sns.NewFromConfig(env.AWSConfig()).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(env.AWSConfig()).Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("rotated to " + password)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Lambda.RegisterHandler("f", func(context.Context, []byte) ([]byte, error) { return nil, nil }, sblambda.WithEnv(map[string]string{"DB_PASSWORD": password})); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(env.Recorder.Writer("f logs"), "connecting with %s\n", password)
	// And on the client instance: a document that reads the secret with the AWS CLI (a secret
	// channel) and then hands it to cloudhsm-cli on its command line and in its environment.
	leakOnInstance(ctx, t, env, `v="$(aws secretsmanager get-secret-value --secret-id db --query SecretString --output text)"`,
		`pw="${v#*\"password\":\"}"; pw="${pw%%\"*}"`,
		`CLOUDHSM_PIN="$pw" "$CLOUDHSM_HOME/bin/cloudhsm-cli" user list > /dev/null || true`,
		`"$CLOUDHSM_HOME/bin/cloudhsm-cli" login --username admin --role admin --password "$pw" || true`)

	var where []string
	for _, f := range env.SecretLeaks() {
		where = append(where, f.Where)
	}
	got := strings.Join(where, "; ")
	for _, want := range []string{"(sns Publish) request", "source lambda function environments", "log f logs", "source client instance processes and files"} {
		if !strings.Contains(got, want) {
			t.Errorf("leaks = %s, want one in %s", got, want)
		}
	}
	if strings.Contains(got, "CreateSecret") || strings.Contains(got, "GetSecretValue") || strings.Contains(got, "GetRandomPassword") {
		t.Errorf("leaks = %s: secret channels reported", got)
	}
}

// leakOnInstance runs the script lines as a document on the sandbox's client instance and waits
// for it to succeed.
func leakOnInstance(ctx context.Context, t *testing.T, env *sandboxtest.Env, lines ...string) {
	t.Helper()
	api := ssm.NewFromConfig(env.AWSConfig())
	doc, _ := json.Marshal(map[string]any{"schemaVersion": "2.2", "description": "leaks a secret",
		"mainSteps": []any{map[string]any{"action": "aws:runShellScript", "name": "leak", "inputs": map[string]any{"runCommand": append([]string{"set -eu"}, lines...)}}}})
	if _, err := api.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("Leak"), Content: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}
	out, err := api.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("Leak"), InstanceIds: []string{sbec2.DefaultInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		inv, err := api.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(sbec2.DefaultInstanceID)})
		var notYet *ssmtypes.InvocationDoesNotExist
		switch {
		case errors.As(err, &notYet):
		case err != nil:
			t.Fatal(err)
		case inv.Status == ssmtypes.CommandInvocationStatusSuccess:
			return
		case inv.Status == ssmtypes.CommandInvocationStatusFailed || inv.Status == ssmtypes.CommandInvocationStatusTimedOut:
			t.Fatalf("leak document %s: %s", inv.Status, aws.ToString(inv.StandardErrorContent))
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStepFunctionsWiring runs a state machine whose aws-sdk task reaches Secrets Manager through
// the platform (recorded, and fault-injectable), and whose FAILED status reaches an EventBridge
// rule's Lambda target as "Step Functions Execution Status Change".
func TestStepFunctionsWiring(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	cfg := env.AWSConfig()
	got := ruleEvents(ctx, t, env, "failed-executions",
		`{"source":["aws.states"],"detail-type":["Step Functions Execution Status Change"],"detail":{"status":["FAILED","TIMED_OUT","ABORTED"]}}`)
	def := `{"StartAt":"Describe","States":{
	  "Describe":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:secretsmanager:describeSecret","Parameters":{"SecretId":"absent"},
	    "Catch":[{"ErrorEquals":["SecretsManager.ResourceNotFoundException"],"Next":"Missing"}],"End":true},
	  "Missing":{"Type":"Fail","Error":"SecretMissing","Cause":"the secret named absent does not exist"}}}`
	client := sfn.NewFromConfig(cfg)
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("m"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn")})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		detail, _ := ev["detail"].(map[string]any)
		if ev["source"] != "aws.states" || detail["status"] != "FAILED" || detail["executionArn"] != aws.ToString(exec.ExecutionArn) {
			t.Errorf("event = %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no FAILED status change reached the EventBridge target")
	}
	desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: exec.ExecutionArn})
	if err != nil || desc.Status != sfntypes.ExecutionStatusFailed || aws.ToString(desc.Error) != "SecretMissing" {
		t.Errorf("execution = %+v, %v", desc, err)
	}
	recs := env.Recorder.Records("secretsmanager", "DescribeSecret")
	if len(recs) != 1 || !recs[0].Internal || recs[0].ErrorCode != "ResourceNotFoundException" {
		t.Errorf("aws-sdk task records = %+v, want one internal DescribeSecret answered ResourceNotFoundException", recs)
	}
	// The execution history is covered by secret scans: the Fail state's cause is in it.
	if f := env.Recorder.Scan("the secret named absent does not exist"); len(f) == 0 || !strings.Contains(fmt.Sprint(f), "step functions execution histories") {
		t.Errorf("scan findings = %v, want the execution history scanned", f)
	}
}

// TestRotationFailedReachesEventBridge: a rotation whose function fails is reported to EventBridge
// as the CloudTrail service event RotationFailed, which the alerts rule matches.
func TestRotationFailedReachesEventBridge(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(1000))
	ctx := sandboxtest.Context(t, 30*time.Second)
	cfg := env.AWSConfig()
	got := ruleEvents(ctx, t, env, "rotation-failed",
		`{"source":["aws.secretsmanager"],"detail-type":["AWS Service Event via CloudTrail"],"detail":{"eventName":["RotationFailed"]}}`)
	rotator, err := env.Lambda.RegisterHandler("rotator", func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("database unreachable")
	})
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	secret, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String(`{"password":"initial-pass-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db"), RotationLambdaARN: aws.String(rotator),
		RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(4 hours)")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		detail, _ := ev["detail"].(map[string]any)
		extra, _ := detail["additionalEventData"].(map[string]any)
		if ev["detail-type"] != "AWS Service Event via CloudTrail" || detail["eventName"] != "RotationFailed" || extra["SecretId"] != aws.ToString(secret.ARN) {
			t.Errorf("event = %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("RotationFailed never reached the EventBridge target")
	}
	env.CheckNoSecrets(t)
}

// TestInternalInvokeFaults: a lambda fault rule also throttles the invocations a state machine
// makes, and the ASL Retry on Lambda.TooManyRequestsException carries the execution through.
func TestInternalInvokeFaults(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(1000))
	ctx := sandboxtest.Context(t, 20*time.Second)
	fn, err := env.Lambda.RegisterHandler("step", func(_ context.Context, p []byte) ([]byte, error) { return []byte(`{"done":true}`), nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Faults.Add(sandbox.Fault{Service: "lambda", Operation: "Invoke", Kind: sandbox.FaultThrottle, Count: 2}); err != nil {
		t.Fatal(err)
	}
	def := `{"StartAt":"Step","States":{"Step":{"Type":"Task","Resource":"` + fn + `",
	  "Retry":[{"ErrorEquals":["Lambda.TooManyRequestsException"],"IntervalSeconds":2,"MaxAttempts":3,"BackoffRate":2}],"End":true}}}`
	client := sfn.NewFromConfig(env.AWSConfig())
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("throttled"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn")})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	desc := waitExecution(ctx, t, env, client, aws.ToString(exec.ExecutionArn))
	if desc.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(desc.Output) != `{"done":true}` {
		t.Errorf("execution = %s %s %s", desc.Status, aws.ToString(desc.Error), aws.ToString(desc.Output))
	}
	var codes []string
	for _, r := range env.Recorder.Records("lambda", "Invoke") {
		codes = append(codes, r.ErrorCode)
	}
	if fmt.Sprint(codes) != "[TooManyRequestsException TooManyRequestsException ]" {
		t.Errorf("lambda records = %q, want two injected throttles then the invocation", codes)
	}
}

// ruleEvents makes an EventBridge rule with pattern whose target is a Lambda function that hands
// every event it receives to the returned channel.
func ruleEvents(ctx context.Context, t *testing.T, env *sandboxtest.Env, rule, pattern string) <-chan map[string]any {
	t.Helper()
	got := make(chan map[string]any, 8)
	target, err := env.Lambda.RegisterHandler(rule+"-target", func(_ context.Context, p []byte) ([]byte, error) {
		var ev map[string]any
		_ = json.Unmarshal(p, &ev)
		got <- ev
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(env.AWSConfig())
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{{Id: aws.String("target"), Arn: aws.String(target)}}}); err != nil {
		t.Fatal(err)
	}
	return got
}

// typed reports whether err is the SDK's typed exception E, and its message (the member the
// service's model names Message or message).
func typed[E interface {
	error
	ErrorMessage() string
}](err error) (string, bool) {
	var e E
	if !errors.As(err, &e) {
		return "", false
	}
	return e.ErrorMessage(), true
}

// errOf keeps only the error of an SDK call, for tables of calls that check nothing else.
func errOf[O any](_ O, err error) error { return err }

// TestFaultLostAnswer: a lost-answer rule lets the call take effect and then answers with the
// service's internal error, so the caller cannot tell it did: a StartExecution (JSON) answered
// InternalFailure 500 whose execution exists (DescribeExecution finds it, and a second start of
// the same name is ExecutionAlreadyExists), a Lambda Invoke (REST) answered ServiceException 500
// whose handler ran, and a state machine's in-process Invoke whose handler ran though the task
// saw the error. A refused call keeps its own error.
func TestFaultLostAnswer(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(1000))
	ctx := sandboxtest.Context(t, 20*time.Second)
	ran := 0
	fn, err := env.Lambda.RegisterHandler("step", func(_ context.Context, p []byte) ([]byte, error) { ran++; return []byte(`{"done":true}`), nil })
	if err != nil {
		t.Fatal(err)
	}
	noRetry := func(o *sfn.Options) { o.RetryMaxAttempts = 1 }
	client := sfn.NewFromConfig(env.AWSConfig(), noRetry)
	def := `{"StartAt":"Step","States":{"Step":{"Type":"Task","Resource":"` + fn + `","End":true}}}`
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("lost"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn")})
	if err != nil {
		t.Fatal(err)
	}

	// JSON: the start happens, its answer is lost.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "states", Operation: "StartExecution", Kind: sandbox.FaultLostAnswer, Count: 1}); err != nil {
		t.Fatal(err)
	}
	start := &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("run-1")}
	_, err = client.StartExecution(ctx, start)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InternalFailure" {
		t.Fatalf("StartExecution under a lost answer: %v, want InternalFailure", err)
	}
	arn := strings.Replace(aws.ToString(sm.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":run-1"
	if _, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
		t.Errorf("the execution whose start answer was lost does not exist: %v", err)
	}
	// run-1 runs the handler too: let it end before the counts below, so its run is not counted
	// (or its invocation take a fault) there.
	if desc := waitExecution(ctx, t, env, client, arn); desc.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("run-1, whose start answer was lost: %s, want SUCCEEDED", desc.Status)
	}
	var exists *sfntypes.ExecutionAlreadyExists
	if _, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("run-1"), Input: aws.String(`{"other":1}`)}); !errors.As(err, &exists) {
		t.Errorf("a second start of run-1 with other input: %v, want ExecutionAlreadyExists", err)
	}

	// A refusal keeps its own error: a start on a machine that does not exist.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "states", Operation: "StartExecution", Kind: sandbox.FaultLostAnswer, Count: 1}); err != nil {
		t.Fatal(err)
	}
	var missing *sfntypes.StateMachineDoesNotExist
	if _, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(aws.ToString(sm.StateMachineArn) + "-gone")}); !errors.As(err, &missing) {
		t.Errorf("a refused start under a lost answer: %v, want StateMachineDoesNotExist", err)
	}

	// REST: the invocation runs, its answer is lost.
	env.Faults.Clear()
	if _, err := env.Faults.Add(sandbox.Fault{Service: "lambda", Operation: "Invoke", Kind: sandbox.FaultLostAnswer, Count: 1}); err != nil {
		t.Fatal(err)
	}
	before := ran
	_, err = lambda.NewFromConfig(env.AWSConfig(), func(o *lambda.Options) { o.RetryMaxAttempts = 1 }).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("step")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceException" || ran != before+1 {
		t.Errorf("Invoke under a lost answer: %v, the handler ran %d times; want ServiceException after one run", err, ran-before)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response.Header.Get("X-Amz-Executed-Version") != "" {
		t.Errorf("the lost answer's error carries the result's header X-Amz-Executed-Version %q", re.Response.Header.Get("X-Amz-Executed-Version"))
	}

	// In-process: a task's invocation runs, and the task sees the error.
	if _, err := env.Faults.Add(sandbox.Fault{Service: "lambda", Operation: "Invoke", Kind: sandbox.FaultLostAnswer, Count: 1}); err != nil {
		t.Fatal(err)
	}
	before = ran
	exec, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("run-2")})
	if err != nil {
		t.Fatal(err)
	}
	desc := waitExecution(ctx, t, env, client, aws.ToString(exec.ExecutionArn))
	if desc.Status != sfntypes.ExecutionStatusFailed || ran != before+1 {
		t.Errorf("execution %s (%s), handler ran %d times; want FAILED after one run", desc.Status, aws.ToString(desc.Error), ran-before)
	}
}

// waitExecution polls the execution arn each sandbox second until it is no longer RUNNING.
func waitExecution(ctx context.Context, t *testing.T, env *sandboxtest.Env, client *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for {
		if err := env.Clock.Sleep(ctx, time.Second); err != nil {
			t.Fatalf("execution %s still running: %v", arn, err)
		}
		desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if desc.Status != sfntypes.ExecutionStatusRunning {
			return desc
		}
	}
}
