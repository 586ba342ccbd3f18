package asl

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A path is a compiled JSONPath expression as ASL uses it: "$" (the state's data) or "$$" (the
// context object) followed by segments. A reference path is a definite path (names and indexes
// only) that selects one node; other paths (wildcards, slices, unions, descendants, filters)
// select a list.

type segKind int

const (
	segName segKind = iota
	segIndex
	segWildcard
	segSlice
	segUnion
	segFilter
)

type segment struct {
	kind       segKind
	descendant bool // reached with ".." rather than "."
	name       string
	index      int
	slice      [3]*int
	union      []segment
	filter     *filterExpr
}

type path struct {
	text    string
	context bool // starts with "$$"
	segs    []segment
}

// definite reports whether the path selects at most one node.
func (p *path) definite() bool {
	for _, s := range p.segs {
		if s.descendant || (s.kind != segName && s.kind != segIndex) {
			return false
		}
	}
	return true
}

// compilePath parses a JSONPath expression.
func compilePath(text string) (*path, error) {
	p := &path{text: text}
	rest := text
	switch {
	case strings.HasPrefix(rest, "$$"):
		p.context, rest = true, rest[2:]
	case strings.HasPrefix(rest, "$"):
		rest = rest[1:]
	default:
		return nil, fmt.Errorf("path %q must begin with '$'", text)
	}
	for len(rest) > 0 {
		var seg segment
		var err error
		switch {
		case strings.HasPrefix(rest, ".."):
			seg.descendant = true
			rest = rest[2:]
			if strings.HasPrefix(rest, "[") {
				seg, rest, err = parseBracket(rest, text)
				seg.descendant = true
			} else {
				seg, rest, err = parseDotName(rest, text)
				seg.descendant = true
			}
		case strings.HasPrefix(rest, "."):
			seg, rest, err = parseDotName(rest[1:], text)
		case strings.HasPrefix(rest, "["):
			seg, rest, err = parseBracket(rest, text)
		default:
			return nil, fmt.Errorf("path %q: unexpected %q", text, rest)
		}
		if err != nil {
			return nil, err
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

func parseDotName(rest, text string) (segment, string, error) {
	if strings.HasPrefix(rest, "*") {
		return segment{kind: segWildcard}, rest[1:], nil
	}
	i := strings.IndexAny(rest, ".[")
	if i < 0 {
		i = len(rest)
	}
	name := rest[:i]
	if name == "" {
		return segment{}, "", fmt.Errorf("path %q: empty field name", text)
	}
	return segment{kind: segName, name: name}, rest[i:], nil
}

// parseBracket parses "[...]" at the start of rest.
func parseBracket(rest, text string) (segment, string, error) {
	end := matchingBracket(rest)
	if end < 0 {
		return segment{}, "", fmt.Errorf("path %q: unclosed '['", text)
	}
	inner := strings.TrimSpace(rest[1:end])
	after := rest[end+1:]
	switch {
	case inner == "*":
		return segment{kind: segWildcard}, after, nil
	case strings.HasPrefix(inner, "?(") && strings.HasSuffix(inner, ")"):
		f, err := parseFilter(inner[2:len(inner)-1], text)
		if err != nil {
			return segment{}, "", err
		}
		return segment{kind: segFilter, filter: f}, after, nil
	}
	parts := splitTopLevel(inner, ',')
	if len(parts) > 1 {
		seg := segment{kind: segUnion}
		for _, part := range parts {
			s, err := parseBracketItem(strings.TrimSpace(part), text)
			if err != nil {
				return segment{}, "", err
			}
			seg.union = append(seg.union, s)
		}
		return seg, after, nil
	}
	s, err := parseBracketItem(inner, text)
	return s, after, err
}

func parseBracketItem(item, text string) (segment, error) {
	if len(item) >= 2 && (item[0] == '\'' || item[0] == '"') && item[len(item)-1] == item[0] {
		return segment{kind: segName, name: item[1 : len(item)-1]}, nil
	}
	if strings.Contains(item, ":") {
		parts := strings.Split(item, ":")
		if len(parts) > 3 {
			return segment{}, fmt.Errorf("path %q: bad slice [%s]", text, item)
		}
		seg := segment{kind: segSlice}
		for i, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return segment{}, fmt.Errorf("path %q: bad slice [%s]", text, item)
			}
			seg.slice[i] = &n
		}
		return seg, nil
	}
	n, err := strconv.Atoi(item)
	if err != nil {
		return segment{}, fmt.Errorf("path %q: bad subscript [%s]", text, item)
	}
	return segment{kind: segIndex, index: n}, nil
}

// matchingBracket finds the ']' that closes the '[' s starts with, or -1.
func matchingBracket(s string) int {
	depth := 0
	return scanUnquoted(s, func(c byte) bool {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
			return depth == 0
		}
		return false
	})
}

// scanUnquoted returns the index of the first byte of s outside a quoted string ('…' or "…")
// for which stop holds, or -1. stop sees every unquoted byte in order, so it can track nesting.
func scanUnquoted(s string, stop func(c byte) bool) int {
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case stop(c):
			return i
		}
	}
	return -1
}

