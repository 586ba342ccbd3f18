package lambdaruntime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// Binaries built once for the whole test run from testdata/ (real aws-lambda-go functions).
var behaveBin, helloBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdaruntime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	if behaveBin, err = lambdaruntime.BuildHost(ctx, "./testdata/behave", dir); err == nil {
		helloBin, err = lambdaruntime.BuildHost(ctx, "./testdata/hello", dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func start(t *testing.T, cfg lambdaruntime.Config) *lambdaruntime.Process {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = behaveBin
	}
	if cfg.FunctionName == "" {
		cfg.FunctionName = "behave"
	}
	var logs sandboxtest.Buffer
	if cfg.Stderr == nil {
		cfg.Stderr = &logs
	}
	p, err := lambdaruntime.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			t.Logf("function stderr:\n%s", logs.String())
		}
	})
	return p
}

func invoke(t *testing.T, p interface {
	Invoke(context.Context, []byte) (lambdaruntime.Result, error)
}, payload string) lambdaruntime.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return res
}

type reply struct {
	Value        string `json:"value"`
	RequestID    string `json:"requestId"`
	FunctionARN  string `json:"functionArn"`
	FunctionName string `json:"functionName"`
	Memory       int    `json:"memory"`
	Region       string `json:"region"`
	Extra        string `json:"extra"`
	DeadlineMs   int64  `json:"deadlineMs"`
	TraceID      string `json:"traceId"`
}

func TestInvokeSuccessSeesLambdaEnvironment(t *testing.T) {
	p := start(t, lambdaruntime.Config{
		FunctionName: "strongroom-trailrelay",
		Region:       "eu-west-2",
		MemoryMB:     256,
		Timeout:      5 * time.Second,
		Env:          []string{"BEHAVE_EXTRA=configured", "AWS_LAMBDA_RUNTIME_API=203.0.113.1:9"},
	})
	before := time.Now()
	res := invoke(t, p, `{"value":"first"}`)
	if res.FunctionError != nil {
		t.Fatalf("unexpected function error %v", res.FunctionError)
	}
	var got reply
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("decode %s: %v", res.Payload, err)
	}
	want := reply{
		Value:        "first",
		RequestID:    res.RequestID,
		FunctionARN:  "arn:aws:lambda:eu-west-2:123456789012:function:strongroom-trailrelay",
		FunctionName: "strongroom-trailrelay",
		Memory:       256,
		Region:       "eu-west-2",
		Extra:        "configured",
		DeadlineMs:   got.DeadlineMs,
		TraceID:      got.TraceID,
	}
	if got != want {
		t.Errorf("function saw %+v\nwant %+v", got, want)
	}
	if len(res.RequestID) != 36 || strings.Count(res.RequestID, "-") != 4 {
		t.Errorf("request id %q is not a UUID", res.RequestID)
	}
	if lo, hi := before.Add(5*time.Second).UnixMilli(), time.Now().Add(5*time.Second).UnixMilli(); got.DeadlineMs < lo || got.DeadlineMs > hi {
		t.Errorf("deadline %d not within [%d, %d] (invocation time + 5s timeout)", got.DeadlineMs, lo, hi)
	}
	if !strings.HasPrefix(got.TraceID, "Root=1-") {
		t.Errorf("trace id %q is not an X-Ray header", got.TraceID)
	}
	// The environment stays warm: a second invocation reuses it with a new request id.
	res2 := invoke(t, p, `{"value":"second"}`)
	if res2.FunctionError != nil || !bytes.Contains(res2.Payload, []byte(`"second"`)) || res2.RequestID == res.RequestID {
		t.Errorf("second invocation: %+v payload %s", res2.FunctionError, res2.Payload)
	}
	if d, err := p.Ready(context.Background()); err != nil || d <= 0 {
		t.Errorf("Ready = %v, %v; want a positive cold start", d, err)
	}
}

