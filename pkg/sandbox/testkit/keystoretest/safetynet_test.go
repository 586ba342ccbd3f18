package keystoretest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// TestAbortedCreateIsAnsweredBySafetyNet stops a Create execution mid-way (as an operator, or a
// Step Functions failure outside any Catch, would end it): the safety net must answer FAILED
// promptly instead of leaving the stack to CloudFormation's timeout.
func TestAbortedCreateIsAnsweredBySafetyNet(t *testing.T) {
	r := newRig(t, keystoretest.Options{}, 2)
	sf := sfn.NewFromConfig(r.env.AWSConfig())
	stopped := make(chan error, 1)
	before := r.env.Recorder.Count("ssm", "SendCommand") // the cluster's activation
	go func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			// Once kmsuser is being created, the execution is well under way.
			if r.env.Recorder.Count("ssm", "SendCommand") > before {
				list, err := sf.ListExecutions(r.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(r.dep.Machines["Create"])})
				if err != nil {
					stopped <- err
					return
				}
				if len(list.Executions) == 0 {
					stopped <- errors.New("no Create execution listed")
					return
				}
				_, err = sf.StopExecution(r.ctx, &sfn.StopExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn, Cause: aws.String("operator stopped it")})
				stopped <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		stopped <- errors.New("the workflow never sent a command")
	}()
	out, err := r.dep.Create(r.ctx, "KeyStore", r.dep.Properties(r.cluster, "KeyStore", "strongroom-abort", false))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop the execution: %v", err)
	}
	if out.Status != cloudformation.StatusFailed || out.TimedOut || !strings.Contains(out.Reason, "ABORTED") {
		t.Fatalf("answered %s (timed out %v): %s; want FAILED by the safety net, naming ABORTED", out.Status, out.TimedOut, out.Reason)
	}
	if len(out.Duplicates) != 0 {
		t.Errorf("%d extra answers", len(out.Duplicates))
	}
	t.Logf("reason: %s", out.Reason)
}
