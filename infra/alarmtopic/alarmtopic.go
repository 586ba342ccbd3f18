// Package alarmtopic lets this account's CloudWatch alarms publish to an encrypted SNS topic, and
// no other account's: a topic policy replaces SNS's default one (which is what let alarms publish),
// and SNS calls KMS on the publisher's behalf, so both the topic and its key need a statement for
// cloudwatch.amazonaws.com, each confined to this account's alarms (the confused-deputy problem).
// The alerts stack's topic and the forwarder's share it.
package alarmtopic

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// conditions confine a statement to the alarms of the stack's account and region.
func conditions(st awscdk.Stack) *map[string]any {
	alarms := fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:*", *st.Partition(), *st.Region(), *st.Account())
	return &map[string]any{
		"ArnLike":      map[string]any{"aws:SourceArn": alarms},
		"StringEquals": map[string]any{"aws:SourceAccount": st.Account()},
	}
}

// AllowOnKey lets CloudWatch use key (GenerateDataKey, Decrypt) to publish this account's alarms.
func AllowOnKey(key awskms.Key) {
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: conditions(awscdk.Stack_Of(key)),
	}), jsii.Bool(false))
}

// AllowOnTopic lets CloudWatch publish this account's alarms to topic.
func AllowOnTopic(topic awssns.Topic) {
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowThisAccountsAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: conditions(awscdk.Stack_Of(topic)),
	}))
}
