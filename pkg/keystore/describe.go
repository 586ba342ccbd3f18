package keystore

import (
	"context"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Describe is the polling step between Waits.
type Describe struct {
	KMS StoreDescriber
}

// Handle implements the step; a store that does not exist is Found=false, not an error.
func (s *Describe) Handle(ctx context.Context, in StoreRef) (StoreView, error) {
	if in.CustomKeyStoreID == "" {
		return StoreView{}, lambdaerr.Terminal("describe key store: CustomKeyStoreId is empty in the workflow payload", nil)
	}
	return describeStore(ctx, s.KMS, in.CustomKeyStoreID)
}
