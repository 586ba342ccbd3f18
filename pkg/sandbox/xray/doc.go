// Package xray is the sandbox's AWS X-Ray over the REST-JSON protocol aws-sdk-go-v2's service/xray
// speaks (POST with a JSON body to a fixed path per operation, errors named in X-Amzn-ErrorType),
// registered with Server.RegisterREST; it answers only requests signed for "xray".
//
// Operations: PutTraceSegments (each document checked as X-Ray's segment document requires: name,
// an id of 16 hexadecimal digits, a trace_id 1-<8 hex>-<24 hex>, start_time, and end_time or
// in_progress; a document that fails is answered in UnprocessedTraceSegments with its id, the rest
// are stored), PutTelemetryRecords (accepted and counted), GetSamplingRules (X-Ray's Default rule:
// reservoir 1 a second, then 5%), GetSamplingTargets (the Default rule's target for each statistics
// document) and BatchGetTraces (the stored segments of each trace id; an unknown id is in
// UnprocessedTraceIds).
//
// Lambda and Step Functions send segments with the function's or the state machine's role when
// tracing is on (pkg/sandbox/tracing.go); Segments lists what arrived.
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - No sampling: every segment sent is kept, and the Default rule is the only rule
//     (CreateSamplingRule and the rest of the sampling API are absent).
//   - No service graph, trace summaries, groups, insights, encryption config or subsegment
//     processing: a trace is the segments stored under its id, returned as sent.
//   - Segments are kept for the sandbox's life, not X-Ray's 30 days.
package xray
