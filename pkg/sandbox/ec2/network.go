package ec2

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// SelfRules replaces a security group's rules with one ingress rule from the group itself and one
// egress rule to it, for protocol and ports from-to: what CloudHSM's CreateCluster gives the cluster
// group it makes (TCP 2223-2225; "the Source in the inbound rules and the Destination in the
// outbound rules must match the security group ID", KMS's CloudHsmClusterInvalidConfigurationException).
func (s *Service) SelfRules(groupID, protocol string, from, to int32, description string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.group(groupID)
	if err != nil {
		return fmt.Errorf("set the rules of security group %s: %w", groupID, err)
	}
	g.rules = []*rule{
		{id: newID("sgr-"), protocol: protocol, from: from, to: to, groupID: groupID, desc: description},
		{id: newID("sgr-"), egress: true, protocol: protocol, from: from, to: to, groupID: groupID, desc: description},
	}
	return nil
}

// SetInstanceGroups sets an instance's security groups (what CloudFormation's SecurityGroupIds of an
// AWS::EC2::Instance gives it): they are its primary network interface's groups, so they decide
// what the instance may reach and what may reach it (Connect). Every group must exist in the
// instance's VPC.
func (s *Service) SetInstanceGroups(instanceID string, groupIDs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.instanceByID(instanceID)
	if in == nil {
		return notFound("InvalidInstanceID.NotFound", "instance ID", instanceID)
	}
	if len(groupIDs) == 0 {
		return core.Errorf("InvalidParameterValue", "instance %s needs at least one security group", instanceID)
	}
	sn, err := s.subnet(in.subnetID)
	if err != nil {
		return err
	}
	for _, gid := range groupIDs {
		g, err := s.group(gid)
		if err != nil {
			return err
		}
		if g.vpcID != sn.vpcID {
			return core.Errorf("InvalidParameter", "Security group %s and subnet %s belong to different networks.", gid, in.subnetID)
		}
	}
	in.groupIDs = slices.Clone(groupIDs)
	if n := s.eniByID(in.eniID); n != nil {
		n.groupIDs = slices.Clone(groupIDs)
	}
	return nil
}

// RejectedError is a connection the VPC's security groups refused: the source's egress rules or
// the destination's ingress rules (Side) allow no rule for it. On AWS the packets are dropped and
// the client's connect times out; a flow log records the refusal as REJECT.
type RejectedError struct {
	From, To string // interface ids
	DstAddr  string
	Port     int
	Side     string // "egress of <groups>" or "ingress of <groups>"
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("connection from %s to %s:%d (TCP) rejected: no rule in the %s allows it", e.From, e.DstAddr, e.Port, e.Side)
}

// IsRejected reports whether err is a connection the security groups refused.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// Flow is one direction of a connection as one network interface saw it: a flow log record's
// fields (version 2's default format).
type Flow struct {
	InterfaceID      string
	SrcAddr, DstAddr string
	SrcPort, DstPort int
	Protocol         int // IANA number: 6 for TCP
	Packets, Bytes   int
	Start, End       time.Time
	Action           string // ACCEPT or REJECT
}

