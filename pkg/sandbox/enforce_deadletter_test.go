package sandbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMEventBridgeDeadLetter: an event a rule's Lambda target refuses (its policy does
// not let events.amazonaws.com invoke it: not retried) is sent to the target's KMS-encrypted
// dead-letter queue as events.amazonaws.com, with the rule as aws:SourceArn and the account as
// aws:SourceAccount, allowed only by the queue's policy (sqs:SendMessage) and its key's
// (kms:GenerateDataKey and kms:Decrypt, which SQS calls on the sender's behalf), as the alerts
// stack grants them. Without the queue's statement, without the key's, or with the queue's written
// for another rule, the dead letter is refused and lost: the queue stays empty, the Delivery says
// why, and the refusal is a Decision with AWS's message.
func TestEnforceIAMEventBridgeDeadLetter(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	kc, qc, eb := kms.NewFromConfig(op), awssqs.NewFromConfig(op), eventbridge.NewFromConfig(op)
	fn, err := env.Lambda.RegisterHandler("relay", func(_ context.Context, p []byte) ([]byte, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name               string
		queueStmt, keyStmt bool
		stmtRule           string // the rule the queue's statement names, "" for the rule itself
		denied             string // the action refused, "" for a dead letter that arrives
	}{
		{"queue and key statements", true, true, "", ""},
		{"no queue statement", false, true, "", "sqs:SendMessage"},
		{"no key statement", true, false, "", "kms:GenerateDataKey"},
		{"queue statement for another rule", true, true, "other", "sqs:SendMessage"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ruleName := fmt.Sprintf("alerts-%d", i)
			ruleARN := fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", env.Region, env.Account, ruleName)
			stmtRule := ruleARN
			if c.stmtRule != "" {
				stmtRule = fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", env.Region, env.Account, c.stmtRule)
			}
			keyPolicy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}`, env.Account)
			if c.keyStmt {
				keyPolicy += fmt.Sprintf(`,{"Sid":"AllowEventBridgeDeadLetters","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",`+
					`"Condition":{"ArnEquals":{"aws:SourceArn":[%q]}}}`, ruleARN)
			}
			key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(keyPolicy + "]}")})
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("undelivered-%d", i)
			queueARN := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", env.Region, env.Account, name)
			policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sqs:*","Resource":%q,"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, queueARN)
			if c.queueStmt {
				policy += fmt.Sprintf(`,{"Sid":"AllowEventRule","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":%q,`+
					`"Condition":{"ArnEquals":{"aws:SourceArn":%q}}}`, queueARN, stmtRule)
			}
			q, err := qc.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
				"KmsMasterKeyId": aws.ToString(key.KeyMetadata.Arn), "Policy": policy + "]}"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(ruleName), EventPattern: aws.String(fmt.Sprintf(`{"source":["strongroom"],"detail":{"case":[%d]}}`, i))}); err != nil {
				t.Fatal(err)
			}
			if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(ruleName), Targets: []ebtypes.Target{{Id: aws.String("relay"), Arn: aws.String(fn),
				DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String(queueARN)}, RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(10)}}}}); err != nil {
				t.Fatal(err)
			}
			before, deliveries := len(env.Decisions()), len(env.Events.Deliveries())
			if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("strongroom"),
				DetailType: aws.String("Alert"), Detail: aws.String(fmt.Sprintf(`{"case":%d}`, i))}}}); err != nil {
				t.Fatal(err)
			}
			d := env.Events.Deliveries()[deliveries:]
			if len(d) != 1 || d[0].ErrorCode != "NO_PERMISSIONS" || d[0].DeadLetter != queueARN {
				t.Fatalf("deliveries %+v, want one refused by the function's policy (NO_PERMISSIONS) and dead-lettered to %s", d, queueARN)
			}
			var dl []sandbox.Decision
			for _, x := range env.Decisions()[before:] {
				if x.Service == "sqs" {
					dl = append(dl, x)
				}
			}
			messages, _ := env.SQS.Messages(aws.ToString(q.QueueUrl))
			if c.denied == "" {
				if len(messages) != 1 || !strings.Contains(messages[0], `"detail":{"case":0}`) || d[0].DeadLetterErr != "" {
					t.Errorf("queue holds %q (delivery %+v), want the event", messages, d[0])
				}
				var actions []string
				for _, x := range dl {
					if x.Role != "events.amazonaws.com" || !x.Allowed || len(x.Grants) != 1 || !strings.HasPrefix(x.Grants[0], "resource:") {
						t.Errorf("decision %+v, want events.amazonaws.com allowed by the resource's policy", x)
					}
					actions = append(actions, x.Action)
				}
				if strings.Join(actions, " ") != "sqs:SendMessage kms:GenerateDataKey kms:Decrypt" {
					t.Errorf("judged %v, want sqs:SendMessage on the queue and kms:GenerateDataKey, kms:Decrypt on its key", actions)
				}
				return
			}
			if len(messages) != 0 {
				t.Errorf("queue holds %q, want nothing: the dead letter is lost", messages)
			}
			resource := queueARN
			if strings.HasPrefix(c.denied, "kms:") {
				resource = aws.ToString(key.KeyMetadata.Arn)
			}
			want := "User: events.amazonaws.com is not authorized to perform: " + c.denied + " on resource: " + resource
			last := dl[len(dl)-1]
			if last.Allowed || last.Action != c.denied || !strings.HasPrefix(last.Message, want) {
				t.Fatalf("decisions %+v, want %s refused: %q...", dl, c.denied, want)
			}
			if !strings.Contains(d[0].DeadLetterErr, want) {
				t.Errorf("delivery's DeadLetterErr %q, want the refusal", d[0].DeadLetterErr)
			}
		})
	}
}
