// Command cluster-check is the Custom::CloudHsmCluster workflow step that validates the properties
// against the account (subnets, zones, VPC, client instance).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/check"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-check")
	step := &check.CheckEnvironment{EC2: ec2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
