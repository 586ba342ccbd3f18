// Command command-status reports an SSM command's progress to the workflows' polling loops.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

func main() {
	log, cfg := lambdaenv.Setup("command-status")
	step := &runcommand.Check{SSM: ssm.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
