// Command cluster-activate sends the activation document (ACTIVATE_DOCUMENT) to the client
// instance through SSM Run Command. Its parameters are ids and secret ARNs only.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

func main() {
	log := lambdaenv.Logger("cluster-activate")
	cfg := lambdaenv.AWSConfig(log)
	step := &runcommand.Send{SSM: ssm.NewFromConfig(cfg), Document: lambdaenv.Required(log, "ACTIVATE_DOCUMENT"), TimeoutSeconds: 600}
	lambdaenv.Start("cluster-activate", log, step.Handle)
}
