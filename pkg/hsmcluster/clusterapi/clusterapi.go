// Package clusterapi is what the cluster steps that call CloudHSM share: their consumer-side ports,
// with the SDK v2 signatures so the real client satisfies them, and FindCluster. Steps that call
// no CloudHSM API do not import it, so they do not link the CloudHSM client.
package clusterapi

import (
	"context"

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
