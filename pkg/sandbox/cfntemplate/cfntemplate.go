// Package cfntemplate reads a synthesized CloudFormation template and resolves its intrinsic
// functions, so the sandbox can stand up exactly what `cdk synth` produced (state machine
// definitions with their substitutions, function environments, rules and custom resources) instead
// of a hand-written copy that could drift from what would be deployed.
//
// It covers the intrinsics CDK emits for the resources Strongroom uses: Ref, Fn::GetAtt, Fn::Join,
// Fn::Sub (both forms), Fn::Select, Fn::Split, Fn::If with Conditions (Fn::Equals, Fn::Not,
// Fn::And, Fn::Or, Condition), Fn::Base64, Fn::GetAZs, Fn::ImportValue, Fn::GetStackOutput (the
// output of another stack in this Region, which CDK emits for a reference to another stack's
// resource in a property such as an alarm's actions) and the pseudo parameters. Anything else is
// an error naming the function, never a silent pass-through.
package cfntemplate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Template is a parsed CloudFormation template.
type Template struct {
	Parameters map[string]Parameter `json:"Parameters"`
	Conditions map[string]any       `json:"Conditions"`
	Resources  map[string]Resource  `json:"Resources"`
	Outputs    map[string]any       `json:"Outputs"`
}

// Parameter is a template parameter (CDK uses them for the bootstrap version and asset hashes).
type Parameter struct {
	Type    string `json:"Type"`
	Default any    `json:"Default"`
}

// Resource is one resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	DependsOn  any            `json:"DependsOn"`
	Condition  string         `json:"Condition"`
	Metadata   map[string]any `json:"Metadata"`
}

// Load reads a template file.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	return &t, nil
}

// Resolver supplies what only a deployment knows: physical ids and attributes of resources.
type Resolver interface {
	// Ref returns the value of Ref for a resource (its physical id, usually).
	Ref(logicalID string) (any, error)
	// GetAtt returns a resource attribute.
	GetAtt(logicalID, attribute string) (any, error)
}

// Env is the deployment's pseudo parameters and parameter values.
type Env struct {
	Region, AccountID, Partition, StackName, StackID, URLSuffix string
	Parameters                                                  map[string]any
	// Imports are the exports of stacks already deployed, for Fn::ImportValue.
	Imports map[string]any
	// StackOutput returns the value of output of stack, a stack already deployed, for
	// Fn::GetStackOutput; nil resolves none.
	StackOutput func(stack, output string) (any, error)
}

// NoValue is what AWS::NoValue resolves to; Resolve drops it from maps and lists.
var NoValue = &struct{ noValue bool }{true}

// ErrUnsupported names an intrinsic function this package does not evaluate.
var ErrUnsupported = errors.New("unsupported intrinsic function")

// Evaluator resolves values of one template in one deployment.
type Evaluator struct {
	T   *Template
	Env Env
	R   Resolver
}

