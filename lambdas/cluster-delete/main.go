// Command cluster-delete deletes a cluster whose HSMs are gone (never an adopted one).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/delete"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-delete")
	step := &delete.DeleteCluster{HSM: cloudhsmv2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
