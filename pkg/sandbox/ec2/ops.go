package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// XML shapes, as the EC2 Query protocol writes them: lowerCamel element names and lists of <item>.

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func tagsXML(tags []tag) []tagXML {
	out := make([]tagXML, 0, len(tags))
	for _, t := range tags {
		out = append(out, tagXML{t.key, t.value})
	}
	return out
}

type stateXML struct {
	State string `xml:"state"`
}

type cidrAssocXML struct {
	AssociationID string   `xml:"associationId"`
	CidrBlock     string   `xml:"cidrBlock"`
	State         stateXML `xml:"cidrBlockState"`
}

type vpcXML struct {
	VpcID           string         `xml:"vpcId"`
	OwnerID         string         `xml:"ownerId"`
	State           string         `xml:"state"`
	CidrBlock       string         `xml:"cidrBlock"`
	CidrAssoc       []cidrAssocXML `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID   string         `xml:"dhcpOptionsId"`
	InstanceTenancy string         `xml:"instanceTenancy"`
	IsDefault       bool           `xml:"isDefault"`
	Tags            []tagXML       `xml:"tagSet>item"`
}

type subnetXML struct {
	SubnetID                string `xml:"subnetId"`
	SubnetArn               string `xml:"subnetArn"`
	State                   string `xml:"state"`
	VpcID                   string `xml:"vpcId"`
	OwnerID                 string `xml:"ownerId"`
	CidrBlock               string `xml:"cidrBlock"`
	AvailableIPAddressCount int    `xml:"availableIpAddressCount"`
	AvailabilityZone        string `xml:"availabilityZone"`
	AvailabilityZoneID      string `xml:"availabilityZoneId"`
	DefaultForAz            bool   `xml:"defaultForAz"`
	MapPublicIPOnLaunch     bool   `xml:"mapPublicIpOnLaunch"`
	// Ipv6CidrBlockAssociationSet lists the subnet's IPv6 block, when it has one.
	Ipv6CidrBlockAssociationSet []ipv6AssociationXML `xml:"ipv6CidrBlockAssociationSet>item"`
	Tags                        []tagXML             `xml:"tagSet>item"`
}

type ipv6AssociationXML struct {
	Ipv6CidrBlock string `xml:"ipv6CidrBlock"`
	AssociationID string `xml:"associationId"`
	State         string `xml:"ipv6CidrBlockState>state"`
}

type groupPairXML struct {
	GroupID     string `xml:"groupId"`
	UserID      string `xml:"userId"`
	Description string `xml:"description,omitempty"`
}

type ipRangeXML struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type ipv6RangeXML struct {
	CidrIPv6    string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type prefixListXML struct {
	PrefixListID string `xml:"prefixListId"`
	Description  string `xml:"description,omitempty"`
}

type permissionXML struct {
	IPProtocol  string          `xml:"ipProtocol"`
	FromPort    *int32          `xml:"fromPort,omitempty"`
	ToPort      *int32          `xml:"toPort,omitempty"`
	Groups      []groupPairXML  `xml:"groups>item"`
	IPRanges    []ipRangeXML    `xml:"ipRanges>item"`
	IPv6Ranges  []ipv6RangeXML  `xml:"ipv6Ranges>item"`
	PrefixLists []prefixListXML `xml:"prefixListIds>item"`
}

type groupXML struct {
	OwnerID          string          `xml:"ownerId"`
	GroupID          string          `xml:"groupId"`
	GroupName        string          `xml:"groupName"`
	GroupDescription string          `xml:"groupDescription"`
	VpcID            string          `xml:"vpcId"`
	SecurityGroupArn string          `xml:"securityGroupArn"`
	Ingress          []permissionXML `xml:"ipPermissions>item"`
	Egress           []permissionXML `xml:"ipPermissionsEgress>item"`
	Tags             []tagXML        `xml:"tagSet>item"`
}

type groupIdentXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type attachmentXML struct {
	AttachmentID        string `xml:"attachmentId"`
	InstanceID          string `xml:"instanceId,omitempty"`
	InstanceOwnerID     string `xml:"instanceOwnerId,omitempty"`
	DeviceIndex         int    `xml:"deviceIndex"`
	Status              string `xml:"status"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type privateIPXML struct {
	PrivateIPAddress string `xml:"privateIpAddress"`
	PrivateDNSName   string `xml:"privateDnsName"`
	Primary          bool   `xml:"primary"`
}

type eniXML struct {
	NetworkInterfaceID string          `xml:"networkInterfaceId"`
	SubnetID           string          `xml:"subnetId"`
	VpcID              string          `xml:"vpcId"`
	AvailabilityZone   string          `xml:"availabilityZone"`
	AvailabilityZoneID string          `xml:"availabilityZoneId"`
	Description        string          `xml:"description"`
	OwnerID            string          `xml:"ownerId"`
	RequesterManaged   bool            `xml:"requesterManaged"`
	Status             string          `xml:"status"`
	MacAddress         string          `xml:"macAddress"`
	PrivateIPAddress   string          `xml:"privateIpAddress"`
	PrivateDNSName     string          `xml:"privateDnsName"`
	SourceDestCheck    bool            `xml:"sourceDestCheck"`
	InterfaceType      string          `xml:"interfaceType"`
	Groups             []groupIdentXML `xml:"groupSet>item"`
	Attachment         *attachmentXML  `xml:"attachment,omitempty"`
	PrivateIPs         []privateIPXML  `xml:"privateIpAddressesSet>item"`
	Tags               []tagXML        `xml:"tagSet>item"`
}

type instanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type placementXML struct {
	AvailabilityZone string `xml:"availabilityZone"`
	Tenancy          string `xml:"tenancy"`
}

type profileXML struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type instanceXML struct {
	InstanceID         string           `xml:"instanceId"`
	ImageID            string           `xml:"imageId"`
	State              instanceStateXML `xml:"instanceState"`
	PrivateDNSName     string           `xml:"privateDnsName"`
	InstanceType       string           `xml:"instanceType"`
	LaunchTime         string           `xml:"launchTime"`
	Placement          placementXML     `xml:"placement"`
	SubnetID           string           `xml:"subnetId"`
	VpcID              string           `xml:"vpcId"`
	PrivateIPAddress   string           `xml:"privateIpAddress"`
	Architecture       string           `xml:"architecture"`
	RootDeviceType     string           `xml:"rootDeviceType"`
	VirtualizationType string           `xml:"virtualizationType"`
	Hypervisor         string           `xml:"hypervisor"`
	PlatformDetails    string           `xml:"platformDetails"`
	IamInstanceProfile profileXML       `xml:"iamInstanceProfile"`
	Groups             []groupIdentXML  `xml:"groupSet>item"`
	Tags               []tagXML         `xml:"tagSet>item"`
	NetworkInterfaces  []eniXML         `xml:"networkInterfaceSet>item"`
}

type reservationXML struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

type ruleXML struct {
	SecurityGroupRuleID string             `xml:"securityGroupRuleId"`
	GroupID             string             `xml:"groupId"`
	GroupOwnerID        string             `xml:"groupOwnerId"`
	IsEgress            bool               `xml:"isEgress"`
	IPProtocol          string             `xml:"ipProtocol"`
	FromPort            int32              `xml:"fromPort"`
	ToPort              int32              `xml:"toPort"`
	CidrIPv4            string             `xml:"cidrIpv4,omitempty"`
	CidrIPv6            string             `xml:"cidrIpv6,omitempty"`
	PrefixListID        string             `xml:"prefixListId,omitempty"`
	Referenced          *referencedGroupXM `xml:"referencedGroupInfo,omitempty"`
	Description         string             `xml:"description,omitempty"`
}

type referencedGroupXM struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

const timeFormat = "2006-01-02T15:04:05.000Z"

// Renderers. Callers hold s.mu.

func (s *Service) vpcXML(v *vpc) vpcXML {
	return vpcXML{
		VpcID: v.id, OwnerID: s.Account(), State: "available", CidrBlock: v.cidr,
		CidrAssoc:     []cidrAssocXML{{AssociationID: "vpc-cidr-assoc-" + strings.TrimPrefix(v.id, "vpc-"), CidrBlock: v.cidr, State: stateXML{"associated"}}},
		DhcpOptionsID: "dopt-0a5b0c1d2e3f40001", InstanceTenancy: "default", Tags: tagsXML(v.tags),
	}
}

func (s *Service) subnetXML(sn *subnet) subnetXML {
	x := subnetXML{
		SubnetID: sn.id, SubnetArn: fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", s.Region(), s.Account(), sn.id),
		State: "available", VpcID: sn.vpcID, OwnerID: s.Account(), CidrBlock: sn.prefix.String(),
		AvailableIPAddressCount: sn.available(), AvailabilityZone: sn.az, AvailabilityZoneID: sn.azID,
		Tags: tagsXML(sn.tags),
	}
	if sn.ipv6.IsValid() {
		x.Ipv6CidrBlockAssociationSet = []ipv6AssociationXML{{Ipv6CidrBlock: sn.ipv6.String(), AssociationID: sn.ipv6Association, State: "associated"}}
	}
	return x
}

func ports(r *rule) (from, to *int32) {
	if r.protocol == "-1" {
		return nil, nil
	}
	f, t := r.from, r.to
	return &f, &t
}

// permissionsXML groups rules into IpPermissions by protocol and port range, as EC2 reports them.
func (s *Service) permissionsXML(rules []*rule, egress bool) []permissionXML {
	var out []permissionXML
	index := map[string]int{}
	for _, r := range rules {
		if r.egress != egress {
			continue
		}
		key := fmt.Sprintf("%s/%d/%d", r.protocol, r.from, r.to)
		i, ok := index[key]
		if !ok {
			from, to := ports(r)
			out = append(out, permissionXML{IPProtocol: r.protocol, FromPort: from, ToPort: to})
			i = len(out) - 1
			index[key] = i
		}
		p := &out[i]
		switch {
		case r.cidr4 != "":
			p.IPRanges = append(p.IPRanges, ipRangeXML{r.cidr4, r.desc})
		case r.cidr6 != "":
			p.IPv6Ranges = append(p.IPv6Ranges, ipv6RangeXML{r.cidr6, r.desc})
		case r.groupID != "":
			p.Groups = append(p.Groups, groupPairXML{r.groupID, s.Account(), r.desc})
		case r.prefixList != "":
			p.PrefixLists = append(p.PrefixLists, prefixListXML{r.prefixList, r.desc})
		}
	}
	return out
}

func (s *Service) groupXML(g *securityGroup) groupXML {
	return groupXML{
		OwnerID: s.Account(), GroupID: g.id, GroupName: g.name, GroupDescription: g.description, VpcID: g.vpcID,
		SecurityGroupArn: fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", s.Region(), s.Account(), g.id),
		Ingress:          s.permissionsXML(g.rules, false), Egress: s.permissionsXML(g.rules, true), Tags: tagsXML(g.tags),
	}
}

func dnsName(ip string) string {
	return "ip-" + strings.ReplaceAll(ip, ".", "-") + ".ec2.internal"
}

func (s *Service) groupIdents(ids []string) []groupIdentXML {
	var out []groupIdentXML
	for _, id := range ids {
		name := ""
		if g, err := s.group(id); err == nil {
			name = g.name
		}
		out = append(out, groupIdentXML{id, name})
	}
	return out
}

func (s *Service) eniXML(n *eni) eniXML {
	sn, _ := s.subnet(n.subnetID)
	x := eniXML{
		NetworkInterfaceID: n.id, SubnetID: n.subnetID, VpcID: sn.vpcID, AvailabilityZone: sn.az, AvailabilityZoneID: sn.azID,
		Description: n.description, OwnerID: s.Account(), RequesterManaged: n.requesterManaged, Status: "available",
		MacAddress: macOf(n.ip), PrivateIPAddress: n.ip, PrivateDNSName: dnsName(n.ip), SourceDestCheck: true,
		InterfaceType: "interface", Groups: s.groupIdents(n.groupIDs),
		PrivateIPs: []privateIPXML{{n.ip, dnsName(n.ip), true}},
	}
	if n.instanceID != "" || n.requesterManaged {
		x.Status = "in-use"
	}
	if n.instanceID != "" {
		x.Attachment = &attachmentXML{AttachmentID: "eni-attach-" + strings.TrimPrefix(n.id, "eni-"), InstanceID: n.instanceID,
			InstanceOwnerID: s.Account(), Status: "attached", DeleteOnTermination: true}
	}
	return x
}

func macOf(ip string) string {
	a := netip.MustParseAddr(ip).As4()
	return fmt.Sprintf("0e:5b:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
}

func (s *Service) instanceXML(in *instance) instanceXML {
	sn, _ := s.subnet(in.subnetID)
	x := instanceXML{
		InstanceID: in.id, ImageID: in.imageID, State: instanceStateXML{16, "running"}, PrivateDNSName: dnsName(in.ip),
		InstanceType: in.instanceType, LaunchTime: in.launched.UTC().Format(timeFormat),
		Placement: placementXML{sn.az, "default"}, SubnetID: in.subnetID, VpcID: sn.vpcID, PrivateIPAddress: in.ip,
		Architecture: "x86_64", RootDeviceType: "ebs", VirtualizationType: "hvm", Hypervisor: "xen", PlatformDetails: "Linux/UNIX",
		IamInstanceProfile: profileXML{in.profileARN, "AIPA0A5B0C1D2E3F40001"},
		Groups:             s.groupIdents(in.groupIDs), Tags: tagsXML(in.tags),
	}
	if n := s.eniByID(in.eniID); n != nil {
		x.NetworkInterfaces = append(x.NetworkInterfaces, s.eniXML(n))
	}
	return x
}

// Attribute maps for filters.

func (s *Service) vpcAttrs(v *vpc) map[string][]string {
	return map[string][]string{"vpc-id": {v.id}, "cidr": {v.cidr}, "cidr-block-association.cidr-block": {v.cidr},
		"state": {"available"}, "is-default": {"false"}, "owner-id": {s.Account()}, "dhcp-options-id": {"dopt-0a5b0c1d2e3f40001"}}
}

func (s *Service) subnetAttrs(sn *subnet) map[string][]string {
	return map[string][]string{"subnet-id": {sn.id}, "vpc-id": {sn.vpcID}, "availability-zone": {sn.az},
		"availability-zone-id": {sn.azID}, "cidr-block": {sn.prefix.String()}, "cidr": {sn.prefix.String()},
		"state": {"available"}, "default-for-az": {"false"}, "owner-id": {s.Account()},
		"available-ip-address-count": {strconv.Itoa(sn.available())}}
}

func (s *Service) groupAttrs(g *securityGroup) map[string][]string {
	return map[string][]string{"group-id": {g.id}, "group-name": {g.name}, "vpc-id": {g.vpcID},
		"description": {g.description}, "owner-id": {s.Account()}}
}

func (s *Service) instanceAttrs(in *instance) map[string][]string {
	sn, _ := s.subnet(in.subnetID)
	return map[string][]string{"instance-id": {in.id}, "vpc-id": {sn.vpcID}, "subnet-id": {in.subnetID},
		"availability-zone": {sn.az}, "instance-state-name": {"running"}, "instance-state-code": {"16"},
		"private-ip-address": {in.ip}, "instance-type": {in.instanceType}, "image-id": {in.imageID},
		"network-interface.network-interface-id": {in.eniID}, "instance.group-id": in.groupIDs, "owner-id": {s.Account()},
		"iam-instance-profile.arn": {in.profileARN}}
}

func (s *Service) eniAttrs(n *eni) map[string][]string {
	sn, _ := s.subnet(n.subnetID)
	status := "available"
	if n.instanceID != "" || n.requesterManaged {
		status = "in-use"
	}
	return map[string][]string{"network-interface-id": {n.id}, "subnet-id": {n.subnetID}, "vpc-id": {sn.vpcID},
		"availability-zone": {sn.az}, "description": {n.description}, "status": {status},
		"private-ip-address": {n.ip}, "addresses.private-ip-address": {n.ip}, "group-id": n.groupIDs,
		"requester-managed": {strconv.FormatBool(n.requesterManaged)}, "attachment.instance-id": {n.instanceID}, "owner-id": {s.Account()}}
}

// kind is what the Describe action of one kind of resource needs to know of it: the request
// parameter that names ids, the exception (and the noun in its message) for an id that does not
// exist, where the service keeps the resources, and a resource's id, filter attributes and tags.
type kind[T any] struct {
	idParam, notFoundCode, noun string
	all                         func(*Service) []T
	id                          func(T) string
	attrs                       func(*Service, T) map[string][]string
	tags                        func(T) []tag
}

var (
	vpcKind = kind[*vpc]{"VpcId", "InvalidVpcID.NotFound", "vpc ID", func(s *Service) []*vpc { return s.vpcs },
		func(v *vpc) string { return v.id }, (*Service).vpcAttrs, func(v *vpc) []tag { return v.tags }}
	subnetKind = kind[*subnet]{"SubnetId", "InvalidSubnetID.NotFound", "subnet ID", func(s *Service) []*subnet { return s.subnets },
		func(sn *subnet) string { return sn.id }, (*Service).subnetAttrs, func(sn *subnet) []tag { return sn.tags }}
	groupKind = kind[*securityGroup]{"GroupId", "InvalidGroup.NotFound", "security group", func(s *Service) []*securityGroup { return s.groups },
		func(g *securityGroup) string { return g.id }, (*Service).groupAttrs, func(g *securityGroup) []tag { return g.tags }}
	instanceKind = kind[*instance]{"InstanceId", "InvalidInstanceID.NotFound", "instance ID", func(s *Service) []*instance { return s.instances },
		func(in *instance) string { return in.id }, (*Service).instanceAttrs, func(in *instance) []tag { return in.tags }}
	eniKind = kind[*eni]{"NetworkInterfaceId", "InvalidNetworkInterfaceID.NotFound", "networkInterface ID", func(s *Service) []*eni { return s.enis },
		func(n *eni) string { return n.id }, (*Service).eniAttrs, func(*eni) []tag { return nil }}
)

// describe selects the resources of kind k a Describe call asks for: every id given must exist,
// then the filters (whose names are those of the kind's attributes, taken from an example
// resource) narrow the list. The result keeps the service's order. Caller holds s.mu.
func describe[T any](s *Service, k kind[T], params url.Values) ([]T, error) {
	all := k.all(s)
	var example map[string][]string
	if len(all) > 0 {
		example = k.attrs(s, all[0])
	}
	filters, err := parseFilters(params, keysOf(example))
	if err != nil {
		return nil, err
	}
	ids := stringList(params, k.idParam)
	for _, id := range ids {
		if !slices.ContainsFunc(all, func(r T) bool { return k.id(r) == id }) {
			return nil, notFound(k.notFoundCode, k.noun, id)
		}
	}
	var out []T
	for _, r := range all {
		if len(ids) > 0 && !slices.Contains(ids, k.id(r)) {
			continue
		}
		if match(filters, k.attrs(s, r), k.tags(r)) {
			out = append(out, r)
		}
	}
	return out, nil
}

// describeOp answers the Describe action of kind k: under the lock, the resources describe
// selects, each rendered as the response lists it, the list wrapped in the action's output shape.
func describeOp[T, X any](s *Service, k kind[T], render func(T) X, output func([]X) any) core.QueryOperation {
	return func(_ context.Context, p url.Values) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		found, err := describe(s, k, p)
		if err != nil {
			return nil, err
		}
		var items []X
		for _, r := range found {
			items = append(items, render(r))
		}
		return output(items), nil
	}
}

type describeVpcsOutput struct {
	Vpcs []vpcXML `xml:"vpcSet>item"`
}

type describeSubnetsOutput struct {
	Subnets []subnetXML `xml:"subnetSet>item"`
}

type describeGroupsOutput struct {
	Groups []groupXML `xml:"securityGroupInfo>item"`
}

// describeSecurityGroups also takes GroupName.N: every name given must be a group of the default
// VPC, and only groups with one of the names are listed.
func (s *Service) describeSecurityGroups(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found, err := describe(s, groupKind, p)
	if err != nil {
		return nil, err
	}
	names := stringList(p, "GroupName")
	for _, n := range names {
		if !slices.ContainsFunc(found, func(g *securityGroup) bool { return g.name == n }) {
			return nil, errNoGroupNamed(n)
		}
	}
	out := describeGroupsOutput{}
	for _, g := range found {
		if len(names) > 0 && !slices.Contains(names, g.name) {
			continue
		}
		out.Groups = append(out.Groups, s.groupXML(g))
	}
	return out, nil
}

type describeInstancesOutput struct {
	Reservations []reservationXML `xml:"reservationSet>item"`
}

// reservationXML lists each instance in a reservation of its own, as RunInstances of one instance
// makes it.
func (s *Service) reservationXML(in *instance) reservationXML {
	return reservationXML{
		ReservationID: "r-" + strings.TrimPrefix(in.id, "i-"), OwnerID: s.Account(), Instances: []instanceXML{s.instanceXML(in)},
	}
}

type describeENIsOutput struct {
	Interfaces []eniXML `xml:"networkInterfaceSet>item"`
}
type createGroupOutput struct {
	GroupID          string `xml:"groupId"`
	SecurityGroupArn string `xml:"securityGroupArn"`
}

func (s *Service) createSecurityGroup(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Get("GroupName") == "" {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter GroupName")
	}
	g, err := s.newGroup(p.Get("VpcId"), p.Get("GroupName"), p.Get("GroupDescription"))
	if err != nil {
		return nil, err
	}
	for _, spec := range core.QueryList(p, "TagSpecification") {
		for _, t := range core.QueryList(spec, "Tag") {
			g.tags = append(g.tags, tag{t.Get("Key"), t.Get("Value")})
		}
	}
	return createGroupOutput{g.id, fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", s.Region(), s.Account(), g.id)}, nil
}

type returnOutput struct {
	Return  bool   `xml:"return"`
	GroupID string `xml:"groupId,omitempty"`
}

func (s *Service) deleteSecurityGroup(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.Get("GroupId")
	if id == "" {
		g, err := s.groupNamed(p.Get("GroupName"))
		if err != nil {
			return nil, err
		}
		id = g.id
	}
	if err := s.removeGroup(id); err != nil {
		return nil, err
	}
	return returnOutput{Return: true, GroupID: id}, nil
}

// parseRules reads IpPermissions.N (or the older top-level CidrIp/IpProtocol/FromPort/ToPort
// form) into rules for group g.
func (s *Service) parseRules(p url.Values, egress bool) ([]*rule, error) {
	perms := core.QueryList(p, "IpPermissions")
	if len(perms) == 0 && (p.Get("CidrIp") != "" || p.Get("SourceSecurityGroupName") != "") {
		legacy := url.Values{"IpProtocol": {p.Get("IpProtocol")}, "FromPort": {p.Get("FromPort")}, "ToPort": {p.Get("ToPort")}}
		if c := p.Get("CidrIp"); c != "" {
			legacy.Set("IpRanges.1.CidrIp", c)
		}
		if n := p.Get("SourceSecurityGroupName"); n != "" {
			legacy.Set("Groups.1.GroupName", n)
		}
		perms = []url.Values{legacy}
	}
	if len(perms) == 0 {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter IpPermissions")
	}
	var out []*rule
	for i, perm := range perms {
		proto, from, to, err := protocolPorts(perm)
		if err != nil {
			return nil, err
		}
		base := rule{egress: egress, protocol: proto, from: from, to: to}
		n := 0
		for _, v6 := range []bool{false, true} {
			cidrs, err := cidrRules(perm, base, v6)
			if err != nil {
				return nil, err
			}
			out, n = append(out, cidrs...), n+len(cidrs)
		}
		for _, r := range core.QueryList(perm, "Groups") {
			gid := r.Get("GroupId")
			if gid == "" && r.Get("GroupName") != "" {
				g, err := s.groupNamed(r.Get("GroupName"))
				if err != nil {
					return nil, err
				}
				gid = g.id
			}
			if _, err := s.group(gid); err != nil {
				return nil, err
			}
			x := base
			x.groupID, x.desc = gid, r.Get("Description")
			out, n = append(out, &x), n+1
		}
		for _, r := range core.QueryList(perm, "PrefixListIds") {
			x := base
			x.prefixList, x.desc = r.Get("PrefixListId"), r.Get("Description")
			out, n = append(out, &x), n+1
		}
		if n == 0 {
			return nil, core.Errorf("MissingParameter", "IpPermissions.%d needs a source or destination: IpRanges, Ipv6Ranges, Groups (UserIdGroupPairs) or PrefixListIds.", i+1)
		}
	}
	return out, nil
}

// cidrRules reads one permission's IpRanges (v6: Ipv6Ranges) as rules like base.
func cidrRules(perm url.Values, base rule, v6 bool) ([]*rule, error) {
	list, member := "IpRanges", "CidrIp"
	if v6 {
		list, member = "Ipv6Ranges", "CidrIpv6"
	}
	var out []*rule
	for _, r := range core.QueryList(perm, list) {
		c, err := netip.ParsePrefix(r.Get(member))
		if err != nil || c.Addr().Is6() != v6 {
			return nil, core.Errorf("InvalidParameterValue", "CIDR block %s is malformed", r.Get(member))
		}
		x := base
		x.desc = r.Get("Description")
		if v6 {
			x.cidr6 = c.Masked().String()
		} else {
			x.cidr4 = c.Masked().String()
		}
		out = append(out, &x)
	}
	return out, nil
}

func protocolPorts(perm url.Values) (proto string, from, to int32, err error) {
	proto = strings.ToLower(perm.Get("IpProtocol"))
	switch proto {
	case "":
		return "", 0, 0, core.Errorf("MissingParameter", "The request must contain the parameter ipProtocol")
	case "-1", "all":
		return "-1", -1, -1, nil
	case "6":
		proto = "tcp"
	case "17":
		proto = "udp"
	case "1":
		proto = "icmp"
	case "58":
		proto = "icmpv6"
	}
	lo, hi := int64(0), int64(65535)
	if proto == "icmp" || proto == "icmpv6" {
		lo, hi = -1, 255
	}
	switch proto {
	case "tcp", "udp", "icmp", "icmpv6":
		f, ferr := strconv.ParseInt(perm.Get("FromPort"), 10, 32)
		t, terr := strconv.ParseInt(perm.Get("ToPort"), 10, 32)
		if ferr != nil || f < lo || f > hi {
			return "", 0, 0, core.Errorf("InvalidParameterValue", "Invalid value '%s' for fromPort. It must be a number from %d to %d.", perm.Get("FromPort"), lo, hi)
		}
		if terr != nil || t < lo || t > hi || (proto == "tcp" || proto == "udp") && t < f {
			return "", 0, 0, core.Errorf("InvalidParameterValue", "Invalid value '%s' for toPort. It must be a number from %d to %d, not below fromPort.", perm.Get("ToPort"), lo, hi)
		}
		return proto, int32(f), int32(t), nil
	}
	if n, convErr := strconv.Atoi(proto); convErr != nil || n < 0 || n > 255 {
		return "", 0, 0, core.Errorf("InvalidParameterValue", "Invalid IP protocol '%s': use tcp, udp, icmp, icmpv6, -1 or a protocol number.", perm.Get("IpProtocol"))
	}
	return proto, -1, -1, nil
}

func sameRule(a, b *rule) bool {
	return a.egress == b.egress && a.protocol == b.protocol && a.from == b.from && a.to == b.to &&
		a.cidr4 == b.cidr4 && a.cidr6 == b.cidr6 && a.groupID == b.groupID && a.prefixList == b.prefixList
}

func describeRule(r *rule) string {
	peer := r.cidr4 + r.cidr6 + r.groupID + r.prefixList
	proto := strings.ToUpper(r.protocol)
	if r.protocol == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, proto, r.from, r.to)
}

func (s *Service) targetGroup(p url.Values, egress bool) (*securityGroup, error) {
	if id := p.Get("GroupId"); id != "" {
		return s.group(id)
	}
	if name := p.Get("GroupName"); name != "" && !egress {
		return s.groupNamed(name)
	}
	return nil, core.Errorf("MissingParameter", "The request must contain the parameter GroupId")
}

type authorizeOutput struct {
	Return bool      `xml:"return"`
	Rules  []ruleXML `xml:"securityGroupRuleSet>item"`
}

// authorize adds rules atomically: if any rule exists already, nothing is added and the answer is
// InvalidPermission.Duplicate, as EC2 does.
func (s *Service) authorize(egress bool) core.QueryOperation {
	return func(_ context.Context, p url.Values) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		g, err := s.targetGroup(p, egress)
		if err != nil {
			return nil, err
		}
		rules, err := s.parseRules(p, egress)
		if err != nil {
			return nil, err
		}
		for i, r := range rules {
			for _, have := range append(g.rules, rules[:i]...) {
				if sameRule(have, r) {
					return nil, core.Errorf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", describeRule(r))
				}
			}
		}
		out := authorizeOutput{Return: true}
		for _, r := range rules {
			r.id = newID("sgr-")
			g.rules = append(g.rules, r)
			x := ruleXML{SecurityGroupRuleID: r.id, GroupID: g.id, GroupOwnerID: s.Account(), IsEgress: egress, IPProtocol: r.protocol,
				FromPort: r.from, ToPort: r.to, CidrIPv4: r.cidr4, CidrIPv6: r.cidr6, PrefixListID: r.prefixList, Description: r.desc}
			if r.groupID != "" {
				x.Referenced = &referencedGroupXM{r.groupID, s.Account()}
			}
			out.Rules = append(out.Rules, x)
		}
		return out, nil
	}
}

