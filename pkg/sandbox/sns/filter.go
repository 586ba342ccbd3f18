package sns

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
)

// Filter policies, as SNS documents them: a JSON object whose keys name message attributes (or,
// with FilterPolicyScope MessageBody, properties of the JSON message, nested) and whose values
// are arrays of conditions. Keys AND, the conditions of one key OR, "$or" ORs whole sub-policies.
// Conditions: a string or number (exact), {"prefix"}, {"suffix"}, {"equals-ignore-case"},
// {"anything-but": value | [values] | {"prefix": p} | {"suffix": s}}, {"numeric": [op, n, ...]},
// {"exists": bool} and {"cidr": "10.0.0.0/24"}. Limits: 5 keys, 150 combinations.

// policyError is a reason a filter policy is refused, worded as SNS words it (capitalized, as it
// ends up in the InvalidParameter message).
type policyError string

func (e policyError) Error() string { return string(e) }

func policyErrorf(format string, args ...any) error { return policyError(fmt.Sprintf(format, args...)) }

// policy is a parsed filter policy.
type policy struct {
	clauses []clause   // all must match
	ors     [][]policy // each "$or": one of the alternatives must match
}

type clause struct {
	path  []string // attribute name, or property path in the message body
	conds []cond   // any may match
}

type cond struct {
	kind   string // exact, prefix, suffix, ignorecase, anythingbut, anythingbutprefix, anythingbutsuffix, numeric, exists, cidr
	str    string
	num    *float64
	values []any // anything-but list
	ops    []numOp
	exists bool
	prefix netip.Prefix
}

var numericOps = map[string]bool{"=": true, "<": true, "<=": true, ">": true, ">=": true}

type numOp struct {
	op  string
	val float64
}

const (
	maxPolicyKeys         = 5
	maxPolicyCombinations = 150
)

// parsePolicy parses and validates a filter policy. body says whether nested objects are allowed
// (FilterPolicyScope MessageBody).
func parsePolicy(text string, body bool) (*policy, error) {
	var raw map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, policyErrorf("the policy is not a JSON object: %v", err)
	}
	p, keys, combos, err := parseObject(raw, nil, body)
	if err != nil {
		return nil, err
	}
	if keys > maxPolicyKeys {
		return nil, policyErrorf("Filter policy can not have more than %d keys", maxPolicyKeys)
	}
	if combos > maxPolicyCombinations {
		return nil, policyErrorf("Filter policy is too complex: %d combinations, the maximum is %d", combos, maxPolicyCombinations)
	}
	return p, nil
}

func parseObject(raw map[string]any, prefix []string, body bool) (*policy, int, int, error) {
	p := &policy{}
	keys, combos := 0, 1
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := raw[k]
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, 0, 0, policyErrorf("$or must be an array of at least two objects")
			}
			var group []policy
			sum := 0
			for _, a := range alts {
				obj, ok := a.(map[string]any)
				if !ok {
					return nil, 0, 0, policyErrorf("$or must be an array of objects")
				}
				sub, k2, c2, err := parseObject(obj, prefix, body)
				if err != nil {
					return nil, 0, 0, err
				}
				group = append(group, *sub)
				keys = max(keys, k2)
				sum += c2
			}
			p.ors = append(p.ors, group)
			combos *= sum
			continue
		}
		path := append(append([]string(nil), prefix...), k)
		switch val := v.(type) {
		case []any:
			conds, err := parseConds(k, val)
			if err != nil {
				return nil, 0, 0, err
			}
			p.clauses = append(p.clauses, clause{path: path, conds: conds})
			keys++
			combos *= len(conds)
		case map[string]any:
			if !body {
				return nil, 0, 0, policyErrorf("Filter policy scope MessageAttributes does not support nested filter policy (key %q)", k)
			}
			sub, k2, c2, err := parseObject(val, path, body)
			if err != nil {
				return nil, 0, 0, err
			}
			p.clauses = append(p.clauses, sub.clauses...)
			p.ors = append(p.ors, sub.ors...)
			keys += k2
			combos *= c2
		default:
			return nil, 0, 0, policyErrorf("Match value of key %q must be an array", k)
		}
	}
	return p, keys, combos, nil
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

