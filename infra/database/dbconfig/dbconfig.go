// Package dbconfig reads and validates the context values (cdk.json or `cdk -c key=value`) that
// configure Strongroom's database stack: the VPC, the RDS MariaDB instance, the rotation schedule
// and the rotation function's password settings.
//
// It imports no CDK module on purpose, like infra/settings: its tests build in seconds and can check
// every error. Each error names the context key and says how to fix the value. The schedule is
// checked by pkg/rotationschedule and the password settings by pkg/rotation (the rotation
// function's own checks), so synthesis refuses exactly what would fail later.
package dbconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/rotationschedule"
)

// Context keys read by the database stack.
const (
	KeyVpcID                  = "strongroom:vpcId"
	KeyDeletionProtection     = "strongroom:dbDeletionProtection"
	KeyBackupRetentionDays    = "strongroom:dbBackupRetentionDays"
	KeyMultiAZ                = "strongroom:dbMultiAz"
	KeyIAMAuthentication      = "strongroom:dbIamAuthentication"
	KeyInstanceType           = "strongroom:dbInstanceType"
	KeyRotationSchedule       = "strongroom:rotationSchedule"
	KeyRotationWindow         = "strongroom:rotationWindow"
	KeyPasswordLength         = "strongroom:dbPasswordLength"
	KeyPasswordExcludeCharset = "strongroom:dbPasswordExcludeCharacters"
	KeyMaxConnections         = "strongroom:dbMaxConnections"
	KeyAppGrants              = "strongroom:dbAppGrants"
)

// Defaults of the values above.
const (
	DefaultBackupRetentionDays = 7
	// DefaultInstanceType is the smallest Graviton burstable class RDS for MariaDB offers.
	DefaultInstanceType     = "t4g.micro"
	DefaultRotationSchedule = "rate(30 days)"
	DefaultRotationWindow   = "4h"
)

// DefaultAppGrants are the application user's grants: reading and writing the rows of the stack's
// database (infra/database's DatabaseName), nothing else.
var DefaultAppGrants = []string{"SELECT, INSERT, UPDATE, DELETE ON app.*"}

// RDS limits on automated backup retention. Zero (no backups) is refused on purpose: the stack keeps
// backups, and cdk-nag's AwsSolutions-RDS13 requires them.
const (
	MinBackupRetentionDays = 1
	MaxBackupRetentionDays = 35
)

// Config is the validated configuration of the database stack.
type Config struct {
	// VpcID imports an existing VPC (it must have isolated subnets); empty creates one.
	VpcID               string
	DeletionProtection  bool
	BackupRetentionDays int
	MultiAZ             bool
	IAMAuthentication   bool
	// InstanceType is the RDS class without its "db." prefix, for example t4g.micro.
	InstanceType string
	// Schedule is the checked rotation schedule; Window is the Duration property ("4h"), empty
	// for Secrets Manager's default window.
	Schedule *rotationschedule.Schedule
	Window   string
	// PasswordLength and ExcludeCharacters go to the rotation function as PASSWORD_LENGTH and
	// EXCLUDE_CHARACTERS; CDK's generated initial passwords use them too.
	PasswordLength    int
	ExcludeCharacters string
	// MaxConnections is the instance's max_connections that the connections alarm takes 80% of:
	// KeyMaxConnections when set (MaxConnectionsFromContext), else InstanceType's estimate
	// (EstimatedMaxConnections).
	MaxConnections            int
	MaxConnectionsFromContext bool
	// AppGrants are the application user's grants (KeyAppGrants, else DefaultAppGrants), as
	// rotation.ParseGrants checked and writes them; the database user resource grants them.
	AppGrants []string
}

// Lookup returns the context value stored under a key, or nil when there is none: settings.Lookup,
// whose readers (settings.String, settings.RawString) this package shares.
type Lookup = settings.Lookup

