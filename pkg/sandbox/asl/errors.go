package asl

import "fmt"

// Error names Step Functions itself reports.
const (
	ErrAll                   = "States.ALL"
	ErrTaskFailed            = "States.TaskFailed"
	ErrTimeout               = "States.Timeout"
	ErrHeartbeatTimeout      = "States.HeartbeatTimeout"
	ErrRuntime               = "States.Runtime"
	ErrDataLimitExceeded     = "States.DataLimitExceeded"
	ErrNoChoiceMatched       = "States.NoChoiceMatched"
	ErrResultPathMatch       = "States.ResultPathMatchFailure"
	ErrParameterPathFailure  = "States.ParameterPathFailure"
	ErrIntrinsicFailure      = "States.IntrinsicFailure"
	ErrBranchFailed          = "States.BranchFailed"
	ErrPermissions           = "States.Permissions"
	ErrExceedToleratedFailed = "States.ExceedToleratedFailureThreshold"
	ErrItemReaderFailed      = "States.ItemReaderFailed"
	ErrResultWriterFailed    = "States.ResultWriterFailed"
	ErrQueryEvaluation       = "States.QueryEvaluationError"
	ErrHTTPSocket            = "States.Http.Socket"
)

// StatesNames lists every predefined States.* error name (AWS "Error names" in the Step Functions
// developer guide), so a Retry or Catch that names anything else with the States. prefix is
// refused at validation.
var StatesNames = []string{ErrAll, ErrTaskFailed, ErrTimeout, ErrHeartbeatTimeout, ErrRuntime,
	ErrDataLimitExceeded, ErrNoChoiceMatched, ErrResultPathMatch, ErrParameterPathFailure,
	ErrIntrinsicFailure, ErrBranchFailed, ErrPermissions, ErrExceedToleratedFailed,
	ErrItemReaderFailed, ErrResultWriterFailed, ErrQueryEvaluation, ErrHTTPSocket}

// Failure is an error as Step Functions carries it: a name that Retry and Catch match, and a cause
// for people. Invokers return it for task failures (a Lambda function's errorType and its error
// payload, a service's exception name and message).
type Failure struct {
	Name  string
	Cause string
}

func (f *Failure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

func failf(name, format string, args ...any) *Failure {
	return &Failure{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// runtimeErr is a States.Runtime failure raised while executing a named state, in AWS's words.
func runtimeErr(format string, args ...any) *Failure {
	return failf(ErrRuntime, format, args...)
}

// terminal reports whether an error ends the execution regardless of Retry and Catch.
func terminal(name string) bool {
	return name == ErrRuntime || name == ErrDataLimitExceeded
}
