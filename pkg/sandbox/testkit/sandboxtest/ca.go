package sandboxtest

import (
	"testing"

	"github.com/strongroom/strongroom/pkg/customerca"
)

// CustomerCA returns a new customer CA (package customerca: RSA 2048 and its default validity), as
// an operator makes one to sign a cluster's CSR and to be its trust anchor.
func CustomerCA(t testing.TB) *customerca.CA {
	t.Helper()
	key, err := customerca.NewKey(customerca.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := customerca.NewCA(key, customerca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
