// Package settings is the cluster-settings step of the update workflow: it applies what an update
// may change without touching HSMs, BackupRetentionDays (ModifyCluster) and Tags (TagResource and
// UntagResource), so no accepted change is answered SUCCESS without being made.
package settings

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// API is the part of the CloudHSM client the step uses.
type API interface {
	clusterapi.ClusterDescriber
	ModifyCluster(ctx context.Context, params *cloudhsmv2.ModifyClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.ModifyClusterOutput, error)
	TagResource(ctx context.Context, params *cloudhsmv2.TagResourceInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.TagResourceOutput, error)
	UntagResource(ctx context.Context, params *cloudhsmv2.UntagResourceInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.UntagResourceOutput, error)
}

var _ API = (*cloudhsmv2.Client)(nil)

// Input is the update's event and the cluster the plan named.
type Input struct {
	Event     cfn.Event `json:"Event"`
	ClusterID string    `json:"ClusterId"`
}

// Output lists what the step changed, for the execution history.
type Output struct {
	Changed []string `json:"Changed"`
}

// Apply makes the cluster's backup retention and tags those of the new properties. Tags are
// compared with the old properties: a key the old properties set and the new ones drop is removed,
// and tags the properties never set (Strongroom's own strongroom:*, or an organization's) are left
// alone. When the old properties no longer parse, nothing is removed. Every call is idempotent, so
// a retried step converges on the same cluster.
type Apply struct {
	HSM API
}

// Handle implements the step.
func (s *Apply) Handle(ctx context.Context, in Input) (Output, error) {
	ev := in.Event
	ref := hsmcluster.RefOf(&ev)
	spec, err := hsmcluster.SpecOf(ref, ev.ResourceProperties)
	if err != nil {
		return Output{}, lambdaerr.Terminal(err.Error(), nil)
	}
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return Output{}, err
	}
	if c == nil {
		return Output{}, lambdaerr.Terminal(fmt.Sprintf("cluster %s does not exist, so its settings cannot be applied", in.ClusterID), nil)
	}
	var out Output
	want := strconv.Itoa(spec.BackupRetentionDays)
	if p := c.BackupRetentionPolicy; p == nil || aws.ToString(p.Value) != want || p.Type != types.BackupRetentionTypeDays {
		if _, err := s.HSM.ModifyCluster(ctx, &cloudhsmv2.ModifyClusterInput{
			ClusterId:             aws.String(in.ClusterID),
			BackupRetentionPolicy: &types.BackupRetentionPolicy{Type: types.BackupRetentionTypeDays, Value: aws.String(want)},
		}); err != nil {
			return Output{}, lambdaerr.Classify(fmt.Errorf("set BackupRetentionDays of cluster %s to %s: %w", in.ClusterID, want, err))
		}
		out.Changed = append(out.Changed, "BackupRetentionDays")
	}

	current := map[string]string{}
	for _, t := range c.TagList {
		current[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	var set []types.Tag
	for _, k := range slices.Sorted(maps.Keys(spec.Tags)) {
		if v, ok := current[k]; !ok || v != spec.Tags[k] {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(spec.Tags[k])})
		}
	}
	var drop []string
	if old, err := hsmcluster.SpecOf(ref, ev.OldResourceProperties); err == nil {
		for _, k := range slices.Sorted(maps.Keys(old.Tags)) {
			if _, keep := spec.Tags[k]; !keep && !strings.HasPrefix(k, hsmcluster.TagPrefix) {
				if _, on := current[k]; on {
					drop = append(drop, k)
				}
			}
		}
	}
	if len(set) > 0 {
		if _, err := s.HSM.TagResource(ctx, &cloudhsmv2.TagResourceInput{ResourceId: aws.String(in.ClusterID), TagList: set}); err != nil {
			return Output{}, lambdaerr.Classify(fmt.Errorf("tag cluster %s: %w", in.ClusterID, err))
		}
	}
	if len(drop) > 0 {
		if _, err := s.HSM.UntagResource(ctx, &cloudhsmv2.UntagResourceInput{ResourceId: aws.String(in.ClusterID), TagKeyList: drop}); err != nil {
			return Output{}, lambdaerr.Classify(fmt.Errorf("remove tags %s of cluster %s: %w", strings.Join(drop, ", "), in.ClusterID, err))
		}
	}
	if len(set) > 0 || len(drop) > 0 {
		out.Changed = append(out.Changed, "Tags")
	}
	return out, nil
}
