package layout_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/alertstate"
	"github.com/strongroom/strongroom/pkg/customresource/relay"
	"github.com/strongroom/strongroom/pkg/dbuser"
	"github.com/strongroom/strongroom/pkg/layout"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/trailalert"
)

type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
	Deps       []string
}

// list runs go list -json over the module's packages (from the repository root).
func list(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p) || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

func inEmulator(path string) bool {
	return path == layout.Emulator || strings.HasPrefix(path, layout.Emulator+"/")
}

// TestOnlyTheEmulatorAndTheCLIImportTheEmulator: the product (Lambdas, domain packages, the CDK
// app) never links the sandbox; its tests may.
func TestOnlyTheEmulatorAndTheCLIImportTheEmulator(t *testing.T) {
	pkgs := list(t, "./...")
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	checked := 0
	for _, p := range pkgs {
		if !strings.HasPrefix(p.ImportPath, layout.Module+"/") || hasPrefix(p.ImportPath, layout.MayImportEmulator) {
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if inEmulator(imp) {
				t.Errorf("%s imports the emulator (%s) from a non-test file; move the code under %s or into a _test.go file", p.ImportPath, imp, layout.Emulator)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package outside the emulator and the CLI was checked")
	}
}

// TestLambdaClosures keeps every Lambda's linked dependencies free of the CDK, jsii and the emulator.
func TestLambdaClosures(t *testing.T) {
	for _, p := range lambdaMains(t) {
		if len(p.Deps) < 10 {
			t.Fatalf("%s: %d dependencies; go list did not list the closure", p.ImportPath, len(p.Deps))
		}
		for _, d := range p.Deps {
			if hasPrefix(d, layout.NotInALambda) {
				t.Errorf("%s links %s; Lambdas must not (layout.NotInALambda)", p.ImportPath, d)
			}
		}
	}
}

// lambdaMains lists the Lambdas' main packages with their whole closures (Deps), in one go list.
func lambdaMains(t *testing.T) []pkg {
	t.Helper()
	var mains []pkg
	for _, p := range list(t, "./lambdas/...") {
		if p.Name == "main" { // lambdas/ itself holds only the cold-start benchmark
			mains = append(mains, p)
		}
	}
	if len(mains) < 10 {
		t.Fatalf("go list found %d Lambdas", len(mains))
	}
	return mains
}

// standaloneGrants are the actions the Lambdas that pkg/resourcedef does not describe are granted:
// the ones their packages declare, which infra/database and infra/alerts grant.
var standaloneGrants = map[string][][]string{
	"rotate":     {rotation.SecretActions, rotation.MasterSecretActions, rotation.AccountActions, rotation.KeyActions},
	"trailrelay": {trailalert.TopicActions, trailalert.TopicKeyActions, trailalert.HistoryActions, alertstate.TableActions},
	"dbuser":     {dbuser.SecretActions, dbuser.KeyActions},
	"cfn-relay":  {relay.InvokeActions},
}

// grantedServices maps each Lambda (by directory name) to the SDK packages its IAM grants name: a
// workflow Lambda's in pkg/resourcedef, a standalone Lambda's declared by its packages.
func grantedServices() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	grant := func(name string, actions []string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, a := range actions {
			prefix, _, _ := strings.Cut(a, ":")
			if sdk, ok := layout.SDKPackageOfIAMPrefix[prefix]; ok {
				prefix = sdk
			}
			out[name][prefix] = true
		}
	}
	for name, lists := range standaloneGrants {
		for _, actions := range lists {
			grant(name, actions)
		}
	}
	for _, r := range []*resourcedef.Resource{resourcedef.Cluster, resourcedef.KeyStore} {
		for _, f := range r.Functions() {
			grant(f.Name, f.Actions())
		}
	}
	return out
}

// linkedServices lists the SDK service packages in a Lambda's closure (the clients, not their
// internal subpackages).
func linkedServices(deps []string) []string {
	var out []string
	for _, d := range deps {
		rest, ok := strings.CutPrefix(d, layout.SDKService)
		if ok && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	return out
}

// TestLambdasLinkExactlyTheServicesTheirStepsCall: every Lambda links exactly the SDK services
// layout.LambdaServices gives it, each of which its grants let it call. A step package that imports
// its whole domain (and so every client of the domain), or a main that builds a client its step
// never calls, fails here: each linked service costs its init on every cold start (make bench).
func TestLambdasLinkExactlyTheServicesTheirStepsCall(t *testing.T) {
	granted := grantedServices()
	seen := map[string]bool{}
	for _, p := range lambdaMains(t) {
		name := strings.TrimPrefix(p.ImportPath, layout.Lambdas)
		seen[name] = true
		want, ok := layout.LambdaServices[name]
		if !ok {
			t.Errorf("%s: layout.LambdaServices has no row for this Lambda; add the SDK services its step calls, each with the calls that need it", name)
			continue
		}
		if granted[name] == nil {
			t.Errorf("%s: neither pkg/resourcedef nor standaloneGrants names this Lambda's grants", name)
		}
		linked := linkedServices(p.Deps)
		for _, svc := range linked {
			if _, ok := want[svc]; !ok {
				t.Errorf("%s links %s%s, which its step does not call (layout.LambdaServices): import the step's own package, not its domain's, and build only the clients the step calls", name, layout.SDKService, svc)
			}
		}
		for svc, calls := range want {
			if !slices.Contains(linked, svc) {
				t.Errorf("%s: layout.LambdaServices lists %s (%s), which it no longer links: remove the entry", name, svc, calls)
			}
			if !granted[name][svc] {
				t.Errorf("%s: layout.LambdaServices lists %s (%s), but its grants allow no %s action: grant the calls or remove the entry", name, svc, calls, svc)
			}
		}
	}
	if len(seen) < 20 {
		t.Fatalf("checked %d Lambdas; expected every one", len(seen))
	}
	for name := range layout.LambdaServices {
		if !seen[name] {
			t.Errorf("layout.LambdaServices has a row for %s, which is no Lambda under lambdas/: remove it", name)
		}
	}
}

// TestRulesCanFail proves the checks above can see a violation: the CLI does import the emulator,
// and the CDK app does link the CDK.
func TestRulesCanFail(t *testing.T) {
	cli := list(t, layout.Module+"/cmd/strongroom")
	found := false
	for _, imp := range cli[0].Imports {
		found = found || inEmulator(imp)
	}
	if !found {
		t.Error("the CLI imports no emulator package: TestOnlyTheEmulatorAndTheCLIImportTheEmulator may be checking nothing")
	}
	app := list(t, "-deps", layout.Module+"/infra")
	linksCDK := false
	for _, d := range app {
		linksCDK = linksCDK || hasPrefix(d.ImportPath, layout.NotInALambda[:1])
	}
	if !linksCDK {
		t.Error("the CDK app links no CDK package: TestLambdaClosures may be checking nothing")
	}
	// The CLI links every service: were it a Lambda with the relay's grants, the service check fails.
	if svcs := linkedServices(cli[0].Deps); len(svcs) < 5 {
		t.Errorf("the CLI links %v; TestLambdasLinkExactlyTheServicesTheirStepsCall may be reading no services", svcs)
	}
}
