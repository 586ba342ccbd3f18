// Package lambdaruntime runs a Lambda function's `bootstrap` executable on this machine behind a
// local emulator of the AWS Lambda Runtime API (version 2018-06-01), so the real binaries that
// `make build` ships - built for the host instead of arm64 - can be invoked by tests, the sandbox's
// Lambda service and benchmarks.
//
// The emulator speaks the documented Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) on 127.0.0.1:
//
//	GET  /2018-06-01/runtime/invocation/next             long-polls for the next event; answers with
//	                                                      Lambda-Runtime-Aws-Request-Id, -Deadline-Ms,
//	                                                      -Invoked-Function-Arn and -Trace-Id headers
//	POST /2018-06-01/runtime/invocation/{id}/response    the function's result (202; 413 above 6 MB)
//	POST /2018-06-01/runtime/invocation/{id}/error       a function error {errorMessage, errorType, stackTrace}
//	POST /2018-06-01/runtime/init/error                  an initialization failure
//
// One Process is one execution environment: it serves one invocation at a time, as Lambda does
// (AWS_LAMBDA_MAX_CONCURRENCY is not set). Failures that Lambda itself reports are reported the same
// way, as a function error with Lambda's errorType: a process that exits mid-invocation or during
// init is Runtime.ExitError, an invocation past its timeout is Sandbox.Timedout (and the process is
// killed, as Lambda discards the environment; an answer that arrives at or after the deadline the
// runtime was given counts as a timeout, so a handler that gives up on its own context deadline
// gets the same result every time), an oversized response is
// Function.ResponseSizeTooLarge. Function wraps a Process and starts a fresh one when the previous
// environment died, which is how Lambda behaves for the caller.
//
// Environment: the process gets a clean environment like Lambda's (PATH, TZ, LANG, AWS_REGION,
// AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
// AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, _HANDLER, LAMBDA_TASK_ROOT,
// AWS_LAMBDA_RUNTIME_API), plus Config.Env; nothing is inherited from the calling process, so
// credentials and endpoints must be passed explicitly in Config.Env.
//
// Not emulated: the Extensions and Telemetry APIs (their paths answer 404, which aws-lambda-go
// tolerates), response streaming, Client-Context and Cognito headers, and Lambda's re-run of a
// failed init inside the first invocation.
package lambdaruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// APIVersion is the Runtime API version in every path.
const APIVersion = "2018-06-01"

// MaxResponseBytes is Lambda's limit on a synchronous invocation's response payload (6 MB).
const MaxResponseBytes = 6 * 1024 * 1024

// Error types Lambda itself reports when a function could not answer.
const (
	// ErrorTypeExit: the runtime process exited during init or before answering an invocation.
	ErrorTypeExit = "Runtime.ExitError"
	// ErrorTypeTimeout: the invocation ran past the function's timeout (or init past InitTimeout).
	ErrorTypeTimeout = "Sandbox.Timedout"
	// ErrorTypeResponseTooLarge: the response exceeded MaxResponseBytes.
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
	// ErrorTypeUnknown: the runtime reported an error without naming its type.
	ErrorTypeUnknown = "Runtime.Unknown"
)

// Defaults applied by Start to a zero Config field.
const (
	DefaultRegion      = "us-east-1"
	DefaultAccount     = "123456789012"
	DefaultMemoryMB    = 128
	DefaultTimeout     = 3 * time.Second // Lambda's default function timeout
	DefaultInitTimeout = 10 * time.Second
)

// Errors about the emulator or the environment rather than about one invocation.
var (
	// ErrClosed: Close was called on the process.
	ErrClosed = errors.New("lambdaruntime: process closed")
	// ErrExited: the environment died after a previous invocation (crash or timeout); start a new
	// Process (Function does this for you).
	ErrExited = errors.New("lambdaruntime: the function's process has exited; start a new one")
	// ErrConfig: a Config field is missing or invalid; the message names it.
	ErrConfig = errors.New("lambdaruntime: invalid config")
)

