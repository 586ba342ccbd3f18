package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// KeyAlertChatChannels lists the Slack and Microsoft Teams channels that receive alerts through
// AWS Chatbot (Amazon Q Developer in chat applications), each with the least severity it wants.
const KeyAlertChatChannels = "strongroom:alertChatChannels"

// ChatChannel is one Slack or Microsoft Teams channel. The workspace (Slack) or team and tenant
// (Teams) must have been authorized once in the Chatbot console, which shows their ids.
type ChatChannel struct {
	// Kind is "slack" or "teams".
	Kind string `json:"kind"`
	// Name is the Chatbot configuration's name, unique among the channels.
	Name string `json:"name"`
	// MinSeverity is the least severity the channel receives (alertrules.Severities); default warning.
	MinSeverity string `json:"minSeverity"`
	// Slack: the workspace id (T...) and the channel id (C...).
	WorkspaceID string `json:"workspaceId,omitempty"`
	// ChannelID is the Slack channel id, or the Teams channel id as the Chatbot console gives it
	// (URL-encoded, 19%3a...%40thread.tacv2).
	ChannelID string `json:"channelId"`
	// Teams: the team and the tenant (UUIDs).
	TeamID   string `json:"teamId,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
}

// Patterns of the AWS::Chatbot::SlackChannelConfiguration and
// AWS::Chatbot::MicrosoftTeamsChannelConfiguration properties (CloudFormation template reference).
var (
	chatNameRE      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	slackWorkspace  = regexp.MustCompile(`^[0-9A-Z]{1,255}$`)
	slackChannel    = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	teamsChannel    = regexp.MustCompile(`^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$`)
	uuidRE          = regexp.MustCompile(`^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$`)
	chatChannelJSON = `[{"kind":"slack","name":"security-alerts","workspaceId":"T0123ABCD","channelId":"C0123ABCD","minSeverity":"warning"}]`
)

// readChatChannels reads KeyAlertChatChannels: a list (or its JSON text, as -c gives it) of
// ChatChannel objects. Every problem names the key, the channel's index and the field.
func (s *Settings) readChatChannels(ctx Lookup) error {
	v := ctx(KeyAlertChatChannels)
	if v == nil {
		return nil
	}
	if text, ok := v.(string); ok {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return fmt.Errorf("context %s: %q is not JSON (%v); give a list such as %s", KeyAlertChatChannels, text, err, chatChannelJSON)
		}
	}
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("context %s: got %T, want a list of channels such as %s", KeyAlertChatChannels, v, chatChannelJSON)
	}
	var errs []error
	names := map[string]int{}
	for i, item := range items {
		b, _ := json.Marshal(item)
		var c ChatChannel
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if _, isObj := item.(map[string]any); !isObj || dec.Decode(&c) != nil {
			errs = append(errs, fmt.Errorf("context %s: channel %d: want an object with kind, name, channelId, minSeverity and, for slack, workspaceId or, for teams, teamId and tenantId (got %s)", KeyAlertChatChannels, i, b))
			continue
		}
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("context %s: channel %d (%s): %s: %s", KeyAlertChatChannels, i, c.Name, field, fmt.Sprintf(format, args...)))
		}
		if c.MinSeverity == "" {
			c.MinSeverity = alertrules.Warning
		}
		if len(alertrules.AtLeast(c.MinSeverity)) == 0 {
			bad("minSeverity", "%q is not one of %s", c.MinSeverity, strings.Join(alertrules.Severities, ", "))
		}
		if !chatNameRE.MatchString(c.Name) {
			bad("name", "%q must be 1-128 letters, digits, - or _ (the Chatbot configuration's name)", c.Name)
		} else if j, dup := names[c.Name]; dup {
			bad("name", "also the name of channel %d; each needs its own", j)
		}
		names[c.Name] = i
		switch c.Kind {
		case "slack":
			if !slackWorkspace.MatchString(c.WorkspaceID) {
				bad("workspaceId", "%q is not a Slack workspace id (capital letters and digits, such as T0123ABCD; the Chatbot console shows it once the workspace is authorized)", c.WorkspaceID)
			}
			if !slackChannel.MatchString(c.ChannelID) {
				bad("channelId", "%q is not a Slack channel id (letters and digits, such as C0123ABCD; copy it from the channel's details)", c.ChannelID)
			}
			if c.TeamID != "" || c.TenantID != "" {
				bad("teamId", "a slack channel has no teamId or tenantId")
			}
		case "teams":
			if !uuidRE.MatchString(c.TeamID) {
				bad("teamId", "%q is not a UUID (the Chatbot console shows the team id once the team is authorized)", c.TeamID)
			}
			if !uuidRE.MatchString(c.TenantID) {
				bad("tenantId", "%q is not a UUID (the Microsoft Entra tenant of the team)", c.TenantID)
			}
			if !teamsChannel.MatchString(c.ChannelID) || len(c.ChannelID) > 255 {
				bad("channelId", "%q is not a Teams channel id as the Chatbot console gives it (URL-encoded, such as 19%%3ab6ef35dc342d4f2d9a3b2b8c1d0e1f2a%%40thread.tacv2)", c.ChannelID)
			}
			if c.WorkspaceID != "" {
				bad("workspaceId", "a teams channel has no workspaceId")
			}
		default:
			bad("kind", "%q is not slack or teams", c.Kind)
		}
		s.AlertChatChannels = append(s.AlertChatChannels, c)
	}
	if len(errs) > 0 {
		s.AlertChatChannels = nil
		return errors.Join(errs...)
	}
	return nil
}
