// Package clustertest stands Custom::CloudHsmCluster up in a sandbox exactly as the CDK construct
// (infra/hsmcluster) deploys it, without a synthesized template: the real lambdas/<name> mains
// built for the host and registered as sandbox Lambda functions with the environment the
// construct gives them, the three state machines from statemachines/ with the construct's
// DefinitionSubstitutions, the activation document (pkg/hsmdocs) created through SSM, the
// customer-managed KMS key, and the safety-net rule on Step Functions execution status changes.
// Requests then go through the sandbox's CloudFormation driver, as a stack operation sends them.
//
// It is test support for the end-to-end, fault, crash and cost tests of the cluster, and for the
// demo; it is not used in production.
package clustertest

import (
	"cmp"
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// Functions are every Lambda of the resource: the steps, the entry (service token) and the
// safety net.
func Functions() []string { return resourcedef.Cluster.FunctionNames() }

// Options adjust a deployment: its stack name (default "strongroom-e2e"), construct id (default
// "Cluster", the logical id the tests give the resource) and extra environment per function (for
// example a crash hook).
type Options = stacktest.DeployOptions

// Deployment is the construct standing in one sandbox.
type Deployment = stacktest.Deployment

// Deploy registers everything the construct declares, from pkg/resourcedef's Cluster. logs
// receives every function's output (pass a Recorder.Writer so secret scans cover it).
func Deploy(ctx context.Context, sb *sandbox.Sandbox, cfg aws.Config, bins map[string]string, logs io.Writer, o Options) (*Deployment, error) {
	o.StackName = cmp.Or(o.StackName, "strongroom-e2e")
	o.ConstructID = cmp.Or(o.ConstructID, "Cluster")
	return stacktest.Deploy(ctx, sb, cfg, resourcedef.Cluster, bins, logs, o)
}

// Properties are a valid Custom::CloudHsmCluster's properties in the sandbox's default VPC:
// subnets in us-east-1a/b/c, the SSM-managed client instance, hsmCount HSMs, and CloudFormation's
// string form for scalars.
func Properties(hsmCount int) map[string]any {
	subnets := make([]any, 0, len(ec2.DefaultSubnetIDs))
	for _, s := range ec2.DefaultSubnetIDs {
		subnets = append(subnets, s)
	}
	return map[string]any{
		"SubnetIds":        subnets,
		"HsmCount":         fmt.Sprint(hsmCount),
		"ClientInstanceId": ec2.DefaultInstanceID,
	}
}
