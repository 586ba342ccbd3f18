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
// CreateNetworkInterface and DeleteNetworkInterface, CreateFlowLogs, DescribeFlowLogs and
// DeleteFlowLogs (flowlogs.go). Unknown ids answer Invalid<Kind>ID.NotFound /
// InvalidGroup.NotFound with EC2's messages.
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
// VPC flow logs (flowlogs.go): CreateFlowLogs takes ResourceId.N of ResourceType VPC, Subnet or
// NetworkInterface, TrafficType ACCEPT, REJECT or ALL, LogGroupName or LogDestination (a log group
// ARN), DeliverLogsPermissionArn (required), LogFormat (default version 2's fields; the sandbox
// fills those and vpc-id, subnet-id, instance-id, and refuses others), MaxAggregationInterval 60 or
// 600 (default) and TagSpecification.N (vpc-flow-log). An unknown resource, or one that has a flow
// log with the same traffic type and destination, is an unsuccessful item (InvalidVpcID.NotFound
// ..., FlowLogAlreadyExists), as EC2 answers. DescribeFlowLogs takes FlowLogId.N (unknown ids match
// nothing) and the filters resource-id, traffic-type, log-group-name, flow-log-id,
// deliver-log-status, log-destination-type and tag:<key>; DeleteFlowLogs answers an unknown id as
// an unsuccessful item (InvalidFlowLogId.NotFound). Each Flow Connect records is delivered before
// Connect returns (deterministic, where AWS aggregates for up to MaxAggregationInterval and
// publishes minutes later) to every flow log whose resource covers the interface and whose
// TrafficType takes the flow's action: one FlowDelivery per flow log and interface, to the log
// stream named after the interface, through the FlowDeliverer the sandbox sets (package sandbox
// publishes it as a session of the flow log's role, judged under EnforceIAM). A failed delivery
// makes the flow log's DeliverLogsStatus FAILED with DeliverLogsErrorMessage "Access error" (IAM
// refused) or "Unknown error" (no such log group) and drops the records; the next successful one
// makes it SUCCESS again.
//
// Known differences from AWS: no pagination (MaxResults and NextToken are ignored; every match is
// returned), DryRun is ignored, no route tables, network ACLs, gateways, endpoints or instance
// launches, and only the instance-to-HSM connections are carried (a function's connections, KMS's
// to the HSMs and the database's are not judged by the groups, nor seen by flow logs). Flow logs
// deliver to CloudWatch Logs only: LogDestinationType s3 and kinesis-data-firehose are refused
// (InvalidParameter) rather than accepted and never delivered; a missing log group is not created
// (AWS tries to with the role's logs:CreateLogGroup); records are delivered at once, one per flow,
// not aggregated; FlowLogStatus is always ACTIVE.
package ec2
