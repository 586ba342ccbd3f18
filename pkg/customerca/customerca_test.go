package customerca_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/customerca"
)

// openssl runs the real openssl binary; the tests prove what we issue is what openssl accepts.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl not installed (make deps installs it): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hsmCSR makes a CSR the way the cluster's first HSM does: a fresh RSA key, subject naming the HSM.
func hsmCSR(t *testing.T, dir, name string) []byte {
	t.Helper()
	openssl(t, dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name+".key",
		"-subj", "/C=US/ST=VA/O=Amazon/OU=CloudHsm/CN=HSM:"+name+":PARTN:30, for FIPS mode", "-out", name+".csr")
	return read(t, filepath.Join(dir, name+".csr"))
}

func newCA(t *testing.T, kt customerca.KeyType) *customerca.CA {
	t.Helper()
	key, err := customerca.NewKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := customerca.NewCA(key, customerca.Options{KeyType: kt, Organization: "Example Corp"})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestIssuedCertificateIsAcceptedByOpenSSL(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, customerca.RSA2048)
	caPath := write(t, dir, "customerCA.crt", ca.CertificatePEM())
	csr := hsmCSR(t, dir, "cluster-abcdefghijk")

	certPEM, err := ca.Issue(csr, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	certPath := write(t, dir, "hsm.crt", certPEM)

	if out := openssl(t, dir, "verify", "-CAfile", caPath, certPath); !strings.Contains(out, "hsm.crt: OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	text := openssl(t, dir, "x509", "-noout", "-text", "-in", certPath)
	for _, want := range []string{
		`CN = "HSM:cluster-abcdefghijk:PARTN:30, for FIPS mode"`,
		"Issuer: O = Example Corp, CN = Strongroom customer CA",
		"X509v3 Basic Constraints: critical", "CA:FALSE",
		"X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier",
		"Digital Signature, Key Encipherment", "TLS Web Server Authentication",
		"sha256WithRSAEncryption", "Public-Key: (2048 bit)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
	caText := openssl(t, dir, "x509", "-noout", "-text", "-in", caPath)
	for _, want := range []string{"CA:TRUE", "Certificate Sign, CRL Sign", "X509v3 Subject Key Identifier"} {
		if !strings.Contains(caText, want) {
			t.Errorf("CA certificate lacks %q:\n%s", want, caText)
		}
	}
	// The certificate's key is the one the HSM holds: openssl's modulus of the HSM key equals the cert's.
	keyMod := openssl(t, dir, "rsa", "-noout", "-modulus", "-in", "cluster-abcdefghijk.key")
	certMod := openssl(t, dir, "x509", "-noout", "-modulus", "-in", certPath)
	if keyMod != certMod {
		t.Fatal("issued certificate does not carry the CSR's public key")
	}
	if err := customerca.Verify(certPEM, csr, ca.CertificatePEM(), time.Time{}); err != nil {
		t.Fatalf("Verify rejects our own issue: %v", err)
	}
}

// The runbook path: openssl signs the CSR with our CA key; Verify must accept that too, and
// openssl must accept our stored key.
func TestRunbookSignedCertificateVerifies(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, customerca.RSA2048)
	keyPEM, err := customerca.PrivateKeyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "customerCA.key", keyPEM)
	write(t, dir, "customerCA.crt", ca.CertificatePEM())
	csr := hsmCSR(t, dir, "cluster-runbook")
	openssl(t, dir, "x509", "-req", "-days", "3652", "-in", "cluster-runbook.csr", "-CA", "customerCA.crt",
		"-CAkey", "customerCA.key", "-CAcreateserial", "-out", "signed.crt")
	if err := customerca.Verify(read(t, filepath.Join(dir, "signed.crt")), csr, ca.CertificatePEM(), time.Time{}); err != nil {
		t.Fatalf("Verify rejects the runbook's openssl-signed certificate: %v", err)
	}
	loaded, err := customerca.Load(ca.CertificatePEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Fatal("Load returned another certificate")
	}
}

func TestVerifyRefuses(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, customerca.RSA2048)
	other := newCA(t, customerca.RSA2048)
	csrA := hsmCSR(t, dir, "a")
	csrB := hsmCSR(t, dir, "b")
	certA, err := ca.Issue(csrA, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// A leaf used as anchor: not self-signed, not a CA.
	cases := []struct {
		name, want        string
		cert, csr, anchor []byte
	}{
		{"certificate for another CSR", "not issued for the cluster CSR", certA, csrB, ca.CertificatePEM()},
		{"anchor of another CA", "does not chain to the trust anchor", certA, csrA, other.CertificatePEM()},
		{"leaf as anchor", "not a CA", certA, csrA, certA},
		{"garbage certificate", "not a PEM CERTIFICATE", []byte("hello"), csrA, ca.CertificatePEM()},
		{"garbage CSR", "not a PEM CERTIFICATE REQUEST", certA, []byte("-----BEGIN X-----\n-----END X-----\n"), ca.CertificatePEM()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := customerca.Verify(tc.cert, tc.csr, tc.anchor, time.Time{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want error containing %q", err, tc.want)
			}
		})
	}
	// Expired: checked at a time past NotAfter.
	if err := customerca.Verify(certA, csrA, ca.CertificatePEM(), time.Now().Add(20*365*24*time.Hour)); err == nil {
		t.Fatal("Verify accepted an expired certificate")
	}
}

func TestOptionsAndKeys(t *testing.T) {
	if _, err := customerca.NewKey("EC_P256"); !errors.Is(err, customerca.ErrInvalidOptions) || !strings.Contains(err.Error(), "KeyType") {
		t.Fatalf("EC key type: %v", err)
	}
	key, err := customerca.NewKey(customerca.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := customerca.NewCA(key, customerca.Options{KeyType: customerca.RSA4096}); err == nil || !strings.Contains(err.Error(), "KeyType") {
		t.Fatalf("mismatched key size accepted: %v", err)
	}
	if _, err := customerca.NewCA(key, customerca.Options{Validity: time.Hour}); err == nil || !strings.Contains(err.Error(), "Validity") {
		t.Fatalf("one-hour validity accepted: %v", err)
	}
	ca, err := customerca.NewCA(key, customerca.Options{Validity: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if d := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Fatalf("validity %s", d)
	}
	// The HSM certificate never outlives the CA.
	dir := t.TempDir()
	cert, err := ca.Issue(hsmCSR(t, dir, "c"), 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := customerca.ParseCertificate(cert)
	if parsed.NotAfter.After(ca.Cert.NotAfter) {
		t.Fatal("HSM certificate outlives its CA")
	}
	// Load refuses a key that is not the certificate's, without echoing key material.
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPEM, _ := customerca.PrivateKeyPEM(otherKey)
	if _, err := customerca.Load(ca.CertificatePEM(), otherPEM); err == nil || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatalf("mismatched key: %v", err)
	}
	if _, err := customerca.ParsePrivateKey([]byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")); err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("malformed key error: %v", err)
	}
	// A non-self-signed certificate is not a trust anchor.
	leafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: ca.Cert.SerialNumber, Subject: pkix.Name{CommonName: "intermediate"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &leafKey.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(der)
	if err := customerca.CheckTrustAnchor(inter); err == nil || !strings.Contains(err.Error(), "self-signed") {
		t.Fatalf("intermediate as anchor: %v", err)
	}
}
