package contract_test

import (
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/asl/contract"
	"github.com/strongroom/strongroom/statemachines"
)

// TestWorkflowContracts runs the check on every workflow of every resource: each path a state
// reads is there whenever an execution gets to it, each Task's payload fits its step.
func TestWorkflowContracts(t *testing.T) {
	workflows, err := contract.Workflows()
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, w := range workflows {
		t.Run(w.File, func(t *testing.T) {
			text, err := statemachines.Read(w.File)
			if err != nil {
				t.Fatal(err)
			}
			input, err := w.InputShape()
			if err != nil {
				t.Fatal(err)
			}
			steps, err := w.Steps()
			if err != nil {
				t.Fatal(err)
			}
			findings, err := contract.Check([]byte(text), contract.Config{File: "statemachines/" + w.File, Input: input, Steps: steps})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range findings {
				t.Error(f)
			}
		})
		checked[w.File] = true
	}
	// Every file is some resource's workflow, so none goes unchecked.
	for _, name := range statemachines.Names() {
		if !checked[name] {
			t.Errorf("statemachines/%s is no workflow of contract.Resources (pkg/resourcedef): it is not checked", name)
		}
	}
	if len(checked) == 0 {
		t.Fatal("no workflow was checked")
	}
}
