package contract

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// kinds is a set of JSON types a value may have.
type kinds uint8

const (
	kNull kinds = 1 << iota
	kBool
	kNumber
	kString
	kArray
	kObject
	kAll = kNull | kBool | kNumber | kString | kArray | kObject
)

func (k kinds) String() string {
	var names []string
	for _, n := range []struct {
		k    kinds
		name string
	}{{kNull, "null"}, {kBool, "boolean"}, {kNumber, "number"}, {kString, "string"}, {kArray, "array"}, {kObject, "object"}} {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, " or ")
}

// Shape is what the analysis knows of a JSON value at some point of a workflow: the types it may
// have and, for an object, its members and whether each is always there. Shapes are never changed
// once built (every operation returns a new one), so they can be shared.
type Shape struct {
	Kinds kinds
	// Fields are an object's known members.
	Fields map[string]Field
	// Open, when not nil, says the object may have members other than Fields, each of this shape
	// (a Go map's values, or an unknown value's members).
	Open *Shape
	// Elem is an array's element shape (nil: no element is known, e.g. an empty literal).
	Elem *Shape
	// Unknown is true for a value nothing is known of (a Go any or json.RawMessage, an
	// intrinsic's parse of a string): it may be anything, and any member of it may be absent.
	Unknown bool
	// Type names the Go type the shape was derived from, for messages ("" for others).
	Type string
}

// Field is one member of an object shape.
type Field struct {
	Shape *Shape
	// Maybe is true when the member may be absent; Why then says why (omitempty in a Go type, set
	// on only some paths into a state, ...).
	Maybe bool
	Why   string
}

// unknown is the shape of a value nothing is known of.
func unknown(why string) *Shape {
	return &Shape{Kinds: kAll, Unknown: true, Type: why}
}

func scalar(k kinds) *Shape { return &Shape{Kinds: k} }

func object(fields map[string]Field) *Shape {
	if fields == nil {
		fields = map[string]Field{}
	}
	return &Shape{Kinds: kObject, Fields: fields}
}

// errorOutput is what a Catch puts at its ResultPath: {"Error": name, "Cause": text}.
func errorOutput() *Shape {
	return object(map[string]Field{"Error": {Shape: scalar(kString)}, "Cause": {Shape: scalar(kString)}})
}

func (s *Shape) clone() *Shape {
	c := *s
	if s.Fields != nil {
		c.Fields = make(map[string]Field, len(s.Fields))
		for k, v := range s.Fields {
			c.Fields[k] = v
		}
	}
	return &c
}

// merge is the shape of a value that is a or b (a join of two paths into a state): a member
// known on only one side, or absent on either, may be absent; notInB (notInA) says why for a
// member only a (b) has.
func merge(a, b *Shape, notInB, notInA string) *Shape {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a == b:
		return a
	}
	out := &Shape{Kinds: a.Kinds | b.Kinds, Unknown: a.Unknown || b.Unknown}
	if a.Type == b.Type {
		out.Type = a.Type
	}
	if a.Open != nil || b.Open != nil {
		out.Open = merge(a.Open, b.Open, notInB, notInA)
	}
	out.Elem = merge(a.Elem, b.Elem, notInB, notInA)
	if a.Fields != nil || b.Fields != nil {
		out.Fields = map[string]Field{}
		for k, fa := range a.Fields {
			fb, ok := b.Fields[k]
			if !ok {
				out.Fields[k] = Field{Shape: merge(fa.Shape, b.Open, notInB, notInA), Maybe: true, Why: firstNonEmpty(fa.Why, notInB)}
				continue
			}
			f := Field{Shape: merge(fa.Shape, fb.Shape, notInB, notInA), Maybe: fa.Maybe || fb.Maybe}
			switch {
			case fa.Maybe:
				f.Why = fa.Why
			case fb.Maybe:
				f.Why = fb.Why
			}
			out.Fields[k] = f
		}
		for k, fb := range b.Fields {
			if _, ok := a.Fields[k]; !ok {
				out.Fields[k] = Field{Shape: merge(fb.Shape, a.Open, notInB, notInA), Maybe: true, Why: firstNonEmpty(fb.Why, notInA)}
			}
		}
	}
	return out
}

// union is merge for values that are one or the other (array elements, intrinsic arguments).
func union(a, b *Shape) *Shape { return merge(a, b, "not in every element", "not in every element") }

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// equal compares two shapes (for the fixed point).
func equal(a, b *Shape) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Kinds != b.Kinds || a.Unknown != b.Unknown || a.Type != b.Type || len(a.Fields) != len(b.Fields) ||
		!equal(a.Open, b.Open) || !equal(a.Elem, b.Elem) {
		return false
	}
	for k, fa := range a.Fields {
		fb, ok := b.Fields[k]
		if !ok || fa.Maybe != fb.Maybe || fa.Why != fb.Why || !equal(fa.Shape, fb.Shape) {
			return false
		}
	}
	return true
}

// maxDepth bounds how deep a shape may nest: a loop whose ResultPath puts the input inside
// itself would otherwise grow a shape forever. Below it, a shape becomes unknown.
const maxDepth = 24

