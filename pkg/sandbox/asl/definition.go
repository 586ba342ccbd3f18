package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Definition is a parsed and validated state machine (or a Parallel branch, or a Map processor).
type Definition struct {
	Comment        string
	StartAt        string
	States         map[string]*State
	TimeoutSeconds int // 0: none
	// Order is the states' names in the order the definition lists them.
	Order []string
}

// optPath is a path field that may be absent, null (discard) or a path.
type optPath struct {
	set  bool
	null bool
	text string
}

// State is one state with every field the JSONPath query language allows.
type State struct {
	Name, Type, Comment string
	Next                string
	End                 bool

	InputPath, OutputPath, ResultPath optPath
	Parameters, ResultSelector        any // payload templates; nil when absent
	hasParameters, hasResultSelector  bool

	// Pass
	Result    any
	hasResult bool

	// Task
	Resource             string
	TimeoutSeconds       int
	TimeoutSecondsPath   string
	HeartbeatSeconds     int
	HeartbeatSecondsPath string

	Retry []Retrier
	Catch []Catcher

	// Choice
	Choices []*ChoiceRule
	Default string

	// Wait
	Seconds       *int
	SecondsPath   string
	Timestamp     string
	TimestampPath string

	// Fail
	Error, ErrorPath, Cause, CausePath string

	// Parallel
	Branches []*Definition

	// Map
	Processor          *Definition
	ItemsPath          string
	ItemSelector       any
	hasItemSelector    bool
	MaxConcurrency     int
	MaxConcurrencyPath string
}

// Retrier is one element of a Retry field.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds int
	MaxAttempts     int
	BackoffRate     float64
	MaxDelaySeconds int // 0: no cap
	JitterStrategy  string
}

// Catcher is one element of a Catch field.
type Catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  optPath
}

// ChoiceRule is a Choice rule: a boolean combination or one comparison of a Variable.
type ChoiceRule struct {
	And, Or  []*ChoiceRule
	Not      *ChoiceRule
	Variable string
	Operator string
	Value    any
	Next     string
}

// Diagnostic is one problem in a definition, shaped like ValidateStateMachineDefinition's
// diagnostics: a code, a message naming the field and the fix, and a JSON-pointer-like location.
type Diagnostic struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location"`
}

// ValidationError lists every problem found in a definition.
type ValidationError struct {
	Diagnostics []Diagnostic
}

func (e *ValidationError) Error() string {
	var parts []string
	for _, d := range e.Diagnostics {
		parts = append(parts, fmt.Sprintf("%s: %s at %s", d.Code, d.Message, d.Location))
	}
	return "Invalid State Machine Definition: " + strings.Join(parts, ", ")
}

// Parse decodes and validates a state machine definition. The error, when not nil, is a
// *ValidationError listing every problem with its location.
func Parse(text []byte) (*Definition, error) {
	p := &parser{names: map[string]string{}}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(text, &raw); err != nil {
		return nil, &ValidationError{Diagnostics: []Diagnostic{{Code: "INVALID_JSON_DESCRIPTION", Message: "the definition is not a JSON object: " + err.Error(), Location: "/"}}}
	}
	def := p.machine(raw, "", true)
	if len(p.diags) > 0 {
		return nil, &ValidationError{Diagnostics: p.diags}
	}
	return def, nil
}

type parser struct {
	diags []Diagnostic
	names map[string]string // state name -> location, across the whole machine
}

func (p *parser) errf(code, loc, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Code: code, Message: fmt.Sprintf(format, args...), Location: loc})
}

func (p *parser) schemaf(loc, format string, args ...any) {
	p.errf("SCHEMA_VALIDATION_FAILED", loc, format, args...)
}

var topFields = map[string]bool{"Comment": true, "StartAt": true, "States": true, "TimeoutSeconds": true, "Version": true, "QueryLanguage": true}
var branchFields = map[string]bool{"Comment": true, "StartAt": true, "States": true, "ProcessorConfig": true, "QueryLanguage": true}

