// Package scale is the cluster-scale step: one HSM create or delete per call, towards the target
// count, spread over the cluster's Availability Zones.
package scale

import (
	"context"
	"fmt"
	"sort"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// ScaleInput asks for Target HSMs in the cluster.
type ScaleInput struct {
	ClusterID string `json:"ClusterId"`
	Target    int    `json:"Target"`
}

// ScaleOutput lists what this call started.
type ScaleOutput struct {
	ClusterID string   `json:"ClusterId"`
	Created   []string `json:"Created"`
	Deleted   []string `json:"Deleted"`
	// HsmCount is the number of HSMs (existing or being created) after this call.
	HsmCount int `json:"HsmCount"`
}

// Scale adds or removes HSMs until the cluster has Target of them, keeping them spread across the
// cluster's Availability Zones: a new HSM goes to the zone with the fewest, a removed one comes
// from the zone with the most. It counts what exists first, so running it twice does nothing more.
// It never waits: the state machine polls Describe until the HSMs are ACTIVE or gone.
type Scale struct {
	HSM clusterapi.HsmManager
}

// Handle implements the step.
func (s *Scale) Handle(ctx context.Context, in ScaleInput) (ScaleOutput, error) {
	if in.Target < 0 {
		return ScaleOutput{}, lambdaerr.Terminal(fmt.Sprintf("scale: Target %d is negative", in.Target), nil)
	}
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return ScaleOutput{}, err
	}
	if c == nil {
		return ScaleOutput{}, lambdaerr.Terminal(fmt.Sprintf("scale: cluster %s no longer exists", in.ClusterID), nil)
	}
	out := ScaleOutput{ClusterID: in.ClusterID, Created: []string{}, Deleted: []string{}}
	perZone := map[string][]types.Hsm{}
	for az := range c.SubnetMapping {
		perZone[az] = nil
	}
	live := 0
	for _, h := range c.Hsms {
		if h.State == types.HsmStateDeleteInProgress || h.State == types.HsmStateDeleted {
			continue
		}
		live++
		az := aws.ToString(h.AvailabilityZone)
		perZone[az] = append(perZone[az], h)
	}
	zones := make([]string, 0, len(perZone))
	for az := range perZone {
		zones = append(zones, az)
	}
	if len(zones) == 0 {
		return ScaleOutput{}, lambdaerr.Terminal(fmt.Sprintf("scale: cluster %s has no subnets to place HSMs in", in.ClusterID), nil)
	}
	for live < in.Target {
		sort.Slice(zones, func(i, j int) bool {
			if len(perZone[zones[i]]) != len(perZone[zones[j]]) {
				return len(perZone[zones[i]]) < len(perZone[zones[j]])
			}
			return zones[i] < zones[j]
		})
		az := zones[0]
		res, err := s.HSM.CreateHsm(ctx, &cloudhsmv2.CreateHsmInput{ClusterId: aws.String(in.ClusterID), AvailabilityZone: aws.String(az)})
		if err != nil {
			// A retry whose earlier attempt created the HSM may not have seen it yet (CloudHSM then
			// refuses the first HSM's twin as "already contains an HSM"): look again before failing.
			if hsmcluster.APICode(err) == "CloudHsmInvalidRequestException" {
				if n, derr := s.liveHsms(ctx, in.ClusterID); derr == nil && n >= in.Target {
					out.HsmCount = n
					return out, nil
				}
			}
			return out, hsmcluster.ClassifyHSM(fmt.Sprintf("create HSM in %s for cluster %s", az, in.ClusterID), err)
		}
		perZone[az] = append(perZone[az], *res.Hsm)
		out.Created = append(out.Created, aws.ToString(res.Hsm.HsmId))
		live++
	}
	for live > in.Target {
		sort.Slice(zones, func(i, j int) bool {
			if len(perZone[zones[i]]) != len(perZone[zones[j]]) {
				return len(perZone[zones[i]]) > len(perZone[zones[j]])
			}
			return zones[i] < zones[j]
		})
		az := zones[0]
		hsms := perZone[az]
		// Remove a not-yet-active HSM first, then the newest id: either way the zone stays served.
		sort.Slice(hsms, func(i, j int) bool {
			ai, aj := hsms[i].State == types.HsmStateActive, hsms[j].State == types.HsmStateActive
			if ai != aj {
				return !ai
			}
			return aws.ToString(hsms[i].HsmId) > aws.ToString(hsms[j].HsmId)
		})
		victim := hsms[0]
		if _, err := s.HSM.DeleteHsm(ctx, &cloudhsmv2.DeleteHsmInput{ClusterId: aws.String(in.ClusterID), HsmId: victim.HsmId}); err != nil {
			if hsmcluster.APICode(err) != "CloudHsmResourceNotFoundException" {
				return out, hsmcluster.ClassifyHSM(fmt.Sprintf("delete HSM %s of cluster %s", aws.ToString(victim.HsmId), in.ClusterID), err)
			}
		}
		perZone[az] = hsms[1:]
		out.Deleted = append(out.Deleted, aws.ToString(victim.HsmId))
		live--
	}
	out.HsmCount = live
	return out, nil
}

// liveHsms counts the cluster's HSMs that exist or are being created.
func (s *Scale) liveHsms(ctx context.Context, clusterID string) (int, error) {
	c, err := clusterapi.FindCluster(ctx, s.HSM, clusterID)
	if err != nil || c == nil {
		return 0, err
	}
	return hsmcluster.View(c).HsmCount, nil
}
