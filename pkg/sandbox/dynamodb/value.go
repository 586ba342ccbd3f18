package dynamodb

import (
	"bytes"
	"encoding/json"
	"math/big"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// value is one AttributeValue of a type the sandbox supports. N is kept in its canonical form
// (canonicalNumber), so equal numbers have equal strings and key lookups need no arithmetic.
type value struct {
	typ string // "S", "N", "BOOL" or "M"
	s   string // the S string or the canonical N
	b   bool
	m   item
}

// item is an item, or a map attribute's members, by attribute name.
type item map[string]value

// supportedTypes are the AttributeValue members the sandbox stores; the model's others are refused
// by name (unsupportedType) rather than misread.
const supportedTypes = "S, N, BOOL and M"

var modelTypes = map[string]bool{"S": true, "N": true, "B": true, "SS": true, "NS": true, "BS": true, "M": true, "L": true, "NULL": true, "BOOL": true}

func validation(format string, args ...any) *core.Error {
	return core.Errorf("ValidationException", format, args...)
}

func serialization(format string, args ...any) *core.Error {
	return core.Errorf("SerializationException", format, args...)
}

// parseValue reads one AttributeValue as the wire carries it ({"S": "x"}, {"N": "1"}, ...),
// answering AWS's messages for an empty value or one with several types.
func parseValue(raw json.RawMessage) (value, *core.Error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return value{}, serialization("Unexpected value type in payload: an AttributeValue must be an object")
	}
	switch len(members) {
	case 0:
		return value{}, validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case 1:
	default:
		return value{}, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	for typ, body := range members {
		switch typ {
		case "S":
			var s string
			if err := json.Unmarshal(body, &s); err != nil {
				return value{}, serialization("STRING_VALUE cannot be converted to String: the S member must be a string")
			}
			return value{typ: "S", s: s}, nil
		case "N":
			var s string
			if err := json.Unmarshal(body, &s); err != nil {
				return value{}, serialization("NUMBER_VALUE cannot be converted to String")
			}
			n, err := canonicalNumber(s)
			if err != nil {
				return value{}, err
			}
			return value{typ: "N", s: n}, nil
		case "BOOL":
			var b bool
			if err := json.Unmarshal(body, &b); err != nil {
				return value{}, serialization("the BOOL member must be true or false")
			}
			return value{typ: "BOOL", b: b}, nil
		case "M":
			var rawMembers map[string]json.RawMessage
			if err := json.Unmarshal(body, &rawMembers); err != nil || rawMembers == nil {
				return value{}, serialization("the M member must be an object")
			}
			m, err := parseItem(rawMembers)
			if err != nil {
				return value{}, err
			}
			return value{typ: "M", m: m}, nil
		default:
			if modelTypes[typ] {
				return value{}, validation("the sandbox's DynamoDB supports attribute types %s, not %s", supportedTypes, typ)
			}
			return value{}, serialization("Unknown AttributeValue member %q", typ)
		}
	}
	panic("unreachable")
}

// parseItem reads a map of AttributeValues (an item, a key, a map attribute's members).
func parseItem(raw map[string]json.RawMessage) (item, *core.Error) {
	out := make(item, len(raw))
	for name, r := range raw {
		v, err := parseValue(r)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// MarshalJSON writes the AttributeValue as the wire carries it.
func (v value) MarshalJSON() ([]byte, error) {
	var member any
	switch v.typ {
	case "S", "N":
		member = v.s
	case "BOOL":
		member = v.b
	case "M":
		member = v.m
	}
	return json.Marshal(map[string]any{v.typ: member})
}

func (v value) equal(o value) bool {
	if v.typ != o.typ {
		return false
	}
	switch v.typ {
	case "BOOL":
		return v.b == o.b
	case "M":
		if len(v.m) != len(o.m) {
			return false
		}
		for k, x := range v.m {
			y, ok := o.m[k]
			if !ok || !x.equal(y) {
				return false
			}
		}
		return true
	default: // S, and N in canonical form
		return v.s == o.s
	}
}

// less orders two values as DynamoDB's < does: numbers by value, strings by their UTF-8 bytes.
// Values of different types, or of types without an order, are never less.
func (v value) less(o value) bool {
	if v.typ != o.typ {
		return false
	}
	switch v.typ {
	case "S":
		return v.s < o.s
	case "N":
		return rat(v.s).Cmp(rat(o.s)) < 0
	}
	return false
}

// typeName is the name DynamoDB's expression errors give an operand's type.
func (v value) typeName() string {
	switch v.typ {
	case "S":
		return "STRING"
	case "N":
		return "NUMBER"
	case "BOOL":
		return "BOOLEAN"
	}
	return "MAP"
}

// size is the item-size contribution of a value, after DynamoDB's documented accounting: a
// string's UTF-8 bytes, a number's significant digits over two plus one, one byte for a boolean,
// three bytes for a map plus its members' names and values (and a byte each). The sandbox uses it
// for the 400 KB item limit; it is close to AWS's figure, not guaranteed equal.
func (v value) size() int {
	switch v.typ {
	case "S":
		return len(v.s)
	case "N":
		digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(v.s), "0")
		return (len(digits)+1)/2 + 1
	case "BOOL":
		return 1
	}
	n := 3
	for k, x := range v.m {
		n += len(k) + x.size() + 1
	}
	return n
}

// size is an item's size: its attribute names and values.
func (it item) size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.size()
	}
	return n
}

