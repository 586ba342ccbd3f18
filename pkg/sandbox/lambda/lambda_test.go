package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// valueError is returned by value, so its errorType is its name without dereferencing.
type valueError struct{}

func (valueError) Error() string { return "value error" }

func echo(_ context.Context, p []byte) ([]byte, error) { return p, nil }

func TestInvokeRequestResponse(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	if _, err := env.Lambda.RegisterHandler("echo", echo); err != nil {
		t.Fatal(err)
	}
	// A step handler wrapped like lambdas/<name>/main.go does, through aws-lambda-go's own adapter.
	step := lambdaerr.Wrap(slog.New(slog.DiscardHandler), func(_ context.Context, in struct{ Mode string }) (string, error) {
		switch in.Mode {
		case "terminal":
			return "", lambdaerr.Terminal("the field Mode is wrong: use ok", nil)
		case "retry":
			return "", lambdaerr.Retryable("describe cluster", errors.New("throttled"))
		}
		return "done", nil
	})
	if _, err := env.Lambda.RegisterHandler("step", awslambda.NewHandler(step).Invoke); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Lambda.RegisterHandler("value", func(context.Context, []byte) ([]byte, error) { return nil, valueError{} }); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Lambda.RegisterHandler("panics", func(context.Context, []byte) ([]byte, error) { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	client := lambda.NewFromConfig(env.AWSConfig())

	tests := []struct {
		name, function, payload string
		wantPayload             string
		wantType, wantMessage   string
	}{
		{name: "echo by name", function: "echo", payload: `{"a":1}`, wantPayload: `{"a":1}`},
		{name: "echo by ARN", function: env.Lambda.ARN("echo"), payload: `[1,2]`, wantPayload: `[1,2]`},
		{name: "echo by partial ARN", function: env.Account + ":function:echo", payload: `"x"`, wantPayload: `"x"`},
		{name: "step success", function: "step", payload: `{"Mode":"ok"}`, wantPayload: `"done"`},
		{name: "terminal error type", function: "step", payload: `{"Mode":"terminal"}`, wantType: "TerminalError", wantMessage: "the field Mode is wrong: use ok"},
		{name: "retryable error type", function: "step", payload: `{"Mode":"retry"}`, wantType: "RetryableError", wantMessage: "describe cluster: throttled"},
		{name: "value error type", function: "value", payload: `{}`, wantType: "valueError", wantMessage: "value error"},
		{name: "panic", function: "panics", payload: `{}`, wantType: "string", wantMessage: "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tc.function), Payload: []byte(tc.payload)})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if out.StatusCode != 200 {
				t.Errorf("StatusCode = %d, want 200", out.StatusCode)
			}
			if aws.ToString(out.ExecutedVersion) != "$LATEST" {
				t.Errorf("ExecutedVersion = %q, want $LATEST", aws.ToString(out.ExecutedVersion))
			}
			if tc.wantType == "" {
				if out.FunctionError != nil {
					t.Fatalf("FunctionError = %q, payload %s", *out.FunctionError, out.Payload)
				}
				if string(out.Payload) != tc.wantPayload {
					t.Errorf("Payload = %s, want %s", out.Payload, tc.wantPayload)
				}
				return
			}
			if aws.ToString(out.FunctionError) != "Unhandled" {
				t.Errorf("FunctionError = %v, want Unhandled", out.FunctionError)
			}
			var doc map[string]any
			if err := json.Unmarshal(out.Payload, &doc); err != nil {
				t.Fatalf("error payload %s: %v", out.Payload, err)
			}
			if doc["errorType"] != tc.wantType || doc["errorMessage"] != tc.wantMessage {
				t.Errorf("error payload = %s, want errorType %q errorMessage %q", out.Payload, tc.wantType, tc.wantMessage)
			}
		})
	}
	// Each API call is recorded once, with the function's answer as the response body.
	recs := env.Recorder.Records("lambda", "Invoke")
	if len(recs) != len(tests) {
		t.Fatalf("records = %d, want %d", len(recs), len(tests))
	}
	if r := recs[4]; r.Internal || r.Protocol != "rest" || !strings.Contains(string(r.ResponseBody), `"errorType":"TerminalError"`) {
		t.Errorf("record of the terminal error = %+v", r)
	}
}

