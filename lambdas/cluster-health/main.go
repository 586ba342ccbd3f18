// Command cluster-health is the cluster's scheduled health check: it looks at the cluster, its
// HSMs, backups and certificates (pkg/health/clustercheck) and sends each condition to EventBridge,
// where the alerts stack's rule gives it to the relay, which alerts on a change.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/health/clustercheck"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-health")
	now, _ := lambdaenv.Clock()
	step := &clustercheck.Step{HSM: cloudhsmv2.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg),
		Events: eventbridge.NewFromConfig(cfg), Now: now}
	lambdaenv.Start(log, step.Handle)
}
