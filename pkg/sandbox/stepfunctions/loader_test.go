package stepfunctions_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
)

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func TestLoadTemplate(t *testing.T) {
	e := newEnv(t)
	var got []byte
	fn, err := e.lambda.RegisterHandler("step", func(ctx context.Context, payload []byte) ([]byte, error) {
		got = payload
		return []byte(`{"done":true}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(id, attr string) (string, error) {
		switch {
		case id == "StepFunction1A2B3C4D" && attr == "Arn":
			return fn, nil
		case id == "WorkflowRoleABCD1234" && attr == "Arn":
			return role, nil
		}
		return "", fmt.Errorf("no resource %s.%s in this sandbox", id, attr)
	}
	machines, err := stepfunctions.LoadTemplate("testdata/cdk-stack.template.json", resolve)
	if err != nil {
		t.Fatal(err)
	}
	if len(machines) != 2 {
		t.Fatalf("loaded %d state machines, want 2", len(machines))
	}
	for _, m := range machines {
		t.Run(m.LogicalID, func(t *testing.T) {
			if strings.Contains(m.Definition, "${") || !strings.Contains(m.Definition, fn) || m.RoleArn != role {
				t.Errorf("definition %s role %s", m.Definition, m.RoleArn)
			}
			arn, _, err := e.states.Create(m.Name, m.Definition, m.RoleArn, "")
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxFor(t)
			start, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"x":1}`)})
			if err != nil {
				t.Fatal(err)
			}
			if d := e.waitDone(t, aws.ToString(start.ExecutionArn)); d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"done":true}` {
				t.Errorf("status %s output %s", d.Status, aws.ToString(d.Output))
			}
		})
	}
	if machines[0].Name != "joined" || machines[1].Name != "SubstitutedMachine9C0D1E2F" {
		t.Errorf("names %s, %s", machines[0].Name, machines[1].Name)
	}
	if string(got) != `{"Label":"fixed"}` {
		t.Errorf("the substituted machine sent %s", got)
	}
	if _, err := stepfunctions.LoadTemplate("testdata/cdk-stack.template.json", func(string, string) (string, error) { return "", errors.New("unknown") }); err == nil || !strings.Contains(err.Error(), "resolve WorkflowRoleABCD1234 Arn") {
		t.Errorf("an unresolvable GetAtt: %v, want an error naming the resource", err)
	}
}

func TestSubstituteNamesMissingPlaceholder(t *testing.T) {
	_, err := stepfunctions.Substitute(`{"Resource":"${AFunctionArn}","X":"${B}"}`, map[string]string{"AFunctionArn": "arn"})
	if err == nil || !strings.Contains(err.Error(), "${B}") {
		t.Errorf("Substitute = %v, want an error naming ${B}", err)
	}
}

// TestLoadStateMachinesFiles creates every statemachines/*.asl.json in the service, each
// placeholder substituted with a registered Lambda function, as the sandbox runs them.
func TestLoadStateMachinesFiles(t *testing.T) {
	files, err := filepath.Glob("../../../statemachines/*.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no statemachines/*.asl.json to load")
	}
	e := newEnv(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			subs := map[string]string{}
			for _, m := range placeholderRE.FindAllStringSubmatch(string(text), -1) {
				subs[m[1]] = e.lambda.ARN(m[1])
			}
			def, err := stepfunctions.LoadFile(f, subs)
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSuffix(filepath.Base(f), ".asl.json")
			if _, _, err := e.states.Create(name, def, role, ""); err != nil {
				t.Errorf("CreateStateMachine: %v", err)
			}
		})
	}
}
