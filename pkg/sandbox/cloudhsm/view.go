package cloudhsm

import (
	"fmt"
	"maps"
	"slices"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// ClusterInfo is what other emulated services (KMS) may see of a cluster.
type ClusterInfo struct {
	ID, State, VpcID, SecurityGroup, HsmType string
	// TrustAnchor is the PEM given to InitializeCluster ("" before).
	TrustAnchor string
	// Lineage is shared by a cluster and every cluster restored from its backups (KMS's "related
	// clusters" test for UpdateCustomKeyStore).
	Lineage string
	Subnets map[string]string // AZ -> subnet id
	Hsms    []HsmInfo
}

// HsmInfo is one HSM of a ClusterInfo.
type HsmInfo struct {
	ID, AvailabilityZone, SubnetID, EniIP, State string
}

// ActiveHsmAZs returns the distinct AZs that hold an ACTIVE HSM.
func (ci ClusterInfo) ActiveHsmAZs() []string {
	var azs []string
	for _, h := range ci.Hsms {
		if h.State == HsmActive && !slices.Contains(azs, h.AvailabilityZone) {
			azs = append(azs, h.AvailabilityZone)
		}
	}
	slices.Sort(azs)
	return azs
}

// Cluster returns a snapshot of a cluster, including DELETED ones still listed. It fails with
// ErrClusterNotFound for an unknown id.
func (s *Service) Cluster(id string) (ClusterInfo, error) {
	return core.Locked(&s.mu, s.knownCluster, id, func(c *cluster) (ClusterInfo, error) {
		ci := ClusterInfo{
			ID: c.id, State: c.state, VpcID: c.vpcID, SecurityGroup: c.securityGroup, HsmType: c.hsmType,
			TrustAnchor: c.trustAnchor, Lineage: c.lineage, Subnets: maps.Clone(c.subnets),
		}
		for _, h := range c.hsms {
			ci.Hsms = append(ci.Hsms, HsmInfo{ID: h.id, AvailabilityZone: h.az, SubnetID: h.subnetID, EniIP: h.eniIP, State: h.state})
		}
		return ci, nil
	})
}

// knownCluster finds a cluster the service knows, in any state (DELETED ones while they are
// listed), for the Go API. Caller holds s.mu.
func (s *Service) knownCluster(id string) (*cluster, error) {
	c, ok := s.clusters[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrClusterNotFound, id)
	}
	return c, nil
}

// hsm finds one of the cluster's HSMs by id, for the test hooks.
func (c *cluster) hsm(id string) (*hsm, error) {
	for _, h := range c.hsms {
		if h.id == id {
			return h, nil
		}
	}
	return nil, fmt.Errorf("hsm %s not in cluster %s", id, c.id)
}

// Test hooks: AWS documents no trigger for DEGRADED or UPDATE_IN_PROGRESS, and HSMs can fail or
// be replaced outside any API call.

// InjectDegraded marks an HSM DEGRADED and its cluster DEGRADED.
func (s *Service) InjectDegraded(clusterID, hsmID string) error {
	return core.LockedDo(&s.mu, s.knownCluster, clusterID, func(c *cluster) error {
		h, err := c.hsm(hsmID)
		if err != nil {
			return err
		}
		h.state, h.stateMessage = HsmDegraded, "The HSM is degraded."
		c.state, c.stateMessage = StateDegraded, "One or more HSMs in the cluster are degraded."
		return nil
	})
}

// ForceState sets a cluster's state directly (for UPDATE_IN_PROGRESS, MODIFY_IN_PROGRESS, a
// recovery from DEGRADED, ...). Degraded HSMs become ACTIVE again when the state is ACTIVE.
func (s *Service) ForceState(clusterID, state string) error {
	return core.LockedDo(&s.mu, s.knownCluster, clusterID, func(c *cluster) error {
		c.state, c.stateMessage = state, ""
		if state == StateActive {
			for _, h := range c.hsms {
				if h.state == HsmDegraded {
					h.state, h.stateMessage = HsmActive, ""
				}
			}
		}
		return nil
	})
}

// DeleteHsmOutOfBand removes an HSM at once, as if it failed or someone deleted it elsewhere.
func (s *Service) DeleteHsmOutOfBand(clusterID, hsmID string) error {
	return core.LockedDo(&s.mu, s.knownCluster, clusterID, func(c *cluster) error {
		h, err := c.hsm(hsmID)
		if err != nil {
			return err
		}
		s.removeHsmLocked(c, h)
		return nil
	})
}
