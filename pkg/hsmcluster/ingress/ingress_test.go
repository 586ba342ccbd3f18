package ingress_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/ingress"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestAllowClientAgainstTheSandbox runs the step with a real EC2 client against the sandbox: the
// group CloudHSM makes for a new cluster lets the client instance in only once the step has run; a
// second run changes nothing and succeeds; a missing instance or group fails terminally, naming it.
func TestAllowClientAgainstTheSandbox(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	hsm := cloudhsmv2.NewFromConfig(env.AWSConfig())
	cc, err := hsm.CreateCluster(ctx, &cloudhsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: sbec2.DefaultSubnetIDs[:]})
	if err != nil {
		t.Fatal(err)
	}
	cluster, group := aws.ToString(cc.Cluster.ClusterId), aws.ToString(cc.Cluster.SecurityGroup)
	// An interface in the cluster's group stands for an HSM (the HSM itself needs the cluster ACTIVE).
	_, hsmIP, _, err := env.EC2.AllocateENI(sbec2.DefaultSubnetIDs[1], "CloudHSM Managed Interface", group)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.EC2.Connect(sbec2.DefaultInstanceID, hsmIP, ingress.FromPort); !sbec2.IsRejected(err) {
		t.Fatalf("before the step, the client reached the HSM: %v", err)
	}

	step := &ingress.AllowClient{EC2: ec2.NewFromConfig(env.NoRetryConfig())}
	in := ingress.Input{ClusterID: cluster, SecurityGroup: group, InstanceID: sbec2.DefaultInstanceID}
	out, err := step.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.ClientGroups, []string{sbec2.DefaultSecurityGroupID}) || !slices.Equal(out.Added, out.ClientGroups) {
		t.Fatalf("output %+v", out)
	}
	for port := ingress.FromPort; port <= ingress.ToPort; port++ {
		if err := env.EC2.Connect(sbec2.DefaultInstanceID, hsmIP, port); err != nil {
			t.Fatalf("port %d after the step: %v", port, err)
		}
	}
	again, err := step.Handle(ctx, in)
	if err != nil || len(again.Added) != 0 {
		t.Fatalf("a second run: %+v, %v; want success adding nothing", again, err)
	}

	for name, c := range map[string]struct {
		in   ingress.Input
		want []string
	}{
		"missing instance": {ingress.Input{ClusterID: cluster, SecurityGroup: group, InstanceID: "i-0123456789abcdef0"}, []string{"ClientInstanceId", "i-0123456789abcdef0"}},
		"missing group":    {ingress.Input{ClusterID: cluster, SecurityGroup: "sg-0123456789abcdef0", InstanceID: sbec2.DefaultInstanceID}, []string{"sg-0123456789abcdef0", cluster}},
	} {
		_, err := step.Handle(ctx, c.in)
		var term *lambdaerr.TerminalError
		if !errors.As(err, &term) {
			t.Errorf("%s: %v; want a terminal error", name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not name %s", name, err, w)
			}
		}
	}
	// Before CloudHSM names the group the step is retried, not failed.
	_, err = step.Handle(ctx, ingress.Input{ClusterID: cluster, InstanceID: sbec2.DefaultInstanceID})
	var retry *lambdaerr.RetryableError
	if !errors.As(err, &retry) {
		t.Fatalf("no group yet: %v; want a retryable error", err)
	}
}
