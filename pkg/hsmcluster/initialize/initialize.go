// Package initialize is the cluster-initialize step: it hands CloudHSM the signed cluster
// certificate and the customer CA certificate (the trust anchor).
package initialize

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// InitializeInput carries what InitializeCluster takes.
type InitializeInput struct {
	ClusterID   string `json:"ClusterId"`
	SignedCert  string `json:"SignedCert"`
	TrustAnchor string `json:"TrustAnchor"`
}

// Initialize calls InitializeCluster once: a cluster already past UNINITIALIZED is left alone, so
// a retried step succeeds.
type Initialize struct {
	HSM clusterapi.ClusterInitializer
}

// Handle implements the step.
func (s *Initialize) Handle(ctx context.Context, in InitializeInput) (hsmcluster.ClusterRef, error) {
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return hsmcluster.ClusterRef{}, err
	}
	if c == nil {
		return hsmcluster.ClusterRef{}, lambdaerr.Terminal(fmt.Sprintf("initialize: cluster %s no longer exists", in.ClusterID), nil)
	}
	switch c.State {
	case types.ClusterStateInitializeInProgress, types.ClusterStateInitialized, types.ClusterStateActive:
		return hsmcluster.ClusterRef{ClusterID: in.ClusterID}, nil
	case types.ClusterStateUninitialized:
	default:
		return hsmcluster.ClusterRef{}, lambdaerr.Terminal(fmt.Sprintf("initialize: cluster %s is %s, not UNINITIALIZED", in.ClusterID, c.State), nil)
	}
	_, err = s.HSM.InitializeCluster(ctx, &cloudhsmv2.InitializeClusterInput{
		ClusterId: aws.String(in.ClusterID), SignedCert: aws.String(in.SignedCert), TrustAnchor: aws.String(in.TrustAnchor),
	})
	if err != nil {
		// An earlier attempt's call may have gone through: a cluster past UNINITIALIZED is done.
		if hsmcluster.APICode(err) == "CloudHsmInvalidRequestException" {
			if c, derr := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID); derr == nil && c != nil && c.State != types.ClusterStateUninitialized {
				return hsmcluster.ClusterRef{ClusterID: in.ClusterID}, nil
			}
		}
		return hsmcluster.ClusterRef{}, hsmcluster.ClassifyHSM("initialize cluster "+in.ClusterID, err)
	}
	return hsmcluster.ClusterRef{ClusterID: in.ClusterID}, nil
}
