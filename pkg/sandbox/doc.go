// Package sandbox is Strongroom's local AWS: an in-process emulator of exactly the AWS API surface
// Strongroom uses, served over HTTP on 127.0.0.1 with each service's real wire protocol, so the
// unchanged Lambda code and its aws-sdk-go-v2 clients reach it through AWS_ENDPOINT_URL (or the
// per-service AWS_ENDPOINT_URL_<SERVICE> variables, all pointing at the same server), and so does
// any real AWS client given --endpoint-url.
//
// New wires every service in this tree to one Server: STS, Lambda, EventBridge, the CloudFormation
// custom-resource driver, Secrets Manager, SNS, SQS, DynamoDB, EC2, CloudHSM, SSM, KMS, Step Functions,
// CloudWatch (alarms), S3, CloudTrail, CloudWatch Logs and X-Ray. Cross-service wiring: Secrets Manager rotation, EventBridge
// targets, Step Functions tasks and the CloudFormation driver invoke functions of the Lambda
// registry; SSM's client instance reads secrets from Secrets Manager and acts on CloudHSM;
// Step Functions' aws-sdk integrations call the JSON services through Server.Internal (so faults
// and records apply to them too) and its execution status changes are published to EventBridge
// as "Step Functions Execution Status Change" events; Secrets Manager's rotation service events
// (RotationFailed, ...) are published as "AWS Service Event via CloudTrail" events, as if the
// account had the CloudTrail trail AWS needs for that; a CloudWatch alarm's SNS actions publish to
// SNS as cloudwatch.amazonaws.com; EventBridge sends a target's dead letters to its SQS queue as
// events.amazonaws.com; Lambda makes a VPC function's network interfaces in EC2 (AttachFunctionVPC)
// and a traced function's or state machine's segments reach X-Ray (SetActiveTracing), each with the
// resource's role; Lambda writes what a function prints to its CloudWatch Logs log group with the
// function's role, and Step Functions an execution's events to its state machine's; EC2's VPC flow
// logs deliver the flows the client instance's connections make to their log groups as
// vpc-flow-logs.amazonaws.com's session of the flow log's role (deliverFlowLogs). Package
// sandboxtest starts one per test.
//
// Routing, by what the request carries:
//
//	/_sandbox/...                     the admin API (faults, records, clock, health; see adminPrefix)
//	a RESTService's method and path   Lambda Invoke, CloudFormation ResponseURLs (S3 pre-signed PUTs),
//	                                  X-Ray (signed for xray)
//	X-Amz-Target: <Prefix>.<Op>       JSON 1.0/1.1 services by target prefix; an unknown prefix or
//	                                  operation is UnknownOperationException (400)
//	form POST with Action=<Op>        Query services by the SigV4 credential scope's service, else by
//	                                  the one service that has the Action; else InvalidAction (400)
//	Smithy-Protocol: rpc-v2-cbor,     Smithy RPC v2 CBOR services (CloudWatch) by service name; an
//	POST /service/<Svc>/operation/<Op> unknown one or operation is UnknownOperationException (404)
//
// Errors are written as each protocol's clients read them: JSON errors carry X-Amzn-ErrorType and
// {"__type", "message", "Message"} (an awsQueryCompatible one, SQS, also the Query code in
// X-Amzn-Query-Error: core.QueryCompatible); Query errors are <ErrorResponse><Error><Type/><Code/><Message/>
// (EC2: <Response><Errors><Error>); REST-JSON errors carry X-Amzn-ErrorType and {"Type","message"};
// RPC v2 CBOR errors are a CBOR {"__type", "message"} with the Query code in X-Amzn-Query-Error.
// Every answer has an x-amzn-RequestId header, and Query answers carry the RequestId in the body.
//
// Faults (Faults, FaultKind) are injected per service and operation before the service runs, on
// wire calls and on the in-process calls services make of each other (Step Functions' aws-sdk
// tasks, and synchronous Lambda invocations by Step Functions and Secrets Manager rotation, which
// a "lambda Invoke" rule throttles as Lambda would). Every call is recorded (Recorder), in-process
// ones marked Internal; Recorder.Scan and Sandbox.SecretLeaks look for secret values in all
// recorded bytes, function logs and environments.
//
// Each Lambda function's processes get session credentials of their own
// (Server.Credentials), as Lambda gives a function its execution role's, so every call a
// function signs names it: Record.Caller, Call.Caller, and Fault.Caller, which aims a rule at one
// function's calls whatever else runs at the time.
//
// Known differences from AWS (per service, see each package's doc):
//   - signatures are not verified: a request must carry a SigV4 Authorization header
//     (MissingAuthenticationTokenException 403 without one, IncompleteSignatureException 400 when
//     malformed), but any key and signature are accepted, and IAM policies are not evaluated;
//   - one region and account per sandbox (default us-east-1, 123456789012), whatever the request's
//     credential scope says;
//   - request bodies are limited to 8 MB;
//   - the server answers HTTP/1.1 on plain http; there is no TLS;
//   - injected faults happen before the operation runs, so a faulted call never has side effects.
package sandbox
