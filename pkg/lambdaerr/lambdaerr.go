// Package lambdaerr defines the only error types that cross Strongroom's Lambda boundary.
//
// The Go Lambda runtime reports an error's Go type name as the invocation's errorType, and that
// name is all an Amazon States Language Retry or Catch can match. A wrapped error such as
// fmt.Errorf("...: %w", err) would surface as "wrapError", so every handler's error passes through
// Classify (Wrap does it for you) and leaves as exactly one of:
//
//   - *RetryableError (errorType "RetryableError"): a transient condition (throttling, 5xx, a network
//     failure, a resource not yet in the wanted state). State machines retry it with backoff and jitter.
//   - *TerminalError (errorType "TerminalError"): retrying cannot help (bad input, a refused request).
//     Its Reason is written for a person and is what CloudFormation shows as the FAILED reason.
//
// Messages are built by the caller from identifiers and causes only; no secret value may ever be
// part of an error (docs/architecture.md, "Secrets").
package lambdaerr

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Names are the errorType strings the state machines match in ErrorEquals. A test checks that every
// name an ASL file matches is either one of these or a States.* name.
const (
	NameRetryable = "RetryableError"
	NameTerminal  = "TerminalError"
)

// Names lists every errorType this package can produce.
var Names = []string{NameRetryable, NameTerminal}

// PlatformNames are the error names that Lambda and its Step Functions integration report
// themselves, for failures that never reach a handler's return: the service erring or throttling,
// the process exiting or crashing mid-invocation (Runtime.ExitError), or the function timing out
// (Sandbox.Timedout). State machines retry them alongside RetryableError.
var PlatformNames = []string{
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Runtime.ExitError", "Sandbox.Timedout",
}

// RetryableError is a failure that may succeed if the same step runs again later.
type RetryableError struct {
	// Op says what was attempted, for example "describe cluster cluster-abc".
	Op  string
	Err error
}

func (e *RetryableError) Error() string { return join(e.Op, e.Err) }
func (e *RetryableError) Unwrap() error { return e.Err }

// TerminalError is a failure that a retry of the same step cannot fix.
type TerminalError struct {
	// Reason is the person-readable explanation, naming the field or condition and the fix.
	Reason string
	Err    error
}

func (e *TerminalError) Error() string { return join(e.Reason, e.Err) }
func (e *TerminalError) Unwrap() error { return e.Err }

// Retryable wraps err as a RetryableError that says what was attempted.
func Retryable(op string, err error) error { return &RetryableError{Op: op, Err: err} }

// Terminal returns a TerminalError with a person-readable reason and an optional cause.
func Terminal(reason string, err error) error { return &TerminalError{Reason: reason, Err: err} }

func join(msg string, err error) string {
	switch {
	case err == nil:
		return msg
	case msg == "":
		return err.Error()
	default:
		return msg + ": " + err.Error()
	}
}

var (
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// Classify maps any error to *RetryableError or *TerminalError, keeping its message. An error
// that already is (or wraps) one of the two keeps that classification. Otherwise throttling, 5xx
// faults, network errors and deadlines are retryable (the SDK's own retry rules decide), and
// everything else is terminal. Classify(nil) is nil.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	// The outermost classification in the chain wins: a step may deliberately mark a retryable SDK
	// error terminal (or the reverse). The returned error keeps the whole message.
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.(type) {
		case *TerminalError:
			return &TerminalError{Reason: err.Error()}
		case *RetryableError:
			return &RetryableError{Op: err.Error()}
		}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr),
		throttles.IsErrorThrottle(err).Bool(),
		retryables.IsErrorRetryable(err).Bool():
		return &RetryableError{Op: err.Error()}
	}
	return &TerminalError{Reason: err.Error()}
}

// Wrap adapts a step's Handle method for lambda.Start: errors leave classified, and each failure is
// logged once, here at the boundary, with the errorType the state machine sees. log names the step
// (lambdaenv.Logger puts the step's name on every line).
func Wrap[In, Out any](log *slog.Logger, handle func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		out, err := handle(ctx, in)
		if err == nil {
			return out, nil
		}
		cerr := Classify(err)
		log.ErrorContext(ctx, "step failed", "errorType", TypeName(cerr), "error", cerr.Error())
		return out, cerr
	}
}

// TypeName returns the errorType the Lambda runtime reports for err.
func TypeName(err error) string {
	switch err.(type) {
	case *RetryableError:
		return NameRetryable
	case *TerminalError:
		return NameTerminal
	case nil:
		return ""
	default:
		return "other"
	}
}
