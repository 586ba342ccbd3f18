package cloudwatch

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// regionNames are the Region names CloudWatch writes in a notification's subject and Region field.
var regionNames = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
	"us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
	"eu-central-1": "EU (Frankfurt)", "ap-southeast-2": "Asia Pacific (Sydney)", "ap-northeast-1": "Asia Pacific (Tokyo)",
}

// Notification is the message CloudWatch publishes to an SNS topic action, in the member order AWS
// sends (the alarm's configuration, the state change, and the Trigger: what the alarm watches).
type Notification struct {
	AlarmName                          string   `json:"AlarmName"`
	AlarmDescription                   *string  `json:"AlarmDescription"`
	AWSAccountID                       string   `json:"AWSAccountId"`
	AlarmConfigurationUpdatedTimestamp string   `json:"AlarmConfigurationUpdatedTimestamp"`
	NewStateValue                      string   `json:"NewStateValue"`
	NewStateReason                     string   `json:"NewStateReason"`
	StateChangeTime                    string   `json:"StateChangeTime"`
	Region                             string   `json:"Region"`
	AlarmArn                           string   `json:"AlarmArn"`
	OldStateValue                      string   `json:"OldStateValue"`
	OKActions                          []string `json:"OKActions"`
	AlarmActions                       []string `json:"AlarmActions"`
	InsufficientDataActions            []string `json:"InsufficientDataActions"`
	Trigger                            Trigger  `json:"Trigger"`
}

