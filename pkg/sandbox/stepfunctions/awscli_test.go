package stepfunctions_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest"
)

// debianAWSCLI is Debian's AWS CLI v2 (package awscli, installed by `make deps`): an independent
// client of the sandbox's Step Functions, with its own models and serializers.
const debianAWSCLI = "/usr/bin/aws"

func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(debianAWSCLI); err != nil {
		t.Fatalf("%s is missing: run `make deps` (it installs Debian's awscli): %v", debianAWSCLI, err)
	}
	sb := sandboxtest.New(t, sandboxtest.Scale(2000))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	home := t.TempDir()
	aws := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.CommandContext(ctx, debianAWSCLI, append([]string{"--endpoint-url", sb.URL, "--output", "json", "stepfunctions"}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
			"AWS_ACCESS_KEY_ID=" + sandbox.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + sandbox.SecretAccessKey,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws stepfunctions %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("aws stepfunctions %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return doc
	}
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
