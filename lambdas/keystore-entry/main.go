// Command keystore-entry is the service token of Custom::CloudHsmKeyStore: it answers at once what
// needs no workflow (bad properties, a Delete of nothing) and otherwise starts the Create, Update
// or Delete state machine (CREATE_STATE_MACHINE_ARN, UPDATE_..., DELETE_...).
package main

import (
	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("keystore-entry")
	cfg := lambdaenv.AWSConfig(log)
	step := &customresource.Entry{
		SFN: sfn.NewFromConfig(cfg),
		StateMachines: map[cfn.RequestType]string{
			cfn.RequestCreate: lambdaenv.Required(log, "CREATE_STATE_MACHINE_ARN"),
			cfn.RequestUpdate: lambdaenv.Required(log, "UPDATE_STATE_MACHINE_ARN"),
			cfn.RequestDelete: lambdaenv.Required(log, "DELETE_STATE_MACHINE_ARN"),
		},
		Validate: keystore.ValidateRequest,
		Send:     customresource.DefaultSender,
	}
	lambdaenv.Start(log, step.Handle)
}
