// Package user is the keystore-user step: it runs one kmsuser document (create, delete or change
// password) on the client instance; only ids and secret ARNs travel.
package user

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/pkg/keystore"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

// User actions: the pkg/hsmdocs documents on kmsuser.
const (
	UserCreate         = "create"
	UserDelete         = "delete"
	UserChangePassword = "change-password"
)

// UserInput asks for one kmsuser document run on the client instance. Only ids and secret ARNs:
// the document reads the passwords on the instance.
type UserInput struct {
	Action                         string `json:"Action"`
	ClusterID                      string `json:"ClusterId"`
	HsmIP                          string `json:"HsmIp"`
	InstanceID                     string `json:"InstanceId"`
	AdminPasswordSecretARN         string `json:"AdminPasswordSecretArn"`
	CustomerCaCertificateSecretARN string `json:"CustomerCaCertificateSecretArn"`
	KmsUserPasswordSecretARN       string `json:"KmsUserPasswordSecretArn,omitempty"`
}

// User sends the CreateCryptoUser, DeleteCryptoUser or ChangeCryptoUserPassword document; the
// workflow polls it with runcommand.Check (lambdas/command-status). CreateCryptoUser succeeds on a
// kmsuser that already logs in with our password (an earlier attempt's) and fails naming an
// existing kmsuser otherwise.
type User struct {
	// Send maps each action to its document's sender.
	Send map[string]*runcommand.Send
	// Region is where the instance finds the secrets (the Lambda's own region).
	Region string
}

// Handle implements the step.
func (s *User) Handle(ctx context.Context, in UserInput) (runcommand.Command, error) {
	send, ok := s.Send[in.Action]
	if !ok {
		return runcommand.Command{}, lambdaerr.Terminal(fmt.Sprintf("kmsuser: Action %q is not one of create, delete, change-password", in.Action), nil)
	}
	if in.HsmIP == "" {
		return runcommand.Command{}, lambdaerr.Terminal(fmt.Sprintf("kmsuser %s: cluster %s has no ACTIVE HSM for cloudhsm-cli", in.Action, in.ClusterID), nil)
	}
	params := map[string]string{
		"ClusterId":               in.ClusterID,
		"HsmIp":                   in.HsmIP,
		"Region":                  s.Region,
		"AdminPasswordSecretArn":  in.AdminPasswordSecretARN,
		"CustomerCaCertSecretArn": in.CustomerCaCertificateSecretARN,
		"UserName":                keystore.KMSUser,
	}
	if in.Action != UserDelete {
		if in.KmsUserPasswordSecretARN == "" {
			return runcommand.Command{}, lambdaerr.Terminal("kmsuser "+in.Action+": KmsUserPasswordSecretArn is empty", nil)
		}
		params["UserPasswordSecretArn"] = in.KmsUserPasswordSecretARN
	}
	return send.Handle(ctx, runcommand.SendInput{
		InstanceID: in.InstanceID, Parameters: params,
		Comment: fmt.Sprintf("Strongroom: %s kmsuser on %s", in.Action, in.ClusterID),
	})
}
