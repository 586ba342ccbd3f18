package ec2

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// The default sandbox network. The ids are fixed so tests, the demo and operators can name them.
const (
	DefaultVPCID           = "vpc-0a5b0c1d2e3f40001"
	DefaultVPCCIDR         = "10.0.0.0/16"
	DefaultSecurityGroupID = "sg-0a5b0c1d2e3f40001"
	DefaultInstanceID      = "i-0a5b0c1d2e3f40001"
)

// DefaultSubnetIDs are the private subnets of the default VPC, in us-east-1a, -1b and -1c.
var DefaultSubnetIDs = [3]string{"subnet-0a5b0c1d2e3f4000a", "subnet-0a5b0c1d2e3f4000b", "subnet-0a5b0c1d2e3f4000c"}

// Option configures a Service.
type Option func(*Service)

// WithAccount sets the owner account id (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Service is the emulated EC2. It is safe for concurrent use.
type Service struct {
	core.QueryProtocol
	clock core.Clock
	core.Place

	mu        sync.Mutex
	vpcs      []*vpc
	subnets   []*subnet
	groups    []*securityGroup
	instances []*instance
	enis      []*eni
	flows     []Flow // recorded by Connect, taken by Flows
	flowLogs  []*flowLog
	deliver   FlowDeliverer // publishes flow log records (SetFlowDeliverer)
}

type tag struct{ key, value string }

type vpc struct {
	id, cidr string
	tags     []tag
}

type subnet struct {
	id, vpcID, az, azID string
	prefix              netip.Prefix
	used                map[netip.Addr]bool
	tags                []tag
	// ipv6 is the subnet's IPv6 /64 (AddSubnetIPv6), invalid when it has none; next6 is the
	// interface id the next IPv6 address takes (addresses are not reused: a /64 does not run out).
	ipv6            netip.Prefix
	ipv6Association string
	next6           uint64
}

type rule struct {
	id         string
	egress     bool
	protocol   string // tcp, udp, icmp, icmpv6 or -1
	from, to   int32  // -1 for all traffic
	cidr4      string
	cidr6      string
	groupID    string
	prefixList string
	desc       string
}

type securityGroup struct {
	id, name, description, vpcID string
	rules                        []*rule
	tags                         []tag
}

type instance struct {
	id, subnetID, ip, eniID, instanceType, imageID, profileARN string
	launched                                                   time.Time
	groupIDs                                                   []string
	tags                                                       []tag
}

type eni struct {
	id, subnetID, ip, ipv6, description, instanceID string
	groupIDs                                        []string
	requesterManaged                                bool
}

// New returns EC2 with the default sandbox network in us-east-1.
func New(clock core.Clock, opts ...Option) *Service {
	s := &Service{QueryProtocol: identity, clock: clock, Place: core.DefaultPlace}
	core.Configure(s, opts)
	s.vpcs = []*vpc{{id: DefaultVPCID, cidr: DefaultVPCCIDR, tags: []tag{{"Name", "strongroom-sandbox"}}}}
	for i, az := range []string{"a", "b", "c"} {
		s.subnets = append(s.subnets, &subnet{
			id: DefaultSubnetIDs[i], vpcID: DefaultVPCID, az: s.Region() + az, azID: fmt.Sprintf("use1-az%d", i+1),
			prefix: netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i)), used: map[netip.Addr]bool{},
			tags: []tag{{"Name", "strongroom-private-" + az}},
		})
	}
	s.groups = []*securityGroup{{
		id: DefaultSecurityGroupID, name: "default", description: "default VPC security group", vpcID: DefaultVPCID,
		rules: []*rule{
			{id: newID("sgr-"), protocol: "-1", from: -1, to: -1, groupID: DefaultSecurityGroupID},
			{id: newID("sgr-"), egress: true, protocol: "-1", from: -1, to: -1, cidr4: "0.0.0.0/0"},
		},
	}}
	eniID, ip, _, err := s.AllocateENI(DefaultSubnetIDs[0], "Primary network interface", DefaultSecurityGroupID)
	if err != nil {
		panic("ec2: default network: " + err.Error())
	}
	s.instances = []*instance{{
		id: DefaultInstanceID, subnetID: DefaultSubnetIDs[0], ip: ip, eniID: eniID,
		instanceType: "t3.micro", imageID: "ami-0a5b0c1d2e3f40001", launched: clock.Now(),
		profileARN: fmt.Sprintf("arn:aws:iam::%s:instance-profile/strongroom-hsm-client", s.Account()),
		groupIDs:   []string{DefaultSecurityGroupID},
		tags:       []tag{{"Name", "strongroom-hsm-client"}},
	}}
	s.enis[0].instanceID = DefaultInstanceID
	return s
}

