package sandbox

import (
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
)

// Fault is one injection rule. It matches calls to Service and Operation ("*" or "" for any) and
// applies to the next Count matching calls (0: no limit), each with Probability (0 or 1: always).
type Fault struct {
	ID        int       `json:"id,omitempty"`
	Service   string    `json:"service"`
	Operation string    `json:"operation,omitempty"`
	Kind      FaultKind `json:"kind"`
	// Code, Message and Status make the exception of a FaultError.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Status  int    `json:"status,omitempty"`
	// Latency is sandbox time, for FaultLatency.
	Latency     Duration `json:"latency,omitempty"`
	Count       int      `json:"count,omitempty"`
	Probability float64  `json:"probability,omitempty"`
	// Hits is how many calls the rule has affected so far.
	Hits int `json:"hits"`
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
	case f.Probability < 0 || f.Probability > 1:
		return fmt.Errorf("fault probability %v is outside 0..1", f.Probability)
	}
	switch f.Kind {
	case FaultThrottle, FaultInternal:
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
		return fmt.Errorf("fault kind %q: want throttle, internal, error or latency", f.Kind)
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
	f.ID, f.Hits = fs.nextID, 0
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
// and error rules are picked separately: a call can be delayed and then fail.
func (fs *Faults) pick(service, op string, latency bool) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.rules {
		if (r.Kind == FaultLatency) != latency || !matches(r.Service, service) || !matches(r.Operation, op) {
			continue
		}
		if r.Count > 0 && r.Hits >= r.Count {
			continue
		}
		if r.Probability > 0 && r.Probability < 1 && fs.rng.Float64() >= r.Probability {
			continue
		}
		r.Hits++
		c := *r
		return &c
	}
	return nil
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
	case FaultInternal:
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
