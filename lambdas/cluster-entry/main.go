// Command cluster-entry is the service token of Custom::CloudHsmCluster: it answers at once what
// needs no workflow (bad properties, a Delete of nothing) and otherwise starts the Create, Update
// or Delete state machine (CREATE_STATE_MACHINE_ARN, UPDATE_..., DELETE_...).
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/customresource/entry"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-entry")
	required := func(name string) string { return lambdaenv.Required(log, name) }
	step := entry.New(sfn.NewFromConfig(cfg), hsmcluster.ValidateRequest, required)
	lambdaenv.Start(log, step.Handle)
}
