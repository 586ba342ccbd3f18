package ec2_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestConnectJudgedBySecurityGroups: a connection from the instance to an HSM's interface needs
// the instance's egress and the HSM group's ingress; CloudHSM's self-referencing group lets no
// outsider in until a rule names the outsider's group; each interface records what it saw.
func TestConnectJudgedBySecurityGroups(t *testing.T) {
	c, svc := newEnv(t)
	ctx := context.Background()
	cluster, err := svc.CreateGroup(ec2.DefaultVPCID, "cloudhsm-cluster-x-sg", "AWS CloudHSM cluster x")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SelfRules(cluster, "tcp", 2223, 2225, "cluster"); err != nil {
		t.Fatal(err)
	}
	hsmENI, hsmIP, _, err := svc.AllocateENI(ec2.DefaultSubnetIDs[1], "CloudHSM Managed Interface", cluster)
	if err != nil {
		t.Fatal(err)
	}
	client, err := c.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("client"), Description: aws.String("client"), VpcId: aws.String(ec2.DefaultVPCID)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeSecurityGroupEgress(ctx, &awsec2.RevokeSecurityGroupEgressInput{GroupId: client.GroupId,
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	hsmPorts := []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2223), ToPort: aws.Int32(2225), IpRanges: []types.IpRange{{CidrIp: aws.String(ec2.DefaultVPCCIDR)}}}}
	if _, err := c.AuthorizeSecurityGroupEgress(ctx, &awsec2.AuthorizeSecurityGroupEgressInput{GroupId: client.GroupId, IpPermissions: hsmPorts}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetInstanceGroups(ec2.DefaultInstanceID, []string{*client.GroupId}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetInstanceGroups(ec2.DefaultInstanceID, []string{"sg-0123456789abcdef0"}); err == nil {
		t.Fatal("an unknown group was set on the instance")
	}
	svc.Flows() // the setup's

	var rejected *ec2.RejectedError
	err = svc.Connect(ec2.DefaultInstanceID, hsmIP, 2223)
	if !errors.As(err, &rejected) || rejected.Side != "ingress of "+cluster || rejected.To != hsmENI {
		t.Fatalf("before the cluster group lets the client in: %v", err)
	}
	flows := svc.Flows()
	if len(flows) != 2 || flows[0].Action != "ACCEPT" || flows[1].Action != "REJECT" || flows[1].InterfaceID != hsmENI ||
		flows[1].DstAddr != hsmIP || flows[1].DstPort != 2223 || flows[1].Protocol != 6 {
		t.Fatalf("flows of a refused connection: %+v", flows)
	}

	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cluster),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2223), ToPort: aws.Int32(2225),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: client.GroupId}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Connect(ec2.DefaultInstanceID, hsmIP, 2223); err != nil {
		t.Fatalf("with the rule: %v", err)
	}
	flows = svc.Flows()
	if len(flows) != 4 {
		t.Fatalf("flows of an accepted connection: %+v", flows)
	}
	for _, f := range flows {
		if f.Action != "ACCEPT" {
			t.Fatalf("flows of an accepted connection: %+v", flows)
		}
	}
	if err := svc.Connect(ec2.DefaultInstanceID, hsmIP, 22); !ec2.IsRejected(err) {
		t.Fatalf("a port no rule names: %v", err)
	}
	if _, err := c.RevokeSecurityGroupEgress(ctx, &awsec2.RevokeSecurityGroupEgressInput{GroupId: client.GroupId, IpPermissions: hsmPorts}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Connect(ec2.DefaultInstanceID, hsmIP, 2223); !errors.As(err, &rejected) || rejected.Side != "egress of "+*client.GroupId {
		t.Fatalf("without the client's egress: %v", err)
	}
	// The cluster group's rule names the client's group: EC2 refuses to delete a group another's
	// rule references.
	_, err = c.DeleteSecurityGroup(ctx, &awsec2.DeleteSecurityGroupInput{GroupId: client.GroupId})
	sandboxtest.WantCode(t, err, "DependencyViolation")
}
