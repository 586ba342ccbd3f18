package cloudhsm

import (
	"context"
	"net/http"
	"slices"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// maxHsmsPerCluster is CloudHSM's fixed quota (the CloudHSM User Guide, "Quotas").
const maxHsmsPerCluster = 28

type createHsmInput struct {
	AvailabilityZone string `json:"AvailabilityZone"`
	ClusterId        string `json:"ClusterId"`
	IpAddress        string `json:"IpAddress"`
}

func (s *Service) createHsm(_ context.Context, in createHsmInput) (any, error) {
	if in.AvailabilityZone == "" {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at 'availabilityZone' failed to satisfy constraint: Member must not be null")
	}
	return core.Locked(&s.mu, s.clusterLocked, in.ClusterId, func(c *cluster) (any, error) {
		switch c.state {
		case StateUninitialized, StateInitializeInProgress, StateInitialized:
			if len(c.hsms) > 0 {
				// The message observed from AWS (terraform-provider-aws#7437).
				return nil, invalid("Cluster '%s' already contains an HSM but has not yet been fully activated", c.id)
			}
			if c.state != StateUninitialized {
				return nil, invalid("Cluster '%s' is in state %s; an HSM can be added when it is UNINITIALIZED or ACTIVE.", c.id, c.state)
			}
		case StateActive, StateDegraded:
		default:
			return nil, invalid("Cluster '%s' is in state %s; an HSM can be added when it is UNINITIALIZED or ACTIVE.", c.id, c.state)
		}
		if len(c.hsms) >= maxHsmsPerCluster {
			return nil, core.Errorf(ErrResourceLimit, "Cluster '%s' already has the maximum of %d HSMs.", c.id, maxHsmsPerCluster)
		}
		subnet, ok := c.subnets[in.AvailabilityZone]
		if !ok {
			azs := make([]string, 0, len(c.subnets))
			for az := range c.subnets {
				azs = append(azs, az)
			}
			slices.Sort(azs)
			return nil, invalid("Availability zone '%s' is not one of the cluster's availability zones %v.", in.AvailabilityZone, azs)
		}
		if in.IpAddress != "" {
			return nil, invalid("IpAddress is not supported by the sandbox; omit it to take the next free address in %s.", subnet)
		}
		h := &hsm{id: newID("hsm-"), az: in.AvailabilityZone, subnetID: subnet, state: HsmCreateInProgress}
		eni, ip, _, err := s.net.AllocateENI(subnet, "CloudHSM Managed Interface", c.securityGroup)
		if err != nil {
			return nil, core.StatusErrorf(http.StatusInternalServerError, ErrInternalFailure, "allocate a network interface in %s: %v", subnet, err)
		}
		h.eniID, h.eniIP = eni, ip
		if c.networkType == "DUALSTACK" {
			if h.eniIPv6, err = s.net.AssignIPv6(eni); err != nil {
				_ = s.net.ReleaseENI(eni)
				return nil, core.StatusErrorf(http.StatusInternalServerError, ErrInternalFailure, "assign an IPv6 address in %s: %v", subnet, err)
			}
		}
		if c.state == StateActive {
			// A new HSM in an active cluster is cloned from a fresh backup (CloudHSM user guide,
			// backups: one is taken when an HSM is added).
			s.newBackupLocked(c)
		}
		c.hsms = append(c.hsms, h)
		s.timers.Later(s.dur.HsmCreate, func() {
			if h.state != HsmCreateInProgress {
				return
			}
			h.state = HsmActive
			s.hsmActiveLocked(c)
		})
		return map[string]any{"Hsm": c.wireHsm(h)}, nil
	})
}

// hsmActiveLocked runs when an HSM has become ACTIVE: the first one in an UNINITIALIZED cluster
// makes the cluster key, the CSR and the HSM certificate chain.
func (s *Service) hsmActiveLocked(c *cluster) {
	if c.state != StateUninitialized || c.csr != "" {
		return
	}
	if err := s.makeClusterIdentity(c); err != nil {
		// Key generation failing is an internal failure; leave a message where AWS leaves one.
		c.stateMessage = "Failed to create the cluster CSR: " + err.Error()
	}
}

type deleteHsmInput struct {
	ClusterId string `json:"ClusterId"`
	HsmId     string `json:"HsmId"`
	EniId     string `json:"EniId"`
	EniIp     string `json:"EniIp"`
}

func (s *Service) deleteHsm(_ context.Context, in deleteHsmInput) (any, error) {
	given := 0
	for _, v := range []string{in.HsmId, in.EniId, in.EniIp} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return nil, invalid("Specify exactly one of HsmId, EniId or EniIp.")
	}
	return core.Locked(&s.mu, s.clusterLocked, in.ClusterId, func(c *cluster) (any, error) {
		var h *hsm
		for _, x := range c.hsms {
			if (in.HsmId != "" && x.id == in.HsmId) || (in.EniId != "" && x.eniID == in.EniId) || (in.EniIp != "" && x.eniIP == in.EniIp) {
				h = x
			}
		}
		if h == nil {
			return nil, notFound("HSM", in.HsmId+in.EniId+in.EniIp)
		}
		if h.state == HsmDeleteInProgress {
			return map[string]any{"HsmId": h.id}, nil
		}
		if h.state == HsmCreateInProgress {
			return nil, invalid("HSM '%s' is still being created; delete it once it is ACTIVE.", h.id)
		}
		h.state = HsmDeleteInProgress
		if c.state == StateActive {
			// Removing an HSM from an active cluster forces a backup (CloudHSM user guide).
			s.newBackupLocked(c)
		}
		s.timers.Later(s.dur.HsmDelete, func() { s.removeHsmLocked(c, h) })
		return map[string]any{"HsmId": h.id}, nil
	})
}

// removeHsmLocked drops an HSM from its cluster and gives its address back.
func (s *Service) removeHsmLocked(c *cluster, h *hsm) {
	idx := slices.Index(c.hsms, h)
	if idx < 0 {
		return
	}
	c.hsms = slices.Delete(c.hsms, idx, idx+1)
	_ = s.net.ReleaseENI(h.eniID)
}
