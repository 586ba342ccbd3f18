// Package lambda emulates the AWS Lambda Invoke API (REST-JSON,
// POST /2015-03-31/functions/{FunctionName}/invocations) over a registry of functions that are
// either in-process Go handlers (test stand-ins) or real bootstrap executables run behind the
// Lambda Runtime API emulator of package lambdaruntime.
//
// What matches AWS: RequestResponse answers 200 with the payload, or 200 with
// X-Amz-Function-Error: Unhandled and {"errorType","errorMessage"} for a function error, where
// errorType is computed as aws-lambda-go computes it (the error's Go type name, pointer
// dereferenced); Event answers 202 and runs the function later, retrying a function error twice
// (after 1 and 2 minutes of sandbox time) as Lambda's asynchronous invocation does; DryRun answers
// 204; an unknown function is ResourceNotFoundException (404); a body that is not JSON is
// InvalidRequestContentException; a request over 6 MB (synchronous) or 1 MB (asynchronous) is
// RequestTooLargeException (413); a response over 6 MB is the function error
// Function.ResponseSizeTooLarge.
//
// ListFunctions, GetFunction and GetFunctionConfiguration describe the registered functions as
// provided.al2023 arm64 functions. AddPermission, GetPolicy and RemovePermission keep a function's
// resource-based policy (policy.go), which the sandbox's IAM enforcement consults when a service
// such as EventBridge invokes the function.
//
// Differences from AWS: functions are registered from Go, not with CreateFunction (no code,
// versions, aliases or concurrency settings; ListFunctions does not paginate); Qualifier must be empty or $LATEST; X-Amz-Log-Type: Tail is ignored; in-process
// handlers have no timeout unless one is registered, and it is measured on the sandbox clock,
// while bootstrap executables run in wall time with their lambdaruntime timeout; asynchronous
// events are kept in memory only. An asynchronous event whose every attempt failed, or that grew
// older than its maximum age, goes to the function's dead-letter queue (WithDeadLetterQueue), sent
// through SetDeadLetterSender with the function's own role as Lambda sends it, with the attributes
// Lambda's developer guide documents (RequestID, ErrorCode, ErrorMessage);
// PutFunctionEventInvokeConfig sets the retries (0 to 2) and the maximum age (invokeconfig.go).
// There are no destinations. A bootstrap executable's output lines go to its log group
// (WithLogGroup, else /aws/lambda/<name>) through SetLogDeliverer, one stream per execution
// environment, as Lambda delivers them with the function's role (logs.go); no START, END or REPORT
// lines are added.
package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Payload limits, from the Lambda quotas page.
const (
	MaxSyncPayload  = 6 * 1024 * 1024
	MaxAsyncPayload = 1024 * 1024
)

// AsyncRetryDelays are the waits before Lambda's two retries of a failed asynchronous invocation.
var AsyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}

// Handler is an in-process function: it gets the raw event and returns the raw response. A
// returned error becomes a function error; aws-lambda-go's lambda.NewHandler(...).Invoke fits.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// Invocation is one finished invocation, kept for tests and handed to the observer.
type Invocation struct {
	Function  string
	RequestID string
	Async     bool
	// ViaAPI is true for a synchronous invocation that came over the Invoke API (the server
	// already records that call with its payload and response).
	ViaAPI   bool
	Attempt  int // 1 for the first try of an asynchronous event, 2 and 3 for retries
	Payload  []byte
	Response []byte
	// Error is the function error, nil on success.
	Error *core.FunctionError
	Start time.Time // sandbox clock
	End   time.Time
}

// runner runs one function.
type runner interface {
	run(ctx context.Context, requestID string, payload []byte) ([]byte, *core.FunctionError, error)
	close() error
}

type function struct {
	name    string
	arn     string
	env     map[string]string
	timeout time.Duration
	runner  runner
	// policy holds the statements of the function's resource-based policy (AddPermission).
	policy []map[string]any
	// holdClock stops the sandbox clock while a bootstrap executable runs (WithClockHeld).
	holdClock bool
	// deadLetter is the ARN of the queue failed asynchronous events go to ("" for none).
	deadLetter string
	// retries and maxAge bound an asynchronous event's attempts (WithEventInvokeConfig);
	// retries < 0 means Lambda's default, 2.
	retries int
	maxAge  time.Duration
	// invokeConfigSet and invokeConfigModified say whether and when PutFunctionEventInvokeConfig
	// set them.
	invokeConfigSet      bool
	invokeConfigModified time.Time
	// logGroup is the log group the function's output goes to ("" for /aws/lambda/<name>).
	logGroup string
	// logFormat is the format of the platform lines in its log stream (WithLogFormat).
	logFormat string
}

