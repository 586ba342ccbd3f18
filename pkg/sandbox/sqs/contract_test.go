package sqs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// The SDK's SQS client (AWS JSON 1.0, awsQueryCompatible) against a complete sandbox: a queue is
// created with the attributes the stacks' queues carry, found by name and listed, sent messages
// with attributes (the SDK checks MD5OfMessageBody), received with its attributes and system
// attributes, hidden for its visibility timeout, made visible again, deleted, purged; and SQS's
// errors reach the SDK as its typed errors with the Query codes.
func TestQueuesOverTheWire(t *testing.T) {
	sb := sandboxtest.New(t)
	ctx := context.Background()
	c := awssqs.NewFromConfig(sb.NoRetryConfig())
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}]}`
	created, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("undelivered"), Attributes: map[string]string{
		"MessageRetentionPeriod": "1209600", "KmsMasterKeyId": "alias/alerts", "Policy": policy, "VisibilityTimeout": "60",
	}, Tags: map[string]string{"team": "vault"}})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	url := aws.ToString(created.QueueUrl)
	if want := sb.URL + "/" + sb.Account + "/undelivered"; url != want {
		t.Errorf("QueueUrl = %s, want %s (the sandbox's endpoint, so the SDK reaches it)", url, want)
	}
	again, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("undelivered"), Attributes: map[string]string{"MessageRetentionPeriod": "1209600"}})
	if err != nil || aws.ToString(again.QueueUrl) != url {
		t.Errorf("CreateQueue again with the same attributes: %v %v, want the same URL", again, err)
	}
	var exists *types.QueueNameExists
	if _, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("undelivered"), Attributes: map[string]string{"DelaySeconds": "5"}}); !errors.As(err, &exists) {
		t.Errorf("CreateQueue with another DelaySeconds: %v, want QueueNameExists", err)
	}
	got, err := c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("undelivered")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Errorf("GetQueueUrl: %v %v", got, err)
	}
	list, err := c.ListQueues(ctx, &awssqs.ListQueuesInput{QueueNamePrefix: aws.String("und")})
	if err != nil || len(list.QueueUrls) != 1 || list.QueueUrls[0] != url {
		t.Errorf("ListQueues: %v %v", list, err)
	}

	body := `{"detail-type":"AWS API Call via CloudTrail"}`
	sent, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body), MessageAttributes: map[string]types.MessageAttributeValue{
		"RULE_ARN":       {DataType: aws.String("String"), StringValue: aws.String("arn:aws:events:us-east-1:" + sb.Account + ":rule/r")},
		"RETRY_ATTEMPTS": {DataType: aws.String("Number"), StringValue: aws.String("3")},
		"RAW":            {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3}},
	}})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if aws.ToString(sent.MD5OfMessageAttributes) == "" {
		t.Error("SendMessage with attributes answered no MD5OfMessageAttributes")
	}
	// MD5OfMessageAttributes as AWS computes it (the Developer Guide's encoding); the value is the
	// one an independent implementation (moto's Message.attribute_md5) gives for this attribute.
	one, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("b"),
		MessageAttributes: map[string]types.MessageAttributeValue{"A": {DataType: aws.String("String"), StringValue: aws.String("x")}}})
	if err != nil || aws.ToString(one.MD5OfMessageAttributes) != "786dfed7f522eb6d216c5bcd0098de7f" {
		t.Errorf("MD5OfMessageAttributes of A=String x: %v %v, want 786dfed7f522eb6d216c5bcd0098de7f", one, err)
	}
	if _, err := c.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body), MessageAttributes: map[string]types.MessageAttributeValue{
		"RULE_ARN":       {DataType: aws.String("String"), StringValue: aws.String("arn:aws:events:us-east-1:" + sb.Account + ":rule/r")},
		"RETRY_ATTEMPTS": {DataType: aws.String("Number"), StringValue: aws.String("3")},
		"RAW":            {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3}},
	}}); err != nil {
		t.Fatal(err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"QueueArn": "arn:aws:sqs:us-east-1:" + sb.Account + ":undelivered", "ApproximateNumberOfMessages": "1", "KmsMasterKeyId": "alias/alerts",
		"KmsDataKeyReusePeriodSeconds": "300", "SqsManagedSseEnabled": "false", "Policy": policy, "VisibilityTimeout": "60", "MessageRetentionPeriod": "1209600",
	} {
		if attrs.Attributes[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs.Attributes[k], want)
		}
	}

	recv, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"RULE_ARN", "RETRY_ATTEMPTS", "RAW"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp}})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(recv.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(recv.Messages))
	}
	m := recv.Messages[0]
	if aws.ToString(m.Body) != body || m.Attributes["ApproximateReceiveCount"] != "1" ||
		m.Attributes["SentTimestamp"] == "" || len(m.MessageAttributes) != 3 || aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) ||
		aws.ToString(m.MessageAttributes["RETRY_ATTEMPTS"].StringValue) != "3" || string(m.MessageAttributes["RAW"].BinaryValue) != "\x01\x02\x03" {
		t.Errorf("received %+v", m)
	}
	// In flight for the queue's 60 s: a second receive gets nothing, without waiting.
	if again, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url}); err != nil || len(again.Messages) != 0 {
		t.Errorf("second receive: %v %v, want nothing (in flight)", again, err)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	third, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil || len(third.Messages) != 1 || third.Messages[0].Attributes["ApproximateReceiveCount"] != "2" || len(third.Messages[0].MessageAttributes) != 0 {
		t.Fatalf("receive after ChangeMessageVisibility 0: %+v %v, want the message again, received twice, no message attributes asked for", third, err)
	}
	if _, err := c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: third.Messages[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	var notInflight *types.MessageNotInflight
	if _, err := c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third.Messages[0].ReceiptHandle, VisibilityTimeout: 5}); !errors.As(err, &notInflight) {
		t.Errorf("ChangeMessageVisibility of a deleted message: %v, want MessageNotInflight", err)
	}
	var badHandle *types.ReceiptHandleIsInvalid
	if _, err := c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: aws.String("nonsense")}); !errors.As(err, &badHandle) {
		t.Errorf("DeleteMessage with a made-up handle: %v, want ReceiptHandleIsInvalid", err)
	}

	// A long poll on an empty queue returns empty, bounded in wall time.
	start := time.Now()
	if empty, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20}); err != nil || len(empty.Messages) != 0 {
		t.Errorf("long poll of an empty queue: %v %v", empty, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("long poll took %v of wall time, want at most MaxWallWait", d)
	}

	for range 2 {
		if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	if n, _ := sb.SQS.Messages(url); len(n) != 0 {
		t.Errorf("after PurgeQueue %d messages, want 0", len(n))
	}
	if _, err := c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"Nope": "1"}}); err == nil || !strings.Contains(err.Error(), "InvalidAttributeName") {
		t.Errorf("SetQueueAttributes of an unknown attribute: %v, want InvalidAttributeName", err)
	}
	if _, err := c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	var missing *types.QueueDoesNotExist
	_, err = c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("undelivered")})
	var api smithy.APIError
	if !errors.As(err, &missing) || !errors.As(err, &api) || api.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("GetQueueUrl of a deleted queue: %v, want QueueDoesNotExist with the Query code AWS.SimpleQueueService.NonExistentQueue", err)
	}
}
