// Command keystore-password generates the kmsuser password into Secrets Manager (encrypted with
// SECRET_KMS_KEY_ID when set): created once, or a new version per rotation.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	clusterpassword "github.com/strongroom/strongroom/pkg/hsmcluster/password"
	"github.com/strongroom/strongroom/pkg/keystore/password"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-password")
	sm := secretsmanager.NewFromConfig(cfg)
	step := &password.Password{
		Create:  &clusterpassword.StorePassword{Secrets: sm, KMSKeyID: os.Getenv("SECRET_KMS_KEY_ID")},
		Secrets: sm,
	}
	lambdaenv.Start(log, step.Handle)
}
