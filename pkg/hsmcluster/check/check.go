// Package check is the cluster-check step: before anything is created it confirms, with EC2, that
// the subnets exist in distinct Availability Zones of one VPC (with IPv6 blocks for a DUALSTACK
// cluster) and that the client instance is there.
package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/hsmcluster"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// InstanceDescriber finds the client instance.
type InstanceDescriber interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// NetworkDescriber checks subnets and the client instance.
type NetworkDescriber interface {
	InstanceDescriber
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
}

// ClientInstance describes the client instance id: nil when EC2's answer does not list it, a
// terminal error naming ClientInstanceId when EC2 does not know the id, and any other failure
// wrapped (retryable by the workflow).
func ClientInstance(ctx context.Context, api InstanceDescriber, id string) (*ec2types.Instance, error) {
	out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if code := hsmcluster.APICode(err); strings.HasPrefix(code, "InvalidInstanceID") {
			return nil, lambdaerr.Terminal("ClientInstanceId: "+hsmcluster.APIMessage(err)+" (give the SSM-managed instance with cloudhsm-cli)", nil)
		}
		return nil, fmt.Errorf("describe the client instance %s: %w", id, err)
	}
	var found *ec2types.Instance
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				found = &r.Instances[i]
			}
		}
	}
	return found, nil
}

var _ NetworkDescriber = (*ec2.Client)(nil)

// CheckInput is the first step's input: the whole CloudFormation event.
type CheckInput struct {
	Event cfn.Event `json:"Event"`
}

// CheckOutput is the validated spec with the subnets' zones.
type CheckOutput struct {
	Spec hsmcluster.Spec `json:"Spec"`
	// SubnetAzs maps each subnet to its Availability Zone.
	SubnetAzs map[string]string `json:"SubnetAzs"`
	VpcID     string            `json:"VpcId"`
}

// CheckEnvironment validates the properties against the account: the subnets exist, lie in one
// VPC and in distinct Availability Zones (with an IPv6 block each for a DUALSTACK cluster, which
// CloudHSM requires), and the client instance exists, runs, and sits in that VPC. A failure is
// terminal and names the property.
type CheckEnvironment struct {
	EC2 NetworkDescriber
}

// Handle implements the step.
func (s *CheckEnvironment) Handle(ctx context.Context, in CheckInput) (CheckOutput, error) {
	ev := hsmcluster.EventRef{RequestType: in.Event.RequestType, RequestID: in.Event.RequestID, StackID: in.Event.StackID, LogicalResourceID: in.Event.LogicalResourceID}
	spec, err := hsmcluster.SpecOf(ev, in.Event.ResourceProperties)
	if err != nil {
		return CheckOutput{}, lambdaerr.Terminal(err.Error(), nil)
	}
	out := CheckOutput{Spec: spec, SubnetAzs: map[string]string{}}
	if len(spec.SubnetIDs) > 0 {
		subnets, err := s.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: spec.SubnetIDs})
		if err != nil {
			if code := hsmcluster.APICode(err); strings.HasPrefix(code, "InvalidSubnetID") {
				return CheckOutput{}, lambdaerr.Terminal("SubnetIds: "+hsmcluster.APIMessage(err)+" (give existing private subnets of this account and region)", nil)
			}
			return CheckOutput{}, fmt.Errorf("describe subnets %v: %w", spec.SubnetIDs, err)
		}
		zones := map[string]string{}
		for _, sn := range subnets.Subnets {
			id, az := aws.ToString(sn.SubnetId), aws.ToString(sn.AvailabilityZone)
			if other, dup := zones[az]; dup {
				return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("SubnetIds: %s and %s are both in %s; give subnets in distinct Availability Zones", other, id, az), nil)
			}
			zones[az] = id
			out.SubnetAzs[id] = az
			if spec.NetworkType == "DUALSTACK" && !hasIPv6(sn) {
				return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("NetworkType: DUALSTACK needs subnets with an IPv6 CIDR block too, and %s has none; associate one with each subnet (the cluster stack's VPC has them when strongroom:clusterNetworkType is DUALSTACK), or use IPV4", id), nil)
			}
			if out.VpcID == "" {
				out.VpcID = aws.ToString(sn.VpcId)
			} else if out.VpcID != aws.ToString(sn.VpcId) {
				return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("SubnetIds: %s is in %s but the others are in %s; give subnets of one VPC", id, aws.ToString(sn.VpcId), out.VpcID), nil)
			}
		}
		for _, id := range spec.SubnetIDs {
			if _, ok := out.SubnetAzs[id]; !ok {
				return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("SubnetIds: subnet %s was not found", id), nil)
			}
		}
	}
	found, err := ClientInstance(ctx, s.EC2, spec.ClientInstanceID)
	if err != nil {
		return CheckOutput{}, err
	}
	switch {
	case found == nil:
		return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("ClientInstanceId: instance %s was not found", spec.ClientInstanceID), nil)
	case found.State != nil && found.State.Name != ec2types.InstanceStateNameRunning:
		return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("ClientInstanceId: instance %s is %s; it must be running", spec.ClientInstanceID, found.State.Name), nil)
	case out.VpcID != "" && aws.ToString(found.VpcId) != "" && aws.ToString(found.VpcId) != out.VpcID:
		return CheckOutput{}, lambdaerr.Terminal(fmt.Sprintf("ClientInstanceId: instance %s is in %s, not in the cluster's VPC %s", spec.ClientInstanceID, aws.ToString(found.VpcId), out.VpcID), nil)
	}
	return out, nil
}

// hasIPv6 reports whether the subnet has an associated IPv6 CIDR block.
func hasIPv6(sn ec2types.Subnet) bool {
	for _, a := range sn.Ipv6CidrBlockAssociationSet {
		if aws.ToString(a.Ipv6CidrBlock) != "" && (a.Ipv6CidrBlockState == nil || a.Ipv6CidrBlockState.State == ec2types.SubnetCidrBlockStateCodeAssociated) {
			return true
		}
	}
	return false
}
