package logs_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// The SDK's CloudWatch Logs client against a sandbox without IAM enforcement: log groups are
// created (once, with a valid name and an existing key), given a retention, described by prefix,
// hold streams whose events are put in order, read back forward and backward and filtered by a
// substring, and are deleted, with CloudWatch Logs' errors.
func TestLogsOverTheWire(t *testing.T) {
	sb := sandboxtest.New(t)
	ctx := context.Background()
	c := cwl.NewFromConfig(sb.NoRetryConfig())
	group := "/aws/lambda/relay"
	_, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("bad name")})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group), KmsKeyId: aws.String("arn:aws:kms:us-east-1:" + sb.Account + ":key/none")})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group), Tags: map[string]string{"team": "vault"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)})
	sandboxtest.WantCode(t, err, "ResourceAlreadyExistsException")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/other")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String(group), RetentionInDays: aws.Int32(2)})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	if _, err := c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String(group), RetentionInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("/none"), RetentionInDays: aws.Int32(90)})
	sandboxtest.WantCode(t, err, "ResourceNotFoundException")
	d, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/")})
	if err != nil || len(d.LogGroups) != 1 {
		t.Fatalf("DescribeLogGroups: %+v %v", d, err)
	}
	g := d.LogGroups[0]
	wantARN := "arn:aws:logs:us-east-1:" + sb.Account + ":log-group:" + group
	if aws.ToString(g.LogGroupName) != group || aws.ToInt32(g.RetentionInDays) != 90 || aws.ToString(g.LogGroupArn) != wantARN || aws.ToString(g.Arn) != wantARN+":*" {
		t.Errorf("log group: %+v", g)
	}

	stream := "2026/12/07/[$LATEST]0123456789abcdef"
	_, err = c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("/none"), LogStreamName: aws.String(stream)})
	sandboxtest.WantCode(t, err, "ResourceNotFoundException")
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	sandboxtest.WantCode(t, err, "ResourceAlreadyExistsException")
	now := sb.Clock.Now().UnixMilli()
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now), Message: aws.String("b")}, {Timestamp: aws.Int64(now - 1), Message: aws.String("a")}}})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("none"), LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now), Message: aws.String("a")}}})
	sandboxtest.WantCode(t, err, "ResourceNotFoundException")
	put, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now - (15 * 24 * time.Hour).Milliseconds()), Message: aws.String("too old")},
		{Timestamp: aws.Int64(now), Message: aws.String("START relay")},
		{Timestamp: aws.Int64(now + 1), Message: aws.String(`{"level":"INFO","msg":"mailed"}`)},
		{Timestamp: aws.Int64(now + 2), Message: aws.String("END relay")}}})
	if err != nil || put.RejectedLogEventsInfo == nil || aws.ToInt32(put.RejectedLogEventsInfo.TooOldLogEventEndIndex) != 1 {
		t.Fatalf("PutLogEvents: %+v %v", put, err)
	}
	streams, err := c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	if err != nil || len(streams.LogStreams) != 1 || aws.ToInt64(streams.LogStreams[0].LastEventTimestamp) != now+2 {
		t.Fatalf("DescribeLogStreams: %+v %v", streams, err)
	}
	head, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), Limit: aws.Int32(2)})
	if err != nil || len(head.Events) != 2 || aws.ToString(head.Events[0].Message) != "START relay" {
		t.Fatalf("GetLogEvents from the head: %+v %v", head, err)
	}
	next, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), NextToken: head.NextForwardToken})
	if err != nil || len(next.Events) != 1 || aws.ToString(next.Events[0].Message) != "END relay" {
		t.Fatalf("GetLogEvents forward: %+v %v", next, err)
	}
	tail, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), Limit: aws.Int32(1)})
	if err != nil || len(tail.Events) != 1 || aws.ToString(tail.Events[0].Message) != "END relay" {
		t.Fatalf("GetLogEvents from the tail: %+v %v", tail, err)
	}
	found, err := c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(`"mailed"`)})
	if err != nil || len(found.Events) != 1 || aws.ToString(found.Events[0].LogStreamName) != stream {
		t.Fatalf("FilterLogEvents: %+v %v", found, err)
	}
	if _, err := c.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String(group)})
	sandboxtest.WantCode(t, err, "ResourceNotFoundException")
}