func (it item) clone() item {
	if it == nil {
		return nil
	}
	out := make(item, len(it))
	for k, v := range it {
		out[k] = v // values are never changed in place: an update replaces them
	}
	return out
}

// DynamoDB numbers: up to 38 significant digits, magnitudes from 1E-130 to under 1E+126.
const maxDigits = 38

var (
	numberRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)
	maxMag   = rat("1e126")
	minMag   = rat("1e-130")
)

// rat parses a number known to be valid (a canonical N or a constant).
func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("dynamodb: invalid canonical number " + s)
	}
	return r
}

// canonicalNumber checks an N as DynamoDB does and returns it without leading or trailing zeros
// or exponent, as DynamoDB returns numbers ("1.50" is "1.5", "1e2" is "100", "-0" is "0").
func canonicalNumber(s string) (string, *core.Error) {
	if !numberRE.MatchString(s) {
		return "", validation("The parameter cannot be converted to a numeric value: %s", s)
	}
	mantissa, _, _ := strings.Cut(strings.ToLower(strings.TrimLeft(s, "+-")), "e")
	if digits := strings.Trim(strings.Replace(mantissa, ".", "", 1), "0"); len(digits) > maxDigits {
		return "", validation("Attempting to store more than %d significant digits in a Number", maxDigits)
	}
	return formatNumber(rat(s))
}

// formatNumber checks a number's range and precision and writes it in canonical form.
func formatNumber(r *big.Rat) (string, *core.Error) {
	abs := new(big.Rat).Abs(r)
	switch {
	case abs.Cmp(maxMag) >= 0:
		return "", validation("Number overflow. Attempting to store a number with magnitude larger than supported range")
	case r.Sign() != 0 && abs.Cmp(minMag) < 0:
		return "", validation("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	if r.IsInt() {
		return r.Num().String(), checkDigits(r.Num().String())
	}
	// A decimal's denominator divides a power of ten: find the fewest places that write it exactly.
	scale, ten := 0, big.NewRat(10, 1)
	for x := new(big.Rat).Set(r); !x.IsInt(); x.Mul(x, ten) {
		scale++
	}
	out := r.FloatString(scale)
	return out, checkDigits(out)
}

func checkDigits(n string) *core.Error {
	if digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(n), "0"); len(digits) > maxDigits {
		return validation("Attempting to store more than %d significant digits in a Number", maxDigits)
	}
	return nil
}

// addNumbers returns a+b (or a-b when negate) in canonical form.
func addNumbers(a, b string, negate bool) (string, *core.Error) {
	y := rat(b)
	if negate {
		y.Neg(y)
	}
	return formatNumber(new(big.Rat).Add(rat(a), y))
}

// keyString identifies an item by its key values (type and canonical value), for the table's map.
func keyString(vals ...value) string {
	var b bytes.Buffer
	for _, v := range vals {
		b.WriteString(v.typ)
		b.WriteByte(':')
		b.WriteString(v.s)
		b.WriteByte(0)
	}
	return b.String()
}
