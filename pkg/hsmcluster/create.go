package hsmcluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/clusterspec"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Tags Strongroom puts on clusters it creates. TagRequest finds a cluster again when a create step
// runs twice for the same CloudFormation request.
const (
	TagStack   = "strongroom:stack-id"
	TagLogical = "strongroom:logical-id"
	TagRequest = "strongroom:create-request-id"
	// TagImmutable is clusterspec.ImmutableHash of the properties the cluster was created with.
	TagImmutable = "strongroom:immutable-properties"
)

// EventRef is the part of the CloudFormation event the steps need.
type EventRef struct {
	RequestType        cfn.RequestType `json:"RequestType"`
	RequestID          string          `json:"RequestId"`
	StackID            string          `json:"StackId"`
	LogicalResourceID  string          `json:"LogicalResourceId"`
	PhysicalResourceID string          `json:"PhysicalResourceId,omitempty"`
}

// SecretPrefix is where a resource's secrets are named by default: strongroom/<stack>/<logical id>.
func SecretPrefix(stackID, logicalID string) string {
	name := stackID
	// arn:aws:cloudformation:<region>:<account>:stack/<name>/<guid>
	if parts := strings.Split(stackID, ":"); len(parts) >= 6 {
		if seg := strings.Split(parts[5], "/"); len(seg) >= 2 {
			name = seg[1]
		}
	}
	return "strongroom/" + name + "/" + logicalID
}

// SpecOf parses and validates a CloudFormation event's properties (new or old).
func SpecOf(ev EventRef, props map[string]any) (clusterspec.Spec, error) {
	return clusterspec.Parse(props, clusterspec.Defaults{SecretPrefix: SecretPrefix(ev.StackID, ev.LogicalResourceID)})
}

// CheckInput is the first step's input: the whole CloudFormation event.
type CheckInput struct {
	Event cfn.Event `json:"Event"`
}

// CheckOutput is the validated spec with the subnets' zones.
type CheckOutput struct {
	Spec clusterspec.Spec `json:"Spec"`
	// SubnetAzs maps each subnet to its Availability Zone.
	SubnetAzs map[string]string `json:"SubnetAzs"`
	VpcID     string            `json:"VpcId"`
}

// CheckEnvironment validates the properties against the account: the subnets exist, lie in one
// VPC and in distinct Availability Zones, and the client instance exists, runs, and sits in that
// VPC. A failure is terminal and names the property.
type CheckEnvironment struct {
	EC2 NetworkDescriber
}

// Handle implements the step.
func (s *CheckEnvironment) Handle(ctx context.Context, in CheckInput) (CheckOutput, error) {
	ev := EventRef{RequestType: in.Event.RequestType, RequestID: in.Event.RequestID, StackID: in.Event.StackID, LogicalResourceID: in.Event.LogicalResourceID}
	spec, err := SpecOf(ev, in.Event.ResourceProperties)
	if err != nil {
		return CheckOutput{}, lambdaerr.Terminal(err.Error(), nil)
	}
	out := CheckOutput{Spec: spec, SubnetAzs: map[string]string{}}
	if len(spec.SubnetIDs) > 0 {
		subnets, err := s.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: spec.SubnetIDs})
		if err != nil {
			if code := apiCode(err); strings.HasPrefix(code, "InvalidSubnetID") {
				return CheckOutput{}, lambdaerr.Terminal("SubnetIds: "+apiMessage(err)+" (give existing private subnets of this account and region)", nil)
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
	inst, err := s.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{spec.ClientInstanceID}})
	if err != nil {
		if code := apiCode(err); strings.HasPrefix(code, "InvalidInstanceID") {
			return CheckOutput{}, lambdaerr.Terminal("ClientInstanceId: "+apiMessage(err)+" (give the SSM-managed instance with cloudhsm-cli)", nil)
		}
		return CheckOutput{}, fmt.Errorf("describe instance %s: %w", spec.ClientInstanceID, err)
	}
	var found *ec2types.Instance
	for _, r := range inst.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == spec.ClientInstanceID {
				found = &r.Instances[i]
			}
		}
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

// CreateInput is the create step's input.
type CreateInput struct {
	Event EventRef         `json:"Event"`
	Spec  clusterspec.Spec `json:"Spec"`
}