// Connect opens a TCP connection from an instance's primary network interface to dstIP:port as the
// VPC judges it: the instance's groups' egress rules must allow the destination (by CIDR, or by a
// group the destination's interface is in) and the destination interface's groups' ingress rules
// must allow the source; the groups are stateful, so the reply needs no rule. A destination no
// interface of the VPC has is answered by no one (a RejectedError naming no groups is not given:
// Connect returns nil and the caller finds nobody there). Each direction each interface sees is
// recorded as a Flow (Flows), ACCEPT or REJECT, as VPC flow logs capture it, and delivered at once
// to the flow logs that capture it (flowlogs.go) before Connect returns.
func (s *Service) Connect(instanceID, dstIP string, port int) error {
	s.mu.Lock()
	in := s.instanceByID(instanceID)
	if in == nil {
		s.mu.Unlock()
		return notFound("InvalidInstanceID.NotFound", "instance ID", instanceID)
	}
	src := s.eniByID(in.eniID)
	dst := s.eniByIP(dstIP)
	if src == nil || dst == nil {
		s.mu.Unlock()
		return nil
	}
	now := s.clock.Now()
	srcPort := 32768 + int(now.UnixNano()%28232) // an ephemeral port, as Linux picks them
	flow := func(on *eni, from, to *eni, fromPort, toPort int, action string) Flow {
		return Flow{InterfaceID: on.id, SrcAddr: from.ip, DstAddr: to.ip, SrcPort: fromPort, DstPort: toPort, Protocol: 6,
			Packets: 3, Bytes: 180, Start: now, End: now, Action: action}
	}
	var rejected *RejectedError
	var flows []Flow
	switch {
	case !s.allows(src.groupIDs, true, port, dst):
		rejected = &RejectedError{From: src.id, To: dst.id, DstAddr: dst.ip, Port: port, Side: "egress of " + strings.Join(src.groupIDs, ", ")}
		flows = []Flow{flow(src, src, dst, srcPort, port, "REJECT")}
	case !s.allows(dst.groupIDs, false, port, src):
		rejected = &RejectedError{From: src.id, To: dst.id, DstAddr: dst.ip, Port: port, Side: "ingress of " + strings.Join(dst.groupIDs, ", ")}
		flows = []Flow{flow(src, src, dst, srcPort, port, "ACCEPT"), flow(dst, src, dst, srcPort, port, "REJECT")}
	default:
		flows = []Flow{
			flow(src, src, dst, srcPort, port, "ACCEPT"), flow(src, dst, src, port, srcPort, "ACCEPT"),
			flow(dst, src, dst, srcPort, port, "ACCEPT"), flow(dst, dst, src, port, srcPort, "ACCEPT")}
	}
	s.flows = append(s.flows, flows...)
	deliveries, deliver := s.flowDeliveries(flows), s.deliver
	s.mu.Unlock()
	s.deliverFlows(deliver, deliveries)
	if rejected != nil {
		return rejected
	}
	return nil
}

// allows reports whether any rule of groups, in the given direction, allows TCP to port with peer.
func (s *Service) allows(groups []string, egress bool, port int, peer *eni) bool {
	addr, err := netip.ParseAddr(peer.ip)
	if err != nil {
		return false
	}
	for _, gid := range groups {
		g, err := s.group(gid)
		if err != nil {
			continue
		}
		for _, r := range g.rules {
			if r.egress != egress || !r.coversTCP(port) {
				continue
			}
			switch {
			case r.cidr4 != "":
				if p, err := netip.ParsePrefix(r.cidr4); err == nil && p.Contains(addr) {
					return true
				}
			case r.groupID != "":
				if slices.Contains(peer.groupIDs, r.groupID) {
					return true
				}
			}
		}
	}
	return false
}

// coversTCP reports whether the rule's protocol and port range take a TCP connection to port.
func (r *rule) coversTCP(port int) bool {
	switch r.protocol {
	case "-1":
		return true
	case "tcp", "6":
		return int32(port) >= r.from && int32(port) <= r.to
	}
	return false
}

// Flows returns, and forgets, the flows recorded since the last call, in order.
func (s *Service) Flows() []Flow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.flows
	s.flows = nil
	return out
}

// GroupVPC returns the id of a security group's VPC (EC2's ec2:Vpc condition key on calls on it).
func (s *Service) GroupVPC(groupID string) (string, error) {
	return core.Locked(&s.mu, s.group, groupID, func(g *securityGroup) (string, error) { return g.vpcID, nil })
}

func (s *Service) instanceByID(id string) *instance {
	for _, in := range s.instances {
		if in.id == id {
			return in
		}
	}
	return nil
}

func (s *Service) eniByID(id string) *eni {
	for _, n := range s.enis {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (s *Service) eniByIP(ip string) *eni {
	for _, n := range s.enis {
		if n.ip == ip || (n.ipv6 != "" && n.ipv6 == ip) {
			return n
		}
	}
	return nil
}
