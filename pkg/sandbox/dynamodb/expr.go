package dynamodb

import (
	"fmt"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// The expression subset the sandbox evaluates (docs: "Condition and filter expressions" and
// "Update expressions" in the DynamoDB Developer Guide):
//
//	condition := term { AND term }
//	term      := attribute_exists(path) | attribute_not_exists(path) | operand ( = | < ) operand
//	update    := SET set {, set} and/or ADD path :value {, path :value}, each clause once
//	set       := path = setValue [ ( + | - ) setValue ]
//	setValue  := operand | if_not_exists(path, operand)
//	operand   := path | :value
//	path      := #name (a top-level attribute, through ExpressionAttributeNames)
//
// Anything else DynamoDB accepts (OR, NOT, parentheses, BETWEEN, IN, the other comparators and
// functions, REMOVE, DELETE, nested paths, attribute names written in the expression) is refused
// with a ValidationException that names it, never evaluated approximately. Attribute names must
// come through ExpressionAttributeNames so that no DynamoDB reserved word (there are hundreds,
// such as "status" or "count") passes here and fails on AWS.

type tokenKind int

const (
	tokEOF   tokenKind = iota
	tokName            // #name
	tokValue           // :value
	tokWord            // a keyword, function or bare attribute name
	tokOp              // = < <= > >= <>
	tokArith           // + -
	tokPunct           // ( ) , . [ ]
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

// exprEnv is one request's expression parameters and what its expressions used of them.
type exprEnv struct {
	names     map[string]string
	values    map[string]value
	usedNames map[string]bool
	usedVals  map[string]bool
}

// parser reads one expression; which names it in errors ("ConditionExpression").
type parser struct {
	which string
	src   string
	toks  []token
	i     int
	env   *exprEnv
}

func isWordChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func lex(which, src string) ([]token, *core.Error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '#' || c == ':':
			i++
			for i < len(src) && isWordChar(src[i]) {
				i++
			}
			if i == start+1 {
				return nil, syntaxError(which, src[start:i], src[start:i])
			}
			kind := tokName
			if c == ':' {
				kind = tokValue
			}
			toks = append(toks, token{kind, src[start:i], start})
			continue
		case isWordChar(c):
			for i < len(src) && isWordChar(src[i]) {
				i++
			}
			toks = append(toks, token{tokWord, src[start:i], start})
			continue
		case c == '<':
			i++
			if i < len(src) && (src[i] == '=' || src[i] == '>') {
				i++
			}
			toks = append(toks, token{tokOp, src[start:i], start})
			continue
		case c == '>':
			i++
			if i < len(src) && src[i] == '=' {
				i++
			}
			toks = append(toks, token{tokOp, src[start:i], start})
			continue
		case c == '=':
			toks = append(toks, token{tokOp, "=", start})
		case c == '+' || c == '-':
			toks = append(toks, token{tokArith, string(c), start})
		case strings.IndexByte("(),.[]", c) >= 0:
			toks = append(toks, token{tokPunct, string(c), start})
		default:
			return nil, syntaxError(which, string(c), string(c))
		}
		i++
	}
	return append(toks, token{tokEOF, "<EOF>", len(src)}), nil
}

func syntaxError(which, tok, near string) *core.Error {
	return validation("Invalid %s: Syntax error; token: %q, near: %q", which, tok, near)
}

// unsupported refuses a construct DynamoDB accepts but the sandbox does not evaluate.
func (p *parser) unsupported(what string) *core.Error {
	return validation("Invalid %s: the sandbox's DynamoDB does not support %s (it supports attribute_exists, attribute_not_exists, = and < joined by AND in conditions, and SET with if_not_exists, + and - or ADD of numbers in updates, on #name and :value operands)", p.which, what)
}

