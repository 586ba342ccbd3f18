package ec2_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// newEnv starts a complete sandbox (package sandboxtest) and returns a real SDK client for its
// EC2 and the service itself, for the Go API.
func newEnv(t *testing.T) (*awsec2.Client, *ec2.Service) {
	t.Helper()
	sb := sandboxtest.New(t)
	return awsec2.NewFromConfig(sb.NoRetryConfig()), sb.EC2
}

func TestDefaultNetwork(t *testing.T) {
	c, _ := newEnv(t)
	ctx := context.Background()
	vpcs, err := c.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Vpcs) != 1 || *vpcs.Vpcs[0].VpcId != ec2.DefaultVPCID || *vpcs.Vpcs[0].CidrBlock != "10.0.0.0/16" || vpcs.Vpcs[0].State != types.VpcStateAvailable {
		t.Fatalf("vpcs %+v", vpcs.Vpcs)
	}
	subnets, err := c.DescribeSubnets(ctx, &awsec2.DescribeSubnetsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var azs []string
	for _, s := range subnets.Subnets {
		azs = append(azs, *s.AvailabilityZone)
		if !strings.HasSuffix(*s.CidrBlock, "/24") || *s.VpcId != ec2.DefaultVPCID {
			t.Fatalf("subnet %+v", s)
		}
	}
	if !slices.Equal(azs, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) {
		t.Fatalf("AZs %v", azs)
	}
	// The client instance's interface took one address of subnet a.
	if *subnets.Subnets[0].AvailableIpAddressCount != 250 || *subnets.Subnets[1].AvailableIpAddressCount != 251 {
		t.Fatalf("available addresses %d, %d", *subnets.Subnets[0].AvailableIpAddressCount, *subnets.Subnets[1].AvailableIpAddressCount)
	}
	inst, err := c.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{ec2.DefaultInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Reservations) != 1 || len(inst.Reservations[0].Instances) != 1 {
		t.Fatalf("reservations %+v", inst.Reservations)
	}
	i := inst.Reservations[0].Instances[0]
	if i.State.Name != types.InstanceStateNameRunning || *i.State.Code != 16 || *i.SubnetId != ec2.DefaultSubnetIDs[0] ||
		*i.PrivateIpAddress != "10.0.0.4" || *i.Placement.AvailabilityZone != "us-east-1a" || len(i.NetworkInterfaces) != 1 ||
		i.IamInstanceProfile == nil || len(i.SecurityGroups) != 1 || i.LaunchTime == nil {
		t.Fatalf("instance %+v", i)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{GroupIds: []string{ec2.DefaultSecurityGroupID}})
	if err != nil {
		t.Fatal(err)
	}
	g := sgs.SecurityGroups[0]
	if *g.GroupName != "default" || len(g.IpPermissions) != 1 || *g.IpPermissions[0].UserIdGroupPairs[0].GroupId != ec2.DefaultSecurityGroupID ||
		len(g.IpPermissionsEgress) != 1 || *g.IpPermissionsEgress[0].IpRanges[0].CidrIp != "0.0.0.0/0" {
		t.Fatalf("default group %+v", g)
	}
}

