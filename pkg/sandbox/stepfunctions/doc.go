// Package stepfunctions is the sandbox's AWS Step Functions: the JSON 1.0 API (target prefix
// AWSStepFunctions) over state machines run by pkg/sandbox/asl on the sandbox clock.
//
// Task states invoke Lambda functions through core.LambdaInvoker (a function error keeps the
// function's errorType as the error name; an unknown function is Lambda.ResourceNotFoundException)
// and aws-sdk integrations through a table the platform fills, for example with the operations of
// the sandbox's own JSON services (AddJSONService). A state machine whose aws-sdk resource has no
// integration is refused at CreateStateMachine, never left to fail later.
//
// Every execution status change (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED) is handed to an
// optional hook as the EventBridge event "Step Functions Execution Status Change", so the platform
// can publish it and the custom-resource safety net can be tested.
//
// Definitions come from CreateStateMachine, from a synthesized CloudFormation template in cdk.out
// (LoadTemplate) or from statemachines/ with substitutions supplied (LoadFile).
package stepfunctions