func parseConds(key string, vals []any) ([]cond, error) {
	if len(vals) == 0 {
		return nil, policyErrorf("Empty arrays are not allowed (key %q)", key)
	}
	var out []cond
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			out = append(out, cond{kind: "exact", str: x})
		case json.Number:
			f, _ := toFloat(x)
			out = append(out, cond{kind: "exact", num: &f})
		case nil:
			out = append(out, cond{kind: "exact", values: []any{nil}})
		case bool:
			out = append(out, cond{kind: "exact", values: []any{x}})
		case map[string]any:
			c, err := parseOperator(key, x)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		default:
			return nil, policyErrorf("Match value of key %q has an unsupported type", key)
		}
	}
	return out, nil
}

func parseOperator(key string, obj map[string]any) (cond, error) {
	if len(obj) != 1 {
		return cond{}, policyErrorf("Only one operator is allowed per condition (key %q)", key)
	}
	for op, arg := range obj {
		switch op {
		case "prefix", "suffix", "equals-ignore-case":
			s, ok := arg.(string)
			if !ok || s == "" && op != "equals-ignore-case" {
				return cond{}, policyErrorf("%s match pattern must be a non-empty string (key %q)", op, key)
			}
			kind := map[string]string{"prefix": "prefix", "suffix": "suffix", "equals-ignore-case": "ignorecase"}[op]
			return cond{kind: kind, str: s}, nil
		case "exists":
			b, ok := arg.(bool)
			if !ok {
				return cond{}, policyErrorf("exists match pattern must be either true or false (key %q)", key)
			}
			return cond{kind: "exists", exists: b}, nil
		case "cidr":
			s, _ := arg.(string)
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				return cond{}, policyErrorf("Malformed CIDR %q (key %q)", s, key)
			}
			return cond{kind: "cidr", prefix: pfx.Masked()}, nil
		case "anything-but":
			switch a := arg.(type) {
			case string, json.Number:
				return cond{kind: "anythingbut", values: []any{a}}, nil
			case []any:
				for _, e := range a {
					switch e.(type) {
					case string, json.Number:
					default:
						return cond{}, policyErrorf("anything-but list must contain strings or numbers (key %q)", key)
					}
				}
				return cond{kind: "anythingbut", values: a}, nil
			case map[string]any:
				if s, ok := a["prefix"].(string); ok && len(a) == 1 {
					return cond{kind: "anythingbutprefix", str: s}, nil
				}
				if s, ok := a["suffix"].(string); ok && len(a) == 1 {
					return cond{kind: "anythingbutsuffix", str: s}, nil
				}
			}
			return cond{}, policyErrorf("Unsupported anything-but pattern (key %q)", key)
		case "numeric":
			list, ok := arg.([]any)
			if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
				return cond{}, policyErrorf("numeric must be an array of one or two operator/value pairs (key %q)", key)
			}
			var ops []numOp
			for i := 0; i < len(list); i += 2 {
				op, ok := list[i].(string)
				f, fok := toFloat(list[i+1])
				if !ok || !fok || !numericOps[op] {
					return cond{}, policyErrorf("Unrecognized numeric range operator or value (key %q)", key)
				}
				if math.Abs(f) > 1e9 {
					return cond{}, policyErrorf("Numeric values must be within -1,000,000,000 and 1,000,000,000 (key %q)", key)
				}
				ops = append(ops, numOp{op, f})
			}
			return cond{kind: "numeric", ops: ops}, nil
		default:
			return cond{}, policyErrorf("Unrecognized match type %s (key %q)", op, key)
		}
	}
	return cond{}, nil
}

// values is what a message offers for one clause: nil when absent (exists:false), otherwise the
// scalar values (strings, float64s, bools, nils).
type lookup func(path []string) (vals []any, present bool)

