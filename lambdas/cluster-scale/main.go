// Command cluster-scale adds or removes HSMs until a cluster has the target count.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/scale"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-scale")
	step := &scale.Scale{HSM: cloudhsmv2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
