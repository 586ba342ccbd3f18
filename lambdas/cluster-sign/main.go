// Command cluster-sign signs the cluster CSR with the customer CA (created on first use in Secrets
// Manager under CA_KMS_KEY_ID) and verifies the certificate before initialization.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/hsmcluster/sign"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log, cfg := lambdaenv.Setup("cluster-sign")
	kmsKey := lambdaenv.Required(log, "CA_KMS_KEY_ID")
	sm := secretsmanager.NewFromConfig(cfg)
	step := &sign.SignCSR{
		HSM: cloudhsmv2.NewFromConfig(cfg),
		NewStore: func(keyName, certName string) sign.CAStore {
			return &customerca.Store{Secrets: sm, KeySecretName: keyName, CertSecretName: certName, KMSKeyID: kmsKey,
				Tags: map[string]string{"strongroom:purpose": "customer-ca"}}
		},
	}
	lambdaenv.Start(log, step.Handle)
}
