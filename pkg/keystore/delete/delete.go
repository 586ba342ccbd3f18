// Package delete is the keystore-delete step: it deletes a disconnected store when asked to
// and it holds no KMS keys, and the kmsuser password secret with it.
package delete

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/pkg/keystore/storeapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// DeleteInput asks to delete a DISCONNECTED store when Delete is true. An empty CustomKeyStoreId
// deletes only the password secret (a create that failed before it made a store).
type DeleteInput struct {
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
	Delete           bool   `json:"Delete"`
	// Note, when set, is why the store is kept (instead of the DeleteKeyStoreOnStackDeletion reason).
	Note string `json:"Note,omitempty"`
	// KmsUserPasswordSecretName is deleted with the store. Without a recovery window: the value is
	// worthless once kmsuser is gone (KMS replaced it at its last connect anyway), and a secret
	// pending deletion would block a new stack of the same name from creating it again.
	KmsUserPasswordSecretName string `json:"KmsUserPasswordSecretName,omitempty"`
}

// DeleteOutput says what happened, for the answer's Reason.
type DeleteOutput struct {
	Deleted bool   `json:"Deleted"`
	Reason  string `json:"Reason"`
}

// SecretDeleter schedules the kmsuser password secret for deletion.
type SecretDeleter interface {
	DeleteSecret(ctx context.Context, params *secretsmanager.DeleteSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

var _ SecretDeleter = (*secretsmanager.Client)(nil)

// Delete deletes the store only when asked and when it holds no KMS keys (KMS refuses with
// CustomKeyStoreHasCMKsException, the authority on that); otherwise it is left disconnected.
type Delete struct {
	KMS     storeapi.StoreDeleter
	Secrets SecretDeleter
}

// Handle implements the step.
func (s *Delete) Handle(ctx context.Context, in DeleteInput) (DeleteOutput, error) {
	id := in.CustomKeyStoreID
	if !in.Delete && in.Note != "" {
		return DeleteOutput{Reason: fmt.Sprintf("key store %s was disconnected and kept: %s", id, in.Note)}, nil
	}
	if !in.Delete {
		return DeleteOutput{Reason: fmt.Sprintf("key store %s was disconnected and kept, with kmsuser, because DeleteKeyStoreOnStackDeletion is false; its KMS keys are Unavailable until it is connected again", id)}, nil
	}
	var err error
	if id != "" { // no id: a failed create that made no store removes its password secret only
		_, err = s.KMS.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	}
	var hasKeys *kmstypes.CustomKeyStoreHasCMKsException
	var invalid *kmstypes.CustomKeyStoreInvalidStateException
	var nf *kmstypes.CustomKeyStoreNotFoundException
	switch {
	case errors.As(err, &hasKeys):
		return DeleteOutput{Reason: fmt.Sprintf("key store %s was disconnected and kept, with kmsuser, because it still holds KMS keys; schedule their deletion (ScheduleKeyDeletion), wait until they are deleted, then delete the store", id)}, nil
	case errors.As(err, &invalid):
		return DeleteOutput{}, lambdaerr.Retryable(fmt.Sprintf("delete key store %s: not DISCONNECTED yet", id), err)
	case errors.As(err, &nf):
	case err != nil:
		return DeleteOutput{}, fmt.Errorf("delete key store %s: %w", id, err)
	}
	if in.KmsUserPasswordSecretName != "" {
		_, err := s.Secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(in.KmsUserPasswordSecretName), ForceDeleteWithoutRecovery: aws.Bool(true)})
		var snf *smtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &snf) {
			return DeleteOutput{}, fmt.Errorf("delete secret %s: %w", in.KmsUserPasswordSecretName, err)
		}
	}
	return DeleteOutput{Deleted: true, Reason: fmt.Sprintf("key store %s was deleted", id)}, nil
}