// Service is the emulated Lambda.
type Service struct {
	clock           core.Clock
	region, account string
	mu              sync.Mutex
	functions       map[string]*function
	history         []Invocation
	observer        func(Invocation)
	pending         sync.WaitGroup
	baseEnv         func(function string) map[string]string
	intercept       func(ctx context.Context, function string) error
	closed          bool
	asyncCtx        context.Context
	cancelAsyncWork context.CancelFunc
	sendDeadLetter  DeadLetterSender
	deadLetters     []DeadLetter
	deliverLogs     LogDeliverer
	logDeliveries   []LogDelivery
}

// DeadLetterSender sends a failed asynchronous event (body) with attributes to the SQS queue
// queueARN on behalf of the function (its name): on AWS with the function's execution role, which
// needs sqs:SendMessage on the queue. A non-nil error is why it was not sent (the event is lost).
type DeadLetterSender func(ctx context.Context, function, queueARN, body string, attributes map[string]string) error

// DeadLetter is one asynchronous event Lambda gave up on, and what became of it.
type DeadLetter struct {
	Function, Queue string
	RequestID       string
	Attributes      map[string]string
	// Err is why it could not be sent ("" when it was).
	Err string
}

// SetDeadLetterSender sets how failed asynchronous events reach a function's dead-letter queue;
// without one they are recorded (DeadLetters) and lost.
func (s *Service) SetDeadLetterSender(send DeadLetterSender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendDeadLetter = send
}

// DeadLetters returns the asynchronous events given up on so far, in order.
func (s *Service) DeadLetters() []DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deadLetters)
}

// Config configures the service.
type Config struct {
	Clock           core.Clock
	Region, Account string
	// Observer, when set, sees every finished invocation (the sandbox records them).
	Observer func(Invocation)
	// BaseEnv returns the variables a function's bootstrap executables get besides its own (the
	// sandbox sets AWS_ENDPOINT_URL, AWS_REGION and the function's credentials). Called with the
	// function's name at each process start.
	BaseEnv func(function string) map[string]string
	// Intercept, when set, runs before each synchronous invocation made through the
	// core.LambdaInvoker port (by Secrets Manager rotation or Step Functions tasks); a non-nil
	// error (the sandbox's injected faults, such as TooManyRequestsException) is returned to the
	// caller instead of running the function, as Lambda's own throttling would be.
	// An *AnswerLost error runs the invocation and then fails it with the error it holds.
	Intercept func(ctx context.Context, function string) error
}

// New returns an empty function registry.
func New(cfg Config) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		clock: cfg.Clock, region: cfg.Region, account: cfg.Account, observer: cfg.Observer,
		baseEnv: cfg.BaseEnv, intercept: cfg.Intercept, functions: map[string]*function{}, asyncCtx: ctx, cancelAsyncWork: cancel,
	}
}

var (
	_ core.RESTService        = (*Service)(nil)
	_ core.LambdaInvoker      = (*Service)(nil)
	_ core.AsyncLambdaInvoker = (*Service)(nil)
)

// FunctionOption adjusts a registered function.
type FunctionOption func(*function)

// WithEnv sets the function's environment variables (given to bootstrap executables; kept for
// secret scans of in-process handlers too).
func WithEnv(env map[string]string) FunctionOption {
	return func(f *function) { f.env = env }
}

// WithTimeout sets the function's timeout (sandbox time for in-process handlers).
func WithTimeout(d time.Duration) FunctionOption {
	return func(f *function) { f.timeout = d }
}

// WithClockHeld stops the sandbox clock (when it can be held, as core.ScaledClock can) while an
// invocation of the function's bootstrap executable runs, as the emulated client instance does for
// a script: the wall time of a real process (generating an RSA key, say) is then not multiplied by
// the clock's scale into sandbox time that a state's TimeoutSeconds counts. The function's own
// timeout is in wall time either way. Not for a function whose invocation waits for something
// that needs sandbox time to pass (a latency fault on a call it makes, a timer of another service):
// that wait would last until the function's own timeout.
func WithClockHeld() FunctionOption {
	return func(f *function) { f.holdClock = true }
}

// WithDeadLetterQueue sends the function's asynchronous events that failed every attempt to the
// SQS queue queueARN (the function's DeadLetterConfig.TargetArn).
func WithDeadLetterQueue(queueARN string) FunctionOption {
	return func(f *function) { f.deadLetter = queueARN }
}

// ARN returns the function ARN for name.
func (s *Service) ARN(name string) string {
	return "arn:aws:lambda:" + s.region + ":" + s.account + ":function:" + name
}

// RegisterHandler registers (or replaces) an in-process function and returns its ARN.
func (s *Service) RegisterHandler(name string, h Handler, opts ...FunctionOption) (string, error) {
	if h == nil {
		return "", fmt.Errorf("register function %q: handler is nil", name)
	}
	f := &function{runner: &inProcess{h: h, clock: s.clock}}
	return s.register(name, f, opts)
}