func TestInvokeFailures(t *testing.T) {
	tests := []struct {
		name        string
		cfg         lambdaruntime.Config
		payload     string
		wantType    string
		wantMessage string // substring
		wantExited  bool
	}{
		{name: "terminal error keeps Go type name", payload: `{"mode":"terminal","value":"TopicArn"}`,
			wantType: "TerminalError", wantMessage: "bad input: field value: TopicArn"},
		{name: "retryable error keeps Go type name", payload: `{"mode":"retryable","value":"throttled"}`,
			wantType: "RetryableError", wantMessage: "describe thing: throttled"},
		{name: "bad payload is the runtime's unmarshal error", payload: `{"mode":7}`,
			wantType: "UnmarshalTypeError", wantMessage: "mode"},
		{name: "panic is reported then the process exits", payload: `{"mode":"panic","value":"nil map"}`,
			wantType: "string", wantMessage: "boom: nil map", wantExited: true},
		{name: "exit mid-invocation", payload: `{"mode":"exit"}`,
			wantType: lambdaruntime.ErrorTypeExit, wantMessage: "Runtime exited with error: exit status 7", wantExited: true},
		{name: "timeout kills the environment", cfg: lambdaruntime.Config{Timeout: 300 * time.Millisecond}, payload: `{"mode":"sleep","sleep":"20s"}`,
			wantType: lambdaruntime.ErrorTypeTimeout, wantMessage: "Task timed out after 0.30 seconds", wantExited: true},
		// aws-lambda-go exits when the API refuses its response with 413.
		{name: "response over 6 MB", payload: `{"mode":"big"}`,
			wantType: lambdaruntime.ErrorTypeResponseTooLarge, wantMessage: "6291456 bytes", wantExited: true},
		{name: "init exit", cfg: lambdaruntime.Config{Env: []string{"BEHAVE_INIT=exit"}}, payload: `{}`,
			wantType: lambdaruntime.ErrorTypeExit, wantMessage: "Runtime exited with error: exit status 3", wantExited: true},
		{name: "init error posted", cfg: lambdaruntime.Config{Env: []string{"BEHAVE_INIT=post"}}, payload: `{}`,
			wantType: "ConfigError", wantMessage: "config: TOPIC_ARN is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.cfg)
			res := invoke(t, p, tc.payload)
			if res.FunctionError == nil {
				t.Fatalf("no function error; payload %.200s", res.Payload)
			}
			if res.FunctionError.Type != tc.wantType || !strings.Contains(res.FunctionError.Message, tc.wantMessage) {
				t.Errorf("function error = %q %q; want type %q with message containing %q",
					res.FunctionError.Type, res.FunctionError.Message, tc.wantType, tc.wantMessage)
			}
			var doc struct {
				Type    string `json:"errorType"`
				Message string `json:"errorMessage"`
			}
			if err := json.Unmarshal(res.Payload, &doc); err != nil || doc.Type != tc.wantType || doc.Message != res.FunctionError.Message {
				t.Errorf("payload %s is not the error document (err %v)", res.Payload, err)
			}
			if tc.wantExited {
				waitExited(t, p)
				if _, err := p.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, lambdaruntime.ErrExited) && tc.name != "init exit" {
					t.Errorf("Invoke after the environment died = %v; want ErrExited", err)
				}
			} else if res := invoke(t, p, `{"value":"again"}`); res.FunctionError != nil && tc.name != "init error posted" {
				t.Errorf("environment unusable after a handled error: %v", res.FunctionError)
			}
		})
	}
}

func waitExited(t *testing.T, p *lambdaruntime.Process) {
	t.Helper()
	for i := 0; i < 200 && !p.Exited(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !p.Exited() {
		t.Fatal("process still running 2s after it should have exited")
	}
}

func TestReadyReportsInitFailure(t *testing.T) {
	p := start(t, lambdaruntime.Config{Env: []string{"BEHAVE_INIT=exit"}})
	if _, err := p.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Ready = %v; want the init exit status", err)
	}
	q := start(t, lambdaruntime.Config{Env: []string{"BEHAVE_INIT=post"}})
	if _, err := q.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "ConfigError") {
		t.Errorf("Ready = %v; want the posted init error type", err)
	}
}

