// Command cluster-report builds the SUCCESS answer's Data (cluster id, security group, HSM IPs and
// the secrets' ARNs).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/hsmcluster/report"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-report")
	step := &report.Report{HSM: cloudhsmv2.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
