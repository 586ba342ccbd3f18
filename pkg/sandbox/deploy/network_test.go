package deploy_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestSecurityGroupRules deploys groups as CDK synthesizes them: one with inline egress rules (so
// EC2's default allow-all egress goes, as CloudFormation removes it), one with CDK's "Disallow all
// traffic" placeholder, and a separate AWS::EC2::SecurityGroupIngress naming a source group. The
// rules are what DescribeSecurityGroups answers, the instance takes its SecurityGroupIds, and the
// instance then reaches an interface of the second group only on the port the rule names.
func TestSecurityGroupRules(t *testing.T) {
	env := sandboxtest.New(t)
	dir := t.TempDir()
	clientID := map[string]any{"Fn::GetAtt": []any{"Client", "GroupId"}}
	writeTemplate(t, dir, "Net", map[string]any{
		"Resources": map[string]any{
			"Client": map[string]any{"Type": "AWS::EC2::SecurityGroup", "Properties": map[string]any{
				"GroupDescription": "client", "VpcId": sbec2.DefaultVPCID,
				"SecurityGroupEgress": []any{
					map[string]any{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": "HTTPS"},
					map[string]any{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 2223, "ToPort": 2225},
				}}},
			"Server": map[string]any{"Type": "AWS::EC2::SecurityGroup", "Properties": map[string]any{
				"GroupDescription": "server", "VpcId": sbec2.DefaultVPCID,
				"SecurityGroupEgress": []any{map[string]any{"CidrIp": "255.255.255.255/32", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "Description": "Disallow all traffic"}}}},
			"ServerFromClient": map[string]any{"Type": "AWS::EC2::SecurityGroupIngress", "Properties": map[string]any{
				"GroupId": map[string]any{"Fn::GetAtt": []any{"Server", "GroupId"}}, "IpProtocol": "tcp", "FromPort": 2223, "ToPort": 2223,
				"SourceSecurityGroupId": clientID}},
			"Instance": map[string]any{"Type": "AWS::EC2::Instance", "Properties": map[string]any{"SecurityGroupIds": []any{clientID}}},
		},
	})
	d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
	ctx := sandboxtest.Context(t, 30*time.Second)
	st, err := d.Deploy(ctx, "Net")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NotEmulated) != 0 {
		t.Errorf("not emulated: %v", st.NotEmulated)
	}
	id := func(logical string) string {
		v, err := st.Resolve(map[string]any{"Fn::GetAtt": []any{logical, "GroupId"}})
		if err != nil {
			t.Fatal(err)
		}
		return v.(string)
	}
	client, server := id("Client"), id("Server")
	out, err := ec2.NewFromConfig(env.NoRetryConfig()).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{client, server}})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]types.SecurityGroup{}
	for _, g := range out.SecurityGroups {
		rules[aws.ToString(g.GroupId)] = g
	}
	c, s := rules[client], rules[server]
	if len(c.IpPermissionsEgress) != 2 || aws.ToInt32(c.IpPermissionsEgress[0].FromPort) != 443 || len(c.IpPermissions) != 0 {
		t.Errorf("client group: egress %+v, ingress %+v; want the two template rules only", c.IpPermissionsEgress, c.IpPermissions)
	}
	if len(s.IpPermissionsEgress) != 1 || aws.ToString(s.IpPermissionsEgress[0].IpProtocol) != "icmp" ||
		len(s.IpPermissions) != 1 || aws.ToString(s.IpPermissions[0].UserIdGroupPairs[0].GroupId) != client {
		t.Errorf("server group: egress %+v, ingress %+v; want CDK's placeholder out and the client's rule in", s.IpPermissionsEgress, s.IpPermissions)
	}
	_, ip, _, err := env.EC2.AllocateENI(sbec2.DefaultSubnetIDs[1], "server", server)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.EC2.Connect(sbec2.DefaultInstanceID, ip, 2223); err != nil {
		t.Errorf("the instance, in the client group, to the server's 2223: %v", err)
	}
	if err := env.EC2.Connect(sbec2.DefaultInstanceID, ip, 2224); !sbec2.IsRejected(err) {
		t.Errorf("to 2224, which no ingress rule names: %v; want rejected", err)
	}
}
