package alerts

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awschatbot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/settings"
)

// chatTopics declares one topic per least severity the chat channels ask for (ChatAlerts<Severity>,
// encrypted with the alerts key), and the relay's CHAT_TOPICS naming them: the relay publishes each
// alert, as a Chatbot custom notification, to every topic its severity reaches
// (pkg/trailalert/chat.go). Chatbot reads a topic whole, with no filter policy, so the severity
// filter is the choice of topic. No channels: no topics, nil.
func (s *AlertsStack) chatTopics(key awskms.Key, channels []settings.ChatChannel) (map[string]awssns.Topic, *string) {
	if len(channels) == 0 {
		return nil, nil
	}
	topics := map[string]awssns.Topic{}
	arns := map[string]*string{}
	for _, c := range channels {
		if _, ok := topics[c.MinSeverity]; ok {
			continue
		}
		t := awssns.NewTopic(s.Stack, jsii.String("ChatAlerts"+strings.ToUpper(c.MinSeverity[:1])+c.MinSeverity[1:]), &awssns.TopicProps{
			DisplayName: jsii.String("Strongroom alerts for chat, " + c.MinSeverity + " and above"),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
		topics[c.MinSeverity], arns[c.MinSeverity] = t, t.TopicArn()
	}
	// A JSON object of tokens, which CloudFormation renders with each topic's ARN.
	return topics, s.Stack.ToJsonString(arns, nil)
}

// chatChannels declares each channel's Chatbot configuration on its severity's topic. Chatbot
// assumes the channel's role to run commands typed in the channel; Strongroom only notifies, so the
// role has no policy and the guardrail denies everything (AWSDenyAll).
func (s *AlertsStack) chatChannels(channels []settings.ChatChannel, topics map[string]awssns.Topic) {
	deny := awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AWSDenyAll"))
	for _, c := range channels {
		id := "Chat" + strings.ReplaceAll(strings.ReplaceAll(c.Name, "-", ""), "_", "")
		topic := topics[c.MinSeverity]
		switch c.Kind {
		case "slack":
			awschatbot.NewSlackChannelConfiguration(s.Stack, jsii.String(id), &awschatbot.SlackChannelConfigurationProps{
				SlackChannelConfigurationName: jsii.String(c.Name),
				SlackWorkspaceId:              jsii.String(c.WorkspaceID),
				SlackChannelId:                jsii.String(c.ChannelID),
				NotificationTopics:            &[]awssns.ITopic{topic},
				GuardrailPolicies:             &[]awsiam.IManagedPolicy{deny},
			})
		case "teams":
			role := awsiam.NewRole(s.Stack, jsii.String(id+"Role"), &awsiam.RoleProps{
				AssumedBy:   awsiam.NewServicePrincipal(jsii.String("chatbot.amazonaws.com"), nil),
				Description: jsii.String("Strongroom: the Teams channel " + c.Name + " reads alerts; no permissions"),
			})
			awschatbot.NewCfnMicrosoftTeamsChannelConfiguration(s.Stack, jsii.String(id), &awschatbot.CfnMicrosoftTeamsChannelConfigurationProps{
				ConfigurationName: jsii.String(c.Name),
				TeamId:            jsii.String(c.TeamID),
				TeamsTenantId:     jsii.String(c.TenantID),
				TeamsChannelId:    jsii.String(c.ChannelID),
				IamRoleArn:        role.RoleArn(),
				SnsTopicArns:      &[]*string{topic.TopicArn()},
				GuardrailPolicies: jsii.Strings(*deny.ManagedPolicyArn()),
			})
		}
	}
}
