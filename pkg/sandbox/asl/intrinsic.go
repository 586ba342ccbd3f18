package asl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// An intrinsic is a parsed intrinsic function call, for example States.Format('{}', $.name).

type argKind int

const (
	argLiteral argKind = iota
	argPath
	argCall
)

type intrinsicArg struct {
	kind argKind
	lit  any    // literal value (string, number, bool, null)
	raw  string // a string literal's text with its escapes kept, for States.Format templates
	path *path
	call *intrinsic
}

type intrinsic struct {
	name string
	args []intrinsicArg
}

// isIntrinsic reports whether a ".$" value is an intrinsic call rather than a path.
func isIntrinsic(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "States.") }

// parseIntrinsic parses a whole intrinsic expression.
func parseIntrinsic(src string) (*intrinsic, error) {
	p := &intrParser{src: strings.TrimSpace(src)}
	call, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic function %q: %w", src, err)
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("intrinsic function %q: unexpected %q after the call", src, p.src[p.pos:])
	}
	return call, nil
}

type intrParser struct {
	src string
	pos int
}

func (p *intrParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *intrParser) call() (*intrinsic, error) {
	open := strings.IndexByte(p.src[p.pos:], '(')
	if open < 0 {
		return nil, fmt.Errorf("missing '('")
	}
	name := strings.TrimSpace(p.src[p.pos : p.pos+open])
	if _, ok := intrinsics[name]; !ok {
		return nil, fmt.Errorf("unknown function %s", name)
	}
	p.pos += open + 1
	call := &intrinsic{name: name}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return call, nil
	}
	for {
		p.skipSpace()
		arg, err := p.arg()
		if err != nil {
			return nil, err
		}
		call.args = append(call.args, arg)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, fmt.Errorf("missing ')'")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return call, nil
		default:
			return nil, fmt.Errorf("unexpected %q", p.src[p.pos:])
		}
	}
}

func (p *intrParser) arg() (intrinsicArg, error) {
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "'"):
		var b strings.Builder
		i := 1
		for ; i < len(rest); i++ {
			c := rest[i]
			if c == '\\' && i+1 < len(rest) {
				b.WriteByte(rest[i+1])
				i++
				continue
			}
			if c == '\'' {
				break
			}
			b.WriteByte(c)
		}
		if i >= len(rest) {
			return intrinsicArg{}, fmt.Errorf("unterminated string literal")
		}
		p.pos += i + 1
		return intrinsicArg{kind: argLiteral, lit: b.String(), raw: rest[1:i]}, nil
	case strings.HasPrefix(rest, "States."):
		c, err := p.call()
		return intrinsicArg{kind: argCall, call: c}, err
	case strings.HasPrefix(rest, "$"):
		end := scanPathEnd(rest)
		cp, err := compilePath(strings.TrimSpace(rest[:end]))
		if err != nil {
			return intrinsicArg{}, err
		}
		p.pos += end
		return intrinsicArg{kind: argPath, path: cp}, nil
	default:
		end := strings.IndexAny(rest, ",)")
		if end < 0 {
			end = len(rest)
		}
		tok := strings.TrimSpace(rest[:end])
		var v any
		switch tok {
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		default:
			f, err := strconv.ParseFloat(tok, 64)
			if err != nil {
				return intrinsicArg{}, fmt.Errorf("argument %q is neither a string, a number, a boolean, null, a path nor a function", tok)
			}
			v = f
		}
		p.pos += end
		return intrinsicArg{kind: argLiteral, lit: v}, nil
	}
}

// scanPathEnd finds where a path argument ends: at a top-level ',' or ')'.
func scanPathEnd(s string) int {
	depth := 0
	end := scanUnquoted(s, func(c byte) bool {
		switch {
		case c == '[' || c == '(':
			depth++
		case c == ']':
			depth--
		case c == ')':
			if depth == 0 {
				return true
			}
			depth--
		case c == ',':
			return depth == 0
		}
		return false
	})
	if end < 0 {
		return len(s)
	}
	return end
}

// evalIntrinsic runs a call against the state data and context. Any failure is States.Runtime,
// which is what Step Functions reports for a failed intrinsic in a JSONPath state.
func (c *intrinsic) eval(data, ctx any) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch a.kind {
		case argLiteral:
			args[i] = a.lit
		case argPath:
			v, err := a.path.eval(data, ctx)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case argCall:
			v, err := a.call.eval(data, ctx)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
	}
	fn := intrinsics[c.name]
	if c.name == "States.Format" && len(c.args) > 0 && c.args[0].kind == argLiteral {
		if _, ok := c.args[0].lit.(string); ok {
			return formatTemplate(c.args[0].raw, true, args[1:])
		}
	}
	v, err := fn(args)
	if err != nil {
		return nil, runtimeErr("The function '%s' had the following error: %v", c.name, err)
	}
	return v, nil
}

type intrinsicFunc func(args []any) (any, error)

var intrinsics map[string]intrinsicFunc

