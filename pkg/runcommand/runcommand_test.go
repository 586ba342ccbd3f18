package runcommand_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/runcommand"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestSendRefusesValuesThatAreNotIdentifiers checks the second line of defence: a value that
// could be a secret (spaces, quotes, too long) is refused before SSM is called, and the error
// does not echo it.
func TestSendRefusesValuesThatAreNotIdentifiers(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(100))
	ctx := sandboxtest.Context(t, 30*time.Second)
	send := &runcommand.Send{SSM: ssm.NewFromConfig(env.AWSConfig()), Document: hsmdocs.ActivateCluster}
	cases := []struct {
		name, value string
	}{
		{"space", "pass word"},
		{"quote", "it's"},
		{"dollar", "$HOME"},
		{"newline", "a\nb"},
		{"too long", strings.Repeat("a", 2049)},
		{"empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := send.Handle(ctx, runcommand.SendInput{InstanceID: ec2.DefaultInstanceID, Parameters: map[string]string{"HsmIp": tc.value}})
			var term *lambdaerr.TerminalError
			if !errors.As(err, &term) {
				t.Fatalf("err = %v; want a TerminalError", err)
			}
			if !strings.Contains(err.Error(), "HsmIp") || (len(tc.value) > 3 && strings.Contains(err.Error(), tc.value)) {
				t.Errorf("err = %q; want it to name HsmIp without the value", err)
			}
		})
	}
	if n := env.Recorder.Count("ssm", "SendCommand"); n != 0 {
		t.Errorf("%d SendCommand calls; want none", n)
	}
}

// TestSendAndCheckAFailingCommand sends the activation document for a cluster that does not exist
// (its ids and ARNs are well formed) and polls it to the end: the invocation fails on the
// instance, and Check reports Done, not Succeeded, with a reason from stderr.
func TestSendAndCheckAFailingCommand(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(100))
	ctx := sandboxtest.Context(t, 30*time.Second)
	client := ssm.NewFromConfig(env.AWSConfig())
	cmd, err := (&runcommand.Send{SSM: client, Document: hsmdocs.ActivateCluster, TimeoutSeconds: 600}).Handle(ctx, runcommand.SendInput{
		InstanceID: ec2.DefaultInstanceID,
		Parameters: map[string]string{
			"ClusterId": "cluster-abcdefghijk", "HsmIp": "10.0.0.9", "Region": "us-east-1",
			"AdminPasswordSecretArn":  "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
			"CustomerCaCertSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-cert-AbCdEf",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := &runcommand.Check{SSM: client}
	var st runcommand.Status
	// Until the context's deadline: the script runs the AWS CLI, whose start alone can take seconds
	// of wall time on a loaded machine (a count of polls once ran out under make test's load).
	for !st.Done && ctx.Err() == nil {
		if st, err = check.Handle(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !st.Done || st.Succeeded || st.Reason == "" {
		t.Fatalf("status = %+v; want a failed command with a reason", st)
	}
	t.Logf("reason: %s", st.Reason)
}
