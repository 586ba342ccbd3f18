// Command keystore-connection starts connecting or disconnecting a key store.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/keystore/connection"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-connection")
	step := &connection.Connection{KMS: kms.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
