package sns_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// BenchmarkPublishFiltered measures one Publish through a real SDK client over HTTP to a topic
// with five e-mail subscriptions, each with a filter policy on the message attributes.
func BenchmarkPublishFiltered(b *testing.B) {
	c, svc := newEnv(b)
	ctx := context.Background()
	arn := createTopic(b, c, "bench")
	for i := range 5 {
		sub, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email"), Endpoint: aws.String(fmt.Sprintf("s%d@example.com", i))})
		if err != nil {
			b.Fatal(err)
		}
		policy := fmt.Sprintf(`{"severity":["critical","high"],"score":[{"numeric":[">=",%d]}]}`, i)
		if _, err := c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn, AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(policy)}); err != nil {
			b.Fatal(err)
		}
	}
	in := &awssns.PublishInput{TopicArn: &arn, Subject: aws.String("[CRITICAL] DeleteCluster"), Message: aws.String("An HSM cluster was deleted."),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"severity": {DataType: aws.String("String"), StringValue: aws.String("critical")},
			"score":    {DataType: aws.String("Number"), StringValue: aws.String("3")},
		}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Publish(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Scores 0-3 pass the numeric filters of four of the five subscriptions.
	if got, want := len(svc.Deliveries(arn)), 4*b.N; got != want {
		b.Fatalf("%d deliveries, want %d", got, want)
	}
}
