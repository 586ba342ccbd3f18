// Command cluster-ingress lets the client instance reach the cluster's HSMs: a rule on the cluster's
// security group for each of the instance's groups.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/ingress"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-ingress")
	step := &ingress.AllowClient{EC2: ec2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
