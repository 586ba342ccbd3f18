package trailalert

// The IAM actions the alert relay's own calls need, by what they act on. infra/alerts grants
// these (and infra/workflowresource HistoryActions, on its own workflows' executions), beside what
// Lambda itself needs for the function (its logs, tracing, and sqs:SendMessage to its dead-letter
// queue, which Lambda sends with the function's role); infra's tests hold the synthesized role to
// them, and lambdas/trailrelay's tests run the function in the sandbox under a role made of them,
// with IAM enforced. The state table's are alertstate.TableActions.
var (
	// TopicActions act on the alert topic and the chat topics: the methods of Publisher.
	TopicActions = []string{"sns:Publish"}
	// TopicKeyActions act on the topics' KMS key: SNS server-side encryption calls it as the
	// publisher (and SQS's and DynamoDB's, for the queue and table that share the key).
	TopicKeyActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}
	// HistoryActions act on the executions of the workflows whose failures the relay reports: the
	// methods of ExecutionHistoryAPI.
	HistoryActions = []string{"states:GetExecutionHistory"}
)
