// Package customerca is the customer-owned certificate authority that initializes a CloudHSM
// cluster: it creates (or reuses) a self-signed CA, issues the cluster's HSM certificate from the
// cluster CSR, and verifies the result before it is handed to InitializeCluster.
//
// The CA's certificate is the cluster's trust anchor. AWS requires it to be self-signed, to carry
// Basic Constraints when it uses v3 extensions, and to have an RSA 2048 or 4096 key
// (the CloudHSM User Guide, "Initialize the cluster"), so only RSA keys are offered. AWS's runbook signs the CSR with
// `openssl x509 -req -days 3652`; Issue produces the same kind of certificate with explicit v3
// extensions, and the tests check both with the real openssl binary.
package customerca

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// KeyType names a CA key algorithm and size.
type KeyType string

// The key types a CloudHSM trust anchor may use.
const (
	RSA2048 KeyType = "RSA_2048"
	RSA4096 KeyType = "RSA_4096"
)

// DefaultValidity is the CA's and the HSM certificate's lifetime when none is given: ten years,
// as in AWS's runbook (`-days 3652`).
const DefaultValidity = 3652 * 24 * time.Hour

// Options configure a new CA. The zero value gives an RSA 2048 CA valid for ten years.
type Options struct {
	KeyType    KeyType
	Validity   time.Duration
	CommonName string // default "Strongroom customer CA"
	// Organization is added to the subject when set.
	Organization string
	// Now is the issue time; zero means time.Now(). Tests set it.
	Now time.Time
}

// ErrInvalidOptions marks a CA option that cannot be used; the message names the field.
var ErrInvalidOptions = errors.New("invalid customer CA options")

func (o Options) withDefaults() (Options, error) {
	if o.KeyType == "" {
		o.KeyType = RSA2048
	}
	if o.KeyType != RSA2048 && o.KeyType != RSA4096 {
		return o, fmt.Errorf("%w: KeyType %q: use %s or %s (a CloudHSM trust anchor must be RSA 2048 or 4096)", ErrInvalidOptions, o.KeyType, RSA2048, RSA4096)
	}
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Validity < 24*time.Hour || o.Validity > 30*365*24*time.Hour {
		return o, fmt.Errorf("%w: Validity %s: give between 1 day and 30 years", ErrInvalidOptions, o.Validity)
	}
	if o.CommonName == "" {
		o.CommonName = "Strongroom customer CA"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o, nil
}

// CA is a loaded certificate authority: its certificate and private key.
type CA struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewKey generates the CA's private key. It is separate from NewCA so a caller can store the key
// before anything else is derived from it (a retried step then reuses the stored key).
func NewKey(keyType KeyType) (*rsa.PrivateKey, error) {
	o, err := Options{KeyType: keyType}.withDefaults()
	if err != nil {
		return nil, err
	}
	bits := 2048
	if o.KeyType == RSA4096 {
		bits = 4096
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate %s CA key: %w", o.KeyType, err)
	}
	return key, nil
}

// NewCA makes the self-signed CA certificate for key.
func NewCA(key *rsa.PrivateKey, opts Options) (*CA, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if want := map[KeyType]int{RSA2048: 2048, RSA4096: 4096}[o.KeyType]; key.N.BitLen() != want {
		return nil, fmt.Errorf("%w: KeyType %s does not match the stored key of %d bits", ErrInvalidOptions, o.KeyType, key.N.BitLen())
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: o.CommonName}
	if o.Organization != "" {
		subject.Organization = []string{o.Organization}
	}
	ski, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             o.Now.Add(-5 * time.Minute).UTC(),
		NotAfter:              o.Now.Add(o.Validity).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign customer CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new customer CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Load parses a CA from its PEM certificate and PKCS#8 (or PKCS#1) PEM private key and checks that
// they belong together and that the certificate is a usable trust anchor.
func Load(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("customer CA certificate: %w", err)
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("customer CA private key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("customer CA private key does not match its certificate")
	}
	if err := CheckTrustAnchor(cert); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// CheckTrustAnchor reports why cert cannot be a CloudHSM trust anchor, or nil.
func CheckTrustAnchor(cert *x509.Certificate) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return errors.New("customer CA certificate is not a CA (Basic Constraints CA:TRUE missing)")
	}
	if err := cert.CheckSignatureFrom(cert); err != nil || !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		return errors.New("customer CA certificate is not self-signed")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || (pub.N.BitLen() != 2048 && pub.N.BitLen() != 4096) {
		return errors.New("customer CA key must be RSA 2048 or 4096 for a CloudHSM trust anchor")
	}
	return nil
}

// CertificatePEM returns the CA certificate as PEM (the trust anchor and customerCA.crt).
func (ca *CA) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// PrivateKeyPEM returns the CA key as PKCS#8 PEM. It is a secret: store it, never log it.
func PrivateKeyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Issue signs the cluster CSR (PEM, as DescribeClusters returns it in Certificates.ClusterCsr)
// and returns the HSM certificate in PEM. The certificate keeps the CSR's subject and public key,
// is valid for validity (DefaultValidity when zero) but never beyond the CA, and carries Basic
// Constraints CA:FALSE, key usage for TLS and key identifiers that link it to the CA.
func (ca *CA) Issue(csrPEM []byte, validity time.Duration, now time.Time) ([]byte, error) {
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if validity == 0 {
		validity = DefaultValidity
	}
	if now.IsZero() {
		now = time.Now()
	}
	notAfter := now.Add(validity).UTC()
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, err := keyID(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               csr.Subject,
		NotBefore:             now.Add(-5 * time.Minute).UTC(),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign cluster CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// Verify checks what InitializeCluster will check, before it is called: the signed certificate's
// public key is the CSR's, and the certificate chains to the trust anchor (which is self-signed).
func Verify(signedCertPEM, csrPEM, trustAnchorPEM []byte, now time.Time) error {
	cert, err := ParseCertificate(signedCertPEM)
	if err != nil {
		return fmt.Errorf("signed HSM certificate: %w", err)
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return err
	}
	anchor, err := ParseCertificate(trustAnchorPEM)
	if err != nil {
		return fmt.Errorf("trust anchor: %w", err)
	}
	if err := CheckTrustAnchor(anchor); err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(csr.PublicKey) {
		return errors.New("signed HSM certificate was not issued for the cluster CSR's public key")
	}
	if now.IsZero() {
		now = time.Now()
	}
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("signed HSM certificate does not chain to the trust anchor: %w", err)
	}
	return nil
}

// ParseCSR decodes and checks a PEM PKCS#10 request (its self-signature must verify).
func ParseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("cluster CSR: not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cluster CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("cluster CSR: bad self-signature: %w", err)
	}
	return csr, nil
}

// ParseCertificate decodes one PEM certificate.
func ParseCertificate(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParsePrivateKey decodes a PEM RSA private key in PKCS#8 or PKCS#1 form. Errors never include
// the key material.
func ParsePrivateKey(keyPEM []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed PKCS#8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("private key is not RSA")
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed PKCS#1 private key")
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q for a private key", block.Type)
}

// keyID is the RFC 5280 method-1 key identifier: SHA-1 of the subjectPublicKey bits.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}
