package keystore

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the id (and CloudFormation name) of the key store stack.
const StackName = "StrongroomKeyStore"

// DefaultKeyStoreName is the store's name unless StackProps say otherwise.
const DefaultKeyStoreName = "strongroom"

// StackProps configure the key store stack.
type StackProps struct {
	awscdk.StackProps
	// BuildDir holds prebuilt build/<lambda>/bootstrap files; empty bundles from sources.
	BuildDir string
	// ClusterStackName names the app's cluster stack (infra/hsmcluster.NewClusterStack), whose
	// cluster, client instance and secrets key the store uses.
	ClusterStackName string
	KeyStoreName     string
	// DeleteKeyStoreOnStackDeletion: see Props.
	DeleteKeyStoreOnStackDeletion bool
	// RotationSchedule starts the kmsuser password rotation; nil (the default) means none: each run
	// disconnects the store, so every key in it is unusable for minutes, and KMS already changes
	// kmsuser's password at every connect. Give a cron() in a maintenance window to turn it on.
	RotationSchedule awsevents.Schedule
	// AlarmTopic receives the key store's alarms (see Props.AlarmTopic); the app passes the
	// alerts stack's topic.
	AlarmTopic awssns.ITopic
	// AlertRelay receives the key store's failed workflow executions (see Props.AlertRelay); the
	// app passes the alerts stack's relay.
	AlertRelay awslambda.IFunction
}

// KeyStoreStack holds the key store on the cluster stack's cluster.
type KeyStoreStack struct {
	awscdk.Stack
	KeyStore *CloudHsmKeyStore
}

// find returns the construct at path under scope, as T.
func find[T any](scope constructs.IConstruct, path ...string) (T, error) {
	var zero T
	c := scope
	for _, p := range path {
		c = c.Node().TryFindChild(jsii.String(p))
		if c == nil {
			return zero, fmt.Errorf("no construct %s under %s", p, *scope.Node().Path())
		}
	}
	t, ok := c.(T)
	if !ok {
		return zero, fmt.Errorf("construct %s is a %T, not the expected type", *c.Node().Path(), c)
	}
	return t, nil
}

// NewKeyStoreStack declares the stack on the cluster stack named p.ClusterStackName, found in app
// (declare that stack first). CDK turns the cluster's attributes into cross-stack references.
func NewKeyStoreStack(app constructs.Construct, id string, p *StackProps) (*KeyStoreStack, error) {
	resource, err := find[awscdk.CustomResource](app, p.ClusterStackName, "Cluster", "Resource")
	if err != nil {
		return nil, fmt.Errorf("key store stack %s needs the cluster stack %s: %w", id, p.ClusterStackName, err)
	}
	instance, err := find[awsec2.Instance](app, p.ClusterStackName, "Client")
	if err != nil {
		return nil, fmt.Errorf("key store stack %s: %w", id, err)
	}
	key, err := find[awskms.Key](app, p.ClusterStackName, "Cluster", "SecretsKey")
	if err != nil {
		return nil, fmt.Errorf("key store stack %s: %w", id, err)
	}
	if p.KeyStoreName == "" {
		p.KeyStoreName = DefaultKeyStoreName
	}
	stack := awscdk.NewStack(app, jsii.String(id), &p.StackProps)
	// The cluster's attributes become cross-stack references (which also order the stacks). Strong
	// references, stated explicitly: the cluster stack cannot drop an export this stack still uses.
	stack.Node().SetContext(jsii.String("@aws-cdk/core:defaultCrossStackReferences"), "strong")
	ks, err := New(stack, "KeyStore", Props{
		BuildDir:                       p.BuildDir,
		ClusterID:                      resource.GetAttString(jsii.String("ClusterId")),
		AdminPasswordSecretArn:         resource.GetAttString(jsii.String("AdminPasswordSecretArn")),
		CustomerCaCertificateSecretArn: resource.GetAttString(jsii.String("CustomerCaCertificateSecretArn")),
		ClientInstanceID:               instance.InstanceId(),
		ClientRole:                     instance.Role(),
		ClusterSecretsKeys:             []awskms.IKey{key},
		KeyStoreName:                   p.KeyStoreName,
		DeleteKeyStoreOnStackDeletion:  p.DeleteKeyStoreOnStackDeletion,
		RotationSchedule:               p.RotationSchedule,
		AlarmTopic:                     p.AlarmTopic,
		AlertRelay:                     p.AlertRelay,
	})
	if err != nil {
		return nil, err
	}
	awscdk.NewCfnOutput(stack, jsii.String("CustomKeyStoreId"), &awscdk.CfnOutputProps{Value: ks.Resource.Ref()})
	awscdk.NewCfnOutput(stack, jsii.String("KmsUserPasswordSecretName"), &awscdk.CfnOutputProps{Value: jsii.String(ks.KmsUserPasswordSecretName)})
	awscdk.NewCfnOutput(stack, jsii.String("RotateWorkflowArn"), &awscdk.CfnOutputProps{
		Value:       ks.StateMachines["Rotate"].StateMachineArn(),
		Description: jsii.String("Start it with the input in the README to rotate the kmsuser password now"),
	})
	return &KeyStoreStack{Stack: stack, KeyStore: ks}, nil
}
