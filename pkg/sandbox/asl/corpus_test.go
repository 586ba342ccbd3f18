package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// corpusCase is one file of testdata/corpus: a definition, its input, deterministic task
// stand-ins and the expected outcome (AWS's documented behaviour).
type corpusCase struct {
	Name       string                 `json:"name"`
	Comment    string                 `json:"comment,omitempty"`
	Definition json.RawMessage        `json:"definition"`
	Input      json.RawMessage        `json:"input"`
	Tasks      map[string][]standInOp `json:"tasks,omitempty"`
	// RealWaits keeps the Node interpreter's Wait states (for cases that test a Wait's own
	// validation or a machine timeout); otherwise its waits are overridden to 0 ms.
	RealWaits bool            `json:"realWaits,omitempty"`
	Context   json.RawMessage `json:"context,omitempty"`
	Expect    struct {
		Output json.RawMessage `json:"output,omitempty"`
		// OutputSubset (statemachines/ scenarios) lists members the output must contain.
		OutputSubset json.RawMessage `json:"outputSubset,omitempty"`
		Error        string          `json:"error,omitempty"`
		Cause        *string         `json:"cause,omitempty"`
	} `json:"expect"`
}

// standInOp is what a stand-in does on one call; the last op repeats for later calls.
type standInOp struct {
	Result       json.RawMessage `json:"result,omitempty"`
	Echo         bool            `json:"echo,omitempty"`
	Error        *string         `json:"error,omitempty"`
	Cause        string          `json:"cause,omitempty"`
	SleepSeconds float64         `json:"sleepSeconds,omitempty"`
	// ResultStringBytes answers a string of that many bytes (for the payload size limit).
	ResultStringBytes int `json:"resultStringBytes,omitempty"`
}

// standIns is the Go side of the stand-ins: the same scripts, counted per resource key.
type standIns struct {
	clock core.Clock
	tasks map[string][]standInOp
	mu    sync.Mutex
	calls map[string]int
}

func (s *standIns) Invoke(ctx context.Context, resource string, input any) (any, error) {
	s.mu.Lock()
	script, ok := s.tasks[resource]
	n := s.calls[resource]
	s.calls[resource] = n + 1
	s.mu.Unlock()
	if !ok {
		return nil, &Failure{Name: "Sandbox.NoStandIn", Cause: "no stand-in for " + resource}
	}
	op := script[min(n, len(script)-1)]
	if op.SleepSeconds > 0 {
		if err := s.clock.Sleep(ctx, time.Duration(op.SleepSeconds*float64(time.Second))); err != nil {
			return nil, err
		}
	}
	if op.Error != nil {
		return nil, &Failure{Name: *op.Error, Cause: op.Cause}
	}
	if op.Echo {
		return input, nil
	}
	if op.ResultStringBytes > 0 {
		return strings.Repeat("x", op.ResultStringBytes), nil
	}
	if len(op.Result) == 0 {
		return nil, nil
	}
	return op.Result, nil
}

var _ Invoker = (*standIns)(nil)

// outcome is what both interpreters are compared on.
type outcome struct {
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
}

// readCase reads one case file, refusing members corpusCase does not have (a misspelt member
// would otherwise be ignored and the case check less than it says).
func readCase(t *testing.T, path string) corpusCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c corpusCase
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no case in testdata/corpus: the differential test would pass having compared nothing")
	}
	var cases []corpusCase
	for _, f := range files {
		c := readCase(t, f)
		c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		if len(c.Input) == 0 {
			c.Input = json.RawMessage("{}")
		}
		cases = append(cases, c)
	}
	return cases
}

const (
	corpusAccount = "123456789012"
	corpusRole    = "arn:aws:iam::123456789012:role/corpus"
)

