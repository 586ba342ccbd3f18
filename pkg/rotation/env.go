package rotation

import (
	"fmt"
	"strconv"

	"github.com/strongroom/strongroom/pkg/dbsecret"
)

// Environment variables of the rotation function. None holds a secret.
const (
	EnvPasswordLength    = "PASSWORD_LENGTH"    // default 32, 16-128
	EnvExcludeCharacters = "EXCLUDE_CHARACTERS" // default DefaultExcludeCharacters; set and empty excludes nothing
	EnvTLS               = "DB_TLS"             // "required" (default) or "disabled"
	EnvCABundle          = "DB_CA_BUNDLE"       // PEM path; required with DB_TLS=required
	EnvStrategy          = "ROTATION_STRATEGY"  // "", "single-user" or "alternating-users"
)

// ConfigFromEnv reads the settings above through lookup (os.LookupEnv in the Lambda). Errors name
// the variable and the fix.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	if v, ok := lookup(EnvPasswordLength); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < MinPasswordLength || n > MaxPasswordLength {
			return Config{}, fmt.Errorf("%s=%q: must be a whole number from %d to %d", EnvPasswordLength, v, MinPasswordLength, MaxPasswordLength)
		}
		cfg.PasswordLength = n
	}
	if v, ok := lookup(EnvExcludeCharacters); ok {
		if err := checkExclusions(v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvExcludeCharacters, err)
		}
		cfg.ExcludeCharacters = &v
	}
	var err error
	if cfg.TLS, err = TLSFromEnv(lookup); err != nil {
		return Config{}, err
	}
	strategy, _ := lookup(EnvStrategy)
	if cfg.Strategy, err = ParseStrategy(strategy); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvStrategy, err)
	}
	return cfg, nil
}

// TLSFromEnv reads DB_TLS and DB_CA_BUNDLE through lookup: the TLS settings of every function that
// logs in to the database (the rotation function, and lambdas/dbuser, which creates the
// application user). Errors name the variable and the fix.
func TLSFromEnv(lookup func(string) (string, bool)) (dbsecret.TLS, error) {
	tlsSetting, _ := lookup(EnvTLS)
	mode, err := dbsecret.ParseTLSMode(tlsSetting)
	if err != nil {
		return dbsecret.TLS{}, fmt.Errorf("%s: %w", EnvTLS, err)
	}
	bundle, _ := lookup(EnvCABundle)
	if mode == dbsecret.TLSRequired && bundle == "" {
		return dbsecret.TLS{}, fmt.Errorf("%s is not set: with %s=required (the default) it must be the path of the CA bundle that signs the database certificate "+
			"(the RDS global bundle shipped with the function); set %s=disabled only for a database without TLS", EnvCABundle, EnvTLS, EnvTLS)
	}
	t, err := dbsecret.NewTLS(mode, bundle)
	if err != nil {
		return dbsecret.TLS{}, fmt.Errorf("%s/%s: %w", EnvTLS, EnvCABundle, err)
	}
	return t, nil
}
