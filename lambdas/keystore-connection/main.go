// Command keystore-connection starts connecting or disconnecting a key store.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("keystore-connection")
	cfg := lambdaenv.AWSConfig(log)
	step := &keystore.Connection{KMS: kms.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
