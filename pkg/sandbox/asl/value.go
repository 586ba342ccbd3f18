package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Object is a JSON object that keeps the order of its keys.
type Object struct {
	Keys   []string
	Values map[string]any
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{Values: map[string]any{}} }

// Get returns the member named k.
func (o *Object) Get(k string) (any, bool) {
	v, ok := o.Values[k]
	return v, ok
}

// Set sets member k, appending it when new.
func (o *Object) Set(k string, v any) {
	if _, ok := o.Values[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.Values[k] = v
}

// Len is the number of members.
func (o *Object) Len() int { return len(o.Keys) }

// MarshalJSON implements json.Marshaler, keeping key order.
func (o *Object) MarshalJSON() ([]byte, error) { return Marshal(o) }

// ParseJSON decodes a JSON text into the package's value model.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return decodeFrom(dec, tok)
}

func decodeFrom(dec *json.Decoder, tok json.Token) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	default:
		return t, nil // string, bool, nil
	}
}

// FromGo converts a value decoded by encoding/json (map[string]any, []any, float64, ...) or any
// JSON-marshalable Go value into the package's value model.
func FromGo(v any) (any, error) {
	switch v.(type) {
	case nil, bool, float64, string, *Object:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return ParseJSON(b)
}

// Marshal encodes a value as compact JSON without HTML escaping, numbers as JavaScript prints them.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encode(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MustString encodes v, for values known to be encodable (the package's own model).
func MustString(v any) string {
	b, err := Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func encode(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return fmt.Errorf("number %v has no JSON form", t)
		}
		b, _ := json.Marshal(t)
		buf.Write(b)
	case string:
		encodeString(buf, t)
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encode(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case *Object:
		buf.WriteByte('{')
		for i, k := range t.Keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeString(buf, k)
			buf.WriteByte(':')
			if err := encode(buf, t.Values[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		// A Go value from outside the model (a struct, a map): encode it through encoding/json.
		g, err := FromGo(v)
		if err != nil {
			return err
		}
		return encode(buf, g)
	}
	return nil
}

func encodeString(buf *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
}

// Subset reports whether got holds want: every member of want, recursively for objects, is in
// got with an Equal value (other values must be Equal). Otherwise it returns the path of the
// first difference, from "$".
func Subset(got, want any) (path string, ok bool) { return subset(got, want, "$") }

func subset(got, want any, path string) (string, bool) {
	wo, ok := want.(*Object)
	if !ok {
		return path, Equal(got, want)
	}
	gotObj, ok := got.(*Object)
	if !ok {
		return path, false
	}
	for _, k := range wo.Keys {
		g, ok := gotObj.Get(k)
		if !ok {
			return path + "." + k, false
		}
		if p, ok := subset(g, wo.Values[k], path+"."+k); !ok {
			return p, false
		}
	}
	return "", true
}

// Equal reports whether two values are the same JSON (object key order ignored).
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for k, v := range x.Values {
			w, ok := y.Values[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// clone deep-copies a value so a state can never change another state's data.
func clone(v any) any {
	switch t := v.(type) {
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = clone(e)
		}
		return c
	case *Object:
		c := &Object{Keys: append([]string(nil), t.Keys...), Values: make(map[string]any, len(t.Values))}
		for k, e := range t.Values {
			c.Values[k] = clone(e)
		}
		return c
	}
	return v
}

// typeName names a value's JSON type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *Object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
