package sandbox_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMStateMachineLogging: CreateStateMachine with a logging configuration to a log
// group is refused with Step Functions' AccessDeniedException ("The state machine IAM Role is not
// authorized to access the Log Destination") when the role lacks one of the log delivery actions
// (here logs:CreateLogDelivery), and nothing is created; with all of them (as CDK grants them) the
// machine is created and an execution's events reach the log group at level ALL with its input.
func TestEnforceIAMStateMachineLogging(t *testing.T) {
	ctx := sandboxtest.Context(t, time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	ic, sc, lc := iam.NewFromConfig(op), sfn.NewFromConfig(op), cwl.NewFromConfig(op)
	group := "/aws/vendedlogs/states/create"
	if _, err := lc.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	groupARN := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", env.Region, env.Account, group)
	for i, c := range []struct {
		name    string
		actions []string
		denied  bool
	}{
		{"no CreateLogDelivery", authz.StateMachineLogDelivery[1:], true},
		{"every delivery action", authz.StateMachineLogDelivery, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			roleName := fmt.Sprintf("workflow-%d", i)
			roleARN := createRole(ctx, t, ic, roleName, "states.amazonaws.com", map[string]any{"Effect": "Allow", "Action": c.actions, "Resource": "*"})
			out, err := sc.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(roleName), RoleArn: aws.String(roleARN),
				Definition: aws.String(`{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}`),
				LoggingConfiguration: &sfntypes.LoggingConfiguration{Level: sfntypes.LogLevelAll, IncludeExecutionData: true,
					Destinations: []sfntypes.LogDestination{{CloudWatchLogsLogGroup: &sfntypes.CloudWatchLogsLogGroup{LogGroupArn: aws.String(groupARN)}}}}})
			if c.denied {
				if msg := sandboxtest.WantCode(t, err, "AccessDeniedException"); !strings.Contains(msg, "The state machine IAM Role is not authorized to access the Log Destination") {
					t.Errorf("message %q", msg)
				}
				if list, err := sc.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil || len(list.StateMachines) != 0 {
					t.Errorf("state machines %+v %v, want none", list, err)
				}
				var denied bool
				for _, d := range env.Decisions() {
					denied = denied || !d.Allowed && d.Action == "logs:CreateLogDelivery" && strings.HasSuffix(d.Role, "/"+roleName)
				}
				if !denied {
					t.Error("no denied Decision for logs:CreateLogDelivery")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: out.StateMachineArn, Input: aws.String(`{"cluster":"cluster-1"}`)}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(got) == 0; time.Sleep(20 * time.Millisecond) {
				got = env.Logs.Messages(group)
			}
			joined := strings.Join(got, "\n")
			if !strings.Contains(joined, `"type":"ExecutionStarted"`) || !strings.Contains(joined, `"type":"ExecutionSucceeded"`) || !strings.Contains(joined, `cluster-1`) {
				t.Errorf("log group holds %q, want the execution's events with its input", got)
			}
		})
	}
}
