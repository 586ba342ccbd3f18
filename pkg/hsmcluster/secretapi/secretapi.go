// Package secretapi resolves the cluster's secret names to ARNs for the steps that report or pass
// them on (report, activate), without linking anything but the Secrets Manager client.
package secretapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretDescriber resolves secret names to ARNs.
type SecretDescriber interface {
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// SecretARN resolves a secret name to its ARN; "" when the name is empty or no such secret exists.
func SecretARN(ctx context.Context, api SecretDescriber, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	d, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("describe secret %s: %w", name, err)
	}
	return aws.ToString(d.ARN), nil
}