var (
	vpcIDRE        = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

// Read validates every database context value and reports all problems together.
func Read(ctx Lookup) (Config, error) {
	c := Config{
		DeletionProtection:  true,
		BackupRetentionDays: DefaultBackupRetentionDays,
		InstanceType:        DefaultInstanceType,
		PasswordLength:      rotation.DefaultPasswordLength,
		ExcludeCharacters:   rotation.DefaultExcludeCharacters,
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	if v, err := settings.String(ctx, KeyVpcID); err != nil {
		add(err)
	} else if v != "" && !vpcIDRE.MatchString(v) {
		add(fmt.Errorf("context %s: %q is not a VPC id; use the id of a VPC with isolated subnets, such as vpc-0a1b2c3d4e5f67890, or remove the key to create one", KeyVpcID, v))
	} else {
		c.VpcID = v
	}

	for _, b := range []struct {
		key string
		dst *bool
	}{
		{KeyDeletionProtection, &c.DeletionProtection},
		{KeyMultiAZ, &c.MultiAZ},
		{KeyIAMAuthentication, &c.IAMAuthentication},
	} {
		add(boolean(ctx, b.key, b.dst))
	}

	if n, ok, err := integer(ctx, KeyBackupRetentionDays); err != nil {
		add(err)
	} else if ok {
		if n < MinBackupRetentionDays || n > MaxBackupRetentionDays {
			add(fmt.Errorf("context %s: %d days is outside RDS's %d-%d; backups cannot be turned off in this stack", KeyBackupRetentionDays, n, MinBackupRetentionDays, MaxBackupRetentionDays))
		} else {
			c.BackupRetentionDays = n
		}
	}

	if v, err := settings.String(ctx, KeyInstanceType); err != nil {
		add(err)
	} else if v != "" {
		v = strings.TrimPrefix(v, "db.")
		if !instanceTypeRE.MatchString(v) {
			add(fmt.Errorf("context %s: %q is not an instance class; use one such as t4g.micro or m7g.large (the \"db.\" prefix is optional)", KeyInstanceType, v))
		} else {
			c.InstanceType = v
		}
	}
	add(c.readMaxConnections(ctx))
	add(c.readAppGrants(ctx))

	add(c.readSchedule(ctx))
	add(c.readPassword(ctx))

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// readAppGrants reads KeyAppGrants: a JSON list of grants (cdk.json), or one string of grants
// separated by ";" (`-c`, whose values are strings; a grant's privileges are separated by commas).
func (c *Config) readAppGrants(ctx Lookup) error {
	var specs []string
	switch v := ctx(KeyAppGrants).(type) {
	case nil:
		specs = DefaultAppGrants
	case string:
		for _, s := range strings.Split(v, ";") {
			if s = strings.TrimSpace(s); s != "" {
				specs = append(specs, s)
			}
		}
	case []any:
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return fmt.Errorf("context %s: item %d is %v, not a string; write each grant as a string such as %q", KeyAppGrants, i+1, item, DefaultAppGrants[0])
			}
			specs = append(specs, s)
		}
	default:
		return fmt.Errorf("context %s: %v is not a list of grants; set a list such as [%q]", KeyAppGrants, v, DefaultAppGrants[0])
	}
	grants, err := rotation.ParseGrants(specs)
	if err != nil {
		return fmt.Errorf("context %s: %w", KeyAppGrants, err)
	}
	c.AppGrants = nil
	for _, g := range grants {
		c.AppGrants = append(c.AppGrants, g.String())
	}
	return nil
}

// readSchedule checks the schedule and its window together: a window is only valid relative to its
// schedule, and pkg/rotationschedule names the part at fault, which decides the key we name.
func (c *Config) readSchedule(ctx Lookup) error {
	expr, err := settings.String(ctx, KeyRotationSchedule)
	if err != nil {
		return err
	}
	window, err := settings.String(ctx, KeyRotationWindow)
	if err != nil {
		return err
	}
	if ctx(KeyRotationSchedule) == nil {
		expr = DefaultRotationSchedule
	}
	if ctx(KeyRotationWindow) == nil {
		window = DefaultRotationWindow
	}
	s, err := rotationschedule.Parse(expr, window)
	if err != nil {
		key := KeyRotationSchedule
		var se *rotationschedule.Error
		if errors.As(err, &se) && se.Field == "Duration" {
			key = KeyRotationWindow
		}
		return fmt.Errorf("context %s: %w (rate(N hours|days) of at least 4 hours, or cron(0 H D M W *) in UTC, with a window such as \"4h\")", key, err)
	}
	c.Schedule, c.Window = s, window
	return nil
}

// readPassword validates the password settings with the rotation function's own parser, through the
// environment variables the stack will give it. TLS is set to "disabled" for this check only: the
// CA bundle path is a path inside the Lambda, which does not exist on the synthesizing machine.
func (c *Config) readPassword(ctx Lookup) error {
	env := map[string]string{rotation.EnvTLS: "disabled"}
	var errs []error
	if n, ok, err := integer(ctx, KeyPasswordLength); err != nil {
		errs = append(errs, err)
	} else if ok {
		env[rotation.EnvPasswordLength] = strconv.Itoa(n)
	}
	if ctx(KeyPasswordExcludeCharset) != nil {
		// Spaces kept: a space is a meaningful excluded character.
		v, err := settings.RawString(ctx, KeyPasswordExcludeCharset)
		if err != nil {
			errs = append(errs, err)
		} else {
			env[rotation.EnvExcludeCharacters] = v
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg, err := rotation.ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		key := KeyPasswordLength
		if strings.Contains(err.Error(), rotation.EnvExcludeCharacters) {
			key = KeyPasswordExcludeCharset
		}
		return fmt.Errorf("context %s: %w", key, err)
	}
	if cfg.PasswordLength != 0 {
		c.PasswordLength = cfg.PasswordLength
	}
	if cfg.ExcludeCharacters != nil {
		c.ExcludeCharacters = *cfg.ExcludeCharacters
	}
	return nil
}

// boolean accepts a JSON boolean (cdk.json) or the strings "true"/"false" (`-c key=false` always
// yields a string); a missing key keeps *dst.
func boolean(ctx Lookup, key string, dst *bool) error {
	switch v := ctx(key).(type) {
	case nil:
		return nil
	case bool:
		*dst = v
		return nil
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*dst = true
			return nil
		case "false":
			*dst = false
			return nil
		}
	}
	return fmt.Errorf("context %s: %v is not a boolean; set true or false", key, ctx(key))
}

// integer accepts a JSON number or a numeric string; ok is false when the key is missing.
func integer(ctx Lookup, key string) (n int, ok bool, err error) {
	bad := fmt.Errorf("context %s: %v is not a whole number; set one such as 7", key, ctx(key))
	switch v := ctx(key).(type) {
	case nil:
		return 0, false, nil
	case float64:
		if v != float64(int(v)) {
			return 0, false, bad
		}
		return int(v), true, nil
	case int:
		return v, true, nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, false, bad
		}
		return n, true, nil
	default:
		return 0, false, bad
	}
}
