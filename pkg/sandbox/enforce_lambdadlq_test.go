package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMFunctionDeadLetter: an asynchronous event whose every attempt failed (the
// function's EventInvokeConfig, set over the wire, gives it one retry) goes to the function's
// KMS-encrypted dead-letter queue, sent as Lambda sends it with the function's execution role: the
// role needs sqs:SendMessage on the queue and kms:GenerateDataKey and kms:Decrypt on its key (as
// infra/alerts grants the relay). The dead letter is the event with Lambda's attributes RequestID,
// ErrorCode and ErrorMessage. Without the queue's grant or the key's, it is refused with AWS's
// message and lost.
func TestEnforceIAMFunctionDeadLetter(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	// 600x: the retry a minute of sandbox time later takes 0.1 s.
	env := enforcedSandbox(ctx, t, sandboxtest.Scale(600))
	op := env.NoRetryConfig()
	kc, qc, ic, lc := kms.NewFromConfig(op), awssqs.NewFromConfig(op), iam.NewFromConfig(op), awslambda.NewFromConfig(op)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	q, err := qc.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("undelivered"), Attributes: map[string]string{"KmsMasterKeyId": keyARN}})
	if err != nil {
		t.Fatal(err)
	}
	queueURL := aws.ToString(q.QueueUrl)
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:%s:undelivered", env.Region, env.Account)

	cases := []struct {
		name   string
		grants [][2]any // actions, resource
		denied string   // the action refused, "" for a dead letter that arrives
		onARN  string
	}{
		{"queue and key granted", [][2]any{{"sqs:SendMessage", queueARN}, {[]string{"kms:Decrypt", "kms:GenerateDataKey"}, keyARN}}, "", ""},
		{"no queue grant", [][2]any{{[]string{"kms:Decrypt", "kms:GenerateDataKey"}, keyARN}}, "sqs:SendMessage", queueARN},
		{"no key grant", [][2]any{{"sqs:SendMessage", queueARN}}, "kms:GenerateDataKey", keyARN},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fn := fmt.Sprintf("relay-%d", i)
			var attempts atomic.Int32
			if _, err := env.Lambda.RegisterHandler(fn, func(context.Context, []byte) ([]byte, error) {
				attempts.Add(1)
				return nil, errors.New("publish the alert: SNS refused it")
			}, sblambda.WithDeadLetterQueue(queueARN)); err != nil {
				t.Fatal(err)
			}
			var stmts []map[string]any
			for _, g := range c.grants {
				stmts = append(stmts, map[string]any{"Effect": "Allow", "Action": g[0], "Resource": g[1]})
			}
			env.BindRole(fn, createRole(ctx, t, ic, fn+"-role", "lambda.amazonaws.com", stmts...))
			if _, err := lc.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(fn),
				MaximumRetryAttempts: aws.Int32(1), MaximumEventAgeInSeconds: aws.Int32(3600)}); err != nil {
				t.Fatal(err)
			}
			before := len(env.Lambda.DeadLetters())
			if _, err := lc.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), InvocationType: lambdatypes.InvocationTypeEvent,
				Payload: []byte(fmt.Sprintf(`{"case":%d}`, i))}); err != nil {
				t.Fatal(err)
			}
			if err := env.Lambda.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			dls := env.Lambda.DeadLetters()[before:]
			if attempts.Load() != 2 || len(dls) != 1 {
				t.Fatalf("%d attempts, dead letters %+v; want 2 attempts (one retry) and one dead letter", attempts.Load(), dls)
			}
			got, err := qc.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MessageAttributeNames: []string{"All"}, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			if c.denied == "" {
				if len(got.Messages) != 1 || dls[0].Err != "" {
					t.Fatalf("received %d messages (dead letter %+v), want the event", len(got.Messages), dls[0])
				}
				m := got.Messages[0]
				attr := func(k string) string { return aws.ToString(m.MessageAttributes[k].StringValue) }
				if aws.ToString(m.Body) != fmt.Sprintf(`{"case":%d}`, i) || attr("RequestID") == "" || attr("ErrorCode") != "200" ||
					!strings.Contains(attr("ErrorMessage"), "SNS refused it") {
					t.Errorf("dead letter %q with %v, want the event with RequestID, ErrorCode 200, ErrorMessage", aws.ToString(m.Body), m.MessageAttributes)
				}
				if _, err := qc.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(got.Messages) != 0 {
				t.Errorf("queue holds %d messages, want none: the dead letter is lost", len(got.Messages))
			}
			want := fmt.Sprintf("is not authorized to perform: %s on resource: %s", c.denied, c.onARN)
			if !strings.Contains(dls[0].Err, want) || !strings.Contains(dls[0].Err, "assumed-role/"+fn+"-role/"+fn) {
				t.Errorf("dead letter error %q, want the role session refused %s", dls[0].Err, want)
			}
		})
	}

	// The API's own checks.
	if _, err := lc.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("relay-0"), MaximumRetryAttempts: aws.Int32(3)}); err == nil ||
		!strings.Contains(err.Error(), "maximumRetryAttempts") {
		t.Errorf("3 retries: %v, want a ValidationException naming maximumRetryAttempts", err)
	}
	cfg, err := lc.GetFunctionEventInvokeConfig(ctx, &awslambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("relay-0")})
	if err != nil || aws.ToInt32(cfg.MaximumRetryAttempts) != 1 || aws.ToInt32(cfg.MaximumEventAgeInSeconds) != 3600 {
		t.Errorf("GetFunctionEventInvokeConfig = %+v, %v", cfg, err)
	}
}
