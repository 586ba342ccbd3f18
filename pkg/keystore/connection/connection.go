// Package connection is the keystore-connection step: it starts a connect or a disconnect of the
// custom key store; the workflow then polls keystore-describe.
package connection

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/keystore/storeapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Connection actions.
const (
	Connect    = "connect"
	Disconnect = "disconnect"
)

// ConnectionInput asks for a connect or a disconnect.
type ConnectionInput struct {
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
	Action           string `json:"Action"`
}

// Connection starts a connect or a disconnect; the workflow then polls Describe. Both converge on
// retry: connecting a CONNECTING or CONNECTED store is a no-op for KMS, and a disconnect of a
// store that is already DISCONNECT(ING/ED), or gone, is done.
type Connection struct {
	KMS storeapi.StoreConnector
}

// Handle implements the step and returns the store's state after the call.
func (s *Connection) Handle(ctx context.Context, in ConnectionInput) (keystore.StoreView, error) {
	id := in.CustomKeyStoreID
	var invalid *kmstypes.CustomKeyStoreInvalidStateException
	var nf *kmstypes.CustomKeyStoreNotFoundException
	switch in.Action {
	case Connect:
		_, err := s.KMS.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		var notActive *kmstypes.CloudHsmClusterNotActiveException
		var badConfig *kmstypes.CloudHsmClusterInvalidConfigurationException
		switch {
		case errors.As(err, &invalid):
			// FAILED (a previous attempt ended; the poll reports why) or DISCONNECTING (wait).
			v, derr := storeapi.DescribeStore(ctx, s.KMS, id)
			if derr != nil || v.State == string(kmstypes.ConnectionStateTypeFailed) {
				return v, derr
			}
			return v, lambdaerr.Retryable(fmt.Sprintf("connect key store %s: it is %s", id, v.State), err)
		case errors.As(err, &notActive):
			return keystore.StoreView{}, lambdaerr.Terminal(fmt.Sprintf("connect key store %s: its cluster is not ACTIVE: %s", id, notActive.ErrorMessage()), nil)
		case errors.As(err, &badConfig):
			return keystore.StoreView{}, lambdaerr.Terminal(fmt.Sprintf("connect key store %s: KMS refused the cluster's configuration: %s", id, badConfig.ErrorMessage()), nil)
		case errors.As(err, &nf):
			return keystore.StoreView{}, lambdaerr.Terminal(fmt.Sprintf("connect key store %s: it does not exist", id), nil)
		case err != nil:
			return keystore.StoreView{}, fmt.Errorf("connect key store %s: %w", id, err)
		}
	case Disconnect:
		_, err := s.KMS.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		switch {
		case errors.As(err, &invalid):
			// Already DISCONNECTED or DISCONNECTING (the poll sees which); but a refusal while it
			// is still CONNECTED or CONNECTING is a disconnect that did not happen: retry it, or the
			// workflow would wait for a state that never comes.
			v, derr := storeapi.DescribeStore(ctx, s.KMS, id)
			if derr != nil {
				return v, derr
			}
			if v.State == string(kmstypes.ConnectionStateTypeConnected) || v.State == string(kmstypes.ConnectionStateTypeConnecting) {
				return v, lambdaerr.Retryable(fmt.Sprintf("disconnect key store %s: KMS refused while it is %s", id, v.State), err)
			}
			return v, nil
		case errors.As(err, &nf):
			// Gone: the poll sees it.
		case err != nil:
			return keystore.StoreView{}, fmt.Errorf("disconnect key store %s: %w", id, err)
		}
	default:
		return keystore.StoreView{}, lambdaerr.Terminal(fmt.Sprintf("key store connection: Action %q is not connect or disconnect", in.Action), nil)
	}
	return storeapi.DescribeStore(ctx, s.KMS, id)
}
