// Package password is the keystore-password step: it creates the kmsuser password secret, or writes
// a new password version once per rotation token.
package password

import (
	"context"
	"fmt"
	"slices"

	"github.com/strongroom/strongroom/pkg/hsmcluster/password"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// PasswordInput asks for the kmsuser password secret. Without Token the secret is created (or an
// existing one reused, unchanged); with Token a new password version is written, once per token.
type PasswordInput struct {
	SecretName string `json:"SecretName"`
	// Token makes a rotation idempotent: the workflow passes its execution name, and a retried step
	// finds its version already written. 32-64 characters.
	Token string `json:"Token,omitempty"`
}

// PasswordRotator writes a new kmsuser password version.
type PasswordRotator interface {
	GetRandomPassword(ctx context.Context, params *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
	PutSecretValue(ctx context.Context, params *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

var _ PasswordRotator = (*secretsmanager.Client)(nil)

// Password generates the kmsuser password into Secrets Manager before anything uses it
// (docs/architecture.md, "Secrets"): 32 letters and digits, inside what KMS (7-32) and current HSMs (8-32) accept.
type Password struct {
	// Create is the cluster workflow's password step: create or reuse, never overwrite.
	Create  *password.StorePassword
	Secrets PasswordRotator
}

// Handle implements the step. It returns the secret's ARN only.
func (s *Password) Handle(ctx context.Context, in PasswordInput) (password.PasswordOutput, error) {
	if in.Token == "" {
		return s.Create.Handle(ctx, password.PasswordInput{SecretName: in.SecretName, Description: "KMS custom key store kmsuser password (Strongroom); KMS changes it on every connect"})
	}
	if len(in.Token) < 32 || len(in.Token) > 64 {
		return password.PasswordOutput{}, lambdaerr.Terminal(fmt.Sprintf("rotate password: Token is %d characters; Secrets Manager needs 32-64", len(in.Token)), nil)
	}
	d, err := s.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(in.SecretName)})
	if err != nil {
		return password.PasswordOutput{}, fmt.Errorf("describe secret %s: %w", in.SecretName, err)
	}
	arn := aws.ToString(d.ARN)
	if stages, ok := d.VersionIdsToStages[in.Token]; ok && slices.Contains(stages, "AWSCURRENT") {
		return password.PasswordOutput{SecretARN: arn}, nil
	}
	pw, err := s.Secrets.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength: aws.Int64(password.PasswordLength), ExcludePunctuation: aws.Bool(true), RequireEachIncludedType: aws.Bool(true),
	})
	if err != nil {
		return password.PasswordOutput{}, fmt.Errorf("generate a kmsuser password: %w", err)
	}
	// The new version becomes AWSCURRENT at once: the change-password document reads AWSCURRENT.
	// The previous value is of no use to anyone: KMS replaced it at its last connect.
	if _, err := s.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), ClientRequestToken: aws.String(in.Token), SecretString: pw.RandomPassword,
	}); err != nil {
		return password.PasswordOutput{}, fmt.Errorf("put a new kmsuser password into %s: %w", in.SecretName, err)
	}
	return password.PasswordOutput{SecretARN: arn, Created: true}, nil
}