func init() {
	intrinsics = map[string]intrinsicFunc{
		"States.Format": func(a []any) (any, error) {
			if len(a) < 1 {
				return nil, fmt.Errorf("expects at least 1 argument")
			}
			s, ok := a[0].(string)
			if !ok {
				return nil, fmt.Errorf("the template must be a string, got %s", typeName(a[0]))
			}
			v, err := formatTemplate(s, false, a[1:])
			if err != nil {
				return nil, err
			}
			return v, nil
		},
		"States.StringToJson": func(a []any) (any, error) {
			s, err := oneString(a)
			if err != nil {
				return nil, err
			}
			v, err := ParseJSON([]byte(s))
			if err != nil {
				return nil, fmt.Errorf("the argument is not JSON text: %v", err)
			}
			return v, nil
		},
		"States.JsonToString": func(a []any) (any, error) {
			if len(a) != 1 {
				return nil, fmt.Errorf("expects exactly 1 argument, got %d", len(a))
			}
			return MustString(a[0]), nil
		},
		"States.Array": func(a []any) (any, error) {
			return append([]any{}, a...), nil
		},
		"States.ArrayPartition": func(a []any) (any, error) {
			arr, err := arrayArgs(a, 2)
			if err != nil {
				return nil, err
			}
			n, ok := integer(a[1])
			if !ok || n <= 0 {
				return nil, fmt.Errorf("argument 2 (chunk size) must be a positive integer")
			}
			out := []any{}
			for i := 0; i < len(arr); i += n {
				out = append(out, append([]any{}, arr[i:min(i+n, len(arr))]...))
			}
			return out, nil
		},
		"States.ArrayContains": func(a []any) (any, error) {
			arr, err := arrayArgs(a, 2)
			if err != nil {
				return nil, err
			}
			for _, e := range arr {
				if Equal(e, a[1]) {
					return true, nil
				}
			}
			return false, nil
		},
		"States.ArrayRange": func(a []any) (any, error) {
			if len(a) != 3 {
				return nil, fmt.Errorf("expects exactly 3 arguments, got %d", len(a))
			}
			start, ok1 := integer(a[0])
			end, ok2 := integer(a[1])
			step, ok3 := integer(a[2])
			if !ok1 || !ok2 || !ok3 {
				return nil, fmt.Errorf("start, end and step must be integers")
			}
			if step == 0 {
				return nil, fmt.Errorf("step must not be 0")
			}
			out := []any{}
			for i := start; (step > 0 && i <= end) || (step < 0 && i >= end); i += step {
				if len(out) == 1000 {
					return nil, fmt.Errorf("the result may hold at most 1000 elements")
				}
				out = append(out, float64(i))
			}
			return out, nil
		},
		"States.ArrayGetItem": func(a []any) (any, error) {
			arr, err := arrayArgs(a, 2)
			if err != nil {
				return nil, err
			}
			i, ok := integer(a[1])
			if !ok || i < 0 {
				return nil, fmt.Errorf("argument 2 (index) must be a non-negative integer")
			}
			if i >= len(arr) {
				return nil, fmt.Errorf("index %d is out of bounds for an array of %d", i, len(arr))
			}
			return arr[i], nil
		},
		"States.ArrayLength": func(a []any) (any, error) {
			arr, err := arrayArgs(a, 1)
			if err != nil {
				return nil, err
			}
			return float64(len(arr)), nil
		},
		"States.ArrayUnique": func(a []any) (any, error) {
			arr, err := arrayArgs(a, 1)
			if err != nil {
				return nil, err
			}
			out := []any{}
		next:
			for _, e := range arr {
				for _, seen := range out {
					if Equal(seen, e) {
						continue next
					}
				}
				out = append(out, e)
			}
			return out, nil
		},
		"States.Base64Encode": func(a []any) (any, error) {
			s, err := base64Input(a)
			if err != nil {
				return nil, err
			}
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		},
		"States.Base64Decode": func(a []any) (any, error) {
			s, err := base64Input(a)
			if err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("the input is not base64: %v", err)
			}
			return string(b), nil
		},
		"States.Hash": func(a []any) (any, error) {
			if len(a) != 2 {
				return nil, fmt.Errorf("expects exactly 2 arguments, got %d", len(a))
			}
			data, ok := a[0].(string)
			if !ok {
				return nil, fmt.Errorf("argument 1 (data) must be a string, got %s", typeName(a[0]))
			}
			if utf8.RuneCountInString(data) > 10000 {
				return nil, fmt.Errorf("the data may have at most 10000 characters")
			}
			alg, _ := a[1].(string)
			var h hash.Hash
			switch alg {
			case "MD5":
				h = md5.New()
			case "SHA-1":
				h = sha1.New()
			case "SHA-256":
				h = sha256.New()
			case "SHA-384":
				h = sha512.New384()
			case "SHA-512":
				h = sha512.New()
			default:
				return nil, fmt.Errorf("algorithm %v is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", a[1])
			}
			h.Write([]byte(data))
			return hex.EncodeToString(h.Sum(nil)), nil
		},
		"States.JsonMerge": func(a []any) (any, error) {
			if len(a) != 3 {
				return nil, fmt.Errorf("expects exactly 3 arguments, got %d", len(a))
			}
			x, ok1 := a[0].(*Object)
			y, ok2 := a[1].(*Object)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("arguments 1 and 2 must be objects")
			}
			if deep, ok := a[2].(bool); !ok || deep {
				return nil, fmt.Errorf("argument 3 must be false (deep merge is not supported)")
			}
			out := clone(x).(*Object)
			for _, k := range y.Keys {
				out.Set(k, clone(y.Values[k]))
			}
			return out, nil
		},
		"States.MathRandom": func(a []any) (any, error) {
			if len(a) != 2 && len(a) != 3 {
				return nil, fmt.Errorf("expects 2 or 3 arguments, got %d", len(a))
			}
			start, ok1 := integer(a[0])
			end, ok2 := integer(a[1])
			if !ok1 || !ok2 || end <= start {
				return nil, fmt.Errorf("start and end must be integers with start < end")
			}
			var r *mrand.Rand
			if len(a) == 3 {
				seed, ok := integer(a[2])
				if !ok {
					return nil, fmt.Errorf("the seed must be an integer")
				}
				r = mrand.New(mrand.NewPCG(uint64(seed), 0))
			} else {
				var b [16]byte
				_, _ = rand.Read(b[:])
				r = mrand.New(mrand.NewPCG(uint64FromBytes(b[:8]), uint64FromBytes(b[8:])))
			}
			// The start is inclusive and the end exclusive.
			return float64(start + r.IntN(end-start)), nil
		},
		"States.MathAdd": func(a []any) (any, error) {
			if len(a) != 2 {
				return nil, fmt.Errorf("expects exactly 2 arguments, got %d", len(a))
			}
			x, ok1 := integer(a[0])
			y, ok2 := integer(a[1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("both arguments must be integers")
			}
			return float64(x + y), nil
		},
		"States.StringSplit": func(a []any) (any, error) {
			if len(a) != 2 {
				return nil, fmt.Errorf("expects exactly 2 arguments, got %d", len(a))
			}
			s, ok1 := a[0].(string)
			d, ok2 := a[1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("both arguments must be strings")
			}
			// Every character of the delimiter string splits; empty pieces are dropped (AWS's
			// example splits "This.is+a,test=string" on ".+,=" into five words).
			parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		},
		"States.UUID": func(a []any) (any, error) {
			if len(a) != 0 {
				return nil, fmt.Errorf("expects no arguments, got %d", len(a))
			}
			return core.NewUUID(), nil
		},
	}
}

