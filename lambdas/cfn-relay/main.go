// Command cfn-relay answers CloudFormation for a custom-resource function that cannot reach the
// ResponseURL (package relay): it invokes TARGET_FUNCTION with the request and answers with its
// outcome.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/customresource/relay"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cfn-relay")
	r := &relay.Relay{
		Lambda:   lambda.NewFromConfig(cfg),
		Function: lambdaenv.Required(log, relay.EnvFunction),
		Answer:   &customresource.Answer{Send: customresource.DefaultSender},
		Log:      log,
	}
	lambdaenv.Start(log, r.Handle)
}
