package contract

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
)

// Finding is one read of a workflow that can fail, or one payload a step cannot take.
type Finding struct {
	// File is the workflow file (statemachines/<File>); State the state; Field where in the state
	// ("Parameters.Cause.$", "Choices[2].Variable", "InputPath", "Catch[0].ResultPath", ...).
	File, State, Field string
	// Path is the JSONPath read (or written), "" for a finding about a whole payload.
	Path string
	// Problem says what is wrong and why the analysis thinks so.
	Problem string
}

func (f Finding) String() string {
	where := fmt.Sprintf("%s: state %s, %s", f.File, f.State, f.Field)
	if f.Path != "" {
		where += ": " + f.Path
	}
	return where + ": " + f.Problem
}

// Config is what a workflow's check needs besides its text.
type Config struct {
	// File names the workflow in findings.
	File string
	// Input is the execution input's shape.
	Input *Shape
	// Steps maps each ${Placeholder} a Task's Resource names to its step.
	Steps map[string]Step
}

// Check analyses a workflow definition (with its ${Placeholder}s unsubstituted) and returns every
// finding, sorted. The analysis is a data flow over the state graph: each state's input is the
// merge of what every transition into it carries (a member set on only some of them may be
// absent), computed to a fixed point over loops, starting from cfg.Input; a Task's result is its
// step's Out type, a Catch's {Error, Cause}, a Pass state's Result or Parameters, a Choice branch
// knows what its rule (and the rules before it) tested present or absent. Then every path each
// state reads is looked up in its input: absent on some path, or never there, is a finding.
func Check(text []byte, cfg Config) ([]Finding, error) {
	if cfg.Input == nil {
		return nil, fmt.Errorf("%s: no input shape", cfg.File)
	}
	def, err := asl.Parse(substitute(text, cfg.Steps))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	a := &analyzer{cfg: cfg, seen: map[string]bool{}, report: true}
	ctx := contextShape(cfg.Input)
	if _, err := a.machine(def, cfg.Input, ctx); err != nil {
		return nil, err
	}
	sort.Slice(a.findings, func(i, j int) bool { return a.findings[i].String() < a.findings[j].String() })
	return a.findings, nil
}

// functionARN is what a step's ${Placeholder} becomes for the parser: a Lambda ARN whose
// function name is the placeholder, so a Task's Resource leads back to its step.
const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:"

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func substitute(text []byte, steps map[string]Step) []byte {
	return placeholderRE.ReplaceAllFunc(text, func(m []byte) []byte {
		name := string(placeholderRE.FindSubmatch(m)[1])
		if _, ok := steps[name]; ok || strings.HasSuffix(name, "FunctionArn") {
			return []byte(functionARN + name)
		}
		return []byte("arn:aws:sns:us-east-1:123456789012:" + name)
	})
}

// contextShape is the context object ($$) of a state: the documented members of Execution, State
// and StateMachine (a Map iteration's ItemSelector adds Map.Item).
func contextShape(input *Shape) *Shape {
	str, num := scalar(kString), scalar(kNumber)
	members := func(m map[string]*Shape) *Shape {
		f := map[string]Field{}
		for k, s := range m {
			f[k] = Field{Shape: s}
		}
		return object(f)
	}
	return members(map[string]*Shape{
		"Execution":    members(map[string]*Shape{"Id": str, "Input": input, "Name": str, "RoleArn": str, "StartTime": str, "RedriveCount": num}),
		"State":        members(map[string]*Shape{"EnteredTime": str, "Name": str, "RetryCount": num}),
		"StateMachine": members(map[string]*Shape{"Id": str, "Name": str}),
	})
}

// maxVisits bounds the fixed point: widening makes it converge; this only turns a bug of the
// analysis into an error instead of a hang.
const maxVisits = 100000

type analyzer struct {
	cfg      Config
	report   bool
	findings []Finding
	seen     map[string]bool
}

func (a *analyzer) find(st *asl.State, field, path, problem string) {
	if !a.report {
		return
	}
	f := Finding{File: a.cfg.File, State: st.Name, Field: field, Path: path, Problem: problem}
	if k := f.String(); !a.seen[k] {
		a.seen[k] = true
		a.findings = append(a.findings, f)
	}
}

type edge struct {
	next  string
	shape *Shape
}

