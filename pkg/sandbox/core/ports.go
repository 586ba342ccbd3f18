package core

import "context"

// Cross-service ports. Each emulated service that needs another's state takes one of these narrow
// interfaces, so services stay independent packages and tests can wire them as they need.

// LambdaInvoker invokes a function registered with the sandbox, as the Lambda service does
// (Secrets Manager rotation, EventBridge targets, Step Functions tasks, the CloudFormation driver).
type LambdaInvoker interface {
	// Invoke runs the function synchronously and returns its response payload. A function error is
	// returned as *FunctionError.
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// FunctionError is a Lambda function's own error (X-Amz-Function-Error: Unhandled), with the
// errorType and errorMessage the Go runtime reported.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// AsyncLambdaInvoker queues an asynchronous ("Event") invocation, as EventBridge targets and
// CloudFormation service tokens are invoked: it returns once the event is accepted, and the
// Lambda service runs the function (with its own retries of function errors) later.
type AsyncLambdaInvoker interface {
	InvokeAsync(ctx context.Context, function string, payload []byte) error
}
