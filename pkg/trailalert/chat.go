package trailalert

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// ParseSeverity reads a severity's name (Severity.String).
func ParseSeverity(name string) (Severity, error) {
	for _, s := range []Severity{Info, Warning, Critical} {
		if s.String() == name {
			return s, nil
		}
	}
	return Info, fmt.Errorf("severity %q is not one of %s", name, strings.Join(alertrules.Severities, ", "))
}

// ChatTopics are the SNS topics AWS Chatbot (Amazon Q Developer in chat applications) reads for
// Slack and Microsoft Teams channels, by the least severity each receives: an alert goes to every
// topic whose severity is at or below its own. Chatbot renders only its own notification format,
// so these topics get ChatNotification, not the e-mail text.
type ChatTopics map[Severity]string

// ParseChatTopics reads CHAT_TOPICS: a JSON object from severity name to topic ARN, for example
// {"warning":"arn:aws:sns:us-east-1:111122223333:chat-warning"}; "" is none.
func ParseChatTopics(s string) (ChatTopics, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("CHAT_TOPICS is not a JSON object of severity to SNS topic ARN: %v", err)
	}
	out := ChatTopics{}
	for name, arn := range raw {
		sev, err := ParseSeverity(name)
		if err != nil {
			return nil, fmt.Errorf("CHAT_TOPICS: %w", err)
		}
		if parts := strings.Split(arn, ":"); len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5] == "" {
			return nil, fmt.Errorf("CHAT_TOPICS %s: %q is not an SNS topic ARN", name, arn)
		}
		out[sev] = arn
	}
	return out, nil
}

// WithChatTopics sends each alert also to the chat topics its severity reaches.
func WithChatTopics(t ChatTopics) RelayOption {
	return func(r *Relay) { r.chat = t }
}

// maxChatDescription bounds the notification's description: Slack and Teams cut long messages
// (Slack at about 4,000 characters of a message's text), and the e-mail has the whole alert.
const maxChatDescription = 3500

// chatNotification is the custom-notification event Chatbot accepts on an SNS topic (its
// "Custom notifications" guide): version 1.0, source custom, and the content it renders.
type chatNotification struct {
	Version  string      `json:"version"`
	Source   string      `json:"source"`
	ID       string      `json:"id,omitempty"`
	Content  chatContent `json:"content"`
	Metadata chatMeta    `json:"metadata"`
}

type chatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Keywords    []string `json:"keywords,omitempty"`
}

type chatMeta struct {
	Summary   string `json:"summary"`
	EventType string `json:"eventType"`
}

// ChatNotification renders m as a Chatbot custom notification: the subject as its title, the
// e-mail's text (already redacted) in a code block as its description, clipped.
func ChatNotification(m *Message) []byte {
	body := m.Body
	if len(body) > maxChatDescription {
		body = body[:runeBoundary([]byte(body), maxChatDescription)] + "\n... (cut; the e-mail has the whole alert)"
	}
	n := chatNotification{
		Version: "1.0", Source: "custom", ID: m.EventID,
		Content: chatContent{TextType: "client-markdown", Title: m.Subject, Description: "```\n" + strings.ReplaceAll(body, "```", "'''") + "\n```",
			Keywords: []string{m.Severity.String(), m.Attributes[AttrEventSource]}},
		Metadata: chatMeta{Summary: m.Subject, EventType: m.Rule},
	}
	b, _ := json.Marshal(n) // strings only
	return b
}

// toChat publishes m to every chat topic its severity reaches. Chat is a second way to see an
// alert the e-mail topic already has, so a failure is logged, not returned: returning it would
// retry the delivery, and the duplicate check would then hold the retry back.
func (r *Relay) toChat(ctx context.Context, m *Message) int {
	sent := 0
	sevs := make([]Severity, 0, len(r.chat))
	for s := range r.chat {
		sevs = append(sevs, s)
	}
	sort.Slice(sevs, func(i, j int) bool { return sevs[i] < sevs[j] })
	for _, least := range sevs {
		if m.Severity < least {
			continue
		}
		topic := r.chat[least]
		_, err := r.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(string(ChatNotification(m)))})
		if err != nil {
			r.log.WarnContext(ctx, "chat notification not published", "event_id", m.EventID, "topic", topic, "error", err.Error())
			continue
		}
		sent++
	}
	return sent
}
