package settings

import (
	"reflect"
	"strings"
	"testing"
)

// TestResourceKeys: each cluster and key store key, from cdk.json (JSON types) or -c (strings),
// becomes its property, as the resource's validator normalizes it; unset keys set nothing.
func TestResourceKeys(t *testing.T) {
	cases := []struct {
		name           string
		ctx            map[string]any
		cluster, store map[string]any
	}{
		{"none set", map[string]any{KeyHsmType: "", KeyKeyStoreName: " "}, nil, nil},
		{"cdk.json values", map[string]any{
			KeyHsmCount: 3.0, KeyHsmType: "hsm2m.medium", KeyClusterMode: "NON_FIPS", KeyClusterNetworkType: "DUALSTACK",
			KeyClusterBackupRetentionDays: 30.0, KeyClusterSourceBackupID: "backup-abcdefghijk", KeyCustomerCaKeyType: "RSA_4096",
			KeyCustomerCaValidityDays: 730.0, KeyClusterTags: map[string]any{"team": "payments"}, KeyIgnoreConnectedKeyStores: true,
			KeyKeyStoreName: "payments-keys", KeyDeleteKeyStoreOnStackDeletion: true,
		}, map[string]any{
			"HsmCount": "3", "HsmType": "hsm2m.medium", "Mode": "NON_FIPS", "NetworkType": "DUALSTACK", "BackupRetentionDays": "30",
			"SourceBackupId": "backup-abcdefghijk", "CustomerCaKeyType": "RSA_4096", "CustomerCaValidityDays": "730",
			"Tags": map[string]string{"team": "payments"}, "IgnoreConnectedKeyStores": "true",
		}, map[string]any{"KeyStoreName": "payments-keys", "DeleteKeyStoreOnStackDeletion": "true"}},
		{"-c strings", map[string]any{
			KeyHsmCount: " 4", KeyAdoptClusterID: "cluster-abcdefghijk", KeyClusterTags: `{"env":"dev"}`,
			KeyIgnoreConnectedKeyStores: "false", KeyDeleteKeyStoreOnStackDeletion: "false",
		}, map[string]any{
			"HsmCount": "4", "ClusterId": "cluster-abcdefghijk", "Tags": map[string]string{"env": "dev"}, "IgnoreConnectedKeyStores": "false",
		}, map[string]any{"DeleteKeyStoreOnStackDeletion": "false"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Read(MapLookup(c.ctx), MapLookup(nil))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.ClusterProperties, c.cluster) {
				t.Errorf("ClusterProperties = %#v, want %#v", s.ClusterProperties, c.cluster)
			}
			if !reflect.DeepEqual(s.KeyStoreProperties, c.store) {
				t.Errorf("KeyStoreProperties = %#v, want %#v", s.KeyStoreProperties, c.store)
			}
		})
	}
}

// TestResourceKeysRefused: a value the resource's validator refuses fails with the context key,
// the validator's reason, the property and the fix; every problem is reported at once.
func TestResourceKeysRefused(t *testing.T) {
	cases := []struct {
		name string
		ctx  map[string]any
		want []string
	}{
		{"no HSM", map[string]any{KeyHsmCount: 0.0}, []string{KeyHsmCount, "between 1 and 28", "HsmCount"}},
		{"too many HSMs", map[string]any{KeyHsmCount: "29"}, []string{KeyHsmCount, "between 1 and 28"}},
		{"count not a number", map[string]any{KeyHsmCount: "two"}, []string{KeyHsmCount, "whole number"}},
		{"hsm1 for a new cluster", map[string]any{KeyHsmType: "hsm1.medium"}, []string{KeyHsmType, "no longer be used for new clusters", "hsm2m.medium"}},
		{"not an HSM type", map[string]any{KeyHsmType: "m5.large"}, []string{KeyHsmType, "not an HSM type"}},
		{"mode", map[string]any{KeyClusterMode: "fips"}, []string{KeyClusterMode, "FIPS or NON_FIPS"}},
		{"network type", map[string]any{KeyClusterNetworkType: "IPV6"}, []string{KeyClusterNetworkType, "IPV4 or DUALSTACK"}},
		{"backups kept 6 days", map[string]any{KeyClusterBackupRetentionDays: 6.0}, []string{KeyClusterBackupRetentionDays, "between 7 and 379"}},
		{"backups kept 380 days", map[string]any{KeyClusterBackupRetentionDays: "380"}, []string{KeyClusterBackupRetentionDays, "between 7 and 379"}},
		{"backup id", map[string]any{KeyClusterSourceBackupID: "bkp-1"}, []string{KeyClusterSourceBackupID, "not a backup id"}},
		{"cluster id", map[string]any{KeyAdoptClusterID: "cluster-1"}, []string{KeyAdoptClusterID, "not a cluster id"}},
		{"adopt and restore", map[string]any{KeyAdoptClusterID: "cluster-abcdefghijk", KeyClusterSourceBackupID: "backup-abcdefghijk"},
			[]string{KeyClusterSourceBackupID, "cannot be combined with ClusterId"}},
		{"CA key type", map[string]any{KeyCustomerCaKeyType: "EC_P256"}, []string{KeyCustomerCaKeyType, "RSA_2048 or RSA_4096"}},
		{"CA validity", map[string]any{KeyCustomerCaValidityDays: 0.0}, []string{KeyCustomerCaValidityDays, "between 1 and"}},
		{"reserved tag", map[string]any{KeyClusterTags: map[string]any{"strongroom:owner": "x"}}, []string{KeyClusterTags, "Tags.strongroom:owner", "Strongroom's own"}},
		{"tags not JSON", map[string]any{KeyClusterTags: "team=payments"}, []string{KeyClusterTags, "not JSON"}},
		{"ignore key stores", map[string]any{KeyIgnoreConnectedKeyStores: "yes"}, []string{KeyIgnoreConnectedKeyStores, "true or false"}},
		{"key store name too long", map[string]any{KeyKeyStoreName: strings.Repeat("k", 257)}, []string{KeyKeyStoreName, "KMS accepts 1 to 256"}},
		{"delete flag", map[string]any{KeyDeleteKeyStoreOnStackDeletion: "maybe"}, []string{KeyDeleteKeyStoreOnStackDeletion, "not a boolean"}},
		{"all at once", map[string]any{KeyHsmType: "x", KeyClusterMode: "y", KeyKeyStoreName: strings.Repeat("k", 300)},
			[]string{KeyHsmType, KeyClusterMode, KeyKeyStoreName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(MapLookup(c.ctx), MapLookup(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(c.want, "remove the key for the default") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
