package asl

import (
	"reflect"
	"testing"
)

// TestInspect: the static view reports paths and intrinsic calls as the interpreter parses them,
// and a state's path fields and templates as written.
func TestInspect(t *testing.T) {
	p, err := InspectPath("$.a[2].b")
	if err != nil {
		t.Fatal(err)
	}
	want := PathInfo{Text: "$.a[2].b", Definite: true, Segments: []PathSegment{
		{Kind: SegmentName, Name: "a"}, {Kind: SegmentIndex, Index: 2}, {Kind: SegmentName, Name: "b"}}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("InspectPath = %+v, want %+v", p, want)
	}
	if p, _ := InspectPath("$$.Execution.Id"); !p.Context || !p.Definite {
		t.Errorf("$$.Execution.Id: %+v", p)
	}
	if p, _ := InspectPath("$.a[*].b"); p.Definite || p.Segments[1].Kind != SegmentOther {
		t.Errorf("$.a[*].b: %+v", p)
	}
	if _, err := InspectPath("a.b"); err == nil {
		t.Error("a path without $ was accepted")
	}

	e, err := InspectExpression("States.Format('{} {}', $.x, States.ArrayLength($.y))")
	if err != nil {
		t.Fatal(err)
	}
	if e.Func != "States.Format" || len(e.Args) != 3 || !e.Args[0].IsLiteral || e.Args[0].Literal != "{} {}" ||
		e.Args[1].Path == nil || e.Args[1].Path.Text != "$.x" || e.Args[2].Func != "States.ArrayLength" || e.Args[2].Args[0].Path.Text != "$.y" {
		t.Errorf("InspectExpression = %+v", e)
	}
	if e, _ := InspectExpression("$.x"); e.Path == nil || e.Path.Text != "$.x" {
		t.Errorf("a path expression: %+v", e)
	}

	def, err := Parse([]byte(`{"StartAt": "P", "States": {
		"P": {"Type": "Pass", "InputPath": null, "ResultPath": "$.r", "Parameters": {"a.$": "$.b"}, "Next": "T"},
		"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
			"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "E"}], "End": true},
		"E": {"Type": "Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	pass, task := def.States["P"], def.States["T"]
	if got := pass.InputPathField(); got != (PathField{Set: true, Null: true}) {
		t.Errorf("InputPath %+v", got)
	}
	if got := pass.ResultPathField(); got != (PathField{Set: true, Text: "$.r"}) {
		t.Errorf("ResultPath %+v", got)
	}
	if got := pass.OutputPathField(); got.Set {
		t.Errorf("OutputPath %+v, want unset", got)
	}
	if !pass.HasParameters() || pass.HasResult() || task.HasParameters() || task.HasResultSelector() {
		t.Error("template presence is misreported")
	}
	if got := task.Catch[0].ResultPathField(); got != (PathField{Set: true, Null: true}) {
		t.Errorf("Catch ResultPath %+v", got)
	}
}
