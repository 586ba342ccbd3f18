package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func TestFaultSkipValidation(t *testing.T) {
	sandboxtest.WantErrors(t, []sandboxtest.ErrorCase[sandbox.Fault]{
		{Name: "negative skip", In: sandbox.Fault{Service: "kms", Kind: sandbox.FaultThrottle, Skip: -1}, Want: "skip"},
	}, func(_ *testing.T, f sandbox.Fault) error { return f.Validate() })
	if err := (&sandbox.Fault{Service: "kms", Kind: sandbox.FaultThrottle, Skip: 3}).Validate(); err != nil {
		t.Errorf("skip 3: %v", err)
	}
}

// callerIdentity calls STS GetCallerIdentity n times with one attempt each and returns each
// call's error code ("" for success).
func callerIdentity(ctx context.Context, t *testing.T, env *sandboxtest.Env, n int) []string {
	t.Helper()
	client := sts.NewFromConfig(env.NoRetryConfig())
	var codes []string
	for range n {
		_, err := client.GetCallerIdentity(ctx, nil)
		var apiErr smithy.APIError
		switch {
		case err == nil:
			codes = append(codes, "")
		case errors.As(err, &apiErr):
			codes = append(codes, apiErr.ErrorCode())
		default:
			t.Fatal(err)
		}
	}
	return codes
}

// TestFaultSkipLetsCallsPass: a rule with Skip N lets the first N matching calls through, then
// applies to the next Count; a call another rule takes still counts among the N.
func TestFaultSkipLetsCallsPass(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Operation: "GetCallerIdentity", Kind: sandbox.FaultError, Code: "AccessDenied", Skip: 2, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := callerIdentity(ctx, t, env, 4), []string{"", "", "AccessDenied", ""}; !slices.Equal(got, want) {
		t.Errorf("calls answered %q; want %q (the third call only)", got, want)
	}
	rules := env.Faults.List()
	if len(rules) != 1 || rules[0].Hits != 1 || rules[0].Skipped != 2 {
		t.Errorf("rule after 4 calls: %+v; want 1 hit, 2 skipped", rules)
	}
	recs := env.Recorder.Records("sts", "GetCallerIdentity")
	for i, r := range recs {
		if injected := r.Injected != ""; injected != (i == 2) {
			t.Errorf("record %d: injected %q", i+1, r.Injected)
		}
	}

	env.Faults.Clear()
	env.Recorder.Reset()
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultError, Code: "First", Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultError, Code: "Second", Skip: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := callerIdentity(ctx, t, env, 3), []string{"First", "Second", ""}; !slices.Equal(got, want) {
		t.Errorf("with two rules the calls answered %q; want %q (Skip counts the call the first rule took)", got, want)
	}
}

// TestFaultWhen: a rule with When sees only the calls When accepts, and its Skip counts only
// those.
func TestFaultWhen(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	var mu sync.Mutex
	accept := false
	set := func(v bool) { mu.Lock(); accept = v; mu.Unlock() }
	when := func(sandbox.Call) bool { mu.Lock(); defer mu.Unlock(); return accept }
	if _, err := env.Faults.Add(sandbox.Fault{Service: "sts", Kind: sandbox.FaultError, Code: "AccessDenied", Skip: 1, Count: 1, When: when}); err != nil {
		t.Fatal(err)
	}
	got := callerIdentity(ctx, t, env, 2) // not accepted: untouched and not counted
	set(true)
	got = append(got, callerIdentity(ctx, t, env, 3)...)
	if want := []string{"", "", "", "AccessDenied", ""}; !slices.Equal(got, want) {
		t.Errorf("calls answered %q; want %q (the second accepted call only)", got, want)
	}
	if r := env.Faults.List()[0]; r.Skipped != 1 || r.Hits != 1 {
		t.Errorf("rule: %d skipped, %d hits; want 1 and 1", r.Skipped, r.Hits)
	}
}

// TestFaultSkipThroughAdminAPI: skip is a JSON field of the admin API's rules, validated there.
func TestFaultSkipThroughAdminAPI(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	post := func(body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.URL+"/_sandbox/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(`{"service":"sts","kind":"throttle","skip":-2}`); status != http.StatusBadRequest || !strings.Contains(body, "skip") {
		t.Errorf("negative skip: %d %s; want 400 naming skip", status, body)
	}
	if status, body := post(`{"service":"sts","kind":"error","code":"AccessDenied","skip":1,"count":1}`); status != http.StatusOK {
		t.Fatalf("add a rule with skip: %d %s", status, body)
	}
	if got, want := callerIdentity(ctx, t, env, 3), []string{"", "AccessDenied", ""}; !slices.Equal(got, want) {
		t.Errorf("calls answered %q; want %q", got, want)
	}
	var rules []map[string]any
	b, _ := json.Marshal(env.Faults.List())
	if err := json.Unmarshal(b, &rules); err != nil || len(rules) != 1 || rules[0]["skip"] != 1.0 || rules[0]["skipped"] != 1.0 {
		t.Errorf("rules as JSON = %s; want skip 1 and skipped 1", b)
	}
}