func TestDescribeFiltersAndUnknownIDs(t *testing.T) {
	c, _ := newEnv(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		filters []types.Filter
		ids     []string
		want    []string
		code    string
	}{
		{name: "by vpc", filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{ec2.DefaultVPCID}}}, want: ec2.DefaultSubnetIDs[:]},
		{name: "by zone", filters: []types.Filter{{Name: aws.String("availability-zone"), Values: []string{"us-east-1b"}}}, want: []string{ec2.DefaultSubnetIDs[1]}},
		{name: "two zones", filters: []types.Filter{{Name: aws.String("availability-zone"), Values: []string{"us-east-1a", "us-east-1c"}}}, want: []string{ec2.DefaultSubnetIDs[0], ec2.DefaultSubnetIDs[2]}},
		{name: "wildcard tag", filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"*-private-c"}}}, want: []string{ec2.DefaultSubnetIDs[2]}},
		{name: "filters combine", filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{ec2.DefaultVPCID}}, {Name: aws.String("cidr-block"), Values: []string{"10.0.1.0/24"}}}, want: []string{ec2.DefaultSubnetIDs[1]}},
		{name: "no match", filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{"vpc-0000"}}}},
		{name: "by id", ids: []string{ec2.DefaultSubnetIDs[2]}, want: []string{ec2.DefaultSubnetIDs[2]}},
		{name: "unknown id", ids: []string{"subnet-0123456789abcdef0"}, code: "InvalidSubnetID.NotFound"},
		{name: "unknown filter", filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"blue"}}}, code: "InvalidParameterValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DescribeSubnets(ctx, &awsec2.DescribeSubnetsInput{Filters: tc.filters, SubnetIds: tc.ids})
			if tc.code != "" {
				sandboxtest.WantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range out.Subnets {
				got = append(got, *s.SubnetId)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	_, err := c.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	if msg := sandboxtest.WantCode(t, err, "InvalidInstanceID.NotFound"); msg != "The instance ID 'i-0123456789abcdef0' does not exist" {
		t.Fatalf("message %q", msg)
	}
	_, err = c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	sandboxtest.WantCode(t, err, "InvalidGroup.NotFound")
	_, err = c.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
	sandboxtest.WantCode(t, err, "InvalidVpcID.NotFound")
	running, err := c.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}, {Name: aws.String("subnet-id"), Values: []string{ec2.DefaultSubnetIDs[0]}}}})
	if err != nil || len(running.Reservations) != 1 {
		t.Fatalf("instance filters: %v %+v", err, running)
	}
}

