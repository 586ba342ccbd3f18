package contract

import (
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
)

// task is a Task state's result: its step's Out. The payload the state sends is checked against
// the step's In: a member In does not have never reaches the step (the Lambda runtime's decoder
// drops it), a value of another JSON type fails the decode, and a member In always expects (no
// omitempty, not nullable) must always be sent.
func (a *analyzer) task(st *asl.State, eff *Shape) *Shape {
	switch asl.ResourceKind(st.Resource) {
	case "lambda":
		step, ok := a.step(st, st.Resource)
		if !ok {
			return unknown("the result of " + st.Resource)
		}
		a.checkPayload(st, "Parameters", eff, OfType(step.In), "$", typeName(step.In))
		return OfType(step.Out)
	case "lambda:invoke":
		// The optimized integration: Parameters name the function and carry the Payload; the
		// result wraps the function's answer in Payload.
		_, values, _ := objectOf(st.Parameters)
		fn, _ := values["FunctionName"].(string)
		step, ok := a.step(st, fn)
		if !ok {
			return unknown("the result of " + fn)
		}
		payload := eff.Fields["Payload"].Shape
		if payload == nil {
			payload = object(nil)
		}
		a.checkPayload(st, "Parameters.Payload", payload, OfType(step.In), "$", typeName(step.In))
		str := scalar(kString)
		return object(map[string]Field{
			"ExecutedVersion":     {Shape: str},
			"Payload":             {Shape: OfType(step.Out)},
			"SdkHttpMetadata":     {Shape: unknown("SdkHttpMetadata")},
			"SdkResponseMetadata": {Shape: unknown("SdkResponseMetadata")},
			"StatusCode":          {Shape: scalar(kNumber)},
		})
	}
	a.find(st, "Resource", "", fmt.Sprintf("the analysis has no model of what %s returns: give it one in pkg/sandbox/asl/contract (task) before a workflow reads its result", st.Resource))
	return unknown("the result of " + st.Resource)
}

// step finds the step a Lambda ARN (a substituted ${Placeholder}) names.
func (a *analyzer) step(st *asl.State, arn string) (Step, bool) {
	placeholder, ok := strings.CutPrefix(arn, functionARN)
	if !ok {
		a.find(st, "Resource", "", fmt.Sprintf("%s is not a ${...FunctionArn} placeholder, so the step it runs is not known", arn))
		return Step{}, false
	}
	step, ok := a.cfg.Steps[placeholder]
	if !ok {
		a.find(st, "Resource", "", fmt.Sprintf("${%s} names no step of this workflow's resource (pkg/resourcedef)", placeholder))
		return Step{}, false
	}
	return step, true
}

// checkPayload compares what a state sends (got) with what the step decodes it into (want).
func (a *analyzer) checkPayload(st *asl.State, field string, got, want *Shape, at, typ string) {
	if want.Unknown || got.Unknown {
		return
	}
	// encoding/json decodes null into anything (leaving the zero value).
	if extra := got.Kinds &^ (want.Kinds | kNull); extra != 0 {
		a.find(st, field, at, fmt.Sprintf("the step's input %s wants %s here, but the state sends %s", typ, want.describe(), got.describe()))
		return
	}
	if got.Kinds&kObject != 0 && want.Kinds&kObject != 0 {
		for _, k := range got.fieldNames() {
			gf := got.Fields[k]
			wf, ok := want.Fields[k]
			switch {
			case ok:
				a.checkPayload(st, field, gf.Shape, wf.Shape, at+"."+k, typ)
			case want.Open != nil:
				a.checkPayload(st, field, gf.Shape, want.Open, at+"."+k, typ)
			default:
				a.find(st, field, at+"."+k, fmt.Sprintf("the step's input %s has no member %s (%s has %s): the step never sees it",
					typ, k, at, strings.Join(want.fieldNames(), ", ")))
			}
		}
		if got.Kinds == kObject && got.Open == nil {
			for _, k := range want.fieldNames() {
				wf := want.Fields[k]
				if wf.Maybe || wf.Shape.Kinds&kNull != 0 || wf.Shape.Unknown {
					continue
				}
				gf, ok := got.Fields[k]
				switch {
				case !ok:
					a.find(st, field, at+"."+k, fmt.Sprintf("not sent, but the step's input %s always expects it (no omitempty)", typ))
				case gf.Maybe:
					a.find(st, field, at+"."+k, fmt.Sprintf("not always sent (%s), but the step's input %s always expects it (no omitempty)", gf.Why, typ))
				}
			}
		}
	}
	if got.Elem != nil && want.Elem != nil {
		a.checkPayload(st, field, got.Elem, want.Elem, at+"[]", typ)
	}
}
