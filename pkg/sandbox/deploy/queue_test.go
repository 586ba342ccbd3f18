package deploy_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestSQSQueueAndPolicy deploys an encrypted dead-letter queue, its AWS::SQS::QueuePolicy and a
// named rule whose target dead-letters to it, as the alerts stack synthesizes them: the queue is
// real (CloudFormation's <stack>-<logical id>-<random> name, Ref its URL, Fn::GetAtt Arn,
// QueueName and QueueUrl), its attributes and policy are the template's, the rule has the
// template's Name and its target keeps RetryPolicy and DeadLetterConfig; nothing is unemulated.
func TestSQSQueueAndPolicy(t *testing.T) {
	env := sandboxtest.New(t)
	dir := t.TempDir()
	queueARN := map[string]any{"Fn::GetAtt": []any{"Dlq", "Arn"}}
	writeTemplate(t, dir, "Alerts", map[string]any{
		"Resources": map[string]any{
			"Key": map[string]any{"Type": "AWS::KMS::Key", "Properties": map[string]any{}},
			"Dlq": map[string]any{"Type": "AWS::SQS::Queue", "Properties": map[string]any{
				"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{"Key", "Arn"}}, "MessageRetentionPeriod": 1209600,
			}},
			"DlqPolicy": map[string]any{"Type": "AWS::SQS::QueuePolicy", "Properties": map[string]any{
				"Queues": []any{map[string]any{"Ref": "Dlq"}},
				"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
					"Sid": "AllowEventRule", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"},
					"Action": "sqs:SendMessage", "Resource": queueARN,
					"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": map[string]any{"Fn::GetAtt": []any{"Rule", "Arn"}}}},
				}}},
			}},
			"Rule": map[string]any{"Type": "AWS::Events::Rule", "Properties": map[string]any{
				"Name": "Alerts-CloudTrailEvents", "EventPattern": map[string]any{"source": []any{"aws.kms"}},
				"Targets": []any{map[string]any{"Id": "Target0", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:relay",
					"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
					"DeadLetterConfig": map[string]any{"Arn": queueARN}}},
			}},
		},
		"Outputs": map[string]any{
			"Arn":  map[string]any{"Value": queueARN},
			"Name": map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"Dlq", "QueueName"}}},
			"Url":  map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"Dlq", "QueueUrl"}}},
		},
	})
	d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
	ctx := sandboxtest.Context(t, 30*time.Second)
	st, err := d.Deploy(ctx, "Alerts")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NotEmulated) != 0 {
		t.Errorf("not emulated: %v", st.NotEmulated)
	}
	name, _ := st.Output("Name")
	if !regexp.MustCompile(`^Alerts-Dlq-[A-Za-z0-9]{12}$`).MatchString(name.(string)) {
		t.Fatalf("QueueName = %v, want Alerts-Dlq-<random>", name)
	}
	url, _ := st.Resolve(map[string]any{"Ref": "Dlq"})
	if got, _ := st.Output("Url"); url != env.URL+"/"+env.Account+"/"+name.(string) || got != url {
		t.Errorf("Ref Dlq = %v, QueueUrl = %v, want the queue's URL", url, got)
	}
	arn, _ := st.Output("Arn")
	if arn != "arn:aws:sqs:us-east-1:"+env.Account+":"+name.(string) {
		t.Errorf("Arn = %v", arn)
	}
	keyARN, _ := st.Resolve(map[string]any{"Fn::GetAtt": []any{"Key", "Arn"}})
	attrs, err := sqs.NewFromConfig(env.NoRetryConfig()).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url.(string)), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil || attrs.Attributes["KmsMasterKeyId"] != keyARN || attrs.Attributes["MessageRetentionPeriod"] != "1209600" ||
		!strings.Contains(attrs.Attributes["Policy"], `"aws:SourceArn":"arn:aws:events:us-east-1:`+env.Account+`:rule/Alerts-CloudTrailEvents"`) {
		t.Errorf("queue attributes %v %v, want the template's key, retention and policy naming the rule", attrs, err)
	}
	targets, err := eventbridge.NewFromConfig(env.NoRetryConfig()).ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("Alerts-CloudTrailEvents")})
	if err != nil || len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].DeadLetterConfig.Arn) != arn ||
		aws.ToInt32(targets.Targets[0].RetryPolicy.MaximumRetryAttempts) != 10 {
		t.Errorf("the rule's targets %+v %v, want its RetryPolicy and the queue as DeadLetterConfig", targets, err)
	}
}
