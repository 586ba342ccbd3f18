package rotationschedule_test

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/rotationschedule"
)

// FuzzParse checks Parse against the rules the package documents. Its seeds (valid and refused
// schedules) run in plain go test; make test fuzzes it briefly and make fuzz for longer.
//
//   - A refusal is an *Error whose Expression is the input, whose Field names the part at fault
//     (and is one that input has), and whose text is "rotation schedule %q: Field: Problem".
//   - A rate() is accepted exactly when an independent reading of it (math/big, no regexp) is in
//     the documented bounds: 4 to 23976 hours, or 1 to 999 days.
//   - An accepted schedule is in the documented bounds: a whole-hour window of 1h to 24h that
//     neither runs into the next UTC day (cron) nor into the next window; rate() intervals of
//     4 hours to 999 days; cron() hours sorted, distinct, 0-23 and at least 4 hours apart.
//   - Parse, format, parse: the canonical form of an accepted schedule (rate(N hours|days), or the
//     cron() with its Hours field written as the list of hours it selects) parses to the same
//     schedule, and so does the schedule with its window written out as Duration.
func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{
		// Accepted: the documented examples and the bounds.
		{"rate(4 hours)", ""}, {"rate(12 hours)", "3h"}, {"rate(1 day)", ""}, {"rate(30 days)", "2h"},
		{"rate(999 days)", ""}, {"rate(23976 hours)", "24h"}, {"rate(6 hours)", "6h"}, {" rate( 10 days ) ", "24h"},
		{"cron(0 4 ? * SUN *)", ""}, {"cron(0 4/12 * * ? *)", "8h"}, {"cron(0 0/4 * * ? *)", "4h"},
		{"cron(0 0 ? * SUN#1 *)", ""}, {"cron(0 16 L * ? *)", "8h"}, {"cron(0 10 ? * 6L *)", ""},
		{"cron(0 8 ? JAN-JUN MON,WED,FRI *)", "1h"}, {"cron(0 8 1/7 * ? *)", ""}, {"cron(0 1,9,17 * * ? *)", ""},
		{"cron(0 2-22/10 * * ? *)", ""}, {"cron(0  23 ?  dec  sat *)", "1h"}, {"cron(0 0 1,15 * ? *)", "24h"},
		// Refused, one per field.
		{"rate(3 hours)", ""}, {"rate(300 minutes)", ""}, {"rate(0 days)", ""}, {"rate(1000 days)", ""},
		{"rate(23977 hours)", ""}, {"rate(-1 days)", ""}, {"rate(4 hours)", "5h"}, {"every day", ""},
		{"rate(10 days)", "90m"}, {"rate(10 days)", "0h"}, {"rate(10 days)", "25h"}, {"rate(10 days)", "0003h"},
		{"cron(0 4 * * ?)", ""}, {"cron(30 4 ? * SUN *)", ""}, {"cron(0 4 ? * SUN 2027)", ""},
		{"cron(0 4 1 * SUN *)", ""}, {"cron(0 4 ? * ? *)", ""}, {"cron(0 24 * * ? *)", ""}, {"cron(0 0/2 * * ? *)", ""},
		{"cron(0 2,23 * * ? *)", ""}, {"cron(0 4 1 13 ? *)", ""}, {"cron(0 4 32 * ? *)", ""}, {"cron(0 4 15W * ? *)", ""},
		{"cron(0 4 ? * MON#6 *)", ""}, {"cron(0 4 ? * FRI-MON *)", ""}, {"cron(0 4/0 * * ? *)", ""},
		{"cron(0 4/12 * * ? *)", "13h"}, {"cron(0 20 ? * SUN *)", "5h"}, {"cron(0 4,,8 * * ? *)", ""}, {"cron(", ""},
		// Numbers past int64 and time.Duration: refused as too long, never as too short.
		{"rate(2562048 hours)", ""}, {"rate(99999999999999999999 hours)", ""}, {"cron(0 1/9223372036854775807 * * ? *)", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, expr, duration string) {
		s, err := rotationschedule.Parse(expr, duration)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse(%q, %q) returned a schedule and an error", expr, duration)
			}
			checkRefusal(t, expr, duration, err)
			return
		}
		checkAccepted(t, expr, duration, s)
		checkReparse(t, canonical(s), duration, s)
		checkReparse(t, s.Expression, fmt.Sprintf("%dh", int(s.Window.Hours())), s)
	})
}

