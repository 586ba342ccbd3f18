// Package storeapi is what the key store steps that call KMS share: their consumer-side ports, with
// the SDK v2 signatures so the real client satisfies them, and DescribeStore. Steps that call no
// KMS API do not import it, so they do not link the KMS client.
package storeapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/keystore"
)

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

var (
	_ StoreCreator   = (*kms.Client)(nil)
	_ StoreConnector = (*kms.Client)(nil)
	_ StoreUpdater   = (*kms.Client)(nil)
	_ StoreDeleter   = (*kms.Client)(nil)
)

// DescribeStore returns the key store's view; Found is false when KMS knows no store with id.
func DescribeStore(ctx context.Context, api StoreDescriber, id string) (keystore.StoreView, error) {
	v := keystore.StoreView{CustomKeyStoreID: id}
	out, err := api.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	var nf *kmstypes.CustomKeyStoreNotFoundException
	if errors.As(err, &nf) {
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("describe key store %s: %w", id, err)
	}
	for _, s := range out.CustomKeyStores {
		if aws.ToString(s.CustomKeyStoreId) != id {
			continue
		}
		v.Found = true
		v.Name, v.ClusterID = aws.ToString(s.CustomKeyStoreName), aws.ToString(s.CloudHsmClusterId)
		v.State = string(s.ConnectionState)
		if s.ConnectionState == kmstypes.ConnectionStateTypeFailed {
			v.ConnectionErrorCode = string(s.ConnectionErrorCode)
			v.Reason = fmt.Sprintf("key store %s failed to connect to cluster %s: %s", id, v.ClusterID, keystore.Explain(v.ConnectionErrorCode))
		}
	}
	return v, nil
}