func TestInvocationsAreSerialised(t *testing.T) {
	p := start(t, lambdaruntime.Config{Timeout: 10 * time.Second})
	const n = 4
	var wg sync.WaitGroup
	results := make([]lambdaruntime.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = p.Invoke(context.Background(), []byte(`{"mode":"sleep","sleep":"50ms","value":"v`+strconv.Itoa(i)+`"}`))
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i := range n {
		if errs[i] != nil || results[i].FunctionError != nil {
			t.Fatalf("invocation %d: %v %v", i, errs[i], results[i].FunctionError)
		}
		if !bytes.Contains(results[i].Payload, []byte(`"v`+strconv.Itoa(i)+`"`)) {
			t.Errorf("invocation %d got someone else's answer: %s", i, results[i].Payload)
		}
		ids[results[i].RequestID] = true
	}
	if len(ids) != n {
		t.Errorf("request ids not unique: %v", ids)
	}
}

func TestFunctionReplacesDeadEnvironment(t *testing.T) {
	f, err := lambdaruntime.NewFunction(lambdaruntime.Config{Path: behaveBin, FunctionName: "behave"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if res := invoke(t, f, `{"mode":"exit"}`); res.FunctionError == nil || res.FunctionError.Type != lambdaruntime.ErrorTypeExit {
		t.Fatalf("crash: %+v", res.FunctionError)
	}
	res := invoke(t, f, `{"value":"after crash"}`)
	if res.FunctionError != nil || !bytes.Contains(res.Payload, []byte("after crash")) {
		t.Fatalf("after crash: %v %s", res.FunctionError, res.Payload)
	}
	invoke(t, f, `{"value":"warm"}`)
	if got := f.Starts(); got != 2 {
		t.Errorf("Starts = %d; want 2 (one cold start, one after the crash, warm reuse after)", got)
	}
	f.Close()
	if _, err := f.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, lambdaruntime.ErrClosed) {
		t.Errorf("Invoke after Close = %v; want ErrClosed", err)
	}
}

func TestConfigErrors(t *testing.T) {
	sandboxtest.WantErrors(t, []sandboxtest.ErrorCase[lambdaruntime.Config]{
		{Name: "no path", In: lambdaruntime.Config{FunctionName: "f"}, Want: "Path"},
		{Name: "no name", In: lambdaruntime.Config{Path: "/bin/true"}, Want: "FunctionName"},
		{Name: "negative timeout", In: lambdaruntime.Config{Path: "/bin/true", FunctionName: "f", Timeout: -1}, Want: "Timeout"},
	}, func(t *testing.T, cfg lambdaruntime.Config) error {
		_, err := lambdaruntime.Start(context.Background(), cfg)
		if !errors.Is(err, lambdaruntime.ErrConfig) {
			t.Errorf("Start = %v; want ErrConfig", err)
		}
		return err
	})
	if _, err := lambdaruntime.Start(context.Background(), lambdaruntime.Config{Path: "/nonexistent/bootstrap", FunctionName: "f"}); err == nil {
		t.Error("Start of a missing executable succeeded")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	p := start(t, lambdaruntime.Config{})
	if _, err := p.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.Close() // idempotent
	if !p.Exited() {
		t.Error("process alive after Close")
	}
	if _, err := p.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, lambdaruntime.ErrClosed) {
		t.Errorf("Invoke after Close = %v; want ErrClosed", err)
	}
	if resp, err := http.Get("http://" + addr + "/2018-06-01/runtime/invocation/next"); err == nil {
		resp.Body.Close()
		t.Error("runtime API still answering after Close")
	}
}

// TestRuntimeAPIProtocol drives the Runtime API by hand, as a custom runtime would, while the
// process itself only sleeps.
func TestRuntimeAPIProtocol(t *testing.T) {
	script := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, lambdaruntime.Config{Path: script, FunctionName: "manual", Timeout: 10 * time.Second})
	base := "http://" + p.Addr() + "/2018-06-01/runtime"
	post := func(path, errType, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if errType != "" {
			req.Header.Set("Lambda-Runtime-Function-Error-Type", errType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	next := func() (string, http.Header, string) {
		t.Helper()
		resp, err := http.Get(base + "/invocation/next")
		if err != nil {
			t.Fatalf("GET next: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET next = %d %s", resp.StatusCode, b)
		}
		return resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), resp.Header, string(b)
	}
	type answer struct {
		res lambdaruntime.Result
		err error
	}
	invokeAsync := func(payload string) chan answer {
		ch := make(chan answer, 1)
		go func() {
			r, err := p.Invoke(context.Background(), []byte(payload))
			ch <- answer{r, err}
		}()
		return ch
	}

	first := invokeAsync(`{"n":1}`)
	id, h, body := next()
	if body != `{"n":1}` || h.Get("Lambda-Runtime-Invoked-Function-Arn") != "arn:aws:lambda:us-east-1:123456789012:function:manual" ||
		h.Get("Lambda-Runtime-Deadline-Ms") == "" || h.Get("Lambda-Runtime-Trace-Id") == "" {
		t.Errorf("next: body %s headers %v", body, h)
	}
	if code, _ := post("/invocation/not-a-request/response", "", `{}`); code != http.StatusBadRequest {
		t.Errorf("response for unknown id = %d; want 400", code)
	}
	if code, out := post("/invocation/"+id+"/response", "", `"ok"`); code != http.StatusAccepted || !strings.Contains(out, "OK") {
		t.Errorf("response = %d %s; want 202", code, out)
	}
	if a := <-first; a.err != nil || string(a.res.Payload) != `"ok"` || a.res.FunctionError != nil {
		t.Errorf("first invocation = %+v", a)
	}
	if code, _ := post("/invocation/"+id+"/response", "", `"again"`); code != http.StatusForbidden {
		t.Errorf("second answer for the same id = %d; want 403", code)
	}

	// An error document without errorType takes the header's type.
	second := invokeAsync(`{"n":2}`)
	id2, _, _ := next()
	if code, _ := post("/invocation/"+id2+"/error", "Runtime.HandlerError", `{"errorMessage":"it broke"}`); code != http.StatusAccepted {
		t.Errorf("error = %d; want 202", code)
	}
	if a := <-second; a.err != nil || a.res.FunctionError == nil || a.res.FunctionError.Type != "Runtime.HandlerError" || a.res.FunctionError.Message != "it broke" {
		t.Errorf("second invocation = %+v %+v", a, a.res.FunctionError)
	}
	if code, _ := post("/init/error", "Runtime.Late", `{}`); code != http.StatusForbidden {
		t.Errorf("init error after init = %d; want 403", code)
	}
	if resp, err := http.Get("http://" + p.Addr() + "/2020-01-01/extension/register"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("extensions API = %v %v; want 404", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestInitTimeout(t *testing.T) {
	script := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, lambdaruntime.Config{Path: script, FunctionName: "stuck", InitTimeout: 200 * time.Millisecond})
	if _, err := p.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "no request for an invocation within 200ms") {
		t.Errorf("Ready = %v; want the init timeout", err)
	}
	res := invoke(t, p, `{}`)
	if res.FunctionError == nil || res.FunctionError.Type != lambdaruntime.ErrorTypeTimeout || !strings.Contains(res.FunctionError.Message, "init timed out after 0.20 seconds") {
		t.Errorf("Invoke = %+v; want Sandbox.Timedout for init", res.FunctionError)
	}
	if !p.Exited() {
		t.Error("a process that timed out in init is still running")
	}
}

// TestRuntimeThatNeverAsksAgain: a runtime that answered once and never polls /next again is hung;
// the next invocation times out after the function's timeout instead of waiting forever.
func TestRuntimeThatNeverAsksAgain(t *testing.T) {
	script := filepath.Join(t.TempDir(), "bootstrap")
	body := "#!/bin/sh\nexec sleep 30\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, lambdaruntime.Config{Path: script, FunctionName: "hung", Timeout: 200 * time.Millisecond})
	base := "http://" + p.Addr() + "/2018-06-01/runtime/invocation/"
	done := make(chan lambdaruntime.Result, 1)
	go func() {
		r, _ := p.Invoke(context.Background(), []byte(`{}`))
		done <- r
	}()
	resp, err := http.Get(base + "next")
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	resp.Body.Close()
	if resp, err = http.Post(base+id+"/response", "application/json", strings.NewReader(`"once"`)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-done; string(r.Payload) != `"once"` {
		t.Fatalf("first invocation = %s %+v", r.Payload, r.FunctionError)
	}
	res := invoke(t, p, `{}`)
	if res.FunctionError == nil || res.FunctionError.Type != lambdaruntime.ErrorTypeTimeout || !strings.Contains(res.FunctionError.Message, "Task timed out after 0.20 seconds") {
		t.Errorf("second invocation = %+v; want Sandbox.Timedout", res.FunctionError)
	}
}

// TestBuildHostTakesPrebuilt: with EnvPrebuilt naming a directory built from <root>/lambdas,
// BuildHost copies DIR/<name> for the package <root>/lambdas/<name> into its output directory
// (here a file go build could not make: the package has no Go files), and builds a package it
// does not hold (which then fails, for the same reason).
func TestBuildHostTakesPrebuilt(t *testing.T) {
	lambdas := filepath.Join(t.TempDir(), "lambdas")
	for _, d := range []string{"fn", "other"} {
		if err := os.MkdirAll(filepath.Join(lambdas, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pre := t.TempDir()
	if err := os.WriteFile(filepath.Join(pre, lambdaruntime.PrebuiltSourceFile), []byte(lambdas+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pre, "fn"), []byte("prebuilt fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(lambdaruntime.EnvPrebuilt, pre)
	out := t.TempDir()
	p, err := lambdaruntime.BuildHost(context.Background(), filepath.Join(lambdas, "fn"), out)
	if err != nil {
		t.Fatalf("BuildHost of a prebuilt package: %v", err)
	}
	if want := filepath.Join(out, "fn", "bootstrap"); p != want {
		t.Errorf("path = %s; want %s", p, want)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "prebuilt fn" {
		t.Errorf("bootstrap = %q, %v; want the prebuilt file's bytes", got, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("bootstrap is not executable: %v %v", fi, err)
	}
	if _, err := lambdaruntime.BuildHost(context.Background(), filepath.Join(lambdas, "other"), out); err == nil {
		t.Error("BuildHost of a package the directory does not hold (and without Go files) succeeded; want go build's error")
	}
}
