// Package clusterapi is what the cluster steps that call CloudHSM share: their consumer-side ports,
// with the SDK v2 signatures so the real client satisfies them, and FindCluster. Steps that call
// no CloudHSM API do not import it, so they do not link the CloudHSM client.
package clusterapi

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
)

// ClusterDescriber reads clusters.
type ClusterDescriber interface {
	DescribeClusters(ctx context.Context, params *cloudhsmv2.DescribeClustersInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DescribeClustersOutput, error)
}

// ClusterCreator creates clusters (and finds earlier attempts).
type ClusterCreator interface {
	ClusterDescriber
	CreateCluster(ctx context.Context, params *cloudhsmv2.CreateClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.CreateClusterOutput, error)
}

// HsmManager adds and removes HSMs.
type HsmManager interface {
	ClusterDescriber
	CreateHsm(ctx context.Context, params *cloudhsmv2.CreateHsmInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.CreateHsmOutput, error)
	DeleteHsm(ctx context.Context, params *cloudhsmv2.DeleteHsmInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DeleteHsmOutput, error)
}

// ClusterInitializer initializes clusters.
type ClusterInitializer interface {
	ClusterDescriber
	InitializeCluster(ctx context.Context, params *cloudhsmv2.InitializeClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.InitializeClusterOutput, error)
}

// ClusterDeleter deletes clusters.
type ClusterDeleter interface {
	ClusterDescriber
	DeleteCluster(ctx context.Context, params *cloudhsmv2.DeleteClusterInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DeleteClusterOutput, error)
}

var (
	_ ClusterCreator     = (*cloudhsmv2.Client)(nil)
	_ HsmManager         = (*cloudhsmv2.Client)(nil)
	_ ClusterInitializer = (*cloudhsmv2.Client)(nil)
	_ ClusterDeleter     = (*cloudhsmv2.Client)(nil)
)

// FindCluster returns the cluster with id, or nil when AWS lists none (DescribeClusters answers an
// unknown id with an empty list, not an error).
func FindCluster(ctx context.Context, api ClusterDescriber, id string) (*types.Cluster, error) {
	out, err := api.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		return nil, hsmcluster.ClassifyHSM("describe cluster "+id, err)
	}
	for i := range out.Clusters {
		if aws.ToString(out.Clusters[i].ClusterId) == id {
			return &out.Clusters[i], nil
		}
	}
	return nil, nil
}

// RequestClusters returns the clusters, neither DELETED nor DELETE_IN_PROGRESS, tagged with the
// create request requestID (hsmcluster.TagRequest), oldest first (CreateTimestamp, then id). A
// request normally makes one; a second is a duplicate from two attempts of the create step running
// at once (a timed-out invocation whose CreateCluster landed after its retry had looked), which
// the create step never answers with and the delete step removes (pkg/hsmcluster/delete). The
// account's clusters are listed page by page: DescribeClusters filters by id, VPC and state only.
func RequestClusters(ctx context.Context, api ClusterDescriber, requestID string) ([]types.Cluster, error) {
	var out []types.Cluster
	p := cloudhsmv2.NewDescribeClustersPaginator(api, &cloudhsmv2.DescribeClustersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, hsmcluster.ClassifyHSM("list clusters to find those of create request "+requestID, err)
		}
		for _, c := range page.Clusters {
			if c.State == types.ClusterStateDeleted || c.State == types.ClusterStateDeleteInProgress {
				continue
			}
			if RequestOf(c) == requestID {
				out = append(out, c)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b types.Cluster) int {
		if c := aws.ToTime(a.CreateTimestamp).Compare(aws.ToTime(b.CreateTimestamp)); c != 0 {
			return c
		}
		return strings.Compare(aws.ToString(a.ClusterId), aws.ToString(b.ClusterId))
	})
	return out, nil
}

// RequestOf returns the create request a cluster was made by (its hsmcluster.TagRequest tag), ""
// for a cluster Strongroom did not create.
func RequestOf(c types.Cluster) string {
	for _, t := range c.TagList {
		if aws.ToString(t.Key) == hsmcluster.TagRequest {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