func (p *policy) matches(get lookup) bool {
	for _, c := range p.clauses {
		vals, present := get(c.path)
		if !c.matches(vals, present) {
			return false
		}
	}
	for _, group := range p.ors {
		ok := false
		for i := range group {
			if group[i].matches(get) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (c clause) matches(vals []any, present bool) bool {
	for _, cd := range c.conds {
		if cd.kind == "exists" {
			if cd.exists == present {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		if cd.kind == "anythingbut" || cd.kind == "anythingbutprefix" || cd.kind == "anythingbutsuffix" {
			// anything-but matches when no value of the message is excluded.
			if len(vals) > 0 && !anyValue(vals, func(v any) bool { return !cd.matchOne(v) }) {
				return true
			}
			continue
		}
		if anyValue(vals, cd.matchOne) {
			return true
		}
	}
	return false
}

func anyValue(vals []any, f func(any) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
	}
	return false
}

// matchOne tests one message value against the condition (for anything-but: whether the value is
// allowed).
func (cd cond) matchOne(v any) bool {
	s, isStr := v.(string)
	f, isNum := v.(float64)
	switch cd.kind {
	case "exact":
		switch {
		case cd.num != nil:
			return isNum && f == *cd.num
		case cd.values != nil:
			return v == cd.values[0]
		default:
			return isStr && s == cd.str
		}
	case "prefix":
		return isStr && strings.HasPrefix(s, cd.str)
	case "suffix":
		return isStr && strings.HasSuffix(s, cd.str)
	case "ignorecase":
		return isStr && strings.EqualFold(s, cd.str)
	case "cidr":
		a, err := netip.ParseAddr(s)
		return isStr && err == nil && cd.prefix.Contains(a)
	case "numeric":
		if !isNum {
			return false
		}
		for _, o := range cd.ops {
			ok := map[string]bool{"=": f == o.val, "<": f < o.val, "<=": f <= o.val, ">": f > o.val, ">=": f >= o.val}[o.op]
			if !ok {
				return false
			}
		}
		return true
	case "anythingbut":
		for _, ex := range cd.values {
			switch e := ex.(type) {
			case string:
				if isStr && s == e {
					return false
				}
			case json.Number:
				ef, _ := toFloat(e)
				if isNum && f == ef {
					return false
				}
			}
		}
		return true
	case "anythingbutprefix":
		return !(isStr && strings.HasPrefix(s, cd.str))
	case "anythingbutsuffix":
		return !(isStr && strings.HasSuffix(s, cd.str))
	}
	return false
}

// attributeLookup offers a message's attributes to a MessageAttributes-scope policy: String as a
// string, Number as a number, String.Array as its elements; Binary attributes never match.
func attributeLookup(attrs map[string]MessageAttribute) lookup {
	return func(path []string) ([]any, bool) {
		a, ok := attrs[path[0]]
		if !ok || len(path) != 1 {
			return nil, false
		}
		switch {
		case a.DataType == "Number" || strings.HasPrefix(a.DataType, "Number."):
			f, err := parseNumber(a.StringValue)
			if err != nil {
				return nil, true
			}
			return []any{f}, true
		case a.DataType == "String.Array":
			var arr []any
			if json.Unmarshal([]byte(a.StringValue), &arr) != nil {
				return nil, true
			}
			return arr, true
		case a.DataType == "String" || strings.HasPrefix(a.DataType, "String."):
			return []any{a.StringValue}, true
		}
		return nil, true
	}
}

// bodyLookup offers the properties of a JSON message body; arrays offer their elements.
func bodyLookup(message string) lookup {
	var doc any
	if json.Unmarshal([]byte(message), &doc) != nil {
		doc = nil
	}
	return func(path []string) ([]any, bool) {
		cur := []any{doc}
		for _, k := range path {
			var next []any
			for _, c := range cur {
				switch x := c.(type) {
				case map[string]any:
					if v, ok := x[k]; ok {
						next = append(next, v)
					}
				case []any:
					for _, e := range x {
						if m, ok := e.(map[string]any); ok {
							if v, ok := m[k]; ok {
								next = append(next, v)
							}
						}
					}
				}
			}
			if len(next) == 0 {
				return nil, false
			}
			cur = next
		}
		var out []any
		for _, c := range cur {
			if arr, ok := c.([]any); ok {
				out = append(out, arr...)
			} else {
				out = append(out, c)
			}
		}
		return out, true
	}
}
