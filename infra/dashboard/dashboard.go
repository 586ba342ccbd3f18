// Package dashboard holds what the stacks' CloudWatch dashboards share: the alarm-state row, the
// row of functions' errors, throttles and p99 durations, the 5-minute period their graphs use,
// and the dashboard itself with its default time range. infra/workflowresource, infra/alerts,
// infra/database and infra/forwarder lay out their own metrics between these.
//
// Cost: CloudWatch bills 3 USD a month for each dashboard beyond an account's first three.
package dashboard

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Width is a dashboard row's width in CloudWatch's grid units.
const Width = 24

// Period is the graphs' period: the one the stacks' alarms evaluate.
func Period() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(5)) }

// Options are a graph metric's options over Period with statistic stat ("Sum", "Maximum", "p99",
// ...) and, when not empty, label.
func Options(stat, label string) *awscloudwatch.MetricOptions {
	o := &awscloudwatch.MetricOptions{Period: Period(), Statistic: jsii.String(stat)}
	if label != "" {
		o.Label = jsii.String(label)
	}
	return o
}

// Row is one row of widgets.
func Row(widgets ...awscloudwatch.IWidget) *[]awscloudwatch.IWidget { return &widgets }

// Graph is a graph widget of metrics, width grid units wide, with horizontal lines at annotations
// (an alarm's threshold, a limit).
func Graph(title string, width int, metrics []awscloudwatch.IMetric, annotations ...*awscloudwatch.HorizontalAnnotation) awscloudwatch.IWidget {
	p := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(float64(width)), Left: &metrics}
	if len(annotations) > 0 {
		p.LeftAnnotations = &annotations
	}
	return awscloudwatch.NewGraphWidget(p)
}

// Line is a horizontal annotation at value, labelled.
func Line(value float64, label string) *awscloudwatch.HorizontalAnnotation {
	return &awscloudwatch.HorizontalAnnotation{Value: jsii.Number(value), Label: jsii.String(label)}
}

// Alarms is a full-width row of the alarms' states.
func Alarms(alarms []awscloudwatch.Alarm) *[]awscloudwatch.IWidget {
	refs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
	for i, a := range alarms {
		refs[i] = a
	}
	return Row(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title: jsii.String("Alarms"), Alarms: &refs, Width: jsii.Number(Width),
	}))
}

// Function is a Lambda function as a dashboard labels it.
type Function struct {
	Name     string
	Function awslambda.IFunction
}

// Functions is a row of three graphs: the functions' errors, throttles (sums) and p99 durations,
// each function a line labelled with its name.
func Functions(fns []Function) *[]awscloudwatch.IWidget {
	var errs, throttles, durations []awscloudwatch.IMetric
	for _, f := range fns {
		errs = append(errs, f.Function.MetricErrors(Options("Sum", f.Name)))
		throttles = append(throttles, f.Function.MetricThrottles(Options("Sum", f.Name)))
		durations = append(durations, f.Function.MetricDuration(Options("p99", f.Name)))
	}
	return Row(
		Graph("Function errors", Width/3, errs),
		Graph("Function throttles", Width/3, throttles),
		Graph("Function duration, p99", Width/3, durations),
	)
}

// New declares the dashboard with rows, showing the last seven days unless the viewer picks
// another range.
func New(scope constructs.Construct, id string, rows ...*[]awscloudwatch.IWidget) awscloudwatch.Dashboard {
	return awscloudwatch.NewDashboard(scope, jsii.String(id), &awscloudwatch.DashboardProps{
		Widgets: &rows, DefaultInterval: awscdk.Duration_Days(jsii.Number(7)),
	})
}