// TestCallSites attributes calls to the functions whose invocation records follow them, telling
// apart two functions running at once by what each may call.
func TestCallSites(t *testing.T) {
	recs := []sandbox.Record{
		{Service: "states", Operation: "StartExecution"},
		{Service: "ec2", Operation: "DescribeSubnets"},                            // check, while entry still runs
		{Service: "lambda", Operation: "Invoke", Path: "check"},                   // check ends
		{Service: "lambda", Operation: "Invoke(Event, attempt 1)", Path: "entry"}, // entry ends
		{Service: "cloudhsmv2", Operation: "DescribeClusters"},                    // test's own call
		{Service: "cloudhsmv2", Operation: "DescribeClusters", ErrorCode: "Throttling", Injected: "throttle"},
		{Service: "cloudhsmv2", Operation: "DescribeClusters"},
		{Service: "lambda", Operation: "Invoke", Path: "describe"},
		{Service: "lambda", Operation: "Invoke", Path: "scale", Injected: "throttle", ErrorCode: "TooManyRequestsException"},
		{Service: "cloudhsmv2", Operation: "DescribeClusters"},
		{Service: "cloudhsmv2", Operation: "CreateHsm"},
		{Service: "lambda", Operation: "Invoke", Path: "scale"},
	}
	for i := range recs {
		recs[i].Seq = i + 1
	}
	may := func(fn, service, op string) bool {
		switch fn {
		case "entry":
			return op == "StartExecution"
		case "check":
			return service == "ec2"
		case "describe":
			return op == "DescribeClusters"
		case "scale":
			return service == "cloudhsmv2"
		}
		return false
	}
	callers := sandbox.Callers(recs, may)
	want := map[int]string{1: "entry", 2: "check", 3: "check", 5: "describe", 6: "describe", 7: "describe", 8: "describe", 9: "scale", 10: "scale", 11: "scale", 12: "scale"}
	for seq, fn := range want {
		if callers[seq] != fn {
			t.Errorf("record %d (%s %s) attributed to %q; want %q", seq, recs[seq-1].Service, recs[seq-1].Operation, callers[seq], fn)
		}
	}
	if fn, ok := callers[4]; ok {
		t.Errorf("the asynchronous delivery is attributed to %q; want it left out", fn)
	}
	var got []string
	for _, s := range sandbox.CallSites(recs, may) {
		got = append(got, fmt.Sprintf("%s skip %d calls %d", s, s.Skip, s.Calls))
	}
	wantSites := []string{
		"entry states StartExecution skip 0 calls 1",
		"check ec2 DescribeSubnets skip 0 calls 1",
		"check lambda Invoke skip 0 calls 1",
		"describe cloudhsmv2 DescribeClusters skip 0 calls 3",
		"describe lambda Invoke skip 1 calls 1",
		"scale lambda Invoke skip 2 calls 2",
		"scale cloudhsmv2 DescribeClusters skip 3 calls 1",
		"scale cloudhsmv2 CreateHsm skip 0 calls 1",
	}
	if !slices.Equal(got, wantSites) {
		t.Errorf("call sites:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantSites, "\n"))
	}
}

// TestCallerAimsAtOneTask runs a two-task state machine and aims a throttle of lambda Invoke at
// the second task only (Sandbox.Caller), and checks what RunningTasks says inside each task.
func TestCallerAimsAtOneTask(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(1000))
	ctx := sandboxtest.Context(t, 20*time.Second)
	var mu sync.Mutex
	seen := map[string][]string{}
	handler := func(name string) func(context.Context, []byte) ([]byte, error) {
		return func(context.Context, []byte) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			seen[name] = env.RunningTasks()
			return []byte(`{}`), nil
		}
	}
	first, err := env.Lambda.RegisterHandler("first", handler("first"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := env.Lambda.RegisterHandler("second", handler("second"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Faults.Add(sandbox.Fault{Service: "lambda", Operation: "Invoke", Kind: sandbox.FaultThrottle, Count: 1,
		When: env.Caller("second", nil, nil)}); err != nil {
		t.Fatal(err)
	}
	retry := `"Retry":[{"ErrorEquals":["Lambda.TooManyRequestsException"],"IntervalSeconds":1,"MaxAttempts":2}]`
	def := `{"StartAt":"One","States":{
	  "One":{"Type":"Task","Resource":"` + first + `",` + retry + `,"Next":"Pause"},
	  "Pause":{"Type":"Wait","Seconds":5,"Next":"Two"},
	  "Two":{"Type":"Task","Resource":"` + second + `",` + retry + `,"End":true}}}`
	client := sfn.NewFromConfig(env.AWSConfig())
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("two"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn")})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: exec.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution %s", d.Status)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var injected []string
	for _, r := range env.Recorder.Records("lambda", "Invoke") {
		if r.Injected != "" {
			injected = append(injected, r.Path)
		}
	}
	if !slices.Equal(injected, []string{"second"}) {
		t.Errorf("throttled invocations: %v; want the second task's only", injected)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen["first"], []string{"first"}) || !slices.Equal(seen["second"], []string{"second"}) {
		t.Errorf("RunningTasks inside the tasks: %v; want each task's own function", seen)
	}
	if n := env.RunningExecutions(); n != 0 {
		t.Errorf("%d executions running after the execution ended", n)
	}
	if tasks := env.RunningTasks(); len(tasks) != 0 {
		t.Errorf("tasks running after the execution ended: %v", tasks)
	}
}
