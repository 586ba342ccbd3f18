// Package asl is an Amazon States Language interpreter: it parses and validates a state machine
// definition and runs it with the JSONPath query language, the way AWS Step Functions does.
//
// Time goes through a core.Clock (so Wait states and retry intervals run on the sandbox clock) and
// every Task goes through an Invoker (so the sandbox can plug in Lambda Invoke and tests can plug
// in stand-ins). An execution records a history with Step Functions' own event types and detail
// shapes, so GetExecutionHistory can be answered from it.
//
// JSON values are kept as nil, bool, float64, string, []any and *Object (an object that keeps its
// key order, as Step Functions does in outputs and in States.JsonToString).
//
// Error names follow AWS's documentation: States.Runtime (a path that points at nothing, a bad
// intrinsic call, a wrong type) and States.DataLimitExceeded (a payload above 256 KiB) end the
// execution and can be neither retried nor caught; States.ALL matches every other error, and
// States.TaskFailed every Task error except States.Timeout.
package asl
