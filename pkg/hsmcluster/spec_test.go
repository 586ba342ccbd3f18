package hsmcluster_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
)

var defaults = hsmcluster.Defaults{SecretPrefix: "strongroom/Stack/Cluster"}

// props decodes JSON the way the custom-resource Lambda receives it.
func props(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const valid = `{"ServiceToken":"arn:aws:lambda:us-east-1:123456789012:function:entry","SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0"}`

func TestParseDefaults(t *testing.T) {
	s, err := hsmcluster.Parse(props(t, valid), defaults)
	if err != nil {
		t.Fatal(err)
	}
	if s.HsmCount != 2 || s.HsmType != "hsm2m.medium" || s.Mode != "FIPS" || s.NetworkType != "IPV4" || s.BackupRetentionDays != 90 {
		t.Fatalf("defaults: %+v", s)
	}
	if s.AdminSecretName != "strongroom/Stack/Cluster/admin-password" || s.CACertSecretName != "strongroom/Stack/Cluster/customer-ca/certificate" {
		t.Fatalf("secret names: %+v", s)
	}
}

// CloudFormation sends every scalar as a string.
func TestParseStringScalars(t *testing.T) {
	s, err := hsmcluster.Parse(props(t, `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmCount":"3","BackupRetentionDays":"30","Tags":[{"Key":"team","Value":"sec"}]}`), defaults)
	if err != nil {
		t.Fatal(err)
	}
	if s.HsmCount != 3 || s.BackupRetentionDays != 30 || s.Tags["team"] != "sec" {
		t.Fatalf("%+v", s)
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name, js, field string
	}{
		{"one subnet", `{"SubnetIds":["subnet-0123456789abcdef0"],"ClientInstanceId":"i-0123456789abcdef0"}`, "SubnetIds"},
		{"no subnets", `{"ClientInstanceId":"i-0123456789abcdef0"}`, "SubnetIds"},
		{"duplicate subnet", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef0"],"ClientInstanceId":"i-0123456789abcdef0"}`, "SubnetIds[1]"},
		{"malformed subnet", `{"SubnetIds":["subnet-zz","subnet-0123456789abcdef0"],"ClientInstanceId":"i-0123456789abcdef0"}`, "SubnetIds[0]"},
		{"HsmCount 0", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmCount":0}`, "HsmCount"},
		{"HsmCount above limit", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmCount":"29"}`, "HsmCount"},
		{"HsmCount not a number", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmCount":"two"}`, "HsmCount"},
		{"hsm1", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmType":"hsm1.medium"}`, "HsmType"},
		{"mode", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","Mode":"fips"}`, "Mode"},
		{"network", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","NetworkType":"IPV6"}`, "NetworkType"},
		{"backup days", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","BackupRetentionDays":"400"}`, "BackupRetentionDays"},
		{"source backup", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","SourceBackupId":"bkp-1"}`, "SourceBackupId"},
		{"no client instance", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]}`, "ClientInstanceId"},
		{"malformed instance", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"instance-1"}`, "ClientInstanceId"},
		{"malformed secret name", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","AdminPasswordSecretName":"admin password!"}`, "AdminPasswordSecretName"},
		{"secret name with ARN-like suffix", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","CustomerCaKeySecretName":"ca-key-abcdef"}`, "CustomerCaKeySecretName"},
		{"EC CA", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","CustomerCaKeyType":"EC_P256"}`, "CustomerCaKeyType"},
		{"typo", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmCuont":3}`, "HsmCuont"},
		{"adopt and restore", `{"ClusterId":"cluster-abcdefghijk","SourceBackupId":"backup-abcdefghijk","ClientInstanceId":"i-0123456789abcdef0"}`, "SourceBackupId"},
		{"aws: tag", `{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","Tags":{"aws:x":"y"}}`, "Tags.aws:x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hsmcluster.Parse(props(t, tc.js), defaults)
			if !errors.Is(err, customresource.ErrInvalidProperties) {
				t.Fatalf("err = %v, want ErrInvalidProperties", err)
			}
			var es *customresource.PropertyErrors
			if !errors.As(err, &es) {
				t.Fatalf("not PropertyErrors: %T", err)
			}
			found := false
			for _, e := range es.List {
				if e.Property == tc.field {
					found = true
				}
			}
			if !found || !strings.Contains(err.Error(), tc.field+": ") {
				t.Fatalf("error %q does not name field %s", err, tc.field)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	base, err := hsmcluster.Parse(props(t, valid), defaults)
	if err != nil {
		t.Fatal(err)
	}
	scaled := base
	scaled.HsmCount = 4
	scaled.SubnetIDs = []string{base.SubnetIDs[1], base.SubnetIDs[0]} // reordered: no change
	c, err := hsmcluster.Diff(base, scaled)
	if err != nil || c.HsmDelta != 2 || len(c.Others) != 0 {
		t.Fatalf("scale up: %+v %v", c, err)
	}
	down := base
	down.HsmCount = 1
	down.BackupRetentionDays = 30
	if c, err := hsmcluster.Diff(base, down); err != nil || c.HsmDelta != -1 || len(c.Others) != 1 || c.Others[0] != "BackupRetentionDays" {
		t.Fatalf("scale down: %+v %v", c, err)
	}
	moved := base
	moved.SubnetIDs = []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef9"}
	moved.Mode = "NON_FIPS"
	_, err = hsmcluster.Diff(base, moved)
	if err == nil || !strings.Contains(err.Error(), "SubnetIds: cannot be changed") || !strings.Contains(err.Error(), "Mode: cannot be changed") {
		t.Fatalf("immutable change: %v", err)
	}
}

func TestImmutableHash(t *testing.T) {
	base, err := hsmcluster.Parse(props(t, valid), defaults)
	if err != nil {
		t.Fatal(err)
	}
	same := base
	same.HsmCount, same.BackupRetentionDays, same.Tags = 5, 30, map[string]string{"a": "b"}
	same.SubnetIDs = []string{base.SubnetIDs[1], base.SubnetIDs[0]}
	if hsmcluster.ImmutableHash(base) != hsmcluster.ImmutableHash(same) {
		t.Fatal("a mutable change (or a subnet reorder) changed the immutable hash")
	}
	for name, change := range map[string]func(*hsmcluster.Spec){
		"Mode": func(s *hsmcluster.Spec) { s.Mode = "NON_FIPS" },
		"SubnetIds": func(s *hsmcluster.Spec) {
			s.SubnetIDs = []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef9"}
		},
		"CA secret": func(s *hsmcluster.Spec) { s.CACertSecretName = "other/ca" },
	} {
		c := base
		change(&c)
		if hsmcluster.ImmutableHash(c) == hsmcluster.ImmutableHash(base) {
			t.Errorf("%s changed but the immutable hash did not", name)
		}
	}
}
