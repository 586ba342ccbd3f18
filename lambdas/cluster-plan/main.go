// Command cluster-plan plans an Update (scale to the new HsmCount; immutable properties are judged
// against the deployed cluster) or a Delete, refusing either while a KMS key store on the cluster
// is connected.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/hsmcluster/plan"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-plan")
	step := &plan.PlanRequest{HSM: cloudhsmv2.NewFromConfig(cfg), Stores: kms.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
