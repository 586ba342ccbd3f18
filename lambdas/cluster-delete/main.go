// Command cluster-delete deletes a cluster whose HSMs are gone (never an adopted one).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("cluster-delete")
	cfg := lambdaenv.AWSConfig(log)
	step := &hsmcluster.DeleteCluster{HSM: cloudhsmv2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