func (s *Service) register(name string, f *function, opts []FunctionOption) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("register function %q: a name is 1-64 letters, digits, hyphens or underscores", name)
	}
	f.name, f.arn, f.retries = name, s.ARN(name), -1
	for _, o := range opts {
		o(f)
	}
	if ip, ok := f.runner.(*inProcess); ok {
		ip.timeout = f.timeout
		ip.arn = f.arn
	}
	s.mu.Lock()
	old := s.functions[name]
	s.functions[name] = f
	s.mu.Unlock()
	if old != nil {
		_ = old.runner.close()
	}
	return f.arn, nil
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Functions lists the registered function names.
func (s *Service) Functions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.functions))
	for n := range s.functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Environments returns every function's environment as "name: KEY=VALUE" lines, for secret scans.
func (s *Service) Environments() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, f := range s.functions {
		for k, v := range f.env {
			fmt.Fprintf(&b, "%s: %s=%s\n", f.name, k, v)
		}
	}
	return b.Bytes()
}

// History returns the finished invocations of function ("" for all), in completion order.
func (s *Service) History(function string) []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Invocation
	for _, inv := range s.history {
		if function == "" || inv.Function == function {
			out = append(out, inv)
		}
	}
	return out
}

// resolve finds a function by name, full or partial ARN (with an optional $LATEST qualifier).
func (s *Service) resolve(id string) (*function, *core.Error) {
	name := id
	if strings.HasPrefix(name, "arn:") {
		parts := strings.Split(name, ":")
		if len(parts) < 7 || parts[2] != "lambda" || parts[5] != "function" {
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern", id)
		}
		name = parts[6]
		if len(parts) > 7 && parts[7] != "$LATEST" {
			return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "Function not found: %s", id)
		}
	} else if acct, rest, ok := strings.Cut(name, ":function:"); ok && acct != "" {
		name = rest
	}
	s.mu.Lock()
	f := s.functions[name]
	s.mu.Unlock()
	if f == nil {
		return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "Function not found: %s", s.ARN(name))
	}
	return f, nil
}

// Invoke implements core.LambdaInvoker: a synchronous invocation from another emulated service.
func (s *Service) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	f, cerr := s.resolve(fn)
	if cerr != nil {
		return nil, cerr
	}
	var lost *AnswerLost
	if s.intercept != nil {
		if err := s.intercept(ctx, f.name); errors.As(err, &lost) {
			// Run, then answer with the lost answer's error.
		} else if err != nil {
			return nil, err
		}
	}
	inv, err := s.run(ctx, f, payload, false, 1)
	if err != nil {
		return nil, err
	}
	if lost != nil {
		return nil, lost.Err
	}
	if inv.Error != nil {
		return inv.Response, inv.Error
	}
	return inv.Response, nil
}

// InvokeAsync implements core.AsyncLambdaInvoker: it queues an Event invocation and returns.
func (s *Service) InvokeAsync(_ context.Context, fn string, payload []byte) error {
	f, cerr := s.resolve(fn)
	if cerr != nil {
		return cerr
	}
	if len(payload) > MaxAsyncPayload {
		return core.StatusErrorf(http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than %d bytes for the InvokeAsync operation", MaxAsyncPayload)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return core.StatusErrorf(http.StatusServiceUnavailable, "ServiceException", "the sandbox Lambda service is closed")
	}
	s.pending.Add(1)
	s.mu.Unlock()
	go s.runAsync(f, bytes.Clone(payload))
	return nil
}

// runAsync makes up to three attempts (fewer with WithEventInvokeConfig), waiting
// AsyncRetryDelays (sandbox time) between them, and sends an event whose last attempt failed to
// the function's dead-letter queue.
func (s *Service) runAsync(f *function, payload []byte) {
	defer s.pending.Done()
	queued := s.clock.Now()
	s.mu.Lock()
	retries, maxAge := len(AsyncRetryDelays), f.maxAge
	if f.retries >= 0 {
		retries = f.retries
	}
	s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		inv, err := s.run(s.asyncCtx, f, payload, true, attempt)
		if err != nil || inv.Error == nil {
			return
		}
		if attempt > retries {
			s.deadLetter(f, payload, inv)
			return
		}
		if s.clock.Sleep(s.asyncCtx, AsyncRetryDelays[attempt-1]) != nil {
			return
		}
		if maxAge > 0 && s.clock.Now().Sub(queued) > maxAge {
			s.deadLetter(f, payload, inv)
			return
		}
	}
}

