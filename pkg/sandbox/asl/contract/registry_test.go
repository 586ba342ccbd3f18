package contract_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/sandbox/asl/contract"
)

// TestRegistryCoversEveryStep: every step of every resource in pkg/resourcedef has its handler in
// contract.Steps (a new step cannot go unchecked), and every entry of contract.Steps is some
// resource's step (none is stale).
func TestRegistryCoversEveryStep(t *testing.T) {
	used := map[string]bool{}
	for _, r := range contract.Resources {
		if len(r.Steps) == 0 {
			t.Fatalf("%s declares no step", r.Type)
		}
		for _, s := range r.Steps {
			used[s.Name] = true
			step, ok := contract.Steps[s.Name]
			if !ok {
				t.Errorf("%s step %s (${%s}) is not in contract.Steps: add its handler, (*T).Handle, to pkg/sandbox/asl/contract/registry.go", r.Type, s.Name, s.Placeholder)
				continue
			}
			if step.Function != s.Name {
				t.Errorf("contract.Steps[%q] says it is function %s", s.Name, step.Function)
			}
		}
	}
	for _, name := range contract.StepNames() {
		if !used[name] {
			t.Errorf("contract.Steps has %s, which no resource of pkg/resourcedef declares as a step", name)
		}
	}
}

// TestRegistryIsWhatTheLambdasRun: each registered handler is the one lambdas/<function>/main.go
// hands to lambdaenv.Start (step := &pkg.Type{...}; lambdaenv.Start(log, step.Handle)), so the
// types checked are the types deployed.
func TestRegistryIsWhatTheLambdasRun(t *testing.T) {
	for _, name := range contract.StepNames() {
		step := contract.Steps[name]
		file := filepath.Join("..", "..", "..", "..", "lambdas", name, "main.go")
		pkgPath, typ, err := startedHandler(file)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		recv := step.Receiver.Elem()
		if pkgPath != recv.PkgPath() || typ != recv.Name() {
			t.Errorf("%s runs %s.%s (%s), but contract.Steps registers %s.%s", name, pkgPath, typ, file, recv.PkgPath(), recv.Name())
		}
	}
}

// startedHandler finds the type whose Handle method a main hands to lambdaenv.Start.
func startedHandler(file string) (pkgPath, typ string, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		return "", "", err
	}
	imports := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	var started string
	literals := map[string]*ast.SelectorExpr{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Start" && len(x.Args) == 2 {
				if h, ok := x.Args[1].(*ast.SelectorExpr); ok && h.Sel.Name == "Handle" {
					if id, ok := h.X.(*ast.Ident); ok {
						started = id.Name
					}
				}
			}
		case *ast.AssignStmt:
			for i, lhs := range x.Lhs {
				id, ok := lhs.(*ast.Ident)
				if !ok || i >= len(x.Rhs) {
					continue
				}
				if u, ok := x.Rhs[i].(*ast.UnaryExpr); ok && u.Op == token.AND {
					if cl, ok := u.X.(*ast.CompositeLit); ok {
						if sel, ok := cl.Type.(*ast.SelectorExpr); ok {
							literals[id.Name] = sel
						}
					}
				}
			}
		}
		return true
	})
	if started == "" {
		return "", "", fmt.Errorf("%s: no lambdaenv.Start(log, <step>.Handle)", file)
	}
	sel, ok := literals[started]
	if !ok {
		return "", "", fmt.Errorf("%s: %s is not assigned &pkg.Type{...}", file, started)
	}
	pkg, _ := sel.X.(*ast.Ident)
	if pkg == nil || imports[pkg.Name] == "" {
		return "", "", fmt.Errorf("%s: %s's type is not from an imported package", file, started)
	}
	return imports[pkg.Name], sel.Sel.Name, nil
}

type notAStep struct{}

func (notAStep) Handle(in string) string { return in }

// TestStepOfReadsTheHandlerTypes: In and Out come from the method expression; anything that is
// not func(*T, context.Context, In) (Out, error) is refused.
func TestStepOfReadsTheHandlerTypes(t *testing.T) {
	s, err := contract.StepOf("cfn-answer", (*customresource.Answer).Handle)
	if err != nil {
		t.Fatal(err)
	}
	if s.In != reflect.TypeFor[customresource.AnswerInput]() || s.Out != reflect.TypeFor[customresource.AnswerOutput]() ||
		s.Receiver != reflect.TypeFor[*customresource.Answer]() {
		t.Errorf("StepOf read %v %v %v", s.Receiver, s.In, s.Out)
	}
	for _, bad := range []any{notAStep.Handle, notAStep{}, func(context.Context, string) (string, error) { return "", nil }, nil} {
		if _, err := contract.StepOf("bad", bad); err == nil {
			t.Errorf("StepOf accepted %T", bad)
		}
	}
}

// TestWorkflowInputs: every workflow has an input, and a declared-present path that names nothing
// is an error rather than a silent no-op.
func TestWorkflowInputs(t *testing.T) {
	workflows, err := contract.Workflows()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workflows {
		if _, err := w.InputShape(); err != nil {
			t.Errorf("%s: %v", w.File, err)
		}
	}
	w := workflows[0]
	w.Present = []string{"$.Event.PhysicalResourceID"}
	if _, err := w.InputShape(); err == nil || !strings.Contains(err.Error(), "PhysicalResourceID") {
		t.Errorf("a misspelt Present path gave %v", err)
	}
}
