// Package activate is the cluster-activate step: it runs the activation SSM document on the client
// instance, which sets the admin password on the HSM from Secrets Manager (the password never
// leaves the instance).
package activate

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/pkg/hsmcluster/secretapi"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

// ActivateInput names what the activation document needs. The CA certificate secret is named
// (not given by ARN) because an adopted cluster reaches activation without this workflow having
// created it.
type ActivateInput struct {
	ClusterID              string `json:"ClusterId"`
	InstanceID             string `json:"InstanceId"`
	HsmIP                  string `json:"HsmIp"`
	AdminPasswordSecretARN string `json:"AdminPasswordSecretArn"`
	CACertSecretName       string `json:"CustomerCaCertificateSecretName"`
}

// Activate sends the activation document (pkg/hsmdocs ActivateCluster) to the client instance.
// Its parameters are ids and secret ARNs: the document reads the password on the instance.
type Activate struct {
	Send    *runcommand.Send
	Secrets secretapi.SecretDescriber
	// Region is where the instance finds the secrets (the Lambda's own region).
	Region string
}

// Handle implements the step.
func (s *Activate) Handle(ctx context.Context, in ActivateInput) (runcommand.Command, error) {
	if in.HsmIP == "" {
		return runcommand.Command{}, lambdaerr.Retryable(fmt.Sprintf("activate cluster %s: no ACTIVE HSM has an IP yet", in.ClusterID), nil)
	}
	caARN, err := secretapi.SecretARN(ctx, s.Secrets, in.CACertSecretName)
	if err != nil {
		return runcommand.Command{}, err
	}
	if caARN == "" {
		return runcommand.Command{}, lambdaerr.Terminal(fmt.Sprintf("activate cluster %s: the customer CA certificate secret %s does not exist; it is the trust anchor the cluster was initialized with", in.ClusterID, in.CACertSecretName), nil)
	}
	return s.Send.Handle(ctx, runcommand.SendInput{
		InstanceID: in.InstanceID,
		Parameters: map[string]string{
			"ClusterId":               in.ClusterID,
			"HsmIp":                   in.HsmIP,
			"Region":                  s.Region,
			"AdminPasswordSecretArn":  in.AdminPasswordSecretARN,
			"CustomerCaCertSecretArn": caARN,
		},
		Comment: "Strongroom: activate " + in.ClusterID,
	})
}
