package keystore

import "strings"

// StoreRef names a key store in a payload.
type StoreRef struct {
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
}

// StoreView is DescribeCustomKeyStores reduced to what the state machines' Choice states test.
type StoreView struct {
	CustomKeyStoreID    string `json:"CustomKeyStoreId"`
	Found               bool   `json:"Found"`
	Name                string `json:"Name,omitempty"`
	ClusterID           string `json:"ClusterId,omitempty"`
	State               string `json:"State"`
	ConnectionErrorCode string `json:"ConnectionErrorCode,omitempty"`
	// Reason is set when State is FAILED: the code, its meaning and the fix (Explain); "" in
	// any other state. It is always emitted: the workflows read it as the failure's cause when
	// State is FAILED ($.Store.Reason), which omitempty would hide from the contract check
	// (pkg/sandbox/asl/contract).
	Reason string `json:"Reason"`
}

// FailedCreateSuffix marks the PhysicalResourceId a failed Create answers while a store it made
// remains (statemachines/keystore-create.asl.json): CloudFormation's rollback Delete then removes
// that store, with kmsuser and the password secret, whatever DeleteKeyStoreOnStackDeletion says,
// because nothing in it can be anyone's yet.
const FailedCreateSuffix = "/failed-create"

// StoreOf reads a PhysicalResourceId: the store's id, and whether a failed Create named it.
func StoreOf(physicalID string) (storeID string, failedCreate bool) {
	if id, ok := strings.CutSuffix(physicalID, FailedCreateSuffix); ok {
		return id, true
	}
	return physicalID, false
}