// Trigger is what the alarm watches: a single metric (MetricName, Namespace, the statistic,
// Dimensions) or metric math (Metrics), with the evaluation settings.
type Trigger struct {
	MetricName                       string      `json:"MetricName,omitempty"`
	Namespace                        string      `json:"Namespace,omitempty"`
	StatisticType                    string      `json:"StatisticType,omitempty"`
	Statistic                        string      `json:"Statistic,omitempty"`
	Unit                             *string     `json:"Unit"`
	Dimensions                       []Dimension `json:"Dimensions,omitempty"`
	Metrics                          []any       `json:"Metrics,omitempty"`
	Period                           int64       `json:"Period,omitempty"`
	EvaluationPeriods                int64       `json:"EvaluationPeriods"`
	DatapointsToAlarm                int64       `json:"DatapointsToAlarm,omitempty"`
	ComparisonOperator               string      `json:"ComparisonOperator"`
	Threshold                        float64     `json:"Threshold"`
	TreatMissingData                 string      `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile string      `json:"EvaluateLowSampleCountPercentile"`
}

// Dimension is a dimension as a notification writes it (lower-case member names).
type Dimension struct {
	Value string `json:"value"`
	Name  string `json:"name"`
}

// notificationTime is CloudWatch's timestamp format in notifications.
const notificationTime = "2006-01-02T15:04:05.000-0700"

// notification renders the subject and message of a's change from old to its state at now: the
// message is SNS's MessageStructure json, the Notification JSON by default and, for e-mail
// subscribers, the text CloudWatch mails (emailText). Caller holds s.mu.
func (s *Service) notification(a *alarm, old string, now time.Time) (subject, message string) {
	region := regionNames[s.Region()]
	if region == "" {
		region = s.Region()
	}
	n := Notification{
		AlarmName: a.name, AWSAccountID: s.Account(), AlarmConfigurationUpdatedTimestamp: a.configUpdated.UTC().Format(notificationTime),
		NewStateValue: a.state, NewStateReason: a.reason, StateChangeTime: now.UTC().Format(notificationTime),
		Region: region, AlarmArn: a.arn, OldStateValue: old,
		OKActions: nonNil(a.okActions), AlarmActions: nonNil(a.alarmActions), InsufficientDataActions: nonNil(a.insufficientActions),
		Trigger: trigger(a.metric),
	}
	if a.description != "" {
		d := a.description
		n.AlarmDescription = &d
	}
	b, _ := json.Marshal(n)
	subject = fmt.Sprintf("%s: %q in %s", a.state, a.name, region)
	if len(subject) > 100 { // SNS's limit on a subject
		subject = subject[:100]
	}
	structured, _ := json.Marshal(map[string]string{"default": string(b), "email": s.emailText(a, n, now)})
	return subject, string(structured)
}

// emailText is the e-mail CloudWatch sends an e-mail subscriber: the change in a sentence, a link to
// the alarm in the console, and the alarm's details, threshold and actions.
func (s *Service) emailText(a *alarm, n Notification, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are receiving this email because your Amazon CloudWatch Alarm %q in the %s region has entered the %s state, because %q at %q.\n\n",
		a.name, n.Region, a.state, a.reason, now.UTC().Format("Monday 02 January, 2006 15:04:05 MST"))
	fmt.Fprintf(&b, "View this alarm in the AWS Management Console:\nhttps://%s.console.aws.amazon.com/cloudwatch/deeplink.js?region=%s#alarmsV2:alarm/%s\n\n",
		s.Region(), s.Region(), url.PathEscape(a.name))
	desc := ""
	if n.AlarmDescription != nil {
		desc = *n.AlarmDescription
	}
	fmt.Fprintf(&b, "Alarm Details:\n- Name:                       %s\n- Description:                %s\n- State Change:               %s -> %s\n"+
		"- Reason for State Change:    %s\n- Timestamp:                  %s\n- AWS Account:                %s\n- Alarm Arn:                  %s\n\n",
		a.name, desc, n.OldStateValue, a.state, a.reason, now.UTC().Format("Monday 02 January, 2006 15:04:05 MST"), n.AWSAccountID, a.arn)
	t := n.Trigger
	datapoints := t.DatapointsToAlarm
	if datapoints == 0 {
		datapoints = t.EvaluationPeriods
	}
	period := ""
	if t.Period > 0 {
		period = fmt.Sprintf(" of %d seconds", t.Period)
	}
	fmt.Fprintf(&b, "Threshold:\n- The alarm is in the ALARM state when the metric is %s %g for at least %d of the last %d period(s)%s.\n\n",
		t.ComparisonOperator, t.Threshold, datapoints, t.EvaluationPeriods, period)
	if t.MetricName != "" {
		fmt.Fprintf(&b, "Monitored Metric:\n- MetricNamespace:                     %s\n- MetricName:                          %s\n- Period:                              %d seconds\n- Statistic:                           %s\n\n",
			t.Namespace, t.MetricName, t.Period, t.Statistic)
	} else {
		fmt.Fprintf(&b, "Monitored Metrics: metric math (%d queries)\n\n", len(t.Metrics))
	}
	fmt.Fprintf(&b, "State Change Actions:\n- OK: %v\n- ALARM: %v\n- INSUFFICIENT_DATA: %v\n", n.OKActions, n.AlarmActions, n.InsufficientDataActions)
	return b.String()
}

func trigger(m map[string]any) Trigger {
	t := Trigger{
		MetricName: str(m, "MetricName"), Namespace: str(m, "Namespace"), ComparisonOperator: str(m, "ComparisonOperator"),
		TreatMissingData: str(m, "TreatMissingData"), EvaluateLowSampleCountPercentile: str(m, "EvaluateLowSampleCountPercentile"),
	}
	if t.TreatMissingData == "" {
		t.TreatMissingData = "missing"
	}
	t.TreatMissingData = "- TreatMissingData: " + t.TreatMissingData
	t.Period, _ = m["Period"].(int64)
	t.EvaluationPeriods, _ = m["EvaluationPeriods"].(int64)
	t.DatapointsToAlarm, _ = m["DatapointsToAlarm"].(int64)
	t.Threshold, _ = m["Threshold"].(float64)
	if u := str(m, "Unit"); u != "" {
		t.Unit = &u
	}
	switch {
	case str(m, "Statistic") != "":
		t.StatisticType, t.Statistic = "Statistic", strings.ToUpper(str(m, "Statistic"))
	case str(m, "ExtendedStatistic") != "":
		t.StatisticType, t.Statistic = "ExtendedStatistic", str(m, "ExtendedStatistic")
	}
	t.Dimensions = dimensions(m["Dimensions"])
	if metrics, ok := m["Metrics"].([]any); ok {
		for _, q := range metrics {
			t.Metrics = append(t.Metrics, lowerDimensions(q))
		}
	}
	return t
}

func dimensions(v any) []Dimension {
	list, _ := v.([]any)
	var out []Dimension
	for _, d := range list {
		m, _ := d.(map[string]any)
		out = append(out, Dimension{Value: str(m, "Value"), Name: str(m, "Name")})
	}
	return out
}

// lowerDimensions copies a metric data query, with each Dimensions list written as a notification
// writes it.
func lowerDimensions(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if k == "Dimensions" {
				out[k] = dimensions(e)
				continue
			}
			out[k] = lowerDimensions(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = lowerDimensions(e)
		}
		return out
	}
	return v
}
