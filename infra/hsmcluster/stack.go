package hsmcluster

import (
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/nagsuppress"
	"github.com/strongroom/strongroom/infra/settings"
)

// The cloudhsm-cli package the client instance installs: AWS CloudHSM Client SDK 5 for Amazon
// Linux 2023 on x86_64 (the instance is a t3.micro on AL2023). Both come from AWS's "AWS CloudHSM
// previous Client SDK releases" page (CloudHSM User Guide, client-version-previous.html), section
// Version 5.17.0, Amazon Linux 2023, x86_64, "CloudHSM CLI". To move to another release, change
// both together, or set the strongroom:cloudHsmCliVersion and strongroom:cloudHsmCliSha256
// context values (StackProps.CloudHsmCliVersion and CloudHsmCliSha256).
const (
	DefaultCloudHsmCliVersion = "5.17.0"
	DefaultCloudHsmCliSha256  = "0a9de06b3f15d38f3aa02dd0288d3a9ad41f525f692f539664168b9e6b95e18d"
)

// ClientPackageURL is where AWS publishes the cloudhsm-cli rpm of a Client SDK 5 version for
// Amazon Linux 2023 on x86_64.
func ClientPackageURL(version string) string {
	return "https://s3.amazonaws.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/cloudhsm-cli-" + version + "-1.amzn2023.x86_64.rpm"
}

// CheckClientPackage accepts a cloudhsm-cli version and checksum pair that ClientInstallScript can
// use: both empty (the pinned defaults), or a Client SDK 5 version (5.N.N) with the 64 lowercase
// hex digits of its package's SHA256 checksum. One without the other is refused: a new version
// needs its own checksum.
func CheckClientPackage(version, sha256 string) error {
	if version == "" && sha256 == "" {
		return nil
	}
	if version == "" || sha256 == "" {
		return fmt.Errorf("CloudHsmCliVersion %q and CloudHsmCliSha256 %q: set both (each version has its own checksum, listed on AWS's Client SDK release pages), or neither for %s", version, sha256, DefaultCloudHsmCliVersion)
	}
	if !settings.IsCloudHsmCliVersion(version) {
		return fmt.Errorf("CloudHsmCliVersion %q is not a Client SDK 5 version; use one such as %s", version, DefaultCloudHsmCliVersion)
	}
	if !settings.IsSHA256(sha256) {
		return fmt.Errorf("CloudHsmCliSha256 %q is not a SHA256 checksum; use the 64 lowercase hex digits AWS lists for the CloudHSM CLI rpm of %s (Amazon Linux 2023, x86_64)", sha256, version)
	}
	return nil
}

// ClientInstallScript is the client instance's bash user data that installs cloudhsm-cli version
// (Client SDK 5) on Amazon Linux 2023; the activation document configures it per cluster. It
// downloads the rpm to a temporary directory, checks its SHA256 checksum against sha256 before
// anything is installed (a mismatch exits 1 naming the expected checksum), installs the checked
// file with dnf, and removes it. Any failing command fails the script. version and sha256 must pass
// CheckClientPackage.
func ClientInstallScript(version, sha256 string) string {
	url := ClientPackageURL(version)
	return strings.NewReplacer("{version}", version, "{sha256}", sha256, "{url}", url, "{file}", path.Base(url)).Replace(clientInstallTemplate)
}

// clientInstallTemplate is ClientInstallScript before {version}, {sha256}, {url} and {file} (the
// rpm's name: dnf installs a local file only when its name ends in .rpm) are filled in.
const clientInstallTemplate = `set -euo pipefail
cloudhsm_cli_dir="$(mktemp -d)"
trap 'rm -rf "$cloudhsm_cli_dir"' EXIT
cloudhsm_cli_rpm="$cloudhsm_cli_dir/{file}"
curl -fsSL --retry 5 --retry-delay 5 --retry-connrefused -o "$cloudhsm_cli_rpm" '{url}'
if ! printf '%s  %s\n' '{sha256}' "$cloudhsm_cli_rpm" | sha256sum --check --status -; then
  echo "cloudhsm-cli {version}: checksum mismatch: {url} does not have the expected SHA256 checksum {sha256} (the download has $(sha256sum < "$cloudhsm_cli_rpm" | cut -d' ' -f1)); not installing it" >&2
  exit 1
fi
dnf install -y "$cloudhsm_cli_rpm"
rm -rf "$cloudhsm_cli_dir"
trap - EXIT`

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
	// CloudHsmCliVersion and CloudHsmCliSha256 pin the cloudhsm-cli package the client instance
	// installs: a Client SDK 5 version (5.N.N) and the SHA256 checksum AWS lists for its Amazon
	// Linux 2023 x86_64 rpm. Set both or neither (DefaultCloudHsmCliVersion and its checksum).
	CloudHsmCliVersion string
	CloudHsmCliSha256  string
	// AlertRelay receives the cluster's failed workflow executions (see Props.AlertRelay); the app
	// passes the alerts stack's relay.
	AlertRelay awslambda.IFunction
	// Properties are further Custom::CloudHsmCluster properties (Props.ExtraProperties), the app's
	// validated context (infra/settings, ClusterProperties). NetworkType DUALSTACK gives the VPC
	// and its subnets IPv6 CIDRs too, which CloudHSM requires of a dual-stack cluster's subnets.
	Properties map[string]any
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
	if err := CheckClientPackage(p.CloudHsmCliVersion, p.CloudHsmCliSha256); err != nil {
		return nil, fmt.Errorf("cluster stack %s: %w", id, err)
	}
	cliVersion, cliSha256 := DefaultCloudHsmCliVersion, DefaultCloudHsmCliSha256
	if p.CloudHsmCliVersion != "" {
		cliVersion, cliSha256 = p.CloudHsmCliVersion, p.CloudHsmCliSha256
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	// A reference to another stack (the alarm topic) is an export and import: strong, so that
	// stack cannot drop what this one still uses, and understood by every CloudFormation tool.
	stack.Node().SetContext(jsii.String("@aws-cdk/core:defaultCrossStackReferences"), "strong")
	s := &ClusterStack{Stack: stack}
	ipProtocol := awsec2.IpProtocol_IPV4_ONLY
	if p.Properties["NetworkType"] == "DUALSTACK" {
		ipProtocol = awsec2.IpProtocol_DUAL_STACK
	}
	s.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpProtocol:  ipProtocol,
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
	userData.AddCommands(jsii.String(ClientInstallScript(cliVersion, cliSha256)))
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
		AlarmTopic: p.AlarmTopic, AlertRelay: p.AlertRelay, ExtraProperties: p.Properties,
	})
	if err != nil {
		return nil, err
	}
	s.Cluster = c
	// The instance reads the secrets the workflow creates, by their names under the cluster's
	// prefix (resourcedef.Cluster's Instance grants).
	statements, err := c.InstanceStatements()
	if err != nil {
		return nil, err
	}
	for _, st := range statements {
		role.AddToPolicy(st)
	}
	// The client reaches the HSMs through a rule the workflow adds to the security group CloudHSM
	// made (pkg/hsmcluster/ingress): a template rule on the resource's SecurityGroupId would come
	// after the resource, and so after the activation that needs it.

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
