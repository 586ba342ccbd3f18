package resourcedef_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/customresource/entry"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/statemachines"
)

var resources = []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore}

func TestDefinitionsAreConsistent(t *testing.T) {
	for _, r := range resources {
		if err := r.Check(); err != nil {
			t.Error(err)
		}
	}
}

// TestPlaceholdersMatchTheASL: every ${Placeholder} of a workflow names a step, and every step is
// invoked by some workflow.
func TestPlaceholdersMatchTheASL(t *testing.T) {
	for _, r := range resources {
		used := map[string]bool{}
		for _, w := range r.Workflows {
			asl, err := statemachines.Read(w.File)
			if err != nil {
				t.Fatal(err)
			}
			steps, err := r.StepsOf(asl)
			if err != nil {
				t.Errorf("%s %s: %v", r.Type, w.File, err)
			}
			if len(steps) == 0 {
				t.Errorf("%s %s invokes no step", r.Type, w.File)
			}
			for _, s := range steps {
				used[s.Name] = true
			}
		}
		for _, s := range r.Steps {
			if !used[s.Name] {
				t.Errorf("%s: step %s (${%s}) is invoked by no workflow", r.Type, s.Name, s.Placeholder)
			}
		}
	}
}

// TestEveryStateMachineFileBelongsToAResource keeps statemachines/ free of files nothing deploys.
func TestEveryStateMachineFileBelongsToAResource(t *testing.T) {
	owned := map[string]bool{}
	for _, r := range resources {
		for _, w := range r.Workflows {
			owned[w.File] = true
		}
	}
	names := statemachines.Names()
	if len(names) < 7 {
		t.Fatalf("embedded %d ASL files", len(names))
	}
	for _, n := range names {
		if !owned[n] {
			t.Errorf("statemachines/%s belongs to no resource in pkg/resourcedef", n)
		}
	}
}

// envRE finds the environment variables a Lambda main reads.
var envRE = regexp.MustCompile(`(?:Required\(log, |Getenv\()"([A-Z_]+)"`)

// TestFunctionsAndTheirEnvironment: each function is a lambdas/<name> main, and the environment
// it is given is exactly what its main reads (beyond what Lambda itself sets).
func TestFunctionsAndTheirEnvironment(t *testing.T) {
	for _, r := range resources {
		for _, f := range r.Functions() {
			src, err := os.ReadFile(filepath.Join("..", "..", "lambdas", f.Name, "main.go"))
			if err != nil {
				t.Errorf("%s: function %s has no lambdas/%s/main.go: %v", r.Type, f.Name, f.Name, err)
				continue
			}
			var reads []string
			for _, m := range envRE.FindAllStringSubmatch(string(src), -1) {
				if !strings.HasPrefix(m[1], "AWS_") {
					reads = append(reads, m[1])
				}
			}
			// entry.New reads the state machine ARNs its package names.
			if strings.Contains(string(src), "entry.New(") {
				for _, name := range entry.StateMachineEnv {
					reads = append(reads, name)
				}
			}
			// A main may pass the name through a helper (send("CREATE_USER_DOCUMENT")).
			for name := range f.Env {
				if !strings.Contains(string(src), `"`+name+`"`) && !slices.Contains(reads, name) {
					t.Errorf("%s: %s is given %s, which lambdas/%s/main.go never reads", r.Type, f.Name, name, f.Name)
				}
			}
			for _, name := range reads {
				if _, ok := f.Env[name]; !ok {
					t.Errorf("%s: lambdas/%s/main.go reads %s, which the definition does not set", r.Type, f.Name, name)
				}
			}
		}
	}
}

// TestCheckRefusesBadDefinitions proves Check can fail.
func TestCheckRefusesBadDefinitions(t *testing.T) {
	bad := *resourcedef.Cluster
	bad.Steps = slices.Clone(bad.Steps)
	bad.Steps = append(bad.Steps, resourcedef.Step{Placeholder: "CheckFunctionArn", Function: resourcedef.Function{
		Name:   "extra",
		Grants: []resourcedef.Grant{{Actions: []string{"kms:*"}, On: []resourcedef.Ref{{Kind: resourcedef.Any}}}},
	}})
	err := bad.Check()
	if err == nil {
		t.Fatal("Check accepted a taken placeholder, a wildcard action and a wildcard without a reason")
	}
	for _, want := range []string{`placeholder "CheckFunctionArn"`, `wildcard action "kms:*"`, "needs Why"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check's error %q lacks %q", err, want)
		}
	}
	if _, err := resourcedef.Cluster.StepsOf(`{"Resource":"${NoSuchFunctionArn}"}`); err == nil || !strings.Contains(err.Error(), "NoSuchFunctionArn") {
		t.Errorf("StepsOf accepted an unknown placeholder: %v", err)
	}
}
