// Package create is the keystore-create step: it creates the KMS custom key store (or finds an
// earlier attempt's), reading the trust anchor and kmsuser password from Secrets Manager itself.
package create

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/keystore/secretvalue"
	"github.com/strongroom/strongroom/pkg/keystore/storeapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// CreateInput names the store to create. The trust anchor and password travel as secret ARNs.
type CreateInput struct {
	KeyStoreName                   string `json:"KeyStoreName"`
	ClusterID                      string `json:"ClusterId"`
	CustomerCaCertificateSecretARN string `json:"CustomerCaCertificateSecretArn"`
	KmsUserPasswordSecretARN       string `json:"KmsUserPasswordSecretArn"`
}

// Create creates the key store, or finds the one an earlier attempt created: a store of this
// name on this cluster is ours (names are unique per account and Region).
type Create struct {
	KMS     storeapi.StoreCreator
	Secrets secretvalue.Reader
}

// Handle implements the step.
func (s *Create) Handle(ctx context.Context, in CreateInput) (keystore.StoreRef, error) {
	out, err := s.KMS.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String(in.KeyStoreName)})
	var nf *kmstypes.CustomKeyStoreNotFoundException
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return keystore.StoreRef{}, fmt.Errorf("look for key store %q: %w", in.KeyStoreName, err)
	default:
		for _, ks := range out.CustomKeyStores {
			if aws.ToString(ks.CustomKeyStoreName) != in.KeyStoreName {
				continue
			}
			if c := aws.ToString(ks.CloudHsmClusterId); c != in.ClusterID {
				return keystore.StoreRef{}, lambdaerr.Terminal(fmt.Sprintf("KeyStoreName: a key store named %q already exists (%s, on cluster %s); names are unique per account and Region: choose another", in.KeyStoreName, aws.ToString(ks.CustomKeyStoreId), c), nil)
			}
			return keystore.StoreRef{CustomKeyStoreID: aws.ToString(ks.CustomKeyStoreId)}, nil
		}
	}
	anchor, err := secretvalue.Read(ctx, s.Secrets, "CustomerCaCertificateSecretArn", in.CustomerCaCertificateSecretARN)
	if err != nil {
		return keystore.StoreRef{}, err
	}
	password, err := secretvalue.Read(ctx, s.Secrets, "KmsUserPasswordSecretArn", in.KmsUserPasswordSecretARN)
	if err != nil {
		return keystore.StoreRef{}, err
	}
	created, err := s.KMS.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String(in.KeyStoreName), CloudHsmClusterId: aws.String(in.ClusterID),
		TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(password),
		CustomKeyStoreType: kmstypes.CustomKeyStoreTypeAwsCloudhsm,
	})
	if err != nil {
		return keystore.StoreRef{}, createError(in, err)
	}
	return keystore.StoreRef{CustomKeyStoreID: aws.ToString(created.CustomKeyStoreId)}, nil
}

// createError turns KMS's refusals into reasons naming the property and the fix. The SDK's
// error carries no request parameters, so neither the password nor the anchor is in it.
func createError(in CreateInput, err error) error {
	var (
		badConfig *kmstypes.CloudHsmClusterInvalidConfigurationException
		inUse     *kmstypes.CloudHsmClusterInUseException
		anchor    *kmstypes.IncorrectTrustAnchorException
		notActive *kmstypes.CloudHsmClusterNotActiveException
		notFound  *kmstypes.CloudHsmClusterNotFoundException
		nameInUse *kmstypes.CustomKeyStoreNameInUseException
		limit     *kmstypes.LimitExceededException
	)
	c := in.ClusterID
	switch {
	case errors.As(err, &badConfig):
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: KMS refused cluster %s for a key store: %s. If KMS refuses the cluster's HSM type (AWS has warned that key stores did not support hsm2m.medium clusters), check KMS's support for that type in this Region; otherwise give the cluster two ACTIVE HSMs in different Availability Zones and private subnets in two or more zones", c, badConfig.ErrorMessage()), nil)
	case errors.As(err, &inUse):
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s (or one sharing its backup history) already backs another key store: %s; each cluster serves one key store", c, inUse.ErrorMessage()), nil)
	case errors.As(err, &anchor):
		return lambdaerr.Terminal(fmt.Sprintf("CustomerCaCertificateSecretArn: the certificate in %s is not the trust anchor cluster %s was initialized with; point it at that cluster's customer CA certificate", in.CustomerCaCertificateSecretARN, c), nil)
	case errors.As(err, &notActive):
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s is not ACTIVE: %s", c, notActive.ErrorMessage()), nil)
	case errors.As(err, &notFound):
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: KMS cannot find cluster %s: %s", c, notFound.ErrorMessage()), nil)
	case errors.As(err, &nameInUse):
		return lambdaerr.Terminal(fmt.Sprintf("KeyStoreName: %q is already used by another key store in this account and Region; choose another", in.KeyStoreName), nil)
	case errors.As(err, &limit):
		return lambdaerr.Terminal("the account already has 10 custom key stores in this Region, KMS's fixed limit; delete one first", nil)
	}
	return fmt.Errorf("create key store %q on cluster %s: %w", in.KeyStoreName, c, err)
}
