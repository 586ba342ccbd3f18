// Package forwarder declares the ForwarderStack of a member account in organization mode
// (infra/settings KeyOrganization, mode member): rules on the member's default event bus for the
// events the central alerts stack relays (infra/alerts: the configured sources' API calls and
// console sign-ins, Secrets Manager's RotationFailed, pkg/health findings) forward them to the
// central account's organization bus. The relay there mails them, naming the member's account,
// which every event carries.
//
// The member needs no trail of its own: the central account's organization trail records its
// calls, and CloudTrail delivers those events to the member's default bus as to any account's.
//
// EventBridge puts the events on the central bus as a role of this stack that may do only that.
// Events it cannot deliver (the central bus is missing or its policy refuses this account) wait
// in a dead-letter queue whose alarm notifies this stack's topic. The stack's dashboard shows the
// alarm, the rules' invocations and failed invocations, and the queue's depth.
package forwarder

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/infra/alarmtopic"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/alerts"
	"github.com/strongroom/strongroom/infra/dashboard"
	"github.com/strongroom/strongroom/infra/nagsuppress"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/pkg/health"
)

// StackName is the id (and CloudFormation name) of the forwarder stack.
const StackName = "StrongroomAlertsForwarder"

// Props configure the stack.
type Props struct {
	awscdk.StackProps
	// CentralBusArn is the central account's organization bus (settings.Organization.CentralBusArn).
	CentralBusArn string
	// EventSources are the "source" values whose API calls and console sign-ins are forwarded: the
	// central stack's, so both sides agree on what is relayed.
	EventSources []string
	// AlertEmail, when set, is subscribed to the topic the dead-letter alarm notifies.
	AlertEmail string
}

// ForwarderStack exposes the stack's parts for tests.
type ForwarderStack struct {
	awscdk.Stack
	// Role is what EventBridge assumes to put events on the central bus.
	Role            awsiam.Role
	DeadLetterQueue awssqs.Queue
	Topic           awssns.Topic
	// Alarm watches the dead-letter queue's depth.
	Alarm awscloudwatch.Alarm
	// Alarms are every alarm of the stack; each notifies Topic both ways.
	Alarms []awscloudwatch.Alarm
	// Dashboard shows the alarms, the rules' invocations and failed invocations, and the
	// dead-letter queue's depth.
	Dashboard awscloudwatch.Dashboard
}

var ruleNameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// New declares the stack. It fails, before declaring anything, on props that could only fail at
// deploy time.
func New(scope constructs.Construct, id string, props *Props) (*ForwarderStack, error) {
	if props == nil || len(props.EventSources) == 0 {
		return nil, fmt.Errorf("forwarder stack %s: EventSources is empty; name the central alerts stack's sources", id)
	}
	if !settings.IsCentralBusArn(props.CentralBusArn) {
		return nil, fmt.Errorf("forwarder stack %s: CentralBusArn %q is not arn:<partition>:events:<region>:<account>:event-bus/%s", id, props.CentralBusArn, settings.CentralBusName)
	}
	stackName := id
	if props.StackName != nil {
		stackName = *props.StackName
	}
	ruleNames := []string{stackName + "-CloudTrailEvents", stackName + "-RotationFailed", stackName + "-HealthFindings"}
	for _, n := range ruleNames {
		if !ruleNameRE.MatchString(n) {
			return nil, fmt.Errorf("forwarder stack %s: rule name %q must be 1-64 of [.-_A-Za-z0-9]; use a shorter stack name", id, n)
		}
	}

	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &ForwarderStack{Stack: stack}

	// The topic's key: CloudWatch publishes the alarm's notifications to the encrypted topic (SNS
	// then calls KMS for it), only for this account's alarms (the confused-deputy problem).
	key := awskms.NewKey(stack, jsii.String("ForwarderKey"), &awskms.KeyProps{
		Description:       jsii.String("Strongroom: encrypts the alert forwarder's alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	alarmtopic.AllowOnKey(key)
	topic := awssns.NewTopic(stack, jsii.String("ForwarderAlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Strongroom alert forwarder"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	alarmtopic.AllowOnTopic(topic)
	if props.AlertEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlertEmail), nil))
	}
	s.Topic = topic

	// SQS-managed encryption: EventBridge may send to it with no key policy, and it holds only
	// events the central account also records in its organization trail.
	dlq := awssqs.NewQueue(stack, jsii.String("UnforwardedEvents"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	// cdk-nag recognizes a dead-letter queue only by an SQS redrive policy or a Lambda function's
	// dead-letter config, not by an EventBridge target's.
	nagsuppress.Add(dlq, true, nagsuppress.Rule{
		ID:     "AwsSolutions-SQS3",
		Reason: "The queue is the dead-letter queue of the forwarding rules' EventBridge targets; a dead-letter queue has none of its own.",
	})
	s.DeadLetterQueue = dlq

	// EventBridge assumes the role only for this account's rules; it may put events on the central
	// bus and nowhere else.
	role := awsiam.NewRole(stack, jsii.String("ForwardRole"), &awsiam.RoleProps{
		Description: jsii.String("Strongroom: EventBridge forwards this account's alert events to the central bus"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil).WithConditions(&map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		}),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("events:PutEvents"),
		Resources: jsii.Strings(props.CentralBusArn),
	}))
	s.Role = role

	central := awsevents.EventBus_FromEventBusArn(stack, jsii.String("CentralBus"), jsii.String(props.CentralBusArn))
	target := func() awsevents.IRuleTarget {
		return awseventstargets.NewEventBus(central, &awseventstargets.EventBusProps{DeadLetterQueue: dlq, Role: role})
	}
	sources := make([]*string, 0, len(props.EventSources))
	for _, src := range props.EventSources {
		sources = append(sources, jsii.String(src))
	}
	// The same patterns as the central stack's rules (infra/alerts).
	for i, r := range []struct {
		id, description string
		pattern         *awsevents.EventPattern
	}{
		{"CloudTrailEventsRule", "API calls and console sign-ins recorded by CloudTrail",
			&awsevents.EventPattern{Source: &sources, DetailType: jsii.Strings(alerts.DetailTypeAPICall, alerts.DetailTypeConsoleSignIn)}},
		{"RotationFailedRule", "Secrets Manager rotation failures",
			&awsevents.EventPattern{Source: jsii.Strings("aws.secretsmanager"), DetailType: jsii.Strings(alerts.DetailTypeServiceEvent),
				Detail: &map[string]any{"eventName": []string{"RotationFailed"}}}},
		{"HealthFindingsRule", "cluster and key store health check findings",
			&awsevents.EventPattern{Source: jsii.Strings(health.Source), DetailType: jsii.Strings(health.DetailType)}},
	} {
		awsevents.NewRule(stack, jsii.String(r.id), &awsevents.RuleProps{
			RuleName:     jsii.String(ruleNames[i]),
			Description:  jsii.String("Strongroom: " + r.description + ", to the central alerts bus"),
			EventPattern: r.pattern,
			Targets:      &[]awsevents.IRuleTarget{target()},
		})
	}

	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
	}).CreateAlarm(stack, jsii.String("UnforwardedEventsAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("Strongroom: events that never reached the central alerts bus are waiting in the dead-letter queue"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alarm.AddAlarmAction(action)
	alarm.AddOkAction(action)
	s.Alarm = alarm
	s.Alarms = []awscloudwatch.Alarm{alarm}
	// The dead-letter path itself can fail (a queue policy or key that refuses EventBridge); then
	// the event is lost and only InvocationsFailedToBeSentToDLQ knows, as in infra/alerts.
	for _, name := range ruleNames {
		lost := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Events"), MetricName: jsii.String("InvocationsFailedToBeSentToDLQ"),
			DimensionsMap: &map[string]*string{"RuleName": jsii.String(name)},
			Period:        awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
		}).CreateAlarm(stack, jsii.String(strings.TrimPrefix(name, stackName+"-")+"DeadLetterErrorsAlarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String("Strongroom: EventBridge could not write an unforwardable event of rule " + name + " to the dead-letter queue; the event is lost"),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		lost.AddAlarmAction(action)
		lost.AddOkAction(action)
		s.Alarms = append(s.Alarms, lost)
	}
	s.dashboard(ruleNames)

	awscdk.NewCfnOutput(stack, jsii.String("UnforwardedEventsQueueUrl"), &awscdk.CfnOutputProps{Value: dlq.QueueUrl(), Description: jsii.String("Events that never reached the central alerts bus")})
	return s, nil
}

// dashboard declares the stack's CloudWatch dashboard: the alarms' states; each rule's invocations
// (events sent to the central bus) and failed invocations (events EventBridge could not put there,
// each then retried or dead-lettered); and the dead-letter queue's depth, with the alarm's line.
// Call it after the alarms, with the rules' names.
func (s *ForwarderStack) dashboard(ruleNames []string) {
	rules := func(metric string) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, name := range ruleNames {
			out = append(out, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String("AWS/Events"), MetricName: jsii.String(metric),
				DimensionsMap: &map[string]*string{"RuleName": jsii.String(name)},
				Period:        dashboard.Period(), Statistic: jsii.String("Sum"), Label: jsii.String(name),
			}))
		}
		return out
	}
	s.Dashboard = dashboard.New(s.Stack, "Dashboard",
		dashboard.Alarms(s.Alarms),
		dashboard.Row(
			dashboard.Graph("Events forwarded to the central bus (rule invocations)", dashboard.Width/3, rules("Invocations")),
			dashboard.Graph("Failed forwards (failed invocations)", dashboard.Width/3, rules("FailedInvocations")),
			dashboard.Graph("Unforwarded events (dead-letter queue)", dashboard.Width/3,
				[]awscloudwatch.IMetric{s.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(dashboard.Options("Maximum", "messages"))},
				dashboard.Line(1, "alarm: 1")),
		),
	)
}