// identity is how EC2 is addressed on the wire.
var identity = core.NewQueryProtocol("ec2", "ec2", "http://ec2.amazonaws.com/doc/2016-11-15/", core.QueryEC2)

var _ core.QueryService = (*Service)(nil)

// QueryOperations implements core.QueryService.
func (s *Service) QueryOperations() map[string]core.QueryOperation {
	return map[string]core.QueryOperation{
		"DescribeVpcs":                  describeOp(s, vpcKind, s.vpcXML, func(x []vpcXML) any { return describeVpcsOutput{x} }),
		"DescribeSubnets":               describeOp(s, subnetKind, s.subnetXML, func(x []subnetXML) any { return describeSubnetsOutput{x} }),
		"DescribeSecurityGroups":        s.describeSecurityGroups,
		"DescribeInstances":             describeOp(s, instanceKind, s.reservationXML, func(x []reservationXML) any { return describeInstancesOutput{x} }),
		"DescribeNetworkInterfaces":     describeOp(s, eniKind, s.eniXML, func(x []eniXML) any { return describeENIsOutput{x} }),
		"CreateSecurityGroup":           s.createSecurityGroup,
		"DeleteSecurityGroup":           s.deleteSecurityGroup,
		"AuthorizeSecurityGroupIngress": s.authorize(false),
		"AuthorizeSecurityGroupEgress":  s.authorize(true),
		"RevokeSecurityGroupIngress":    s.revoke(false),
		"RevokeSecurityGroupEgress":     s.revoke(true),
		"CreateNetworkInterface":        s.createNetworkInterface,
		"DeleteNetworkInterface":        s.deleteNetworkInterface,
		"CreateFlowLogs":                s.createFlowLogs,
		"DescribeFlowLogs":              s.describeFlowLogs,
		"DeleteFlowLogs":                s.deleteFlowLogs,
	}
}

// newID returns prefix followed by 17 random hex digits, the form of current EC2 ids.
func newID(prefix string) string { return prefix + core.RandomHex(17) }

func notFound(code, kind, id string) error {
	return core.Errorf(code, "The %s '%s' does not exist", kind, id)
}

func (s *Service) subnet(id string) (*subnet, error) {
	for _, sn := range s.subnets {
		if sn.id == id {
			return sn, nil
		}
	}
	return nil, notFound("InvalidSubnetID.NotFound", "subnet ID", id)
}

func (s *Service) group(id string) (*securityGroup, error) {
	for _, g := range s.groups {
		if g.id == id {
			return g, nil
		}
	}
	return nil, notFound("InvalidGroup.NotFound", "security group", id)
}

// groupNamed returns the security group called name in the default VPC, the group a GroupName
// parameter names.
func (s *Service) groupNamed(name string) (*securityGroup, error) {
	for _, g := range s.groups {
		if g.name == name && g.vpcID == DefaultVPCID {
			return g, nil
		}
	}
	return nil, errNoGroupNamed(name)
}

func errNoGroupNamed(name string) error {
	return core.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, DefaultVPCID)
}

func (s *Service) vpc(id string) (*vpc, error) {
	for _, v := range s.vpcs {
		if v.id == id {
			return v, nil
		}
	}
	return nil, notFound("InvalidVpcID.NotFound", "vpc ID", id)
}

// reserved reports whether addr is one of the five addresses AWS keeps in every subnet: the
// network address, the VPC router, DNS, one for future use, and the last (broadcast) address.
func reserved(p netip.Prefix, addr netip.Addr) bool {
	first := p.Masked().Addr()
	for i := 0; i < 4; i++ {
		if addr == first {
			return true
		}
		first = first.Next()
	}
	return !p.Contains(addr.Next())
}

func (sn *subnet) size() int { return 1 << (32 - sn.prefix.Bits()) }

func (sn *subnet) available() int { return sn.size() - 5 - len(sn.used) }

