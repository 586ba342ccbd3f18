// Command keystore-delete deletes a disconnected key store when asked and when it holds no KMS
// keys, with its kmsuser password secret; otherwise it says why the store is kept.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/keystore/delete"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-delete")
	step := &delete.Delete{KMS: kms.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}
	lambdaenv.Start(log, step.Handle)
}
