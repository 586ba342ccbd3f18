package stepfunctions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestAWSCLI drives the sandbox's Step Functions with the AWS CLI, an independent client with its
// own models and serializers.
func TestAWSCLI(t *testing.T) {
	sb := sandboxtest.New(t, sandboxtest.Scale(2000))
	cli := sandboxtest.NewCLI(t, sandboxtest.Context(t, time.Minute), sb.URL)
	aws := func(args ...string) map[string]any { return cli.Run(append([]string{"stepfunctions"}, args...)...) }
	created := aws("create-state-machine", "--name", "cli", "--role-arn", role,
		"--definition", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"Next":"P"},"P":{"Type":"Pass","Parameters":{"greeting.$":"States.Format('hello {}', $.who)"},"End":true}}}`)
	arn, _ := created["stateMachineArn"].(string)
	if !strings.HasSuffix(arn, ":stateMachine:cli") {
		t.Fatalf("create-state-machine = %v", created)
	}
	started := aws("start-execution", "--state-machine-arn", arn, "--name", "first", "--input", `{"who":"cli"}`)
	exec_, _ := started["executionArn"].(string)
	var described map[string]any
	for range 200 {
		described = aws("describe-execution", "--execution-arn", exec_)
		if described["status"] != "RUNNING" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if described["status"] != "SUCCEEDED" || described["output"] != `{"greeting":"hello cli"}` {
		t.Errorf("describe-execution = %v", described)
	}
	history := aws("get-execution-history", "--execution-arn", exec_)
	events, _ := history["events"].([]any)
	var types []string
	for _, e := range events {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	if got := strings.Join(types, ","); got != "ExecutionStarted,WaitStateEntered,WaitStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded" {
		t.Errorf("get-execution-history types %s", got)
	}
	listed := aws("list-executions", "--state-machine-arn", arn)
	if execs, _ := listed["executions"].([]any); len(execs) != 1 {
		t.Errorf("list-executions = %v", listed)
	}
}
