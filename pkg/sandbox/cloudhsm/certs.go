package cloudhsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// hardwareRoots stand in for AWS's and the HSM manufacturer's roots. They are made once per
// service (ECDSA P-256, so start-up stays fast); only the cluster key follows AWS (RSA 2048).
type hardwareRoots struct {
	awsKey, mfrKey   *ecdsa.PrivateKey
	awsCert, mfrCert *x509.Certificate
	awsPEM, mfrPEM   string
}

func (s *Service) hardware() (*hardwareRoots, error) {
	s.rootsOnce.Do(func() {
		r := &hardwareRoots{}
		var err error
		if r.awsKey, r.awsCert, r.awsPEM, err = selfSigned("AWS CloudHSM Sandbox Hardware Root", s.clock.Now()); err != nil {
			s.rootsErr = err
			return
		}
		if r.mfrKey, r.mfrCert, r.mfrPEM, err = selfSigned("Sandbox HSM Manufacturer Root", s.clock.Now()); err != nil {
			s.rootsErr = err
			return
		}
		s.roots = r
	})
	return s.roots, s.rootsErr
}

func selfSigned(cn string, now time.Time) (*ecdsa.PrivateKey, *x509.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate %s key: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"Strongroom sandbox"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, "", fmt.Errorf("self-sign %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, "", err
	}
	return key, cert, pemString("CERTIFICATE", der), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// makeClusterIdentity makes the PKCS#10 CSR of the cluster's RSA 2048 key (whose generation
// CreateCluster started, long done by the time an HSM is ACTIVE) and the HSM certificate chain. Caller holds s.mu.
func (s *Service) makeClusterIdentity(c *cluster) error {
	roots, err := s.hardware()
	if err != nil {
		return err
	}
	if c.key == nil {
		return fmt.Errorf("cluster %s has no key", c.id)
	}
	key, err := c.key.wait()
	if err != nil {
		return fmt.Errorf("generate the key of cluster %s: %w", c.id, err)
	}
	subject := pkix.Name{
		Country: []string{"US"}, Province: []string{"CA"}, Locality: []string{"SanJose"},
		Organization: []string{"Strongroom sandbox HSM"}, OrganizationalUnit: []string{c.mode},
		CommonName: "HSM:" + c.id + ":PARTN:1, for " + c.mode + " mode",
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: subject, SignatureAlgorithm: x509.SHA256WithRSA,
	}, key)
	if err != nil {
		return fmt.Errorf("create cluster CSR: %w", err)
	}
	now := s.clock.Now()
	hsmDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(), Subject: subject,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}, roots.awsCert, key.Public(), roots.awsKey)
	if err != nil {
		return fmt.Errorf("issue HSM certificate: %w", err)
	}
	c.csr = pemString("CERTIFICATE REQUEST", csrDER)
	c.hsmCert = pemString("CERTIFICATE", hsmDER)
	c.awsHwCert, c.manufacturerCert = roots.awsPEM, roots.mfrPEM
	return nil
}

type initializeInput struct {
	ClusterId   string `json:"ClusterId"`
	SignedCert  string `json:"SignedCert"`
	TrustAnchor string `json:"TrustAnchor"`
}

// maxCertChars is the model's length limit on SignedCert and TrustAnchor.
const maxCertChars = 20000

func (s *Service) initializeCluster(_ context.Context, in initializeInput) (any, error) {
	for name, v := range map[string]string{"clusterId": in.ClusterId, "signedCert": in.SignedCert, "trustAnchor": in.TrustAnchor} {
		if v == "" {
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name)
		}
		if len(v) > maxCertChars {
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", name, maxCertChars)
		}
	}
	return core.Locked(&s.mu, s.clusterLocked, in.ClusterId, func(c *cluster) (any, error) {
		if c.state != StateUninitialized {
			return nil, invalid("Cluster '%s' is in state %s. Only an UNINITIALIZED cluster can be initialized.", c.id, c.state)
		}
		if c.csr == "" {
			return nil, invalid("Cluster '%s' has no cluster CSR yet. Create an HSM and wait for it to become ACTIVE before initializing the cluster.", c.id)
		}
		anchor, err := verifyInitialization(c.csr, in.SignedCert, in.TrustAnchor, s.clock.Now())
		if err != nil {
			return nil, invalid("%v", err)
		}
		c.clusterCert, c.trustAnchor, c.trustAnchorCert = in.SignedCert, in.TrustAnchor, anchor
		c.state = StateInitializeInProgress
		c.stateMessage = "Cluster is initializing. State will change to INITIALIZED upon completion."
		s.timers.Later(s.dur.Initialize, func() {
			if c.state == StateInitializeInProgress {
				c.state, c.stateMessage = StateInitialized, "Cluster is initialized. Activate it with the cloudhsm-cli."
			}
		})
		return map[string]any{"State": c.state, "StateMessage": c.stateMessage}, nil
	})
}

// verifyInitialization applies InitializeCluster's documented checks and returns the parsed
// trust anchor. Its errors are the refusal messages.
func verifyInitialization(csrPEM, signedPEM, anchorPEM string, now time.Time) (*x509.Certificate, error) {
	csrBlock, _ := pem.Decode([]byte(csrPEM))
	if csrBlock == nil {
		return nil, fmt.Errorf("the cluster CSR is corrupt")
	}
	csr, err := x509.ParseCertificateRequest(csrBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the cluster CSR is corrupt: %v", err)
	}
	signed, err := parseOneCert(signedPEM, "SignedCert")
	if err != nil {
		return nil, err
	}
	anchor, err := parseOneCert(anchorPEM, "TrustAnchor")
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(anchor.Subject.String(), anchor.Issuer.String()) || anchor.CheckSignatureFrom(anchor) != nil {
		return nil, fmt.Errorf("the trust anchor is not a self-signed certificate: its issuer %q must equal its subject %q and it must verify with its own key", anchor.Issuer, anchor.Subject)
	}
	if anchor.Version == 3 && !anchor.BasicConstraintsValid {
		return nil, fmt.Errorf("the trust anchor uses X.509 v3 extensions but has no Basic Constraints extension (RFC 5280)")
	}
	if k, ok := anchor.PublicKey.(*rsa.PublicKey); !ok || (k.N.BitLen() != 2048 && k.N.BitLen() != 4096) {
		return nil, fmt.Errorf("the trust anchor's key must be RSA 2048 or RSA 4096")
	}
	pub, ok := signed.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(csr.PublicKey) {
		return nil, fmt.Errorf("the signed certificate was not issued for the cluster CSR: its public key differs from the CSR's")
	}
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	if _, err := signed.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("the signed certificate does not chain to the trust anchor: %v", err)
	}
	return anchor, nil
}

func parseOneCert(s, field string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s is not a PEM-encoded X.509 certificate", field)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("%s must contain exactly one certificate", field)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s could not be parsed: %v", field, err)
	}
	return cert, nil
}
