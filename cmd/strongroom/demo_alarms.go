package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
)

// alarmTestReason is the StateReason the demo sets, as an operator testing an alarm would.
const alarmTestReason = "Testing the alarm's notification from the Strongroom demo (SetAlarmState)"

// testAlarms sets one alarm of each stack deployed so far, and not tested yet, to ALARM with
// SetAlarmState, as an operator testing an alarm does, and prints the e-mail each subscriber of
// the alert topic got. CloudWatch publishes to that encrypted topic as cloudwatch.amazonaws.com,
// so the topic's policy and its key's (infra/alarmtopic) are judged as on AWS: an alarm that
// reaches nobody is an error naming the refusal. It does nothing before the alert topic has
// subscribers (subscribeAlerts). It first shows the stacks' dead letters (testDeadLetters) and
// the log groups that have received events (showLogGroups).
func (d *demo) testAlarms(ctx context.Context) error {
	if err := d.testDeadLetters(ctx); err != nil {
		return err
	}
	if err := d.showLogGroups(); err != nil {
		return err
	}
	if d.alertTopic == "" {
		return nil
	}
	if d.alarmsTested == nil {
		d.alarmsTested = map[string]bool{}
	}
	for _, st := range d.stacks {
		if d.alarmsTested[st.Name] {
			continue
		}
		d.alarmsTested[st.Name] = true
		name, err := d.alarmToTest(ctx, st)
		if err != nil || name == "" {
			return err
		}
		if err := d.testAlarm(ctx, st, name); err != nil {
			return err
		}
	}
	return nil
}

// alarmToTest is the name of the first alarm of st (by logical id) that mails the alert topic when
// it goes to ALARM, "" for none.
func (d *demo) alarmToTest(ctx context.Context, st *deploy.Stack) (string, error) {
	var ids []string
	for id, r := range st.Template.Resources {
		if r.Type == "AWS::CloudWatch::Alarm" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	cw := cloudwatch.NewFromConfig(d.aws)
	for _, id := range ids {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{st.Physical(id)}})
		if err != nil {
			return "", fmt.Errorf("describe %s's alarm %s: %w", st.Name, id, err)
		}
		if len(out.MetricAlarms) == 1 && aws.ToBool(out.MetricAlarms[0].ActionsEnabled) && slices.Contains(out.MetricAlarms[0].AlarmActions, d.alertTopic) {
			return st.Physical(id), nil
		}
	}
	return "", nil
}

// testAlarm sets the alarm name of st to ALARM and prints the e-mails its notification became.
func (d *demo) testAlarm(ctx context.Context, st *deploy.Stack, name string) error {
	p := d.p
	seen := len(d.sb.SNS.Deliveries(d.alertTopic))
	p.line("%s: SetAlarmState(%s, ALARM), as an operator testing an alarm does; CloudWatch publishes to the encrypted alert topic as cloudwatch.amazonaws.com", st.Name, name)
	if _, err := cloudwatch.NewFromConfig(d.aws).SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String(alarmTestReason),
	}); err != nil {
		return fmt.Errorf("set %s's alarm %s to ALARM: %w", st.Name, name, err)
	}
	got := map[string]bool{}
	for _, m := range d.sb.SNS.Deliveries(d.alertTopic)[seen:] {
		if !strings.HasPrefix(m.Subject, fmt.Sprintf("ALARM: %q", name)) {
			continue
		}
		got[m.Endpoint] = true
		p.plain("   -> alarm e-mail to %s  Subject: %s", m.Endpoint, m.EmailSubject())
		for _, l := range strings.Split(m.Message, "\n") {
			if strings.HasPrefix(l, "You are receiving") || strings.HasPrefix(l, "- State Change:") {
				p.plain("      | %s", l)
			}
		}
	}
	if len(got) == 0 {
		reason := "no action ran"
		if h := d.sb.CloudWatch.History(name); len(h) > 0 && h[len(h)-1].Type == "Action" {
			reason = h[len(h)-1].Summary + ": " + h[len(h)-1].Data
		}
		return fmt.Errorf("%s's alarm %s went to ALARM and nobody was told (check the alert topic's and its key's CloudWatch statements, infra/alarmtopic): %s", st.Name, name, reason)
	}
	snsc := sns.NewFromConfig(d.aws)
	subs, err := snsc.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(d.alertTopic)})
	if err != nil {
		return fmt.Errorf("list the alert topic's subscriptions: %w", err)
	}
	for _, s := range subs.Subscriptions {
		if got[aws.ToString(s.Endpoint)] {
			continue
		}
		attrs, err := snsc.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: s.SubscriptionArn})
		if err != nil {
			return fmt.Errorf("read the subscription of %s: %w", aws.ToString(s.Endpoint), err)
		}
		why := "no filter policy: it should have got one"
		if f := attrs.Attributes["FilterPolicy"]; f != "" {
			why = "its filter policy " + f + " matches no attribute of an alarm's notification"
		}
		p.plain("      not to: %s (%s)", aws.ToString(s.Endpoint), why)
	}
	return nil
}
