package contract

import (
	"fmt"
	"reflect"

	"github.com/strongroom/strongroom/pkg/customresource"
	storeplan "github.com/strongroom/strongroom/pkg/keystore/plan"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox/asl"
)

// Workflow is one state machine of a resource with what starts it.
type Workflow struct {
	Resource *resourcedef.Resource
	resourcedef.Workflow
	// Input is the Go type of the execution input.
	Input reflect.Type
	// Present are reference paths of the input that its sender always fills although Input marks
	// them optional (omitempty or a pointer); Why says whose contract guarantees them.
	Present []string
	Why     string
}

// Resources are the workflow-backed custom resources.
var Resources = []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore}

// Workflows lists every workflow of Resources with its input: a request workflow is started by
// the resource's entry (pkg/customresource/entry) with customresource.WorkflowInput, the
// CloudFormation event; the key store's Rotate workflow by its schedule's rule or an operator
// with keystore/plan.PlanInput's Rotation (infra/keystore's RotationInput: {"Rotation":
// {"CustomKeyStoreId", "Properties"}}).
func Workflows() ([]Workflow, error) {
	var out []Workflow
	for _, r := range Resources {
		for _, w := range r.Workflows {
			wf := Workflow{Resource: r, Workflow: w}
			switch w.Kind {
			case "Create":
				wf.Input = reflect.TypeFor[customresource.WorkflowInput]()
			case "Update":
				wf.Input = reflect.TypeFor[customresource.WorkflowInput]()
				wf.Present = []string{"$.Event.PhysicalResourceId", "$.Event.OldResourceProperties"}
				wf.Why = "CloudFormation's Update request carries the resource's PhysicalResourceId and its OldResourceProperties"
			case "Delete":
				wf.Input = reflect.TypeFor[customresource.WorkflowInput]()
				wf.Present = []string{"$.Event.PhysicalResourceId"}
				wf.Why = "CloudFormation's Delete request carries the resource's PhysicalResourceId"
			case "Rotate":
				if r != resourcedef.KeyStore {
					return nil, fmt.Errorf("%s workflow %s: no input is declared for a Rotate workflow of %s", r.Type, w.File, r.Type)
				}
				wf.Input = reflect.TypeFor[storeplan.PlanInput]()
				wf.Present = []string{"$.Rotation"}
				wf.Why = "the rotation schedule's rule (infra/keystore RotationInput) and operators start it with Rotation"
			default:
				return nil, fmt.Errorf("%s workflow %s: kind %q has no declared input; add it to contract.Workflows", r.Type, w.File, w.Kind)
			}
			out = append(out, wf)
		}
	}
	return out, nil
}

// InputShape is the shape of the workflow's execution input.
func (w Workflow) InputShape() (*Shape, error) {
	s := OfType(w.Input)
	// The input is a JSON object, never null, whatever a pointer type says.
	s = s.clone()
	s.Kinds = kObject
	for _, p := range w.Present {
		f, err := parseFact(p, true)
		if err != nil {
			return nil, fmt.Errorf("%s: Present %s: %w", w.File, p, err)
		}
		var ok bool
		if s, ok = refine(s, []fact{f}); !ok {
			return nil, fmt.Errorf("%s: Present %s names nothing %s has", w.File, p, typeName(w.Input))
		}
		s = nonNull(s, f.segs)
	}
	return s, nil
}

// nonNull is s with the value at the (present) path known not to be null: the sender fills it.
func nonNull(s *Shape, segs []asl.PathSegment) *Shape {
	if len(segs) == 0 {
		if s.Kinds == kNull || s.Unknown {
			return s
		}
		c := s.clone()
		c.Kinds &^= kNull
		return c
	}
	f, ok := s.Fields[segs[0].Name]
	if !ok || segs[0].Kind != asl.SegmentName {
		return s
	}
	c := s.clone()
	f.Shape = nonNull(f.Shape, segs[1:])
	c.Fields[segs[0].Name] = f
	return c
}

// Steps maps each ${Placeholder} of the workflow's resource to its step.
func (w Workflow) Steps() (map[string]Step, error) {
	out := map[string]Step{}
	for placeholder, fn := range w.Resource.Placeholders() {
		s, ok := Steps[fn]
		if !ok {
			return nil, fmt.Errorf("%s: step %s (${%s}) is not in contract.Steps", w.Resource.Type, fn, placeholder)
		}
		out[placeholder] = s
	}
	return out, nil
}
