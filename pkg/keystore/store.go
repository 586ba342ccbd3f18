package keystore

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
	// Reason is set when State is FAILED: the code, its meaning and the fix (Explain).
	Reason string `json:"Reason,omitempty"`
}