func (p *parser) machine(raw map[string]json.RawMessage, loc string, top bool) *Definition {
	def := &Definition{States: map[string]*State{}}
	allowed := branchFields
	if top {
		allowed = topFields
	}
	for _, k := range sortedKeys(raw) {
		if !allowed[k] {
			p.schemaf(loc+"/"+k, "The field '%s' is not supported by Step Functions here", k)
		}
	}
	if ql, ok := raw["QueryLanguage"]; ok {
		var s string
		_ = json.Unmarshal(ql, &s)
		if s != "JSONPath" {
			p.schemaf(loc+"/QueryLanguage", "QueryLanguage %q is not supported by the sandbox interpreter; use \"JSONPath\" (the default)", s)
		}
	}
	if v, ok := raw["Version"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil || s != "1.0" {
			p.schemaf(loc+"/Version", "Version must be \"1.0\"")
		}
	}
	p.str(raw, "Comment", loc, &def.Comment)
	if !p.str(raw, "StartAt", loc, &def.StartAt) {
		p.schemaf(loc, "The field 'StartAt' is required")
	}
	if top {
		if _, ok := raw["TimeoutSeconds"]; ok {
			p.posInt(raw, "TimeoutSeconds", loc, &def.TimeoutSeconds, 1, 99999999)
		}
	}
	statesRaw, ok := raw["States"]
	if !ok {
		p.schemaf(loc, "The field 'States' is required")
		return def
	}
	var statesMap map[string]json.RawMessage
	if err := json.Unmarshal(statesRaw, &statesMap); err != nil || len(statesMap) == 0 {
		p.schemaf(loc+"/States", "States must be a non-empty object of states")
		return def
	}
	def.Order = orderedKeys(statesRaw)
	for _, name := range def.Order {
		sloc := loc + "/States/" + name
		if prev, dup := p.names[name]; dup {
			p.errf("DUPLICATE_STATE_NAME", sloc, "Duplicate State name: %s (also at %s); state names must be unique in the whole state machine", name, prev)
		}
		p.names[name] = sloc
		if len(name) > 80 {
			p.schemaf(sloc, "State name %q is longer than 80 characters", name)
		}
		st := p.state(name, statesMap[name], sloc)
		if st != nil {
			def.States[name] = st
		}
	}
	if def.StartAt != "" {
		if _, ok := def.States[def.StartAt]; !ok {
			p.errf("MISSING_TRANSITION_TARGET", loc+"/StartAt", "StartAt names state %q, which is not among this machine's States", def.StartAt)
		}
	}
	p.checkTransitions(def, loc)
	return def
}

func (p *parser) checkTransitions(def *Definition, loc string) {
	target := func(name, where string) {
		if name == "" {
			return
		}
		if _, ok := def.States[name]; !ok {
			p.errf("MISSING_TRANSITION_TARGET", where, "Missing 'Next' target: %s (it must name a state in the same States object)", name)
		}
	}
	reach := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		st, ok := def.States[n]
		if !ok || reach[n] {
			return
		}
		reach[n] = true
		walk(st.Next)
		walk(st.Default)
		for _, c := range st.Catch {
			walk(c.Next)
		}
		for _, r := range st.Choices {
			walk(r.Next)
		}
	}
	walk(def.StartAt)
	terminal := false
	for _, name := range def.Order {
		st, ok := def.States[name]
		if !ok {
			continue
		}
		sloc := loc + "/States/" + name
		target(st.Next, sloc+"/Next")
		target(st.Default, sloc+"/Default")
		for i, c := range st.Catch {
			target(c.Next, fmt.Sprintf("%s/Catch[%d]/Next", sloc, i))
		}
		for i, r := range st.Choices {
			target(r.Next, fmt.Sprintf("%s/Choices[%d]/Next", sloc, i))
		}
		if st.End || st.Type == "Succeed" || st.Type == "Fail" {
			terminal = true
		}
		if !reach[name] && def.StartAt != "" {
			p.errf("UNREACHABLE_STATE", sloc, "State %s is not reachable from StartAt %s; remove it or add a transition to it", name, def.StartAt)
		}
	}
	if !terminal && len(def.States) > 0 {
		p.errf("NO_TERMINAL_STATE", loc+"/States", "No terminal state: at least one state must have \"End\": true or be a Succeed or Fail state")
	}
}

