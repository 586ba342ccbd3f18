// Package delete is the cluster-delete step: it deletes a cluster whose HSMs are all gone (CloudHSM
// removes the cluster's security group with the caller's EC2 permissions); an adopted cluster is kept.
package delete

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// DeleteInput names the cluster to delete.
type DeleteInput struct {
	ClusterID string `json:"ClusterId"`
	// Adopted clusters (the ClusterId property) are never deleted, only their HSMs when asked.
	Adopted bool `json:"Adopted"`
}

// DeleteOutput says what happened.
type DeleteOutput struct {
	ClusterID string `json:"ClusterId"`
	// Gone is true when there is nothing left to wait for.
	Gone bool `json:"Gone"`
	// Kept is true for an adopted cluster that was left in place.
	Kept bool `json:"Kept"`
}

// DeleteCluster deletes a cluster whose HSMs are all gone. A cluster that does not exist (a
// PhysicalResourceId from a create that failed early, or a second run of this step) is a success.
type DeleteCluster struct {
	HSM clusterapi.ClusterDeleter
}

// Handle implements the step.
func (s *DeleteCluster) Handle(ctx context.Context, in DeleteInput) (DeleteOutput, error) {
	out := DeleteOutput{ClusterID: in.ClusterID}
	if customresource.NamesNoResource(in.ClusterID) || !hsmcluster.ClusterIDLike(in.ClusterID) {
		out.Gone = true
		return out, nil
	}
	if in.Adopted {
		out.Kept, out.Gone = true, true
		return out, nil
	}
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return out, err
	}
	if c == nil || c.State == types.ClusterStateDeleted {
		out.Gone = true
		return out, nil
	}
	if c.State == types.ClusterStateDeleteInProgress {
		return out, nil
	}
	for _, h := range c.Hsms {
		if h.State != types.HsmStateDeleted {
			return out, lambdaerr.Retryable(fmt.Sprintf("delete cluster %s: HSM %s is still %s", in.ClusterID, aws.ToString(h.HsmId), h.State), nil)
		}
	}
	if _, err := s.HSM.DeleteCluster(ctx, &cloudhsmv2.DeleteClusterInput{ClusterId: aws.String(in.ClusterID)}); err != nil {
		switch hsmcluster.APICode(err) {
		case "CloudHsmResourceNotFoundException":
			out.Gone = true
			return out, nil
		case "CloudHsmInvalidRequestException":
			// Every HSM was DELETED in the describe above, so the refusal is CloudHSM not having
			// settled the deletions yet (or a concurrent change): try again, and fail with
			// CloudHSM's own message if it persists past the state machine's retries.
			return out, lambdaerr.Retryable("delete cluster "+in.ClusterID+": "+hsmcluster.APIMessage(err), nil)
		}
		return out, hsmcluster.ClassifyHSM("delete cluster "+in.ClusterID, err)
	}
	return out, nil
}
