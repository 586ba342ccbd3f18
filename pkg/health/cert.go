package health

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// ExpiryWarning is how long before a certificate's NotAfter its condition turns ALARM (warning);
// an expired certificate is critical.
const ExpiryWarning = 30 * 24 * time.Hour

// Certificate judges one PEM certificate's expiry as condition CertificateExpiry/<name>. A PEM that
// does not parse is an ALARM too: a certificate nobody can read cannot be renewed in time. fix
// says how this certificate is renewed.
func Certificate(typ, id, name string, certPEM []byte, now time.Time, fix string) Finding {
	cond := CertificateExpiry + "/" + name
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return Unhealthy(typ, id, cond, Warning, fmt.Sprintf("the %s certificate is not a PEM CERTIFICATE, so its expiry cannot be checked", name),
			"check where it is stored and that it holds one PEM certificate", now)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return Unhealthy(typ, id, cond, Warning, fmt.Sprintf("the %s certificate does not parse (%v), so its expiry cannot be checked", name, err),
			"check where it is stored and that it holds one valid X.509 certificate", now)
	}
	left := cert.NotAfter.Sub(now)
	when := cert.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		return Unhealthy(typ, id, cond, Critical, fmt.Sprintf("the %s certificate (%s) expired at %s", name, cert.Subject.CommonName, when), fix, now)
	case left <= ExpiryWarning:
		return Unhealthy(typ, id, cond, Warning, fmt.Sprintf("the %s certificate (%s) expires at %s, in %d days", name, cert.Subject.CommonName, when, int(left.Hours()/24)), fix, now)
	}
	return Healthy(typ, id, cond, fmt.Sprintf("the %s certificate is valid until %s", name, when), now)
}
