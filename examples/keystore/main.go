// Command keystore is an example CDK app that uses Strongroom as a construct library
// (infra/strongroomcdk): a stack with a VPC, an SSM-managed CloudHSM client instance and a
// CloudHSM cluster, and a KMS custom key store on that cluster, checked by cdk-nag. Nothing is
// built beforehand: the constructs compile their Lambda functions from the module's sources.
//
//	cd examples/keystore && npx cdk synth     # cdk.json here runs `go run .`
//
// Deploying it starts HSM billing (see the README's costs).
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/strongroomcdk"
)

// newApp declares the example into an app whose cloud assembly goes to outdir ("" for the CDK
// default).
func newApp(outdir string) awscdk.App {
	props := &awscdk.AppProps{}
	if outdir != "" {
		props.Outdir = jsii.String(outdir)
	}
	app := awscdk.NewApp(props)

	// A VPC, a client instance with cloudhsm-cli, and the cluster, in one stack.
	keys := strongroomcdk.NewClusterStack(app, jsii.String("ExampleKeys"), &strongroomcdk.ClusterStackProps{})

	// The key store on that cluster, in the same stack; the client instance may read its
	// kmsuser password.
	store := strongroomcdk.KeyStorePropsFor(keys.Cluster, keys.Instance.InstanceId(), "example-key-store")
	store.ClientRole = keys.Instance.Role()
	strongroomcdk.NewCloudHsmKeyStore(keys.Stack, jsii.String("KeyStore"), store)

	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(true)}), nil)
	return app
}

func main() {
	defer jsii.Close()
	newApp("").Synth(nil)
}