func uint64FromBytes(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// formatTemplate fills each {} with the next argument. With escaped set, the template is the
// literal's source text, where \{ and \} are literal braces and \\ a backslash.
func formatTemplate(tmpl string, escaped bool, args []any) (any, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if escaped && c == '\\' && i+1 < len(tmpl) {
			b.WriteByte(tmpl[i+1])
			i++
			continue
		}
		if c == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}' {
			if n >= len(args) {
				return nil, runtimeErr("The function 'States.Format' had the following error: the template has more {} than arguments")
			}
			switch v := args[n].(type) {
			case string:
				b.WriteString(v)
			case nil, bool, float64:
				b.WriteString(MustString(v))
			default:
				return nil, runtimeErr("The function 'States.Format' had the following error: argument %d is %s; only strings, numbers, booleans and null can be formatted", n+2, typeName(v))
			}
			n++
			i++
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		return nil, runtimeErr("The function 'States.Format' had the following error: the template has %d {} but %d arguments were given", n, len(args))
	}
	return b.String(), nil
}

func integer(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func oneString(a []any) (string, error) {
	if len(a) != 1 {
		return "", fmt.Errorf("expects exactly 1 argument, got %d", len(a))
	}
	s, ok := a[0].(string)
	if !ok {
		return "", fmt.Errorf("the argument must be a string, got %s", typeName(a[0]))
	}
	return s, nil
}

// base64Input checks the argument of States.Base64Encode and States.Base64Decode: one string of
// at most 10000 characters.
func base64Input(a []any) (string, error) {
	s, err := oneString(a)
	if err != nil {
		return "", err
	}
	if utf8.RuneCountInString(s) > 10000 {
		return "", fmt.Errorf("the input may have at most 10000 characters")
	}
	return s, nil
}

// arrayArgs checks the arguments of a function of n arguments whose first is an array, and
// returns the array.
func arrayArgs(a []any, n int) ([]any, error) {
	if len(a) != n {
		if n == 1 {
			return nil, fmt.Errorf("expects exactly 1 argument, got %d", len(a))
		}
		return nil, fmt.Errorf("expects exactly %d arguments, got %d", n, len(a))
	}
	arr, ok := a[0].([]any)
	if !ok {
		if n == 1 {
			return nil, fmt.Errorf("the argument must be an array, got %s", typeName(a[0]))
		}
		return nil, fmt.Errorf("argument 1 must be an array, got %s", typeName(a[0]))
	}
	return arr, nil
}
