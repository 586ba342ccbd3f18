// Command keystore-plan is every key store workflow's first step: it parses the request and
// checks the cluster (ACTIVE with two ACTIVE HSMs in two Availability Zones for a Create).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/keystore/plan"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-plan")
	step := &plan.PlanRequest{HSM: cloudhsmv2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
