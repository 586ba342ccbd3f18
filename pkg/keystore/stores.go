package keystore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// StoreRef names a key store in a payload.
type StoreRef struct {
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
}

// StoreView is DescribeCustomKeyStores reduced to what the state machines' Choice states test.
type StoreView struct {
	CustomKeyStoreID    string `json:"CustomKeyStoreId"`
	Found               bool   `json:"Found"`
	Name                string `json:"Name,omitempty"`
	ClusterID           string `json:"ClusterId,omitempty"`
	State               string `json:"State"`
	ConnectionErrorCode string `json:"ConnectionErrorCode,omitempty"`
	// Reason is set when State is FAILED: the code, its meaning and the fix (Explain).
	Reason string `json:"Reason,omitempty"`
}

func describeStore(ctx context.Context, api StoreDescriber, id string) (StoreView, error) {
	v := StoreView{CustomKeyStoreID: id}
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
			v.Reason = fmt.Sprintf("key store %s failed to connect to cluster %s: %s", id, v.ClusterID, Explain(v.ConnectionErrorCode))
		}
	}
	return v, nil
}

// Describe is the polling step between Waits.
type Describe struct {
	KMS StoreDescriber
}

// Handle implements the step; a store that does not exist is Found=false, not an error.
func (s *Describe) Handle(ctx context.Context, in StoreRef) (StoreView, error) {
	if in.CustomKeyStoreID == "" {
		return StoreView{}, lambdaerr.Terminal("describe key store: CustomKeyStoreId is empty in the workflow payload", nil)
	}
	return describeStore(ctx, s.KMS, in.CustomKeyStoreID)
}

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
	KMS     StoreCreator
	Secrets SecretReader
}

// Handle implements the step.
func (s *Create) Handle(ctx context.Context, in CreateInput) (StoreRef, error) {
	out, err := s.KMS.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String(in.KeyStoreName)})
	var nf *kmstypes.CustomKeyStoreNotFoundException
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return StoreRef{}, fmt.Errorf("look for key store %q: %w", in.KeyStoreName, err)
	default:
		for _, ks := range out.CustomKeyStores {
			if aws.ToString(ks.CustomKeyStoreName) != in.KeyStoreName {
				continue
			}
			if c := aws.ToString(ks.CloudHsmClusterId); c != in.ClusterID {
				return StoreRef{}, lambdaerr.Terminal(fmt.Sprintf("KeyStoreName: a key store named %q already exists (%s, on cluster %s); names are unique per account and Region: choose another", in.KeyStoreName, aws.ToString(ks.CustomKeyStoreId), c), nil)
			}
			return StoreRef{CustomKeyStoreID: aws.ToString(ks.CustomKeyStoreId)}, nil
		}
	}
	anchor, err := s.secret(ctx, "CustomerCaCertificateSecretArn", in.CustomerCaCertificateSecretARN)
	if err != nil {
		return StoreRef{}, err
	}
	password, err := s.secret(ctx, "KmsUserPasswordSecretArn", in.KmsUserPasswordSecretARN)
	if err != nil {
		return StoreRef{}, err
	}
	created, err := s.KMS.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String(in.KeyStoreName), CloudHsmClusterId: aws.String(in.ClusterID),
		TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(password),
		CustomKeyStoreType: kmstypes.CustomKeyStoreTypeAwsCloudhsm,
	})
	if err != nil {
		return StoreRef{}, createError(in, err)
	}
	return StoreRef{CustomKeyStoreID: aws.ToString(created.CustomKeyStoreId)}, nil
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

func (s *Create) secret(ctx context.Context, field, arn string) (string, error) {
	out, err := s.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", lambdaerr.Terminal(fmt.Sprintf("%s: secret %s does not exist", field, arn), nil)
	}
	if err != nil {
		return "", fmt.Errorf("read secret %s (%s): %w", arn, field, err)
	}
	if aws.ToString(out.SecretString) == "" {
		return "", lambdaerr.Terminal(fmt.Sprintf("%s: secret %s has no SecretString", field, arn), nil)
	}
	return aws.ToString(out.SecretString), nil
}

// Connection actions.
const (
	Connect    = "connect"
	Disconnect = "disconnect"
)

// ConnectionInput asks for a connect or a disconnect.
type ConnectionInput struct {
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
	Action           string `json:"Action"`
}

// Connection starts a connect or a disconnect; the workflow then polls Describe. Both converge on
// retry: connecting a CONNECTING or CONNECTED store is a no-op for KMS, and a disconnect of a
// store that is already DISCONNECT(ING/ED), or gone, is done.
type Connection struct {
	KMS StoreConnector
}

// Handle implements the step and returns the store's state after the call.
func (s *Connection) Handle(ctx context.Context, in ConnectionInput) (StoreView, error) {
	id := in.CustomKeyStoreID
	var invalid *kmstypes.CustomKeyStoreInvalidStateException
	var nf *kmstypes.CustomKeyStoreNotFoundException
	switch in.Action {
	case Connect:
		_, err := s.KMS.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		var notActive *kmstypes.CloudHsmClusterNotActiveException
		var badConfig *kmstypes.CloudHsmClusterInvalidConfigurationException
		switch {
		case errors.As(err, &invalid):
			// FAILED (a previous attempt ended; the poll reports why) or DISCONNECTING (wait).
			v, derr := describeStore(ctx, s.KMS, id)
			if derr != nil || v.State == string(kmstypes.ConnectionStateTypeFailed) {
				return v, derr
			}
			return v, lambdaerr.Retryable(fmt.Sprintf("connect key store %s: it is %s", id, v.State), err)
		case errors.As(err, &notActive):
			return StoreView{}, lambdaerr.Terminal(fmt.Sprintf("connect key store %s: its cluster is not ACTIVE: %s", id, notActive.ErrorMessage()), nil)
		case errors.As(err, &badConfig):
			return StoreView{}, lambdaerr.Terminal(fmt.Sprintf("connect key store %s: KMS refused the cluster's configuration: %s", id, badConfig.ErrorMessage()), nil)
		case errors.As(err, &nf):
			return StoreView{}, lambdaerr.Terminal(fmt.Sprintf("connect key store %s: it does not exist", id), nil)
		case err != nil:
			return StoreView{}, fmt.Errorf("connect key store %s: %w", id, err)
		}
	case Disconnect:
		_, err := s.KMS.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		switch {
		case errors.As(err, &invalid), errors.As(err, &nf):
			// Already DISCONNECTED or DISCONNECTING, or gone: the poll sees which.
		case err != nil:
			return StoreView{}, fmt.Errorf("disconnect key store %s: %w", id, err)
		}
	default:
		return StoreView{}, lambdaerr.Terminal(fmt.Sprintf("key store connection: Action %q is not connect or disconnect", in.Action), nil)
	}
	return describeStore(ctx, s.KMS, id)
}

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
	KMS     StoreUpdater
	Secrets SecretReader
}

// Handle implements the step.
func (s *Update) Handle(ctx context.Context, in UpdateInput) (StoreView, error) {
	id := in.CustomKeyStoreID
	v, err := describeStore(ctx, s.KMS, id)
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
		pw, err := (&Create{Secrets: s.Secrets}).secret(ctx, "KmsUserPasswordSecretArn", in.KmsUserPasswordSecretARN)
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
	return describeStore(ctx, s.KMS, id)
}

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

// Delete deletes the store only when asked and when it holds no KMS keys (KMS refuses with
// CustomKeyStoreHasCMKsException, the authority on that); otherwise it is left disconnected.
type Delete struct {
	KMS     StoreDeleter
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