func widen(s *Shape, depth int) *Shape {
	if s == nil {
		return nil
	}
	if depth >= maxDepth {
		return unknown("nested deeper than the analysis follows")
	}
	changed := false
	c := s.clone()
	for k, f := range s.Fields {
		if w := widen(f.Shape, depth+1); w != f.Shape {
			f.Shape, changed = w, true
			c.Fields[k] = f
		}
	}
	if w := widen(s.Open, depth+1); w != s.Open {
		c.Open, changed = w, true
	}
	if w := widen(s.Elem, depth+1); w != s.Elem {
		c.Elem, changed = w, true
	}
	if !changed {
		return s
	}
	return c
}

// describe renders a shape briefly, for messages.
func (s *Shape) describe() string {
	if s == nil {
		return "nothing"
	}
	if s.Unknown {
		return "a value of unknown shape"
	}
	d := s.Kinds.String()
	if strings.Contains(s.Type, ".") { // a named type, not string or int
		d += " (" + s.Type + ")"
	}
	return d
}

// fieldNames lists an object shape's members, sorted.
func (s *Shape) fieldNames() []string {
	var out []string
	for k := range s.Fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// literal is the shape of a JSON value written in the definition (asl's values: nil, bool,
// float64, string, []any, *asl.Object via its Keys/Values).
func literal(v any) *Shape {
	switch x := v.(type) {
	case nil:
		return scalar(kNull)
	case bool:
		return scalar(kBool)
	case float64, int, json.Number:
		return scalar(kNumber)
	case string:
		return scalar(kString)
	case []any:
		s := &Shape{Kinds: kArray}
		for _, e := range x {
			s.Elem = union(s.Elem, literal(e))
		}
		return s
	}
	if keys, values, ok := objectOf(v); ok {
		fields := map[string]Field{}
		for _, k := range keys {
			fields[k] = Field{Shape: literal(values[k])}
		}
		return object(fields)
	}
	return unknown(fmt.Sprintf("%T", v))
}

// Types with their own JSON encoding.
var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	rawMessage    = reflect.TypeFor[json.RawMessage]()
	timeType      = reflect.TypeFor[time.Time]()
)

// OfType is the shape of the JSON encoding/json makes of a value of Go type t: a struct's members
// by their json tags, each possibly absent when it is omitempty (of a kind omitempty omits) or
// omitzero, and possibly null when it is a pointer, slice, map or interface (nil encodes as null).
// A map is an object whose keys are unknown; a type with its own MarshalJSON is unknown.
func OfType(t reflect.Type) *Shape {
	return ofType(t, map[reflect.Type]bool{})
}

func ofType(t reflect.Type, visiting map[reflect.Type]bool) *Shape {
	name := typeName(t)
	switch {
	case t == rawMessage:
		return unknown(name)
	case t == timeType:
		return &Shape{Kinds: kString, Type: name}
	case t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && (t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler)):
		return unknown(name)
	case t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && (t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)):
		return &Shape{Kinds: kString, Type: name}
	}
	switch t.Kind() {
	case reflect.Bool:
		return &Shape{Kinds: kBool, Type: name}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return &Shape{Kinds: kNumber, Type: name}
	case reflect.String:
		return &Shape{Kinds: kString, Type: name}
	case reflect.Interface:
		return unknown(name)
	case reflect.Pointer:
		s := ofType(t.Elem(), visiting).clone()
		s.Kinds |= kNull
		return s
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Shape{Kinds: kString | kNull, Type: name} // base64
		}
		return &Shape{Kinds: kArray | kNull, Elem: ofType(t.Elem(), visiting), Type: name}
	case reflect.Array:
		return &Shape{Kinds: kArray, Elem: ofType(t.Elem(), visiting), Type: name}
	case reflect.Map:
		return &Shape{Kinds: kObject | kNull, Fields: map[string]Field{}, Open: ofType(t.Elem(), visiting), Type: name}
	case reflect.Struct:
		if visiting[t] {
			return unknown(name + " (recursive)")
		}
		visiting[t] = true
		defer delete(visiting, t)
		s := &Shape{Kinds: kObject, Fields: map[string]Field{}, Type: name}
		structFields(t, visiting, s.Fields, name)
		return s
	}
	return unknown(name)
}

// structFields adds t's encoded members to fields, following encoding/json: exported fields,
// json tag names, "-" skipped, untagged embedded structs promoted.
func structFields(t reflect.Type, visiting map[reflect.Type]bool, fields map[string]Field, owner string) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if sf.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				structFields(et, visiting, fields, owner)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := Field{Shape: ofType(ft, visiting)}
		if hasOpt(opts, "string") {
			switch ft.Kind() {
			case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64, reflect.String:
				f.Shape = &Shape{Kinds: kString, Type: f.Shape.Type}
			}
		}
		switch {
		case hasOpt(opts, "omitempty") && omitemptyOmits(ft):
			f.Maybe, f.Why = true, fmt.Sprintf("%s.%s is omitempty", owner, sf.Name)
		case hasOpt(opts, "omitzero"):
			f.Maybe, f.Why = true, fmt.Sprintf("%s.%s is omitzero", owner, sf.Name)
		}
		fields[name] = f
	}
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// omitemptyOmits tells whether omitempty can omit a value of t (encoding/json omits false, 0,
// "", nil pointers and interfaces, and empty arrays, slices and maps; never a struct).
func omitemptyOmits(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return false
	case reflect.Array:
		return t.Len() == 0
	}
	return true
}

// typeName is t as Go code writes it from another package ("hsmcluster.ClusterView").
func typeName(t reflect.Type) string {
	return t.String()
}
