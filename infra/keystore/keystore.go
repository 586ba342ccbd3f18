// Package keystore declares Custom::CloudHsmKeyStore: a KMS custom key store on a CloudHSM cluster,
// made by workflows of Go Lambda steps (create, update, delete, and a rotate-password workflow a
// schedule or an operator starts), as pkg/resourcedef's KeyStore describes them and
// infra/workflowresource declares them, plus what is the key store's own: its properties, the
// client instance's read of the kmsuser password, and the rotation schedule.
//
// Least privilege: one role per Lambda. KMS's custom key store actions and CloudHSM's
// DescribeClusters accept no resource ARNs, nor do GetRandomPassword and GetCommandInvocation:
// those are the only "*" resources, each with its reason in pkg/resourcedef/keystore.go. Secrets
// are scoped to the kmsuser password secret (by name) and the cluster's CA certificate secret (by
// ARN), documents to this construct's three.
package keystore

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/workflowresource"
	"github.com/strongroom/strongroom/pkg/resourcedef"
)

// ServiceTimeoutSeconds is the custom resource's ServiceTimeout; the workflows time out earlier
// (TimeoutSeconds in the ASL files) so the safety net answers first.
var ServiceTimeoutSeconds = int(resourcedef.KeyStore.ServiceTimeout.Seconds())

// Props configure the construct. The cluster values are usually a Custom::CloudHsmCluster's
// attributes (tokens).
type Props struct {
	// BuildDir holds prebuilt build/<lambda>/bootstrap files; empty bundles from sources.
	BuildDir                       string
	ClusterID                      *string
	AdminPasswordSecretArn         *string
	CustomerCaCertificateSecretArn *string
	ClientInstanceID               *string
	// ClientRole is the client instance's role: it is granted read of the kmsuser password secret.
	// Without it, grant that yourself (the documents read the secret on the instance).
	ClientRole awsiam.IRole
	// ClusterSecretsKeys encrypt the admin password and CA certificate secrets; the steps that
	// read them are granted kms:Decrypt.
	ClusterSecretsKeys []awskms.IKey
	KeyStoreName       string
	// DeleteKeyStoreOnStackDeletion deletes the store (when it holds no keys) with the stack;
	// by default it is only disconnected.
	DeleteKeyStoreOnStackDeletion bool
	// RotationSchedule starts the rotate-password workflow; nil means operators start it.
	RotationSchedule awsevents.Schedule
	LogRetention     awslogs.RetentionDays
	// AlarmTopic, when set, is notified by the resource's alarms (a workflow's failed executions,
	// including a scheduled rotation, and the safety net's dead letters) and when they clear.
	AlarmTopic awssns.ITopic
	// AlertRelay, when set, is sent each workflow's executions that end FAILED, TIMED_OUT or
	// ABORTED (a scheduled rotation's too), and its role may read those executions' histories,
	// nothing else (workflowresource.Props.AlertRelay).
	AlertRelay awslambda.IFunction
}

// CloudHsmKeyStore is the declared resource and what other constructs may use.
type CloudHsmKeyStore struct {
	constructs.Construct
	*workflowresource.WorkflowResource
	// KmsUserPasswordSecretName names the kmsuser password secret.
	KmsUserPasswordSecretName string
	// RotationInput is the input that starts the rotate-password workflow for this store.
	RotationInput map[string]any
}

// New declares the construct.
func New(scope constructs.Construct, id string, p Props) (*CloudHsmKeyStore, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"ClusterID", p.ClusterID}, {"AdminPasswordSecretArn", p.AdminPasswordSecretArn},
		{"CustomerCaCertificateSecretArn", p.CustomerCaCertificateSecretArn}, {"ClientInstanceID", p.ClientInstanceID}} {
		if f.v == nil || *f.v == "" {
			return nil, fmt.Errorf("key store %s: %s is required (for example the Custom::CloudHsmCluster's attribute)", id, f.name)
		}
	}
	if p.KeyStoreName == "" || len(p.KeyStoreName) > 256 {
		return nil, fmt.Errorf("key store %s: KeyStoreName must be 1-256 characters, got %d", id, len(p.KeyStoreName))
	}
	k := &CloudHsmKeyStore{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	stack := awscdk.Stack_Of(k.Construct)
	prefix := "strongroom/" + *stack.StackName() + "/" + id
	k.KmsUserPasswordSecretName = prefix + "/" + resourcedef.KmsUserPasswordSecret

	props := map[string]any{
		"ClusterId":                      p.ClusterID,
		"KeyStoreName":                   p.KeyStoreName,
		"AdminPasswordSecretArn":         p.AdminPasswordSecretArn,
		"CustomerCaCertificateSecretArn": p.CustomerCaCertificateSecretArn,
		"ClientInstanceId":               p.ClientInstanceID,
		"KmsUserPasswordSecretName":      k.KmsUserPasswordSecretName,
		"DeleteKeyStoreOnStackDeletion":  fmt.Sprint(p.DeleteKeyStoreOnStackDeletion),
	}
	var keyArns []*string
	for _, key := range p.ClusterSecretsKeys {
		keyArns = append(keyArns, key.KeyArn())
	}
	var err error
	k.WorkflowResource, err = workflowresource.New(k.Construct, workflowresource.Props{
		Definition: resourcedef.KeyStore, BuildDir: p.BuildDir, SecretPrefix: prefix, ClientInstanceID: p.ClientInstanceID,
		Inputs: map[string][]*string{
			resourcedef.InputCACertificateSecret: {p.CustomerCaCertificateSecretArn},
			resourcedef.InputClusterSecretsKeys:  keyArns,
		},
		Properties: props, LogRetention: p.LogRetention, AlarmTopic: p.AlarmTopic, AlertRelay: p.AlertRelay,
	})
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", id, err)
	}

	if p.ClientRole != nil {
		// The documents read the password on the instance. A policy of this construct's own (not
		// the role's default policy), so a role from the cluster's stack does not make that stack
		// depend on this one.
		statements, err := k.InstanceStatements()
		if err != nil {
			return nil, err
		}
		read := awsiam.NewPolicy(k.Construct, jsii.String("ClientReadsKmsUserPassword"), &awsiam.PolicyProps{
			Roles: &[]awsiam.IRole{p.ClientRole}, Statements: &statements,
		})
		// The Create's documents read the password on the instance: the grant must exist before the
		// Create starts (CloudFormation creates resources with no dependency between them at once).
		k.Resource.Node().AddDependency(read)
	}

	k.RotationInput = map[string]any{"Rotation": map[string]any{"CustomKeyStoreId": k.Resource.Ref(), "Properties": props}}
	if p.RotationSchedule != nil {
		rule := awsevents.NewRule(k.Construct, jsii.String("RotationSchedule"), &awsevents.RuleProps{
			Description: jsii.String("Strongroom: rotate the kmsuser password of the key store"),
			Schedule:    p.RotationSchedule,
		})
		rule.AddTarget(awseventstargets.NewSfnStateMachine(k.StateMachines["Rotate"], &awseventstargets.SfnStateMachineProps{
			Input: awsevents.RuleTargetInput_FromObject(k.RotationInput),
		}))
	}
	return k, nil
}
