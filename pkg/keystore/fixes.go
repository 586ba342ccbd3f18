package keystore

import "fmt"

// Fix is what a ConnectionErrorCode means for a CloudHSM key store and what the operator does
// about it. The meanings condense KMS's API reference (CustomKeyStoresListEntry) and the
// "Troubleshooting a custom key store" guide.
type Fix struct {
	Meaning string
	Action  string
}

// ConnectionErrorCodes of AWS_CLOUDHSM key stores. A FAILED store must be disconnected before it
// can be connected again, so every action ends with a reconnect (the create workflow's retry, or a
// stack update).
var fixes = map[string]Fix{
	"CLUSTER_NOT_FOUND": {
		Meaning: "KMS cannot find the CloudHSM cluster of the key store",
		Action:  "check that ClusterId names a cluster that exists in this account and Region and is not being deleted; a deleted cluster can be restored from a backup into a related cluster (UpdateCustomKeyStore CloudHsmClusterId)",
	},
	"INSUFFICIENT_CLOUDHSM_HSMS": {
		Meaning: "the cluster has no ACTIVE HSM (connecting needs at least one, creating keys two in different Availability Zones)",
		Action:  "add HSMs to the cluster (HsmCount 2 or more on the Custom::CloudHsmCluster), wait until they are ACTIVE, then retry",
	},
	"INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET": {
		Meaning: "a subnet of the cluster has no free IP address for the ENI that KMS creates in each Availability Zone",
		Action:  "free at least one IP address (two preferred) in every subnet of the cluster, then retry",
	},
	"INTERNAL_ERROR": {
		Meaning: "KMS could not complete the request because of an internal error",
		Action:  "retry (the store is disconnected first); if it persists, contact AWS Support",
	},
	"INVALID_CREDENTIALS": {
		Meaning: "the kmsuser password KMS holds does not log in to the cluster",
		Action:  "set a new kmsuser password on the cluster and tell KMS: run the keystore rotate-password workflow (it disconnects, changes the password on the HSM, calls UpdateCustomKeyStore KeyStorePassword and reconnects)",
	},
	"NETWORK_ERRORS": {
		Meaning: "network errors prevented KMS from reaching the cluster, usually transient",
		Action:  "check the cluster security group allows TCP 2223-2225 between the cluster and the kms-<key store id> group, and the subnets' routes and network ACLs, then retry",
	},
	"SUBNET_NOT_FOUND": {
		Meaning: "a subnet in the cluster's configuration was deleted",
		Action:  "create a subnet in that Availability Zone of the cluster's VPC (or restore the cluster from a backup into existing subnets), then retry",
	},
	"USER_LOCKED_OUT": {
		Meaning: "kmsuser is locked out of the cluster after too many failed password attempts",
		Action:  "as the cluster admin, set a new kmsuser password on the cluster (it unlocks the user), then run the rotate-password workflow so KMS holds it",
	},
	"USER_LOGGED_IN": {
		Meaning: "kmsuser is logged in to the cluster, so KMS cannot rotate its password and log in",
		Action:  "log kmsuser out of every cloudhsm-cli session (or wait for them to end), then retry",
	},
	"USER_NOT_FOUND": {
		Meaning: "the cluster has no kmsuser crypto user",
		Action:  "create the crypto user kmsuser on the cluster (the create workflow does this; recreate it if someone deleted it), then run the rotate-password workflow so KMS holds its password",
	},
}

// Explain returns a person-readable reason for a FAILED store: the code, what it means and the
// fix. An unknown code (a newer KMS) is still named, with the general remedy.
func Explain(code string) string {
	f, ok := fixes[code]
	if !ok {
		return fmt.Sprintf("ConnectionErrorCode %s: KMS could not connect the key store. Fix: see the ConnectionErrorCode in the KMS troubleshooting guide, correct it, then disconnect and reconnect the store", code)
	}
	return fmt.Sprintf("ConnectionErrorCode %s: %s. Fix: %s", code, f.Meaning, f.Action)
}

// Codes lists the ConnectionErrorCodes of CloudHSM key stores that Explain knows.
func Codes() []string {
	out := make([]string, 0, len(fixes))
	for c := range fixes {
		out = append(out, c)
	}
	return out
}
