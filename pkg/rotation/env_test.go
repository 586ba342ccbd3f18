package rotation_test

import (
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c rotation.Config)
	}{
		{"defaults with a CA bundle", map[string]string{"DB_CA_BUNDLE": db.CAFile}, "", func(t *testing.T, c rotation.Config) {
			if c.PasswordLength != 0 || c.ExcludeCharacters != nil || c.TLS.Mode != dbsecret.TLSRequired || c.Strategy != rotation.StrategyAuto {
				t.Fatalf("config %+v", c)
			}
		}},
		{"everything set", map[string]string{"DB_CA_BUNDLE": db.CAFile, "PASSWORD_LENGTH": "40", "EXCLUDE_CHARACTERS": "abc",
			"ROTATION_STRATEGY": "alternating-users"}, "", func(t *testing.T, c rotation.Config) {
			if c.PasswordLength != 40 || *c.ExcludeCharacters != "abc" || c.Strategy != rotation.StrategyAlternating {
				t.Fatalf("config %+v", c)
			}
		}},
		{"empty exclusions exclude nothing", map[string]string{"DB_TLS": "disabled", "EXCLUDE_CHARACTERS": ""}, "", func(t *testing.T, c rotation.Config) {
			if c.ExcludeCharacters == nil || *c.ExcludeCharacters != "" || c.TLS.Mode != dbsecret.TLSDisabled {
				t.Fatalf("config %+v", c)
			}
		}},
		{"TLS required without a bundle", map[string]string{}, "DB_CA_BUNDLE is not set", nil},
		{"bundle missing on disk", map[string]string{"DB_CA_BUNDLE": "/nonexistent/ca.pem"}, "DB_TLS/DB_CA_BUNDLE", nil},
		{"unknown TLS mode", map[string]string{"DB_TLS": "skip-verify"}, "DB_TLS", nil},
		{"length not a number", map[string]string{"DB_TLS": "disabled", "PASSWORD_LENGTH": "long"}, "PASSWORD_LENGTH", nil},
		{"length too short", map[string]string{"DB_TLS": "disabled", "PASSWORD_LENGTH": "8"}, "PASSWORD_LENGTH", nil},
		{"unknown strategy", map[string]string{"DB_TLS": "disabled", "ROTATION_STRATEGY": "multi"}, "ROTATION_STRATEGY", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rotation.ConfigFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
