package mariadbtest

import (
	"path/filepath"
	"testing"
)

// UntrustedBundle writes the certificate of a fresh CA named commonName, which signed no server
// certificate, to a file in t.TempDir() and returns the file's path: a trust bundle with which a
// client that verifies the server must refuse to connect. It fails t if the CA cannot be made or
// written.
func UntrustedBundle(t testing.TB, commonName string) string {
	t.Helper()
	ca, err := NewCA(commonName)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "untrusted-ca.pem")
	if err := ca.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}
