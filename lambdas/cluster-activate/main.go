// Command cluster-activate sends the activation document (ACTIVATE_DOCUMENT) to the client
// instance through SSM Run Command. Its parameters are ids and secret ARNs only.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/strongroom/strongroom/pkg/hsmcluster/activate"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-activate")
	step := &activate.Activate{
		Send:    &runcommand.Send{SSM: ssm.NewFromConfig(cfg), Document: lambdaenv.Required(log, "ACTIVATE_DOCUMENT"), TimeoutSeconds: 600},
		Secrets: secretsmanager.NewFromConfig(cfg),
		Region:  cfg.Region,
	}
	lambdaenv.Start(log, step.Handle)
}
