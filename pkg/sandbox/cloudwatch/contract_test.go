package cloudwatch_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudwatch"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// The SDK's CloudWatch client (Smithy RPC v2 CBOR) against a complete sandbox: alarms are created,
// described by name, prefix and state, set to ALARM (publishing AWS's notification to the topic
// action's subscribers), and deleted, with CloudWatch's errors.
func TestAlarmsOverTheWire(t *testing.T) {
	sb := sandboxtest.New(t)
	ctx := context.Background()
	cw := awscw.NewFromConfig(sb.NoRetryConfig())
	snsc := awssns.NewFromConfig(sb.NoRetryConfig())
	topic, err := snsc.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("alarms")})
	if err != nil {
		t.Fatal(err)
	}
	for _, protocol := range []string{"email", "email-json"} {
		if _, err := snsc.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String(protocol), Endpoint: aws.String(protocol + "@example.com")}); err != nil {
			t.Fatal(err)
		}
	}
	put := &awscw.PutMetricAlarmInput{
		AlarmName: aws.String("Strongroom-Dlq"), AlarmDescription: aws.String("events were lost"),
		AlarmActions: []string{*topic.TopicArn}, OKActions: []string{*topic.TopicArn},
		Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateNumberOfMessagesVisible"),
		Dimensions: []types.Dimension{{Name: aws.String("QueueName"), Value: aws.String("dlq")}},
		Statistic:  types.StatisticMaximum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(0.5), ComparisonOperator: types.ComparisonOperatorGreaterThanOrEqualToThreshold,
		TreatMissingData: aws.String("notBreaching"),
	}
	if _, err := cw.PutMetricAlarm(ctx, put); err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
	math := &awscw.PutMetricAlarmInput{
		AlarmName: aws.String("Other-Failures"), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: types.ComparisonOperatorGreaterThanOrEqualToThreshold, ActionsEnabled: aws.Bool(false),
		AlarmActions: []string{*topic.TopicArn},
		Metrics: []types.MetricDataQuery{
			{Id: aws.String("e"), Expression: aws.String("a+b"), Label: aws.String("failures"), ReturnData: aws.Bool(true)},
			{Id: aws.String("a"), ReturnData: aws.Bool(false), MetricStat: &types.MetricStat{Period: aws.Int32(60), Stat: aws.String("Sum"),
				Metric: &types.Metric{Namespace: aws.String("AWS/States"), MetricName: aws.String("ExecutionsFailed"),
					Dimensions: []types.Dimension{{Name: aws.String("StateMachineArn"), Value: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:x")}}}}},
		},
	}
	if _, err := cw.PutMetricAlarm(ctx, math); err != nil {
		t.Fatalf("PutMetricAlarm with Metrics: %v", err)
	}

	all, err := cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{})
	if err != nil || len(all.MetricAlarms) != 2 {
		t.Fatalf("DescribeAlarms: %v %+v", err, all)
	}
	got := all.MetricAlarms[1]
	if aws.ToString(got.AlarmName) != "Strongroom-Dlq" || aws.ToString(got.AlarmArn) != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Strongroom-Dlq" ||
		got.StateValue != types.StateValueInsufficientData || !aws.ToBool(got.ActionsEnabled) || got.AlarmActions[0] != *topic.TopicArn ||
		aws.ToString(got.MetricName) != "ApproximateNumberOfMessagesVisible" || aws.ToInt32(got.Period) != 300 || aws.ToFloat64(got.Threshold) != 0.5 ||
		got.Statistic != types.StatisticMaximum || len(got.Dimensions) != 1 || aws.ToString(got.Dimensions[0].Value) != "dlq" ||
		aws.ToString(got.TreatMissingData) != "notBreaching" || got.StateUpdatedTimestamp == nil || got.StateUpdatedTimestamp.IsZero() {
		t.Errorf("described %+v", got)
	}
	m := all.MetricAlarms[0]
	if len(m.Metrics) != 2 || aws.ToString(m.Metrics[0].Expression) != "a+b" || aws.ToString(m.Metrics[1].MetricStat.Metric.MetricName) != "ExecutionsFailed" ||
		aws.ToBool(m.ActionsEnabled) {
		t.Errorf("metric math alarm described as %+v", m)
	}
	byPrefix, err := cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{AlarmNamePrefix: aws.String("Strongroom-")})
	if err != nil || len(byPrefix.MetricAlarms) != 1 {
		t.Errorf("by prefix: %v %+v", err, byPrefix)
	}
	paged, err := cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{MaxRecords: aws.Int32(1)})
	if err != nil || len(paged.MetricAlarms) != 1 || paged.NextToken == nil {
		t.Fatalf("first page: %v %+v", err, paged)
	}
	next, err := cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{MaxRecords: aws.Int32(1), NextToken: paged.NextToken})
	if err != nil || len(next.MetricAlarms) != 1 || aws.ToString(next.MetricAlarms[0].AlarmName) != "Strongroom-Dlq" || next.NextToken != nil {
		t.Errorf("second page: %v %+v", err, next)
	}

	if _, err := cw.SetAlarmState(ctx, &awscw.SetAlarmStateInput{AlarmName: put.AlarmName, StateValue: types.StateValueAlarm, StateReason: aws.String("testing the alarm")}); err != nil {
		t.Fatalf("SetAlarmState: %v", err)
	}
	inAlarm, err := cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{StateValue: types.StateValueAlarm})
	if err != nil || len(inAlarm.MetricAlarms) != 1 || aws.ToString(inAlarm.MetricAlarms[0].StateReason) != "testing the alarm" {
		t.Errorf("by state: %v %+v", err, inAlarm)
	}
	d := sb.SNS.Deliveries(*topic.TopicArn)
	if len(d) != 2 || d[0].Protocol != "email" || d[1].Protocol != "email-json" {
		t.Fatalf("deliveries %+v, want the ALARM notification to each subscriber", d)
	}
	for _, m := range d {
		if m.Subject != `ALARM: "Strongroom-Dlq" in US East (N. Virginia)` {
			t.Errorf("subject %q", m.Subject)
		}
	}
	// An e-mail subscriber gets CloudWatch's text; the others the notification JSON.
	for _, want := range []string{
		`You are receiving this email because your Amazon CloudWatch Alarm "Strongroom-Dlq" in the US East (N. Virginia) region has entered the ALARM state, because "testing the alarm" at "`,
		"- State Change:               INSUFFICIENT_DATA -> ALARM\n",
		"- The alarm is in the ALARM state when the metric is GreaterThanOrEqualToThreshold 0.5 for at least 1 of the last 1 period(s) of 300 seconds.\n",
		"- ALARM: [" + *topic.TopicArn + "]\n",
	} {
		if !strings.Contains(d[0].Message, want) {
			t.Errorf("e-mail text %q\nwant it to contain %q", d[0].Message, want)
		}
	}
	var n cloudwatch.Notification
	if err := json.Unmarshal([]byte(d[1].Message), &n); err != nil {
		t.Fatalf("notification %q: %v", d[1].Message, err)
	}
	if n.AlarmName != "Strongroom-Dlq" || n.NewStateValue != "ALARM" || n.OldStateValue != "INSUFFICIENT_DATA" || n.NewStateReason != "testing the alarm" ||
		n.AWSAccountID != "123456789012" || n.AlarmArn != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Strongroom-Dlq" ||
		aws.ToString(n.AlarmDescription) != "events were lost" || n.Region != "US East (N. Virginia)" ||
		n.Trigger.MetricName != "ApproximateNumberOfMessagesVisible" || n.Trigger.Statistic != "MAXIMUM" || n.Trigger.Period != 300 ||
		n.Trigger.Threshold != 0.5 || len(n.Trigger.Dimensions) != 1 || n.Trigger.Dimensions[0].Name != "QueueName" ||
		!strings.HasSuffix(n.StateChangeTime, "+0000") {
		t.Errorf("notification %+v", n)
	}
	// The same state again runs no action; a disabled alarm's change runs none either.
	if _, err := cw.SetAlarmState(ctx, &awscw.SetAlarmStateInput{AlarmName: put.AlarmName, StateValue: types.StateValueAlarm, StateReason: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.SetAlarmState(ctx, &awscw.SetAlarmStateInput{AlarmName: math.AlarmName, StateValue: types.StateValueAlarm, StateReason: aws.String("disabled")}); err != nil {
		t.Fatal(err)
	}
	if d := sb.SNS.Deliveries(*topic.TopicArn); len(d) != 2 {
		t.Errorf("deliveries %d, want still 2", len(d))
	}
	if h := sb.CloudWatch.History("Strongroom-Dlq"); len(h) != 4 || h[2].Type != "Action" || !strings.HasPrefix(h[2].Summary, "Successfully") {
		t.Errorf("history %+v", h)
	}

	// Errors, with CloudWatch's Query-compatible codes.
	_, err = cw.SetAlarmState(ctx, &awscw.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: types.StateValueOk, StateReason: aws.String("x")})
	sandboxtest.WantCode(t, err, "ResourceNotFound")
	_, err = cw.SetAlarmState(ctx, &awscw.SetAlarmStateInput{AlarmName: put.AlarmName, StateValue: types.StateValueOk, StateReason: aws.String("x"), StateReasonData: aws.String("{")})
	sandboxtest.WantCode(t, err, "InvalidFormat")
	bad := *put
	bad.AlarmActions = []string{"arn:aws:automate:us-east-1:ec2:stop"}
	_, err = cw.PutMetricAlarm(ctx, &bad)
	sandboxtest.WantCode(t, err, "InvalidParameterValue")
	bad = *put
	bad.Namespace = nil
	_, err = cw.PutMetricAlarm(ctx, &bad)
	sandboxtest.WantCode(t, err, "MissingParameter")
	_, err = cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("a")})
	sandboxtest.WantCode(t, err, "InvalidParameterValue")
	_, err = cw.DeleteAlarms(ctx, &awscw.DeleteAlarmsInput{AlarmNames: []string{"Strongroom-Dlq", "nope"}})
	sandboxtest.WantCode(t, err, "ResourceNotFound")

	if _, err := cw.DeleteAlarms(ctx, &awscw.DeleteAlarmsInput{AlarmNames: []string{"Strongroom-Dlq", "Other-Failures"}}); err != nil {
		t.Fatalf("DeleteAlarms: %v", err)
	}
	if left, err := cw.DescribeAlarms(ctx, &awscw.DescribeAlarmsInput{}); err != nil || len(left.MetricAlarms) != 0 {
		t.Errorf("after delete: %v %+v", err, left)
	}
}
