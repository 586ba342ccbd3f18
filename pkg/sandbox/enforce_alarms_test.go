package sandbox_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMAlarmPublish: a CloudWatch alarm's action publishes to an encrypted topic as
// cloudwatch.amazonaws.com with the alarm as aws:SourceArn and the account as aws:SourceAccount,
// allowed only by the topic's policy (sns:Publish) and its key's (kms:GenerateDataKey and
// kms:Decrypt, which SNS calls on the publisher's behalf), as infra/alarmtopic grants them. Without
// either statement, or with both written for another account's alarms, the publish is refused:
// nothing is delivered, the refusal is a Decision with AWS's message, the alarm still goes to
// ALARM and its history records the failed action.
func TestEnforceIAMAlarmPublish(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	kc, sc, cw := kms.NewFromConfig(op), sns.NewFromConfig(op), cloudwatch.NewFromConfig(op)
	const other = "111122223333"

	cases := []struct {
		name               string
		topicStmt, keyStmt bool
		alarmsOf           string // the account whose alarms the statements allow
		denied             string // the action refused, "" for a delivery
	}{
		{"both statements", true, true, env.Account, ""},
		{"no topic statement", false, true, env.Account, "sns:Publish"},
		{"no key statement", true, false, env.Account, "kms:GenerateDataKey"},
		{"statements for another account's alarms", true, true, other, "sns:Publish"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cwStmt := func(action, resource string) string {
				return fmt.Sprintf(`{"Sid":"AllowCloudWatchAlarmsToPublish","Effect":"Allow","Principal":{"Service":"cloudwatch.amazonaws.com"},"Action":%s,"Resource":%q,`+
					`"Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:cloudwatch:%s:%s:alarm:*"},"StringEquals":{"aws:SourceAccount":%q}}}`,
					action, resource, env.Region, c.alarmsOf, c.alarmsOf)
			}
			keyPolicy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}`, env.Account)
			if c.keyStmt {
				keyPolicy += "," + cwStmt(`["kms:Decrypt","kms:GenerateDataKey*"]`, "*")
			}
			key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(keyPolicy + "]}")})
			if err != nil {
				t.Fatal(err)
			}
			topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("alarms-%d", i)),
				Attributes: map[string]string{"KmsMasterKeyId": aws.ToString(key.KeyMetadata.Arn)}})
			if err != nil {
				t.Fatal(err)
			}
			arn := aws.ToString(topic.TopicArn)
			topicPolicy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sns:Publish","Resource":%q}`, env.Account, arn)
			if c.topicStmt {
				topicPolicy += "," + cwStmt(`"sns:Publish"`, arn)
			}
			if _, err := sc.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: topic.TopicArn, AttributeName: aws.String("Policy"), AttributeValue: aws.String(topicPolicy + "]}")}); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String("ops@example.com")}); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("Alarm-%d", i)
			if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), AlarmActions: []string{arn},
				Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateNumberOfMessagesVisible"), Statistic: cwtypes.StatisticMaximum,
				Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
			}); err != nil {
				t.Fatal(err)
			}
			before := len(env.Decisions())
			if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("testing")}); err != nil {
				t.Fatalf("SetAlarmState: %v (a refused action must not fail the state change)", err)
			}
			got, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
			if err != nil || len(got.MetricAlarms) != 1 || got.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm {
				t.Errorf("the alarm's state: %v %+v, want ALARM", err, got)
			}
			decisions := env.Decisions()[before:]
			delivered := env.SNS.Deliveries(arn)
			alarmARN := env.CloudWatch.AlarmARN(name)
			if c.denied == "" {
				if len(delivered) != 1 || !strings.Contains(delivered[0].Message, "- Alarm Arn:                  "+alarmARN+"\n") {
					t.Errorf("deliveries %+v, want the alarm's notification", delivered)
				}
				var actions []string
				for _, d := range decisions {
					if d.Role != "cloudwatch.amazonaws.com" || !d.Allowed || len(d.Grants) != 1 || !strings.HasPrefix(d.Grants[0], "resource:") {
						t.Errorf("decision %+v, want cloudwatch.amazonaws.com allowed by the resource's policy", d)
					}
					actions = append(actions, d.Action)
				}
				if strings.Join(actions, " ") != "sns:Publish kms:GenerateDataKey kms:Decrypt" {
					t.Errorf("judged %v, want sns:Publish on the topic and kms:GenerateDataKey, kms:Decrypt on its key", actions)
				}
				if n := env.CloudWatch.ActionFailures(name); n != 0 {
					t.Errorf("%d failed actions", n)
				}
				return
			}
			if len(delivered) != 0 {
				t.Errorf("deliveries %+v, want none", delivered)
			}
			var refused *sandbox.Decision
			for i := range decisions {
				if !decisions[i].Allowed {
					refused = &decisions[i]
				}
			}
			resource := arn
			if strings.HasPrefix(c.denied, "kms:") {
				resource = aws.ToString(key.KeyMetadata.Arn)
			}
			want := "User: cloudwatch.amazonaws.com is not authorized to perform: " + c.denied + " on resource: " + resource
			if refused == nil || refused.Role != "cloudwatch.amazonaws.com" || refused.Action != c.denied || !strings.HasPrefix(refused.Message, want) {
				t.Fatalf("decisions %+v, want %s refused: %q...", decisions, c.denied, want)
			}
			if n := env.CloudWatch.ActionFailures(name); n != 1 {
				t.Errorf("%d failed actions in the history, want 1", n)
			}
			h := env.CloudWatch.History(name)
			if last := h[len(h)-1]; !strings.Contains(last.Data, want) {
				t.Errorf("history's last item %+v, want the refusal", last)
			}
		})
	}
}
