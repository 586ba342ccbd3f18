// Package strongroomcdk is Strongroom as a construct library for CDK Go apps: the CloudTrail alerts,
// the MariaDB credential rotation, the CloudHSM cluster and the KMS custom key store on it, each in
// a few lines of an app that `go get`s this module:
//
//	app := awscdk.NewApp(nil)
//	stack := awscdk.NewStack(app, jsii.String("Keys"), nil)
//	cluster := strongroomcdk.NewCloudHsmCluster(stack, jsii.String("Cluster"), &strongroomcdk.CloudHsmClusterProps{
//		Vpc: vpc, Subnets: *privateSubnets, ClientInstance: client,
//	})
//	strongroomcdk.NewCloudHsmKeyStore(stack, jsii.String("KeyStore"),
//		strongroomcdk.KeyStorePropsFor(cluster, client.InstanceId(), "my-key-store"))
//
// Nothing needs to be built first: every Lambda function is compiled at synth from this module's
// own sources (its copy in the Go module cache) for linux/arm64, and the state machines' ASL is
// embedded. The constructors follow aws-cdk-go's style (scope, *string id, *Props) and, like it,
// panic on props that can only fail at deploy time, with an error that names the property.
// examples/keystore shows a whole app.
//
// The types are aliases of the packages that implement them (infra/hsmcluster, infra/keystore,
// infra/alerts, infra/database), whose documentation describes every property.
package strongroomcdk

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/strongroom/strongroom/infra/alerts"
	"github.com/strongroom/strongroom/infra/database"
	"github.com/strongroom/strongroom/infra/hsmcluster"
	"github.com/strongroom/strongroom/infra/keystore"
)

type (
	// CloudHsmClusterProps configure NewCloudHsmCluster.
	CloudHsmClusterProps = hsmcluster.Props
	// CloudHsmCluster is Custom::CloudHsmCluster with its workflows, key and document.
	CloudHsmCluster = hsmcluster.CloudHsmCluster
	// CloudHsmKeyStoreProps configure NewCloudHsmKeyStore.
	CloudHsmKeyStoreProps = keystore.Props
	// CloudHsmKeyStore is Custom::CloudHsmKeyStore with its workflows, key and documents.
	CloudHsmKeyStore = keystore.CloudHsmKeyStore
	// ClusterStackProps configure NewClusterStack.
	ClusterStackProps = hsmcluster.StackProps
	// ClusterStack is a VPC, an SSM-managed client instance with cloudhsm-cli, and a cluster.
	ClusterStack = hsmcluster.ClusterStack
	// AlertsStackProps configure NewAlertsStack.
	AlertsStackProps = alerts.AlertsStackProps
	// AlertsStack is the trail, the rules, the relay and the encrypted alert topic.
	AlertsStack = alerts.AlertsStack
	// DatabaseStackProps configure NewDatabaseStack (Config from ReadDatabaseConfig).
	DatabaseStackProps = database.DatabaseStackProps
	// DatabaseStack is RDS for MariaDB, its secrets and their rotation.
	DatabaseStack = database.DatabaseStack
)

// must panics with err, as aws-cdk-go's constructors do on invalid props.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// NewCloudHsmCluster declares a Custom::CloudHsmCluster and its workflows.
func NewCloudHsmCluster(scope constructs.Construct, id *string, props *CloudHsmClusterProps) *CloudHsmCluster {
	return must(hsmcluster.New(scope, *id, *props))
}

// NewCloudHsmKeyStore declares a Custom::CloudHsmKeyStore and its workflows.
func NewCloudHsmKeyStore(scope constructs.Construct, id *string, props *CloudHsmKeyStoreProps) *CloudHsmKeyStore {
	return must(keystore.New(scope, *id, *props))
}

// KeyStorePropsFor are the props of a key store named name on cluster, declared in the same stack:
// the cluster's attributes, its client instance and the key that encrypts its secrets. Set more fields on the result
// (a rotation schedule, deletion with the stack) before passing it to NewCloudHsmKeyStore.
func KeyStorePropsFor(cluster *CloudHsmCluster, clientInstanceID *string, name string) *CloudHsmKeyStoreProps {
	attr := func(n string) *string { return cluster.Resource.GetAttString(&n) }
	return &CloudHsmKeyStoreProps{
		ClusterID:                      attr("ClusterId"),
		AdminPasswordSecretArn:         attr("AdminPasswordSecretArn"),
		CustomerCaCertificateSecretArn: attr("CustomerCaCertificateSecretArn"),
		ClientInstanceID:               clientInstanceID,
		KeyStoreName:                   name,
		ClusterSecretsKeys:             []awskms.IKey{cluster.SecretsKey},
	}
}

// NewClusterStack declares a stack with a VPC, a client instance and a cluster.
func NewClusterStack(scope constructs.Construct, id *string, props *ClusterStackProps) *ClusterStack {
	return must(hsmcluster.NewClusterStack(scope, *id, props))
}

// NewAlertsStack declares the CloudTrail alerts stack.
func NewAlertsStack(scope constructs.Construct, id *string, props *AlertsStackProps) *AlertsStack {
	return must(alerts.NewAlertsStack(scope, *id, props))
}

// NewDatabaseStack declares the MariaDB stack with its credential rotation.
func NewDatabaseStack(scope constructs.Construct, id *string, props *DatabaseStackProps) *DatabaseStack {
	return must(database.NewDatabaseStack(scope, *id, props))
}

// ReadDatabaseConfig validates the database context values (strongroom:db* keys) of scope's app.
var ReadDatabaseConfig = database.ReadConfig