// revoke removes rules, by IpPermissions or by SecurityGroupRuleId.N; a rule that does not exist
// is InvalidPermission.NotFound.
func (s *Service) revoke(egress bool) core.QueryOperation {
	return func(_ context.Context, p url.Values) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		g, err := s.targetGroup(p, egress)
		if err != nil {
			return nil, err
		}
		var drop []*rule
		if ids := stringList(p, "SecurityGroupRuleId"); len(ids) > 0 {
			for _, id := range ids {
				i := slices.IndexFunc(g.rules, func(r *rule) bool { return r.id == id && r.egress == egress })
				if i < 0 {
					return nil, core.Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
				}
				drop = append(drop, g.rules[i])
			}
		} else {
			rules, err := s.parseRules(p, egress)
			if err != nil {
				return nil, err
			}
			for _, r := range rules {
				i := slices.IndexFunc(g.rules, func(have *rule) bool { return sameRule(have, r) })
				if i < 0 {
					return nil, core.Errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
				}
				drop = append(drop, g.rules[i])
			}
		}
		for _, d := range drop {
			if i := slices.IndexFunc(g.rules, func(r *rule) bool { return r == d }); i >= 0 {
				g.rules = append(g.rules[:i], g.rules[i+1:]...)
			}
		}
		return returnOutput{Return: true}, nil
	}
}

type createENIOutput struct {
	Interface eniXML `xml:"networkInterface"`
}

func (s *Service) createNetworkInterface(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subnetID := p.Get("SubnetId")
	if subnetID == "" {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter SubnetId")
	}
	n, err := s.newENI(subnetID, p.Get("Description"), p.Get("PrivateIpAddress"), stringList(p, "SecurityGroupId"), false)
	if err != nil {
		return nil, err
	}
	return createENIOutput{s.eniXML(n)}, nil
}

func (s *Service) deleteNetworkInterface(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.Get("NetworkInterfaceId")
	if id == "" {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter NetworkInterfaceId")
	}
	if err := s.deleteENI(id); err != nil {
		return nil, err
	}
	return returnOutput{Return: true}, nil
}
