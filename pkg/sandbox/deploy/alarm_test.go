package deploy_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestCloudWatchAlarm deploys AWS::CloudWatch::Alarm as CDK synthesizes the stacks' alarms: one
// on a metric with no AlarmName (CloudFormation names it <stack>-<logical id>-<random>), one on
// metric math with a name, both with the topic as their action. Each is a real alarm in
// INSUFFICIENT_DATA; Ref is its name and Fn::GetAtt Arn its ARN; nothing is left unemulated.
func TestCloudWatchAlarm(t *testing.T) {
	env := sandboxtest.New(t)
	dir := t.TempDir()
	topic := map[string]any{"Ref": "Topic"}
	writeTemplate(t, dir, "Alerts", map[string]any{
		"Resources": map[string]any{
			"Topic": map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{}},
			"DlqAlarm": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{
				"AlarmDescription": "events were lost", "AlarmActions": []any{topic}, "OKActions": []any{topic},
				"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
				"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": "dlq"}},
				"Statistic":  "Maximum", "Period": 300, "EvaluationPeriods": "1", "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
				"TreatMissingData": "notBreaching",
			}},
			"FailedAlarm": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{
				"AlarmName": "Strongroom-Failed", "AlarmActions": []any{topic}, "ActionsEnabled": true,
				"EvaluationPeriods": 1, "Threshold": "1", "ComparisonOperator": "GreaterThanOrEqualToThreshold",
				"Metrics": []any{
					map[string]any{"Id": "expr", "Expression": "a + b", "Label": "failures", "ReturnData": true},
					map[string]any{"Id": "a", "ReturnData": false, "MetricStat": map[string]any{"Period": 300, "Stat": "Sum",
						"Metric": map[string]any{"Namespace": "AWS/States", "MetricName": "ExecutionsFailed",
							"Dimensions": []any{map[string]any{"Name": "StateMachineArn", "Value": "arn:aws:states:us-east-1:123456789012:stateMachine:x"}}}}},
					map[string]any{"Id": "b", "ReturnData": false, "MetricStat": map[string]any{"Period": 300, "Stat": "Sum",
						"Metric": map[string]any{"Namespace": "AWS/States", "MetricName": "ExecutionsTimedOut"}}},
				},
			}},
		},
		"Outputs": map[string]any{
			"DlqAlarmArn":  map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"DlqAlarm", "Arn"}}},
			"PublishTopic": map[string]any{"Value": topic},
		},
	})
	// Another stack's alarm names the topic as CDK references it across stacks in one Region.
	writeTemplate(t, dir, "Db", map[string]any{
		"Resources": map[string]any{
			"CpuAlarm": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{
				"AlarmActions": []any{map[string]any{"Fn::GetStackOutput": map[string]any{
					"StackName": "Alerts", "Region": map[string]any{"Ref": "AWS::Region"}, "OutputName": "PublishTopic"}}},
				"Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 300,
				"EvaluationPeriods": 3, "Threshold": 90, "ComparisonOperator": "GreaterThanThreshold",
			}},
		},
	})
	d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
	ctx := sandboxtest.Context(t, 30*time.Second)
	if _, err := d.Deploy(ctx, "Db"); err == nil || !strings.Contains(err.Error(), "Fn::GetStackOutput: stack Alerts is not deployed") {
		t.Errorf("Db before Alerts: %v, want Fn::GetStackOutput's error naming the stack", err)
	}
	st, err := d.Deploy(ctx, "Alerts")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NotEmulated) != 0 {
		t.Errorf("not emulated: %v", st.NotEmulated)
	}
	name, err := st.Resolve(map[string]any{"Ref": "DlqAlarm"})
	if err != nil || !regexp.MustCompile(`^Alerts-DlqAlarm-[A-Za-z0-9]{12}$`).MatchString(name.(string)) {
		t.Fatalf("Ref DlqAlarm = %v, %v; want Alerts-DlqAlarm-<random>", name, err)
	}
	arn, err := st.Output("DlqAlarmArn")
	if err != nil || arn != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"+name.(string) {
		t.Errorf("Fn::GetAtt DlqAlarm.Arn = %v, %v", arn, err)
	}
	topicARN, _ := st.Resolve(topic)
	cw := cloudwatch.NewFromConfig(env.NoRetryConfig())
	out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if err != nil || len(out.MetricAlarms) != 2 {
		t.Fatalf("DescribeAlarms: %v %+v", err, out)
	}
	dlq, failed := out.MetricAlarms[0], out.MetricAlarms[1]
	if aws.ToString(dlq.AlarmName) != name || dlq.StateValue != "INSUFFICIENT_DATA" || len(dlq.OKActions) != 1 || dlq.OKActions[0] != topicARN ||
		aws.ToInt32(dlq.EvaluationPeriods) != 1 || aws.ToFloat64(dlq.Threshold) != 1 || aws.ToString(dlq.Dimensions[0].Value) != "dlq" ||
		aws.ToString(dlq.AlarmDescription) != "events were lost" || !aws.ToBool(dlq.ActionsEnabled) {
		t.Errorf("the DLQ alarm is %+v", dlq)
	}
	if aws.ToString(failed.AlarmName) != "Strongroom-Failed" || len(failed.Metrics) != 3 || aws.ToString(failed.Metrics[0].Expression) != "a + b" ||
		aws.ToString(failed.Metrics[2].MetricStat.Metric.MetricName) != "ExecutionsTimedOut" || aws.ToInt32(failed.Metrics[1].MetricStat.Period) != 300 ||
		failed.AlarmActions[0] != topicARN {
		t.Errorf("the metric math alarm is %+v", failed)
	}

	db, err := d.Deploy(ctx, "Db")
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{db.Physical("CpuAlarm")}})
	if err != nil || len(cpu.MetricAlarms) != 1 || len(cpu.MetricAlarms[0].AlarmActions) != 1 || cpu.MetricAlarms[0].AlarmActions[0] != topicARN {
		t.Errorf("the other stack's alarm: %v %+v, want the Alerts topic as its action", err, cpu)
	}
}