var fields = []string{"expression", "Duration", "rate", "cron", "Minutes", "Year", "Day-of-month/Day-of-week",
	"Hours", "Day-of-month", "Month", "Day-of-week"}

func checkRefusal(t *testing.T, expr, duration string, err error) {
	var e *rotationschedule.Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse(%q, %q) = %v (%T); want a *rotationschedule.Error", expr, duration, err, err)
	}
	if e.Expression != expr || !slices.Contains(fields, e.Field) || e.Problem == "" {
		t.Fatalf("Parse(%q, %q) = %#v: want the input, a known field and a problem", expr, duration, e)
	}
	if want := fmt.Sprintf("rotation schedule %q: %s: %s", expr, e.Field, e.Problem); err.Error() != want {
		t.Fatalf("error text %q; want %q", err.Error(), want)
	}
	trimmed := strings.TrimSpace(expr)
	isRate := strings.HasPrefix(trimmed, "rate(")
	isCron := strings.HasPrefix(trimmed, "cron(") && strings.HasSuffix(trimmed, ")")
	switch e.Field {
	case "Duration":
		if duration == "" {
			t.Fatalf("Parse(%q, \"\") blames Duration, which was not given: %v", expr, err)
		}
	case "expression":
		if isRate || isCron {
			t.Fatalf("Parse(%q) says it is neither rate() nor cron(): %v", expr, err)
		}
	case "rate":
		if !isRate {
			t.Fatalf("Parse(%q) blames rate() on a non-rate expression: %v", expr, err)
		}
	default:
		if !isCron {
			t.Fatalf("Parse(%q) blames cron field %s on a non-cron expression: %v", expr, e.Field, err)
		}
	}
	if n, unit, ok := readRate(trimmed); ok && e.Field == "rate" {
		if rateInBounds(n, unit) {
			t.Fatalf("Parse(%q) refused a rate() in bounds: %v", expr, err)
		}
		// The advice must fit the value: "use rate(4 hours) or more" for a rate that is too long,
		// or "must be a positive whole number" for one that is, send a user the wrong way.
		tooOften := strings.Contains(e.Problem, "more often than every 4 hours") && n.Cmp(big.NewInt(4)) >= 0
		notPositive := strings.Contains(e.Problem, "positive whole number") && n.Sign() > 0
		if tooOften || notPositive {
			t.Fatalf("Parse(%q) misreads rate(%v %s): %v", expr, n, unit, err)
		}
	}
	if e.Field == "Hours" {
		if m := apartRE.FindStringSubmatch(e.Problem); m != nil {
			if d, _ := strconv.Atoi(m[1]); d < 0 || d >= 4 {
				t.Fatalf("Parse(%q): windows %d hours apart are not too close: %v", expr, d, err)
			}
		}
	}
}

var apartRE = regexp.MustCompile(`opens windows (-?[0-9]+) hours apart`)

