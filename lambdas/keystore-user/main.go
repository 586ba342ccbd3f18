// Command keystore-user sends a kmsuser document (CREATE_USER_DOCUMENT, DELETE_USER_DOCUMENT,
// CHANGE_PASSWORD_DOCUMENT) to the client instance through SSM Run Command.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/strongroom/strongroom/pkg/keystore/user"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

func main() {
	log, cfg := lambdaenv.Setup("keystore-user")
	api := ssm.NewFromConfig(cfg)
	send := func(env string) *runcommand.Send {
		return &runcommand.Send{SSM: api, Document: lambdaenv.Required(log, env), TimeoutSeconds: 600}
	}
	step := &user.User{
		Send: map[string]*runcommand.Send{
			user.UserCreate:         send("CREATE_USER_DOCUMENT"),
			user.UserDelete:         send("DELETE_USER_DOCUMENT"),
			user.UserChangePassword: send("CHANGE_PASSWORD_DOCUMENT"),
		},
		Region: cfg.Region,
	}
	lambdaenv.Start(log, step.Handle)
}
