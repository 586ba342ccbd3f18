package dbsecret

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
)

var srv *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Run(m, &srv) }

// TestConnectWithSecret logs in to a real MariaDB server with the settings a secret produces.
func TestConnectWithSecret(t *testing.T) {
	ctx := context.Background()
	user, db := srv.UniqueName("conn"), srv.UniqueName("db")
	if err := srv.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateUser(ctx, user, "Pw-1-connect", "SELECT ON `"+db+"`.*"); err != nil {
		t.Fatal(err)
	}
	otherFile := mariadbtest.UntrustedBundle(t, "not the server's CA")
	good := &Secret{Engine: EngineMariaDB, Host: srv.Host, Port: srv.Port, Username: user, Password: "Pw-1-connect", DBName: db}
	badPass := good.Clone()
	badPass.Password = "wrong"

	tests := []struct {
		name      string
		secret    *Secret
		mode      TLSMode
		bundle    string
		wantTLS   bool
		wantError func(error) bool
	}{
		{"TLS verified against the server's CA", good, TLSRequired, srv.CAFile, true, nil},
		{"plain when disabled", good, TLSDisabled, "", false, nil},
		{"TLS against another CA is refused", good, TLSRequired, otherFile, false,
			func(err error) bool { var u x509.UnknownAuthorityError; return errors.As(err, &u) }},
		{"wrong password is access denied", badPass, TLSRequired, srv.CAFile, false, IsAccessDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := NewTLS(tc.mode, tc.bundle)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := tc.secret.Connector(tl)
			if err != nil {
				t.Fatal(err)
			}
			pool := sql.OpenDB(conn)
			defer pool.Close()
			var name, cipher string
			err = pool.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
			if tc.wantError != nil {
				if err == nil || !tc.wantError(err) {
					t.Fatalf("got error %v, want the expected refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cipher != "") != tc.wantTLS {
				t.Fatalf("Ssl_cipher = %q, want TLS %v", cipher, tc.wantTLS)
			}
		})
	}
}
