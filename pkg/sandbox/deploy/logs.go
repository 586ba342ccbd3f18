package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// logGroup creates an AWS::Logs::LogGroup with CloudWatch Logs' CreateLogGroup (KmsKeyId, Tags)
// and PutRetentionPolicy (RetentionInDays). With no LogGroupName, CloudFormation names it
// <stack>-<logical id>-<random>. Ref is its name; Fn::GetAtt Arn its ARN with the ":*"
// CloudFormation adds, which CDK's grants name.
func (d *Deployer) logGroup(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	name := str(p["LogGroupName"])
	if name == "" {
		name = st.Name + "-" + id + "-" + randomSuffix(12)
	}
	tags := map[string]string{}
	for _, t := range list(p["Tags"]) {
		tags[str(t["Key"])] = str(t["Value"])
	}
	c := cwl.NewFromConfig(d.Cfg)
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(name), KmsKeyId: optional(p["KmsKeyId"]), Tags: tags}); err != nil {
		return err
	}
	if days := int32p(p["RetentionInDays"]); days != nil {
		if _, err := c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String(name), RetentionInDays: days}); err != nil {
			return fmt.Errorf("RetentionInDays: %w", err)
		}
	}
	set(name, map[string]any{"Arn": d.SB.Logs.GroupARN(name) + ":*"})
	d.progress("log group %s", name)
	return nil
}
