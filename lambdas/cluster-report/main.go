// Command cluster-report builds the SUCCESS answer's Data (cluster id, security group, HSM IPs and
// the secrets' ARNs).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("cluster-report")
	cfg := lambdaenv.AWSConfig(log)
	step := &hsmcluster.Report{HSM: cloudhsmv2.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
