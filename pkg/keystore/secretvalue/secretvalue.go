// Package secretvalue reads the secret values the key store steps hand to KMS (the customer CA
// certificate, the kmsuser password) for create and update, which both do it the same way.
package secretvalue

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Reader reads the values a step hands to KMS (the trust anchor, the kmsuser password).
type Reader interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ Reader = (*secretsmanager.Client)(nil)

// Read returns the SecretString of the secret arn, which the property field named; a missing
// secret or an empty value is a terminal error naming field.
func Read(ctx context.Context, api Reader, field, arn string) (string, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
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