func newParser(which, src string, env *exprEnv) (*parser, *core.Error) {
	if strings.TrimSpace(src) == "" {
		return nil, validation("Invalid %s: The expression can not be empty;", which)
	}
	toks, err := lex(which, src)
	if err != nil {
		return nil, err
	}
	return &parser{which: which, src: src, toks: toks, env: env}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// fail is a syntax error at the current token, near the previous and current tokens as AWS
// quotes them.
func (p *parser) fail() *core.Error {
	t := p.peek()
	start := t.pos
	if p.i > 0 {
		start = p.toks[p.i-1].pos
	}
	end := t.pos + len(t.text)
	if t.kind == tokEOF {
		end = len(p.src)
	}
	return syntaxError(p.which, t.text, p.src[start:end])
}

func (p *parser) expectPunct(s string) *core.Error {
	if t := p.peek(); t.kind != tokPunct || t.text != s {
		return p.fail()
	}
	p.next()
	return nil
}

// path reads a #name and resolves it; a bare name or a nested path is refused.
func (p *parser) path() (string, *core.Error) {
	t := p.peek()
	switch t.kind {
	case tokName:
	case tokWord:
		return "", p.unsupported(fmt.Sprintf("the attribute name %q written in the expression: use a #name in ExpressionAttributeNames", t.text))
	default:
		return "", p.fail()
	}
	p.next()
	name, ok := p.env.names[t.text]
	if !ok {
		return "", validation("Invalid %s: An expression attribute name used in the document path is not defined; attribute name: %s", p.which, t.text)
	}
	p.env.usedNames[t.text] = true
	if n := p.peek(); n.kind == tokPunct && (n.text == "." || n.text == "[") {
		return "", p.unsupported("nested attribute paths")
	}
	return name, nil
}

// operand is a resolved path or value.
type operand struct {
	path string // set for a path
	val  value  // set when path is ""
	ref  string // the #name or :value as written
}

func (p *parser) valueRef() (operand, *core.Error) {
	t := p.next()
	v, ok := p.env.values[t.text]
	if !ok {
		return operand{}, validation("Invalid %s: An expression attribute value used in expression is not defined; attribute value: %s", p.which, t.text)
	}
	p.env.usedVals[t.text] = true
	return operand{val: v, ref: t.text}, nil
}

func (p *parser) operand() (operand, *core.Error) {
	switch t := p.peek(); t.kind {
	case tokValue:
		return p.valueRef()
	case tokName, tokWord:
		if t.kind == tokWord && p.toks[p.i+1].kind == tokPunct && p.toks[p.i+1].text == "(" {
			return operand{}, p.unsupported("the function " + t.text + " here")
		}
		ref := t.text
		name, err := p.path()
		return operand{path: name, ref: ref}, err
	case tokPunct:
		if t.text == "(" {
			return operand{}, p.unsupported("parentheses")
		}
	}
	return operand{}, p.fail()
}

func (o operand) resolve(it item) (value, bool) {
	if o.path == "" {
		return o.val, true
	}
	v, ok := it[o.path]
	return v, ok
}

// condition is a parsed ConditionExpression: terms that must all hold.
type condition []condTerm

type condTerm struct {
	fn   string // attribute_exists or attribute_not_exists; "" for a comparison
	path string
	op   string // = or <
	l, r operand
}

func parseCondition(src string, env *exprEnv) (condition, *core.Error) {
	p, err := newParser("ConditionExpression", src, env)
	if err != nil {
		return nil, err
	}
	var c condition
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		c = append(c, t)
		n := p.peek()
		if n.kind == tokEOF {
			return c, nil
		}
		if n.kind != tokWord {
			return nil, p.fail()
		}
		switch strings.ToUpper(n.text) {
		case "AND":
			p.next()
		case "OR", "NOT":
			return nil, p.unsupported(strings.ToUpper(n.text))
		default:
			return nil, p.fail()
		}
	}
}

