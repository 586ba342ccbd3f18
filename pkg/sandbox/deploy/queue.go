package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// queueAttributes are the AWS::SQS::Queue properties that are CreateQueue attributes of the same
// name; the JSON-object ones are passed as their JSON text.
var queueAttributes = []string{
	"DelaySeconds", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod",
	"ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled", "VisibilityTimeout",
}

// queue creates an AWS::SQS::Queue with SQS's CreateQueue. With no QueueName, CloudFormation names
// it <stack>-<logical id>-<random> (at most 80 characters). Ref is its URL; Fn::GetAtt Arn,
// QueueName and QueueUrl its ARN, name and URL. Any other property than the attributes, the name
// and Tags fails the deploy, naming it (FIFO queues included: the sandbox has standard queues only).
func (d *Deployer) queue(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	attrs := map[string]string{}
	for k, v := range p {
		switch {
		case k == "QueueName" || k == "Tags":
		case slices.Contains(queueAttributes, k):
			if m, ok := v.(map[string]any); ok {
				b, err := json.Marshal(m)
				if err != nil {
					return err
				}
				attrs[k] = string(b)
			} else {
				attrs[k] = str(v)
			}
		default:
			return fmt.Errorf("property %s is not one the sandbox's SQS takes (%s, QueueName, Tags)", k, strings.Join(queueAttributes, ", "))
		}
	}
	name := str(p["QueueName"])
	if name == "" {
		name = st.Name + "-" + id
		if len(name) > 80-13 {
			name = name[:80-13]
		}
		name += "-" + randomSuffix(12)
	}
	tags := map[string]string{}
	for _, t := range list(p["Tags"]) {
		tags[str(t["Key"])] = str(t["Value"])
	}
	out, err := sqs.NewFromConfig(d.Cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs, Tags: tags})
	if err != nil {
		return err
	}
	url := aws.ToString(out.QueueUrl)
	set(url, map[string]any{"Arn": d.SB.SQS.ARN(name), "QueueName": name, "QueueUrl": url})
	d.progress("SQS queue %s", name)
	return nil
}

// queuePolicy sets an AWS::SQS::QueuePolicy's document as the Policy attribute of each queue (by
// URL) in Queues.
func (d *Deployer) queuePolicy(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	doc, err := document(p["PolicyDocument"])
	if err != nil {
		return err
	}
	queues, _ := p["Queues"].([]any)
	c := sqs.NewFromConfig(d.Cfg)
	for _, q := range queues {
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(fmt.Sprint(q)), Attributes: map[string]string{"Policy": doc}}); err != nil {
			return fmt.Errorf("queue %v: %w", q, err)
		}
	}
	set(physicalName(st, id, 256), nil)
	return nil
}
