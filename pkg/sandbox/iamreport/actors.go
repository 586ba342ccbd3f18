package iamreport

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
)

// The workflow test kits (pkg/sandbox/testkit/stacktest) run the same functions and workflows as the
// stacks, under roles built from the same grants (pkg/resourcedef) but named after the kit, so a
// kit's decision is matched to a template's role by what the role runs, its actor: a resource's
// function, a resource's workflow, or the client instance. A kit's decision counts as a use of
// every statement of the actor's template role that grants the decision's action (the report is
// per action; the kit's own statement numbers are not the template's).

// InstanceActor is the client instance's role.
const InstanceActor = "client-instance"

// FunctionActor is the actor of a resource type's function (lambdas/<name>).
func FunctionActor(resourceType, name string) string { return resourceType + "/" + name }

// WorkflowActor is the actor of a resource type's workflow of kind.
func WorkflowActor(resourceType, kind string) string { return resourceType + "/workflow:" + kind }

// TestDecision is a kit's decision with its role's actor, as the kits write them.
type TestDecision struct {
	sandbox.Decision
	Actor string
}

// ReadTestDecisions reads every *.jsonl file of dir (the kits' DecisionsDirVar).
func ReadTestDecisions(dir string) ([]TestDecision, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s holds no *.jsonl: make test writes the kits' decisions there", dir)
	}
	sort.Strings(paths)
	var out []TestDecision
	for _, p := range paths {
		ds, err := readLines[TestDecision](p, "test decisions")
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// definitions are the resources whose kits write decisions.
var definitions = []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore}

// machineKind finds a state machine's workflow kind in its logical id (<construct><Kind>Workflow<hash>).
var machineKind = regexp.MustCompile(`([A-Z][a-z]+)Workflow[0-9A-F]{8}$`)

// actors maps each role of template t (by physical name) to the actors it stands for.
func actors(t *cfntemplate.Template, roleName func(v any) string) map[string][]string {
	byDesc := map[string]string{}
	for _, def := range definitions {
		for _, f := range def.Functions() {
			desc := f.Description
			if desc == "" {
				desc = "Strongroom " + def.Type + " step " + f.Name
			}
			byDesc[desc] = FunctionActor(def.Type, f.Name)
		}
	}
	roleRef := func(v any) any {
		if m, ok := v.(map[string]any); ok {
			if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				return map[string]any{"Ref": fmt.Sprint(ga[0])}
			}
		}
		return v
	}
	out := map[string][]string{}
	add := func(role, actor string) {
		if role != "" && actor != "" {
			out[role] = append(out[role], actor)
		}
	}
	for _, id := range t.ByType("AWS::Lambda::Function") {
		p := t.Resources[id].Properties
		if desc, ok := p["Description"].(string); ok {
			add(roleName(roleRef(p["Role"])), byDesc[desc])
		}
	}
	var types []string
	for _, r := range t.Resources {
		for _, def := range definitions {
			if r.Type == def.Type {
				types = append(types, def.Type)
			}
		}
	}
	if len(types) == 1 {
		for _, id := range t.ByType("AWS::StepFunctions::StateMachine") {
			if m := machineKind.FindStringSubmatch(id); m != nil {
				add(roleName(roleRef(t.Resources[id].Properties["RoleArn"])), WorkflowActor(types[0], m[1]))
			}
		}
	}
	for _, id := range t.ByType("AWS::IAM::InstanceProfile") {
		roles, _ := t.Resources[id].Properties["Roles"].([]any)
		for _, r := range roles {
			add(roleName(r), InstanceActor)
		}
	}
	return out
}