func (p *parser) term() (condTerm, *core.Error) {
	t := p.peek()
	if t.kind == tokWord && p.toks[p.i+1].kind == tokPunct && p.toks[p.i+1].text == "(" {
		switch t.text {
		case "attribute_exists", "attribute_not_exists":
			p.next()
			p.next()
			path, err := p.path()
			if err != nil {
				return condTerm{}, err
			}
			if err := p.expectPunct(")"); err != nil {
				return condTerm{}, err
			}
			return condTerm{fn: t.text, path: path}, nil
		case "attribute_type", "begins_with", "contains", "size":
			return condTerm{}, p.unsupported("the function " + t.text)
		default:
			return condTerm{}, validation("Invalid %s: Invalid function name; function: %s", p.which, t.text)
		}
	}
	if t.kind == tokWord && strings.EqualFold(t.text, "NOT") {
		return condTerm{}, p.unsupported("NOT")
	}
	l, err := p.operand()
	if err != nil {
		return condTerm{}, err
	}
	op := p.peek()
	switch {
	case op.kind == tokOp && (op.text == "=" || op.text == "<"):
		p.next()
	case op.kind == tokOp:
		return condTerm{}, p.unsupported("the comparator " + op.text)
	case op.kind == tokWord && (strings.EqualFold(op.text, "BETWEEN") || strings.EqualFold(op.text, "IN")):
		return condTerm{}, p.unsupported(strings.ToUpper(op.text))
	default:
		return condTerm{}, p.fail()
	}
	r, err := p.operand()
	if err != nil {
		return condTerm{}, err
	}
	if op.text == "<" {
		for _, o := range []operand{l, r} {
			if o.path == "" && o.val.typ != "S" && o.val.typ != "N" {
				return condTerm{}, validation("Invalid %s: Incorrect operand type for operator or function; operator or function: <, operand type: %s", p.which, o.val.typeName())
			}
		}
	}
	return condTerm{op: op.text, l: l, r: r}, nil
}

// holds evaluates the condition against an item (nil when there is none).
func (c condition) holds(it item) bool {
	for _, t := range c {
		switch t.fn {
		case "attribute_exists":
			if _, ok := it[t.path]; !ok {
				return false
			}
			continue
		case "attribute_not_exists":
			if _, ok := it[t.path]; ok {
				return false
			}
			continue
		}
		l, lok := t.l.resolve(it)
		r, rok := t.r.resolve(it)
		if !lok || !rok {
			return false
		}
		if t.op == "=" && !l.equal(r) || t.op == "<" && !l.less(r) {
			return false
		}
	}
	return true
}

// update is a parsed UpdateExpression.
type update struct {
	sets []setAction
	adds []addAction
}

type setAction struct {
	path string
	a, b setValue
	op   string // "+", "-" or "" (a alone)
}

type setValue struct {
	operand
	ifNotExists bool // operand is the default; path the attribute tested
	testPath    string
}

type addAction struct {
	path string
	val  operand
}

func parseUpdate(src string, env *exprEnv) (update, *core.Error) {
	p, err := newParser("UpdateExpression", src, env)
	if err != nil {
		return update{}, err
	}
	var u update
	seen := map[string]bool{}
	var paths []string
	for p.peek().kind != tokEOF {
		kw := p.peek()
		if kw.kind != tokWord {
			return update{}, p.fail()
		}
		clause := strings.ToUpper(kw.text)
		switch clause {
		case "SET", "ADD":
		case "REMOVE", "DELETE":
			return update{}, p.unsupported("the " + clause + " clause")
		default:
			return update{}, p.fail()
		}
		if seen[clause] {
			return update{}, validation("Invalid UpdateExpression: The %q section can only be used once in an update expression;", clause)
		}
		seen[clause] = true
		p.next()
		for {
			path, err := p.path()
			if err != nil {
				return update{}, err
			}
			paths = append(paths, path)
			if clause == "SET" {
				a, err := p.setAction(path)
				if err != nil {
					return update{}, err
				}
				u.sets = append(u.sets, a)
			} else {
				if p.peek().kind != tokValue {
					return update{}, p.fail()
				}
				v, err := p.valueRef()
				if err != nil {
					return update{}, err
				}
				if v.val.typ != "N" {
					return update{}, validation("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: %s", v.val.typeName())
				}
				u.adds = append(u.adds, addAction{path: path, val: v})
			}
			if n := p.peek(); n.kind == tokPunct && n.text == "," {
				p.next()
				continue
			}
			break
		}
	}
	for i := range paths {
		for j := i + 1; j < len(paths); j++ {
			if paths[i] == paths[j] {
				return update{}, validation("Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", paths[i], paths[j])
			}
		}
	}
	return u, nil
}