// Resolve returns v with every intrinsic function evaluated.
func (e *Evaluator) Resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") || k == "Condition" {
					return e.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			r, err := e.Resolve(val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != NoValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, val := range x {
			r, err := e.Resolve(val)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if r != NoValue {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (e *Evaluator) intrinsic(name string, arg any) (any, error) {
	switch name {
	case "Ref":
		id, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("intrinsic Ref takes a name, got %v", arg)
		}
		return e.ref(id)
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			i := strings.Index(a, ".")
			if i < 0 {
				return nil, fmt.Errorf("Fn::GetAtt %q: want Resource.Attribute", a)
			}
			parts = []string{a[:i], a[i+1:]}
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("Fn::GetAtt takes two elements, got %d", len(a))
			}
			for _, p := range a {
				r, err := e.Resolve(p)
				if err != nil {
					return nil, err
				}
				s, ok := r.(string)
				if !ok {
					return nil, fmt.Errorf("Fn::GetAtt element %v is not a string", r)
				}
				parts = append(parts, s)
			}
		default:
			return nil, fmt.Errorf("Fn::GetAtt: unexpected %T", arg)
		}
		return e.R.GetAtt(parts[0], parts[1])
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, errors.New("Fn::Join takes [delimiter, [values]]")
		}
		delim, _ := a[0].(string)
		list, err := e.Resolve(a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join values are not a list: %v", list)
		}
		strs := make([]string, len(items))
		for i, it := range items {
			strs[i] = fmt.Sprint(it)
		}
		return strings.Join(strs, delim), nil
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::Select":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, errors.New("Fn::Select takes [index, list]")
		}
		idx, err := e.Resolve(a[0])
		if err != nil {
			return nil, err
		}
		list, err := e.Resolve(a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Select list is %T", list)
		}
		var i int
		switch n := idx.(type) {
		case float64:
			i = int(n)
		case string:
			if _, err := fmt.Sscan(n, &i); err != nil {
				return nil, fmt.Errorf("Fn::Select index %q", n)
			}
		}
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select index %d out of range %d", i, len(items))
		}
		return items[i], nil
	case "Fn::Split":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, errors.New("Fn::Split takes [delimiter, string]")
		}
		delim, _ := a[0].(string)
		s, err := e.Resolve(a[1])
		if err != nil {
			return nil, err
		}
		str, ok := s.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Split source is %T", s)
		}
		var out []any
		for _, p := range strings.Split(str, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Base64":
		s, err := e.Resolve(arg)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(s))), nil
	case "Fn::ImportValue":
		v, err := e.Resolve(arg)
		if err != nil {
			return nil, err
		}
		name, _ := v.(string)
		val, ok := e.Env.Imports[name]
		if !ok {
			return nil, fmt.Errorf("Fn::ImportValue %q: no deployed stack exports it (deploy the exporting stack first)", name)
		}
		return val, nil
	case "Fn::GetStackOutput":
		v, err := e.Resolve(arg)
		if err != nil {
			return nil, err
		}
		m, _ := v.(map[string]any)
		stack, _ := m["StackName"].(string)
		output, _ := m["OutputName"].(string)
		if stack == "" || output == "" {
			return nil, fmt.Errorf("Fn::GetStackOutput %v: want StackName and OutputName", v)
		}
		if region, _ := m["Region"].(string); region != "" && region != e.Env.Region {
			return nil, fmt.Errorf("Fn::GetStackOutput of %s in %s: the sandbox has one Region, %s", stack, region, e.Env.Region)
		}
		if _, ok := m["RoleArn"]; ok {
			return nil, fmt.Errorf("Fn::GetStackOutput of %s with a RoleArn (another account): the sandbox has one account", stack)
		}
		if e.Env.StackOutput == nil {
			return nil, fmt.Errorf("Fn::GetStackOutput of %s.%s: no deployed stacks to read (deploy %s first)", stack, output, stack)
		}
		return e.Env.StackOutput(stack, output)
	case "Fn::GetAZs":
		return []any{e.Env.Region + "a", e.Env.Region + "b", e.Env.Region + "c"}, nil
	case "Fn::If":
		a, ok := arg.([]any)
		if !ok || len(a) != 3 {
			return nil, errors.New("Fn::If takes [condition, then, else]")
		}
		cond, _ := a[0].(string)
		ok, err := e.Condition(cond)
		if err != nil {
			return nil, err
		}
		if ok {
			return e.Resolve(a[1])
		}
		return e.Resolve(a[2])
	case "Condition", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return e.condExpr(map[string]any{name: arg})
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupported, name)
}

