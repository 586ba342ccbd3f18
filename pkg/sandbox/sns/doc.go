// Package sns is the sandbox's Amazon SNS over the AWS Query protocol (signing name "sns",
// namespace http://sns.amazonaws.com/doc/2010-03-31/): topics, subscriptions with filter policies,
// and Publish with SNS's limits, where every delivered message is kept so tests and the demo can
// read what each subscriber received (Deliveries).
//
// Operations: CreateTopic (idempotent by name; Attributes such as KmsMasterKeyId, Tags),
// DeleteTopic, GetTopicAttributes, SetTopicAttributes, ListTopics, Subscribe, Unsubscribe,
// GetSubscriptionAttributes, SetSubscriptionAttributes (FilterPolicy, FilterPolicyScope
// MessageAttributes|MessageBody, RawMessageDelivery, ...), ListSubscriptionsByTopic,
// ListSubscriptions, Publish.
//
// Publish enforces: a non-empty Message; a Subject of at most 100 printable ASCII characters
// that does not start with a space and has no line breaks; at most 10 message attributes with
// valid names and DataType String, Number, Binary or String.Array (custom suffixes allowed); and
// 262,144 bytes for the message plus its attributes ("Invalid parameter: Message too long").
// MessageStructure json picks each protocol's message. Filter policies support exact strings
// and numbers, prefix, suffix, equals-ignore-case, anything-but (values, prefix, suffix),
// numeric ranges, exists, cidr and $or, in both scopes, with SNS's 5-key and 150-combination
// limits.
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - Confirmation is automatic: every subscription, e-mail included, is confirmed when made, so
//     Subscribe returns the subscription ARN (never "pending confirmation") and no confirmation
//     message is sent.
//   - Nothing leaves the sandbox: deliveries to email, email-json, lambda, sqs and http(s)
//     endpoints are recorded with the body the endpoint would receive, not sent or invoked.
//   - Notifications are not signed (the Signature field is a placeholder); topic policies and
//     KMS encryption (KmsMasterKeyId) are stored and reported, not enforced.
//   - No SMS, mobile push, PublishBatch, data protection policies or delivery retries.
package sns
