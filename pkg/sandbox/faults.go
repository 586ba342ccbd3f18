package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// FaultKind is what an injected fault does to a matching call.
type FaultKind string

const (
	// FaultThrottle answers with the service's throttling exception (ThrottlingException 400 for
	// JSON services, Throttling 400 for Query services, RequestLimitExceeded 503 for EC2,
	// TooManyRequestsException 429 for Lambda), which SDK retryers retry.
	FaultThrottle FaultKind = "throttle"
	// FaultInternal answers with the service's internal-failure exception (5xx), for example
	// KMSInternalException or CloudHsmInternalFailureException; InternalFailure 500 otherwise.
	FaultInternal FaultKind = "internal"
	// FaultError answers with the named exception Code and Status (400 when unset).
	FaultError FaultKind = "error"
	// FaultLatency delays the call by Latency of sandbox time, then serves it normally.
	FaultLatency FaultKind = "latency"
	// FaultLostAnswer serves the call (its effect happens) and then answers with FaultInternal's
	// exception instead of the result, as when a response is lost on its way back (a 5xx from a
	// front end, a connection reset): the caller cannot tell whether the call took effect. A call
	// the service refuses keeps its own error.
	FaultLostAnswer FaultKind = "lost-answer"
)

// Call is what a fault rule sees of a call as it arrives.
type Call struct {
	Service, Operation string
	// Caller is the principal whose sandbox-issued credentials signed the call: a Lambda
	// function's name (Server.Credentials) or a client instance's (InstancePrincipal); ""
	// for any other caller (a test's or the CLI's static key, a pre-signed URL, a service calling
	// another in-process).
	Caller string
}

