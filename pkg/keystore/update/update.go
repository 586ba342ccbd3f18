// Package update is the keystore-update step: it renames a store and gives KMS the kmsuser
// password read from its secret.
package update

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

// UpdateInput changes a store: a new name (CONNECTED or DISCONNECTED), and/or the kmsuser
// password KMS holds, read from the secret (DISCONNECTED only).
type UpdateInput struct {
	CustomKeyStoreID         string `json:"CustomKeyStoreId"`
	NewName                  string `json:"NewName,omitempty"`
	KmsUserPasswordSecretARN string `json:"KmsUserPasswordSecretArn,omitempty"`
}

// Update calls UpdateCustomKeyStore. A rename is done in place, without disconnecting: KMS
// documents that the name can change while the store is CONNECTED, so keys stay usable.
type Update struct {
	KMS     storeapi.StoreUpdater
	Secrets secretvalue.Reader
}

// Handle implements the step.
func (s *Update) Handle(ctx context.Context, in UpdateInput) (keystore.StoreView, error) {
	id := in.CustomKeyStoreID
	v, err := storeapi.DescribeStore(ctx, s.KMS, id)
	if err != nil {
		return v, err
	}
	if !v.Found {
		return v, lambdaerr.Terminal(fmt.Sprintf("update key store %s: it does not exist (deleted outside this stack?)", id), nil)
	}
	req := &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}
	if in.NewName != "" && in.NewName != v.Name {
		req.NewCustomKeyStoreName = aws.String(in.NewName)
	}
	if in.KmsUserPasswordSecretARN != "" {
		pw, err := secretvalue.Read(ctx, s.Secrets, "KmsUserPasswordSecretArn", in.KmsUserPasswordSecretARN)
		if err != nil {
			return v, err
		}
		req.KeyStorePassword = aws.String(pw)
	}
	if req.NewCustomKeyStoreName == nil && req.KeyStorePassword == nil {
		return v, nil
	}
	_, err = s.KMS.UpdateCustomKeyStore(ctx, req)
	var invalid *kmstypes.CustomKeyStoreInvalidStateException
	var nameInUse *kmstypes.CustomKeyStoreNameInUseException
	switch {
	case errors.As(err, &nameInUse):
		return v, lambdaerr.Terminal(fmt.Sprintf("KeyStoreName: %q is already used by another key store in this account and Region; choose another", in.NewName), nil)
	case errors.As(err, &invalid):
		if v.State == string(kmstypes.ConnectionStateTypeConnecting) || v.State == string(kmstypes.ConnectionStateTypeDisconnecting) {
			return v, lambdaerr.Retryable(fmt.Sprintf("update key store %s: it is %s", id, v.State), err)
		}
		return v, lambdaerr.Terminal(fmt.Sprintf("update key store %s: KMS refuses the change while it is %s (a name needs CONNECTED or DISCONNECTED, a password DISCONNECTED)", id, v.State), nil)
	case err != nil:
		return v, fmt.Errorf("update key store %s: %w", id, err)
	}
	return storeapi.DescribeStore(ctx, s.KMS, id)
}
