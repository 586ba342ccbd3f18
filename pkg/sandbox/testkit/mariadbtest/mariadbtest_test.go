package mariadbtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

var srv *Server

func TestMain(m *testing.M) { os.Exit(Main(m, Options{}, &srv)) }

func ping(ctx context.Context, s *Server, user, pass string, tlsConf *tls.Config) error {
	db, err := s.open(user, pass, "", tlsConf)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

func TestLoginOverTLS(t *testing.T) {
	ctx := context.Background()
	user := srv.UniqueName("u")
	if err := srv.CreateUser(ctx, user, "p'w\\d\"1", "SELECT ON mysql.*"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Login(ctx, user, "p'w\\d\"1", "mysql"); err != nil {
		t.Fatalf("login with the right password: %v", err)
	}
	err := srv.Login(ctx, user, "wrong", "")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Fatalf("login with a wrong password: got %v, want MySQL error 1045", err)
	}
	// The session really is encrypted.
	db, err := srv.open(user, "p'w\\d\"1", "", srv.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	if cipher == "" {
		t.Fatal("Ssl_cipher is empty: the session is not encrypted")
	}
}

func TestUntrustedCAIsRefused(t *testing.T) {
	other, err := NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(other.PEM)
	err = ping(context.Background(), srv, "root", "", &tls.Config{RootCAs: pool, ServerName: srv.Host})
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Fatalf("got %v, want x509.UnknownAuthorityError", err)
	}
}

func TestRequireSecureTransport(t *testing.T) {
	s, err := Start(context.Background(), Options{RequireSecureTransport: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	ctx := context.Background()
	user := s.UniqueName("sec")
	if err := s.CreateUser(ctx, user, "pw-1"); err != nil {
		t.Fatal(err)
	}
	err = ping(ctx, s, user, "pw-1", nil)
	// MariaDB 10.11 answers an insecure connection under require_secure_transport with 1045 (and
	// logs "Access denied"), unlike MySQL's 3159; the same password over TLS must work.
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Fatalf("plain connection: got %v, want MySQL error 1045", err)
	}
	if err := s.Login(ctx, user, "pw-1", ""); err != nil {
		t.Fatalf("TLS connection: %v", err)
	}
}

func TestStopReleasesEverything(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr, dir := s.Addr(), s.Dir
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s still exists (stat: %v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
}
