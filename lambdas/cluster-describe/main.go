// Command cluster-describe reports a cluster's state to the workflows' polling loops.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/describe"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-describe")
	step := &describe.Describe{HSM: cloudhsmv2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
