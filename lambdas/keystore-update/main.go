// Command keystore-update renames a key store or gives KMS the new kmsuser password.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/keystore/update"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-update")
	step := &update.Update{KMS: kms.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
