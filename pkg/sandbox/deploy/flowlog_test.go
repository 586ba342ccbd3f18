package deploy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestFlowLog deploys an AWS::EC2::FlowLog as CDK's Vpc.addFlowLog synthesizes it under IAM
// enforcement: CreateFlowLogs on the sandbox VPC, Ref the flow log's id, and the flow log
// delivers the client instance's connections to its group with its role.
func TestFlowLog(t *testing.T) {
	ctx := sandboxtest.Context(t, time.Minute)
	judge, err := iamjudge.Start(ctx, iamjudge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = judge.Close() })
	env := sandboxtest.New(t)
	env.EnforceIAM(judge)
	dir := t.TempDir()
	writeTemplate(t, dir, "Net", map[string]any{
		"Resources": map[string]any{
			"Vpc":      map[string]any{"Type": "AWS::EC2::VPC", "Properties": map[string]any{"CidrBlock": "10.0.0.0/16"}},
			"LogGroup": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{"RetentionInDays": 90}},
			"Role": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"AssumeRolePolicyDocument": map[string]any{
				"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}}}}},
			"RolePolicy": map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{"PolicyName": "flow", "Roles": []any{map[string]any{"Ref": "Role"}},
				"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow",
					"Action": []any{"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}, "Resource": map[string]any{"Fn::GetAtt": []any{"LogGroup", "Arn"}}}}}}},
			"FlowLog": map[string]any{"Type": "AWS::EC2::FlowLog", "Properties": map[string]any{
				"DeliverLogsPermissionArn": map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}}, "LogDestinationType": "cloud-watch-logs",
				"LogGroupName": map[string]any{"Ref": "LogGroup"}, "ResourceId": map[string]any{"Ref": "Vpc"}, "ResourceType": "VPC", "TrafficType": "ALL",
				"Tags": []any{map[string]any{"Key": "Name", "Value": "Net/Vpc/FlowLog"}}}},
		},
	})
	d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
	st, err := d.Deploy(ctx, "Net")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NotEmulated) != 0 {
		t.Errorf("not emulated: %v", st.NotEmulated)
	}
	id := st.Physical("FlowLog")
	out, err := awsec2.NewFromConfig(env.NoRetryConfig()).DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{FlowLogIds: []string{id}})
	if err != nil || len(out.FlowLogs) != 1 {
		t.Fatalf("DescribeFlowLogs %s: %v %+v", id, err, out)
	}
	group := st.Physical("LogGroup")
	if f := out.FlowLogs[0]; aws.ToString(f.ResourceId) != ec2.DefaultVPCID || aws.ToString(f.LogGroupName) != group ||
		aws.ToString(f.DeliverLogsPermissionArn) != st.Attr("Role", "Arn") || len(f.Tags) != 1 {
		t.Fatalf("the flow log: %+v", f)
	}
	// The instance reaches the default group's members (the default group lets itself in).
	hsmENI, hsmIP, _, err := env.EC2.AllocateENI(ec2.DefaultSubnetIDs[1], "peer", ec2.DefaultSecurityGroupID)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.EC2.Connect(ec2.DefaultInstanceID, hsmIP, 2223); err != nil {
		t.Fatal(err)
	}
	msgs := env.Logs.Messages(group)
	if len(msgs) != 4 || !strings.Contains(strings.Join(msgs, "\n"), hsmENI) {
		t.Fatalf("records in %s: %v", group, msgs)
	}
	out, err = awsec2.NewFromConfig(env.NoRetryConfig()).DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{FlowLogIds: []string{id}})
	if err != nil || aws.ToString(out.FlowLogs[0].DeliverLogsStatus) != "SUCCESS" {
		t.Fatalf("after delivery: %v %+v", err, out)
	}
}
