// Package describe is the cluster-describe polling step: the state machines call it between Waits
// and branch on the cluster view it returns.
package describe

import (
	"context"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Describe is the polling step: the state machine calls it between Waits and branches on the view.
type Describe struct {
	HSM clusterapi.ClusterDescriber
}

// Handle returns the cluster's view; a cluster that no longer exists is reported with Found=false
// and State "DELETED" so delete loops can end, and create loops can fail with a reason.
func (s *Describe) Handle(ctx context.Context, in hsmcluster.ClusterRef) (hsmcluster.ClusterView, error) {
	if in.ClusterID == "" {
		return hsmcluster.ClusterView{}, lambdaerr.Terminal("describe: ClusterId is empty in the workflow payload", nil)
	}
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return hsmcluster.ClusterView{}, err
	}
	if c == nil {
		return hsmcluster.ClusterView{ClusterID: in.ClusterID, State: string(types.ClusterStateDeleted), Hsms: []hsmcluster.HsmView{}, HsmIPs: []string{}}, nil
	}
	return hsmcluster.View(c), nil
}
