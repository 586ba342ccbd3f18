package customerca

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretsAPI is the part of the Secrets Manager client the CA store uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, params *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
}

var _ SecretsAPI = (*secretsmanager.Client)(nil)

// Store keeps a customer CA in two Secrets Manager secrets, both encrypted with a customer-managed
// KMS key: the private key (read only by the step that signs) and the certificate (read by the
// client instance as customerCA.crt and by the key store as its trust anchor). Two secrets keep
// least privilege: whoever needs the trust anchor never gets the key.
type Store struct {
	Secrets SecretsAPI
	// KeySecretName and CertSecretName name the two secrets (created when missing).
	KeySecretName  string
	CertSecretName string
	// KMSKeyID encrypts both secrets (a key id, ARN or alias). Required.
	KMSKeyID string
	// Tags are put on secrets this store creates.
	Tags map[string]string
}

// Refs are the ARNs of a stored CA's secrets; payloads carry these, never the values.
type Refs struct {
	KeySecretARN  string `json:"KeySecretArn"`
	CertSecretARN string `json:"CertSecretArn"`
}

// Ensure returns the CA stored under the store's names, creating what is missing. It is safe to
// run again after a crash at any point: the key is stored before the certificate is made from it,
// an existing key is reused, and a create that loses a race re-reads the winner's secret.
func (s *Store) Ensure(ctx context.Context, opts Options) (*CA, Refs, error) {
	if s.KMSKeyID == "" {
		return nil, Refs{}, fmt.Errorf("%w: a customer-managed KMS key is required for the CA secrets", ErrInvalidOptions)
	}
	keyPEM, keyARN, err := s.getOrCreate(ctx, s.KeySecretName, "Strongroom customer CA private key", func() (string, error) {
		key, err := NewKey(opts.KeyType)
		if err != nil {
			return "", err
		}
		b, err := PrivateKeyPEM(key)
		return string(b), err
	})
	if err != nil {
		return nil, Refs{}, err
	}
	key, err := ParsePrivateKey([]byte(keyPEM))
	if err != nil {
		return nil, Refs{}, fmt.Errorf("stored CA key in %s: %w", keyARN, err)
	}
	certPEM, certARN, err := s.getOrCreate(ctx, s.CertSecretName, "Strongroom customer CA certificate (CloudHSM trust anchor)", func() (string, error) {
		ca, err := NewCA(key, opts)
		if err != nil {
			return "", err
		}
		return string(ca.CertificatePEM()), nil
	})
	if err != nil {
		return nil, Refs{}, err
	}
	ca, err := Load([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, Refs{}, fmt.Errorf("customer CA in %s and %s: %w", certARN, keyARN, err)
	}
	return ca, Refs{KeySecretARN: keyARN, CertSecretARN: certARN}, nil
}

// Load reads an existing CA by its secrets' ARNs (or names).
func (s *Store) Load(ctx context.Context, refs Refs) (*CA, error) {
	keyPEM, _, err := s.get(ctx, refs.KeySecretARN)
	if err != nil {
		return nil, err
	}
	certPEM, _, err := s.get(ctx, refs.CertSecretARN)
	if err != nil {
		return nil, err
	}
	return Load([]byte(certPEM), []byte(keyPEM))
}

// errNotFound marks a secret that does not exist (yet).
var errNotFound = errors.New("secret not found")

// ErrNotYetVisible marks a secret that CreateSecret says exists but GetSecretValue cannot find
// yet: a concurrent attempt created it moments ago. Trying again later reads it.
var ErrNotYetVisible = errors.New("the secret exists but cannot be read yet; try again")

func (s *Store) get(ctx context.Context, id string) (value, arn string, err error) {
	out, err := s.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", "", fmt.Errorf("read secret %s: %w", id, errNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("read secret %s: %w", id, err)
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("read secret %s: it holds no SecretString", id)
	}
	return *out.SecretString, aws.ToString(out.ARN), nil
}

// getOrCreate creates the secret with a newly generated value, or reads the one that exists. It
// creates first because Secrets Manager authorizes a call on a secret that does not exist on the
// name's ARN without its six-character suffix: a role granted only <name>-?????? (as
// pkg/resourcedef grants) is refused GetSecretValue with AccessDeniedException, not
// ResourceNotFoundException, so "read, then create when missing" would fail on the first deploy.
// A value generated for a secret that exists already is discarded.
func (s *Store) getOrCreate(ctx context.Context, name, description string, generate func() (string, error)) (value, arn string, err error) {
	value, err = generate()
	if err != nil {
		return "", "", err
	}
	tags := make([]smtypes.Tag, 0, len(s.Tags))
	for k, v := range s.Tags {
		tags = append(tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := s.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String(description),
		KmsKeyId:     aws.String(s.KMSKeyID),
		SecretString: aws.String(value),
		Tags:         tags,
	})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		// Stored before (an earlier run, or another attempt that won a race): its value is the one
		// to use. If it cannot be read yet (eventual consistency), say so: the caller retries
		// rather than minting a second CA.
		value, arn, err = s.get(ctx, name)
		if errors.Is(err, errNotFound) {
			return "", "", fmt.Errorf("create secret %s: %w", name, ErrNotYetVisible)
		}
		return value, arn, err
	}
	if err != nil {
		return "", "", fmt.Errorf("create secret %s: %w", name, err)
	}
	return value, aws.ToString(out.ARN), nil
}