// Config describes one function's execution environment.
type Config struct {
	// Path is the executable to run (a bootstrap built for the host, see BuildHost). Required.
	Path string
	// FunctionName is the function's name. Required.
	FunctionName string
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn; default
	// arn:aws:lambda:<Region>:<Account>:function:<FunctionName>.
	FunctionARN string
	// Region sets AWS_REGION and AWS_DEFAULT_REGION; default us-east-1.
	Region string
	// Account is used in the default FunctionARN; default 123456789012.
	Account string
	// MemoryMB sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default 128.
	MemoryMB int
	// Timeout is the function's timeout per invocation; default 3s (Lambda's default).
	Timeout time.Duration
	// InitTimeout bounds exec -> first GET /next; default 10s (Lambda's init phase limit).
	InitTimeout time.Duration
	// Env holds extra KEY=VALUE entries (the function's configured variables, AWS_ENDPOINT_URL,
	// credentials). They override the defaults, except AWS_LAMBDA_RUNTIME_API.
	Env []string
	// Stdout and Stderr receive the function's output (its "CloudWatch logs"); nil discards it.
	Stdout, Stderr io.Writer
}

func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		return c, fmt.Errorf("%w: Path is empty: set it to the bootstrap executable (see BuildHost)", ErrConfig)
	}
	if c.FunctionName == "" {
		return c, fmt.Errorf("%w: FunctionName is empty: set the function's name", ErrConfig)
	}
	if c.Timeout < 0 || c.InitTimeout < 0 || c.MemoryMB < 0 {
		return c, fmt.Errorf("%w: Timeout, InitTimeout and MemoryMB must not be negative", ErrConfig)
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Account == "" {
		c.Account = DefaultAccount
	}
	if c.FunctionARN == "" {
		c.FunctionARN = "arn:aws:lambda:" + c.Region + ":" + c.Account + ":function:" + c.FunctionName
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.InitTimeout == 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	return c, nil
}

// Result is the outcome of one invocation that reached the function (or its environment).
type Result struct {
	// RequestID is the Lambda-Runtime-Aws-Request-Id of the invocation.
	RequestID string
	// Payload is the response body; on a function error it is the error document
	// ({"errorMessage", "errorType", ...}) that Lambda's Invoke returns.
	Payload []byte
	// FunctionError is non-nil when the invocation failed (X-Amz-Function-Error: Unhandled).
	FunctionError *core.FunctionError
	// Duration is the time from handing the event to the runtime to its answer.
	Duration time.Duration
}

// Process is one running execution environment.
type Process struct {
	cfg Config
	cmd *exec.Cmd
	ln  net.Listener
	srv *http.Server

	slot chan struct{}    // one invocation at a time
	next chan *invocation // handed to a runtime waiting in GET /next

	started   time.Time     // just before exec
	ready     chan struct{} // closed at the first GET /next
	readyOnce sync.Once
	firstNext time.Time // written before ready is closed

	initFailed chan struct{} // closed when the runtime posts /init/error
	initOnce   sync.Once
	initErr    []byte // the posted error document, written before initFailed is closed
	initType   string

	exited  chan struct{} // closed when the process has exited
	exitErr error         // written before exited is closed

	closeOnce sync.Once
	closed    chan struct{}

	mu       sync.Mutex
	current  *invocation // handed to the runtime, not yet answered
	answered string      // request id of the last answered invocation
}

type invocation struct {
	id      string
	payload []byte
	timeout time.Duration
	done    chan outcome // buffered: the handler never blocks on an abandoned invocation
	// deadline is the Lambda-Runtime-Deadline-Ms sent to the runtime (millisecond precision),
	// set by GET /next before it closes handed. The emulator enforces this same instant.
	deadline time.Time
	handed   chan struct{}
}

type outcome struct {
	payload []byte
	ferr    *core.FunctionError
	at      time.Time // when the runtime's answer arrived
}

// Start execs cfg.Path with a Runtime API listening on 127.0.0.1 (an ephemeral port). It returns
// once the process has started; the first Invoke (or Ready) waits for the runtime's initialization.
// Close must be called to kill the process and stop the API.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("start %s: resolve path %q: %w", cfg.FunctionName, cfg.Path, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start %s: listen for the runtime API: %w", cfg.FunctionName, err)
	}
	p := &Process{
		cfg:        cfg,
		ln:         ln,
		slot:       make(chan struct{}, 1),
		next:       make(chan *invocation),
		ready:      make(chan struct{}),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
		closed:     make(chan struct{}),
	}
	p.srv = &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on Close

	// The process outlives ctx (it is an environment kept warm between invocations); ctx only
	// bounds starting it.
	if err := ctx.Err(); err != nil {
		p.srv.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.FunctionName, err)
	}
	cmd := exec.Command(path)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = p.environ(path)
	cmd.Stdout = cfg.Stdout
	cmd.Stderr = cfg.Stderr
	cmd.WaitDelay = time.Second
	p.cmd = cmd
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		p.srv.Close()
		return nil, fmt.Errorf("start %s: exec %s: %w", cfg.FunctionName, path, err)
	}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// environ builds a Lambda-like environment for the provided.al2023 runtime.
