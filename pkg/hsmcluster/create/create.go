// Package create is the cluster-create step: it creates the CloudHSM cluster (or finds the one an
// earlier attempt created, by its tags) and tags it with the stack and logical id.
package create

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// CreateInput is the create step's input.
type CreateInput struct {
	Event hsmcluster.EventRef `json:"Event"`
	Spec  hsmcluster.Spec     `json:"Spec"`
}

// CreateOutput names the cluster and how it came to be.
type CreateOutput struct {
	ClusterID string `json:"ClusterId"`
	// Adopted is true for a cluster named by the ClusterId property (never deleted by Strongroom).
	Adopted bool `json:"Adopted"`
	// Restored is true for a cluster created from SourceBackupId (it skips init and activation).
	Restored bool `json:"Restored"`
}

// CreateCluster finds the cluster an earlier attempt of this request created, or creates it, or
// adopts the cluster the properties name.
type CreateCluster struct {
	HSM clusterapi.ClusterCreator
}

// Handle implements the step.
func (s *CreateCluster) Handle(ctx context.Context, in CreateInput) (CreateOutput, error) {
	if in.Spec.ClusterID != "" {
		c, err := clusterapi.FindCluster(ctx, s.HSM, in.Spec.ClusterID)
		if err != nil {
			return CreateOutput{}, err
		}
		if c == nil || c.State == types.ClusterStateDeleted || c.State == types.ClusterStateDeleteInProgress {
			return CreateOutput{}, lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s does not exist (or is being deleted) in this account and region", in.Spec.ClusterID), nil)
		}
		return CreateOutput{ClusterID: in.Spec.ClusterID, Adopted: true}, nil
	}
	if in.Event.RequestID == "" {
		return CreateOutput{}, lambdaerr.Terminal("create cluster: the workflow payload has no Event.RequestId", nil)
	}
	// An earlier attempt's cluster is reused; of two (attempts that ran at once), the oldest, so
	// that every later attempt answers with the same one.
	existing, err := clusterapi.RequestClusters(ctx, s.HSM, in.Event.RequestID)
	if err != nil {
		return CreateOutput{}, err
	}
	if len(existing) > 0 {
		return CreateOutput{ClusterID: aws.ToString(existing[0].ClusterId), Restored: in.Spec.SourceBackupID != ""}, nil
	}
	tags := []types.Tag{
		{Key: aws.String(hsmcluster.TagStack), Value: aws.String(in.Event.StackID)},
		{Key: aws.String(hsmcluster.TagLogical), Value: aws.String(in.Event.LogicalResourceID)},
		{Key: aws.String(hsmcluster.TagRequest), Value: aws.String(in.Event.RequestID)},
		{Key: aws.String(hsmcluster.TagImmutable), Value: aws.String(hsmcluster.ImmutableHash(in.Spec))},
	}
	keys := make([]string, 0, len(in.Spec.Tags))
	for k := range in.Spec.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(in.Spec.Tags[k])})
	}
	input := &cloudhsmv2.CreateClusterInput{
		SubnetIds:   in.Spec.SubnetIDs,
		HsmType:     aws.String(in.Spec.HsmType),
		Mode:        types.ClusterMode(in.Spec.Mode),
		NetworkType: types.NetworkType(in.Spec.NetworkType),
		BackupRetentionPolicy: &types.BackupRetentionPolicy{
			Type: types.BackupRetentionTypeDays, Value: aws.String(strconv.Itoa(in.Spec.BackupRetentionDays)),
		},
		TagList: tags,
	}
	if in.Spec.SourceBackupID != "" {
		input.SourceBackupId = aws.String(in.Spec.SourceBackupID)
	}
	out, err := s.HSM.CreateCluster(ctx, input)
	if err != nil {
		// A retry is safe: the cluster is found again by its request tag.
		return CreateOutput{}, hsmcluster.ClassifyHSM("create cluster", err)
	}
	return CreateOutput{ClusterID: aws.ToString(out.Cluster.ClusterId), Restored: in.Spec.SourceBackupID != ""}, nil
}
