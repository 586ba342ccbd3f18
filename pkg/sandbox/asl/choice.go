package asl

import (
	"strings"
)

// matchRule evaluates one Choice rule against the state's effective input. A comparison whose
// Variable points at nothing is a States.Runtime failure (only IsPresent may test absence); a
// Variable of the wrong type for the operator does not match, as in AWS.
func matchRule(r *ChoiceRule, data, ctx any) (bool, error) {
	switch {
	case r.And != nil:
		for _, s := range r.And {
			ok, err := matchRule(s, data, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.Or != nil:
		for _, s := range r.Or {
			ok, err := matchRule(s, data, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := matchRule(r.Not, data, ctx)
		return !ok && err == nil, err
	}
	if r.Operator == "IsPresent" {
		want, _ := r.Value.(bool)
		return present(r.Variable, data, ctx) == want, nil
	}
	v, err := evalPath(r.Variable, data, ctx)
	if err != nil {
		return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.Variable)
	}
	op, want := r.Operator, r.Value
	if strings.HasSuffix(op, "Path") {
		op = strings.TrimSuffix(op, "Path")
		want, err = evalPath(r.Value.(string), data, ctx)
		if err != nil {
			return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.Value)
		}
	}
	if is, ok := typeTests[op]; ok {
		b, _ := want.(bool)
		return is(v) == b, nil
	}
	switch op {
	case "BooleanEquals":
		x, ok1 := v.(bool)
		y, ok2 := want.(bool)
		return ok1 && ok2 && x == y, nil
	case "StringMatches":
		x, ok1 := v.(string)
		y, ok2 := want.(string)
		return ok1 && ok2 && wildcardMatch(y, x), nil
	}
	if strings.HasPrefix(op, "String") {
		x, ok1 := v.(string)
		y, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return compare(op[len("String"):], strings.Compare(x, y)), nil
	}
	if strings.HasPrefix(op, "Numeric") {
		x, ok1 := v.(float64)
		y, ok2 := want.(float64)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if x < y {
			c = -1
		} else if x > y {
			c = 1
		}
		return compare(op[len("Numeric"):], c), nil
	}
	if strings.HasPrefix(op, "Timestamp") {
		xs, ok1 := v.(string)
		ys, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		x, ok1 := parseTimestamp(xs)
		y, ok2 := parseTimestamp(ys)
		if !ok1 || !ok2 {
			return false, nil
		}
		return compare(op[len("Timestamp"):], x.Compare(y)), nil
	}
	return false, runtimeErr("unknown Choice operator %s", r.Operator)
}

// typeTests are the type-test operators of Choice rules (IsNull: true matches a null value, false
// any other).
var typeTests = map[string]func(v any) bool{
	"IsNull":    func(v any) bool { return v == nil },
	"IsNumeric": isA[float64],
	"IsString":  isA[string],
	"IsBoolean": isA[bool],
	"IsTimestamp": func(v any) bool {
		s, ok := v.(string)
		if ok {
			_, ok = parseTimestamp(s)
		}
		return ok
	},
}

func isA[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

func compare(rel string, c int) bool {
	switch rel {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// wildcardMatch implements StringMatches: '*' matches any run of characters; "\*" is a literal
// asterisk and "\\" a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		r    rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		if pr[i] == '\\' && i+1 < len(pr) {
			toks = append(toks, tok{r: pr[i+1]})
			i++
			continue
		}
		toks = append(toks, tok{star: pr[i] == '*', r: pr[i]})
	}
	sr := []rune(s)
	// Classic iterative wildcard match with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].r == sr[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			si = starS
			ti = starT + 1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