func checkAccepted(t *testing.T, expr, duration string, s *rotationschedule.Schedule) {
	if s.Expression != strings.TrimSpace(expr) {
		t.Fatalf("Parse(%q).Expression = %q; want the trimmed input", expr, s.Expression)
	}
	if s.Window < time.Hour || s.Window > 24*time.Hour || s.Window%time.Hour != 0 {
		t.Fatalf("Parse(%q, %q): window %v is not a whole number of hours from 1h to 24h", expr, duration, s.Window)
	}
	if duration != "" && fmt.Sprintf("%dh", int(s.Window.Hours())) != strings.TrimLeft(duration, "0") {
		t.Fatalf("Parse(%q, %q): window %v is not the Duration given", expr, duration, s.Window)
	}
	if strings.HasPrefix(s.Expression, "rate(") {
		n, unit, ok := readRate(s.Expression)
		if !ok || !rateInBounds(n, unit) {
			t.Fatalf("Parse(%q) accepted a rate() out of bounds (independent reading: %v %s, %t)", expr, n, unit, ok)
		}
		every := time.Duration(n.Int64()) * time.Hour
		if unit == "days" {
			every *= 24
		}
		if s.Every != every || s.Hours != nil {
			t.Fatalf("Parse(%q) = every %v, hours %v; want every %v", expr, s.Every, s.Hours, every)
		}
		if unit == "hours" && s.Window > s.Every {
			t.Fatalf("Parse(%q, %q): a %v window runs into the next window, %v later", expr, duration, s.Window, s.Every)
		}
		if duration == "" && ((unit == "hours") != (s.Window == time.Hour) || (unit == "days") != (s.Window == 24*time.Hour)) {
			t.Fatalf("Parse(%q): default window %v; want 1h for hours, the whole UTC day for days", expr, s.Window)
		}
		return
	}
	if !strings.HasPrefix(s.Expression, "cron(") || s.Every != 0 || len(s.Hours) == 0 {
		t.Fatalf("Parse(%q) accepted %+v: neither a rate() nor a cron() with hours", expr, s)
	}
	gap := 24
	for i, h := range s.Hours {
		if h < 0 || h > 23 || (i > 0 && h <= s.Hours[i-1]) {
			t.Fatalf("Parse(%q): hours %v are not sorted, distinct and 0-23", expr, s.Hours)
		}
		if i > 0 {
			gap = min(gap, h-s.Hours[i-1])
		}
	}
	last := s.Hours[len(s.Hours)-1]
	if time.Duration(last)*time.Hour+s.Window > 24*time.Hour {
		t.Fatalf("Parse(%q, %q): a %v window at %02d:00 runs into the next UTC day", expr, duration, s.Window, last)
	}
	if len(s.Hours) > 1 && (gap < 4 || s.Window > time.Duration(gap)*time.Hour) {
		t.Fatalf("Parse(%q, %q): hours %v with a %v window: windows less than 4 hours apart or overlapping", expr, duration, s.Hours, s.Window)
	}
	if duration == "" {
		want := time.Hour
		if len(s.Hours) == 1 {
			want = time.Duration(24-last) * time.Hour
		}
		if s.Window != want {
			t.Fatalf("Parse(%q): default window %v; want %v", expr, s.Window, want)
		}
	}
}

// canonical formats an accepted schedule: rate(N hours|days), or its cron() with the Hours field
// written as the list of the hours it selects.
func canonical(s *rotationschedule.Schedule) string {
	if strings.HasPrefix(s.Expression, "rate(") {
		if strings.Contains(s.Expression, "day") {
			return fmt.Sprintf("rate(%d days)", s.Every/(24*time.Hour))
		}
		return fmt.Sprintf("rate(%d hours)", s.Every/time.Hour)
	}
	f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(s.Expression, "cron("), ")"))
	hours := make([]string, len(s.Hours))
	for i, h := range s.Hours {
		hours[i] = strconv.Itoa(h)
	}
	f[1] = strings.Join(hours, ",")
	return "cron(" + strings.Join(f, " ") + ")"
}

func checkReparse(t *testing.T, expr, duration string, want *rotationschedule.Schedule) {
	got, err := rotationschedule.Parse(expr, duration)
	if err != nil {
		t.Fatalf("%q accepted, but its canonical form Parse(%q, %q) is refused: %v", want.Expression, expr, duration, err)
	}
	if got.Window != want.Window || got.Every != want.Every || !slices.Equal(got.Hours, want.Hours) {
		t.Fatalf("%q = %+v, but its canonical form Parse(%q, %q) = %+v", want.Expression, want, expr, duration, got)
	}
}

// readRate reads rate(N unit) without the package's regexp: N as a big integer, unit "hours" or
// "days". Blanks are the regexp's \s: tab, newline, form feed, carriage return and space.
func readRate(expr string) (*big.Int, string, bool) {
	inner, ok := strings.CutPrefix(strings.NewReplacer("\t", " ", "\n", " ", "\f", " ", "\r", " ").Replace(expr), "rate(")
	if !ok {
		return nil, "", false
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok {
		return nil, "", false
	}
	var parts []string
	for p := range strings.SplitSeq(inner, " ") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) != 2 || strings.Trim(parts[0], "0123456789") != "" || len(parts[0]) == 0 {
		return nil, "", false
	}
	n, _ := new(big.Int).SetString(parts[0], 10)
	switch parts[1] {
	case "hour", "hours":
		return n, "hours", true
	case "day", "days":
		return n, "days", true
	}
	return nil, "", false
}

func rateInBounds(n *big.Int, unit string) bool {
	if unit == "hours" {
		return n.Cmp(big.NewInt(4)) >= 0 && n.Cmp(big.NewInt(rotationschedule.MaxDays*24)) <= 0
	}
	return n.Sign() > 0 && n.Cmp(big.NewInt(rotationschedule.MaxDays)) <= 0
}
