// Package rotationschedule checks a Secrets Manager rotation schedule (a rate() or cron()
// ScheduleExpression and an optional window Duration) against the rules AWS documents, so that a
// CDK app can refuse a bad schedule at synth time with a message that says what to change, instead
// of failing at deploy time.
//
// Rules (Secrets Manager User Guide, "Rotation schedules"; API RotationRulesType):
//   - rate(Value Unit): Value a positive integer, Unit hour, hours, day or days; at most every 4
//     hours and at least every 999 days. The window starts at midnight UTC.
//   - cron(Minutes Hours Day-of-month Month Day-of-week Year), UTC: Minutes must be 0 (windows open
//     on the hour); Year must be *; one of Day-of-month and Day-of-week must be ?. Wildcards:
//     Hours , - * /; Day-of-month , - * ? / L; Month , - * / (1-12 or JAN-DEC); Day-of-week
//     , - * ? / L # (1-7 or SUN-SAT). Hour increments restart each day.
//   - Duration: [0-9]+h, at least 1h. The window must not run into the next UTC day nor into the
//     next window. Default: 1h for schedules in hours, the rest of the UTC day for daily ones.
//
// As on AWS, a secret cannot rotate more often than every four hours: a cron() that opens windows
// less than four hours apart in a day is refused too.
package rotationschedule

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinInterval is the shortest time between rotations Secrets Manager allows.
const MinInterval = 4 * time.Hour

// MaxDays is the longest rate() in days.
const MaxDays = 999

// Schedule is a checked rotation schedule.
type Schedule struct {
	Expression string
	// Window is how long each rotation window stays open (Duration, or its default).
	Window time.Duration
	// Every is the interval of a rate() schedule; 0 for cron().
	Every time.Duration
	// Hours are the UTC hours at which a cron() schedule opens windows on the days it runs.
	Hours []int
}

// Error is a refused schedule: which part, and what to change.
type Error struct {
	Expression string
	Field      string // "rate", "Minutes", "Hours", ..., "Duration"
	Problem    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("rotation schedule %q: %s: %s", e.Expression, e.Field, e.Problem)
}

var (
	rateRE     = regexp.MustCompile(`^rate\(\s*([0-9]+)\s+(hour|hours|day|days)\s*\)$`)
	durationRE = regexp.MustCompile(`^([0-9]+)h$`)
)

