package events

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Pattern is a compiled EventBridge event pattern
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html).
//
// Supported: exact string, number, boolean and null values (a list is an OR), nested objects,
// "$or", and the content filters prefix, suffix (each also with equals-ignore-case),
// equals-ignore-case, anything-but (a value, a list, or a prefix/suffix/equals-ignore-case
// filter), numeric (=, <, <=, >, >=, combined), exists, cidr and wildcard. A pattern field
// matches an event array when any element matches. Only exists:false matches a missing field.
type Pattern struct {
	root node
}

// node matches one JSON object level: every key must match (AND), plus any of the $or branches.
type node struct {
	fields map[string]field
	or     []node
}

// field is either a nested object or a list of alternatives for a leaf.
type field struct {
	nested *node
	alts   []matcher
}

type matcher interface {
	// match reports whether the event value v (present is false when the field is missing)
	// matches. v is a decoded JSON scalar: string, float64, bool or nil.
	match(v any, present bool) bool
}

// PatternError says why a pattern is invalid; its text is InvalidEventPatternException's message.
type PatternError struct{ Reason string }

func (e *PatternError) Error() string { return "Event pattern is not valid. Reason: " + e.Reason }

// CompilePattern parses and validates a pattern. The error is what PutRule answers in
// InvalidEventPatternException.
func CompilePattern(src string) (*Pattern, error) {
	var raw any
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, &PatternError{Reason: err.Error()}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, &PatternError{Reason: "filter is not an object"}
	}
	n, err := compileNode(obj, "")
	if err != nil {
		return nil, &PatternError{Reason: err.Error()}
	}
	return &Pattern{root: n}, nil
}

func compileNode(obj map[string]any, path string) (node, error) {
	n := node{fields: map[string]field{}}
	if len(obj) == 0 && path != "" {
		return n, fmt.Errorf("empty objects are not allowed at %q", path)
	}
	for k, v := range obj {
		p := strings.TrimPrefix(path+"."+k, ".")
		if k == "$or" {
			list, ok := v.([]any)
			if !ok || len(list) < 2 {
				return n, fmt.Errorf("\"$or\" must be an array of at least two objects")
			}
			for _, item := range list {
				o, ok := item.(map[string]any)
				if !ok {
					return n, fmt.Errorf("\"$or\" items must be objects")
				}
				sub, err := compileNode(o, p)
				if err != nil {
					return n, err
				}
				n.or = append(n.or, sub)
			}
			continue
		}
		switch val := v.(type) {
		case map[string]any:
			sub, err := compileNode(val, p)
			if err != nil {
				return n, err
			}
			n.fields[k] = field{nested: &sub}
		case []any:
			if len(val) == 0 {
				return n, fmt.Errorf("empty arrays are not allowed at %q", p)
			}
			var alts []matcher
			for _, item := range val {
				m, err := compileMatcher(item, p)
				if err != nil {
					return n, err
				}
				alts = append(alts, m)
			}
			n.fields[k] = field{alts: alts}
		default:
			return n, fmt.Errorf("\"%s\" must be an object or an array", p)
		}
	}
	return n, nil
}

type exact struct{ v any }

func (m exact) match(v any, present bool) bool { return present && equalScalar(m.v, v) }

func equalScalar(a, b any) bool {
	switch av := a.(type) {
	case json.Number:
		f, _ := av.Float64()
		bf, ok := b.(float64)
		return ok && bf == f
	default:
		return a == b
	}
}

type stringTest struct {
	test func(string) bool
}

func (m stringTest) match(v any, present bool) bool {
	s, ok := v.(string)
	return present && ok && m.test(s)
}

type existsTest struct{ want bool }

func (m existsTest) match(_ any, present bool) bool { return present == m.want }

type anythingBut struct{ not []matcher }

func (m anythingBut) match(v any, present bool) bool {
	if !present {
		return false
	}
	for _, n := range m.not {
		if n.match(v, true) {
			return false
		}
	}
	return true
}

type numeric struct{ tests []func(float64) bool }

func (m numeric) match(v any, present bool) bool {
	f, ok := v.(float64)
	if !present || !ok {
		return false
	}
	for _, t := range m.tests {
		if !t(f) {
			return false
		}
	}
	return true
}

func compileMatcher(item any, path string) (matcher, error) {
	switch v := item.(type) {
	case string, bool, nil, json.Number:
		return exact{v}, nil
	case map[string]any:
		if len(v) != 1 {
			return nil, fmt.Errorf("a content filter at %q must have exactly one key", path)
		}
		for op, arg := range v {
			return compileFilter(op, arg, path)
		}
	}
	return nil, fmt.Errorf("match value at %q must be a string, number, boolean, null or object", path)
}

