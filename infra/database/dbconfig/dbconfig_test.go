package dbconfig

import (
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/pkg/rotation"
)

func TestDefaults(t *testing.T) {
	c, err := Read(settings.MapLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.VpcID != "" || !c.DeletionProtection || c.BackupRetentionDays != 7 || c.MultiAZ || c.IAMAuthentication || c.InstanceType != "t4g.micro" {
		t.Errorf("defaults = %+v", c)
	}
	if c.Schedule.Expression != "rate(30 days)" || c.Window != "4h" || c.Schedule.Window != 4*time.Hour {
		t.Errorf("schedule = %+v, window %q", c.Schedule, c.Window)
	}
	if c.PasswordLength != rotation.DefaultPasswordLength || c.ExcludeCharacters != rotation.DefaultExcludeCharacters {
		t.Errorf("password settings = %d %q", c.PasswordLength, c.ExcludeCharacters)
	}
	// t4g.micro's 1 GiB, three quarters of it usable: 805,306,368 / 12,582,880.
	if c.MaxConnections != 64 || c.MaxConnectionsFromContext {
		t.Errorf("max connections = %d (from context %v); want t4g.micro's estimate, 64", c.MaxConnections, c.MaxConnectionsFromContext)
	}
	if strings.Join(c.AppGrants, "|") != "DELETE, INSERT, SELECT, UPDATE ON app.*" {
		t.Errorf("app grants = %q", c.AppGrants)
	}
}

func TestValidValues(t *testing.T) {
	cases := []struct {
		name  string
		ctx   map[string]any
		check func(Config) bool
	}{
		{"vpc id, 17 hex", map[string]any{KeyVpcID: "vpc-0a1b2c3d4e5f67890"}, func(c Config) bool { return c.VpcID == "vpc-0a1b2c3d4e5f67890" }},
		{"vpc id, 8 hex", map[string]any{KeyVpcID: "vpc-0a1b2c3d"}, func(c Config) bool { return c.VpcID == "vpc-0a1b2c3d" }},
		{"deletion protection off (JSON)", map[string]any{KeyDeletionProtection: false}, func(c Config) bool { return !c.DeletionProtection }},
		{"deletion protection off (-c string)", map[string]any{KeyDeletionProtection: "False"}, func(c Config) bool { return !c.DeletionProtection }},
		{"multi-AZ on", map[string]any{KeyMultiAZ: "true"}, func(c Config) bool { return c.MultiAZ }},
		{"IAM authentication on", map[string]any{KeyIAMAuthentication: true}, func(c Config) bool { return c.IAMAuthentication }},
		{"backup retention number", map[string]any{KeyBackupRetentionDays: float64(35)}, func(c Config) bool { return c.BackupRetentionDays == 35 }},
		{"backup retention string", map[string]any{KeyBackupRetentionDays: " 14 "}, func(c Config) bool { return c.BackupRetentionDays == 14 }},
		{"instance type with db. prefix", map[string]any{KeyInstanceType: "db.m7g.large"}, func(c Config) bool { return c.InstanceType == "m7g.large" }},
		{"max connections from the class", map[string]any{KeyInstanceType: "r6g.large"}, func(c Config) bool { return c.MaxConnections == 1024 && !c.MaxConnectionsFromContext }},
		{"max connections given", map[string]any{KeyMaxConnections: float64(90)}, func(c Config) bool { return c.MaxConnections == 90 && c.MaxConnectionsFromContext }},
		{"max connections given (-c string)", map[string]any{KeyMaxConnections: "1300"}, func(c Config) bool { return c.MaxConnections == 1300 }},
		{"max connections given for a class not in the table", map[string]any{KeyInstanceType: "x2g.large", KeyMaxConnections: float64(2500)}, func(c Config) bool {
			return c.InstanceType == "x2g.large" && c.MaxConnections == 2500
		}},
		{"rate in hours", map[string]any{KeyRotationSchedule: "rate(12 hours)", KeyRotationWindow: "2h"}, func(c Config) bool {
			return c.Schedule.Every == 12*time.Hour && c.Window == "2h"
		}},
		{"cron weekly", map[string]any{KeyRotationSchedule: "cron(0 4 ? * SUN *)", KeyRotationWindow: "3h"}, func(c Config) bool {
			return c.Schedule.Expression == "cron(0 4 ? * SUN *)" && c.Schedule.Window == 3*time.Hour
		}},
		{"default window when empty", map[string]any{KeyRotationSchedule: "rate(7 days)", KeyRotationWindow: ""}, func(c Config) bool {
			return c.Window == "" && c.Schedule.Window == 24*time.Hour
		}},
		{"password length", map[string]any{KeyPasswordLength: float64(48)}, func(c Config) bool { return c.PasswordLength == 48 }},
		{"exclude nothing", map[string]any{KeyPasswordExcludeCharset: ""}, func(c Config) bool { return c.ExcludeCharacters == "" }},
		{"app grants (JSON)", map[string]any{KeyAppGrants: []any{"select ON app.*", "INSERT, UPDATE ON app.orders"}}, func(c Config) bool {
			return strings.Join(c.AppGrants, "|") == "SELECT ON app.*|INSERT, UPDATE ON app.orders"
		}},
		{"app grants (-c string)", map[string]any{KeyAppGrants: "SELECT, INSERT ON app.*; EXECUTE ON app.*"}, func(c Config) bool {
			return strings.Join(c.AppGrants, "|") == "EXECUTE, INSERT, SELECT ON app.*"
		}},
		{"exclude a space too", map[string]any{KeyPasswordExcludeCharset: " '\"\\"}, func(c Config) bool { return c.ExcludeCharacters == " '\"\\" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Read(settings.MapLookup(tc.ctx))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v (schedule %+v) does not reflect %v", c, c.Schedule, tc.ctx)
			}
		})
	}
}