// Parse checks expression and duration (empty for the default window).
func Parse(expression, duration string) (*Schedule, error) {
	expr := strings.TrimSpace(expression)
	fail := func(field, format string, args ...any) (*Schedule, error) {
		return nil, &Error{Expression: expression, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	var window time.Duration
	if duration != "" {
		m := durationRE.FindStringSubmatch(duration)
		if m == nil || len(duration) > 3 {
			return fail("Duration", "%q must be a number of hours such as \"3h\" (pattern [0-9]+h, 2-3 characters)", duration)
		}
		h, _ := strconv.Atoi(m[1])
		if h < 1 || h > 24 {
			return fail("Duration", "%q must be from 1h to 24h: a window cannot run into the next UTC day", duration)
		}
		window = time.Duration(h) * time.Hour
	}
	switch {
	case strings.HasPrefix(expr, "rate("):
		m := rateRE.FindStringSubmatch(expr)
		if m == nil {
			return fail("rate", "write rate(Value Unit) with a whole number and hour, hours, day or days, for example rate(12 hours) or rate(30 days)")
		}
		// The regexp admits digits only, so a value Atoi refuses is too long for an int: compare
		// before converting or multiplying, so no value can wrap into a short interval.
		hours := strings.HasPrefix(m[2], "hour")
		limit := MaxDays
		if hours {
			limit = MaxDays * 24
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > limit {
			if hours {
				return fail("rate", "at most %d days (%d hours) between rotations", MaxDays, MaxDays*24)
			}
			return fail("rate", "rate(%s %s) is longer than %d days, the longest Secrets Manager allows", m[1], m[2], MaxDays)
		}
		if n < 1 {
			return fail("rate", "the value must be a positive whole number")
		}
		s := &Schedule{Expression: expr}
		if hours {
			s.Every = time.Duration(n) * time.Hour
			if s.Every < MinInterval {
				return fail("rate", "rate(%d %s) rotates more often than every 4 hours, the shortest interval Secrets Manager allows; use rate(4 hours) or more", n, m[2])
			}
			s.Window = time.Hour
			if window > 0 {
				if window > s.Every {
					return fail("Duration", "a %s window is longer than the %d hours between rotations; it must be at most %dh", duration, n, n)
				}
				s.Window = window
			}
			return s, nil
		}
		if n > MaxDays {
			return fail("rate", "rate(%d %s) is longer than %d days, the longest Secrets Manager allows", n, m[2], MaxDays)
		}
		s.Every = time.Duration(n) * 24 * time.Hour
		s.Window = 24 * time.Hour // from midnight to the end of the UTC day
		if window > 0 {
			s.Window = window
		}
		return s, nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expression, expr, window, duration)
	default:
		return fail("expression", "must be rate(...) or cron(...), for example rate(30 days) or cron(0 4 ? * SUN *)")
	}
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// field describes one cron field's values and the special forms it accepts.
type field struct {
	name     string
	min, max int
	names    []string // names for min..min+len-1
	question bool     // ? allowed
	last     bool     // L allowed (day of month: last day; day of week: L alone or <day>L)
	hash     bool     // <day>#<n> allowed
}

var (
	hoursField = field{name: "Hours", min: 0, max: 23}
	domField   = field{name: "Day-of-month", min: 1, max: 31, question: true, last: true}
	monthField = field{name: "Month", min: 1, max: 12, names: monthNames}
	dowField   = field{name: "Day-of-week", min: 1, max: 7, names: dayNames, question: true, last: true, hash: true}
)

func parseCron(original, expr string, window time.Duration, duration string) (*Schedule, error) {
	fail := func(f, format string, args ...any) (*Schedule, error) {
		return nil, &Error{Expression: original, Field: f, Problem: fmt.Sprintf(format, args...)}
	}
	parts := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"))
	if len(parts) != 6 {
		return fail("cron", "has %d fields; write cron(Minutes Hours Day-of-month Month Day-of-week Year), for example cron(0 4 ? * SUN *)", len(parts))
	}
	minutes, hours, dom, month, dow, year := parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
	if minutes != "0" {
		return fail("Minutes", "%q must be 0: rotation windows open on the hour", minutes)
	}
	if year != "*" {
		return fail("Year", "%q must be *: Secrets Manager does not support schedules more than a year apart", year)
	}
	if (dom == "?") == (dow == "?") {
		return fail("Day-of-month/Day-of-week", "exactly one of them must be ?, for example cron(0 4 ? * SUN *) or cron(0 4 1 * ? *)")
	}
	hourSet, err := values(hoursField, hours)
	if err != nil {
		return fail("Hours", "%v", err)
	}
	if _, err := values(domField, dom); err != nil {
		return fail("Day-of-month", "%v", err)
	}
	if _, err := values(monthField, month); err != nil {
		return fail("Month", "%v", err)
	}
	if _, err := values(dowField, dow); err != nil {
		return fail("Day-of-week", "%v", err)
	}
	s := &Schedule{Expression: expr, Hours: hourSet}
	last := hourSet[len(hourSet)-1]
	gap := 24 * time.Hour
	for i := 1; i < len(hourSet); i++ {
		gap = min(gap, time.Duration(hourSet[i]-hourSet[i-1])*time.Hour)
	}
	// On a schedule that runs every day, the last window of one day and the first of the next are
	// consecutive too.
	daily := (dom == "*" || dom == "?") && (dow == "*" || dow == "?") && month == "*"
	if daily && len(hourSet) > 1 {
		gap = min(gap, time.Duration(24-last+hourSet[0])*time.Hour)
	}
	if len(hourSet) > 1 && gap < MinInterval {
		return fail("Hours", "%q opens windows %d hours apart; Secrets Manager rotates at most every 4 hours (for example 0/4 or 4/12)", hours, int(gap.Hours()))
	}
	if len(hourSet) > 1 {
		s.Window = time.Hour
	} else {
		s.Window = time.Duration(24-last) * time.Hour // the rest of the UTC day
	}
	if window > 0 {
		if len(hourSet) > 1 && window > gap {
			return fail("Duration", "a %s window runs into the next window, %d hours later; use at most %dh", duration, int(gap.Hours()), int(gap.Hours()))
		}
		if time.Duration(last)*time.Hour+window > 24*time.Hour {
			return fail("Duration", "a %s window opening at %02d:00 UTC runs into the next UTC day; use at most %dh", duration, last, 24-last)
		}
		s.Window = window
	}
	return s, nil
}

// values expands a cron field to the sorted values it selects, for Hours; for the day and month
// fields it only checks the syntax (the result is not used beyond that).
func values(f field, spec string) ([]int, error) {
	if spec == "?" {
		if !f.question {
			return nil, fmt.Errorf("? is not allowed here")
		}
		return nil, nil
	}
	var out []int
	for _, item := range strings.Split(spec, ",") {
		vs, err := item1(f, item)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func item1(f field, item string) ([]int, error) {
	switch {
	case item == "":
		return nil, fmt.Errorf("empty list item")
	case item == "?":
		return nil, fmt.Errorf("? must stand alone")
	case f.last && item == "L":
		return []int{f.max}, nil
	case f.last && f.names != nil && strings.HasSuffix(item, "L"): // SUNL, 1L: last such day of the month
		d, err := value(f, strings.TrimSuffix(item, "L"))
		return []int{d}, err
	case f.hash && strings.Contains(item, "#"):
		d, n, _ := strings.Cut(item, "#")
		day, err := value(f, d)
		if err != nil {
			return nil, err
		}
		if k, err := strconv.Atoi(n); err != nil || k < 1 || k > 5 {
			return nil, fmt.Errorf("%q: the week after # must be 1 to 5", item)
		}
		return []int{day}, nil
	}
	rng, stepStr, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepStr)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: the increment after / must be a positive whole number", item)
		}
		step = n
	}
	lo, hi := f.min, f.max
	switch {
	case rng == "*":
	case strings.Contains(rng, "-"):
		a, b, _ := strings.Cut(rng, "-")
		var err error
		if lo, err = value(f, a); err != nil {
			return nil, err
		}
		if hi, err = value(f, b); err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("%q: the range runs backwards", item)
		}
	default:
		v, err := value(f, rng)
		if err != nil {
			return nil, err
		}
		lo = v
		if !hasStep {
			hi = v
		}
	}
	var out []int
	for v := lo; v <= hi; v += step {
		out = append(out, v)
		if step > hi-v {
			break // the next value is past the range (and v+step could overflow)
		}
	}
	return out, nil
}

func value(f field, s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		extra := ""
		if f.names != nil {
			extra = fmt.Sprintf(" or %s-%s", f.names[0], f.names[len(f.names)-1])
		}
		return 0, fmt.Errorf("%q is not a value from %d to %d%s", s, f.min, f.max, extra)
	}
	return v, nil
}
