package rotation

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// grantsOf builds a grantSet: objects as "ON clause" -> privileges ("SELECT", "UPDATE `c`" for a
// column, "GRANT OPTION").
func grantsOf(objects map[string][]string, roles map[string]bool, defaultRole string) *grantSet {
	g := &grantSet{objects: map[string]*objectGrants{}, roles: roles, proxies: map[string]bool{}, defaultRole: defaultRole, storedDefaultRole: defaultRole}
	if g.roles == nil {
		g.roles = map[string]bool{}
	}
	for on, privs := range objects {
		o := g.object(on)
		for _, p := range privs {
			if p == "GRANT OPTION" {
				o.grantOption = true
				continue
			}
			name, col, _ := strings.Cut(p, " `")
			if col != "" {
				col = "`" + col
			}
			o.privs[privilege{name, col}] = true
		}
	}
	return g
}

func TestGrantDiff(t *testing.T) {
	const acct = "'app_clone'@'%'"
	have := grantsOf(map[string][]string{
		"*.*":                  {"PROCESS", "RELOAD", "GRANT OPTION"},
		"`shop`.*":             {"SELECT", "INSERT", "UPDATE"},
		"`shop`.`t`":           {"SELECT", "DELETE", "SELECT `a`", "UPDATE `b`", "GRANT OPTION"},
		"`old`.*":              {"SELECT"},
		"PROCEDURE `shop`.`p`": {"EXECUTE", "ALTER ROUTINE"},
		"FUNCTION `shop`.`f`":  {"EXECUTE"},
		"`we``ird`.`ta``ble`":  {"SELECT"},
	}, map[string]bool{"reader": true, "writer": false}, "reader")
	want := grantsOf(map[string][]string{
		"*.*":                  {"PROCESS"},
		"`shop`.*":             {"SELECT", "UPDATE", "DELETE HISTORY"},
		"`shop`.`t`":           {"DELETE", "SELECT `a`", "SELECT `c`", "INSERT `b`"},
		"PROCEDURE `shop`.`p`": {"EXECUTE"},
		"FUNCTION `shop`.`f`":  {"EXECUTE", "GRANT OPTION"},
		"`new`.*":              {"GRANT OPTION"},
		"`we``ird`.`ta``ble`":  {"SELECT"},
	}, map[string]bool{"reader": false, "auditor": true}, "auditor")
	wantRevokes := []string{
		"REVOKE ADMIN OPTION FOR `reader` FROM " + acct,
		"REVOKE `writer` FROM " + acct,
		"REVOKE RELOAD ON *.* FROM " + acct,
		"REVOKE GRANT OPTION ON *.* FROM " + acct,
		"REVOKE ALTER ROUTINE ON PROCEDURE `shop`.`p` FROM " + acct,
		"REVOKE SELECT ON `old`.* FROM " + acct,
		"REVOKE INSERT ON `shop`.* FROM " + acct,
		"REVOKE SELECT, UPDATE (`b`) ON `shop`.`t` FROM " + acct,
		"REVOKE GRANT OPTION ON `shop`.`t` FROM " + acct,
	}
	if got := revokeStatements(have, want, acct); !slices.Equal(got, wantRevokes) {
		t.Errorf("revokes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRevokes, "\n"))
	}
	wantGrants := []string{
		"GRANT USAGE ON FUNCTION `shop`.`f` TO " + acct + " WITH GRANT OPTION",
		"GRANT USAGE ON `new`.* TO " + acct + " WITH GRANT OPTION",
		"GRANT DELETE HISTORY ON `shop`.* TO " + acct,
		"GRANT INSERT (`b`), SELECT (`c`) ON `shop`.`t` TO " + acct,
		"GRANT `auditor` TO " + acct + " WITH ADMIN OPTION",
		"SET DEFAULT ROLE `auditor` FOR " + acct,
	}
	if got := grantStatements(have, want, acct); !slices.Equal(got, wantGrants) {
		t.Errorf("grants:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantGrants, "\n"))
	}
	if got := append(revokeStatements(want, want, acct), grantStatements(want, want, acct)...); len(got) != 0 {
		t.Errorf("equal sets give statements %q", got)
	}
	dangling := grantsOf(map[string][]string{"*.*": nil}, nil, "")
	dangling.storedDefaultRole = "gone" // a default role no longer granted: SET DEFAULT ROLE cannot copy it
	if got := grantStatements(dangling, dangling, acct); !slices.Equal(got, []string{"SET DEFAULT ROLE NONE FOR " + acct}) {
		t.Errorf("a dangling default role: %q", got)
	}
	none := grantsOf(map[string][]string{"*.*": nil}, nil, "")
	if got := grantStatements(want, none, acct); !slices.Equal(got, []string{"SET DEFAULT ROLE NONE FOR " + acct}) {
		t.Errorf("dropping the default role: %q", got)
	}
}

func TestPrivList(t *testing.T) {
	got := privList([]privilege{{"UPDATE", "`b`"}, {"SELECT", ""}, {"UPDATE", "`a`"}, {"SELECT", "`a`"}, {"CREATE VIEW", ""}})
	if want := "CREATE VIEW, SELECT, SELECT (`a`), UPDATE (`a`, `b`)"; got != want {
		t.Fatalf("privList = %q, want %q", got, want)
	}
}

func TestAlterStatement(t *testing.T) {
	base := accountProps{maxStatementTime: "0", passwordLifetime: -1}
	tests := []struct {
		name   string
		props  func(p *accountProps)
		noBack bool
		want   string
	}{
		{"nothing", func(p *accountProps) {}, false, "REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 PASSWORD EXPIRE DEFAULT"},
		{"ssl, limits, never expires", func(p *accountProps) {
			p.sslType, p.maxQuestions, p.maxUpdates, p.maxConnections, p.maxUserConnections, p.maxStatementTime, p.passwordLifetime = sslAny, 1, 2, 3, 4, "2.500000", 0
		}, false, "REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 1 MAX_UPDATES_PER_HOUR 2 MAX_CONNECTIONS_PER_HOUR 3 MAX_USER_CONNECTIONS 4 MAX_STATEMENT_TIME 2.500000 PASSWORD EXPIRE NEVER"},
		{"x509, interval", func(p *accountProps) { p.sslType, p.passwordLifetime = sslX509, 90 }, false,
			"REQUIRE X509 WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 PASSWORD EXPIRE INTERVAL 90 DAY"},
		{"specified, quoted", func(p *accountProps) {
			p.sslType, p.issuer, p.subject, p.cipher = sslSpecified, `/O=O'Reilly\x`, "", "AES"
		}, false,
			`REQUIRE ISSUER '/O=O''Reilly\\x' AND CIPHER 'AES' WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 PASSWORD EXPIRE DEFAULT`},
		{"specified, NO_BACKSLASH_ESCAPES", func(p *accountProps) { p.sslType, p.subject = sslSpecified, `a\b'c` }, true,
			`REQUIRE SUBJECT 'a\b''c' WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 PASSWORD EXPIRE DEFAULT`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.props(&p)
			got, err := alterStatement("'app'@'%'", &p, quoter(tc.noBack))
			if err != nil {
				t.Fatal(err)
			}
			if want := "ALTER USER 'app'@'%' " + tc.want; got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
	p := base
	p.sslType = 7
	if _, err := alterStatement("'app'@'%'", &p, quoter(false)); err == nil {
		t.Fatal("an unknown ssl_type gave a statement")
	}
	p = base
	p.sslType, p.subject = sslSpecified, "a\x00b"
	if _, err := alterStatement("'app'@'%'", &p, quoter(false)); err == nil {
		t.Fatal("a NUL character gave a statement")
	}
}

func TestQuoteIdent(t *testing.T) {
	if got := quoteIdent("a`b"); got != "`a``b`" {
		t.Fatalf("quoteIdent = %s", got)
	}
}

func TestAlternate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app", "app_clone"},
		{"app_clone", "app"},
		{"app_clone_clone", "app_clone"},
		{"clone", "clone_clone"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := alternate(tc.in); got != tc.want {
				t.Fatalf("alternate(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestScrubRedactsAndClassifies: whatever a cause says, the message that leaves has no password
// the run handled, starts with the step, names the secret and keeps its classification.
func TestScrubRedactsAndClassifies(t *testing.T) {
	const pw1, pw2 = "Pending-pw-123456789", "Current-pw-987654321"
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name     string
		err      error
		wantType string
	}{
		{"plain error quoting a password", fmt.Errorf("near '%s' at line 1", pw1), lambdaerr.NameTerminal},
		{"network error", fmt.Errorf("log in with %s: %w", pw2, netErr), lambdaerr.NameRetryable},
		{"terminal wrapping both", lambdaerr.Terminal("bad "+pw1, errors.New(pw2)), lambdaerr.NameTerminal},
		{"retryable", lambdaerr.Retryable("try "+pw2, nil), lambdaerr.NameRetryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &run{ev: Event{Step: StepSet, SecretID: "arn:aws:secretsmanager:us-east-1:1:secret:s"}, log: slog.New(slog.DiscardHandler)}
			r.saw(pw1, pw2, "")
			got := r.scrub(tc.err)
			msg := got.Error()
			if strings.Contains(msg, pw1) || strings.Contains(msg, pw2) || !strings.Contains(msg, "[REDACTED]") {
				t.Fatalf("scrubbed message %q", msg)
			}
			if !strings.HasPrefix(msg, "setSecret: ") || !strings.Contains(msg, r.ev.SecretID) {
				t.Fatalf("message %q lacks the step or the secret", msg)
			}
			if lambdaerr.TypeName(got) != tc.wantType {
				t.Fatalf("type %s, want %s", lambdaerr.TypeName(got), tc.wantType)
			}
			if errors.Unwrap(got) != nil {
				t.Fatal("the scrubbed error still wraps the unscrubbed cause")
			}
		})
	}
}

func TestCheckUsername(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"plain", "app", true},
		{"dots and dashes", "app.reader-1", true},
		{"80 characters", strings.Repeat("a", 80), true},
		{"81 characters", strings.Repeat("a", 81), false},
		{"empty", "", false},
		{"quote", "o'brien", false},
		{"backslash", `a\b`, false},
		{"backtick", "a`b", false},
		{"percent", "a%", false},
		{"newline", "a\nb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkUsername(tc.in); (err == nil) != tc.ok {
				t.Fatalf("checkUsername(%q) = %v", tc.in, err)
			}
		})
	}
}