var stateFields = map[string][]string{
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
	"Task":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"},
	"Choice":   {"InputPath", "OutputPath", "Choices", "Default"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "ErrorPath", "Cause", "CausePath"},
	"Parallel": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Branches"},
	"Map":      {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Iterator", "ItemProcessor", "ItemsPath", "ItemSelector", "MaxConcurrency", "MaxConcurrencyPath"},
}

// unsupportedFields are real ASL fields the sandbox interpreter does not run; naming them keeps
// the refusal honest instead of ignoring the field.
var unsupportedFields = map[string]string{
	"Assign":                     "variables (Assign) are not supported by the sandbox interpreter",
	"Output":                     "Output belongs to JSONata states, which the sandbox interpreter does not run",
	"Arguments":                  "Arguments belongs to JSONata states, which the sandbox interpreter does not run",
	"QueryLanguage":              "per-state QueryLanguage is not supported; the sandbox runs JSONPath only",
	"Credentials":                "cross-account task Credentials are not supported by the sandbox",
	"ItemReader":                 "distributed Map (ItemReader) is not supported; use an inline Map",
	"ItemBatcher":                "distributed Map (ItemBatcher) is not supported; use an inline Map",
	"ResultWriter":               "distributed Map (ResultWriter) is not supported; use an inline Map",
	"ToleratedFailurePercentage": "distributed Map failure tolerance is not supported; use an inline Map",
	"ToleratedFailureCount":      "distributed Map failure tolerance is not supported; use an inline Map",
	"Label":                      "distributed Map (Label) is not supported; use an inline Map",
}

func (p *parser) state(name string, raw json.RawMessage, loc string) *State {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		p.schemaf(loc, "State %s must be a JSON object", name)
		return nil
	}
	st := &State{Name: name}
	if !p.str(f, "Type", loc, &st.Type) {
		p.schemaf(loc, "The field 'Type' is required for state %s", name)
		return nil
	}
	allowed, ok := stateFields[st.Type]
	if !ok {
		p.schemaf(loc+"/Type", "Type %q is not a state type (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map)", st.Type)
		return nil
	}
	okField := map[string]bool{"Type": true, "Comment": true}
	for _, a := range allowed {
		okField[a] = true
	}
	for _, k := range sortedKeys(f) {
		if okField[k] {
			continue
		}
		if why, ok := unsupportedFields[k]; ok {
			p.schemaf(loc+"/"+k, "The field '%s' of state %s: %s", k, name, why)
			continue
		}
		p.schemaf(loc+"/"+k, "The field '%s' is not supported by Step Functions for a %s state (%s)", k, st.Type, name)
	}
	p.str(f, "Comment", loc, &st.Comment)
	p.str(f, "Next", loc, &st.Next)
	if v, ok := f["End"]; ok {
		if json.Unmarshal(v, &st.End) != nil {
			p.schemaf(loc+"/End", "End must be a boolean")
		}
	}
	switch st.Type {
	case "Choice", "Succeed", "Fail":
	default:
		if st.End == (st.Next != "") {
			p.schemaf(loc, "State %s must have exactly one of \"Next\" or \"End\": true", name)
		}
	}
	p.optPath(f, "InputPath", loc, &st.InputPath, false)
	p.optPath(f, "OutputPath", loc, &st.OutputPath, false)
	p.optPath(f, "ResultPath", loc, &st.ResultPath, true)
	st.Parameters, st.hasParameters = p.template(f, "Parameters", loc)
	st.ResultSelector, st.hasResultSelector = p.template(f, "ResultSelector", loc)
	if v, ok := f["Result"]; ok {
		r, err := ParseJSON(v)
		if err != nil {
			p.schemaf(loc+"/Result", "Result is not JSON: %v", err)
		}
		st.Result, st.hasResult = r, true
	}
	if v, ok := f["Retry"]; ok {
		st.Retry = p.retriers(v, loc+"/Retry")
	}
	if v, ok := f["Catch"]; ok {
		st.Catch = p.catchers(v, loc+"/Catch")
	}
	switch st.Type {
	case "Task":
		p.task(st, f, loc)
	case "Choice":
		p.choice(st, f, loc)
	case "Wait":
		p.wait(st, f, loc)
	case "Fail":
		p.str(f, "Error", loc, &st.Error)
		p.str(f, "Cause", loc, &st.Cause)
		p.pathOrIntrinsic(f, "ErrorPath", loc, &st.ErrorPath)
		p.pathOrIntrinsic(f, "CausePath", loc, &st.CausePath)
		if st.Error != "" && st.ErrorPath != "" {
			p.schemaf(loc, "Fail state %s may have Error or ErrorPath, not both", name)
		}
		if st.Cause != "" && st.CausePath != "" {
			p.schemaf(loc, "Fail state %s may have Cause or CausePath, not both", name)
		}
	case "Parallel":
		var branches []map[string]json.RawMessage
		if err := json.Unmarshal(f["Branches"], &branches); err != nil || len(branches) == 0 {
			p.schemaf(loc+"/Branches", "Branches of Parallel state %s must be a non-empty array of state machines", name)
		}
		for i, b := range branches {
			st.Branches = append(st.Branches, p.machine(b, fmt.Sprintf("%s/Branches[%d]", loc, i), false))
		}
	case "Map":
		p.mapState(st, f, loc)
	}
	return st
}