func splitTopLevel(s string, sep byte) []string {
	var parts []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// filterExpr is "@.path op literal" or "@.path" (existence).
type filterExpr struct {
	left  *path
	op    string
	right any
}

func parseFilter(s, text string) (*filterExpr, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if i := strings.Index(s, op); i > 0 {
			left, err := compilePath("$" + strings.TrimPrefix(strings.TrimSpace(s[:i]), "@"))
			if err != nil || !strings.HasPrefix(strings.TrimSpace(s[:i]), "@") {
				return nil, fmt.Errorf("path %q: filter must compare @.<field>", text)
			}
			lit := strings.TrimSpace(s[i+len(op):])
			if strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2 {
				lit = strconv.Quote(lit[1 : len(lit)-1])
			}
			v, err := ParseJSON([]byte(lit))
			if err != nil {
				return nil, fmt.Errorf("path %q: filter literal %s: %v", text, lit, err)
			}
			return &filterExpr{left: left, op: op, right: v}, nil
		}
	}
	if !strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("path %q: unsupported filter %q", text, s)
	}
	left, err := compilePath("$" + s[1:])
	if err != nil {
		return nil, err
	}
	return &filterExpr{left: left}, nil
}

func (f *filterExpr) match(v any) bool {
	got, ok := f.left.selectOne(v)
	if f.op == "" {
		return ok
	}
	if !ok {
		return false
	}
	switch f.op {
	case "==":
		return Equal(got, f.right)
	case "!=":
		return !Equal(got, f.right)
	}
	if a, ok := got.(float64); ok {
		if b, ok := f.right.(float64); ok {
			return ordered(f.op, a, b)
		}
	}
	if a, ok := got.(string); ok {
		if b, ok := f.right.(string); ok {
			return ordered(f.op, a, b)
		}
	}
	return false
}

// ordered applies an ordering operator (<, <=, > or >=) to two numbers or two strings; any other
// operator is false.
func ordered[T cmp.Ordered](op string, a, b T) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