// machine runs the data flow over one machine (the workflow, a Parallel branch or a Map
// processor) and returns the merge of its outputs.
func (a *analyzer) machine(def *asl.Definition, input, ctx *Shape) (*Shape, error) {
	in := map[string]*Shape{def.StartAt: input}
	work := []string{def.StartAt}
	queued := map[string]bool{def.StartAt: true}
	report := a.report
	a.report = false
	for visits := 0; len(work) > 0; visits++ {
		if visits > maxVisits {
			a.report = report
			return nil, fmt.Errorf("%s: the analysis did not converge after %d state visits", a.cfg.File, maxVisits)
		}
		name := work[0]
		work = work[1:]
		queued[name] = false
		edges, _, err := a.state(def.States[name], in[name], ctx)
		if err != nil {
			a.report = report
			return nil, err
		}
		for _, e := range edges {
			old := in[e.next]
			next := e.shape
			if old != nil {
				next = widen(merge(old, e.shape, "not set on the way from state "+name,
					"set on the way from state "+name+" but not on every other way into state "+e.next), 0)
			}
			if old == nil || !equal(old, next) {
				in[e.next] = next
				if !queued[e.next] {
					queued[e.next] = true
					work = append(work, e.next)
				}
			}
		}
	}
	// The fixed point reached, every state is looked at once more with its final input, reporting.
	a.report = report
	var out *Shape
	for _, name := range def.Order {
		if in[name] == nil {
			continue
		}
		_, terminal, err := a.state(def.States[name], in[name], ctx)
		if err != nil {
			return nil, err
		}
		out = merge(out, terminal, "not set by every end state", "not set by every end state")
	}
	if out == nil {
		out = unknown("the output of a machine that never ends")
	}
	return out, nil
}

// state is one state's transfer: the transitions it makes with what each carries, and its
// output when it ends the machine. A read that can never succeed ends the state's transitions (an
// execution that gets there fails).
func (a *analyzer) state(st *asl.State, raw, ctx *Shape) ([]edge, *Shape, error) {
	if st.Type == "Fail" {
		a.expression(st, "ErrorPath", st.ErrorPath, raw, ctx, kString)
		a.expression(st, "CausePath", st.CausePath, raw, ctx, kString)
		return nil, nil, nil
	}
	eff, ok := a.selectPath(st, "InputPath", st.InputPathField(), raw, ctx)
	if !ok {
		return nil, nil, nil
	}
	if st.HasParameters() {
		if eff, ok = a.template(st, "Parameters", st.Parameters, eff, ctx); !ok {
			return nil, nil, nil
		}
	}
	var edges []edge
	leave := func(out *Shape) (*Shape, bool) {
		out, ok := a.selectPath(st, "OutputPath", st.OutputPathField(), out, ctx)
		if !ok {
			return nil, false
		}
		return out, true
	}
	var result *Shape
	switch st.Type {
	case "Succeed":
		out, ok := leave(eff)
		if !ok {
			return nil, nil, nil
		}
		return nil, out, nil
	case "Choice":
		return a.choice(st, eff, ctx, leave), nil, nil
	case "Wait":
		_, okSeconds := a.expression(st, "SecondsPath", st.SecondsPath, eff, ctx, kNumber)
		_, okTimestamp := a.expression(st, "TimestampPath", st.TimestampPath, eff, ctx, kString)
		if !okSeconds || !okTimestamp {
			return nil, nil, nil
		}
		out, ok := leave(eff)
		if !ok {
			return nil, nil, nil
		}
		return a.next(st, out)
	case "Pass":
		result = eff
		if st.HasResult() {
			result = literal(st.Result)
		}
	case "Task":
		_, okTimeout := a.expression(st, "TimeoutSecondsPath", st.TimeoutSecondsPath, eff, ctx, kNumber)
		_, okHeartbeat := a.expression(st, "HeartbeatSecondsPath", st.HeartbeatSecondsPath, eff, ctx, kNumber)
		if !okTimeout || !okHeartbeat {
			return nil, nil, nil
		}
		result = a.task(st, eff)
	case "Parallel":
		r := &Shape{Kinds: kArray}
		for _, b := range st.Branches {
			out, err := a.machine(b, eff, ctx)
			if err != nil {
				return nil, nil, err
			}
			r.Elem = union(r.Elem, out)
		}
		result = r
	case "Map":
		var err error
		if result, err = a.mapState(st, eff, ctx); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("%s: state %s: type %s is not analysed", a.cfg.File, st.Name, st.Type)
	}
	for i, c := range st.Catch {
		field := fmt.Sprintf("Catch[%d].ResultPath", i)
		if caught, ok := a.resultPath(st, field, c.ResultPathField(), raw, errorOutput()); ok {
			edges = append(edges, edge{c.Next, caught})
		}
	}
	if result == nil {
		return edges, nil, nil
	}
	if st.HasResultSelector() {
		if result, ok = a.template(st, "ResultSelector", st.ResultSelector, result, ctx); !ok {
			return edges, nil, nil
		}
	}
	out, ok := a.resultPath(st, "ResultPath", st.ResultPathField(), raw, result)
	if !ok {
		return edges, nil, nil
	}
	if out, ok = leave(out); !ok {
		return edges, nil, nil
	}
	more, terminal, _ := a.next(st, out)
	return append(edges, more...), terminal, nil
}