func TestSecurityGroupRules(t *testing.T) {
	c, _ := newEnv(t)
	ctx := context.Background()
	created, err := c.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("hsm"), Description: aws.String("HSM cluster"), VpcId: aws.String(ec2.DefaultVPCID)})
	if err != nil {
		t.Fatal(err)
	}
	gid := *created.GroupId
	_, err = c.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("hsm"), Description: aws.String("again"), VpcId: aws.String(ec2.DefaultVPCID)})
	sandboxtest.WantCode(t, err, "InvalidGroup.Duplicate")
	hsmPorts := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2223), ToPort: aws.Int32(2225),
		UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(ec2.DefaultSecurityGroupID), Description: aws.String("client instance")}},
		IpRanges:         []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}
	out, err := c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: &gid, IpPermissions: []types.IpPermission{hsmPorts}})
	if err != nil {
		t.Fatal(err)
	}
	if !*out.Return || len(out.SecurityGroupRules) != 2 || *out.SecurityGroupRules[0].FromPort != 2223 {
		t.Fatalf("authorize output %+v", out)
	}
	cases := []struct {
		name string
		perm types.IpPermission
		code string
	}{
		{name: "duplicate", perm: types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2223), ToPort: aws.Int32(2225), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}, code: "InvalidPermission.Duplicate"},
		{name: "duplicate by protocol number", perm: types.IpPermission{IpProtocol: aws.String("6"), FromPort: aws.Int32(2223), ToPort: aws.Int32(2225), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(ec2.DefaultSecurityGroupID)}}}, code: "InvalidPermission.Duplicate"},
		{name: "unknown source group", perm: types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String("sg-0123456789abcdef0")}}}, code: "InvalidGroup.NotFound"},
		{name: "bad port", perm: types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(70000), ToPort: aws.Int32(70000), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}, code: "InvalidParameterValue"},
		{name: "bad cidr", perm: types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0/99")}}}, code: "InvalidParameterValue"},
		{name: "new rule", perm: types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.5.0/24")}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: &gid, IpPermissions: []types.IpPermission{tc.perm}})
			if tc.code != "" {
				msg := sandboxtest.WantCode(t, err, tc.code)
				if tc.code == "InvalidPermission.Duplicate" && !strings.Contains(msg, "from port: 2223, to port: 2225") {
					t.Fatalf("duplicate message %q", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-0123456789abcdef0"), IpPermissions: []types.IpPermission{hsmPorts}})
	sandboxtest.WantCode(t, err, "InvalidGroup.NotFound")
	if _, err := c.AuthorizeSecurityGroupEgress(ctx, &awsec2.AuthorizeSecurityGroupEgressInput{GroupId: &gid, IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}}); err != nil {
		t.Fatal(err)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("group-name"), Values: []string{"hsm"}}}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("describe by name: %v", err)
	}
	g := sgs.SecurityGroups[0]
	if len(g.IpPermissions) != 2 || len(g.IpPermissions[0].UserIdGroupPairs) != 1 || len(g.IpPermissions[0].IpRanges) != 1 ||
		*g.IpPermissions[0].UserIdGroupPairs[0].Description != "client instance" || len(g.IpPermissionsEgress) != 2 {
		t.Fatalf("rules as described: %+v", g)
	}
	if _, err := c.RevokeSecurityGroupIngress(ctx, &awsec2.RevokeSecurityGroupIngressInput{GroupId: &gid, IpPermissions: []types.IpPermission{cases[5].perm}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RevokeSecurityGroupIngress(ctx, &awsec2.RevokeSecurityGroupIngressInput{GroupId: &gid, IpPermissions: []types.IpPermission{cases[5].perm}})
	sandboxtest.WantCode(t, err, "InvalidPermission.NotFound")
}

func TestNetworkInterfacesAndAllocation(t *testing.T) {
	c, svc := newEnv(t)
	ctx := context.Background()
	eni, ip, az, err := svc.AllocateENI(ec2.DefaultSubnetIDs[1], "AWS-CloudHSM-hsm-abc")
	if err != nil {
		t.Fatal(err)
	}
	if ip != "10.0.1.4" || az != "us-east-1b" || !strings.HasPrefix(eni, "eni-") {
		t.Fatalf("allocated %s %s %s", eni, ip, az)
	}
	_, ip2, _, err := svc.AllocateENI(ec2.DefaultSubnetIDs[1], "second")
	if err != nil || ip2 != "10.0.1.5" {
		t.Fatalf("second allocation %s %v", ip2, err)
	}
	if _, _, _, err := svc.AllocateENI("subnet-0123456789abcdef0", "x"); err == nil || !strings.Contains(err.Error(), "InvalidSubnetID.NotFound") {
		t.Fatalf("unknown subnet: %v", err)
	}
	d, err := c.DescribeNetworkInterfaces(ctx, &awsec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	if err != nil || len(d.NetworkInterfaces) != 1 || *d.NetworkInterfaces[0].PrivateIpAddress != "10.0.1.4" || !*d.NetworkInterfaces[0].RequesterManaged {
		t.Fatalf("describe allocated interface: %v %+v", err, d)
	}
	if err := svc.ReleaseENI(eni); err != nil {
		t.Fatal(err)
	}
	if _, ip3, _, err := svc.AllocateENI(ec2.DefaultSubnetIDs[1], "reuse"); err != nil || ip3 != "10.0.1.4" {
		t.Fatalf("released address not reused: %s %v", ip3, err)
	}
	created, err := c.CreateNetworkInterface(ctx, &awsec2.CreateNetworkInterfaceInput{SubnetId: aws.String(ec2.DefaultSubnetIDs[2]), Description: aws.String("wire"), PrivateIpAddress: aws.String("10.0.2.50")})
	if err != nil {
		t.Fatal(err)
	}
	if *created.NetworkInterface.PrivateIpAddress != "10.0.2.50" || *created.NetworkInterface.AvailabilityZone != "us-east-1c" {
		t.Fatalf("created %+v", created.NetworkInterface)
	}
	_, err = c.CreateNetworkInterface(ctx, &awsec2.CreateNetworkInterfaceInput{SubnetId: aws.String(ec2.DefaultSubnetIDs[2]), PrivateIpAddress: aws.String("10.0.2.50")})
	sandboxtest.WantCode(t, err, "InvalidIPAddress.InUse")
	_, err = c.CreateNetworkInterface(ctx, &awsec2.CreateNetworkInterfaceInput{SubnetId: aws.String(ec2.DefaultSubnetIDs[2]), PrivateIpAddress: aws.String("10.0.2.1")})
	sandboxtest.WantCode(t, err, "InvalidParameterValue")
	if _, err := c.DeleteNetworkInterface(ctx, &awsec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: created.NetworkInterface.NetworkInterfaceId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteNetworkInterface(ctx, &awsec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: created.NetworkInterface.NetworkInterfaceId})
	sandboxtest.WantCode(t, err, "InvalidNetworkInterfaceID.NotFound")
}

func TestSubnetExhaustion(t *testing.T) {
	_, svc := newEnv(t)
	for i := 0; i < 251; i++ {
		if _, _, _, err := svc.AllocateENI(ec2.DefaultSubnetIDs[2], "fill"); err != nil {
			t.Fatalf("allocation %d of 251: %v", i+1, err)
		}
	}
	if _, _, _, err := svc.AllocateENI(ec2.DefaultSubnetIDs[2], "one too many"); err == nil || !strings.Contains(err.Error(), "InsufficientFreeAddressesInSubnet") {
		t.Fatalf("a full /24 must refuse the 252nd address: %v", err)
	}
}

func TestGoAPIGroupsAndSubnets(t *testing.T) {
	c, svc := newEnv(t)
	ctx := context.Background()
	gid, err := svc.CreateGroup(ec2.DefaultVPCID, "cloudhsm-cluster-abc-sg", "Security group for CloudHSM cluster")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateGroup(ec2.DefaultVPCID, "cloudhsm-cluster-abc-sg", "again"); err == nil || !strings.Contains(err.Error(), "InvalidGroup.Duplicate") {
		t.Fatalf("duplicate group name: %v", err)
	}
	eni, _, _, err := svc.AllocateENI(ec2.DefaultSubnetIDs[0], "hsm", gid)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteGroup(gid); err == nil || !strings.Contains(err.Error(), "DependencyViolation") {
		t.Fatalf("deleting a group in use: %v", err)
	}
	if err := svc.ReleaseENI(eni); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteGroup(gid); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{GroupIds: []string{gid}})
	sandboxtest.WantCode(t, err, "InvalidGroup.NotFound")
	if err := svc.DeleteGroup(ec2.DefaultSecurityGroupID); err == nil || !strings.Contains(err.Error(), "CannotDelete") {
		t.Fatalf("deleting the default group: %v", err)
	}
	if err := svc.ReleaseENI("eni-0123456789abcdef0"); err == nil || !strings.Contains(err.Error(), "InvalidNetworkInterfaceID.NotFound") {
		t.Fatalf("releasing an unknown interface: %v", err)
	}
	for i, az := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		got, err := svc.SubnetAZ(ec2.DefaultSubnetIDs[i])
		vpc, verr := svc.SubnetVPC(ec2.DefaultSubnetIDs[i])
		if err != nil || verr != nil || got != az || vpc != ec2.DefaultVPCID {
			t.Fatalf("subnet %d: %s %s %v %v", i, got, vpc, err, verr)
		}
	}
	if _, err := svc.SubnetAZ("subnet-0123456789abcdef0"); err == nil || !strings.Contains(err.Error(), "InvalidSubnetID.NotFound") {
		t.Fatalf("unknown subnet: %v", err)
	}
	if !svc.InstanceRunning(ec2.DefaultInstanceID) || svc.InstanceRunning("i-0123456789abcdef0") {
		t.Fatal("InstanceRunning")
	}
}
