// Package ingress is the cluster-ingress step: it lets the client instance reach the HSMs, by
// adding to the cluster's security group a rule that lets each of the instance's security groups in
// on the HSMs' ports (TCP 2223-2225).
//
// CloudHSM makes the cluster's group (cloudhsm-cluster-<id>-sg) with rules from and to itself only,
// so an instance outside it cannot reach an HSM. The rule has to exist before activation, which the
// Create workflow runs on the instance; a rule made by the template instead (an
// AWS::EC2::SecurityGroupIngress on the resource's SecurityGroupId) would come only after the
// resource, and so after the activation that needs it. The step is idempotent: a rule that exists
// already is success. The rule goes with the group when the cluster is deleted.
package ingress

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/check"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// The HSMs' ports: cloudhsm-cli and the client SDKs reach an HSM on 2223-2225.
const (
	FromPort = 2223
	ToPort   = 2225
)

// GroupAuthorizer is what the step needs of EC2.
type GroupAuthorizer interface {
	check.InstanceDescriber
	AuthorizeSecurityGroupIngress(ctx context.Context, params *ec2.AuthorizeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
}

var _ GroupAuthorizer = (*ec2.Client)(nil)

// Input names the cluster's security group and the client instance.
type Input struct {
	ClusterID     string `json:"ClusterId"`
	SecurityGroup string `json:"SecurityGroup"`
	InstanceID    string `json:"InstanceId"`
}

// Output lists the instance's groups now let in, and which of them this call added.
type Output struct {
	ClientGroups []string `json:"ClientGroups"`
	Added        []string `json:"Added"`
}

// AllowClient adds the rule.
type AllowClient struct {
	EC2 GroupAuthorizer
}

// Handle implements the step.
func (s *AllowClient) Handle(ctx context.Context, in Input) (Output, error) {
	switch {
	case in.SecurityGroup == "":
		// CloudHSM names the group once it has made it; the workflow calls this step after that.
		return Output{}, lambdaerr.Retryable(fmt.Sprintf("let the client reach cluster %s: the cluster has no security group yet", in.ClusterID), nil)
	case in.InstanceID == "":
		return Output{}, lambdaerr.Terminal("ClientInstanceId: required: the SSM-managed EC2 instance with cloudhsm-cli", nil)
	}
	groups, err := s.instanceGroups(ctx, in.InstanceID)
	if err != nil {
		return Output{}, err
	}
	out := Output{ClientGroups: groups}
	for _, g := range groups {
		if g == in.SecurityGroup {
			continue // an instance in the cluster's own group is let in by its rules already
		}
		_, err := s.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(in.SecurityGroup),
			IpPermissions: []ec2types.IpPermission{{
				IpProtocol: aws.String("tcp"), FromPort: aws.Int32(FromPort), ToPort: aws.Int32(ToPort),
				UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(g),
					Description: aws.String("cloudhsm-cli on the Strongroom client instance " + in.InstanceID)}},
			}},
		})
		switch code := hsmcluster.APICode(err); {
		case err == nil:
			out.Added = append(out.Added, g)
		case code == "InvalidPermission.Duplicate":
			// Made by an earlier attempt, or by hand: the client is let in either way.
		case code == "InvalidGroup.NotFound" || code == "InvalidGroupId.Malformed":
			return Output{}, lambdaerr.Terminal(fmt.Sprintf("let the client reach cluster %s: security group %s: %s", in.ClusterID, in.SecurityGroup, hsmcluster.APIMessage(err)), nil)
		case code == "RulesPerSecurityGroupLimitExceeded":
			return Output{}, lambdaerr.Terminal(fmt.Sprintf("let the client reach cluster %s: the cluster's security group %s has as many rules as EC2 allows; remove rules you added to it by hand, or raise the quota \"Inbound or outbound rules per security group\", then retry", in.ClusterID, in.SecurityGroup), nil)
		default:
			return Output{}, fmt.Errorf("authorize TCP %d-%d from %s into the security group %s of cluster %s: %w", FromPort, ToPort, g, in.SecurityGroup, in.ClusterID, err)
		}
	}
	return out, nil
}

// instanceGroups returns the ids of the instance's security groups.
func (s *AllowClient) instanceGroups(ctx context.Context, instanceID string) ([]string, error) {
	inst, err := check.ClientInstance(ctx, s.EC2, instanceID)
	if err != nil {
		return nil, err
	}
	var groups []string
	if inst != nil {
		for _, g := range inst.SecurityGroups {
			groups = append(groups, aws.ToString(g.GroupId))
		}
	}
	if len(groups) == 0 {
		return nil, lambdaerr.Terminal(fmt.Sprintf("ClientInstanceId: instance %s was not found, or is in no security group", instanceID), nil)
	}
	return groups, nil
}
