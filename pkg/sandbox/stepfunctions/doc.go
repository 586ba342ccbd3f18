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
// CreateStateMachine takes a loggingConfiguration (logging.go): its level and its one log group
// destination are validated, and SetLogging's authorizer judges the role's log delivery actions
// (AccessDeniedException "The state machine IAM Role is not authorized to access the Log
// Destination" when refused); a finished execution's history events, of the level's kinds, are
// written to the group as JSON events (input and output only with includeExecutionData). There is
// no UpdateStateMachine, and the events are written when the execution ends, not as they happen.
//
// Definitions come from CreateStateMachine, from a synthesized CloudFormation template in cdk.out
// (LoadTemplate) or from statemachines/ with substitutions supplied (LoadFile).
package stepfunctions
