package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// CheckResult tells whether raw is an answer the step could give, for scripted answers
// (pkg/sandbox/asl/testdata/statemachines): it decodes into Out with no member Out lacks (a script
// cannot answer what the step never emits), and every member Out always emits (no omitempty, at
// any depth) is there (a script cannot leave out what the step always emits). Every problem is
// listed, by its path in raw.
func (s Step) CheckResult(raw json.RawMessage) error {
	problems, err := departures(raw, s.Out, OfType(s.Out))
	if err != nil {
		return fmt.Errorf("%s: %w", s.Function, err)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("step %s (%s): %s", s.Function, typeName(s.Out), strings.Join(problems, "; "))
}

// CheckInput tells whether raw is an execution input the workflow's starter could send: it
// decodes into Input with no member Input lacks, has every member Input always has, and has the
// members the starter always fills (Present).
func (w Workflow) CheckInput(raw json.RawMessage) error {
	shape, err := w.InputShape()
	if err != nil {
		return err
	}
	problems, err := departures(raw, w.Input, shape)
	if err != nil {
		return fmt.Errorf("%s input: %w", w.File, err)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s input (%s): %s", w.File, typeName(w.Input), strings.Join(problems, "; "))
}

// departures lists how raw departs from the Go type t and its shape: a member t lacks (a strict
// decode into t fails), and, by its path in raw, every departure conform finds. err is raw not
// being JSON at all.
func departures(raw json.RawMessage, t reflect.Type, shape *Shape) ([]string, error) {
	var problems []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(reflect.New(t).Interface()); err != nil {
		problems = append(problems, "does not decode into "+typeName(t)+": "+err.Error())
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return append(problems, conform(v, shape, "$")...), nil
}

// conform lists where a decoded JSON value departs from a shape: a type the shape does not
// allow, a member it does not have, a member it always has missing.
func conform(v any, s *Shape, at string) []string {
	if s == nil || s.Unknown {
		return nil
	}
	var k kinds
	switch v.(type) {
	case nil:
		k = kNull
	case bool:
		k = kBool
	case float64:
		k = kNumber
	case string:
		k = kString
	case []any:
		k = kArray
	case map[string]any:
		k = kObject
	}
	if s.Kinds&k == 0 {
		return []string{fmt.Sprintf("%s is %s, but the step emits %s there", at, k, s.describe())}
	}
	var out []string
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			out = append(out, conform(e, s.Elem, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for key := range x {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			f, ok := s.Fields[key]
			switch {
			case ok:
				out = append(out, conform(x[key], f.Shape, at+"."+key)...)
			case s.Open != nil:
				out = append(out, conform(x[key], s.Open, at+"."+key)...)
			default:
				out = append(out, fmt.Sprintf("%s.%s is never emitted (%s has %s)", at, key, s.describe(), strings.Join(s.fieldNames(), ", ")))
			}
		}
		for _, key := range s.fieldNames() {
			if _, ok := x[key]; !ok && !s.Fields[key].Maybe {
				out = append(out, fmt.Sprintf("%s.%s is missing, but the step always emits it (no omitempty)", at, key))
			}
		}
	}
	return out
}
