// Package core holds what every emulated service of the Strongroom sandbox shares: the sandbox
// clock, the error type that becomes a service exception on the wire, the shapes of a service per
// wire protocol (JSONService for JSON 1.0/1.1, QueryService for the Query and EC2 protocols,
// RESTService for REST APIs such as Lambda's), the cross-service ports (SecretReader,
// LambdaInvoker, AsyncLambdaInvoker), and epoch timestamps as the AWS JSON protocols encode them.
//
// Services are plain Go values with their own state and locks; the sandbox server (package
// sandbox) routes wire requests to them, injects faults (a service may name its own throttling
// and internal-failure exceptions through FaultCodes) and records every call. Services never
// sleep: every delay is scheduled on the Clock so tests can run a 20-minute workflow in seconds
// while keeping the order of events.
package core
