package alerts

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/pkg/health"
)

// orgRules is central organization mode (AlertsStackProps.OrganizationID): an organization trail,
// and the relay's three rules repeated on an organization-wide bus that the member accounts'
// forwarders (infra/forwarder) put their events on. The events keep their account field, which the
// relay names in every alert (pkg/trailalert). Its zero value (single-account mode) declares
// nothing and changes nothing, so that mode's template stays as it was.
type orgRules struct {
	orgID                       string
	calls, rotation, healthName string
}

func newOrgRules(stackName, orgID string) orgRules {
	if orgID == "" {
		return orgRules{}
	}
	return orgRules{orgID: orgID, calls: stackName + "-OrgCloudTrailEvents", rotation: stackName + "-OrgRotationFailed", healthName: stackName + "-OrgHealthFindings"}
}

// names are the rule names on the organization bus.
func (o orgRules) names() []string {
	if o.orgID == "" {
		return nil
	}
	return []string{o.calls, o.rotation, o.healthName}
}

// trail makes the trail an organization trail. CloudFormation creates one only in the management
// account or a delegated administrator of CloudTrail; the management account owns it in both
// (AlertsStackProps.ManagementAccountID).
func (o orgRules) trail(p *awscloudtrail.TrailProps) {
	if o.orgID == "" {
		return
	}
	p.IsOrganizationTrail = jsii.Bool(true)
	p.OrgId = jsii.String(o.orgID)
}

// bucket adds, with write (a bucket statement letting this trail put objects under AWSLogs/<prefix>/),
// AWS's documented statement for an organization trail: CloudTrail writes the organization's log
// files under AWSLogs/<organization id>/.
func (o orgRules) bucket(write func(sid, prefix string)) {
	if o.orgID == "" {
		return
	}
	write("AllowCloudTrailOrganizationWrite", o.orgID)
}

// arns are the ARNs of the bus's rules (rule/<bus>/<rule>), for the dead-letter queue's key policy.
func (o orgRules) arns(stack awscdk.Stack) []*string {
	var out []*string
	for _, n := range o.names() {
		out = append(out, stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("events"), Resource: jsii.String("rule"),
			ResourceName: jsii.String(settings.CentralBusName + "/" + n)}))
	}
	return out
}

// declare creates the bus, its policy and its rules, each with the same pattern and target
// (relay, dead-letter queue, retries) as the default bus's rule of the same kind.
func (o orgRules) declare(s *AlertsStack, target func() awsevents.IRuleTarget, sources []*string) {
	if o.orgID == "" {
		return
	}
	stack := s.Stack
	bus := awsevents.NewEventBus(stack, jsii.String("OrganizationBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(settings.CentralBusName),
		Description:  jsii.String("Strongroom: the organization's accounts forward their CloudTrail events and health findings here"),
	})
	s.OrganizationBus = bus
	// Any principal of this organization, and no other, may put events on the bus: the member
	// forwarders' roles are created by each member account, so they cannot be listed here.
	bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowOrganizationPutEvents"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{bus.EventBusArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": o.orgID}},
	}))
	rule := func(id, name, description string, pattern *awsevents.EventPattern) {
		awsevents.NewRule(stack, jsii.String(id), &awsevents.RuleProps{
			EventBus:     bus,
			RuleName:     jsii.String(name),
			Description:  jsii.String(description),
			EventPattern: pattern,
			Targets:      &[]awsevents.IRuleTarget{target()},
		})
	}
	rule("OrgCloudTrailEventsRule", o.calls, "Strongroom: the organization's API calls and console sign-ins, to the alert relay",
		&awsevents.EventPattern{Source: &sources, DetailType: jsii.Strings(DetailTypeAPICall, DetailTypeConsoleSignIn)})
	rule("OrgRotationFailedRule", o.rotation, "Strongroom: the organization's Secrets Manager rotation failures, to the alert relay",
		&awsevents.EventPattern{Source: jsii.Strings("aws.secretsmanager"), DetailType: jsii.Strings(DetailTypeServiceEvent),
			Detail: &map[string]any{"eventName": []string{"RotationFailed"}}})
	rule("OrgHealthFindingsRule", o.healthName, "Strongroom: the organization's cluster and key store health findings, to the alert relay",
		&awsevents.EventPattern{Source: jsii.Strings(health.Source), DetailType: jsii.Strings(health.DetailType)})
	awscdk.NewCfnOutput(stack, jsii.String("CentralBusArn"), &awscdk.CfnOutputProps{
		Value:       bus.EventBusArn(),
		Description: jsii.String("The member accounts' strongroom:organization centralBusArn"),
	})
}

// alarms watches the bus rules' dead-letter writes, as the default bus's are: a custom bus's rule
// metrics carry the EventBusName dimension besides RuleName.
func (o orgRules) alarms(alarm func(id, description string, metric awscloudwatch.Metric), period awscdk.Duration) {
	if o.orgID == "" {
		return
	}
	ids := []string{"OrgCloudTrailEventsDeadLetterErrorsAlarm", "OrgRotationFailedDeadLetterErrorsAlarm", "OrgHealthFindingsDeadLetterErrorsAlarm"}
	for i, n := range o.names() {
		alarm(ids[i],
			"EventBridge could not write an undeliverable event of rule "+n+" (bus "+settings.CentralBusName+") to the dead-letter queue; the event is lost",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String("AWS/Events"),
				MetricName:    jsii.String("InvocationsFailedToBeSentToDLQ"),
				DimensionsMap: &map[string]*string{"EventBusName": jsii.String(settings.CentralBusName), "RuleName": jsii.String(n)},
				Period:        period,
				Statistic:     jsii.String("Sum"),
			}))
	}
}
