// Package password is the cluster-password step: it generates the cluster admin password into a
// KMS-encrypted secret, so no payload ever carries it.
package password

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// PasswordLength is the length of generated HSM passwords: CloudHSM accepts 8 to 32 characters.
const PasswordLength = 32

// PasswordStore creates the admin password secret.
type PasswordStore interface {
	GetRandomPassword(ctx context.Context, params *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
	CreateSecret(ctx context.Context, params *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

var _ PasswordStore = (*secretsmanager.Client)(nil)

// PasswordInput names the secret to create.
type PasswordInput struct {
	SecretName string `json:"SecretName"`
	// Description is stored with the secret, for people browsing Secrets Manager.
	Description string `json:"Description,omitempty"`
}

// PasswordOutput is the secret's ARN: the only form in which a password travels.
type PasswordOutput struct {
	SecretARN string `json:"SecretArn"`
	// Created is false when an existing secret was reused.
	Created bool `json:"Created"`
}

// StorePassword generates an HSM password into a new Secrets Manager secret before anything uses
// it (docs/architecture.md, "Secrets"). An existing secret of that name is reused, never overwritten: it may already
// be the password of an activated cluster.
type StorePassword struct {
	Secrets PasswordStore
	// KMSKeyID is the customer-managed key that encrypts the secret.
	KMSKeyID string
	Tags     map[string]string
}

// Handle implements the step.
func (s *StorePassword) Handle(ctx context.Context, in PasswordInput) (PasswordOutput, error) {
	if in.SecretName == "" {
		return PasswordOutput{}, lambdaerr.Terminal("store password: SecretName is empty", nil)
	}
	// Create first, and look for an existing secret only when told one exists: Secrets Manager
	// authorizes a call on a secret that does not exist on the name's ARN without its six-character
	// suffix, so DescribeSecret of a missing secret is refused (AccessDeniedException) to a role
	// granted <name>-?????? (pkg/resourcedef), where CreateSecret is allowed.
	// Letters and digits only: the value passes through cloudhsm-cli and shell variables on the
	// client instance, where punctuation would need quoting.
	pw, err := s.Secrets.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength: aws.Int64(PasswordLength), ExcludePunctuation: aws.Bool(true), RequireEachIncludedType: aws.Bool(true),
	})
	if err != nil {
		return PasswordOutput{}, fmt.Errorf("generate password for %s: %w", in.SecretName, err)
	}
	tags := make([]smtypes.Tag, 0, len(s.Tags))
	for k, v := range s.Tags {
		tags = append(tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	input := &secretsmanager.CreateSecretInput{
		Name: aws.String(in.SecretName), SecretString: pw.RandomPassword, Tags: tags,
		Description: aws.String(in.Description),
	}
	if s.KMSKeyID != "" {
		input.KmsKeyId = aws.String(s.KMSKeyID)
	}
	out, err := s.Secrets.CreateSecret(ctx, input)
	var exists *smtypes.ResourceExistsException
	var invalid *smtypes.InvalidRequestException
	if errors.As(err, &invalid) {
		// Among other reasons, a secret of this name is scheduled for deletion: existing says so
		// with the fix.
		if _, derr := s.existing(ctx, in.SecretName); derr != nil {
			return PasswordOutput{}, derr
		}
		return PasswordOutput{}, fmt.Errorf("create secret %s: %w", in.SecretName, err)
	}
	if errors.As(err, &exists) {
		arn, err := s.existing(ctx, in.SecretName)
		if err == nil && arn == "" {
			// Created concurrently but not yet visible (eventual consistency): the next attempt
			// finds it. Never go on without an ARN: activation would have no password to read.
			return PasswordOutput{}, lambdaerr.Retryable(fmt.Sprintf("create secret %s: it already exists but cannot be described yet", in.SecretName), nil)
		}
		return PasswordOutput{SecretARN: arn}, err
	}
	if err != nil {
		// The SDK error carries no request parameters, so the password is not in it.
		return PasswordOutput{}, fmt.Errorf("create secret %s: %w", in.SecretName, err)
	}
	return PasswordOutput{SecretARN: aws.ToString(out.ARN), Created: true}, nil
}

func (s *StorePassword) existing(ctx context.Context, name string) (string, error) {
	d, err := s.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("describe secret %s: %w", name, err)
	case d.DeletedDate != nil:
		return "", lambdaerr.Terminal(fmt.Sprintf("secret %s is scheduled for deletion; restore it (RestoreSecret) or choose another name", name), nil)
	}
	return aws.ToString(d.ARN), nil
}