// Fault is one injection rule. It matches calls to Service and Operation ("*" or "" for any) made
// by Caller (if set) (and, from Go, that When accepts), lets the first Skip matching calls pass
// untouched, and then applies to the next Count matching calls (0: no limit), each with
// Probability (0 or 1: always). Skip aims a rule at the Nth call of an operation rather than its
// first: CallSites finds, from a recorded run, the Skip that reaches a given function's first
// call of it, and Caller or When (Sandbox.Caller) aims at one function's calls in a run whose call
// order varies.
type Fault struct {
	ID        int    `json:"id,omitempty"`
	Service   string `json:"service"`
	Operation string `json:"operation,omitempty"`
	// Caller, if set, names the principal whose calls the rule matches (a Lambda function, or
	// instance/<id>): only calls signed with the credentials the sandbox gave it (Call.Caller).
	Caller string    `json:"caller,omitempty"`
	Kind   FaultKind `json:"kind"`
	// Code, Message and Status make the exception of a FaultError.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Status  int    `json:"status,omitempty"`
	// Latency is sandbox time, for FaultLatency.
	Latency     Duration `json:"latency,omitempty"`
	Count       int      `json:"count,omitempty"`
	Probability float64  `json:"probability,omitempty"`
	// Skip is how many matching calls pass untouched before the rule applies (0: none, so the
	// rule starts with the next matching call). Every matching call counts, including one another
	// rule affects, so Skip is an ordinal among the operation's calls; Probability does not draw
	// for skipped calls.
	Skip int `json:"skip,omitempty"`
	// When, if set, must accept a call (asked as the call arrives) for the rule to match it at
	// all; Skip then counts only the calls When accepts. It cannot be set through the admin API.
	// Sandbox.Caller makes one that accepts the calls of one Lambda function, including those
	// its credentials do not name (a pre-signed URL, an invocation made on its behalf).
	When func(Call) bool `json:"-"`
	// Hits is how many calls the rule has affected so far; Skipped how many matching calls it has
	// let pass because of Skip.
	Hits    int `json:"hits"`
	Skipped int `json:"skipped,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "1.5s" (or a number of nanoseconds).
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if v, err := time.ParseDuration(s); err == nil {
		*d = Duration(v)
		return nil
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		return fmt.Errorf("latency %q: want a Go duration such as \"2s\"", s)
	}
	*d = Duration(n)
	return nil
}

// Validate says what is wrong with a rule, naming the field.
func (f *Fault) Validate() error {
	switch {
	case f.Service == "":
		return fmt.Errorf("fault service is empty: set it to a service id such as \"kms\", or \"*\"")
	case f.Count < 0:
		return fmt.Errorf("fault count %d is negative: use 0 for no limit or N for the next N calls", f.Count)
	case f.Skip < 0:
		return fmt.Errorf("fault skip %d is negative: use 0 to start with the next matching call or N to let N calls pass first", f.Skip)
	case f.Probability < 0 || f.Probability > 1:
		return fmt.Errorf("fault probability %v is outside 0..1", f.Probability)
	}
	switch f.Kind {
	case FaultThrottle, FaultInternal, FaultLostAnswer:
	case FaultError:
		if f.Code == "" {
			return fmt.Errorf("fault kind error needs code: the exception name, for example ResourceNotFoundException")
		}
		if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
			return fmt.Errorf("fault status %d: want an HTTP error status 400-599", f.Status)
		}
	case FaultLatency:
		if f.Latency <= 0 {
			return fmt.Errorf("fault kind latency needs a positive latency, for example \"5s\"")
		}
	default:
		return fmt.Errorf("fault kind %q: want throttle, internal, error, latency or lost-answer", f.Kind)
	}
	return nil
}

// Faults holds the active rules. It is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	rules  []*Fault
	nextID int
	rng    *rand.Rand
}

func newFaults(seed uint64) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Add validates and installs a rule, returning its id.
func (fs *Faults) Add(f Fault) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if f.Operation == "" {
		f.Operation = "*"
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	f.ID, f.Hits, f.Skipped = fs.nextID, 0, 0
	fs.rules = append(fs.rules, &f)
	return f.ID, nil
}

// Remove deletes the rule with id; it reports whether one was removed.
func (fs *Faults) Remove(id int) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, r := range fs.rules {
		if r.ID == id {
			fs.rules = append(fs.rules[:i], fs.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Clear removes every rule.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
}

// List returns a copy of the rules, including exhausted ones with their hit counts.
func (fs *Faults) List() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]Fault, len(fs.rules))
	for i, r := range fs.rules {
		out[i] = *r
	}
	return out
}

// pick returns the first rule that applies to this call, counting the hit, or nil. Latency rules
// and error rules are picked separately: a call can be delayed and then fail. Every rule still
// skipping counts the call among its skipped ones, whichever rule applies to it, so a rule's Skip
// is the ordinal of the call it starts with among all calls of its operation. When runs under
// fs.mu: it must not call back into the fault table.
func (fs *Faults) pick(c Call, latency bool) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var picked *Fault
	for _, r := range fs.rules {
		if (r.Kind == FaultLatency) != latency || !matches(r.Service, c.Service) || !matches(r.Operation, c.Operation) {
			continue
		}
		if r.Caller != "" && r.Caller != c.Caller {
			continue
		}
		if r.When != nil && !r.When(c) {
			continue
		}
		if r.Skipped < r.Skip {
			r.Skipped++
			continue
		}
		if picked != nil || (r.Count > 0 && r.Hits >= r.Count) {
			continue
		}
		if r.Probability > 0 && r.Probability < 1 && fs.rng.Float64() >= r.Probability {
			continue
		}
		r.Hits++
		c := *r
		picked = &c
	}
	return picked
}

// faultError builds the exception an error rule answers with, for a service speaking protocol.
func faultError(f *Fault, svc any, serviceID, protocol string) *core.Error {
	switch f.Kind {
	case FaultThrottle:
		switch {
		case serviceID == "ec2":
			return core.StatusErrorf(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		case serviceID == "lambda":
			return core.StatusErrorf(http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		case protocol == "query":
			return core.Errorf("Throttling", "Rate exceeded")
		default:
			return core.Errorf("ThrottlingException", "Rate exceeded")
		}
	case FaultInternal, FaultLostAnswer:
		if fc, ok := svc.(core.FaultCodes); ok {
			return fc.InternalError()
		}
		if code, ok := internalCodes[serviceID]; ok {
			return core.StatusErrorf(http.StatusInternalServerError, code, "An internal error occurred (injected by the sandbox).")
		}
		return core.StatusErrorf(http.StatusInternalServerError, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.")
	default:
		status := f.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		msg := f.Message
		if msg == "" {
			msg = "Injected by the sandbox."
		}
		return core.StatusErrorf(status, f.Code, "%s", msg)
	}
}

// internalCodes are the services' own internal-failure exception names (from their API models),
// used when a service does not implement core.FaultCodes.
var internalCodes = map[string]string{
	"cloudhsmv2":     "CloudHsmInternalFailureException",
	"kms":            "KMSInternalException",
	"secretsmanager": "InternalServiceError",
	"ssm":            "InternalServerError",
	"sns":            "InternalError",
	"ec2":            "InternalError",
	"lambda":         "ServiceException",
	"events":         "InternalException",
	"states":         "InternalFailure",
	"cloudformation": "InternalFailure",
	"sts":            "InternalFailure",
}

// CallSite is a place a fault can be aimed at: the calls of Service Operation that one Lambda
// function made (for lambda Invoke, the invocations of Function, which Step Functions makes).
type CallSite struct {
	Function  string `json:"function"`
	Service   string `json:"service"`
	Operation string `json:"operation"`
	// Skip is how many calls of Service Operation were answered before the site's first call: a
	// Fault on Service Operation with this Skip meets the site's first call when the same run is
	// repeated (as long as the calls before it repeat too).
	Skip int `json:"skip"`
	// Calls is how many calls the site made in the run.
	Calls int `json:"calls"`
}

func (c CallSite) String() string { return c.Function + " " + c.Service + " " + c.Operation }

// MayCall says whether function can have made a call of service operation (for example from its
// IAM grants); Callers uses it to tell apart the calls of functions that ran at the same time.
type MayCall func(function, service, operation string) bool

// invocationEnd reports whether r records a Lambda invocation that ran (synchronous, or one
// attempt of an asynchronous event), and names its function. An invocation refused by an
// injected fault ran nothing.
func invocationEnd(r Record) (string, bool) {
	if r.Service != "lambda" || !strings.HasPrefix(r.Operation, "Invoke") || r.Injected != "" || r.Path == "" {
		return "", false
	}
	return r.Path, true
}

// Callers attributes recorded calls to the Lambda functions that made them, by Seq. A lambda
// Invoke record (the invocation itself, or one an injected fault refused) goes to the function
// invoked. A call signed with a function's sandbox-issued credentials goes to that function
// (Record.Caller). Any other call is placed from the order of records: the sandbox records a call
// when it answers it and an invocation when it ends, so a function's calls come before its
// invocation's record, and each goes to the first invocation recorded after it whose function may
// have made it. A call no later invocation may have made (the test's own calls, a function still
// running) is left out. records must be in Seq order, as Recorder.Records returns them.
func Callers(records []Record, may MayCall) map[int]string {
	out := map[int]string{}
	var pending []Record
	for _, r := range records {
		if r.Service == "lambda" && r.Operation == "Invoke" && r.Path != "" {
			out[r.Seq] = r.Path
		} else if r.Caller != "" {
			out[r.Seq] = r.Caller
			continue
		}
		fn, ok := invocationEnd(r)
		if !ok {
			if r.Service != "lambda" || !strings.HasPrefix(r.Operation, "Invoke") {
				pending = append(pending, r)
			}
			continue
		}
		kept := pending[:0]
		for _, p := range pending {
			if may == nil || may(fn, p.Service, p.Operation) {
				out[p.Seq] = fn
			} else {
				kept = append(kept, p)
			}
		}
		pending = kept
	}
	return out
}

// CallSites lists the distinct call sites of a recorded run (Callers attributes each call), in
// the order of their first calls, with the Skip that aims a fault at each site's first call.
func CallSites(records []Record, may MayCall) []CallSite {
	callers := Callers(records, may)
	seen := map[string]int{} // "service operation" -> calls so far
	index := map[CallSite]int{}
	var out []CallSite
	for _, r := range records {
		if r.Service == "lambda" && r.Operation != "Invoke" {
			continue // asynchronous deliveries are the caller's own retries; faults do not see them
		}
		op := r.Service + " " + r.Operation
		n := seen[op]
		seen[op]++
		fn, ok := callers[r.Seq]
		if !ok {
			continue
		}
		key := CallSite{Function: fn, Service: r.Service, Operation: r.Operation}
		if i, ok := index[key]; ok {
			out[i].Calls++
			continue
		}
		index[key] = len(out)
		site := key
		site.Skip, site.Calls = n, 1
		out = append(out, site)
	}
	return out
}

// runningExecutions lists the ARNs of the Step Functions executions that have not ended, asking
// the service in-process (nothing is recorded, no fault applies): an execution is listed from the
// moment it starts, before its first state runs.
func (sb *Sandbox) runningExecutions() []string {
	ops := sb.StepFunctions.Operations()
	list := func(op string, in any, into any) bool {
		b, _ := json.Marshal(in)
		out, err := ops[op](context.Background(), b)
		if err != nil {
			return false
		}
		b, err = json.Marshal(out)
		return err == nil && json.Unmarshal(b, into) == nil
	}
	var machines struct {
		StateMachines []struct {
			Arn string `json:"stateMachineArn"`
		} `json:"stateMachines"`
	}
	if !list("ListStateMachines", map[string]any{"maxResults": 1000}, &machines) {
		return nil
	}
	var arns []string
	for _, m := range machines.StateMachines {
		var execs struct {
			Executions []struct {
				Arn string `json:"executionArn"`
			} `json:"executions"`
		}
		if list("ListExecutions", map[string]any{"stateMachineArn": m.Arn, "statusFilter": "RUNNING", "maxResults": 1000}, &execs) {
			for _, e := range execs.Executions {
				arns = append(arns, e.Arn)
			}
		}
	}
	return arns
}

// RunningTasks names the Lambda function each running Step Functions execution is running a task
// state of right now, one per such execution (an execution between tasks, in a Wait or Choice
// state, runs none).
func (sb *Sandbox) RunningTasks() []string {
	var out []string
	for _, arn := range sb.runningExecutions() {
		events, err := sb.StepFunctions.History(arn)
		if err != nil {
			continue
		}
		// The newest LambdaFunction* event says whether a task runs: Scheduled and Started come
		// before the invocation, Succeeded, Failed and TimedOut after it.
		for i := len(events) - 1; i >= 0; i-- {
			e := events[i]
			if strings.HasPrefix(e.Type, "Execution") && e.Type != "ExecutionStarted" {
				break // the execution has just ended
			}
			if !strings.HasPrefix(e.Type, "LambdaFunction") || e.Type == "LambdaFunctionStarted" {
				continue
			}
			if e.Type == "LambdaFunctionScheduled" {
				resource, _ := e.Details["resource"].(string)
				if _, name, ok := strings.Cut(resource, ":function:"); ok {
					name, _, _ = strings.Cut(name, ":") // a qualifier
					out = append(out, name)
				} else if resource != "" {
					out = append(out, resource)
				}
			}
			break
		}
	}
	return out
}

// RunningExecutions counts the Step Functions executions that have not ended.
func (sb *Sandbox) RunningExecutions() int { return len(sb.runningExecutions()) }

// Caller returns a Fault.When that accepts only the calls function makes, judged as each call
// arrives. A call signed with a function's sandbox-issued credentials is that function's
// (Call.Caller). Any other call (a pre-signed URL, an invocation a service makes) is judged from
// what runs: it is a running task's (RunningTasks) when that task's function may make it; a
// call no running task may make is other's (for functions no workflow runs, such as a custom
// resource's service token; other may be nil). A lambda Invoke is the invoked function's, since
// the invoking task has just been scheduled.
func (sb *Sandbox) Caller(function string, may MayCall, other func(service, operation string) string) func(Call) bool {
	return func(c Call) bool {
		if c.Caller != "" && !(c.Service == "lambda" && c.Operation == "Invoke") {
			return c.Caller == function
		}
		service, operation := c.Service, c.Operation
		for _, fn := range sb.RunningTasks() {
			if (service == "lambda" && operation == "Invoke") || may == nil || may(fn, service, operation) {
				return fn == function
			}
		}
		return other != nil && other(service, operation) == function
	}
}