// runGo runs a case through this package on a fast sandbox clock.
func runGo(t *testing.T, c corpusCase) outcome {
	t.Helper()
	def, err := Parse(c.Definition)
	if err != nil {
		return outcome{Error: "Validation", Cause: err.Error()}
	}
	input, err := ParseJSON(c.Input)
	if err != nil {
		t.Fatalf("%s: input: %v", c.Name, err)
	}
	clock := core.NewScaledClock(2000)
	opts := Options{
		Clock:            clock,
		Invoker:          &standIns{clock: clock, tasks: c.Tasks, calls: map[string]int{}},
		ExecutionARN:     "arn:aws:states:us-east-1:" + corpusAccount + ":execution:corpus:" + c.Name,
		ExecutionName:    c.Name,
		StateMachineARN:  "arn:aws:states:us-east-1:" + corpusAccount + ":stateMachine:corpus",
		StateMachineName: "corpus",
		RoleARN:          corpusRole,
		Region:           "us-east-1",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, _ := Run(ctx, def, input, opts)
	switch res.Status {
	case StatusSucceeded:
		return outcome{Output: json.RawMessage(res.OutputJSON)}
	default:
		return outcome{Error: res.Error, Cause: res.Cause}
	}
}

// nodeContext is the context object given to the Node interpreter (it fills Execution.Input
// and StartTime itself).
func nodeContext(name string) map[string]any {
	return map[string]any{
		"Execution": map[string]any{
			"Id":      "arn:aws:states:us-east-1:" + corpusAccount + ":execution:corpus:" + name,
			"Name":    name,
			"RoleArn": corpusRole,
		},
		"StateMachine": map[string]any{
			"Id":   "arn:aws:states:us-east-1:" + corpusAccount + ":stateMachine:corpus",
			"Name": "corpus",
		},
	}
}

// runNode runs every case through aws-local-stepfunctions in one Node 22 process.
func runNode(t *testing.T, cases []corpusCase) map[string]outcome {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(root, "node_modules/aws-local-stepfunctions/build/main.node.esm.js")
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("%s is missing: run `make npm` (it installs aws-local-stepfunctions)", lib)
	}
	node := node22(t, root)
	type nodeCase struct {
		Name       string                 `json:"name"`
		Definition json.RawMessage        `json:"definition"`
		Input      json.RawMessage        `json:"input"`
		Tasks      map[string][]standInOp `json:"tasks,omitempty"`
		RealWaits  bool                   `json:"realWaits,omitempty"`
		Context    any                    `json:"context"`
	}
	var in struct {
		Cases []nodeCase `json:"cases"`
	}
	for _, c := range cases {
		in.Cases = append(in.Cases, nodeCase{c.Name, c.Definition, c.Input, c.Tasks, c.RealWaits, nodeContext(c.Name)})
	}
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/run-corpus.mjs", lib)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node run-corpus.mjs: %v\n%s", err, stderr.String())
	}
	var out struct {
		Results map[string]outcome `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout.String())
	}
	return out.Results
}

// knownDifference is an entry of testdata/known-differences.json: a case where
// aws-local-stepfunctions 3.0.0 departs from AWS's documentation. The test requires that it still
// differs, so a fixed entry is noticed and removed.
type knownDifference struct {
	Case      string `json:"case"`
	Node      string `json:"node"`
	Reference string `json:"reference"`
}

func loadKnownDifferences(t *testing.T) map[string]knownDifference {
	t.Helper()
	b, err := os.ReadFile("testdata/known-differences.json")
	if err != nil {
		t.Fatal(err)
	}
	var list []knownDifference
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("known-differences.json: %v", err)
	}
	m := map[string]knownDifference{}
	for _, d := range list {
		if d.Reference == "" || d.Node == "" {
			t.Errorf("known difference %s: needs both what Node does (node) and the AWS documentation (reference)", d.Case)
		}
		m[d.Case] = d
	}
	return m
}

// matches compares an outcome with the expectation: the same output JSON, or the same error
// name (and the same cause when the case pins it).
func (c corpusCase) matches(o outcome) error {
	if len(c.Expect.OutputSubset) > 0 {
		if o.Error != "" {
			return fmt.Errorf("failed with %s (%s), want an output containing %s", o.Error, truncate(o.Cause, 300), c.Expect.OutputSubset)
		}
		want, err1 := ParseJSON(c.Expect.OutputSubset)
		got, err2 := ParseJSON(o.Output)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad JSON: %v %v", err1, err2)
		}
		if path, ok := Subset(got, want); !ok {
			return fmt.Errorf("output %s differs from the expected subset at %s", truncate(string(o.Output), 2000), path)
		}
		return nil
	}
	if len(c.Expect.Output) > 0 {
		if o.Error != "" {
			return fmt.Errorf("failed with %s (%s), want output %s", o.Error, truncate(o.Cause, 300), truncate(string(c.Expect.Output), 300))
		}
		want, err1 := ParseJSON(c.Expect.Output)
		got, err2 := ParseJSON(o.Output)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad JSON: want %s (%v), got %s (%v)", c.Expect.Output, err1, o.Output, err2)
		}
		if !Equal(want, got) {
			return fmt.Errorf("output %s, want %s", truncate(string(o.Output), 300), truncate(string(c.Expect.Output), 300))
		}
		return nil
	}
	if o.Error != c.Expect.Error {
		if o.Error == "" {
			return fmt.Errorf("succeeded with %s, want error %s", truncate(string(o.Output), 300), c.Expect.Error)
		}
		return fmt.Errorf("error %s (%s), want %s", o.Error, truncate(o.Cause, 300), c.Expect.Error)
	}
	if c.Expect.Cause != nil && o.Cause != *c.Expect.Cause {
		return fmt.Errorf("cause %q, want %q", o.Cause, *c.Expect.Cause)
	}
	return nil
}

// TestCorpus runs every case through this interpreter and through aws-local-stepfunctions and
// requires both to produce the expected outcome, except the recorded known differences (where
// the Node interpreter must still differ).
func TestCorpus(t *testing.T) {
	t.Parallel() // the Node processes of these tests overlap
	cases := loadCorpus(t)
	if len(cases) < 60 {
		t.Errorf("the corpus has %d cases; the conformance suite needs at least 60", len(cases))
	}
	known := loadKnownDifferences(t)
	for name := range known {
		found := false
		for _, c := range cases {
			found = found || c.Name == name
		}
		if !found {
			t.Errorf("known difference %s names no corpus case", name)
		}
	}
	nodeResults := runNode(t, cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if len(c.Expect.Output) == 0 && c.Expect.Error == "" {
				t.Fatal("the case expects neither an output nor an error")
			}
			if err := c.matches(runGo(t, c)); err != nil {
				t.Errorf("pkg/sandbox/asl: %v", err)
			}
			n, ok := nodeResults[c.Name]
			if !ok {
				t.Fatalf("aws-local-stepfunctions returned no result")
			}
			nerr := c.matches(n)
			if d, isKnown := known[c.Name]; isKnown {
				if nerr == nil {
					t.Errorf("listed as a known difference (%s) but aws-local-stepfunctions now agrees: remove the entry", d.Reference)
				}
				return
			}
			if nerr != nil {
				t.Errorf("aws-local-stepfunctions: %v", nerr)
			}
		})
	}
}

// TestCorpusCoversEveryFeature checks that the corpus exercises every state type, every
// intrinsic function and every Choice operator, so the differential test cannot silently shrink.
func TestCorpusCoversEveryFeature(t *testing.T) {
	var all strings.Builder
	for _, c := range loadCorpus(t) {
		all.Write(c.Definition)
	}
	text := all.String()
	var want []string
	for _, typ := range []string{"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"} {
		want = append(want, `"Type": "`+typ+`"`)
	}
	for name := range intrinsics {
		want = append(want, name+"(")
	}
	for op := range choiceOps {
		want = append(want, `"`+op+`"`)
	}
	want = append(want, "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector",
		"ItemsPath", "ItemSelector", "MaxConcurrency", "Iterator", "ItemProcessor", "Branches", "Retry", "Catch",
		"IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "TimeoutSeconds",
		"TimeoutSecondsPath", "HeartbeatSeconds", "SecondsPath", "Timestamp", "TimestampPath", "ErrorPath",
		"CausePath", "States.ALL", "States.TaskFailed", "States.Timeout", "$$.", ":::lambda:invoke", ":::aws-sdk:",
		"\"And\"", "\"Or\"", "\"Not\"", "\"Default\"", "\"Result\"")
	sort.Strings(want)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("no corpus case uses %s", w)
		}
	}
}
