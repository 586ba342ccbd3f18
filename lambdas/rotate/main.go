// Command rotate is the Secrets Manager rotation function for MariaDB user secrets (single user,
// or alternating users when the secret has masterarn). Settings come from the environment, see
// rotation.ConfigFromEnv: PASSWORD_LENGTH, EXCLUDE_CHARACTERS, DB_TLS, DB_CA_BUNDLE,
// ROTATION_STRATEGY.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/rotation"
)

func main() {
	log := lambdaenv.Logger("rotate")
	cfg, err := rotation.ConfigFromEnv(os.LookupEnv)
	lambdaenv.Must(log, "read settings", err)
	cfg.Logger = log
	rot, err := rotation.New(secretsmanager.NewFromConfig(lambdaenv.AWSConfig(log)), cfg)
	lambdaenv.Must(log, "build the rotator", err)
	lambdaenv.Start(log, rot.Handle)
}
