package rotationschedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidSchedules(t *testing.T) {
	tests := []struct {
		name, expr, duration string
		window               time.Duration
		every                time.Duration
		hours                []int
	}{
		{"rate 4 hours, the minimum", "rate(4 hours)", "", time.Hour, 4 * time.Hour, nil},
		{"rate 12 hours with a 3h window", "rate(12 hours)", "3h", 3 * time.Hour, 12 * time.Hour, nil},
		{"rate 1 day", "rate(1 day)", "", 24 * time.Hour, 24 * time.Hour, nil},
		{"rate 30 days, 2h window", "rate(30 days)", "2h", 2 * time.Hour, 30 * 24 * time.Hour, nil},
		{"rate 999 days, the maximum", "rate(999 days)", "", 24 * time.Hour, 999 * 24 * time.Hour, nil},
		{"rate in hours, window equal to interval", "rate(6 hours)", "6h", 6 * time.Hour, 6 * time.Hour, nil},
		{"cron every Sunday 04:00", "cron(0 4 ? * SUN *)", "", 20 * time.Hour, 0, []int{4}},
		{"cron twice a day, documented example", "cron(0 4/12 * * ? *)", "", time.Hour, 0, []int{4, 16}},
		{"cron twice a day, 8h window", "cron(0 4/12 * * ? *)", "8h", 8 * time.Hour, 0, []int{4, 16}},
		{"cron every 4 hours", "cron(0 0/4 * * ? *)", "4h", 4 * time.Hour, 0, []int{0, 4, 8, 12, 16, 20}},
		{"cron first Sunday of the month", "cron(0 0 ? * SUN#1 *)", "", 24 * time.Hour, 0, []int{0}},
		{"cron last day of the month 16:00", "cron(0 16 L * ? *)", "8h", 8 * time.Hour, 0, []int{16}},
		{"cron last Friday", "cron(0 10 ? * 6L *)", "", 14 * time.Hour, 0, []int{10}},
		{"cron weekdays list and month range", "cron(0 8 ? JAN-JUN MON,WED,FRI *)", "1h", time.Hour, 0, []int{8}},
		{"cron every 7 days from the 1st", "cron(0 8 1/7 * ? *)", "", 16 * time.Hour, 0, []int{8}},
		{"cron hours list", "cron(0 1,9,17 * * ? *)", "", time.Hour, 0, []int{1, 9, 17}},
		{"cron hours range with step", "cron(0 2-22/10 * * ? *)", "", time.Hour, 0, []int{2, 12, 22}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.expr, tc.duration)
			if err != nil {
				t.Fatal(err)
			}
			if s.Window != tc.window || s.Every != tc.every || !slices.Equal(s.Hours, tc.hours) {
				t.Fatalf("Parse = window %v, every %v, hours %v; want %v, %v, %v", s.Window, s.Every, s.Hours, tc.window, tc.every, tc.hours)
			}
		})
	}
}

func TestRefusedSchedules(t *testing.T) {
	tests := []struct {
		name, expr, duration string
		field, mention       string
	}{
		{"rate every 3 hours", "rate(3 hours)", "", "rate", "every 4 hours"},
		{"rate every hour", "rate(1 hour)", "", "rate", "every 4 hours"},
		{"rate in minutes", "rate(300 minutes)", "", "rate", "hour, hours, day or days"},
		{"rate zero days", "rate(0 days)", "", "rate", "positive"},
		{"rate 1000 days", "rate(1000 days)", "", "rate", "999 days"},
		{"rate negative", "rate(-1 days)", "", "rate", "rate(Value Unit)"},
		{"rate window longer than interval", "rate(4 hours)", "5h", "Duration", "at most 4h"},
		{"neither rate nor cron", "every day", "", "expression", "rate(...) or cron(...)"},
		{"window not in hours", "rate(10 days)", "90m", "Duration", "[0-9]+h"},
		{"window zero", "rate(10 days)", "0h", "Duration", "1h to 24h"},
		{"window past the day", "rate(10 days)", "25h", "Duration", "next UTC day"},
		{"window too many characters", "rate(10 days)", "0003h", "Duration", "2-3 characters"},
		{"cron five fields", "cron(0 4 * * ?)", "", "cron", "has 5 fields"},
		{"cron minutes not 0", "cron(30 4 ? * SUN *)", "", "Minutes", "must be 0"},
		{"cron year set", "cron(0 4 ? * SUN 2027)", "", "Year", "must be *"},
		{"cron both days given", "cron(0 4 1 * SUN *)", "", "Day-of-month/Day-of-week", "exactly one"},
		{"cron neither day is ?", "cron(0 4 * * * *)", "", "Day-of-month/Day-of-week", "exactly one"},
		{"cron both days ?", "cron(0 4 ? * ? *)", "", "Day-of-month/Day-of-week", "exactly one"},
		{"cron hour 24", "cron(0 24 * * ? *)", "", "Hours", "0 to 23"},
		{"cron every 2 hours", "cron(0 0/2 * * ? *)", "", "Hours", "2 hours apart"},
		{"cron hourly", "cron(0 * * * ? *)", "", "Hours", "1 hours apart"},
		{"cron wraps to 3 hours", "cron(0 1,9,17,22 * * ? *)", "", "Hours", "apart"},
		{"cron wrap over midnight", "cron(0 2,23 * * ? *)", "", "Hours", "3 hours apart"},
		{"cron month 13", "cron(0 4 1 13 ? *)", "", "Month", "1 to 12"},
		{"cron bad month name", "cron(0 4 1 JANUARY ? *)", "", "Month", "JAN-DEC"},
		{"cron day of month 32", "cron(0 4 32 * ? *)", "", "Day-of-month", "1 to 31"},
		{"cron W not supported", "cron(0 4 15W * ? *)", "", "Day-of-month", "15W"},
		{"cron day of week 8", "cron(0 4 ? * 8 *)", "", "Day-of-week", "1 to 7"},
		{"cron sixth week", "cron(0 4 ? * MON#6 *)", "", "Day-of-week", "1 to 5"},
		{"cron backwards range", "cron(0 4 ? * FRI-MON *)", "", "Day-of-week", "backwards"},
		{"cron zero increment", "cron(0 4/0 * * ? *)", "", "Hours", "positive"},
		{"cron # in month", "cron(0 4 1 JAN#1 ? *)", "", "Month", "JAN#1"},
		{"cron window into next window", "cron(0 4/12 * * ? *)", "13h", "Duration", "at most 12h"},
		{"cron last window into the next day", "cron(0 4/12 * * ? *)", "12h", "Duration", "at most 8h"},
		{"cron window into the next day", "cron(0 20 ? * SUN *)", "5h", "Duration", "at most 4h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.expr, tc.duration)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q, %q) = %v, want an *Error", tc.expr, tc.duration, err)
			}
			if e.Field != tc.field || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %q (field %s), want field %s mentioning %q", err, e.Field, tc.field, tc.mention)
			}
		})
	}
}
