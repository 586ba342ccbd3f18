package layout_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/layout"
)

type pkg struct {
	ImportPath string
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
	pkgs := list(t, "-deps=false", "./lambdas/...")
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d Lambdas", len(pkgs))
	}
	for _, p := range pkgs {
		deps := list(t, "-deps", p.ImportPath)
		if len(deps) < 10 {
			t.Fatalf("%s: %d dependencies; go list -deps did not list the closure", p.ImportPath, len(deps))
		}
		for _, d := range deps {
			if hasPrefix(d.ImportPath, layout.NotInALambda) {
				t.Errorf("%s links %s; Lambdas must not (layout.NotInALambda)", p.ImportPath, d.ImportPath)
			}
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
}
