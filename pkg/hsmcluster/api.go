package hsmcluster

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The consumer-side ports, one per capability, with the SDK v2 signatures so the real clients
// satisfy them.

// ClusterDescriber reads clusters.
type ClusterDescriber interface {
	DescribeClusters(ctx context.Context, params *cloudhsmv2.DescribeClustersInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DescribeClustersOutput, error)
}

// ClusterCreator creates clusters (and finds earlier attempts).
type ClusterCreator interface {
	ClusterDescriber
	CreateCluster(ctx context.Context, params *cloudhsmv2.CreateClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.CreateClusterOutput, error)
}

// HsmManager adds and removes HSMs.
type HsmManager interface {
	ClusterDescriber
	CreateHsm(ctx context.Context, params *cloudhsmv2.CreateHsmInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.CreateHsmOutput, error)
	DeleteHsm(ctx context.Context, params *cloudhsmv2.DeleteHsmInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DeleteHsmOutput, error)
}

// ClusterInitializer initializes clusters.
type ClusterInitializer interface {
	ClusterDescriber
	InitializeCluster(ctx context.Context, params *cloudhsmv2.InitializeClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.InitializeClusterOutput, error)
}

// ClusterDeleter deletes clusters.
type ClusterDeleter interface {
	ClusterDescriber
	DeleteCluster(ctx context.Context, params *cloudhsmv2.DeleteClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DeleteClusterOutput, error)
}

// NetworkDescriber checks subnets and the client instance.
type NetworkDescriber interface {
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// PasswordStore creates the admin password secret.
type PasswordStore interface {
	GetRandomPassword(ctx context.Context, params *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
	CreateSecret(ctx context.Context, params *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// CommandRunner runs SSM documents on the client instance.
type CommandRunner interface {
	SendCommand(ctx context.Context, params *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, params *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
}

var (
	_ ClusterCreator     = (*cloudhsmv2.Client)(nil)
	_ HsmManager         = (*cloudhsmv2.Client)(nil)
	_ ClusterInitializer = (*cloudhsmv2.Client)(nil)
	_ ClusterDeleter     = (*cloudhsmv2.Client)(nil)
	_ NetworkDescriber   = (*ec2.Client)(nil)
	_ PasswordStore      = (*secretsmanager.Client)(nil)
	_ CommandRunner      = (*ssm.Client)(nil)
)
