// Command cfn-safetynet answers FAILED for a custom-resource workflow that ended FAILED, TIMED_OUT
// or ABORTED without answering (invoked by an EventBridge rule on execution status changes).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/customresource/safetynet"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cfn-safetynet")
	step := &safetynet.SafetyNet{SFN: sfn.NewFromConfig(cfg), Send: customresource.DefaultSender}
	lambdaenv.Start(log, step.Handle)
}
