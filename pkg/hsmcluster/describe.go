package hsmcluster

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Describe is the polling step: the state machine calls it between Waits and branches on the view.
type Describe struct {
	HSM ClusterDescriber
}

// Handle returns the cluster's view; a cluster that no longer exists is reported with Found=false
// and State "DELETED" so delete loops can end, and create loops can fail with a reason.
func (s *Describe) Handle(ctx context.Context, in ClusterRef) (ClusterView, error) {
	if in.ClusterID == "" {
		return ClusterView{}, lambdaerr.Terminal("describe: ClusterId is empty in the workflow payload", nil)
	}
	c, err := findCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return ClusterView{}, err
	}
	if c == nil {
		return ClusterView{ClusterID: in.ClusterID, State: string(types.ClusterStateDeleted), Hsms: []HsmView{}, HsmIPs: []string{}}, nil
	}
	return view(c), nil
}
