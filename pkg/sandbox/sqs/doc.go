// Package sqs is the sandbox's Amazon SQS (standard queues) over the two protocols real clients
// speak: AWS JSON 1.0 (X-Amz-Target AmazonSQS.<Op>, what aws-sdk-go-v2's service/sqs sends),
// registered with Server.RegisterJSON, and the Query protocol (signing name "sqs") that the AWS CLI
// v2 Debian ships speaks, registered with Server.RegisterQuery. The model is awsQueryCompatible:
// a JSON error's __type is the error shape (QueueDoesNotExist) and its X-Amzn-Query-Error header
// the Query code (AWS.SimpleQueueService.NonExistentQueue), which the SDK reports as the error's
// code; a Query error carries that code (core.QueryCompatible).
//
// Operations: CreateQueue (Attributes kept: Policy, KmsMasterKeyId, KmsDataKeyReusePeriodSeconds,
// SqsManagedSseEnabled, MessageRetentionPeriod, VisibilityTimeout, DelaySeconds,
// ReceiveMessageWaitTimeSeconds, MaximumMessageSize, RedrivePolicy, RedriveAllowPolicy; tags;
// idempotent for the same attributes, QueueNameExists otherwise), GetQueueUrl, GetQueueAttributes
// (All or names, with QueueArn, CreatedTimestamp, LastModifiedTimestamp and the
// ApproximateNumberOfMessages counts), SetQueueAttributes, ListQueues (QueueNamePrefix,
// MaxResults, NextToken), DeleteQueue, SendMessage (DelaySeconds, MessageAttributes; MD5OfMessageBody
// and MD5OfMessageAttributes as AWS computes them), ReceiveMessage (MaxNumberOfMessages,
// VisibilityTimeout, WaitTimeSeconds, MessageAttributeNames with All, .* and prefix.*,
// MessageSystemAttributeNames and the older AttributeNames), DeleteMessage,
// ChangeMessageVisibility and PurgeQueue. A queue's URL is <sandbox URL>/<account>/<name>, so the
// SDK and the CLI, pointed at the sandbox's endpoint, send every call there; any URL whose path
// ends in /<account>/<name> names the queue.
//
// Send is the Go entry for messages an AWS service sends itself (EventBridge's dead letters): the
// sandbox judges them under IAM before they reach it (Sandbox.EnforceIAM).
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - Standard queues only: a name ending in .fifo, FifoQueue and the batch operations are refused
//     by name.
//   - Encryption is an attribute: a queue with KmsMasterKeyId stores messages in the clear, and the
//     KMS permissions SQS needs of its callers are judged by IAM enforcement (authz.Specials), not by
//     calls to the sandbox's KMS.
//   - RedrivePolicy is kept and returned, but nothing moves a message to its dead-letter queue.
//   - A long poll (WaitTimeSeconds) waits for a message for that much sandbox time but never more
//     than MaxWallWait of wall time, so a stopped sandbox clock does not hold the call.
//   - A deleted queue's name can be used again at once (AWS asks for 60 seconds).
package sqs
