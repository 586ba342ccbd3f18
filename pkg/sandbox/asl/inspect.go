package asl

// A read-only view of a parsed definition for static analysis (pkg/sandbox/asl/contract): the
// path fields as written, whether a template field is present, and the paths and intrinsic calls
// a ".$" value holds, parsed by the same code the interpreter runs, so the analysis reads a
// definition exactly as an execution does.

// PathField is an InputPath, OutputPath or ResultPath (of a state or a catcher) as written.
type PathField struct {
	// Set is false when the field is absent: the default, "$".
	Set bool
	// Null is true for null: InputPath/OutputPath null give {}, ResultPath null keeps the input.
	Null bool
	// Text is the path otherwise.
	Text string
}

func (p optPath) field() PathField { return PathField{Set: p.set, Null: p.null, Text: p.text} }

// InputPathField is the state's InputPath.
func (s *State) InputPathField() PathField { return s.InputPath.field() }

// OutputPathField is the state's OutputPath.
func (s *State) OutputPathField() PathField { return s.OutputPath.field() }

// ResultPathField is the state's ResultPath.
func (s *State) ResultPathField() PathField { return s.ResultPath.field() }

// ResultPathField is where the catcher puts the error output ({Error, Cause}).
func (c Catcher) ResultPathField() PathField { return c.ResultPath.field() }

// HasParameters tells whether the state has Parameters (a Map state's Parameters are reported
// as its ItemSelector, which they are).
func (s *State) HasParameters() bool { return s.hasParameters }

// HasResultSelector tells whether the state has a ResultSelector.
func (s *State) HasResultSelector() bool { return s.hasResultSelector }

// HasItemSelector tells whether the Map state has an ItemSelector (or legacy Parameters).
func (s *State) HasItemSelector() bool { return s.hasItemSelector }

// HasResult tells whether the Pass state has a Result.
func (s *State) HasResult() bool { return s.hasResult }

// Segment kinds of a PathSegment.
const (
	SegmentName  = "name"
	SegmentIndex = "index"
	// SegmentOther is a wildcard, slice, union or filter: a segment that selects a list.
	SegmentOther = "other"
)

// PathSegment is one segment of a path.
type PathSegment struct {
	Kind       string
	Name       string // SegmentName
	Index      int    // SegmentIndex
	Descendant bool   // reached with ".."
}

// PathInfo is a compiled path.
type PathInfo struct {
	Text string
	// Context is true for a path on the context object ("$$").
	Context bool
	// Definite is true for a reference path (names and indexes only): it selects one node, and
	// selecting none is a States.Runtime failure. Other paths select a list, possibly empty.
	Definite bool
	Segments []PathSegment
}

// InspectPath compiles a path.
func InspectPath(text string) (PathInfo, error) {
	p, err := compilePath(text)
	if err != nil {
		return PathInfo{}, err
	}
	return p.info(), nil
}

func (p *path) info() PathInfo {
	out := PathInfo{Text: p.text, Context: p.context, Definite: p.definite()}
	for _, s := range p.segs {
		seg := PathSegment{Kind: SegmentOther, Descendant: s.descendant}
		switch s.kind {
		case segName:
			seg.Kind, seg.Name = SegmentName, s.name
		case segIndex:
			seg.Kind, seg.Index = SegmentIndex, s.index
		}
		out.Segments = append(out.Segments, seg)
	}
	return out
}

// Expression is what a ".$" value (or an ErrorPath/CausePath) holds: a path, or an intrinsic
// call whose arguments are literals, paths and calls.
type Expression struct {
	// Path is set for a path.
	Path *PathInfo
	// Func names an intrinsic function ("States.Format"); Args are its arguments.
	Func string
	Args []Expression
	// Literal is an argument's literal value (string, float64, bool or nil) when IsLiteral.
	Literal   any
	IsLiteral bool
}

// InspectExpression parses a ".$" value: an intrinsic call when it starts with "States.", a path
// otherwise.
func InspectExpression(text string) (Expression, error) {
	if !isIntrinsic(text) {
		p, err := compilePath(text)
		if err != nil {
			return Expression{}, err
		}
		info := p.info()
		return Expression{Path: &info}, nil
	}
	call, err := parseIntrinsic(text)
	if err != nil {
		return Expression{}, err
	}
	return call.expression(), nil
}

func (c *intrinsic) expression() Expression {
	e := Expression{Func: c.name}
	for _, a := range c.args {
		switch a.kind {
		case argLiteral:
			e.Args = append(e.Args, Expression{Literal: a.lit, IsLiteral: true})
		case argPath:
			info := a.path.info()
			e.Args = append(e.Args, Expression{Path: &info})
		case argCall:
			e.Args = append(e.Args, a.call.expression())
		}
	}
	return e
}
