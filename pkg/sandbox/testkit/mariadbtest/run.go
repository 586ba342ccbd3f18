package mariadbtest

import (
	"os"
	"testing"
)

// Run is TestMain for a test binary whose tests share one server with the default Options: it
// stores the server in *srv, runs the tests and exits with their status (1 if the server does
// not start), as Main does.
func Run(m *testing.M, srv **Server) {
	os.Exit(Main(m, Options{}, srv))
}
