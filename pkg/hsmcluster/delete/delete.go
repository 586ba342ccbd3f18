// Package delete is the cluster-delete step: it deletes a cluster whose HSMs are all gone (CloudHSM
// removes the cluster's security group with the caller's EC2 permissions); an adopted cluster is kept.
// It first deletes the cluster's duplicates: clusters tagged with the same create request
// (clusterapi.RequestClusters), made when two attempts of the create step ran at once. The create
// workflow runs it for the duplicates alone (DuplicatesOnly) once its cluster has left
// CREATE_IN_PROGRESS, before adding HSMs; the delete workflow runs it for both, so a duplicate that
// appeared later is not left behind either.
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
	// DuplicatesOnly deletes the cluster's duplicates and keeps the cluster itself.
	DuplicatesOnly bool `json:"DuplicatesOnly,omitempty"`
}

// DeleteOutput says what happened.
type DeleteOutput struct {
	ClusterID string `json:"ClusterId"`
	// Gone is true when there is nothing left to wait for.
	Gone bool `json:"Gone"`
	// Kept is true for an adopted cluster that was left in place.
	Kept bool `json:"Kept"`
	// Duplicates are the duplicates whose deletion this call started.
	Duplicates []string `json:"Duplicates,omitempty"`
	// Waiting (DuplicatesOnly) is true while a duplicate is still being created or initialized:
	// the create workflow waits and runs the step again (a duplicate made seconds after the
	// cluster can be minutes from deletable), rather than fail the Create on it.
	Waiting bool `json:"Waiting"`
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
		out.Gone = !in.DuplicatesOnly
		return out, nil
	}
	if out.Duplicates, out.Waiting, err = s.deleteDuplicates(ctx, *c, in.DuplicatesOnly); err != nil || in.DuplicatesOnly {
		return out, err
	}
	if c.State == types.ClusterStateDeleteInProgress {
		return out, nil
	}
	if h := liveHsm(*c); h != nil {
		return out, lambdaerr.Retryable(fmt.Sprintf("delete cluster %s: HSM %s is still %s", in.ClusterID, aws.ToString(h.HsmId), h.State), nil)
	}
	gone, err := s.deleteCluster(ctx, in.ClusterID)
	out.Gone = gone
	return out, err
}

// deleteCluster deletes an empty cluster; gone is true when CloudHSM no longer knows it.
func (s *DeleteCluster) deleteCluster(ctx context.Context, id string) (gone bool, _ error) {
	if _, err := s.HSM.DeleteCluster(ctx, &cloudhsmv2.DeleteClusterInput{ClusterId: aws.String(id)}); err != nil {
		switch hsmcluster.APICode(err) {
		case "CloudHsmResourceNotFoundException":
			return true, nil
		case "CloudHsmInvalidRequestException":
			// Every HSM was DELETED in the describe before, so the refusal is CloudHSM not having
			// settled the deletions yet (or a concurrent change): try again, and fail with
			// CloudHSM's own message if it persists past the state machine's retries.
			return false, lambdaerr.Retryable("delete cluster "+id+": "+hsmcluster.APIMessage(err), nil)
		}
		return false, hsmcluster.ClassifyHSM("delete cluster "+id, err)
	}
	return false, nil
}

// deleteDuplicates starts the deletion of every other cluster tagged with c's create request and
// returns their ids. A duplicate still being created or initialized is waited for: reported as
// waiting when the caller waits itself (the create workflow's loop), else a retryable error. One
// with HSMs was never the request's answer yet holds billed HSMs, so it is refused with what to do
// rather than deleted or left in silence.
func (s *DeleteCluster) deleteDuplicates(ctx context.Context, c types.Cluster, callerWaits bool) (deleted []string, waiting bool, _ error) {
	id, request := aws.ToString(c.ClusterId), clusterapi.RequestOf(c)
	if request == "" {
		return nil, false, nil
	}
	all, err := clusterapi.RequestClusters(ctx, s.HSM, request)
	if err != nil {
		return nil, false, err
	}
	for _, d := range all {
		dup := aws.ToString(d.ClusterId)
		if dup == id {
			continue
		}
		if h := liveHsm(d); h != nil {
			return deleted, false, lambdaerr.Terminal(fmt.Sprintf("delete duplicate cluster %s of %s (both made by create request %s): it has HSM %s (%s), "+
				"which Strongroom never added; delete its HSMs and the cluster with the AWS CLI (aws cloudhsmv2 delete-hsm, delete-cluster), then retry",
				dup, id, request, aws.ToString(h.HsmId), h.State), nil)
		}
		if d.State == types.ClusterStateCreateInProgress || d.State == types.ClusterStateInitializeInProgress {
			if !callerWaits {
				return deleted, false, lambdaerr.Retryable(fmt.Sprintf("delete duplicate cluster %s of %s: it is still %s", dup, id, d.State), nil)
			}
			waiting = true
			continue
		}
		if _, err := s.deleteCluster(ctx, dup); err != nil {
			return deleted, false, err
		}
		deleted = append(deleted, dup)
	}
	return deleted, waiting, nil
}

// liveHsm returns an HSM of c that is not DELETED, nil when there is none: DeleteCluster is refused
// while one remains.
func liveHsm(c types.Cluster) *types.Hsm {
	for i := range c.Hsms {
		if c.Hsms[i].State != types.HsmStateDeleted {
			return &c.Hsms[i]
		}
	}
	return nil
}