func (p *Process) environ(path string) []string {
	c := p.cfg
	stream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + core.RandomHex(16)
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"_HANDLER=" + filepath.Base(path),
		"LAMBDA_TASK_ROOT=" + filepath.Dir(path),
		"LAMBDA_RUNTIME_DIR=" + filepath.Dir(path),
		"AWS_REGION=" + c.Region,
		"AWS_DEFAULT_REGION=" + c.Region,
		"AWS_LAMBDA_FUNCTION_NAME=" + c.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(c.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + c.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
	}
	env = append(env, c.Env...)
	// Last, so Config.Env cannot point the runtime elsewhere (exec keeps the last duplicate).
	return append(env, "AWS_LAMBDA_RUNTIME_API="+p.ln.Addr().String())
}

// Addr is the Runtime API's host:port (the value of AWS_LAMBDA_RUNTIME_API).
func (p *Process) Addr() string { return p.ln.Addr().String() }

// StartedAt is the time just before the process was exec'd.
func (p *Process) StartedAt() time.Time { return p.started }

// Ready waits for the runtime's first GET /next and returns the time from exec to that request
// (the cold start). It fails if the process exits, reports an init error or exceeds InitTimeout
// first, or if ctx ends.
func (p *Process) Ready(ctx context.Context) (time.Duration, error) {
	timer := time.NewTimer(time.Until(p.started.Add(p.cfg.InitTimeout)))
	defer timer.Stop()
	select {
	case <-p.ready:
		return p.firstNext.Sub(p.started), nil
	default:
	}
	select {
	case <-p.ready:
		return p.firstNext.Sub(p.started), nil
	case <-p.initFailed:
		return 0, fmt.Errorf("init %s: runtime reported %s", p.cfg.FunctionName, p.initType)
	case <-p.exited:
		select {
		case <-p.ready:
			return p.firstNext.Sub(p.started), nil
		default:
		}
		return 0, fmt.Errorf("init %s: runtime exited with error: %v", p.cfg.FunctionName, p.exitErr)
	case <-timer.C:
		return 0, fmt.Errorf("init %s: no request for an invocation within %s", p.cfg.FunctionName, p.cfg.InitTimeout)
	case <-p.closed:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Exited reports whether the process has exited (or was killed).
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *Process) isReady() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// Invoke runs one synchronous invocation with payload as the event. Invocations on one Process are
// serialised. Failures inside the environment (handler error, panic, crash, timeout, init failure)
// come back as Result.FunctionError; the error return is for the caller's ctx, a closed process,
// and ErrExited (the environment died in an earlier invocation).
func (p *Process) Invoke(ctx context.Context, payload []byte) (Result, error) {
	select {
	case <-p.closed:
		return Result{}, ErrClosed
	default:
	}
	select {
	case p.slot <- struct{}{}:
	case <-p.closed:
		return Result{}, ErrClosed
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-p.slot }()

	inv := &invocation{id: core.NewUUID(), payload: payload, timeout: p.cfg.Timeout, done: make(chan outcome, 1), handed: make(chan struct{})}
	res := Result{RequestID: inv.id}

	// Hand the event to the runtime, waiting for its initialization if need be. A runtime that
	// initialized but never asks for the next event again is hung: after the function's timeout
	// the invocation times out, as it would on Lambda.
	limit, what := p.cfg.Timeout, "Task"
	if !p.isReady() {
		limit, what = time.Until(p.started.Add(p.cfg.InitTimeout)), "init"
	}
	handoff := time.NewTimer(limit)
	defer handoff.Stop()
	select {
	case p.next <- inv:
	case <-p.initFailed:
		res.Payload, res.FunctionError = p.initErr, &core.FunctionError{Type: p.initType, Message: messageOf(p.initErr)}
		return res, nil
	case <-p.exited:
		if p.isReady() {
			return Result{}, fmt.Errorf("invoke %s: %w (%v)", p.cfg.FunctionName, ErrExited, p.exitErr)
		}
		return p.failed(res, ErrorTypeExit, fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", inv.id, p.exitErr)), nil
	case <-handoff.C:
		p.kill()
		limit := p.cfg.Timeout
		if what == "init" {
			limit = p.cfg.InitTimeout
		}
		return p.failed(res, ErrorTypeTimeout, fmt.Sprintf("RequestId: %s Error: %s timed out after %.2f seconds", inv.id, what, limit.Seconds())), nil
	case <-p.closed:
		return Result{}, ErrClosed
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}

	<-inv.handed // closed by GET /next right after it took the event
	handed, deadline := time.Now(), inv.deadline
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	timedOut := func() (Result, error) {
		// Lambda discards an environment whose invocation timed out.
		p.kill()
		res.Duration = time.Since(handed)
		return p.failed(res, ErrorTypeTimeout, fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, inv.timeout.Seconds())), nil
	}
	finish := func(o outcome) (Result, error) {
		// An answer at or after the deadline (typically a handler giving up on its own context
		// deadline, which the runtime sets from Lambda-Runtime-Deadline-Ms) loses to the timeout,
		// as on Lambda, so the outcome does not depend on which timer fires first.
		if !o.at.Before(deadline) {
			return timedOut()
		}
		res.Payload, res.FunctionError, res.Duration = o.payload, o.ferr, o.at.Sub(handed)
		return res, nil
	}
	select {
	case o := <-inv.done:
		return finish(o)
	case <-p.exited:
		// An answer posted just before exiting (a panic report) wins over the exit.
		select {
		case o := <-inv.done:
			return finish(o)
		default:
		}
		res.Duration = time.Since(handed)
		return p.failed(res, ErrorTypeExit, fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", inv.id, p.exitErr)), nil
	case <-timer.C:
		return timedOut()
	case <-p.closed:
		return Result{}, ErrClosed
	case <-ctx.Done():
		// The function keeps running, as on Lambda when a caller hangs up; its answer is dropped.
		return Result{}, ctx.Err()
	}
}

// failed fills res with an error Lambda itself reports.
func (p *Process) failed(res Result, typ, msg string) Result {
	res.FunctionError = &core.FunctionError{Type: typ, Message: msg}
	res.Payload, _ = json.Marshal(res.FunctionError)
	return res
}

func (p *Process) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill() // already exited is fine
	}
	<-p.exited
}

// Close kills the process and stops the Runtime API. It is safe to call more than once.
func (p *Process) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.kill()
		p.srv.Close()
	})
	return nil
}

func messageOf(doc []byte) string {
	var e struct {
		Message string `json:"errorMessage"`
	}
	_ = json.Unmarshal(doc, &e)
	return e.Message
}

// traceID returns an X-Ray trace header with a fresh root, not sampled.
func traceID(now time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), core.RandomHex(24), core.RandomHex(16))
}