// CreateOutput names the cluster and how it came to be.
type CreateOutput struct {
	ClusterID string `json:"ClusterId"`
	// Adopted is true for a cluster named by the ClusterId property (never deleted by Strongroom).
	Adopted bool `json:"Adopted"`
	// Restored is true for a cluster created from SourceBackupId (it skips init and activation).
	Restored bool `json:"Restored"`
}

// CreateCluster finds the cluster an earlier attempt of this request created, or creates it, or
// adopts the cluster the properties name.
type CreateCluster struct {
	HSM ClusterCreator
}

// Handle implements the step.
func (s *CreateCluster) Handle(ctx context.Context, in CreateInput) (CreateOutput, error) {
	if in.Spec.ClusterID != "" {
		c, err := findCluster(ctx, s.HSM, in.Spec.ClusterID)
		if err != nil {
			return CreateOutput{}, err
		}
		if c == nil || c.State == types.ClusterStateDeleted || c.State == types.ClusterStateDeleteInProgress {
			return CreateOutput{}, lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s does not exist (or is being deleted) in this account and region", in.Spec.ClusterID), nil)
		}
		return CreateOutput{ClusterID: in.Spec.ClusterID, Adopted: true}, nil
	}
	if in.Event.RequestID == "" {
		return CreateOutput{}, lambdaerr.Terminal("create cluster: the workflow payload has no Event.RequestId", nil)
	}
	existing, err := s.findByRequest(ctx, in.Event.RequestID)
	if err != nil {
		return CreateOutput{}, err
	}
	if existing != "" {
		return CreateOutput{ClusterID: existing, Restored: in.Spec.SourceBackupID != ""}, nil
	}
	tags := []types.Tag{
		{Key: aws.String(TagStack), Value: aws.String(in.Event.StackID)},
		{Key: aws.String(TagLogical), Value: aws.String(in.Event.LogicalResourceID)},
		{Key: aws.String(TagRequest), Value: aws.String(in.Event.RequestID)},
		{Key: aws.String(TagImmutable), Value: aws.String(clusterspec.ImmutableHash(in.Spec))},
	}
	keys := make([]string, 0, len(in.Spec.Tags))
	for k := range in.Spec.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(in.Spec.Tags[k])})
	}
	input := &cloudhsmv2.CreateClusterInput{
		SubnetIds:   in.Spec.SubnetIDs,
		HsmType:     aws.String(in.Spec.HsmType),
		Mode:        types.ClusterMode(in.Spec.Mode),
		NetworkType: types.NetworkType(in.Spec.NetworkType),
		BackupRetentionPolicy: &types.BackupRetentionPolicy{
			Type: types.BackupRetentionTypeDays, Value: aws.String(strconv.Itoa(in.Spec.BackupRetentionDays)),
		},
		TagList: tags,
	}
	if in.Spec.SourceBackupID != "" {
		input.SourceBackupId = aws.String(in.Spec.SourceBackupID)
	}
	out, err := s.HSM.CreateCluster(ctx, input)
	if err != nil {
		if code := apiCode(err); code == "CloudHsmInvalidRequestException" || code == "CloudHsmResourceNotFoundException" || code == "CloudHsmAccessDeniedException" || code == "CloudHsmTagException" {
			return CreateOutput{}, lambdaerr.Terminal("create cluster: "+apiMessage(err), nil)
		}
		return CreateOutput{}, fmt.Errorf("create cluster: %w", err)
	}
	return CreateOutput{ClusterID: aws.ToString(out.Cluster.ClusterId), Restored: in.Spec.SourceBackupID != ""}, nil
}

// findByRequest lists the account's clusters and returns the one tagged with this request id.
func (s *CreateCluster) findByRequest(ctx context.Context, requestID string) (string, error) {
	p := cloudhsmv2.NewDescribeClustersPaginator(s.HSM, &cloudhsmv2.DescribeClustersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", classifyHSM("list clusters to find request "+requestID, err)
		}
		for _, c := range page.Clusters {
			if c.State == types.ClusterStateDeleted || c.State == types.ClusterStateDeleteInProgress {
				continue
			}
			for _, t := range c.TagList {
				if aws.ToString(t.Key) == TagRequest && aws.ToString(t.Value) == requestID {
					return aws.ToString(c.ClusterId), nil
				}
			}
		}
	}
	return "", nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return err.Error()
}
