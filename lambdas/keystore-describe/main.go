// Command keystore-describe reports a key store's connection state (and, when FAILED, the
// ConnectionErrorCode with its fix) to the workflows' polling loops.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/keystore/describe"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-describe")
	step := &describe.Describe{KMS: kms.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
