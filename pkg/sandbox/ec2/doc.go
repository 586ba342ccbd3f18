// Package ec2 is the sandbox's Amazon EC2: one default sandbox network, spoken over the EC2 Query
// protocol (signing name "ec2", API version 2016-11-15), plus a Go API through which other
// emulated services (CloudHSM) take network interfaces and private IPs from a subnet.
//
// The network, fixed so tests, the demo and the CLI can name it (see the Default* constants):
//   - VPC vpc-0a5b0c1d2e3f40001, 10.0.0.0/16, in us-east-1;
//   - private subnets 10.0.0.0/24 (us-east-1a), 10.0.1.0/24 (us-east-1b), 10.0.2.0/24 (us-east-1c);
//   - the VPC's "default" security group (all traffic from itself in, all traffic out);
//   - one running, SSM-managed client instance (the cloudhsm-cli host) in the first subnet, with a
//     private IP and a primary network interface.
//
// The subnets have no IPv6 block until AddSubnetIPv6 gives one (the n-th subnet the n-th /64 of
// DefaultIPv6Block, in the documentation range): DescribeSubnets then lists it in
// ipv6CidrBlockAssociationSet, and AssignIPv6 hands its addresses to a DUALSTACK cluster's HSMs.
// The VPC's IPv6 block and AssociateSubnetCidrBlock are not emulated on the wire.
//
// Operations: DescribeVpcs, DescribeSubnets, DescribeSecurityGroups, DescribeInstances,
// DescribeNetworkInterfaces (ids and Filter.N with * and ? wildcards, tag:<key>, tag-key),
// CreateSecurityGroup, DeleteSecurityGroup, AuthorizeSecurityGroupIngress/Egress and
// RevokeSecurityGroupIngress/Egress (IpPermissions.N with IpRanges, Ipv6Ranges, Groups
// (UserIdGroupPairs) and PrefixListIds; a rule that exists already is InvalidPermission.Duplicate),
// CreateNetworkInterface and DeleteNetworkInterface. Unknown ids answer
// Invalid<Kind>ID.NotFound / InvalidGroup.NotFound with EC2's messages.
//
// Addresses follow the VPC rules: the first four and the last address of each subnet are
// reserved, so a /24 offers 251, and availableIpAddressCount counts down as interfaces take them.
//
// Filter names (besides tag:<key>, tag-key and tag-value): DescribeVpcs vpc-id, cidr,
// cidr-block-association.cidr-block, state, is-default, owner-id, dhcp-options-id; DescribeSubnets
// subnet-id, vpc-id, availability-zone, availability-zone-id, cidr-block, cidr, state,
// default-for-az, owner-id, available-ip-address-count; DescribeSecurityGroups group-id,
// group-name, vpc-id, description, owner-id; DescribeInstances instance-id, vpc-id, subnet-id,
// availability-zone, instance-state-name, instance-state-code, private-ip-address, instance-type,
// image-id, network-interface.network-interface-id, instance.group-id, owner-id,
// iam-instance-profile.arn; DescribeNetworkInterfaces network-interface-id, subnet-id, vpc-id,
// availability-zone, description, status, private-ip-address, addresses.private-ip-address,
// group-id, requester-managed, attachment.instance-id, owner-id. Any other name is refused with
// InvalidParameterValue, where AWS would accept it.
//
// Security groups are enforced where the sandbox carries traffic (network.go): Connect opens a TCP
// connection from an instance to an interface's address, allowed only when a rule of the
// instance's groups lets it out (by CIDR or by a group the destination is in) and a rule of the
// destination's groups lets it in (groups are stateful: replies need no rule); a refusal is a
// RejectedError, and each direction each interface sees is recorded as a Flow (ACCEPT or REJECT),
// what VPC flow logs capture. The client instance's cloudhsm-cli reaches the HSMs this way
// (package hsmclient). SetInstanceGroups gives the instance the groups its template names;
// SelfRules gives a group the rules CloudHSM gives a cluster's. A group that another group's rule
// names cannot be deleted (DependencyViolation), as on AWS.
//
// Known differences from AWS: no pagination (MaxResults and NextToken are ignored; every match is
// returned), DryRun is ignored, no route tables, network ACLs, gateways, endpoints or instance
// launches, and only the instance-to-HSM connections are carried (a function's connections, KMS's
// to the HSMs and the database's are not judged by the groups).
package ec2
