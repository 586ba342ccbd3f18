package rotation_test

import (
	"net"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// droppedUser is a TestFailuresLoseNothing setup: a user whose secret is stored and who is then
// dropped from the database, so nothing is left that must still log in.
func droppedUser(alternating bool) func(*testing.T, *harness) (string, *dbsecret.Secret) {
	return func(t *testing.T, h *harness) (string, *dbsecret.Secret) {
		u, arn := h.newUserSecret(t, alternating)
		if err := db.Exec(ctx(t), "DROP USER '"+u.name+"'@'%'"); err != nil {
			t.Fatal(err)
		}
		return arn, nil
	}
}

// TestFailuresLoseNothing: each failure fails the rotation with an error naming the step and the
// cause, leaves AWSCURRENT where it was and logging in, and leaves AWSPENDING for the retry.
func TestFailuresLoseNothing(t *testing.T) {
	otherBundle := mariadbtest.UntrustedBundle(t, "not the database's CA")
	tests := []struct {
		name string
		// setup prepares the database and returns the secret to rotate plus the credentials that
		// must still log in afterwards.
		setup     func(t *testing.T, h *harness) (arn string, stillWorks *dbsecret.Secret)
		opts      []harnessOption
		wantStep  string
		wantInErr []string
	}{
		{
			name: "wrong superuser password",
			setup: func(t *testing.T, h *harness) (string, *dbsecret.Secret) {
				admin := newAdmin(t)
				bad := admin.secret("")
				bad.Password = "not-the-superuser-password-1"
				master := h.createSecret(t, bad)
				u := newUser(t)
				return h.createSecret(t, u.secret(master)), u.secret("")
			},
			wantStep:  rotation.StepSet,
			wantInErr: []string{"superuser", "Access denied"},
		},
		{
			name:      "dropped user, single user",
			setup:     droppedUser(false),
			wantStep:  rotation.StepSet,
			wantInErr: []string{"cannot log in", "AWSCURRENT"},
		},
		{
			name:      "dropped user, alternating users",
			setup:     droppedUser(true),
			wantStep:  rotation.StepSet,
			wantInErr: []string{"does not exist", "AWSCURRENT"},
		},
		{
			name: "unreachable host",
			setup: func(t *testing.T, h *harness) (string, *dbsecret.Secret) {
				u := newUser(t)
				s := u.secret("")
				s.Port = closedPort(t)
				return h.createSecret(t, s), u.secret("")
			},
			wantStep:  rotation.StepSet,
			wantInErr: []string{"connection refused", "127.0.0.1:"},
		},
		{
			name: "TLS mismatch",
			setup: func(t *testing.T, h *harness) (string, *dbsecret.Secret) {
				u := newUser(t)
				return h.createSecret(t, u.secret("")), u.secret("")
			},
			opts: []harnessOption{func(c *rotation.Config) {
				tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, otherBundle)
				if err != nil {
					t.Fatal(err)
				}
				c.TLS = tl
			}},
			wantStep:  rotation.StepSet,
			wantInErr: []string{"certificate", "not trusted"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			arn, stillWorks := tc.setup(t, h)
			_, curBefore := h.value(t, arn, "AWSCURRENT")
			fnErr, _ := h.rotate(t, arn)
			if fnErr == "" {
				t.Fatal("rotation succeeded, want a failure")
			}
			t.Logf("function error: %s", fnErr)
			if !strings.HasPrefix(fnErr, tc.wantStep+": ") {
				t.Fatalf("error %q does not start with %s", fnErr, tc.wantStep)
			}
			for _, w := range tc.wantInErr {
				if !strings.Contains(fnErr, w) {
					t.Fatalf("error %q does not mention %q", fnErr, w)
				}
			}
			if !strings.Contains(fnErr, arn) && !strings.Contains(fnErr, "127.0.0.1") {
				t.Fatalf("error %q names neither the secret nor the database", fnErr)
			}
			cur, curAfter := h.value(t, arn, "AWSCURRENT")
			if curAfter != curBefore {
				t.Fatalf("AWSCURRENT moved from %s to %s on a failed rotation", curBefore, curAfter)
			}
			if stillWorks != nil {
				stillWorks.Password = cur.Password
				logsIn(t, stillWorks, "the current credentials after the failure")
			}
			if h.pendingVersion(t, arn) == "" {
				t.Fatal("no AWSPENDING version kept for the retry")
			}
			h.scanForSecrets(t)
		})
	}
}

// TestBadSecretFailsCreateSecret: a secret rotation cannot use fails createSecret with an error
// that names the member, and nothing is written.
func TestBadSecretFailsCreateSecret(t *testing.T) {
	const pw = "Bad-secret-password-7Kq"
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", "host=db password=" + pw, "not a JSON object"},
		{"wrong engine", `{"engine":"postgres","host":"h","username":"u","password":"` + pw + `"}`, `"engine"`},
		{"no engine", `{"host":"h","username":"u","password":"` + pw + `"}`, `"engine"`},
		{"no host", `{"engine":"mariadb","username":"u","password":"` + pw + `"}`, `"host"`},
		{"no username", `{"engine":"mariadb","host":"h","password":"` + pw + `"}`, `"username"`},
		{"no password", `{"engine":"mariadb","host":"h","username":"u"}`, `"password"`},
		{"bad port", `{"engine":"mariadb","host":"h","port":0,"username":"u","password":"` + pw + `"}`, `"port"`},
		{"quote in username", `{"engine":"mariadb","host":"h","username":"o'brien","password":"` + pw + `"}`, `"username"`},
		{"clone name too long", `{"engine":"mariadb","host":"h","username":"` + strings.Repeat("u", 75) + `","password":"` + pw + `","masterarn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:m"}`, `"username"`},
	}
	h := newHarness(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arn := h.createRaw(t, tc.body)
			fnErr, _ := h.rotate(t, arn)
			t.Logf("function error: %s", fnErr)
			if !strings.HasPrefix(fnErr, rotation.StepCreate+": ") || !strings.Contains(fnErr, tc.want) {
				t.Fatalf("function error %q, want a createSecret error naming %s", fnErr, tc.want)
			}
			if strings.Contains(fnErr, pw) {
				t.Fatal("the error contains the password")
			}
			if v := h.pendingVersion(t, arn); v != "" {
				out := h.stages(t, arn)
				if len(out) != 2 {
					t.Fatalf("versions %v: createSecret wrote something", out)
				}
			}
		})
	}
	h.scanForSecrets(t, pw)
}
