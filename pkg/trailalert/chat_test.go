package trailalert_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/trailalert"
)

func TestChatNotificationClipsAndStaysJSON(t *testing.T) {
	m := &trailalert.Message{Subject: "[CRITICAL] s", Body: strings.Repeat("é```x", 2000), Severity: trailalert.Critical, Rule: "r", EventID: "id-1",
		Attributes: map[string]string{trailalert.AttrEventSource: "kms.amazonaws.com"}}
	var n struct {
		Version, Source, ID string
		Content             struct {
			Description string
			Keywords    []string
		}
	}
	if err := json.Unmarshal(trailalert.ChatNotification(m), &n); err != nil {
		t.Fatal(err)
	}
	d := n.Content.Description
	if n.Version != "1.0" || n.Source != "custom" || n.ID != "id-1" || len(d) > 3600 || !strings.HasSuffix(d, "e-mail has the whole alert)\n```") ||
		strings.Count(d, "```") != 2 || !strings.Contains(strings.Join(n.Content.Keywords, ","), "critical") {
		t.Errorf("notification %+v (description %d bytes)", n, len(d))
	}
}

func TestParseChatTopics(t *testing.T) {
	got, err := trailalert.ParseChatTopics(`{"warning":"arn:aws:sns:us-east-1:111122223333:w","critical":"arn:aws:sns:us-east-1:111122223333:c"}`)
	if err != nil || got[trailalert.Warning] != "arn:aws:sns:us-east-1:111122223333:w" || len(got) != 2 {
		t.Errorf("%v %v", got, err)
	}
	for in, want := range map[string]string{`{"loud":"arn:aws:sns:us-east-1:1:x"}`: "loud", `{"info":"topic"}`: "not an SNS topic ARN", `[1]`: "not a JSON object"} {
		if _, err := trailalert.ParseChatTopics(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", in, err, want)
		}
	}
	if got, err := trailalert.ParseChatTopics(""); err != nil || got != nil {
		t.Errorf("empty: %v %v", got, err)
	}
}