// takeIP returns the lowest free address of the subnet.
func (sn *subnet) takeIP() (netip.Addr, error) {
	for a := sn.prefix.Masked().Addr(); sn.prefix.Contains(a); a = a.Next() {
		if !reserved(sn.prefix, a) && !sn.used[a] {
			sn.used[a] = true
			return a, nil
		}
	}
	return netip.Addr{}, core.Errorf("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.id)
}

// AllocateENI creates a network interface in the subnet with the next free private IP, as a
// service-managed interface (requesterManaged), the way CloudHSM places an HSM. It returns the
// interface id, its IP and the subnet's Availability Zone. groupIDs, when given, must exist.
func (s *Service) AllocateENI(subnetID, description string, groupIDs ...string) (eniID, ip, az string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.newENI(subnetID, description, "", groupIDs, true)
	if err != nil {
		return "", "", "", fmt.Errorf("allocate a network interface in %s: %w", subnetID, err)
	}
	sn, _ := s.subnet(subnetID)
	return n.id, n.ip, sn.az, nil
}

// DefaultIPv6Block is the IPv6 /56 AddSubnetIPv6 gives the default VPC, from the documentation
// range (2001:db8::/32), so no address it hands out is routable anywhere.
const DefaultIPv6Block = "2001:db8:5a0b:c100::/56"

// AddSubnetIPv6 associates an IPv6 /64 with the subnet, as AssociateSubnetCidrBlock does once the
// VPC has an IPv6 block (which the sandbox does not emulate on the wire: tests and the demo call
// this, as a CDK VPC with IpProtocol DUAL_STACK would have it at deploy time). The n-th default
// subnet gets the n-th /64 of DefaultIPv6Block. A subnet that has a block keeps it.
func (s *Service) AddSubnetIPv6(subnetID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, err := s.subnet(subnetID)
	if err != nil {
		return "", err
	}
	if !sn.ipv6.IsValid() {
		base := netip.MustParsePrefix(DefaultIPv6Block).Addr().As16()
		base[7] = byte(slices.Index(s.subnets, sn))
		sn.ipv6 = netip.PrefixFrom(netip.AddrFrom16(base), 64)
		sn.ipv6Association = newID("subnet-cidr-assoc-")
		sn.next6 = 0x10
	}
	return sn.ipv6.String(), nil
}

// SubnetIPv6 returns the subnet's IPv6 block, or "" when it has none.
func (s *Service) SubnetIPv6(subnetID string) (string, error) {
	return core.Locked(&s.mu, s.subnet, subnetID, func(sn *subnet) (string, error) {
		if !sn.ipv6.IsValid() {
			return "", nil
		}
		return sn.ipv6.String(), nil
	})
}

// AssignIPv6 gives a network interface the next IPv6 address of its subnet's block, as
// AssignIpv6Addresses does; a subnet without a block refuses it as EC2 does.
func (s *Service) AssignIPv6(eniID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.eniByID(eniID)
	if n == nil {
		return "", notFound("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", eniID)
	}
	sn, err := s.subnet(n.subnetID)
	if err != nil {
		return "", err
	}
	if !sn.ipv6.IsValid() {
		return "", core.Errorf("InvalidParameterValue", "Subnet %s does not have an IPv6 CIDR block; associate one before assigning IPv6 addresses.", sn.id)
	}
	a := sn.ipv6.Addr().As16()
	for i := 0; i < 8; i++ {
		a[15-i] = byte(sn.next6 >> (8 * i))
	}
	sn.next6++
	n.ipv6 = netip.AddrFrom16(a).String()
	return n.ipv6, nil
}

// ReleaseENI deletes a network interface and frees its IP.
func (s *Service) ReleaseENI(eniID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.deleteENI(eniID); err != nil {
		return fmt.Errorf("release network interface %s: %w", eniID, err)
	}
	return nil
}

// SubnetAZ returns the Availability Zone of a subnet, for services that place resources by subnet.
func (s *Service) SubnetAZ(subnetID string) (string, error) {
	return core.Locked(&s.mu, s.subnet, subnetID, func(sn *subnet) (string, error) { return sn.az, nil })
}

// SubnetVPC returns the VPC id of a subnet.
func (s *Service) SubnetVPC(subnetID string) (string, error) {
	return core.Locked(&s.mu, s.subnet, subnetID, func(sn *subnet) (string, error) { return sn.vpcID, nil })
}

// InstanceRunning reports whether the instance exists and is running (for SSM's managed-instance
// checks).
func (s *Service) InstanceRunning(instanceID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instanceByID(instanceID) != nil
}

// CreateGroup creates a security group in a VPC with no ingress rules and the usual allow-all
// egress rule, as CreateSecurityGroup does (CloudHSM makes its cluster group this way, then sets
// its rules with SelfRules).
func (s *Service) CreateGroup(vpcID, name, description string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.newGroup(vpcID, name, description)
	if err != nil {
		return "", fmt.Errorf("create security group %s: %w", name, err)
	}
	return g.id, nil
}

// DeleteGroup deletes a security group (CloudHSM removes its cluster group on DeleteCluster).
func (s *Service) DeleteGroup(groupID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.removeGroup(groupID); err != nil {
		return fmt.Errorf("delete security group %s: %w", groupID, err)
	}
	return nil
}

func (s *Service) newGroup(vpcID, name, description string) (*securityGroup, error) {
	if name == "" || len(name) > 255 {
		return nil, core.Errorf("InvalidParameterValue", "GroupName must be 1 to 255 characters.")
	}
	if description == "" {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter GroupDescription")
	}
	if vpcID == "" {
		vpcID = DefaultVPCID
	}
	if _, err := s.vpc(vpcID); err != nil {
		return nil, err
	}
	for _, g := range s.groups {
		if g.vpcID == vpcID && g.name == name {
			return nil, core.Errorf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpcID)
		}
	}
	g := &securityGroup{id: newID("sg-"), name: name, description: description, vpcID: vpcID,
		rules: []*rule{{id: newID("sgr-"), egress: true, protocol: "-1", from: -1, to: -1, cidr4: "0.0.0.0/0"}}}
	s.groups = append(s.groups, g)
	return g, nil
}

