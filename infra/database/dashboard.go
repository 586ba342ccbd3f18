package database

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/dashboard"
	"github.com/strongroom/strongroom/infra/database/dbconfig"
)

// dashboard declares the stack's CloudWatch dashboard: the alarms' states; the instance's CPU,
// free storage and connections, each with its alarm's threshold as a line (connections also with
// max_connections); its read and write latencies; and the rotation and application user
// functions' errors, throttles and p99 durations. Call it after alarms.
func (s *DatabaseStack) dashboard(cfg dbconfig.Config) {
	threshold := ConnectionsThreshold(cfg.MaxConnections)
	limit := fmt.Sprintf("max_connections: %d", cfg.MaxConnections)
	if !cfg.MaxConnectionsFromContext {
		limit = fmt.Sprintf("max_connections (estimate): %d", cfg.MaxConnections)
	}
	latency := func(name, label string) awscloudwatch.IMetric {
		return s.Instance.Metric(jsii.String(name), dashboard.Options("Average", label))
	}
	s.Dashboard = dashboard.New(s.Stack, "Dashboard",
		dashboard.Alarms(s.Alarms),
		dashboard.Row(
			dashboard.Graph("CPU utilization (%)", dashboard.Width/3,
				[]awscloudwatch.IMetric{s.Instance.MetricCPUUtilization(dashboard.Options("Average", ""))},
				dashboard.Line(AlarmCPUPercent, fmt.Sprintf("alarm: %d%% for 15 minutes", AlarmCPUPercent))),
			dashboard.Graph("Free storage (bytes)", dashboard.Width/3,
				[]awscloudwatch.IMetric{s.Instance.MetricFreeStorageSpace(dashboard.Options("Minimum", ""))},
				dashboard.Line(AlarmFreeStorageBytes, fmt.Sprintf("alarm: %d GiB", AlarmFreeStorageBytes>>30))),
			dashboard.Graph("Connections", dashboard.Width/3,
				[]awscloudwatch.IMetric{s.Instance.MetricDatabaseConnections(dashboard.Options("Maximum", ""))},
				dashboard.Line(float64(threshold), fmt.Sprintf("alarm: %d (%d%%)", threshold, AlarmConnectionsPercent)),
				dashboard.Line(float64(cfg.MaxConnections), limit)),
		),
		dashboard.Row(dashboard.Graph("Read and write latency (seconds)", dashboard.Width,
			[]awscloudwatch.IMetric{latency("ReadLatency", "read"), latency("WriteLatency", "write")})),
		dashboard.Functions([]dashboard.Function{
			{Name: "user rotation", Function: s.UserRotation.Function},
			{Name: "superuser rotation", Function: s.SuperuserRotation.Function},
			{Name: "application user", Function: s.UserFunction.Function},
			{Name: "application user relay", Function: s.UserRelay.Function},
		}),
	)
}
