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
// Input that is not a CloudTrail event fails with ErrMalformed, ErrNotCloudTrail, ErrMissingField
// or ErrInvalidField; the messages name the field at fault and never contain request, response or
// identity values (at most a clipped detail-type), so they are safe to log.
package trailalert
