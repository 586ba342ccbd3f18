package keystore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

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

func describeStore(ctx context.Context, api StoreDescriber, id string) (StoreView, error) {
	v := StoreView{CustomKeyStoreID: id}
	out, err := api.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	var nf *kmstypes.CustomKeyStoreNotFoundException
	if errors.As(err, &nf) {
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("describe key store %s: %w", id, err)
	}
	for _, s := range out.CustomKeyStores {
		if aws.ToString(s.CustomKeyStoreId) != id {
			continue
		}
		v.Found = true
		v.Name, v.ClusterID = aws.ToString(s.CustomKeyStoreName), aws.ToString(s.CloudHsmClusterId)
		v.State = string(s.ConnectionState)
		if s.ConnectionState == kmstypes.ConnectionStateTypeFailed {
			v.ConnectionErrorCode = string(s.ConnectionErrorCode)
			v.Reason = fmt.Sprintf("key store %s failed to connect to cluster %s: %s", id, v.ClusterID, Explain(v.ConnectionErrorCode))
		}
	}
	return v, nil
}