// selectOne follows a definite path from root (the path's own "$" or "$$" is not resolved here).
func (p *path) selectOne(root any) (any, bool) {
	cur := root
	for _, s := range p.segs {
		switch s.kind {
		case segName:
			o, ok := cur.(*Object)
			if !ok {
				return nil, false
			}
			cur, ok = o.Get(s.name)
			if !ok {
				return nil, false
			}
		case segIndex:
			a, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			i := s.index
			if i < 0 {
				i += len(a)
			}
			if i < 0 || i >= len(a) {
				return nil, false
			}
			cur = a[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// selectAll returns every node an indefinite path selects, in document order.
func (p *path) selectAll(root any) []any {
	nodes := []any{root}
	for _, s := range p.segs {
		var next []any
		for _, n := range nodes {
			if s.descendant {
				for _, d := range descendants(n) {
					next = append(next, applySeg(s, d)...)
				}
			} else {
				next = append(next, applySeg(s, n)...)
			}
		}
		nodes = next
	}
	return nodes
}

func descendants(v any) []any {
	out := []any{v}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			out = append(out, descendants(e)...)
		}
	case *Object:
		for _, k := range t.Keys {
			out = append(out, descendants(t.Values[k])...)
		}
	}
	return out
}

func applySeg(s segment, v any) []any {
	switch s.kind {
	case segName:
		if o, ok := v.(*Object); ok {
			if e, ok := o.Get(s.name); ok {
				return []any{e}
			}
		}
	case segIndex:
		if a, ok := v.([]any); ok {
			i := s.index
			if i < 0 {
				i += len(a)
			}
			if i >= 0 && i < len(a) {
				return []any{a[i]}
			}
		}
	case segWildcard:
		switch t := v.(type) {
		case []any:
			return append([]any(nil), t...)
		case *Object:
			out := make([]any, 0, t.Len())
			for _, k := range t.Keys {
				out = append(out, t.Values[k])
			}
			return out
		}
	case segSlice:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		start, end, step := 0, len(a), 1
		if s.slice[2] != nil {
			step = *s.slice[2]
		}
		if step == 0 {
			return nil
		}
		norm := func(i int) int {
			if i < 0 {
				i += len(a)
			}
			return int(math.Max(0, math.Min(float64(i), float64(len(a)))))
		}
		if s.slice[0] != nil {
			start = norm(*s.slice[0])
		}
		if s.slice[1] != nil {
			end = norm(*s.slice[1])
		}
		var out []any
		if step > 0 {
			for i := start; i < end; i += step {
				out = append(out, a[i])
			}
		}
		return out
	case segUnion:
		var out []any
		for _, u := range s.union {
			out = append(out, applySeg(u, v)...)
		}
		return out
	case segFilter:
		var out []any
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				if s.filter.match(e) {
					out = append(out, e)
				}
			}
		case *Object:
			for _, k := range t.Keys {
				if s.filter.match(t.Values[k]) {
					out = append(out, t.Values[k])
				}
			}
		}
		return out
	}
	return nil
}

// eval evaluates a path against the state data and the context object. A definite path that
// selects nothing is a States.Runtime failure naming the path, as AWS reports it; an indefinite
// path yields the (possibly empty) list of what it selects.
func (p *path) eval(data, ctx any) (any, error) {
	root := data
	if p.context {
		root = ctx
	}
	if p.definite() {
		v, ok := p.selectOne(root)
		if !ok {
			return nil, runtimeErr("Invalid path '%s': The path references a value that does not exist in the input '%s'", p.text, truncate(MustString(root), 1000))
		}
		return v, nil
	}
	out := p.selectAll(root)
	if out == nil {
		out = []any{}
	}
	return out, nil
}

// evalPath compiles and evaluates a path in one step.
func evalPath(text string, data, ctx any) (any, error) {
	p, err := compilePath(text)
	if err != nil {
		return nil, runtimeErr("%v", err)
	}
	return p.eval(data, ctx)
}

// present reports whether a reference path selects a node (Choice IsPresent).
func present(text string, data, ctx any) bool {
	p, err := compilePath(text)
	if err != nil {
		return false
	}
	root := data
	if p.context {
		root = ctx
	}
	if p.definite() {
		_, ok := p.selectOne(root)
		return ok
	}
	return len(p.selectAll(root)) > 0
}

// setResult places result in a copy of input at a reference path (ResultPath). The path's parent
// objects are created as needed; a path through a value that is not an object (or an array index
// out of range) is a States.ResultPathMatchFailure, as in AWS.
func setResult(pathText string, input, result any) (any, error) {
	p, err := compilePath(pathText)
	if err != nil || p.context || !p.definite() {
		return nil, failf(ErrResultPathMatch, "ResultPath %q is not a reference path", pathText)
	}
	if len(p.segs) == 0 {
		return result, nil
	}
	root := clone(input)
	fail := func() error {
		return failf(ErrResultPathMatch, "Unable to apply ResultPath \"%s\" to input \"%s\"", pathText, truncate(MustString(input), 1000))
	}
	cur := root
	for i, s := range p.segs {
		last := i == len(p.segs)-1
		switch s.kind {
		case segName:
			o, ok := cur.(*Object)
			if !ok {
				return nil, fail()
			}
			if last {
				o.Set(s.name, result)
				return root, nil
			}
			next, ok := o.Get(s.name)
			if !ok || next == nil {
				next = NewObject()
				o.Set(s.name, next)
			}
			cur = next
		case segIndex:
			a, ok := cur.([]any)
			if !ok || s.index < 0 || s.index >= len(a) {
				return nil, fail()
			}
			if last {
				a[s.index] = result
				return root, nil
			}
			cur = a[s.index]
		}
	}
	return root, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
