package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
)

// securityGroup creates an AWS::EC2::SecurityGroup in the sandbox's EC2 and gives it the rules of
// its SecurityGroupIngress and SecurityGroupEgress properties over the wire, as CloudFormation does:
// a group created with SecurityGroupEgress loses EC2's default allow-all egress rule (CDK's
// "Disallow all traffic" placeholder rule, ICMP to 255.255.255.255/32, is how a group with no
// egress says so). The rules decide what the client instance reaches (ec2.Service.Connect).
func (d *Deployer) securityGroup(ctx context.Context, st *Stack, id string, r cfntemplate.Resource, set func(string, map[string]any)) error {
	p, err := d.props(st, r)
	if err != nil {
		return err
	}
	vpc := str(p["VpcId"])
	if vpc == "" {
		vpc = sbec2.DefaultVPCID
	}
	name := str(p["GroupName"])
	if name == "" {
		name = st.Name + "-" + id // CloudFormation's generated name, without its suffix
	}
	gid, err := d.SB.EC2.CreateGroup(vpc, name, str(p["GroupDescription"]))
	if err != nil {
		return err
	}
	c := ec2.NewFromConfig(d.Cfg)
	if egress, ok := p["SecurityGroupEgress"].([]any); ok {
		if _, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(gid),
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
			return fmt.Errorf("security group %s: remove the default egress rule: %w", id, err)
		}
		for i, e := range egress {
			if err := authorizeRule(ctx, c, gid, true, e); err != nil {
				return fmt.Errorf("security group %s: SecurityGroupEgress[%d]: %w", id, i, err)
			}
		}
	}
	if ingress, ok := p["SecurityGroupIngress"].([]any); ok {
		for i, e := range ingress {
			if err := authorizeRule(ctx, c, gid, false, e); err != nil {
				return fmt.Errorf("security group %s: SecurityGroupIngress[%d]: %w", id, i, err)
			}
		}
	}
	set(gid, map[string]any{"GroupId": gid, "VpcId": vpc})
	return nil
}

// groupRule adds an AWS::EC2::SecurityGroupIngress or AWS::EC2::SecurityGroupEgress to its GroupId.
func groupRule(egress bool) func(*Deployer, context.Context, *Stack, string, map[string]any, func(string, map[string]any)) error {
	return func(d *Deployer, ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
		gid := str(p["GroupId"])
		if gid == "" {
			return fmt.Errorf("%s: GroupId is required (the sandbox has no EC2-Classic group names)", id)
		}
		if err := authorizeRule(ctx, ec2.NewFromConfig(d.Cfg), gid, egress, p); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		set(st.Name+"-"+id, nil)
		return nil
	}
}

// authorizeRule adds one rule, written in CloudFormation's Ingress/Egress property names, to group.
func authorizeRule(ctx context.Context, c *ec2.Client, group string, egress bool, v any) error {
	p, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("a rule is an object, got %T", v)
	}
	perm := ec2types.IpPermission{IpProtocol: aws.String(str(p["IpProtocol"]))}
	if p["FromPort"] != nil {
		perm.FromPort = int32p(p["FromPort"])
	}
	if p["ToPort"] != nil {
		perm.ToPort = int32p(p["ToPort"])
	}
	desc := optional(p["Description"])
	peerGroup, prefixList := str(p["SourceSecurityGroupId"]), str(p["SourcePrefixListId"])
	if egress {
		peerGroup, prefixList = str(p["DestinationSecurityGroupId"]), str(p["DestinationPrefixListId"])
	}
	switch {
	case str(p["CidrIp"]) != "":
		perm.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(str(p["CidrIp"])), Description: desc}}
	case str(p["CidrIpv6"]) != "":
		perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String(str(p["CidrIpv6"])), Description: desc}}
	case peerGroup != "":
		perm.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(peerGroup), Description: desc}}
	case prefixList != "":
		perm.PrefixListIds = []ec2types.PrefixListId{{PrefixListId: aws.String(prefixList), Description: desc}}
	default:
		return fmt.Errorf("the rule names no peer: give CidrIp, CidrIpv6, a security group or a prefix list")
	}
	var err error
	if egress {
		_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{perm}})
	} else {
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{perm}})
	}
	return err
}

// flowLog creates an AWS::EC2::FlowLog with EC2's CreateFlowLogs over the wire (ResourceId,
// ResourceType, TrafficType, LogDestinationType, LogGroupName or LogDestination,
// DeliverLogsPermissionArn, LogFormat, MaxAggregationInterval, Tags). Ref is the flow log's id.
// An unsuccessful item (an unknown resource, a duplicate) fails the resource, as CloudFormation
// fails it.
func (d *Deployer) flowLog(ctx context.Context, _ *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	in := &ec2.CreateFlowLogsInput{
		ResourceIds: []string{str(p["ResourceId"])}, ResourceType: ec2types.FlowLogsResourceType(str(p["ResourceType"])),
		TrafficType: ec2types.TrafficType(str(p["TrafficType"])), LogDestinationType: ec2types.LogDestinationType(str(p["LogDestinationType"])),
		LogGroupName: optional(p["LogGroupName"]), LogDestination: optional(p["LogDestination"]),
		DeliverLogsPermissionArn: optional(p["DeliverLogsPermissionArn"]), LogFormat: optional(p["LogFormat"]),
		MaxAggregationInterval: int32p(p["MaxAggregationInterval"]),
	}
	if tags := list(p["Tags"]); len(tags) > 0 {
		spec := ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeVpcFlowLog}
		for _, t := range tags {
			spec.Tags = append(spec.Tags, ec2types.Tag{Key: aws.String(str(t["Key"])), Value: aws.String(str(t["Value"]))})
		}
		in.TagSpecifications = []ec2types.TagSpecification{spec}
	}
	out, err := ec2.NewFromConfig(d.Cfg).CreateFlowLogs(ctx, in)
	if err != nil {
		return err
	}
	if len(out.Unsuccessful) > 0 {
		u := out.Unsuccessful[0]
		return fmt.Errorf("flow log %s on %s: %s: %s", id, aws.ToString(u.ResourceId), aws.ToString(u.Error.Code), aws.ToString(u.Error.Message))
	}
	if len(out.FlowLogIds) != 1 {
		return fmt.Errorf("flow log %s: CreateFlowLogs made %d flow logs, want 1", id, len(out.FlowLogIds))
	}
	set(out.FlowLogIds[0], map[string]any{"Id": out.FlowLogIds[0]})
	d.progress("flow log %s", out.FlowLogIds[0])
	return nil
}