func compileFilter(op string, arg any, path string) (matcher, error) {
	switch op {
	case "prefix", "suffix":
		s, fold, err := stringArg(op, arg, path)
		if err != nil {
			return nil, err
		}
		has := strings.HasPrefix
		if op == "suffix" {
			has = strings.HasSuffix
		}
		if fold {
			return stringTest{func(x string) bool { return has(strings.ToLower(x), strings.ToLower(s)) }}, nil
		}
		return stringTest{func(x string) bool { return has(x, s) }}, nil
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("equals-ignore-case match pattern must be a string at %q", path)
		}
		return stringTest{func(x string) bool { return strings.EqualFold(x, s) }}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, fmt.Errorf("exists match pattern must be either true or false at %q", path)
		}
		return existsTest{b}, nil
	case "anything-but":
		var not []matcher
		switch a := arg.(type) {
		case string, json.Number, bool:
			not = append(not, exact{a})
		case []any:
			if len(a) == 0 {
				return nil, fmt.Errorf("anything-but list must not be empty at %q", path)
			}
			for _, x := range a {
				switch x.(type) {
				case string, json.Number:
					not = append(not, exact{x})
				default:
					return nil, fmt.Errorf("anything-but list items must be strings or numbers at %q", path)
				}
			}
		case map[string]any:
			if len(a) != 1 {
				return nil, fmt.Errorf("anything-but filter must have one key at %q", path)
			}
			for k, v := range a {
				if k != "prefix" && k != "suffix" && k != "equals-ignore-case" {
					return nil, fmt.Errorf("unsupported anything-but pattern: %s at %q", k, path)
				}
				m, err := compileFilter(k, v, path)
				if err != nil {
					return nil, err
				}
				not = append(not, m)
			}
		default:
			return nil, fmt.Errorf("anything-but must be a string, number, list or filter at %q", path)
		}
		return anythingBut{not}, nil
	case "numeric":
		list, ok := arg.([]any)
		if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
			return nil, fmt.Errorf("numeric match pattern must be a list of one or two operator/value pairs at %q", path)
		}
		var m numeric
		for i := 0; i < len(list); i += 2 {
			opStr, ok := list[i].(string)
			num, ok2 := list[i+1].(json.Number)
			if !ok || !ok2 {
				return nil, fmt.Errorf("numeric match pattern needs an operator then a number at %q", path)
			}
			n, err := num.Float64()
			if err != nil || math.IsInf(n, 0) {
				return nil, fmt.Errorf("numeric value %s out of range at %q", num, path)
			}
			var t func(float64) bool
			switch opStr {
			case "=":
				t = func(x float64) bool { return x == n }
			case "<":
				t = func(x float64) bool { return x < n }
			case "<=":
				t = func(x float64) bool { return x <= n }
			case ">":
				t = func(x float64) bool { return x > n }
			case ">=":
				t = func(x float64) bool { return x >= n }
			default:
				return nil, fmt.Errorf("unrecognized numeric range operator: %s at %q", opStr, path)
			}
			m.tests = append(m.tests, t)
		}
		return m, nil
	case "cidr":
		s, ok := arg.(string)
		prefix, err := netip.ParsePrefix(s)
		if !ok || err != nil {
			return nil, fmt.Errorf("malformed CIDR, one '/' required at %q", path)
		}
		return stringTest{func(x string) bool {
			a, err := netip.ParseAddr(x)
			return err == nil && prefix.Contains(a)
		}}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("wildcard match pattern must be a string at %q", path)
		}
		parts := strings.Split(s, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		return stringTest{re.MatchString}, nil
	}
	return nil, fmt.Errorf("unrecognized match type %s at %q", op, path)
}

// stringArg reads the argument of prefix/suffix: a string or {"equals-ignore-case": string}.
func stringArg(op string, arg any, path string) (string, bool, error) {
	switch a := arg.(type) {
	case string:
		return a, false, nil
	case map[string]any:
		if s, ok := a["equals-ignore-case"].(string); ok && len(a) == 1 {
			return s, true, nil
		}
	}
	return "", false, fmt.Errorf("%s match pattern must be a string at %q", op, path)
}

// Match reports whether the event (a JSON object, the full envelope) matches.
func (p *Pattern) Match(event []byte) bool {
	var ev any
	if err := json.Unmarshal(event, &ev); err != nil {
		return false
	}
	obj, ok := ev.(map[string]any)
	return ok && p.root.match(obj)
}

func (n node) match(obj map[string]any) bool {
	for _, k := range slices.Sorted(maps.Keys(n.fields)) {
		f := n.fields[k]
		v, present := obj[k]
		if f.nested != nil {
			if !matchNested(*f.nested, v, present) {
				return false
			}
			continue
		}
		if !matchLeaf(f.alts, v, present) {
			return false
		}
	}
	if len(n.or) == 0 {
		return true
	}
	for _, alt := range n.or {
		if alt.match(obj) {
			return true
		}
	}
	return false
}

func matchNested(n node, v any, present bool) bool {
	switch val := v.(type) {
	case map[string]any:
		return n.match(val)
	case []any:
		for _, item := range val {
			if o, ok := item.(map[string]any); ok && n.match(o) {
				return true
			}
		}
		return false
	}
	// A missing object still matches when every field inside only asks for absence.
	return !present && n.match(map[string]any{})
}

func matchLeaf(alts []matcher, v any, present bool) bool {
	if list, ok := v.([]any); ok && present {
		for _, item := range list {
			for _, m := range alts {
				if m.match(item, true) {
					return true
				}
			}
		}
		return false
	}
	if _, ok := v.(map[string]any); ok {
		for _, m := range alts {
			if _, isExists := m.(existsTest); isExists && m.match(v, present) {
				return true
			}
		}
		return false
	}
	for _, m := range alts {
		if m.match(v, present) {
			return true
		}
	}
	return false
}
