package contract

import (
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
)

// A Choice state evaluates its rules in order, And and Or from left to right stopping at the
// first sub-rule that decides (as the interpreter and Step Functions do); a comparison of a
// Variable that selects nothing fails the execution (only IsPresent may test absence). So each
// rule is read knowing that the rules before it did not match, and each sub-rule of an And (Or)
// knowing that the ones before it matched (did not); and a branch knows what its rule tested:
// a Variable compared is present, IsPresent says present or absent.

// choice returns a Choice state's transitions, each with the data its branch knows.
func (a *analyzer) choice(st *asl.State, eff, ctx *Shape, leave func(*Shape) (*Shape, bool)) []edge {
	var edges []edge
	take := func(next string, s *Shape) {
		if out, ok := leave(s); ok {
			edges = append(edges, edge{next, out})
		}
	}
	data := eff
	for i, r := range st.Choices {
		a.checkRule(st, fmt.Sprintf("Choices[%d]", i), r, data, ctx)
		if taken, ok := refine(data, matched(r)); ok {
			take(r.Next, taken)
		}
		var ok bool
		if data, ok = refine(data, notMatched(r)); !ok {
			return edges // a later rule, and Default, are never reached
		}
	}
	if st.Default != "" {
		take(st.Default, data)
	}
	return edges
}

// checkRule checks the paths a rule reads.
func (a *analyzer) checkRule(st *asl.State, field string, r *asl.ChoiceRule, data, ctx *Shape) {
	switch {
	case r.And != nil || r.Or != nil:
		subs, op, and := r.And, "And", true
		if r.Or != nil {
			subs, op, and = r.Or, "Or", false
		}
		for i, sub := range subs {
			a.checkRule(st, fmt.Sprintf("%s.%s[%d]", field, op, i), sub, data, ctx)
			facts := notMatched(sub)
			if and {
				facts = matched(sub)
			}
			var ok bool
			if data, ok = refine(data, facts); !ok {
				return // the later sub-rules are never evaluated
			}
		}
	case r.Not != nil:
		a.checkRule(st, field+".Not", r.Not, data, ctx)
	case r.Operator == "IsPresent":
	default:
		want := operandKinds(r.Operator)
		a.readPath(st, field+".Variable", r.Variable, data, ctx, want)
		if strings.HasSuffix(r.Operator, "Path") {
			text, _ := r.Value.(string)
			a.readPath(st, field+"."+r.Operator, text, data, ctx, want)
		}
	}
}

// operandKinds is what a comparison compares: a Variable of another type never matches.
func operandKinds(op string) kinds {
	switch {
	case strings.HasPrefix(op, "String"), strings.HasPrefix(op, "Timestamp"):
		return kString
	case strings.HasPrefix(op, "Numeric"):
		return kNumber
	case strings.HasPrefix(op, "Boolean"):
		return kBool
	}
	return 0 // the type tests (IsNull, IsString, ...) take anything
}

// parseFact compiles the reference path of a fact; a path on the context object, or one that
// is not a reference path, says nothing of the data (ok false).
func parseFact(text string, present bool) (fact, error) {
	info, err := asl.InspectPath(text)
	if err != nil {
		return fact{}, err
	}
	if info.Context || !info.Definite {
		return fact{}, fmt.Errorf("%s is not a reference path on the state's data", text)
	}
	return fact{path: text, segs: info.Segments, present: present}, nil
}

// variableFacts are what any evaluated comparison tells: its Variable (and, for a ...Path
// operator, its value path) is present, or the evaluation would have failed.
func variableFacts(r *asl.ChoiceRule) []fact {
	var out []fact
	if f, err := parseFact(r.Variable, true); err == nil {
		out = append(out, f)
	}
	if strings.HasSuffix(r.Operator, "Path") {
		if text, ok := r.Value.(string); ok {
			if f, err := parseFact(text, true); err == nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// matched is what the data is known to be when r matched.
func matched(r *asl.ChoiceRule) []fact { return outcome(r, true) }

// notMatched is what the data is known to be when r was evaluated and did not match.
func notMatched(r *asl.ChoiceRule) []fact { return outcome(r, false) }

func outcome(r *asl.ChoiceRule, match bool) []fact {
	switch {
	case r.Not != nil:
		return outcome(r.Not, !match)
	case r.And != nil:
		return combine(r.And, match, true)
	case r.Or != nil:
		return combine(r.Or, match, false)
	case r.Operator == "IsPresent":
		want, _ := r.Value.(bool)
		f, err := parseFact(r.Variable, want == match)
		if err != nil {
			return nil
		}
		return []fact{f}
	}
	return variableFacts(r)
}

// combine is outcome for And (and true) or Or. When every sub-rule was evaluated with the same
// result (an And that matched, an Or that did not), all of their facts hold; otherwise the
// evaluation stopped at some sub-rule i, after the ones before it gave the other result, and only
// what holds whichever i it was is known.
func combine(subs []*asl.ChoiceRule, match, and bool) []fact {
	decisive := !and // the result of a sub-rule that stops an And (false) or an Or (true)
	if match != decisive {
		var out []fact
		for _, s := range subs {
			out = append(out, outcome(s, !decisive)...)
		}
		return out
	}
	var common []fact
	var before []fact
	for i, s := range subs {
		here := append(append([]fact(nil), before...), outcome(s, decisive)...)
		if i == 0 {
			common = here
		} else {
			common = intersect(common, here)
		}
		before = append(before, outcome(s, !decisive)...)
	}
	return common
}

func intersect(a, b []fact) []fact {
	in := map[string]bool{}
	for _, f := range b {
		in[key(f)] = true
	}
	var out []fact
	for _, f := range a {
		if in[key(f)] {
			out = append(out, f)
		}
	}
	return out
}

func key(f fact) string { return fmt.Sprintf("%s %t", f.path, f.present) }
