package keystore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The consumer-side ports, with the SDK v2 signatures so the real clients satisfy them.

// ClusterDescriber reads clusters.
type ClusterDescriber interface {
	DescribeClusters(ctx context.Context, params *cloudhsmv2.DescribeClustersInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DescribeClustersOutput, error)
}

// StoreDescriber reads key stores.
type StoreDescriber interface {
	DescribeCustomKeyStores(ctx context.Context, params *kms.DescribeCustomKeyStoresInput, optFns ...func(*kms.Options)) (*kms.DescribeCustomKeyStoresOutput, error)
}

// StoreCreator creates key stores (and finds an earlier attempt's).
type StoreCreator interface {
	StoreDescriber
	CreateCustomKeyStore(ctx context.Context, params *kms.CreateCustomKeyStoreInput, optFns ...func(*kms.Options)) (*kms.CreateCustomKeyStoreOutput, error)
}

// StoreConnector connects and disconnects key stores.
type StoreConnector interface {
	StoreDescriber
	ConnectCustomKeyStore(ctx context.Context, params *kms.ConnectCustomKeyStoreInput, optFns ...func(*kms.Options)) (*kms.ConnectCustomKeyStoreOutput, error)
	DisconnectCustomKeyStore(ctx context.Context, params *kms.DisconnectCustomKeyStoreInput, optFns ...func(*kms.Options)) (*kms.DisconnectCustomKeyStoreOutput, error)
}

// StoreUpdater renames a store or tells KMS a new kmsuser password.
type StoreUpdater interface {
	StoreDescriber
	UpdateCustomKeyStore(ctx context.Context, params *kms.UpdateCustomKeyStoreInput, optFns ...func(*kms.Options)) (*kms.UpdateCustomKeyStoreOutput, error)
}

// StoreDeleter deletes key stores.
type StoreDeleter interface {
	DeleteCustomKeyStore(ctx context.Context, params *kms.DeleteCustomKeyStoreInput, optFns ...func(*kms.Options)) (*kms.DeleteCustomKeyStoreOutput, error)
}

// SecretReader reads the values a step hands to KMS (the trust anchor, the kmsuser password).
type SecretReader interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// PasswordRotator writes a new kmsuser password version.
type PasswordRotator interface {
	GetRandomPassword(ctx context.Context, params *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
	PutSecretValue(ctx context.Context, params *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// SecretDeleter schedules the kmsuser password secret for deletion.
type SecretDeleter interface {
	DeleteSecret(ctx context.Context, params *secretsmanager.DeleteSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

var (
	_ ClusterDescriber = (*cloudhsmv2.Client)(nil)
	_ StoreCreator     = (*kms.Client)(nil)
	_ StoreConnector   = (*kms.Client)(nil)
	_ StoreUpdater     = (*kms.Client)(nil)
	_ StoreDeleter     = (*kms.Client)(nil)
	_ SecretReader     = (*secretsmanager.Client)(nil)
	_ PasswordRotator  = (*secretsmanager.Client)(nil)
	_ SecretDeleter    = (*secretsmanager.Client)(nil)
)
