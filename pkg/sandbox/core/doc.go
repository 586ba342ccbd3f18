// Package core holds what every emulated service of the Strongroom sandbox shares: the sandbox
// clock, the error type that becomes a service exception on the wire, the shapes of a service per
// wire protocol (JSONService for JSON 1.0/1.1, QueryService for the Query and EC2 protocols,
// RESTService for REST APIs such as Lambda's), the cross-service ports (LambdaInvoker,
// AsyncLambdaInvoker), and epoch timestamps as the AWS JSON protocols encode them.
//
// It also holds what the services' operations share instead of each repeating it: the protocol
// identity a service embeds (JSONProtocol, QueryProtocol), typed JSON operations (Handler), an
// operation on one resource under the service's lock (Locked), list pagination (Window, Page,
// OffsetToken), Query-protocol lists (QueryList) and ids (NewUUID, RandomHex).
//
// Services are plain Go values with their own state and locks; the sandbox server (package
// sandbox) routes wire requests to them, injects faults (a service may name its own
// internal-failure exception through FaultCodes) and records every call. Services never
// sleep: every delay is scheduled on the Clock so tests can run a 20-minute workflow in seconds
// while keeping the order of events.
package core
