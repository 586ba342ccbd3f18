// Package describe is the keystore-describe polling step between Waits.
package describe

import (
	"context"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/keystore/storeapi"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Describe is the polling step between Waits.
type Describe struct {
	KMS storeapi.StoreDescriber
}

// Handle implements the step; a store that does not exist is Found=false, not an error.
func (s *Describe) Handle(ctx context.Context, in keystore.StoreRef) (keystore.StoreView, error) {
	if in.CustomKeyStoreID == "" {
		return keystore.StoreView{}, lambdaerr.Terminal("describe key store: CustomKeyStoreId is empty in the workflow payload", nil)
	}
	return storeapi.DescribeStore(ctx, s.KMS, in.CustomKeyStoreID)
}
