// Command cluster-password generates the cluster admin password into Secrets Manager (under
// SECRET_KMS_KEY_ID) before activation uses it; an existing secret is reused.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/hsmcluster/password"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-password")
	step := &password.StorePassword{
		Secrets:  secretsmanager.NewFromConfig(cfg),
		KMSKeyID: lambdaenv.Required(log, "SECRET_KMS_KEY_ID"),
		Tags:     map[string]string{"strongroom:purpose": "hsm-admin-password"},
	}
	lambdaenv.Start(log, step.Handle)
}
