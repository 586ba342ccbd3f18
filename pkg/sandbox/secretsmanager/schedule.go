package secretsmanager

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// schedule is a validated RotationRules: an interval (AutomaticallyAfterDays or rate()) or a cron
// expression, with its rotation window.
type schedule struct {
	every  time.Duration // interval of rate() or AutomaticallyAfterDays; 0 for cron
	daily  bool          // the interval is in days
	cron   *cronSpec
	window time.Duration
}

var (
	rateRe     = regexp.MustCompile(`^rate\(([0-9]+) (hour|hours|day|days)\)$`)
	durationRe = regexp.MustCompile(`^[0-9]{1,2}h$`)
)

const minRotationInterval = 4 * time.Hour

// parseRules validates RotationRules as RotateSecret does and returns the schedule. Every error is
// an InvalidParameterException naming the field and what the service accepts.
func parseRules(r *RotationRules) (*schedule, error) {
	if r == nil {
		return nil, nil
	}
	if r.AutomaticallyAfterDays != nil && r.ScheduleExpression != nil {
		return nil, errInvalidParam("RotationRules: specify AutomaticallyAfterDays or ScheduleExpression, not both.")
	}
	var window time.Duration
	if r.Duration != nil {
		if !durationRe.MatchString(*r.Duration) {
			return nil, errInvalidParam("RotationRules.Duration %q must be a number of hours such as \"3h\" (pattern [0-9]+h).", *r.Duration)
		}
		h, _ := strconv.Atoi(strings.TrimSuffix(*r.Duration, "h"))
		if h < 1 || h > 24 {
			return nil, errInvalidParam("RotationRules.Duration %q must be between 1h and 24h.", *r.Duration)
		}
		window = time.Duration(h) * time.Hour
	}
	sc := &schedule{}
	switch {
	case r.AutomaticallyAfterDays != nil:
		d := *r.AutomaticallyAfterDays
		if d < 1 || d > 1000 {
			return nil, errInvalidParam("RotationRules.AutomaticallyAfterDays must be between 1 and 1000; got %d.", d)
		}
		sc.every, sc.daily = time.Duration(d)*24*time.Hour, true
	case r.ScheduleExpression != nil:
		expr := *r.ScheduleExpression
		if len(expr) < 1 || len(expr) > 256 {
			return nil, errInvalidParam("RotationRules.ScheduleExpression must be 1 to 256 characters.")
		}
		switch {
		case strings.HasPrefix(expr, "rate("):
			m := rateRe.FindStringSubmatch(expr)
			if m == nil {
				return nil, errInvalidParam("RotationRules.ScheduleExpression %q is not a valid rate expression: use rate(Value Unit) with a positive integer Value and a Unit of hour, hours, day or days, for example rate(12 hours) or rate(10 days).", expr)
			}
			n, err := strconv.Atoi(m[1])
			if err != nil || n < 1 {
				return nil, errInvalidParam("RotationRules.ScheduleExpression %q: the value must be a positive integer.", expr)
			}
			if strings.HasPrefix(m[2], "hour") {
				sc.every = time.Duration(n) * time.Hour
				if sc.every < minRotationInterval {
					return nil, errInvalidParam("RotationRules.ScheduleExpression %q rotates more often than every four hours, the most frequent schedule Secrets Manager allows.", expr)
				}
			} else {
				if n > 1000 {
					return nil, errInvalidParam("RotationRules.ScheduleExpression %q: at most 1000 days between rotations.", expr)
				}
				sc.every, sc.daily = time.Duration(n)*24*time.Hour, true
			}
		case strings.HasPrefix(expr, "cron("):
			c, err := parseCron(expr)
			if err != nil {
				return nil, errInvalidParam("RotationRules.ScheduleExpression %q is not a valid cron expression: %v.", expr, err)
			}
			sc.cron = c
		default:
			return nil, errInvalidParam("RotationRules.ScheduleExpression %q must be a rate() or cron() expression.", expr)
		}
	default:
		if r.Duration != nil {
			return nil, errInvalidParam("RotationRules.Duration needs a ScheduleExpression or AutomaticallyAfterDays to start the window from.")
		}
		return nil, nil
	}
	// The window: defaults, then the documented bounds (not into the next window, not into the
	// next UTC day).
	const day = 24 * time.Hour
	switch {
	case sc.cron != nil:
		gap, last := sc.cron.minGap(), sc.cron.lastHour()
		if window == 0 {
			if sc.cron.hoursPerDay() > 1 {
				window = time.Hour
			} else {
				window = day - time.Duration(last)*time.Hour
			}
		}
		if window > gap || time.Duration(last)*time.Hour+window > day {
			return nil, errInvalidParam("RotationRules.Duration %s: the rotation window must not extend into the next rotation window or the next UTC day.", window)
		}
	case sc.daily:
		if window == 0 {
			window = day
		}
	default:
		if window == 0 {
			window = time.Hour
		}
		if window > sc.every {
			return nil, errInvalidParam("RotationRules.Duration %s is longer than the %s between rotations: the rotation window must not extend into the next rotation window.", window, sc.every)
		}
	}
	sc.window = window
	return sc, nil
}

