package settings

import (
	"strings"
	"testing"
)

func TestChatChannels(t *testing.T) {
	teams := map[string]any{"kind": "teams", "name": "oncall", "teamId": "74361522-da01-538d-aa2e-ac7918c6bb92",
		"tenantId": "0b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "channelId": "19%3ab6ef35dc342d4f2d9a3b2b8c1d0e1f2a%40thread.tacv2", "minSeverity": "critical"}
	slack := map[string]any{"kind": "slack", "name": "security-alerts", "workspaceId": "T0123ABCD", "channelId": "C0123ABCD"}
	s, err := Read(MapLookup(map[string]any{KeyAlertChatChannels: []any{slack, teams}}), MapLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.AlertChatChannels) != 2 || s.AlertChatChannels[0].MinSeverity != "warning" || s.AlertChatChannels[1].TenantID != teams["tenantId"] {
		t.Errorf("channels %+v; want slack at the default warning, then teams", s.AlertChatChannels)
	}
	// As -c gives it: JSON text.
	if s, err := Read(MapLookup(map[string]any{KeyAlertChatChannels: `[{"kind":"slack","name":"a","workspaceId":"T1","channelId":"C1","minSeverity":"info"}]`}), MapLookup(nil)); err != nil || len(s.AlertChatChannels) != 1 {
		t.Errorf("JSON text: %+v, %v", s.AlertChatChannels, err)
	}
	with := func(base map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range base {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name  string
		value any
		want  []string
	}{
		{"not a list", map[string]any{"kind": "slack"}, []string{"want a list"}},
		{"broken JSON", `[{"kind":`, []string{"is not JSON"}},
		{"unknown field", []any{with(slack, "webhook", "https://hooks.slack.com/x")}, []string{"channel 0", "want an object"}},
		{"bad kind", []any{with(slack, "kind", "discord")}, []string{"channel 0 (security-alerts)", "kind", "slack or teams"}},
		{"bad severity", []any{with(slack, "minSeverity", "high")}, []string{"channel 0", "minSeverity", `"high"`}},
		{"bad name", []any{with(slack, "name", "security alerts")}, []string{"name", "letters, digits"}},
		{"duplicate name", []any{slack, with(slack, "channelId", "C999")}, []string{"channel 1", "also the name of channel 0"}},
		{"slack workspace", []any{with(slack, "workspaceId", "t0123abcd")}, []string{"workspaceId", "Slack workspace id"}},
		{"slack channel", []any{with(slack, "channelId", "#security")}, []string{"channelId", "Slack channel id"}},
		{"slack with a team", []any{with(slack, "teamId", "74361522-da01-538d-aa2e-ac7918c6bb92")}, []string{"teamId", "no teamId"}},
		{"teams channel", []any{with(teams, "channelId", "19:abc@thread.tacv2")}, []string{"channel 0 (oncall)", "channelId", "URL-encoded"}},
		{"teams tenant", []any{with(teams, "tenantId", nil)}, []string{"tenantId", "not a UUID"}},
		{"teams team", []any{with(teams, "teamId", "my-team")}, []string{"teamId", "not a UUID"}},
	} {
		_, err := Read(MapLookup(map[string]any{KeyAlertChatChannels: c.value}), MapLookup(nil))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range append([]string{KeyAlertChatChannels}, c.want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", c.name, err, w)
			}
		}
	}
}
