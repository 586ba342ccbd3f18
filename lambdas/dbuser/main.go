// Command dbuser creates the database stack's application user (Custom::DatabaseUser, package
// dbuser). It runs in the database's VPC and is invoked by lambdas/cfn-relay, which answers
// CloudFormation. Settings come from the environment: DB_TLS and DB_CA_BUNDLE
// (rotation.TLSFromEnv), as the rotation function's.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/dbuser"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/rotation"
)

func main() {
	log, cfg := lambdaenv.Setup("dbuser")
	tls, err := rotation.TLSFromEnv(os.LookupEnv)
	lambdaenv.Must(log, "read settings", err)
	p := &dbuser.Provisioner{SM: secretsmanager.NewFromConfig(cfg), TLS: tls, Log: log}
	lambdaenv.Start(log, p.Handle)
}
