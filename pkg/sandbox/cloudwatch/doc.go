// Package cloudwatch is the sandbox's Amazon CloudWatch alarms over the protocol aws-sdk-go-v2's
// client speaks, Smithy RPC v2 CBOR (service GraniteServiceVersion20100801, awsQueryCompatible: an
// error names its Query code), registered with Server.RegisterRPCv2, and over the Query protocol
// the AWS CLI speaks (signing name "monitoring"), registered with Server.RegisterQuery: both read a
// request into the same generic members, so each operation is written once.
//
// Operations: PutMetricAlarm (create or replace by name: the actions, ActionsEnabled, the
// description and every metric field kept as given: MetricName, Namespace, Dimensions, Statistic,
// ExtendedStatistic, Period, Unit, EvaluationPeriods, DatapointsToAlarm, Threshold,
// ComparisonOperator, TreatMissingData, EvaluateLowSampleCountPercentile, Metrics,
// ThresholdMetricId), DescribeAlarms (AlarmNames or AlarmNamePrefix, StateValue, ActionPrefix,
// MaxRecords and NextToken), SetAlarmState and DeleteAlarms. A new alarm is INSUFFICIENT_DATA.
//
// A change of state runs the new state's actions when ActionsEnabled: an SNS topic ARN action is a
// publish of CloudWatch's alarm notification with the subject `ALARM: "<name>" in <Region name>`,
// as MessageStructure json: Notification (the JSON AWS documents) for every protocol but e-mail,
// which gets CloudWatch's text (the change, a console link, the alarm's details, threshold and
// actions). It goes through the Publisher the sandbox wires, which publishes as
// cloudwatch.amazonaws.com with the alarm's ARN as aws:SourceArn and the account as
// aws:SourceAccount. A publish that fails (refused by the topic's or its key's policy, a topic that
// does not exist) delivers nothing; the state still changes and the failure is an Action item of
// the alarm's history (History), as CloudWatch records it.
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - No metrics: alarms are never evaluated, so only SetAlarmState changes a state (as an operator
//     testing an alarm does on AWS); PutMetricData, GetMetricStatistics and dashboards are absent.
//   - Actions run synchronously within SetAlarmState, once, with no retries; only SNS topic actions
//     are accepted (PutMetricAlarm refuses Auto Scaling, EC2, Systems Manager and Lambda actions by
//     name rather than ignore them).
//   - No composite alarms, alarm mute rules, tags or DescribeAlarmHistory on the wire (History is a
//     Go API for tests and the demo).
package cloudwatch
