// Package sign is the cluster-sign step: it signs the cluster CSR with the customer CA, whose key
// it keeps in Secrets Manager (pkg/customerca).
package sign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// CAStore is the customer CA store (customerca.Store satisfies it).
type CAStore interface {
	Ensure(ctx context.Context, opts customerca.Options) (*customerca.CA, customerca.Refs, error)
}

// SignInput names the cluster and the CA to sign with.
type SignInput struct {
	ClusterID string `json:"ClusterId"`
	// CAKeySecretName and CACertSecretName name the CA's secrets (created when missing).
	CAKeySecretName  string `json:"CustomerCaKeySecretName"`
	CACertSecretName string `json:"CustomerCaCertificateSecretName"`
	CAKeyType        string `json:"CustomerCaKeyType"`
	CAValidityDays   int    `json:"CustomerCaValidityDays"`
}

// SignOutput carries the signed HSM certificate and the trust anchor (both public) and the ARNs of
// the CA's secrets.
type SignOutput struct {
	SignedCert      string `json:"SignedCert"`
	TrustAnchor     string `json:"TrustAnchor"`
	CAKeySecretARN  string `json:"CustomerCaKeySecretArn"`
	CACertSecretARN string `json:"CustomerCaCertificateSecretArn"`
	NotAfter        string `json:"NotAfter"`
}

// SignCSR creates or reuses the customer CA, issues the HSM certificate from the cluster CSR and
// verifies it exactly as InitializeCluster will, so a bad certificate fails here with a reason.
type SignCSR struct {
	HSM clusterapi.ClusterDescriber
	// NewStore builds the CA store for the given secret names.
	NewStore func(keySecretName, certSecretName string) CAStore
	Now      func() time.Time
}

// Handle implements the step.
func (s *SignCSR) Handle(ctx context.Context, in SignInput) (SignOutput, error) {
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return SignOutput{}, err
	}
	if c == nil {
		return SignOutput{}, lambdaerr.Terminal(fmt.Sprintf("sign CSR: cluster %s no longer exists", in.ClusterID), nil)
	}
	if c.State != types.ClusterStateUninitialized {
		return SignOutput{}, lambdaerr.Terminal(fmt.Sprintf("sign CSR: cluster %s is %s; the CSR exists only while UNINITIALIZED", in.ClusterID, c.State), nil)
	}
	csr := ""
	if c.Certificates != nil {
		csr = aws.ToString(c.Certificates.ClusterCsr)
	}
	if csr == "" {
		return SignOutput{}, lambdaerr.Retryable(fmt.Sprintf("sign CSR: cluster %s has no CSR yet (its first HSM is not ACTIVE)", in.ClusterID), nil)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	ca, refs, err := s.NewStore(in.CAKeySecretName, in.CACertSecretName).Ensure(ctx, customerca.Options{
		KeyType:  customerca.KeyType(in.CAKeyType),
		Validity: time.Duration(in.CAValidityDays) * 24 * time.Hour,
		Now:      now,
	})
	if errors.Is(err, customerca.ErrNotYetVisible) {
		return SignOutput{}, lambdaerr.Retryable("customer CA", err)
	}
	if err != nil {
		return SignOutput{}, fmt.Errorf("customer CA: %w", err)
	}
	cert, err := ca.Issue([]byte(csr), 0, now)
	if err != nil {
		return SignOutput{}, lambdaerr.Terminal(fmt.Sprintf("sign the CSR of cluster %s", in.ClusterID), err)
	}
	anchor := ca.CertificatePEM()
	if err := customerca.Verify(cert, []byte(csr), anchor, now); err != nil {
		return SignOutput{}, lambdaerr.Terminal(fmt.Sprintf("verify the certificate issued for cluster %s", in.ClusterID), err)
	}
	parsed, _ := customerca.ParseCertificate(cert)
	return SignOutput{
		SignedCert: string(cert), TrustAnchor: string(anchor),
		CAKeySecretARN: refs.KeySecretARN, CACertSecretARN: refs.CertSecretARN,
		NotAfter: parsed.NotAfter.UTC().Format(time.RFC3339),
	}, nil
}
