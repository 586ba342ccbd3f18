// Package trailalert turns a CloudTrail event, as EventBridge delivers it, into one SNS message a
// person can triage from: a severity from a rules table, a subject of at most 99 printable ASCII
// characters, a plain-text body (who, what, when, where from, on which resource, the result and a
// link to the event in the CloudTrail console) followed by the event's JSON with sensitive fields
// redacted, and String message attributes for subscription filter policies. Every message stays
// within SNS's 256 KB limit: an oversized event is truncated with a visible marker, never dropped.
//
// The pipeline is Parse -> Classify -> Redact -> Render, bundled by Alerter; Relay publishes the
// result through a narrow SNS Publish interface and is the trailrelay Lambda's step. Only the
// severity is decided on the event as received: the subject, attributes, summary and excerpt are
// all built from the redacted event, in which every copy of a redacted value is redacted too, so
// a redacted value appears nowhere in the message (see Redactor).
//
// The relay also alerts on Strongroom's workflows: a "Step Functions Execution Status Change"
// event (IsExecutionStatusChange) of an execution that ended FAILED, TIMED_OUT or ABORTED is
// parsed by ParseExecution, its history read by ReadExecutionFailure (GetExecutionHistory, newest
// first, through the narrow ExecutionHistoryAPI) for the state it failed in, and rendered by
// Alerter.AlertExecution as a Critical message with the same attribute scheme (event_source
// states.amazonaws.com, event_name ExecutionFailed, ExecutionTimedOut or ExecutionAborted): the
// workflow and its kind (WorkflowKind), the resource identifiers its input carries, the failed
// state, the error and the cause (redacted as text, Redactor.RedactText, and bounded), and a link
// to the execution in the Step Functions console (ExecutionConsoleURL). The execution's input and
// output are never shown. When the history cannot be read the alert is still sent, naming the
// error code. RUNNING and SUCCEEDED executions are no alerts (ErrNoAlert: the relay logs them as
// skipped).
//
// The operator's rules (Options.OperatorRules, pkg/alertrules) apply to CloudTrail events after
// Classify: an event an ignore rule matches, and a successful info-severity call by one of
// Strongroom's own roles, is a *Skipped (ErrNoAlert) the relay logs; a severity override's first
// match replaces the classification (operator.go).
//
// Input that is neither fails with ErrMalformed, ErrNotCloudTrail, ErrMissingField or
// ErrInvalidField; the messages name the field at fault and never contain request, response,
// identity or execution values (at most a clipped detail-type), so they are safe to log.
package trailalert
