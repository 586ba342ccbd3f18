package dbsecret

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TLSMode says whether connections to the database use TLS.
type TLSMode string

const (
	// TLSRequired encrypts every connection and verifies the server certificate against a CA
	// bundle (the RDS bundle in production) and the secret's host name. It is the default.
	TLSRequired TLSMode = "required"
	// TLSDisabled connects in plain text. Only for databases that cannot do TLS; callers log it.
	TLSDisabled TLSMode = "disabled"
)

// ParseTLSMode reads a setting such as the DB_TLS environment variable; empty means required.
func ParseTLSMode(v string) (TLSMode, error) {
	switch m := TLSMode(strings.ToLower(strings.TrimSpace(v))); m {
	case "":
		return TLSRequired, nil
	case TLSRequired, TLSDisabled:
		return m, nil
	default:
		return "", fmt.Errorf("TLS mode %q: must be %q (default) or %q", v, TLSRequired, TLSDisabled)
	}
}

// TLS is how connections to the database are protected. The zero value requires TLS and trusts
// the system's roots (which do not include the RDS CAs: production passes the RDS bundle).
type TLS struct {
	Mode TLSMode
	// Bundle is the CA bundle path the roots came from, for messages.
	Bundle string
	roots  *x509.CertPool
}

// NewTLS loads the CA bundle for mode required. caBundle is a PEM file path; it is required with
// TLSRequired and ignored with TLSDisabled.
func NewTLS(mode TLSMode, caBundle string) (TLS, error) {
	if mode == "" {
		mode = TLSRequired
	}
	if mode == TLSDisabled {
		return TLS{Mode: mode}, nil
	}
	if mode != TLSRequired {
		return TLS{}, fmt.Errorf("TLS mode %q: must be %q or %q", mode, TLSRequired, TLSDisabled)
	}
	if caBundle == "" {
		return TLS{}, errors.New("CA bundle: no path given while TLS is required; set it to the RDS CA bundle " +
			"(https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, shipped with the function) or disable TLS explicitly")
	}
	pem, err := os.ReadFile(caBundle)
	if err != nil {
		return TLS{}, fmt.Errorf("CA bundle: read %s: %w", caBundle, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return TLS{}, fmt.Errorf("CA bundle %s: no PEM certificate found; it must hold the CA certificates that sign the database's server certificate", caBundle)
	}
	return TLS{Mode: mode, Bundle: caBundle, roots: pool}, nil
}

// clientConfig is the crypto/tls configuration for a server at host, or nil when TLS is disabled.
func (t TLS) clientConfig(host string) *tls.Config {
	if t.Mode == TLSDisabled {
		return nil
	}
	return &tls.Config{RootCAs: t.roots, ServerName: strings.Trim(host, "[]"), MinVersion: tls.VersionTLS12}
}

// Connection timeouts. A rotation step runs inside a Lambda with a deadline; a database that does
// not answer must fail the step well before it.
const (
	DialTimeout = 5 * time.Second
	IOTimeout   = 30 * time.Second
)

// Config returns the driver settings to log in as this secret's user, to its dbname.
func (s *Secret) Config(t TLS) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = s.Username, s.Password
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", s.Endpoint(), s.DBName
	cfg.TLS = t.clientConfig(s.Host)
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = DialTimeout, IOTimeout, IOTimeout
	return cfg
}

// Connector returns a database/sql connector for this secret's user.
func (s *Secret) Connector(t TLS) (driver.Connector, error) {
	c, err := mysql.NewConnector(s.Config(t))
	if err != nil {
		return nil, fmt.Errorf("connector for %s@%s: %w", s.Username, s.Endpoint(), err)
	}
	return c, nil
}

// ErAccessDenied is MariaDB's error number for refused credentials (ER_ACCESS_DENIED_ERROR). MariaDB
// also answers it when require_secure_transport refuses a plain connection.
const ErAccessDenied = 1045

// IsAccessDenied reports whether err is MariaDB refusing the user name or password.
func IsAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == ErAccessDenied
}