func TestInvalidValues(t *testing.T) {
	cases := []struct {
		name string
		ctx  map[string]any
		want []string // every fragment must appear in the error
	}{
		{"vpc id shape", map[string]any{KeyVpcID: "my-vpc"}, []string{KeyVpcID, `"my-vpc" is not a VPC id`}},
		{"vpc id not a string", map[string]any{KeyVpcID: 12.0}, []string{KeyVpcID, "want a string"}},
		{"deletion protection word", map[string]any{KeyDeletionProtection: "yes"}, []string{KeyDeletionProtection, "set true or false"}},
		{"multi-AZ number", map[string]any{KeyMultiAZ: 1.0}, []string{KeyMultiAZ, "not a boolean"}},
		{"backup retention zero", map[string]any{KeyBackupRetentionDays: 0.0}, []string{KeyBackupRetentionDays, "outside RDS's 1-35"}},
		{"backup retention 36", map[string]any{KeyBackupRetentionDays: "36"}, []string{KeyBackupRetentionDays, "outside"}},
		{"backup retention fraction", map[string]any{KeyBackupRetentionDays: 7.5}, []string{KeyBackupRetentionDays, "not a whole number"}},
		{"instance type", map[string]any{KeyInstanceType: "micro"}, []string{KeyInstanceType, "not an instance class"}},
		{"instance class not in the memory table", map[string]any{KeyInstanceType: "db.x2g.large"}, []string{KeyInstanceType, "x2g.large", "set " + KeyMaxConnections, "max_connections"}},
		{"max connections under MariaDB's minimum", map[string]any{KeyMaxConnections: 5.0}, []string{KeyMaxConnections, "outside MariaDB's 10-100000"}},
		{"max connections word", map[string]any{KeyMaxConnections: "many"}, []string{KeyMaxConnections, "not a whole number"}},
		{"rate under four hours", map[string]any{KeyRotationSchedule: "rate(2 hours)"}, []string{KeyRotationSchedule, "every 4 hours"}},
		{"rate unit", map[string]any{KeyRotationSchedule: "rate(2 weeks)"}, []string{KeyRotationSchedule, "rate(Value Unit)"}},
		{"neither rate nor cron", map[string]any{KeyRotationSchedule: "daily"}, []string{KeyRotationSchedule, "must be rate(...) or cron(...)"}},
		{"cron minutes", map[string]any{KeyRotationSchedule: "cron(30 4 * * ? *)"}, []string{KeyRotationSchedule, "Minutes", "must be 0"}},
		{"cron year", map[string]any{KeyRotationSchedule: "cron(0 4 * * ? 2027)"}, []string{KeyRotationSchedule, "Year", "must be *"}},
		{"cron both day fields", map[string]any{KeyRotationSchedule: "cron(0 4 * * * *)"}, []string{KeyRotationSchedule, "exactly one of them must be ?"}},
		{"cron hours too close", map[string]any{KeyRotationSchedule: "cron(0 0/2 * * ? *)", KeyRotationWindow: "1h"}, []string{KeyRotationSchedule, "Hours", "at most every 4 hours"}},
		{"cron five fields", map[string]any{KeyRotationSchedule: "cron(0 4 * * ?)"}, []string{KeyRotationSchedule, "has 5 fields"}},
		{"window pattern", map[string]any{KeyRotationWindow: "90m"}, []string{KeyRotationWindow, "pattern [0-9]+h"}},
		{"window into next UTC day", map[string]any{KeyRotationSchedule: "cron(0 22 ? * SUN *)", KeyRotationWindow: "4h"}, []string{KeyRotationWindow, "next UTC day"}},
		{"window longer than rate", map[string]any{KeyRotationSchedule: "rate(4 hours)", KeyRotationWindow: "5h"}, []string{KeyRotationWindow, "longer than the 4 hours"}},
		{"schedule not a string", map[string]any{KeyRotationSchedule: []any{"rate(1 days)"}}, []string{KeyRotationSchedule, "want a string"}},
		{"password too short", map[string]any{KeyPasswordLength: 8.0}, []string{KeyPasswordLength, "from 16 to 128"}},
		{"password length word", map[string]any{KeyPasswordLength: "long"}, []string{KeyPasswordLength, "not a whole number"}},
		{"app grants global", map[string]any{KeyAppGrants: []any{"SELECT ON *.*"}}, []string{KeyAppGrants, "grant 1", "global privileges"}},
		{"app grants all privileges", map[string]any{KeyAppGrants: "ALL ON app.*"}, []string{KeyAppGrants, "ALL is refused"}},
		{"app grants unknown privilege", map[string]any{KeyAppGrants: []any{"SELECT ON app.*", "FILE ON app.*"}}, []string{KeyAppGrants, "grant 2", `"FILE"`}},
		{"app grants empty", map[string]any{KeyAppGrants: []any{}}, []string{KeyAppGrants, "at least one"}},
		{"app grants not strings", map[string]any{KeyAppGrants: []any{1.0}}, []string{KeyAppGrants, "item 1", "not a string"}},
		{"app grants an object", map[string]any{KeyAppGrants: map[string]any{"app": "SELECT"}}, []string{KeyAppGrants, "not a list of grants"}},
		{"exclude everything", map[string]any{KeyPasswordExcludeCharset: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + rotation.DefaultExcludeCharacters + "-_. "}, []string{KeyPasswordExcludeCharset}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(settings.MapLookup(tc.ctx))
			if err == nil {
				t.Fatalf("Read(%v) accepted", tc.ctx)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	_, err := Read(settings.MapLookup(map[string]any{KeyVpcID: "x", KeyRotationSchedule: "rate(1 hours)", KeyBackupRetentionDays: 0.0}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{KeyVpcID, KeyRotationSchedule, KeyBackupRetentionDays} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

// TestMaxConnectionsEstimate: the estimate of every class in the table is under what RDS gives it,
// as far as AWS documents it: under the whole memory's {DBInstanceClassMemory/12582880}, under
// "around 1,300" for 16 GiB (the user guide's one example), and within MariaDB's range.
func TestMaxConnectionsEstimate(t *testing.T) {
	if len(classMemoryGiB) < 40 {
		t.Fatalf("%d classes in the table", len(classMemoryGiB))
	}
	for class, gib := range classMemoryGiB {
		n, ok := EstimatedMaxConnections(class)
		whole := int(int64(gib) << 30 / MaxConnectionsDivisor)
		if !ok || n <= 0 || n >= whole || n < MinMaxConnections || n > MaxMaxConnections {
			t.Errorf("%s (%d GiB): estimate %d, %v; want under the whole memory's %d and within %d-%d", class, gib, n, ok, whole, MinMaxConnections, MaxMaxConnections)
		}
		if !instanceTypeRE.MatchString(class) {
			t.Errorf("%s is not a class %s accepts", class, KeyInstanceType)
		}
	}
	if n, _ := EstimatedMaxConnections("m6g.xlarge"); n != 1024 || n >= 1300 {
		t.Errorf("16 GiB class: estimate %d; want 1024, under AWS's example of about 1,300", n)
	}
	if _, ok := EstimatedMaxConnections("x2g.large"); ok {
		t.Error("x2g.large has an estimate; it is not in the table")
	}
}