var (
	lambdaARN   = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]+))?$`)
	awsSDKARN   = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:states:::aws-sdk:([a-z0-9]+):([a-z][A-Za-z0-9]*)$`)
	lambdaInvok = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:states:::lambda:invoke$`)
)

// ResourceKind classifies a Task resource: "lambda" (a function ARN), "lambda:invoke" (the
// optimized integration), "aws-sdk" (an SDK integration), or "" when the sandbox cannot run it.
func ResourceKind(resource string) string {
	switch {
	case lambdaARN.MatchString(resource):
		return "lambda"
	case lambdaInvok.MatchString(resource):
		return "lambda:invoke"
	case awsSDKARN.MatchString(resource):
		return "aws-sdk"
	}
	return ""
}

func (p *parser) task(st *State, f map[string]json.RawMessage, loc string) {
	if !p.str(f, "Resource", loc, &st.Resource) {
		p.schemaf(loc, "The field 'Resource' is required for Task state %s", st.Name)
	} else if ResourceKind(st.Resource) == "" {
		p.errf("INVALID_RESOURCE", loc+"/Resource", "Resource %q of state %s is not supported by the sandbox: use a Lambda function ARN, arn:aws:states:::lambda:invoke or arn:aws:states:::aws-sdk:<service>:<action> (no .sync or .waitForTaskToken)", st.Resource, st.Name)
	}
	if _, ok := f["TimeoutSeconds"]; ok {
		p.posInt(f, "TimeoutSeconds", loc, &st.TimeoutSeconds, 1, 99999999)
	}
	if _, ok := f["HeartbeatSeconds"]; ok {
		p.posInt(f, "HeartbeatSeconds", loc, &st.HeartbeatSeconds, 1, 99999999)
	}
	p.pathField(f, "TimeoutSecondsPath", loc, &st.TimeoutSecondsPath)
	p.pathField(f, "HeartbeatSecondsPath", loc, &st.HeartbeatSecondsPath)
	if st.TimeoutSeconds != 0 && st.TimeoutSecondsPath != "" {
		p.schemaf(loc, "Task state %s may have TimeoutSeconds or TimeoutSecondsPath, not both", st.Name)
	}
	if st.HeartbeatSeconds != 0 && st.HeartbeatSecondsPath != "" {
		p.schemaf(loc, "Task state %s may have HeartbeatSeconds or HeartbeatSecondsPath, not both", st.Name)
	}
	if st.HeartbeatSeconds != 0 && st.TimeoutSeconds != 0 && st.HeartbeatSeconds >= st.TimeoutSeconds {
		p.schemaf(loc+"/HeartbeatSeconds", "HeartbeatSeconds of state %s must be smaller than TimeoutSeconds", st.Name)
	}
}

func (p *parser) wait(st *State, f map[string]json.RawMessage, loc string) {
	n := 0
	if _, ok := f["Seconds"]; ok {
		var s int
		p.posInt(f, "Seconds", loc, &s, 0, 99999999)
		st.Seconds = &s
		n++
	}
	if p.str(f, "Timestamp", loc, &st.Timestamp) {
		n++
		if _, ok := parseTimestamp(st.Timestamp); !ok {
			p.schemaf(loc+"/Timestamp", "Timestamp %q of state %s is not an RFC 3339 timestamp such as 2026-01-02T15:04:05Z", st.Timestamp, st.Name)
		}
	}
	if p.pathField(f, "SecondsPath", loc, &st.SecondsPath) {
		n++
	}
	if p.pathField(f, "TimestampPath", loc, &st.TimestampPath) {
		n++
	}
	if n != 1 {
		p.schemaf(loc, "Wait state %s must have exactly one of Seconds, SecondsPath, Timestamp or TimestampPath", st.Name)
	}
}

func (p *parser) mapState(st *State, f map[string]json.RawMessage, loc string) {
	procKey := "ItemProcessor"
	raw, ok := f[procKey]
	if !ok {
		procKey = "Iterator"
		raw, ok = f[procKey]
	}
	if _, both := f["Iterator"]; both && procKey == "ItemProcessor" {
		p.schemaf(loc, "Map state %s may have ItemProcessor or Iterator, not both", st.Name)
	}
	if !ok {
		p.schemaf(loc, "Map state %s needs an ItemProcessor", st.Name)
	} else {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			p.schemaf(loc+"/"+procKey, "%s of Map state %s must be a state machine object", procKey, st.Name)
		} else {
			if pc, ok := m["ProcessorConfig"]; ok {
				var cfg struct{ Mode string }
				_ = json.Unmarshal(pc, &cfg)
				if cfg.Mode != "" && cfg.Mode != "INLINE" {
					p.schemaf(loc+"/"+procKey+"/ProcessorConfig/Mode", "Map state %s: ProcessorConfig Mode %q is not supported by the sandbox; use INLINE", st.Name, cfg.Mode)
				}
			}
			st.Processor = p.machine(m, loc+"/"+procKey, false)
		}
	}
	p.pathField(f, "ItemsPath", loc, &st.ItemsPath)
	st.ItemSelector, st.hasItemSelector = p.template(f, "ItemSelector", loc)
	if st.hasItemSelector && st.hasParameters {
		p.schemaf(loc, "Map state %s may have ItemSelector or Parameters, not both", st.Name)
	}
	if st.hasParameters {
		st.ItemSelector, st.hasItemSelector = st.Parameters, true
		st.Parameters, st.hasParameters = nil, false
	}
	if _, ok := f["MaxConcurrency"]; ok {
		p.posInt(f, "MaxConcurrency", loc, &st.MaxConcurrency, 0, 99999999)
	}
	p.pathField(f, "MaxConcurrencyPath", loc, &st.MaxConcurrencyPath)
}

// comparison operators of a Choice rule, with the JSON type of their value.
var choiceOps = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
}

func init() {
	for _, base := range []string{"StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals",
		"StringGreaterThanEquals", "NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals",
		"NumericGreaterThanEquals", "BooleanEquals", "TimestampEquals", "TimestampLessThan", "TimestampGreaterThan",
		"TimestampLessThanEquals", "TimestampGreaterThanEquals"} {
		choiceOps[base+"Path"] = "path"
	}
}

func (p *parser) choice(st *State, f map[string]json.RawMessage, loc string) {
	p.str(f, "Default", loc, &st.Default)
	var rules []json.RawMessage
	if err := json.Unmarshal(f["Choices"], &rules); err != nil || len(rules) == 0 {
		p.schemaf(loc+"/Choices", "Choices of state %s must be a non-empty array of rules", st.Name)
		return
	}
	for i, r := range rules {
		rl := fmt.Sprintf("%s/Choices[%d]", loc, i)
		rule := p.rule(r, rl, true)
		if rule != nil {
			st.Choices = append(st.Choices, rule)
		}
	}
}

func (p *parser) rule(raw json.RawMessage, loc string, top bool) *ChoiceRule {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		p.schemaf(loc, "A Choice rule must be a JSON object")
		return nil
	}
	r := &ChoiceRule{}
	if top {
		if !p.str(f, "Next", loc, &r.Next) {
			p.schemaf(loc, "A top-level Choice rule needs Next")
		}
	} else if _, ok := f["Next"]; ok {
		p.schemaf(loc+"/Next", "Next is only allowed on a top-level Choice rule")
	}
	nOps := 0
	for _, k := range sortedKeys(f) {
		v := f[k]
		switch k {
		case "Next", "Comment":
		case "And", "Or":
			nOps++
			var subs []json.RawMessage
			if err := json.Unmarshal(v, &subs); err != nil || len(subs) == 0 {
				p.schemaf(loc+"/"+k, "%s must be a non-empty array of rules", k)
				continue
			}
			for i, s := range subs {
				sr := p.rule(s, fmt.Sprintf("%s/%s[%d]", loc, k, i), false)
				if k == "And" {
					r.And = append(r.And, sr)
				} else {
					r.Or = append(r.Or, sr)
				}
			}
		case "Not":
			nOps++
			r.Not = p.rule(v, loc+"/Not", false)
		case "Variable":
			_ = json.Unmarshal(v, &r.Variable)
			if _, err := compilePath(r.Variable); err != nil {
				p.schemaf(loc+"/Variable", "Variable: %v", err)
			}
		default:
			kind, ok := choiceOps[k]
			if !ok {
				p.schemaf(loc+"/"+k, "'%s' is not a Choice rule operator", k)
				continue
			}
			nOps++
			r.Operator = k
			val, err := ParseJSON(v)
			if err != nil {
				p.schemaf(loc+"/"+k, "%s: %v", k, err)
				continue
			}
			r.Value = val
			bad := false
			switch kind {
			case "string":
				_, ok := val.(string)
				bad = !ok
			case "number":
				_, ok := val.(float64)
				bad = !ok
			case "boolean":
				_, ok := val.(bool)
				bad = !ok
			case "timestamp":
				s, ok := val.(string)
				if ok {
					_, ok = parseTimestamp(s)
				}
				bad = !ok
			case "path":
				s, ok := val.(string)
				if ok {
					_, err := compilePath(s)
					ok = err == nil
				}
				bad = !ok
			}
			if bad {
				p.schemaf(loc+"/"+k, "The value of %s must be a %s", k, kind)
			}
		}
	}
	if nOps != 1 {
		p.schemaf(loc, "A Choice rule needs exactly one of And, Or, Not or a comparison operator (found %d)", nOps)
	}
	if r.Operator != "" && r.Variable == "" {
		p.schemaf(loc, "A comparison needs a Variable")
	}
	return r
}

func (p *parser) retriers(raw json.RawMessage, loc string) []Retrier {
	fields := []string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}
	return objects(p, raw, loc, "Retry", "retrier", fields, func(f map[string]json.RawMessage, rl string, last bool) Retrier {
		r := Retrier{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2.0, JitterStrategy: "NONE"}
		r.ErrorEquals = p.errorEquals(f, rl, last)
		if _, ok := f["IntervalSeconds"]; ok {
			p.posInt(f, "IntervalSeconds", rl, &r.IntervalSeconds, 1, 99999999)
		}
		if _, ok := f["MaxAttempts"]; ok {
			p.posInt(f, "MaxAttempts", rl, &r.MaxAttempts, 0, 99999999)
		}
		if _, ok := f["MaxDelaySeconds"]; ok {
			p.posInt(f, "MaxDelaySeconds", rl, &r.MaxDelaySeconds, 1, 31622400)
		}
		if v, ok := f["BackoffRate"]; ok {
			if json.Unmarshal(v, &r.BackoffRate) != nil || r.BackoffRate < 1.0 {
				p.schemaf(rl+"/BackoffRate", "BackoffRate must be a number of at least 1.0")
			}
		}
		if v, ok := f["JitterStrategy"]; ok {
			if json.Unmarshal(v, &r.JitterStrategy) != nil || (r.JitterStrategy != "FULL" && r.JitterStrategy != "NONE") {
				p.schemaf(rl+"/JitterStrategy", "JitterStrategy must be \"FULL\" or \"NONE\"")
			}
		}
		return r
	})
}

func (p *parser) catchers(raw json.RawMessage, loc string) []Catcher {
	fields := []string{"ErrorEquals", "Next", "ResultPath", "Comment"}
	return objects(p, raw, loc, "Catch", "catcher", fields, func(f map[string]json.RawMessage, cl string, last bool) Catcher {
		c := Catcher{ErrorEquals: p.errorEquals(f, cl, last)}
		if !p.str(f, "Next", cl, &c.Next) {
			p.schemaf(cl, "A catcher needs Next")
		}
		p.optPath(f, "ResultPath", cl, &c.ResultPath, true)
		return c
	})
}

// objects parses the array of objects a state's Retry or Catch field holds (each one a what, with
// only the given fields): parse reads one, given its location and whether it is the last.
func objects[T any](p *parser, raw json.RawMessage, loc, field, what string, fields []string,
	parse func(f map[string]json.RawMessage, loc string, last bool) T,
) []T {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		p.schemaf(loc, "%s must be an array of %ss", field, what)
		return nil
	}
	var out []T
	for i, f := range list {
		el := fmt.Sprintf("%s[%d]", loc, i)
		for _, k := range sortedKeys(f) {
			if !slices.Contains(fields, k) {
				p.schemaf(el+"/"+k, "The field '%s' is not supported in a %s", k, what)
			}
		}
		out = append(out, parse(f, el, i == len(list)-1))
	}
	return out
}

func (p *parser) errorEquals(f map[string]json.RawMessage, loc string, last bool) []string {
	var names []string
	if err := json.Unmarshal(f["ErrorEquals"], &names); err != nil || len(names) == 0 {
		p.schemaf(loc+"/ErrorEquals", "ErrorEquals must be a non-empty array of error names")
		return nil
	}
	for _, n := range names {
		if n == ErrAll && (len(names) != 1 || !last) {
			p.schemaf(loc+"/ErrorEquals", "States.ALL must appear alone, in the last retrier or catcher")
		}
		if strings.HasPrefix(n, "States.") && !isStatesName(n) {
			p.schemaf(loc+"/ErrorEquals", "%q is not a predefined error name; names beginning with 'States.' are reserved", n)
		}
	}
	return names
}

func isStatesName(n string) bool {
	for _, s := range StatesNames {
		if s == n {
			return true
		}
	}
	return false
}

func (p *parser) str(f map[string]json.RawMessage, k, loc string, dst *string) bool {
	v, ok := f[k]
	if !ok {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		p.schemaf(loc+"/"+k, "%s must be a string", k)
		return false
	}
	return true
}

func (p *parser) posInt(f map[string]json.RawMessage, k, loc string, dst *int, lo, hi int) {
	var x float64
	if err := json.Unmarshal(f[k], &x); err != nil || x != math.Trunc(x) || x < float64(lo) || x > float64(hi) {
		p.schemaf(loc+"/"+k, "%s must be an integer from %d to %d", k, lo, hi)
		return
	}
	*dst = int(x)
}

func (p *parser) pathField(f map[string]json.RawMessage, k, loc string, dst *string) bool {
	if !p.str(f, k, loc, dst) {
		return false
	}
	if _, err := compilePath(*dst); err != nil {
		p.schemaf(loc+"/"+k, "%s: %v", k, err)
	}
	return true
}

// pathOrIntrinsic reads ErrorPath/CausePath, which may also hold an intrinsic function.
func (p *parser) pathOrIntrinsic(f map[string]json.RawMessage, k, loc string, dst *string) {
	if !p.str(f, k, loc, dst) {
		return
	}
	if isIntrinsic(*dst) {
		if _, err := parseIntrinsic(*dst); err != nil {
			p.schemaf(loc+"/"+k, "%s: %v", k, err)
		}
		return
	}
	if _, err := compilePath(*dst); err != nil {
		p.schemaf(loc+"/"+k, "%s: %v", k, err)
	}
}

func (p *parser) optPath(f map[string]json.RawMessage, k, loc string, dst *optPath, reference bool) {
	v, ok := f[k]
	if !ok {
		return
	}
	dst.set = true
	if string(v) == "null" {
		dst.null = true
		return
	}
	if err := json.Unmarshal(v, &dst.text); err != nil {
		p.schemaf(loc+"/"+k, "%s must be a path string or null", k)
		return
	}
	cp, err := compilePath(dst.text)
	if err != nil {
		p.schemaf(loc+"/"+k, "%s: %v", k, err)
		return
	}
	if reference && (cp.context || !cp.definite()) {
		p.schemaf(loc+"/"+k, "%s %q must be a reference path (names and indexes only, on $)", k, dst.text)
	}
}

// template reads a payload template and checks every ".$" entry.
func (p *parser) template(f map[string]json.RawMessage, k, loc string) (any, bool) {
	v, ok := f[k]
	if !ok {
		return nil, false
	}
	t, err := ParseJSON(v)
	if err != nil {
		p.schemaf(loc+"/"+k, "%s is not JSON: %v", k, err)
		return nil, true
	}
	p.checkTemplate(t, loc+"/"+k)
	return t, true
}

func (p *parser) checkTemplate(t any, loc string) {
	switch x := t.(type) {
	case *Object:
		for _, key := range x.Keys {
			v := x.Values[key]
			if strings.HasSuffix(key, ".$") {
				s, ok := v.(string)
				if !ok {
					p.schemaf(loc+"/"+key, "The value of field '%s' must be a path or an intrinsic function (a string)", key)
					continue
				}
				if isIntrinsic(s) {
					if _, err := parseIntrinsic(s); err != nil {
						p.schemaf(loc+"/"+key, "The value for the field '%s' must be a valid JSONPath or intrinsic function: %v", key, err)
					}
				} else if _, err := compilePath(s); err != nil {
					p.schemaf(loc+"/"+key, "The value for the field '%s' must be a valid JSONPath: %v", key, err)
				}
				continue
			}
			p.checkTemplate(v, loc+"/"+key)
		}
	case []any:
		for i, e := range x {
			p.checkTemplate(e, fmt.Sprintf("%s[%d]", loc, i))
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// orderedKeys returns an object's keys in document order.
func orderedKeys(raw json.RawMessage) []string {
	v, err := ParseJSON(raw)
	if err != nil {
		return nil
	}
	if o, ok := v.(*Object); ok {
		return o.Keys
	}
	return nil
}

// parseTimestamp accepts the RFC 3339 profile ASL uses: an upper-case T, a time zone, optional
// fractional seconds.
func parseTimestamp(s string) (time.Time, bool) {
	if !tsPattern.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

var tsPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