// next is the transition of a state that ends with Next or End.
func (a *analyzer) next(st *asl.State, out *Shape) ([]edge, *Shape, error) {
	if st.End {
		return nil, out, nil
	}
	return []edge{{st.Next, out}}, nil, nil
}

// selectPath applies InputPath or OutputPath: absent is "$", null is {}.
func (a *analyzer) selectPath(st *asl.State, field string, p asl.PathField, data, ctx *Shape) (*Shape, bool) {
	switch {
	case !p.Set:
		return data, true
	case p.Null:
		return object(nil), true
	}
	return a.readPath(st, field, p.Text, data, ctx, 0)
}

// resultPath applies a ResultPath (of the state or of a catcher) to the state's raw input.
func (a *analyzer) resultPath(st *asl.State, field string, p asl.PathField, raw, result *Shape) (*Shape, bool) {
	switch {
	case !p.Set:
		return result, true
	case p.Null:
		return raw, true
	}
	info, err := asl.InspectPath(p.Text)
	if err != nil {
		a.find(st, field, p.Text, err.Error())
		return nil, false
	}
	out, err := set(raw, info.Segments, result, "$")
	if err != nil {
		a.find(st, field, p.Text, err.Error())
		return nil, false
	}
	return out, true
}

// readPath reads a path (of the data, or of the context object for "$$"), reporting a path that
// may select nothing, or selects a value of none of the kinds want (0: any kind).
func (a *analyzer) readPath(st *asl.State, field, text string, data, ctx *Shape, want kinds) (*Shape, bool) {
	info, err := asl.InspectPath(text)
	if err != nil {
		a.find(st, field, text, err.Error())
		return nil, false
	}
	root := data
	if info.Context {
		root = ctx
	}
	l := read(root, info)
	switch l.presence {
	case never:
		a.find(st, field, text, "never present: "+l.why)
		return nil, false
	case maybe:
		a.find(st, field, text, "may be absent, and reading it then fails the execution (States.Runtime): "+l.why+
			"; test it with IsPresent in a Choice before this state, or make the step always emit it")
	}
	if want != 0 && !l.shape.Unknown && l.shape.Kinds&want == 0 {
		a.find(st, field, text, fmt.Sprintf("is %s, but %s needs %s", l.shape.describe(), field, want))
	}
	return l.shape, true
}

// expression evaluates a ".$" value, an ErrorPath or a CausePath ("" is absent).
func (a *analyzer) expression(st *asl.State, field, text string, data, ctx *Shape, want kinds) (*Shape, bool) {
	if text == "" {
		return nil, true
	}
	e, err := asl.InspectExpression(text)
	if err != nil {
		a.find(st, field, text, err.Error())
		return nil, false
	}
	return a.eval(st, field, e, data, ctx, want)
}

func (a *analyzer) eval(st *asl.State, field string, e asl.Expression, data, ctx *Shape, want kinds) (*Shape, bool) {
	switch {
	case e.IsLiteral:
		return literal(e.Literal), true
	case e.Path != nil:
		return a.readPath(st, field, e.Path.Text, data, ctx, want)
	}
	args := make([]*Shape, len(e.Args))
	ok := true
	for i, arg := range e.Args {
		s, good := a.eval(st, field, arg, data, ctx, 0)
		ok = ok && good
		args[i] = s
	}
	if !ok {
		return nil, false
	}
	return intrinsicResult(e.Func, args), true
}

// intrinsicResult is the shape of an intrinsic function's result.
func intrinsicResult(name string, args []*Shape) *Shape {
	elemOf := func(i int) *Shape {
		if i < len(args) && args[i].Elem != nil {
			return args[i].Elem
		}
		return unknown("an element of " + name + "'s argument")
	}
	switch name {
	case "States.Format", "States.JsonToString", "States.Base64Encode", "States.Base64Decode", "States.Hash", "States.UUID":
		return scalar(kString)
	case "States.MathRandom", "States.MathAdd", "States.ArrayLength":
		return scalar(kNumber)
	case "States.ArrayContains":
		return scalar(kBool)
	case "States.StringSplit":
		return &Shape{Kinds: kArray, Elem: scalar(kString)}
	case "States.ArrayRange":
		return &Shape{Kinds: kArray, Elem: scalar(kNumber)}
	case "States.Array":
		s := &Shape{Kinds: kArray}
		for _, arg := range args {
			s.Elem = union(s.Elem, arg)
		}
		return s
	case "States.ArrayPartition":
		return &Shape{Kinds: kArray, Elem: &Shape{Kinds: kArray, Elem: elemOf(0)}}
	case "States.ArrayGetItem":
		return elemOf(0)
	case "States.ArrayUnique":
		if len(args) > 0 {
			return args[0]
		}
	case "States.JsonMerge":
		if len(args) >= 2 {
			return jsonMerge(args[0], args[1])
		}
	}
	return unknown("the result of " + name)
}

