// Command keystore-create creates the KMS custom key store (or finds an earlier attempt's); it
// reads the trust anchor and the kmsuser password from Secrets Manager itself.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("keystore-create")
	cfg := lambdaenv.AWSConfig(log)
	step := &keystore.Create{KMS: kms.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
