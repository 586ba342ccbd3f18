package events_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/events"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// Over the wire: a target's RetryPolicy and DeadLetterConfig are kept and listed, a dead-letter
// queue that is not an SQS queue is refused, and an event the target cannot be handed (its
// function does not exist: not retried) reaches the queue at once, as the event with the
// attributes the EventBridge User Guide lists.
func TestDeadLetterOfAMissingFunction(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	eb := eventbridge.NewFromConfig(env.NoRetryConfig())
	sq := awssqs.NewFromConfig(env.NoRetryConfig())
	q, err := sq.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := "arn:aws:sqs:us-east-1:" + env.Account + ":dlq"
	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("alerts"), EventPattern: aws.String(`{"source":["strongroom"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:lambda:us-east-1:" + env.Account + ":function:gone"
	target := types.Target{Id: aws.String("relay"), Arn: aws.String(missing),
		RetryPolicy:      &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(10), MaximumEventAgeInSeconds: aws.Int32(3600)},
		DeadLetterConfig: &types.DeadLetterConfig{Arn: aws.String(queueARN)}}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("alerts"), Targets: []types.Target{
		{Id: aws.String("bad"), Arn: aws.String(missing), DeadLetterConfig: &types.DeadLetterConfig{Arn: aws.String("arn:aws:sns:us-east-1:" + env.Account + ":topic")}}}}); err == nil ||
		!strings.Contains(err.Error(), "DeadLetterConfig.Arn") {
		t.Errorf("PutTargets with an SNS topic as dead-letter queue: %v, want a ValidationException naming DeadLetterConfig.Arn", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("alerts"), Targets: []types.Target{target}}); err != nil {
		t.Fatal(err)
	}
	listed, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("alerts")})
	if err != nil || len(listed.Targets) != 1 || aws.ToInt32(listed.Targets[0].RetryPolicy.MaximumRetryAttempts) != 10 ||
		aws.ToInt32(listed.Targets[0].RetryPolicy.MaximumEventAgeInSeconds) != 3600 || aws.ToString(listed.Targets[0].DeadLetterConfig.Arn) != queueARN {
		t.Fatalf("ListTargetsByRule = %+v %v, want the RetryPolicy and DeadLetterConfig given", listed, err)
	}
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("strongroom"), DetailType: aws.String("Alert"), Detail: aws.String(`{"severity":"CRITICAL"}`)}}}); err != nil {
		t.Fatal(err)
	}
	got, err := sq.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MessageAttributeNames: []string{"All"}})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("the dead-letter queue holds %+v %v, want the one event", got, err)
	}
	m := got.Messages[0]
	var ev map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil || ev["source"] != "strongroom" || ev["detail-type"] != "Alert" {
		t.Errorf("dead letter body %s, want the event", aws.ToString(m.Body))
	}
	attr := func(n string) string { return aws.ToString(m.MessageAttributes[n].StringValue) }
	if attr("RULE_ARN") != aws.ToString(rule.RuleArn) || attr("TARGET_ARN") != missing || attr("ERROR_CODE") != "NO_RESOURCE" ||
		!strings.Contains(attr("ERROR_MESSAGE"), "gone") || attr("RETRY_ATTEMPTS") != "" {
		t.Errorf("dead letter attributes %v, want RULE_ARN, TARGET_ARN, ERROR_CODE NO_RESOURCE, the error, no retries", m.MessageAttributes)
	}
	d := env.Events.Deliveries()
	if len(d) != 1 || d[0].DeadLetter != queueARN || d[0].DeadLetterErr != "" || d[0].ErrorCode != "NO_RESOURCE" {
		t.Errorf("deliveries %+v, want one dead-lettered to %s", d, queueARN)
	}
}

// throttled is a Lambda that refuses the first n events with TooManyRequestsException, as Lambda
// throttles an asynchronous invocation it cannot accept.
type throttled struct {
	mu       sync.Mutex
	n, calls int
}

func (f *throttled) InvokeAsync(context.Context, string, []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.n {
		return core.StatusErrorf(http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
	}
	return nil
}

// A retriable failure (throttling) is retried on the sandbox clock: delivered once the target
// takes the event, and dead-lettered with EXHAUSTED_RETRY_CONDITION and RETRY_ATTEMPTS when the
// RetryPolicy runs out first.
func TestThrottledDeliveryIsRetriedThenDeadLettered(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name              string
		throttles, max    int
		wantRetries       int
		wantDead, wantErr bool
	}{
		{"taken on the third attempt", 2, 5, 2, false, false},
		{"retries run out", 100, 3, 3, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lambda := &throttled{n: c.throttles}
			s := events.New(core.NewScaledClock(10000), lambda, "us-east-1", "123456789012")
			t.Cleanup(s.Close)
			var mu sync.Mutex
			var sent []map[string]string
			s.SetDeadLetterSender(func(_ context.Context, rule, queue, body string, attrs map[string]string) error {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, attrs)
				return nil
			})
			call := func(op, in string) {
				if _, err := s.Operations()[op](ctx, json.RawMessage(in)); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
			}
			call("PutRule", `{"Name":"r","EventPattern":"{\"source\":[\"strongroom\"]}"}`)
			call("PutTargets", `{"Rule":"r","Targets":[{"Id":"t","Arn":"arn:aws:lambda:us-east-1:123456789012:function:f",
				"RetryPolicy":{"MaximumRetryAttempts":`+itoa(c.max)+`},"DeadLetterConfig":{"Arn":"arn:aws:sqs:us-east-1:123456789012:dlq"}}]}`)
			if _, err := s.Publish(ctx, "strongroom", "Alert", map[string]string{"k": "v"}); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := s.WaitIdle(wctx); err != nil {
				t.Fatalf("retries did not end: %v", err)
			}
			d := s.Deliveries()
			if len(d) != 1 || d[0].Retries != c.wantRetries || (d[0].Err != "") != c.wantErr || (d[0].DeadLetter != "") != c.wantDead {
				t.Fatalf("deliveries %+v, want %d retries, failed %v, dead-lettered %v", d, c.wantRetries, c.wantErr, c.wantDead)
			}
			mu.Lock()
			defer mu.Unlock()
			if !c.wantDead {
				if len(sent) != 0 {
					t.Errorf("dead letters %v, want none", sent)
				}
				return
			}
			if len(sent) != 1 || sent[0]["ERROR_CODE"] != "THROTTLING" || sent[0]["EXHAUSTED_RETRY_CONDITION"] != "MaximumRetryAttempts" || sent[0]["RETRY_ATTEMPTS"] != itoa(c.max) {
				t.Errorf("dead letters %v, want one THROTTLING after MaximumRetryAttempts (%d retries)", sent, c.max)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
