// Command keystore-create creates the KMS custom key store (or finds an earlier attempt's); it
// reads the trust anchor and the kmsuser password from Secrets Manager itself.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/keystore/create"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-create")
	step := &create.Create{KMS: kms.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
