// Command cluster-settings applies an Update's BackupRetentionDays and Tags to the cluster.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/settings"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-settings")
	step := &settings.Apply{HSM: cloudhsmv2.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
