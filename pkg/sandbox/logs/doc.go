// Package logs is the sandbox's Amazon CloudWatch Logs over AWS JSON 1.1 (X-Amz-Target
// Logs_20140328.<Operation>, as aws-sdk-go-v2's service/cloudwatchlogs and the AWS CLI send it):
// CreateLogGroup (kmsKeyId, tags), PutRetentionPolicy, DescribeLogGroups (logGroupNamePrefix),
// DeleteLogGroup, CreateLogStream, DescribeLogStreams, PutLogEvents, GetLogEvents and
// FilterLogEvents, with CloudWatch Logs' errors (ResourceAlreadyExistsException,
// ResourceNotFoundException, InvalidParameterException).
//
// A log group's ARN is arn:aws:logs:<region>:<account>:log-group:<name> (the Service Authorization
// Reference's log-group resource); DescribeLogGroups answers it as logGroupArn and, with the ":*"
// CloudFormation's Fn::GetAtt Arn also ends with, as arn. A stream's is
// <group ARN>:log-stream:<stream>.
//
// CreateLogGroup with a kmsKeyId checks what CloudWatch Logs checks (CloudWatch Logs User Guide,
// "Encrypt log data in CloudWatch Logs using AWS Key Management Service"): the key exists, and its
// policy lets logs.<region>.amazonaws.com use it with the encryption context aws:logs:arn = the log
// group's ARN, else InvalidParameterException. The policy check is the KeyAuthorizer the sandbox sets
// under Sandbox.EnforceIAM (one judged kms:GenerateDataKey, a recorded Decision); without it only
// existence is checked. Events are stored in plain text either way.
//
// The sandbox delivers into it what AWS services write there: each function's output lines, with
// the function's execution role (Sandbox: Lambda's log delivery), and a state machine's execution
// events with its role.
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - FilterLogEvents' filterPattern is a plain substring match (a quoted pattern is the text between
//     the quotes); CloudWatch Logs' filter and pattern syntax (terms, JSON and space-delimited
//     patterns) is not parsed. interleaved is ignored: events come in timestamp order.
//   - Retention is stored and answered but events never expire; no metric filters, subscriptions,
//     Insights queries, data protection or resource policies.
//   - PutLogEvents takes sequence tokens but never checks them (AWS no longer requires them).
package logs
