// Command keystore-health is the key store's scheduled health check: it reads the store's
// connection state (pkg/health/storecheck) and sends it to EventBridge, where the alerts stack's
// rule gives it to the relay, which alerts on a change.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/health/storecheck"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-health")
	now, _ := lambdaenv.Clock()
	step := &storecheck.Step{KMS: kms.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg), Now: now}
	lambdaenv.Start(log, step.Handle)
}
