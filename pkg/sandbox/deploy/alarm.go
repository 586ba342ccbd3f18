package deploy

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// alarm creates an AWS::CloudWatch::Alarm with CloudWatch's PutMetricAlarm, every property passed
// as the template gives it. With no AlarmName, CloudFormation names it
// <stack>-<logical id>-<random>. Ref is its name; Fn::GetAtt Arn its ARN.
func (d *Deployer) alarm(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	name := str(p["AlarmName"])
	if name == "" {
		name = st.Name + "-" + id + "-" + randomSuffix(12)
	}
	in := &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), AlarmDescription: optional(p["AlarmDescription"]),
		AlarmActions: strs(p["AlarmActions"]), OKActions: strs(p["OKActions"]), InsufficientDataActions: strs(p["InsufficientDataActions"]),
		ComparisonOperator: types.ComparisonOperator(str(p["ComparisonOperator"])), EvaluationPeriods: int32p(p["EvaluationPeriods"]),
		DatapointsToAlarm: int32p(p["DatapointsToAlarm"]), Period: int32p(p["Period"]), Threshold: float64p(p["Threshold"]),
		ThresholdMetricId: optional(p["ThresholdMetricId"]), TreatMissingData: optional(p["TreatMissingData"]),
		EvaluateLowSampleCountPercentile: optional(p["EvaluateLowSampleCountPercentile"]),
		MetricName:                       optional(p["MetricName"]), Namespace: optional(p["Namespace"]), Dimensions: dimensions(p["Dimensions"]),
		Statistic: types.Statistic(str(p["Statistic"])), ExtendedStatistic: optional(p["ExtendedStatistic"]), Unit: types.StandardUnit(str(p["Unit"])),
	}
	if v, ok := p["ActionsEnabled"]; ok {
		in.ActionsEnabled = aws.Bool(boolean(v))
	}
	for _, m := range list(p["Metrics"]) {
		q := types.MetricDataQuery{Id: optional(m["Id"]), Expression: optional(m["Expression"]), Label: optional(m["Label"]),
			AccountId: optional(m["AccountId"]), Period: int32p(m["Period"])}
		if v, ok := m["ReturnData"]; ok {
			q.ReturnData = aws.Bool(boolean(v))
		}
		if ms, ok := m["MetricStat"].(map[string]any); ok {
			metric, _ := ms["Metric"].(map[string]any)
			q.MetricStat = &types.MetricStat{Period: int32p(ms["Period"]), Stat: optional(ms["Stat"]), Unit: types.StandardUnit(str(ms["Unit"])),
				Metric: &types.Metric{MetricName: optional(metric["MetricName"]), Namespace: optional(metric["Namespace"]), Dimensions: dimensions(metric["Dimensions"])}}
		}
		in.Metrics = append(in.Metrics, q)
	}
	if _, err := cloudwatch.NewFromConfig(d.Cfg).PutMetricAlarm(ctx, in); err != nil {
		return err
	}
	set(name, map[string]any{"Arn": d.SB.CloudWatch.AlarmARN(name)})
	d.progress("CloudWatch alarm %s", name)
	return nil
}

func optional(v any) *string {
	if s := str(v); s != "" {
		return aws.String(s)
	}
	return nil
}

func strs(v any) []string {
	items, _ := v.([]any)
	var out []string
	for _, it := range items {
		out = append(out, str(it))
	}
	return out
}

func int32p(v any) *int32 {
	if v == nil {
		return nil
	}
	return aws.Int32(int32(integer(v)))
}

func float64p(v any) *float64 {
	if v == nil {
		return nil
	}
	f, err := strconv.ParseFloat(str(v), 64)
	if err != nil {
		return nil // PutMetricAlarm then names the missing Threshold
	}
	return aws.Float64(f)
}

func dimensions(v any) []types.Dimension {
	var out []types.Dimension
	for _, m := range list(v) {
		out = append(out, types.Dimension{Name: optional(m["Name"]), Value: optional(m["Value"])})
	}
	return out
}