func TestInvokeErrors(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	if _, err := env.Lambda.RegisterHandler("echo", echo); err != nil {
		t.Fatal(err)
	}
	client := lambda.NewFromConfig(env.AWSConfig())

	_, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("missing")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), "function:missing") {
		t.Errorf("unknown function: err = %v, want ResourceNotFoundException naming the function", err)
	}
	_, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte("{not json")})
	var badContent *types.InvalidRequestContentException
	if !errors.As(err, &badContent) {
		t.Errorf("bad JSON: err = %v, want InvalidRequestContentException", err)
	}
	big := []byte(`"` + strings.Repeat("a", 6*1024*1024) + `"`)
	_, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: big})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("7 MB payload: err = %v, want RequestTooLargeException", err)
	}
	// An unsigned request is refused before it reaches the function.
	resp, err := http.Post(env.URL+"/2015-03-31/functions/echo/invocations", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned invoke: %d %s, want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Errorf("DryRun: status %v err %v, want 204", out, err)
	}
	if n := len(env.Lambda.History("echo")); n != 0 {
		t.Errorf("DryRun ran the function %d times, want 0", n)
	}
}

func TestInvokeEventRetriesFunctionErrors(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(6000)) // the 1 and 2 minute retry delays take ~30 ms
	ctx := sandboxtest.Context(t, 20*time.Second)
	calls := make(chan []byte, 10)
	if _, err := env.Lambda.RegisterHandler("flaky", func(_ context.Context, p []byte) ([]byte, error) {
		calls <- p
		if len(calls) < 3 {
			return nil, errors.New("not yet")
		}
		return []byte(`"ok"`), nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewFromConfig(env.AWSConfig()).Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("flaky"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"n":1}`),
	})
	if err != nil || out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("Event invoke: out %+v err %v, want 202 with an empty body", out, err)
	}
	if err := env.Lambda.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	hist := env.Lambda.History("flaky")
	if len(hist) != 3 {
		t.Fatalf("attempts = %d, want 3 (the first try and Lambda's two retries)", len(hist))
	}
	for i, h := range hist {
		if !h.Async || h.Attempt != i+1 || string(h.Payload) != `{"n":1}` {
			t.Errorf("attempt %d = %+v", i+1, h)
		}
	}
	if gap := hist[1].Start.Sub(hist[0].End); gap < time.Minute {
		t.Errorf("first retry came %v after the failure (sandbox time), want at least 1m", gap)
	}
	if hist[2].Error != nil {
		t.Errorf("third attempt failed: %v", hist[2].Error)
	}
}

func TestLambdaInvokerPort(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	type refused struct{ error }
	if _, err := env.Lambda.RegisterHandler("refuse", func(context.Context, []byte) ([]byte, error) {
		return nil, &refused{errors.New("no")}
	}); err != nil {
		t.Fatal(err)
	}
	var invoker core.LambdaInvoker = env.Lambda
	_, err := invoker.Invoke(ctx, "refuse", []byte(`{}`))
	var ferr *core.FunctionError
	if !errors.As(err, &ferr) || ferr.Type != "refused" || ferr.Message != "no" {
		t.Errorf("Invoke err = %v, want *core.FunctionError refused: no", err)
	}
	var cerr *core.Error
	if _, err := invoker.Invoke(ctx, "nope", nil); !errors.As(err, &cerr) || cerr.Code != "ResourceNotFoundException" {
		t.Errorf("unknown function err = %v, want ResourceNotFoundException", err)
	}
	recs := env.Recorder.Records("lambda", "Invoke")
	if len(recs) != 1 || !recs[0].Internal || recs[0].ErrorCode != "refused" {
		t.Errorf("records = %+v, want one internal invocation with error code refused", recs)
	}
}

// TestBootstrapBinary runs a real aws-lambda-go executable behind the Runtime API emulator; its
// SDK client finds the sandbox through the AWS_ENDPOINT_URL the sandbox put in its environment.
func TestBootstrapBinary(t *testing.T) {
	env, ctx := sandboxtest.New(t), sandboxtest.Context(t, 120*time.Second)
	registerWhoami(ctx, t, env, "whoami", sblambda.WithEnv(map[string]string{"STAGE": "test"}))
	client := lambda.NewFromConfig(env.AWSConfig())
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("whoami"), Payload: []byte(`{}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("Invoke: err %v function error %v payload %s", err, out.FunctionError, out.Payload)
	}
	var who map[string]string
	if err := json.Unmarshal(out.Payload, &who); err != nil || who["account"] != env.Account {
		t.Errorf("payload = %s, want the sandbox account %s", out.Payload, env.Account)
	}
	if n := env.Recorder.Count("sts", "GetCallerIdentity"); n != 1 {
		t.Errorf("the function made %d STS calls through the sandbox, want 1", n)
	}
	// The function signs with credentials of its own, so its calls name it and a rule can aim
	// at them alone: the test's own call (static key) passes, the function's is refused.
	for _, r := range env.Recorder.Records("sts", "GetCallerIdentity") {
		if r.Caller != "whoami" {
			t.Errorf("the function's STS call was recorded with caller %q, want whoami", r.Caller)
		}
	}
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Caller: "whoami", Kind: sandbox.FaultError, Code: "AccessDenied", Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.NewFromConfig(env.NoRetryConfig()).GetCallerIdentity(ctx, nil); err != nil {
		t.Errorf("the test's own call met the function's fault: %v", err)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("whoami"), Payload: []byte(`{}`)})
	if err != nil || out.FunctionError == nil || !strings.Contains(string(out.Payload), "AccessDenied") {
		t.Errorf("the function's call did not meet its fault: err %v payload %s", err, out.Payload)
	}
	if rules := env.Faults.List(); rules[len(rules)-1].Hits != 1 {
		t.Errorf("the function's fault hit %d calls, want 1", rules[len(rules)-1].Hits)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("whoami"), Payload: []byte(`{"fail":"policy"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var doc core.FunctionError
	_ = json.Unmarshal(out.Payload, &doc)
	if aws.ToString(out.FunctionError) != "Unhandled" || doc.Type != "RefusedError" || doc.Message != "refused: policy" {
		t.Errorf("failing invoke: FunctionError %v payload %s, want Unhandled RefusedError", out.FunctionError, out.Payload)
	}
	if f := env.Recorder.Scan("STAGE=test"); len(f) == 0 {
		t.Error("the function environment is not covered by secret scans")
	}
}

func TestListAndGetFunctions(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	for _, name := range []string{"b-step", "a-step"} {
		if _, err := env.Lambda.RegisterHandler(name, echo, sblambda.WithEnv(map[string]string{"LOG_LEVEL": "info"}), sblambda.WithTimeout(30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	client := lambda.NewFromConfig(env.AWSConfig())
	list, err := client.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Functions) != 2 || aws.ToString(list.Functions[0].FunctionName) != "a-step" || list.Functions[0].Runtime != types.RuntimeProvidedal2023 ||
		list.Functions[0].Architectures[0] != types.ArchitectureArm64 || aws.ToInt32(list.Functions[0].Timeout) != 30 {
		t.Errorf("ListFunctions = %+v", list.Functions)
	}
	got, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(env.Lambda.ARN("b-step"))})
	if err != nil || aws.ToString(got.Configuration.FunctionArn) != env.Lambda.ARN("b-step") || got.Configuration.Environment.Variables["LOG_LEVEL"] != "info" {
		t.Errorf("GetFunction = %+v, %v", got, err)
	}
	_, err = client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetFunctionConfiguration of a missing function: err = %v", err)
	}
}

// TestClockHeldWhileABinaryRuns: with WithClockHeld, the sandbox clock stands still while the
// function's executable runs, so its wall time is not scaled into sandbox time; without it, the
// same run takes sandbox time at the clock's scale.
func TestClockHeldWhileABinaryRuns(t *testing.T) {
	env, ctx := sandboxtest.New(t), sandboxtest.Context(t, 120*time.Second)
	registerWhoami(ctx, t, env, "held", sblambda.WithClockHeld())
	registerWhoami(ctx, t, env, "running")
	// A minute of sandbox time is 600 µs of wall time: no process starts and calls STS that fast,
	// while the moments around the held run (recording the invocation) take far less.
	env.Clock.SetScale(100000)
	client := lambda.NewFromConfig(env.AWSConfig())
	took := func(name string) time.Duration {
		t.Helper()
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke %s: %v %v", name, err, out.FunctionError)
		}
		h := env.Lambda.History(name)
		return h[len(h)-1].End.Sub(h[len(h)-1].Start)
	}
	if d := took("held"); d >= time.Minute {
		t.Errorf("with the clock held the invocation took %v of sandbox time; want less than a minute", d)
	}
	if d := took("running"); d < time.Minute {
		t.Errorf("without the hold the invocation took %v of sandbox time; want its wall time scaled x100000", d)
	}
}

// registerWhoami builds testdata/whoami for the host and registers it as name, its output kept by
// the recorder under "whoami".
func registerWhoami(ctx context.Context, t *testing.T, env *sandboxtest.Env, name string, opts ...sblambda.FunctionOption) {
	t.Helper()
	bin, err := lambdaruntime.BuildHost(ctx, "./testdata/whoami", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Lambda.RegisterBinary(name, bin, env.Recorder.Writer("whoami"), opts...); err != nil {
		t.Fatal(err)
	}
}
