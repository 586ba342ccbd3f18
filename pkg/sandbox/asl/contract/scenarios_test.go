package contract_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/asl/contract"
)

// scenarioDir holds the workflow scenarios (pkg/sandbox/asl/testdata/statemachines/<machine>/),
// which pkg/sandbox/asl's differential test and pkg/sandbox/stepfunctions' API test run.
const scenarioDir = "../testdata/statemachines"

// scriptedARN is the prefix of a scenario's task keys: the tests substitute ${XFunctionArn} with
// this prefix and XFunction.
const scriptedARN = "arn:aws:lambda:us-east-1:123456789012:function:"

// TestScenarioResultsAreWhatStepsEmit holds every scripted answer of every scenario to its step's
// Out type: nothing the step never emits, everything it always emits; and every scenario's input
// to what the workflow's starter sends (contract.Workflows). A scenario that scripts
// what the real step cannot answer tests a workflow against a step that does not exist (one such
// script hid a read of an omitempty member that fails on AWS).
func TestScenarioResultsAreWhatStepsEmit(t *testing.T) {
	workflows, err := contract.Workflows()
	if err != nil {
		t.Fatal(err)
	}
	checked, inputs := 0, 0
	for _, w := range workflows {
		steps, err := w.Steps()
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(w.File, ".asl.json")
		files, err := filepath.Glob(filepath.Join(scenarioDir, base, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			var sc struct {
				Input json.RawMessage `json:"input"`
				Tasks map[string][]struct {
					Result            json.RawMessage `json:"result"`
					Echo              bool            `json:"echo"`
					ResultStringBytes int             `json:"resultStringBytes"`
				} `json:"tasks"`
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &sc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			inputs++
			if err := w.CheckInput(sc.Input); err != nil {
				t.Errorf("%s: %v", file, err)
			}
			for arn, script := range sc.Tasks {
				name, ok := strings.CutPrefix(arn, scriptedARN)
				step, known := steps[name+"Arn"]
				if !ok || !known {
					t.Errorf("%s: task %s is no ${...FunctionArn} of %s (pkg/resourcedef)", file, arn, w.Resource.Type)
					continue
				}
				for i, op := range script {
					if op.Echo || op.ResultStringBytes > 0 {
						t.Errorf("%s: tasks[%s][%d]: echo and resultStringBytes answer what step %s never does; script a result of %s", file, name, i, step.Function, step.Out)
						continue
					}
					if len(op.Result) == 0 {
						continue // an error, an echo or no answer
					}
					checked++
					if err := step.CheckResult(op.Result); err != nil {
						t.Errorf("%s: tasks[%s][%d]: %v", file, name, i, err)
					}
				}
			}
		}
	}
	if checked == 0 || inputs == 0 {
		t.Fatalf("%d scripted results and %d inputs found under %s", checked, inputs, scenarioDir)
	}
}

// TestCheckResult: a result is refused for a member the step never emits and for one it always
// emits left out; omitempty members may be left out.
func TestCheckResult(t *testing.T) {
	step := contract.Steps["cluster-describe"]
	full := `{"ClusterId": "cluster-1", "Found": true, "State": "ACTIVE", "SecurityGroup": "sg-1", "HasCsr": false, "Hsms": [{"HsmId": "hsm-1",
		"AvailabilityZone": "a", "SubnetId": "s", "State": "ACTIVE"}], "HsmCount": 1, "ActiveHsms": 1, "PendingHsms": 0,
		"DeletingHsms": 0, "DegradedHsms": 0, "AllHsmsActive": true, "FirstActiveHsmIp": "10.0.0.1", "HsmIps": ["10.0.0.1"]}`
	if err := step.CheckResult(json.RawMessage(full)); err != nil {
		t.Errorf("a complete answer was refused: %v", err)
	}
	for name, c := range map[string]struct{ raw, want string }{
		"a member never emitted": {strings.Replace(full, `"Found": true`, `"Found": true, "Status": "x"`, 1), "$.Status is never emitted"},
		"null for a nil slice":   {strings.Replace(full, `"HsmIps": ["10.0.0.1"]`, `"HsmIps": null`, 1), ""},
		"left out":               {strings.Replace(full, `"HsmCount": 1, `, "", 1), "$.HsmCount is missing"},
		"left out, nested":       {strings.Replace(full, `"SubnetId": "s", `, "", 1), "$.Hsms[0].SubnetId is missing"},
		"another type":           {strings.Replace(full, `"HsmCount": 1`, `"HsmCount": "1"`, 1), "$.HsmCount is string"},
	} {
		err := step.CheckResult(json.RawMessage(c.raw))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

// TestCheckInput: an Update's input without the PhysicalResourceId CloudFormation always sends
// is refused, as is a member the entry never sends.
func TestCheckInput(t *testing.T) {
	workflows, err := contract.Workflows()
	if err != nil {
		t.Fatal(err)
	}
	var update contract.Workflow
	for _, w := range workflows {
		if w.File == "cluster-update.asl.json" {
			update = w
		}
	}
	if update.Input == nil {
		t.Fatal("no cluster-update workflow")
	}
	event := `"RequestType": "Update", "RequestId": "r", "ResponseURL": "u", "ResourceType": "Custom::CloudHsmCluster",
		"LogicalResourceId": "Cluster", "StackId": "s", "ResourceProperties": {"HsmCount": "2"}, "OldResourceProperties": {"HsmCount": "2"}`
	if err := update.CheckInput(json.RawMessage(`{"Event": {` + event + `, "PhysicalResourceId": "cluster-1"}}`)); err != nil {
		t.Errorf("a complete Update input was refused: %v", err)
	}
	for name, c := range map[string]struct{ raw, want string }{
		"no PhysicalResourceId": {`{"Event": {` + event + `}}`, "$.Event.PhysicalResourceId is missing"},
		"a member never sent":   {`{"Event": {` + event + `, "PhysicalResourceId": "cluster-1"}, "Extra": 1}`, "$.Extra is never emitted"},
	} {
		if err := update.CheckInput(json.RawMessage(c.raw)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}
