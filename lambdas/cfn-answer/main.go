// Command cfn-answer answers CloudFormation at the end of every custom-resource workflow.
package main

import (
	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("cfn-answer")
	step := &customresource.Answer{Send: customresource.DefaultSender}
	lambdaenv.Start(log, step.Handle)
}