func (p *parser) setAction(path string) (setAction, *core.Error) {
	if t := p.peek(); t.kind != tokOp || t.text != "=" {
		return setAction{}, p.fail()
	}
	p.next()
	a, err := p.setValue()
	if err != nil {
		return setAction{}, err
	}
	act := setAction{path: path, a: a}
	if t := p.peek(); t.kind == tokArith {
		p.next()
		b, err := p.setValue()
		if err != nil {
			return setAction{}, err
		}
		act.op, act.b = t.text, b
		for _, v := range []setValue{a, b} {
			if v.path == "" && v.val.typ != "N" {
				return setAction{}, validation("Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: %s, operand type: %s", t.text, v.val.typeName())
			}
		}
	}
	return act, nil
}

func (p *parser) setValue() (setValue, *core.Error) {
	t := p.peek()
	if t.kind == tokWord && p.toks[p.i+1].kind == tokPunct && p.toks[p.i+1].text == "(" {
		switch t.text {
		case "if_not_exists":
		case "list_append":
			return setValue{}, p.unsupported("the function list_append")
		default:
			return setValue{}, validation("Invalid UpdateExpression: Invalid function name; function: %s", t.text)
		}
		p.next()
		p.next()
		test, err := p.path()
		if err != nil {
			return setValue{}, err
		}
		if err := p.expectPunct(","); err != nil {
			return setValue{}, err
		}
		def, err := p.operand()
		if err != nil {
			return setValue{}, err
		}
		if err := p.expectPunct(")"); err != nil {
			return setValue{}, err
		}
		return setValue{operand: def, ifNotExists: true, testPath: test}, nil
	}
	o, err := p.operand()
	return setValue{operand: o}, err
}

// resolve evaluates a SET operand against the item before the update.
func (v setValue) resolve(it item) (value, *core.Error) {
	if v.ifNotExists {
		if cur, ok := it[v.testPath]; ok {
			return cur, nil
		}
	}
	out, ok := v.operand.resolve(it)
	if !ok {
		return value{}, validation("The provided expression refers to an attribute that does not exist in the item")
	}
	return out, nil
}

// apply returns the item after the update and the attributes it set, in order. Every operand is
// read from the item as it was before the update, as DynamoDB does.
func (u update) apply(old item) (item, []string, *core.Error) {
	next := old.clone()
	if next == nil {
		next = item{}
	}
	var changed []string
	for _, s := range u.sets {
		a, err := s.a.resolve(old)
		if err != nil {
			return nil, nil, err
		}
		if s.op != "" {
			b, err := s.b.resolve(old)
			if err != nil {
				return nil, nil, err
			}
			if a.typ != "N" || b.typ != "N" {
				return nil, nil, validation("An operand in the update expression has an incorrect data type")
			}
			n, err := addNumbers(a.s, b.s, s.op == "-")
			if err != nil {
				return nil, nil, err
			}
			a = value{typ: "N", s: n}
		}
		next[s.path] = a
		changed = append(changed, s.path)
	}
	for _, ad := range u.adds {
		cur, ok := old[ad.path]
		switch {
		case !ok:
			next[ad.path] = ad.val.val
		case cur.typ != "N":
			return nil, nil, validation("An operand in the update expression has an incorrect data type")
		default:
			n, err := addNumbers(cur.s, ad.val.val.s, false)
			if err != nil {
				return nil, nil, err
			}
			next[ad.path] = value{typ: "N", s: n}
		}
		changed = append(changed, ad.path)
	}
	return next, changed, nil
}

// unused lists the names or values a request gave that no expression used, in AWS's
// "{#a, #b}" form, or "" when all were used.
func unused[V any](given map[string]V, used map[string]bool) string {
	var out []string
	for k := range given {
		if !used[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return "{" + strings.Join(out, ", ") + "}"
}
