package contract

import (
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
)

// presence says whether a reference path selects a node.
type presence int

const (
	always presence = iota
	maybe
	never
)

// lookup is what reading a path finds.
type lookup struct {
	shape    *Shape
	presence presence
	// why explains maybe or never, naming the segment that fails.
	why string
}

// read follows a compiled path from root (the state data, or the context object for "$$"
// paths). A definite path is present when every segment is; an indefinite one selects a list
// (possibly empty) and never fails.
func read(root *Shape, p asl.PathInfo) lookup {
	if !p.Definite {
		return lookup{shape: &Shape{Kinds: kArray, Elem: unknown("a list a path selects")}, presence: always}
	}
	cur := root
	sofar := "$"
	if p.Context {
		sofar = "$$"
	}
	result := lookup{shape: root, presence: always}
	for i, seg := range p.Segments {
		last := i == len(p.Segments)-1
		at := sofar
		sofar += segText(seg)
		var next *Shape
		var pr presence
		var why string
		switch seg.Kind {
		case asl.SegmentName:
			next, pr, why = member(cur, seg.Name, at, last)
		case asl.SegmentIndex:
			next, pr, why = element(cur, at)
		}
		if pr > result.presence {
			result.presence, result.why = pr, why
		}
		if pr == never {
			return result
		}
		cur = next
	}
	result.shape = cur
	return result
}

func segText(seg asl.PathSegment) string {
	if seg.Kind == asl.SegmentIndex {
		return fmt.Sprintf("[%d]", seg.Index)
	}
	return "." + seg.Name
}

// member reads a member of an object shape; last tells whether it ends the path read.
func member(s *Shape, name, at string, last bool) (*Shape, presence, string) {
	if s.Unknown && s.Fields[name].Shape == nil {
		return unknown("a member of " + at), maybe, fmt.Sprintf("%s is %s, so nothing says it has %s", at, s.describe(), name)
	}
	if s.Kinds&kObject == 0 {
		return nil, never, fmt.Sprintf("%s is %s, not an object", at, s.describe())
	}
	f, ok := s.Fields[name]
	if !ok {
		if s.Open != nil {
			return s.Open, maybe, fmt.Sprintf("%s is %s, whose keys are not known in advance", at, s.describe())
		}
		known := s.fieldNames()
		return nil, never, fmt.Sprintf("%s (%s) never has %s; its members are %s", at, s.describe(), name, strings.Join(known, ", "))
	}
	if s.Kinds != kObject {
		return f.Shape, maybe, fmt.Sprintf("%s may be %s", at, (s.Kinds &^ kObject).String())
	}
	if f.Maybe {
		if last {
			return f.Shape, maybe, f.Why
		}
		return f.Shape, maybe, fmt.Sprintf("%s.%s may be absent: %s", at, name, f.Why)
	}
	return f.Shape, always, ""
}

// element reads an array element: an array's length is not known, so an index may select nothing.
func element(s *Shape, at string) (*Shape, presence, string) {
	if s.Unknown {
		return unknown("an element of " + at), maybe, at + " is " + s.describe()
	}
	if s.Kinds&kArray == 0 {
		return nil, never, fmt.Sprintf("%s is %s, not an array", at, s.describe())
	}
	elem := s.Elem
	if elem == nil {
		elem = unknown("an element of an empty array")
	}
	return elem, maybe, at + " is an array whose length is not known"
}