// jsonMerge is States.JsonMerge(a, b, false): b's members over a's; a member is there when
// either side always has it.
func jsonMerge(a, b *Shape) *Shape {
	if a.Unknown || b.Unknown || a.Kinds != kObject || b.Kinds != kObject {
		return unknown("the result of States.JsonMerge")
	}
	out := a.clone()
	for k, fb := range b.Fields {
		fa, ok := a.Fields[k]
		switch {
		case !ok || !fb.Maybe:
			out.Fields[k] = fb
		default:
			out.Fields[k] = Field{Shape: union(fa.Shape, fb.Shape), Maybe: fa.Maybe, Why: fa.Why}
		}
	}
	if b.Open != nil {
		out.Open = union(a.Open, b.Open)
	}
	return out
}

// template evaluates a payload template (Parameters, ResultSelector, ItemSelector): the members
// it writes are always there; each ".$" member is what its path or intrinsic selects.
func (a *analyzer) template(st *asl.State, field string, t any, data, ctx *Shape) (*Shape, bool) {
	switch x := t.(type) {
	case *asl.Object:
		// Every member is looked at, so one read that fails does not hide the next.
		out, ok := object(nil), true
		for _, k := range x.Keys {
			v := x.Values[k]
			var s *Shape
			var good bool
			name, dynamic := strings.CutSuffix(k, ".$")
			if dynamic {
				text, _ := v.(string)
				s, good = a.expression(st, field+"."+k, text, data, ctx, 0)
			} else {
				name = k
				s, good = a.template(st, field+"."+k, v, data, ctx)
			}
			ok = ok && good
			out.Fields[name] = Field{Shape: s}
		}
		if !ok {
			return nil, false
		}
		return out, true
	case []any:
		out, ok := &Shape{Kinds: kArray}, true
		for i, v := range x {
			s, good := a.template(st, fmt.Sprintf("%s[%d]", field, i), v, data, ctx)
			ok = ok && good
			out.Elem = union(out.Elem, s)
		}
		if !ok {
			return nil, false
		}
		return out, true
	}
	return literal(t), true
}

// objectOf opens an *asl.Object.
func objectOf(v any) ([]string, map[string]any, bool) {
	o, ok := v.(*asl.Object)
	if !ok {
		return nil, nil, false
	}
	return o.Keys, o.Values, true
}

// mapState is an inline Map: each item (ItemsPath of the effective input, which must be an
// array), through ItemSelector (which sees $$.Map.Item), runs the processor; the result is the
// array of the processor's outputs.
func (a *analyzer) mapState(st *asl.State, eff, ctx *Shape) (*Shape, error) {
	items := eff
	if st.ItemsPath != "" {
		var ok bool
		if items, ok = a.readPath(st, "ItemsPath", st.ItemsPath, eff, ctx, kArray); !ok {
			return nil, nil
		}
	} else if !eff.Unknown && eff.Kinds&kArray == 0 {
		a.find(st, "ItemsPath", "$", "the Map state's input is "+eff.describe()+", not an array")
	}
	if _, ok := a.expression(st, "MaxConcurrencyPath", st.MaxConcurrencyPath, eff, ctx, kNumber); !ok {
		return nil, nil
	}
	elem := items.Elem
	if elem == nil || items.Unknown {
		elem = unknown("an item of " + st.Name + "'s items")
	}
	iteration := elem
	if st.HasItemSelector() {
		mctx := ctx.clone()
		item := object(map[string]Field{"Index": {Shape: scalar(kNumber)}, "Value": {Shape: elem}})
		mctx.Fields["Map"] = Field{Shape: object(map[string]Field{"Item": {Shape: item}})}
		var ok bool
		if iteration, ok = a.template(st, "ItemSelector", st.ItemSelector, eff, mctx); !ok {
			return nil, nil
		}
	}
	out, err := a.machine(st.Processor, iteration, ctx)
	if err != nil {
		return nil, err
	}
	return &Shape{Kinds: kArray, Elem: out}, nil
}
