// Package hsmcluster declares Custom::CloudHsmCluster: the workflows of Go Lambda steps that carry a
// CloudHSM cluster from nothing to ACTIVE with HSMs in several zones and back, as pkg/resourcedef's
// Cluster describes them (functions, grants, state machines) and infra/workflowresource declares
// them, plus what is the cluster's own: its properties and the stack around it (stack.go: a VPC and
// an SSM-managed client instance with cloudhsm-cli).
//
// Least privilege: one role per Lambda. CloudHSM's CreateCluster, DescribeClusters and DescribeBackups and
// Secrets Manager's GetRandomPassword accept no resource ARNs, so those (and the EC2 actions
// CloudHSM performs with the caller's permissions when it places HSM network interfaces) are the
// only "*" resources, each with its reason in pkg/resourcedef/cluster.go. Everything else is scoped
// to this account's clusters, this resource's secrets (by name prefix), key, document and client
// instance, and the security-group actions to the groups of the cluster's VPC (ec2:Vpc).
package hsmcluster

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/workflowresource"
	"github.com/strongroom/strongroom/pkg/resourcedef"
)

// ServiceTimeoutSeconds is the custom resource's ServiceTimeout, stated explicitly: 3600 s, which
// is both CloudFormation's default and its maximum (a cluster's HSMs can take most of it). The
// workflows time out earlier (TimeoutSeconds in the ASL files) so the safety net answers first,
// and an entry function that cannot start a workflow answers FAILED itself
// (pkg/customresource/entry), so no failure leaves the stack waiting the whole hour.
var ServiceTimeoutSeconds = int(resourcedef.Cluster.ServiceTimeout.Seconds())

// Props configure the construct.
type Props struct {
	// BuildDir holds prebuilt build/<lambda>/bootstrap files (`make build`); empty bundles every
	// function from this module's sources at synth.
	BuildDir string
	// Vpc and Subnets place the cluster: two or more private subnets in distinct zones.
	Vpc     awsec2.IVpc
	Subnets []awsec2.ISubnet
	// HsmCount is the number of HSMs (default 2).
	HsmCount int
	// ClientInstance runs cloudhsm-cli; nil uses ClientInstanceID (an instance made elsewhere).
	ClientInstance   awsec2.IInstance
	ClientInstanceID string
	// ExtraProperties are passed through to the custom resource (HsmType, Mode, BackupRetentionDays, ...).
	ExtraProperties map[string]any
	// LogRetention of the state machines' and functions' logs; default three months.
	LogRetention awslogs.RetentionDays
	// AlarmTopic, when set, is notified by the resource's alarms (a workflow's failed executions,
	// the safety net's dead letters) and when they clear.
	AlarmTopic awssns.ITopic
	// AlertRelay, when set, is sent each workflow's executions that end FAILED, TIMED_OUT or
	// ABORTED, and its role may read those executions' histories, nothing else
	// (workflowresource.Props.AlertRelay).
	AlertRelay awslambda.IFunction
}

// CloudHsmCluster is the declared resource and what other constructs may use.
type CloudHsmCluster struct {
	constructs.Construct
	*workflowresource.WorkflowResource
	// SecretPrefix is the name prefix of the secrets the workflow creates.
	SecretPrefix string
}

// New declares the construct.
func New(scope constructs.Construct, id string, p Props) (*CloudHsmCluster, error) {
	if len(p.Subnets) < 2 {
		return nil, fmt.Errorf("cluster %s: give at least two subnets in distinct Availability Zones (got %d)", id, len(p.Subnets))
	}
	if p.Vpc == nil {
		return nil, fmt.Errorf("cluster %s: Vpc is required (the VPC of Subnets): the cluster's security-group grants are limited to it", id)
	}
	if p.ClientInstanceID == "" && p.ClientInstance == nil {
		return nil, fmt.Errorf("cluster %s: a client instance (ClientInstance, or ClientInstanceID) is required to activate the cluster", id)
	}
	if p.HsmCount == 0 {
		p.HsmCount = 2
	}
	c := &CloudHsmCluster{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	stack := awscdk.Stack_Of(c.Construct)
	c.SecretPrefix = "strongroom/" + *stack.StackName() + "/" + id

	subnetIDs := make([]*string, 0, len(p.Subnets))
	for _, s := range p.Subnets {
		subnetIDs = append(subnetIDs, s.SubnetId())
	}
	// Set, as checked above: SendCommand is scoped to this instance.
	instance := jsii.String(p.ClientInstanceID)
	if p.ClientInstance != nil {
		instance = p.ClientInstance.InstanceId()
	}
	// The secret names are passed explicitly: the IAM policies are scoped to them, and the
	// workflow's default names derive from the CloudFormation logical id, which differs from the
	// construct id they are built from here.
	props := map[string]any{
		"SubnetIds":                       subnetIDs,
		"HsmCount":                        strconv.Itoa(p.HsmCount),
		"ClientInstanceId":                instance,
		"AdminPasswordSecretName":         c.SecretPrefix + "/" + resourcedef.AdminPasswordSecret,
		"CustomerCaKeySecretName":         c.SecretPrefix + "/" + resourcedef.CAKeySecret,
		"CustomerCaCertificateSecretName": c.SecretPrefix + "/" + resourcedef.CACertSecret,
	}
	for k, v := range p.ExtraProperties {
		props[k] = v
	}
	var err error
	c.WorkflowResource, err = workflowresource.New(c.Construct, workflowresource.Props{
		Definition: resourcedef.Cluster, BuildDir: p.BuildDir, SecretPrefix: c.SecretPrefix,
		ClientInstanceID: instance, VpcID: p.Vpc.VpcId(), Properties: props, LogRetention: p.LogRetention,
		AlarmTopic: p.AlarmTopic, AlertRelay: p.AlertRelay,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", id, err)
	}
	return c, nil
}