// set is applyResultPath's setResult on shapes: the input with value placed at the reference
// path, intermediate objects created where missing. It fails (ResultPathMatchFailure) when a
// segment meets a value that may not be an object.
func set(root *Shape, segs []asl.PathSegment, value *Shape, at string) (*Shape, error) {
	if len(segs) == 0 {
		return value, nil
	}
	seg := segs[0]
	here := at + segText(seg)
	if seg.Kind == asl.SegmentIndex {
		if root.Kinds&kArray == 0 || root.Unknown {
			return nil, fmt.Errorf("%s may not be an array, so a result cannot be put at %s", at, here)
		}
		out := root.clone()
		base := root.Elem
		if base == nil {
			base = unknown("an element of an empty array")
		}
		v, err := set(base, segs[1:], value, here)
		if err != nil {
			return nil, err
		}
		out.Elem = union(root.Elem, v)
		return out, nil
	}
	var out *Shape
	switch {
	case root.Unknown:
		// Whatever the value is, setResult needs an object; the other members stay unknown.
		out = &Shape{Kinds: kObject, Fields: map[string]Field{}, Open: unknown("a member of " + at)}
		for k, f := range root.Fields {
			out.Fields[k] = f
		}
	case root.Kinds == kObject:
		out = root.clone()
	default:
		return nil, fmt.Errorf("%s is %s, so a result cannot be put at %s (States.ResultPathMatchFailure)", at, root.describe(), here)
	}
	if out.Fields == nil {
		out.Fields = map[string]Field{}
	}
	if len(segs) == 1 {
		out.Fields[seg.Name] = Field{Shape: value}
		return out, nil
	}
	// setResult creates a missing or null intermediate as {}.
	f, ok := out.Fields[seg.Name]
	var base *Shape
	switch {
	case !ok && out.Open != nil:
		base = merge(out.Open, object(nil), createdWhy(here), "")
	case !ok:
		base = object(nil)
	default:
		base = f.Shape
		if f.Maybe {
			base = merge(base, object(nil), createdWhy(here), "")
		}
		if base.Kinds&kNull != 0 && !base.Unknown {
			base = base.clone()
			base.Kinds &^= kNull
			if base.Kinds == 0 {
				base = object(nil)
			} else if base.Kinds&kObject == 0 {
				base = merge(base, object(nil), createdWhy(here), "")
			}
		}
	}
	v, err := set(base, segs[1:], value, here)
	if err != nil {
		return nil, err
	}
	out.Fields[seg.Name] = Field{Shape: v}
	return out, nil
}

// fact is what a Choice branch knows about the data: the reference path is present or absent.
type fact struct {
	path    string
	segs    []asl.PathSegment
	present bool
}

// refine applies facts to the data shape of a branch. ok is false when the facts contradict the
// shape (the branch cannot be taken: it tests present a member the data never has).
func refine(s *Shape, facts []fact) (*Shape, bool) {
	for _, f := range facts {
		var ok bool
		if f.present {
			s, ok = markPresent(s, f.segs)
		} else {
			s, ok = markAbsent(s, f.segs)
		}
		if !ok {
			return nil, false
		}
	}
	return s, true
}

// markPresent records that the path selects a node: every member on the way is there, and every
// value on the way is an object (or array).
func markPresent(s *Shape, segs []asl.PathSegment) (*Shape, bool) {
	if len(segs) == 0 {
		return s, true
	}
	seg := segs[0]
	if seg.Kind == asl.SegmentIndex {
		// An element exists; what the array holds is unchanged.
		if s.Kinds&kArray == 0 && !s.Unknown {
			return nil, false
		}
		return s, true
	}
	if s.Kinds&kObject == 0 && !s.Unknown {
		return nil, false
	}
	out := s.clone()
	if !s.Unknown {
		out.Kinds = kObject
	}
	if out.Fields == nil {
		out.Fields = map[string]Field{}
	}
	f, ok := out.Fields[seg.Name]
	switch {
	case ok:
	case s.Open != nil:
		f = Field{Shape: s.Open}
	case s.Unknown:
		f = Field{Shape: unknown("a member of a value of unknown shape")}
	default:
		return nil, false
	}
	sub, ok := markPresent(f.Shape, segs[1:])
	if !ok {
		return nil, false
	}
	out.Fields[seg.Name] = Field{Shape: sub}
	return out, true
}

// markAbsent records that the path selects nothing: if every value on the way turns out to be
// present, the last member is absent, so it is removed (a member on the way may still be absent,
// which later tests can tell). ok is false when the shape says the path is always present.
func markAbsent(s *Shape, segs []asl.PathSegment) (*Shape, bool) {
	return absent(s, segs, true)
}

// absent is markAbsent; sure tells whether every value before s is certainly present.
func absent(s *Shape, segs []asl.PathSegment, sure bool) (*Shape, bool) {
	if len(segs) == 0 {
		return nil, false // "$" is always present
	}
	seg := segs[0]
	if seg.Kind == asl.SegmentIndex || s.Unknown || s.Kinds&kObject == 0 {
		return s, true
	}
	f, ok := s.Fields[seg.Name]
	if !ok {
		return s, true
	}
	sure = sure && s.Kinds == kObject && !f.Maybe
	out := s.clone()
	if len(segs) == 1 {
		if sure {
			return nil, false
		}
		delete(out.Fields, seg.Name)
		return out, true
	}
	sub, ok := absent(f.Shape, segs[1:], sure)
	if !ok {
		return nil, false
	}
	f.Shape = sub
	out.Fields[seg.Name] = f
	return out, true
}

// createdWhy says why a member of an object ResultPath may have created is possibly absent.
func createdWhy(at string) string {
	return "absent when ResultPath finds no object at " + at + " and creates one"
}
