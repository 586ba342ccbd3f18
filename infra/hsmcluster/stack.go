package hsmcluster

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/nagsuppress"
)

// ClientInstallScript installs cloudhsm-cli (Client SDK 5) on the Amazon Linux 2023 client
// instance; the activation document configures it per cluster.
const ClientInstallScript = `dnf install -y https://s3.amazonaws.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/cloudhsm-cli-latest.amzn2023.x86_64.rpm`

// StackProps configure the cluster stack.
type StackProps struct {
	awscdk.StackProps
	// BuildDir holds prebuilt build/<lambda>/bootstrap files; empty bundles from sources.
	BuildDir string
	// HsmCount is the cluster's HSM count (default 2, one per zone).
	HsmCount int
	// Zones is how many Availability Zones the VPC spans (default 2, at least 2).
	Zones int
	// AlarmTopic receives the cluster's alarms (see Props.AlarmTopic); the app passes the alerts
	// stack's topic.
	AlarmTopic awssns.ITopic
}

// ClusterStack is a VPC, an SSM-managed client instance with cloudhsm-cli, and the cluster.
type ClusterStack struct {
	awscdk.Stack
	Vpc      awsec2.Vpc
	Instance awsec2.Instance
	Cluster  *CloudHsmCluster
}

// NewClusterStack declares the stack.
func NewClusterStack(scope constructs.Construct, id string, p *StackProps) (*ClusterStack, error) {
	if p.Zones == 0 {
		p.Zones = 2
	}
	if p.Zones < 2 {
		return nil, fmt.Errorf("cluster stack %s: Zones must be at least 2 (HSMs go to distinct zones), got %d", id, p.Zones)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	// A reference to another stack (the alarm topic) is an export and import: strong, so that
	// stack cannot drop what this one still uses, and understood by every CloudFormation tool.
	stack.Node().SetContext(jsii.String("@aws-cdk/core:defaultCrossStackReferences"), "strong")
	s := &ClusterStack{Stack: stack}
	s.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(float64(p.Zones)),
		NatGateways: jsii.Number(1),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("Hsm"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(24)},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {TrafficType: awsec2.FlowLogTrafficType_REJECT},
		},
	})
	private := s.Vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}).Subnets

	role := awsiam.NewRole(stack, jsii.String("ClientRole"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description:     jsii.String("CloudHSM client instance: SSM-managed; reads the cluster's admin password and CA certificate secrets"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore"))},
	})
	nagsuppress.Add(role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM4",
		AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"},
		Reason:    "AmazonSSMManagedInstanceCore is AWS's minimal policy for the SSM agent that runs the activation document."})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("ClientSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: s.Vpc, Description: jsii.String("CloudHSM client instance: outbound to the HSMs (2223-2225) and HTTPS to AWS APIs"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to SSM, Secrets Manager and the client package"), nil)
	sg.AddEgressRule(awsec2.Peer_Ipv4(s.Vpc.VpcCidrBlock()), awsec2.Port_TcpRange(jsii.Number(2223), jsii.Number(2225)), jsii.String("cloudhsm-cli to the HSMs"), nil)
	userData := awsec2.UserData_ForLinux(nil)
	userData.AddCommands(jsii.String(ClientInstallScript))
	s.Instance = awsec2.NewInstance(stack, jsii.String("Client"), &awsec2.InstanceProps{
		Vpc:                s.Vpc,
		VpcSubnets:         &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		InstanceType:       awsec2.NewInstanceType(jsii.String("t3.micro")),
		MachineImage:       awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{}),
		Role:               role,
		SecurityGroup:      sg,
		UserData:           userData,
		RequireImdsv2:      jsii.Bool(true),
		DetailedMonitoring: jsii.Bool(true),
		BlockDevices:       &[]*awsec2.BlockDevice{{DeviceName: jsii.String("/dev/xvda"), Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(8), &awsec2.EbsDeviceOptions{Encrypted: jsii.Bool(true)})}},
	})
	nagsuppress.Add(s.Instance, true, nagsuppress.Rule{ID: "AwsSolutions-EC29",
		Reason: "the client instance holds no state: it is replaceable, so termination protection would only block stack deletion."})

	c, err := New(stack, "Cluster", Props{
		BuildDir: p.BuildDir, Vpc: s.Vpc, Subnets: *private, HsmCount: p.HsmCount, ClientInstance: s.Instance,
		AlarmTopic: p.AlarmTopic,
	})
	if err != nil {
		return nil, err
	}
	s.Cluster = c
	// The instance reads the secrets the workflow creates, by their names under the cluster's prefix.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(
			fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s/admin-password-??????", *stack.Partition(), *stack.Region(), *stack.Account(), c.SecretPrefix),
			fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s/customer-ca/certificate-??????", *stack.Partition(), *stack.Region(), *stack.Account(), c.SecretPrefix),
		),
	}))
	c.SecretsKey.GrantDecrypt(role)
	// Let the client reach the HSMs: an ingress rule on the security group CloudHSM created.
	awsec2.NewCfnSecurityGroupIngress(stack, jsii.String("HsmIngressFromClient"), &awsec2.CfnSecurityGroupIngressProps{
		GroupId: c.Resource.GetAttString(jsii.String("SecurityGroupId")), IpProtocol: jsii.String("tcp"),
		FromPort: jsii.Number(2223), ToPort: jsii.Number(2225), SourceSecurityGroupId: sg.SecurityGroupId(),
		Description: jsii.String("cloudhsm-cli on the Strongroom client instance"),
	})

	awscdk.NewCfnOutput(stack, jsii.String("ClusterId"), &awscdk.CfnOutputProps{Value: c.Resource.GetAttString(jsii.String("ClusterId"))})
	awscdk.NewCfnOutput(stack, jsii.String("ClusterSecurityGroupId"), &awscdk.CfnOutputProps{Value: c.Resource.GetAttString(jsii.String("SecurityGroupId"))})
	awscdk.NewCfnOutput(stack, jsii.String("HsmIps"), &awscdk.CfnOutputProps{Value: c.Resource.GetAttString(jsii.String("HsmIps"))})
	awscdk.NewCfnOutput(stack, jsii.String("CustomerCaCertificateSecretArn"), &awscdk.CfnOutputProps{Value: c.Resource.GetAttString(jsii.String("CustomerCaCertificateSecretArn"))})
	awscdk.NewCfnOutput(stack, jsii.String("AdminPasswordSecretArn"), &awscdk.CfnOutputProps{Value: c.Resource.GetAttString(jsii.String("AdminPasswordSecretArn"))})
	awscdk.NewCfnOutput(stack, jsii.String("ClientInstanceId"), &awscdk.CfnOutputProps{Value: s.Instance.InstanceId()})
	awscdk.NewCfnOutput(stack, jsii.String("WorkflowExecutionArn"), &awscdk.CfnOutputProps{
		Value:       c.Resource.GetAttString(jsii.String("WorkflowExecutionArn")),
		Description: jsii.String("The Step Functions execution of the last Create or Update of the cluster"),
	})

	return s, nil
}