// next is the start of the first rotation window after from. Only the date is predictable on AWS
// (the hour within the window is random); the sandbox reports the window's start.
func (sc *schedule) next(from time.Time) (time.Time, bool) {
	from = from.UTC()
	switch {
	case sc.cron != nil:
		return sc.cron.next(from)
	case sc.daily:
		return from.Truncate(24 * time.Hour).Add(sc.every), true
	default:
		return from.Truncate(time.Hour).Add(sc.every), true
	}
}

// cronSpec is a parsed Secrets Manager cron(Minutes Hours Day-of-month Month Day-of-week Year),
// minutes always 0 and year always *.
type cronSpec struct {
	hours  [24]bool
	months [13]bool
	dom    []func(time.Time) bool // nil when the field is ?
	dow    []func(time.Time) bool // nil when the field is ?
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(expr string) (*cronSpec, error) {
	body, ok := strings.CutPrefix(expr, "cron(")
	if !ok || !strings.HasSuffix(body, ")") {
		return nil, fmt.Errorf("write cron(Minutes Hours Day-of-month Month Day-of-week Year)")
	}
	f := strings.Fields(strings.TrimSuffix(body, ")"))
	if len(f) != 6 {
		return nil, fmt.Errorf("it has %d fields; it needs 6: Minutes Hours Day-of-month Month Day-of-week Year", len(f))
	}
	if strings.Trim(f[0], "0") != "" {
		return nil, fmt.Errorf("the Minutes field must be 0 (rotation windows start on the hour)")
	}
	if f[5] != "*" {
		return nil, fmt.Errorf("the Year field must be *")
	}
	if (f[2] == "?") == (f[4] == "?") {
		return nil, fmt.Errorf("exactly one of Day-of-month and Day-of-week must be ?")
	}
	c := &cronSpec{}
	hours, err := parseSet(f[1], 0, 23, nil)
	if err != nil {
		return nil, fmt.Errorf("in the Hours field: %w", err)
	}
	for _, h := range hours {
		c.hours[h] = true
	}
	months, err := parseSet(f[3], 1, 12, monthNames)
	if err != nil {
		return nil, fmt.Errorf("in the Month field: %w", err)
	}
	for _, m := range months {
		c.months[m] = true
	}
	if f[2] != "?" {
		if c.dom, err = parseDOM(f[2]); err != nil {
			return nil, fmt.Errorf("in the Day-of-month field: %w", err)
		}
	}
	if f[4] != "?" {
		if c.dow, err = parseDOW(f[4]); err != nil {
			return nil, fmt.Errorf("in the Day-of-week field: %w", err)
		}
	}
	if g := c.minGap(); g < minRotationInterval {
		return nil, fmt.Errorf("it rotates every %s; Secrets Manager rotates at most every four hours", g)
	}
	return c, nil
}

// parseSet expands a list of values, ranges, * and increments (a/b, */b, a-b/c).
func parseSet(field string, lo, hi int, names map[string]int) ([]int, error) {
	var out []int
	for _, item := range strings.Split(field, ",") {
		base, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("increment %q must be a positive integer", stepStr)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case base == "*":
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			var err error
			if from, err = value(a, lo, hi, names); err != nil {
				return nil, err
			}
			if to, err = value(b, lo, hi, names); err != nil {
				return nil, err
			}
			if from > to {
				return nil, fmt.Errorf("range %q runs backwards", base)
			}
		default:
			v, err := value(base, lo, hi, names)
			if err != nil {
				return nil, err
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		for v := from; v <= to; v += step {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not a value from %d to %d", s, lo, hi)
	}
	return v, nil
}

func lastDay(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nearestWeekday is the weekday (Mon-Fri) nearest to day n of t's month, within the month.
func nearestWeekday(t time.Time, n int) int {
	last := lastDay(t)
	if n > last {
		n = last
	}
	d := time.Date(t.Year(), t.Month(), n, 0, 0, 0, 0, time.UTC)
	switch d.Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

func parseDOM(field string) ([]func(time.Time) bool, error) {
	var preds []func(time.Time) bool
	for _, item := range strings.Split(field, ",") {
		switch {
		case item == "L":
			preds = append(preds, func(t time.Time) bool { return t.Day() == lastDay(t) })
		case item == "LW":
			preds = append(preds, func(t time.Time) bool { return t.Day() == nearestWeekday(t, lastDay(t)) })
		case strings.HasSuffix(item, "W"):
			n, err := value(strings.TrimSuffix(item, "W"), 1, 31, nil)
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(t time.Time) bool { return t.Day() == nearestWeekday(t, n) })
		default:
			days, err := parseSet(item, 1, 31, nil)
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(t time.Time) bool { return slices.Contains(days, t.Day()) })
		}
	}
	return preds, nil
}

func parseDOW(field string) ([]func(time.Time) bool, error) {
	var preds []func(time.Time) bool
	wd := func(t time.Time) int { return int(t.Weekday()) + 1 } // SUN=1 ... SAT=7
	for _, item := range strings.Split(field, ",") {
		switch {
		case item == "L":
			preds = append(preds, func(t time.Time) bool { return wd(t) == 7 })
		case strings.Contains(item, "#"):
			d, k, _ := strings.Cut(item, "#")
			day, err := value(d, 1, 7, dayNames)
			if err != nil {
				return nil, err
			}
			nth, err := value(k, 1, 5, nil)
			if err != nil {
				return nil, fmt.Errorf("in %q the week number must be 1 to 5", item)
			}
			preds = append(preds, func(t time.Time) bool { return wd(t) == day && (t.Day()-1)/7+1 == nth })
		case len(item) > 1 && strings.HasSuffix(item, "L"):
			day, err := value(strings.TrimSuffix(item, "L"), 1, 7, dayNames)
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(t time.Time) bool { return wd(t) == day && t.Day()+7 > lastDay(t) })
		default:
			days, err := parseSet(item, 1, 7, dayNames)
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(t time.Time) bool { return slices.Contains(days, wd(t)) })
		}
	}
	return preds, nil
}

func (c *cronSpec) hoursPerDay() int {
	n := 0
	for _, h := range c.hours {
		if h {
			n++
		}
	}
	return n
}

func (c *cronSpec) lastHour() int {
	for h := 23; h >= 0; h-- {
		if c.hours[h] {
			return h
		}
	}
	return 0
}

// minGap is the shortest time between two rotation windows: between hours of one day, and from
// the last hour of a day to the first of the next (increments reset each day).
func (c *cronSpec) minGap() time.Duration {
	var hs []int
	for h, ok := range c.hours {
		if ok {
			hs = append(hs, h)
		}
	}
	gap := 24
	for i := 1; i < len(hs); i++ {
		gap = min(gap, hs[i]-hs[i-1])
	}
	if len(hs) > 1 {
		gap = min(gap, 24-hs[len(hs)-1]+hs[0])
	}
	return time.Duration(gap) * time.Hour
}

func (c *cronSpec) matchesDay(t time.Time) bool {
	if !c.months[int(t.Month())] {
		return false
	}
	preds := c.dom
	if preds == nil {
		preds = c.dow
	}
	for _, p := range preds {
		if p(t) {
			return true
		}
	}
	return false
}

// next is the first matching hour strictly after from, searched over five years.
func (c *cronSpec) next(from time.Time) (time.Time, bool) {
	day := from.Truncate(24 * time.Hour)
	for i := 0; i < 5*366; i++ {
		d := day.AddDate(0, 0, i)
		if !c.matchesDay(d) {
			continue
		}
		for h := 0; h < 24; h++ {
			if t := d.Add(time.Duration(h) * time.Hour); c.hours[h] && t.After(from) {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
