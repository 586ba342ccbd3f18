package alerts

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/dashboard"
)

// dashboard declares the stack's CloudWatch dashboard: the alarms' states; the relay's errors,
// throttles and p99 duration, and its invocations; the dead-letter queue's depth (with the
// alarm's line); the topic's notifications published, delivered and failed; and the writes to the
// dead-letter queue that failed (the relay's and the rules', each an event lost). Call it after
// the alarms, with the rules' names.
func (s *AlertsStack) dashboard(ruleNames ...string) {
	relay := s.Relay.Function
	lost := []awscloudwatch.IMetric{relay.Metric(jsii.String("DeadLetterErrors"), dashboard.Options("Sum", "relay"))}
	for _, name := range ruleNames {
		lost = append(lost, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Events"), MetricName: jsii.String("InvocationsFailedToBeSentToDLQ"),
			DimensionsMap: &map[string]*string{"RuleName": jsii.String(name)},
			Period:        dashboard.Period(), Statistic: jsii.String("Sum"), Label: jsii.String(name),
		}))
	}
	s.Dashboard = dashboard.New(s.Stack, "Dashboard",
		dashboard.Alarms(s.Alarms),
		dashboard.Functions([]dashboard.Function{{Name: "relay", Function: relay}}),
		dashboard.Row(
			dashboard.Graph("Relay invocations", dashboard.Width/4,
				[]awscloudwatch.IMetric{relay.MetricInvocations(dashboard.Options("Sum", "relay"))}),
			dashboard.Graph("Undelivered alerts (dead-letter queue)", dashboard.Width/4,
				[]awscloudwatch.IMetric{s.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(dashboard.Options("Maximum", "messages"))},
				dashboard.Line(1, "alarm: 1")),
			dashboard.Graph("Alert topic notifications", dashboard.Width/4, []awscloudwatch.IMetric{
				s.Topic.MetricNumberOfMessagesPublished(dashboard.Options("Sum", "published")),
				s.Topic.MetricNumberOfNotificationsDelivered(dashboard.Options("Sum", "delivered")),
				s.Topic.MetricNumberOfNotificationsFailed(dashboard.Options("Sum", "failed")),
			}),
			dashboard.Graph("Dead-letter writes that failed (events lost)", dashboard.Width/4, lost),
		),
	)
}
