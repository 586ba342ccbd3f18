package stepfunctions_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
	"github.com/strongroom/strongroom/statemachines"
)

// scenario is a file of pkg/sandbox/asl/testdata/statemachines/<machine>/: an input, scripted answers
// per Lambda function ARN (by call count, the last repeating) and the expected outcome. The same
// files drive the differential test of pkg/sandbox/asl; here they run through the Step Functions API
// with the scripts registered as sandbox Lambda functions.
type scenario struct {
	Comment string                       `json:"comment"`
	Input   json.RawMessage              `json:"input"`
	Tasks   map[string][]json.RawMessage `json:"tasks"`
	Expect  struct {
		OutputSubset json.RawMessage `json:"outputSubset"`
		Output       json.RawMessage `json:"output"`
		Error        string          `json:"error"`
		Cause        *string         `json:"cause"`
	} `json:"expect"`
}

type scriptStep struct {
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
	Cause  string          `json:"cause"`
}

// TestWorkflowScenariosThroughAPI runs every scenario of every workflow; a workflow without a
// scenario, or an unreadable scenario directory, fails rather than passing with nothing run.
func TestWorkflowScenariosThroughAPI(t *testing.T) {
	names := statemachines.Names()
	if len(names) == 0 {
		t.Fatal("statemachines embeds no *.asl.json")
	}
	ran := 0
	for _, name := range names {
		base := strings.TrimSuffix(name, ".asl.json")
		scenarios, err := filepath.Glob(filepath.Join("../asl/testdata/statemachines", base, "*.json"))
		if err != nil {
			t.Fatalf("%s scenarios: %v", base, err)
		}
		if len(scenarios) == 0 {
			t.Errorf("%s has no scenario in pkg/sandbox/asl/testdata/statemachines/%s/", name, base)
		}
		for _, sf := range scenarios {
			ran++
			t.Run(base+"/"+strings.TrimSuffix(filepath.Base(sf), ".json"), func(t *testing.T) {
				runScenario(t, filepath.Join("../../../statemachines", name), sf)
			})
		}
	}
	if ran == 0 {
		t.Fatal("no workflow scenario ran")
	}
}

func runScenario(t *testing.T, machineFile, scenarioFile string) {
	b, err := os.ReadFile(scenarioFile)
	if err != nil {
		t.Fatal(err)
	}
	var sc scenario
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	// Scale 200: a task's 120 s timeout is 0.6 s of wall time, ample for a scripted answer even on
	// a loaded machine; the workflows' waits (10-60 s) take 50-300 ms.
	e := newEnvAt(t, 200)
	text, err := os.ReadFile(machineFile)
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	for _, m := range placeholderRE.FindAllStringSubmatch(string(text), -1) {
		if _, done := subs[m[1]]; done {
			continue
		}
		name := strings.TrimSuffix(m[1], "Arn")
		subs[m[1]] = e.lambda.ARN(name)
		script := sc.Tasks[e.lambda.ARN(name)]
		var mu sync.Mutex
		calls := 0
		if _, err := e.lambda.RegisterHandler(name, func(ctx context.Context, payload []byte) ([]byte, error) {
			if len(script) == 0 {
				return nil, messages.InvokeResponse_Error{Type: "Sandbox.NoScript", Message: "no scripted answer for " + name}
			}
			mu.Lock()
			raw := script[min(calls, len(script)-1)]
			calls++
			mu.Unlock()
			var step scriptStep
			if err := json.Unmarshal(raw, &step); err != nil {
				return nil, err
			}
			if step.Error != nil {
				return nil, messages.InvokeResponse_Error{Type: *step.Error, Message: step.Cause}
			}
			return step.Result, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	def, err := stepfunctions.LoadFile(machineFile, subs)
	if err != nil {
		t.Fatal(err)
	}
	arn, _, err := e.states.Create("workflow", def, role, "")
	if err != nil {
		t.Fatal(err)
	}
	start, err := e.client.StartExecution(ctxFor(t), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(string(sc.Input))})
	if err != nil {
		t.Fatal(err)
	}
	d := e.waitDone(t, aws.ToString(start.ExecutionArn))
	if sc.Expect.Error != "" {
		if aws.ToString(d.Error) != sc.Expect.Error || (sc.Expect.Cause != nil && !strings.Contains(aws.ToString(d.Cause), *sc.Expect.Cause)) {
			t.Errorf("%s: %s %s (%s), want error %s", sc.Comment, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), sc.Expect.Error)
		}
		return
	}
	got, err := asl.ParseJSON([]byte(aws.ToString(d.Output)))
	if err != nil {
		t.Fatalf("%s: status %s, error %s (%s)", sc.Comment, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	// "output" is the exact expected output, "outputSubset" a part of it (as in pkg/sandbox/asl's tests).
	expected, exact := sc.Expect.OutputSubset, false
	if len(sc.Expect.Output) > 0 {
		expected, exact = sc.Expect.Output, true
	}
	if len(expected) == 0 {
		t.Fatalf("%s: the scenario expects neither an error, an output nor an output subset", sc.Comment)
	}
	want, err := asl.ParseJSON(expected)
	if err != nil {
		t.Fatal(err)
	}
	if where, ok := asl.Subset(got, want); !ok {
		t.Errorf("%s: output %s differs from the expected output at %s", sc.Comment, aws.ToString(d.Output), where)
	}
	if exact {
		if where, ok := asl.Subset(want, got); !ok {
			t.Errorf("%s: output %s has more than the expected output, at %s", sc.Comment, aws.ToString(d.Output), where)
		}
	}
}
