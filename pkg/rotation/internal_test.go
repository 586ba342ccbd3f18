package rotation

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

func TestRetarget(t *testing.T) {
	tests := []struct {
		name, line, want string
		ok               bool
	}{
		{"usage with password hash", "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122'",
			"GRANT USAGE ON *.* TO 'app_clone'@'%'", true},
		{"database privileges", "GRANT SELECT, INSERT ON `shop`.* TO `app`@`%`", "GRANT SELECT, INSERT ON `shop`.* TO 'app_clone'@'%'", true},
		{"grant option kept", "GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%` WITH GRANT OPTION",
			"GRANT ALL PRIVILEGES ON `shop`.* TO 'app_clone'@'%' WITH GRANT OPTION", true},
		{"resource limits kept", "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH MAX_QUERIES_PER_HOUR 10",
			"GRANT USAGE ON *.* TO 'app_clone'@'%' WITH MAX_QUERIES_PER_HOUR 10", true},
		{"database named with TO", "GRANT SELECT ON `a TO b`.* TO `app`@`%`", "GRANT SELECT ON `a TO b`.* TO 'app_clone'@'%'", true},
		{"role", "GRANT `reader` TO `app`@`%`", "GRANT `reader` TO 'app_clone'@'%'", true},
		{"default role", "SET DEFAULT ROLE `reader` FOR `app`@`%`", "SET DEFAULT ROLE `reader` FOR 'app_clone'@'%'", true},
		{"other user's line", "GRANT SELECT ON *.* TO `someone`@`%`", "", false},
		{"not a grant", "REVOKE SELECT ON *.* FROM `app`@`%`", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := retarget(tc.line, "app", "app_clone")
			if got != tc.want || ok != tc.ok {
				t.Fatalf("retarget = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
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