func (s *Service) removeGroup(id string) error {
	g, err := s.group(id)
	if err != nil {
		return err
	}
	if g.name == "default" {
		return core.Errorf("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", id)
	}
	for _, n := range s.enis {
		for _, gid := range n.groupIDs {
			if gid == id {
				return core.Errorf("DependencyViolation", "resource %s has a dependent object", id)
			}
		}
	}
	// A rule of another group that names this one is a dependent object too.
	for _, other := range s.groups {
		if other != g && slices.ContainsFunc(other.rules, func(r *rule) bool { return r.groupID == id }) {
			return core.Errorf("DependencyViolation", "resource %s has a dependent object", id)
		}
	}
	for i, x := range s.groups {
		if x == g {
			s.groups = append(s.groups[:i], s.groups[i+1:]...)
			break
		}
	}
	return nil
}

func (s *Service) newENI(subnetID, description, ip string, groupIDs []string, managed bool) (*eni, error) {
	sn, err := s.subnet(subnetID)
	if err != nil {
		return nil, err
	}
	for _, gid := range groupIDs {
		g, err := s.group(gid)
		if err != nil {
			return nil, err
		}
		if g.vpcID != sn.vpcID {
			return nil, core.Errorf("InvalidParameter", "Security group %s and subnet %s belong to different networks.", gid, subnetID)
		}
	}
	var addr netip.Addr
	if ip != "" {
		addr, err = netip.ParseAddr(ip)
		if err != nil || !sn.prefix.Contains(addr) || reserved(sn.prefix, addr) {
			return nil, core.Errorf("InvalidParameterValue", "Address %s does not fall within the subnet's address range or is reserved.", ip)
		}
		if sn.used[addr] {
			return nil, core.Errorf("InvalidIPAddress.InUse", "The specified address %s is already in use.", ip)
		}
		sn.used[addr] = true
	} else if addr, err = sn.takeIP(); err != nil {
		return nil, err
	}
	if len(groupIDs) == 0 {
		groupIDs = []string{s.defaultGroupOf(sn.vpcID)}
	}
	n := &eni{id: newID("eni-"), subnetID: subnetID, ip: addr.String(), description: description, groupIDs: groupIDs, requesterManaged: managed}
	s.enis = append(s.enis, n)
	return n, nil
}

func (s *Service) defaultGroupOf(vpcID string) string {
	for _, g := range s.groups {
		if g.vpcID == vpcID && g.name == "default" {
			return g.id
		}
	}
	return ""
}

func (s *Service) deleteENI(id string) error {
	for i, n := range s.enis {
		if n.id != id {
			continue
		}
		if n.instanceID != "" {
			return core.Errorf("InvalidNetworkInterface.InUse", "Interface: [%s] in use.", id)
		}
		sn, _ := s.subnet(n.subnetID)
		delete(sn.used, netip.MustParseAddr(n.ip))
		s.enis = append(s.enis[:i], s.enis[i+1:]...)
		return nil
	}
	return notFound("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", id)
}
