// Command keystore-password generates the kmsuser password into Secrets Manager (encrypted with
// SECRET_KMS_KEY_ID when set): created once, or a new version per rotation.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("keystore-password")
	cfg := lambdaenv.AWSConfig(log)
	sm := secretsmanager.NewFromConfig(cfg)
	step := &keystore.Password{
		Create:  &hsmcluster.StorePassword{Secrets: sm, KMSKeyID: os.Getenv("SECRET_KMS_KEY_ID")},
		Secrets: sm,
	}
	lambdaenv.Start(log, step.Handle)
}