// deadLetter sends the event of the failed invocation inv to f's dead-letter queue, if it has
// one, with the attributes Lambda gives a dead letter: the request ID, the error code (Lambda sends
// the HTTP status a function error answers with, 200) and the error message (its first kilobyte).
func (s *Service) deadLetter(f *function, payload []byte, inv Invocation) {
	if f.deadLetter == "" {
		return
	}
	msg := inv.Error.Type + ": " + inv.Error.Message
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	d := DeadLetter{Function: f.name, Queue: f.deadLetter, RequestID: inv.RequestID,
		Attributes: map[string]string{"RequestID": inv.RequestID, "ErrorCode": "200", "ErrorMessage": msg}}
	s.mu.Lock()
	send := s.sendDeadLetter
	s.mu.Unlock()
	switch {
	case send == nil:
		d.Err = "no dead-letter sender: the sandbox delivers dead letters only with its SQS"
	default:
		if err := send(s.asyncCtx, f.name, f.deadLetter, string(payload), d.Attributes); err != nil {
			d.Err = err.Error()
		}
	}
	s.mu.Lock()
	s.deadLetters = append(s.deadLetters, d)
	s.mu.Unlock()
}

// WaitIdle waits until no asynchronous invocation is queued or running, or ctx ends.
func (s *Service) WaitIdle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops queued retries and every bootstrap process.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	fns := make([]*function, 0, len(s.functions))
	for _, f := range s.functions {
		fns = append(fns, f)
	}
	s.mu.Unlock()
	s.cancelAsyncWork()
	s.pending.Wait()
	var errs []error
	for _, f := range fns {
		if err := f.runner.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close lambda functions: %v", errs)
	}
	return nil
}

// run performs one attempt and records it. The error return is for failures outside the
// function (a cancelled caller, a process that cannot start).
func (s *Service) run(ctx context.Context, f *function, payload []byte, async bool, attempt int) (Invocation, error) {
	return s.runVia(ctx, f, payload, async, attempt, false)
}

func (s *Service) runVia(ctx context.Context, f *function, payload []byte, async bool, attempt int, viaAPI bool) (Invocation, error) {
	inv := Invocation{Function: f.name, RequestID: core.NewUUID(), Async: async, ViaAPI: viaAPI, Attempt: attempt, Payload: payload, Start: s.clock.Now()}
	resp, ferr, err := f.runner.run(ctx, inv.RequestID, payload)
	if err != nil {
		return inv, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	if ferr == nil && len(resp) > MaxSyncPayload {
		ferr = &core.FunctionError{Type: "Function.ResponseSizeTooLarge", Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxSyncPayload)}
	}
	if ferr != nil {
		resp, _ = json.Marshal(ferr)
	}
	inv.Response, inv.Error, inv.End = resp, ferr, s.clock.Now()
	s.mu.Lock()
	s.history = append(s.history, inv)
	obs := s.observer
	s.mu.Unlock()
	if obs != nil {
		obs(inv)
	}
	return inv, nil
}

// inProcess runs a Go handler with the context aws-lambda-go would give it.
type inProcess struct {
	h       Handler
	clock   core.Clock
	timeout time.Duration
	arn     string
}

func (p *inProcess) close() error { return nil }

func (p *inProcess) run(ctx context.Context, requestID string, payload []byte) ([]byte, *core.FunctionError, error) {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: p.arn})
	type result struct {
		resp []byte
		ferr *core.FunctionError
	}
	done := make(chan result, 1)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{ferr: &core.FunctionError{Type: errorType(v), Message: fmt.Sprint(v)}}
			}
		}()
		resp, err := p.h(hctx, payload)
		if err != nil {
			done <- result{ferr: functionError(err)}
			return
		}
		done <- result{resp: resp}
	}()
	var timeout <-chan struct{}
	if p.timeout > 0 {
		t := make(chan struct{})
		stop := p.clock.AfterFunc(p.timeout, func() { close(t) })
		defer stop()
		timeout = t
	}
	select {
	case r := <-done:
		return r.resp, r.ferr, nil
	case <-timeout:
		return nil, &core.FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", requestID, p.timeout.Seconds())}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// functionError reports err as aws-lambda-go's runtime loop does: an InvokeResponse_Error passes
// through, anything else is {errorType: Go type name (pointer dereferenced), errorMessage}.
func functionError(err error) *core.FunctionError {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return &core.FunctionError{Type: ive.Type, Message: ive.Message}
	}
	return &core.FunctionError{Type: errorType(err), Message: err.Error()}
}

func errorType(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// unescapeName decodes a path segment.
func unescapeName(seg string) (string, error) { return url.PathUnescape(seg) }

// AnswerLost, returned by Config.Intercept, asks for the invocation to run and its caller to get
// Err instead of its result (a response lost on its way back).
type AnswerLost struct{ Err error }

func (e *AnswerLost) Error() string { return "answer lost: " + e.Err.Error() }

func (e *AnswerLost) Unwrap() error { return e.Err }
