package asl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// eachStateMachine runs test on the text of every file of statemachines/, each in a subtest named
// after the file.
func eachStateMachine(t *testing.T, test func(t *testing.T, text []byte)) {
	for _, m := range stateMachines(t) {
		t.Run(m.file, func(t *testing.T) { test(t, m.text) })
	}
}

// stateMachine is a file of statemachines/: its base name and its text.
type stateMachine struct {
	file string
	text []byte
}

// stateMachines reads statemachines/*.asl.json; the tests below run over whatever is there, and
// fail when nothing is (a test over no workflow proves nothing).
func stateMachines(t *testing.T) []stateMachine {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "statemachines", "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no statemachines/*.asl.json under %s", repoRoot(t))
	}
	var out []stateMachine
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stateMachine{filepath.Base(f), text})
	}
	return out
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

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
	eachStateMachine(t, func(t *testing.T, text []byte) {
		if _, err := Parse(substituteForTest(text)); err != nil {
			t.Errorf("%v", err)
		}
	})
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
// would otherwise never match and silently disable a retry (docs/architecture.md, "Errors and retries").
func TestStateMachineErrorNames(t *testing.T) {
	eachStateMachine(t, func(t *testing.T, text []byte) {
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

// TestASLValidator runs asl-validator (npm, pinned) over every file in statemachines/ and every
// corpus definition that this interpreter accepts.
func TestASLValidator(t *testing.T) {
	t.Parallel() // the Node processes of these tests overlap
	root := repoRoot(t)
	validator := filepath.Join(root, "node_modules/asl-validator/dist/bin/asl-validator.js")
	if _, err := os.Stat(validator); err != nil {
		validator = filepath.Join(root, "node_modules/.bin/asl-validator")
	}
	if _, err := os.Stat(validator); err != nil {
		t.Fatalf("%s is missing: run `make npm`", validator)
	}
	node := node22(t, root)
	dir := t.TempDir()
	var paths []string
	write := func(name string, text []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, text, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, m := range stateMachines(t) {
		write("statemachines-"+m.file, substituteForTest(m.text))
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
	// A bound, not a timing: the validator takes seconds alone, and a minute once ran out while
	// make test ran packages side by side on two cores.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
	machines := stateMachines(t)
	var cases []corpusCase
	for _, m := range machines {
		base := strings.TrimSuffix(m.file, ".asl.json")
		scenarios, err := filepath.Glob(filepath.Join("testdata", "statemachines", base, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(scenarios) == 0 {
			t.Errorf("%s has no scenario: add testdata/statemachines/%s/<scenario>.json (input, tasks, expect) to pkg/sandbox/asl", m.file, base)
			continue
		}
		for _, s := range scenarios {
			c := readCase(t, s)
			c.Name = base + "/" + strings.TrimSuffix(filepath.Base(s), ".json")
			c.Definition = substituteForTest(m.text)
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		t.Fatal("no scenario to run")
	}
	nodeResults := runNode(t, cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got := runGo(t, c)
			if err := c.matches(got); err != nil {
				t.Errorf("pkg/sandbox/asl: %v", err)
			}
			n, ok := nodeResults[c.Name]
			if !ok {
				t.Fatal("aws-local-stepfunctions returned no result")
			}
			if err := c.matches(n); err != nil {
				t.Errorf("aws-local-stepfunctions: %v", err)
			}
			if got.Error != n.Error || got.Cause != n.Cause {
				t.Errorf("the interpreters disagree: pkg/sandbox/asl %s (%s), aws-local-stepfunctions %s (%s)", got.Error, got.Cause, n.Error, n.Cause)
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
