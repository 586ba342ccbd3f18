package secretsmanager

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

func TestParseRules(t *testing.T) {
	cases := []struct {
		name    string
		rules   RotationRules
		wantErr string // substring of the InvalidParameterException message; "" for valid
		window  time.Duration
	}{
		{name: "rate 4 hours", rules: RotationRules{ScheduleExpression: ptr("rate(4 hours)")}, window: time.Hour},
		{name: "rate 1 day", rules: RotationRules{ScheduleExpression: ptr("rate(1 day)")}, window: 24 * time.Hour},
		{name: "rate 10 days with window", rules: RotationRules{ScheduleExpression: ptr("rate(10 days)"), Duration: ptr("3h")}, window: 3 * time.Hour},
		{name: "automatically after days", rules: RotationRules{AutomaticallyAfterDays: ptr(int64(30))}, window: 24 * time.Hour},
		{name: "cron twice a day", rules: RotationRules{ScheduleExpression: ptr("cron(0 4/12 * * ? *)")}, window: time.Hour},
		{name: "cron daily default window to end of day", rules: RotationRules{ScheduleExpression: ptr("cron(0 16 L * ? *)")}, window: 8 * time.Hour},
		{name: "cron first sunday", rules: RotationRules{ScheduleExpression: ptr("cron(0 0 ? * SUN#1 *)")}, window: 24 * time.Hour},
		{name: "cron weekdays by name", rules: RotationRules{ScheduleExpression: ptr("cron(0 8 ? JAN-JUN MON-FRI *)"), Duration: ptr("2h")}, window: 2 * time.Hour},
		{name: "rate 3 hours", rules: RotationRules{ScheduleExpression: ptr("rate(3 hours)")}, wantErr: "four hours"},
		{name: "rate with minutes", rules: RotationRules{ScheduleExpression: ptr("rate(300 minutes)")}, wantErr: "rate(Value Unit)"},
		{name: "rate zero", rules: RotationRules{ScheduleExpression: ptr("rate(0 days)")}, wantErr: "positive"},
		{name: "cron minute 30", rules: RotationRules{ScheduleExpression: ptr("cron(30 4 * * ? *)")}, wantErr: "Minutes field must be 0"},
		{name: "cron year", rules: RotationRules{ScheduleExpression: ptr("cron(0 4 * * ? 2027)")}, wantErr: "Year field must be *"},
		{name: "cron both days", rules: RotationRules{ScheduleExpression: ptr("cron(0 4 * * * *)")}, wantErr: "exactly one"},
		{name: "cron every hour", rules: RotationRules{ScheduleExpression: ptr("cron(0 * * * ? *)")}, wantErr: "four hours"},
		{name: "cron five fields", rules: RotationRules{ScheduleExpression: ptr("cron(0 4 * * ?)")}, wantErr: "6"},
		{name: "cron bad hour", rules: RotationRules{ScheduleExpression: ptr("cron(0 25 * * ? *)")}, wantErr: "Hours field"},
		{name: "window into next day", rules: RotationRules{ScheduleExpression: ptr("cron(0 22 * * ? *)"), Duration: ptr("3h")}, wantErr: "next UTC day"},
		{name: "window into next window", rules: RotationRules{ScheduleExpression: ptr("rate(4 hours)"), Duration: ptr("5h")}, wantErr: "next rotation window"},
		{name: "duration form", rules: RotationRules{ScheduleExpression: ptr("rate(1 day)"), Duration: ptr("3 hours")}, wantErr: "Duration"},
		{name: "days out of range", rules: RotationRules{AutomaticallyAfterDays: ptr(int64(1001))}, wantErr: "1 and 1000"},
		{name: "both", rules: RotationRules{AutomaticallyAfterDays: ptr(int64(1)), ScheduleExpression: ptr("rate(1 day)")}, wantErr: "not both"},
		{name: "neither expression kind", rules: RotationRules{ScheduleExpression: ptr("every day")}, wantErr: "rate() or cron()"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := parseRules(&tc.rules)
			if tc.wantErr != "" {
				var ce *core.Error
				if !errors.As(err, &ce) || ce.Code != "InvalidParameterException" || !strings.Contains(ce.Message, tc.wantErr) {
					t.Fatalf("want InvalidParameterException containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("valid rules refused: %v", err)
			}
			if sc.window != tc.window {
				t.Fatalf("window %s, want %s", sc.window, tc.window)
			}
		})
	}
}

func TestScheduleNext(t *testing.T) {
	from := time.Date(2026, 11, 27, 7, 5, 0, 0, time.UTC) // a Friday
	cases := []struct {
		expr string
		want time.Time
	}{
		{"rate(10 days)", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{"rate(6 hours)", time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)},
		{"cron(0 4/12 * * ? *)", time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)},
		{"cron(0 16 L * ? *)", time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)},
		{"cron(0 0 ? * SUN#1 *)", time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)},
		{"cron(0 9 ? * MONL *)", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		{"cron(0 3 15W * ? *)", time.Date(2026, 12, 15, 3, 0, 0, 0, time.UTC)},
		{"cron(0 3 1 FEB ? *)", time.Date(2027, 2, 1, 3, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			sc, err := parseRules(&RotationRules{ScheduleExpression: ptr(tc.expr)})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := sc.next(from)
			if !ok || !got.Equal(tc.want) {
				t.Fatalf("next after %s = %s, want %s", from, got, tc.want)
			}
		})
	}
}

func TestRandomPasswordRequiresEachType(t *testing.T) {
	for i := 0; i < 200; i++ {
		pw, err := randomPassword(randomPasswordInput{PasswordLength: ptr(int64(4))})
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{lowerChars, upperChars, digitChars, punctChars} {
			if !strings.ContainsAny(pw, set) {
				t.Fatalf("password %q lacks a character from %q", pw, set)
			}
		}
	}
	pw, err := randomPassword(randomPasswordInput{PasswordLength: ptr(int64(2000)), IncludeSpace: ptr(true), ExcludeCharacters: ptr("aeiou")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pw, " ") || strings.ContainsAny(pw, "aeiou") {
		t.Fatalf("IncludeSpace/ExcludeCharacters not applied to a 2000-character password")
	}
}