func (e *Evaluator) ref(id string) (any, error) {
	switch id {
	case "AWS::Region":
		return e.Env.Region, nil
	case "AWS::AccountId":
		return e.Env.AccountID, nil
	case "AWS::Partition":
		return e.Env.Partition, nil
	case "AWS::StackName":
		return e.Env.StackName, nil
	case "AWS::StackId":
		return e.Env.StackID, nil
	case "AWS::URLSuffix":
		return e.Env.URLSuffix, nil
	case "AWS::NoValue":
		return NoValue, nil
	}
	if p, ok := e.T.Parameters[id]; ok {
		if v, set := e.Env.Parameters[id]; set {
			return v, nil
		}
		if p.Default == nil {
			return nil, fmt.Errorf("parameter %s has no value and no default", id)
		}
		return p.Default, nil
	}
	return e.R.Ref(id)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (e *Evaluator) sub(arg any) (any, error) {
	var tmpl string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			return nil, errors.New("Fn::Sub takes a string or [string, {variables}]")
		}
		tmpl, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			r, err := e.Resolve(v)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	default:
		return nil, fmt.Errorf("Fn::Sub: unexpected %T", arg)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return fmt.Sprint(v)
		}
		var v any
		var err error
		if i := strings.Index(name, "."); i > 0 && !strings.HasPrefix(name, "AWS::") {
			v, err = e.R.GetAtt(name[:i], name[i+1:])
		} else {
			v, err = e.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return fmt.Sprint(v)
	})
	if firstErr != nil {
		return nil, firstErr
	}
	// ${!Literal} is an escaped ${Literal}.
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// Condition evaluates a named condition.
func (e *Evaluator) Condition(name string) (bool, error) {
	c, ok := e.T.Conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	v, err := e.condExpr(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, _ := v.(bool)
	return b, nil
}

func (e *Evaluator) condExpr(c any) (any, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("condition %v is not a single function", c)
	}
	for k, arg := range m {
		list, _ := arg.([]any)
		switch k {
		case "Condition":
			s, _ := arg.(string)
			return e.Condition(s)
		case "Fn::Equals":
			if len(list) != 2 {
				return nil, errors.New("Fn::Equals takes two values")
			}
			a, err := e.Resolve(list[0])
			if err != nil {
				return nil, err
			}
			b, err := e.Resolve(list[1])
			if err != nil {
				return nil, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			var vals []bool
			for _, x := range list {
				v, err := e.condExpr(x)
				if err != nil {
					return nil, err
				}
				b, _ := v.(bool)
				vals = append(vals, b)
			}
			switch k {
			case "Fn::Not":
				if len(vals) != 1 {
					return nil, errors.New("Fn::Not takes one condition")
				}
				return !vals[0], nil
			case "Fn::And":
				for _, b := range vals {
					if !b {
						return false, nil
					}
				}
				return true, nil
			default:
				for _, b := range vals {
					if b {
						return true, nil
					}
				}
				return false, nil
			}
		default:
			return e.Resolve(c)
		}
	}
	return nil, nil
}

// Order returns the resources in an order where each comes after everything it references
// (Ref, Fn::GetAtt, Fn::Sub variables, DependsOn). A cycle is an error.
func (t *Template) Order() ([]string, error) {
	deps := map[string]map[string]bool{}
	for id, r := range t.Resources {
		d := map[string]bool{}
		collectRefs(r.Properties, d)
		switch x := r.DependsOn.(type) {
		case string:
			d[x] = true
		case []any:
			for _, v := range x {
				if s, ok := v.(string); ok {
					d[s] = true
				}
			}
		}
		for k := range d {
			if _, isRes := t.Resources[k]; !isRes || k == id {
				delete(d, k)
			}
		}
		deps[id] = d
	}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []string
	state := map[string]int{}
	var visit func(string, []string) error
	visit = func(id string, path []string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(path, id), " -> "))
		case 2:
			return nil
		}
		state[id] = 1
		ds := make([]string, 0, len(deps[id]))
		for d := range deps[id] {
			ds = append(ds, d)
		}
		sort.Strings(ds)
		for _, d := range ds {
			if err := visit(d, append(path, id)); err != nil {
				return err
			}
		}
		state[id] = 2
		out = append(out, id)
		return nil
	}
	for _, id := range ids {
		if err := visit(id, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func collectRefs(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, arg := range x {
			switch k {
			case "Ref":
				if s, ok := arg.(string); ok {
					into[s] = true
				}
			case "Fn::GetAtt":
				switch a := arg.(type) {
				case []any:
					if len(a) > 0 {
						if s, ok := a[0].(string); ok {
							into[s] = true
						}
					}
				case string:
					into[strings.SplitN(a, ".", 2)[0]] = true
				}
			case "Fn::Sub":
				s, _ := arg.(string)
				if a, ok := arg.([]any); ok && len(a) > 0 {
					s, _ = a[0].(string)
					collectRefs(a[1:], into)
				}
				for _, m := range subVar.FindAllStringSubmatch(s, -1) {
					into[strings.SplitN(m[1], ".", 2)[0]] = true
				}
			}
			collectRefs(arg, into)
		}
	case []any:
		for _, it := range x {
			collectRefs(it, into)
		}
	}
}

// ByType returns the logical ids of resources of a type, sorted.
func (t *Template) ByType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
