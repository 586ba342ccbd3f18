package hsmcluster

import (
	"context"
	"fmt"

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
	HSM ClusterInitializer
}

// Handle implements the step.
func (s *Initialize) Handle(ctx context.Context, in InitializeInput) (ClusterRef, error) {
	c, err := findCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return ClusterRef{}, err
	}
	if c == nil {
		return ClusterRef{}, lambdaerr.Terminal(fmt.Sprintf("initialize: cluster %s no longer exists", in.ClusterID), nil)
	}
	switch c.State {
	case types.ClusterStateInitializeInProgress, types.ClusterStateInitialized, types.ClusterStateActive:
		return ClusterRef{ClusterID: in.ClusterID}, nil
	case types.ClusterStateUninitialized:
	default:
		return ClusterRef{}, lambdaerr.Terminal(fmt.Sprintf("initialize: cluster %s is %s, not UNINITIALIZED", in.ClusterID, c.State), nil)
	}
	_, err = s.HSM.InitializeCluster(ctx, &cloudhsmv2.InitializeClusterInput{
		ClusterId: aws.String(in.ClusterID), SignedCert: aws.String(in.SignedCert), TrustAnchor: aws.String(in.TrustAnchor),
	})
	if err != nil {
		// An earlier attempt's call may have gone through: a cluster past UNINITIALIZED is done.
		if apiCode(err) == "CloudHsmInvalidRequestException" {
			if c, derr := findCluster(ctx, s.HSM, in.ClusterID); derr == nil && c != nil && c.State != types.ClusterStateUninitialized {
				return ClusterRef{ClusterID: in.ClusterID}, nil
			}
		}
		return ClusterRef{}, classifyHSM("initialize cluster "+in.ClusterID, err)
	}
	return ClusterRef{ClusterID: in.ClusterID}, nil
}
