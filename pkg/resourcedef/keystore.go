package resourcedef

import (
	"time"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
)

// KmsUserPasswordSecret is the key store's secret, by name suffix under its secret prefix.
const KmsUserPasswordSecret = "kmsuser-password"

// Inputs of the key store that its construct's user supplies (Ref kind Input).
const (
	// InputCACertificateSecret is the cluster's customer CA certificate secret ARN.
	InputCACertificateSecret = "CustomerCaCertificateSecretArn"
	// InputClusterSecretsKeys are the KMS keys that encrypt the cluster's secrets.
	InputClusterSecretsKeys = "ClusterSecretsKeys"
)

const (
	whyKeyStore      = "KMS custom key store actions (Create/Connect/Disconnect/Update/Delete/DescribeCustomKeyStores) accept no resource ARN; cloudhsm:DescribeClusters neither (KMS also requires it of the caller of CreateCustomKeyStore)."
	whyKmsUserSecret = "secret ARNs end in a random six-character suffix chosen at creation; the pattern names exactly the kmsuser password secret."
)

// UserDocuments maps each kmsuser document to the keystore-user environment variable naming it.
var UserDocuments = map[string]string{
	hsmdocs.CreateCryptoUser:         "CREATE_USER_DOCUMENT",
	hsmdocs.DeleteCryptoUser:         "DELETE_USER_DOCUMENT",
	hsmdocs.ChangeCryptoUserPassword: "CHANGE_PASSWORD_DOCUMENT",
}

// KeyStore is Custom::CloudHsmKeyStore: the Create, Update and Delete workflows and the
// rotate-password workflow (started by a schedule or an operator) of
// statemachines/keystore-*.asl.json over the steps in lambdas/keystore-* (pkg/keystore), the
// kmsuser documents (pkg/hsmdocs) and the command-status poller (pkg/runcommand).
var KeyStore = &Resource{
	Type:           "Custom::CloudHsmKeyStore",
	Noun:           "key store",
	ServiceTimeout: time.Hour,
	Entry:          entry("keystore-entry", "Custom::CloudHsmKeyStore"),
	SafetyNet:      safetyNet("key store"),
	Health: Function{Name: "keystore-health",
		Description: "Strongroom Custom::CloudHsmKeyStore health check: the store's connection state, to EventBridge",
		Grants: []Grant{
			grant(acts("kms:DescribeCustomKeyStores"), whyKeyStore, on(Any)),
			grant(acts("events:PutEvents"), "", on(DefaultEventBus)),
		}},
	SecretsKey: "Encrypts the KMS key store's kmsuser password secret (Strongroom)",
	Documents:  []string{hsmdocs.ChangeCryptoUserPassword, hsmdocs.CreateCryptoUser, hsmdocs.DeleteCryptoUser},
	// The kmsuser documents read its password on the instance (and the cluster's admin password,
	// which the cluster grants).
	Instance: []Grant{
		grant(acts("secretsmanager:GetSecretValue"), whyKmsUserSecret, on(Secret, KmsUserPasswordSecret)),
		grant(acts("kms:Decrypt"), "", on(Key)),
	},
	Workflows: []Workflow{
		{Kind: "Create", File: "keystore-create.asl.json"},
		{Kind: "Update", File: "keystore-update.asl.json"},
		{Kind: "Delete", File: "keystore-delete.asl.json"},
		{Kind: "Rotate", File: "keystore-rotate-password.asl.json"},
	},
	Steps: []Step{
		answer,
		commandStatus,
		{Placeholder: "ConnectionFunctionArn", Function: Function{Name: "keystore-connection",
			// KMS needs its caller's cloudhsm:DescribeClusters to connect a key store (KMS developer
			// guide, "Control access to your AWS CloudHSM key store").
			Grants: []Grant{grant(acts("kms:ConnectCustomKeyStore", "kms:DisconnectCustomKeyStore", "kms:DescribeCustomKeyStores", "cloudhsm:DescribeClusters"), whyKeyStore, on(Any))}}},
		{Placeholder: "CreateFunctionArn", Function: Function{Name: "keystore-create",
			Grants: []Grant{
				grant(acts("kms:CreateCustomKeyStore", "kms:DescribeCustomKeyStores", "cloudhsm:DescribeClusters"), whyKeyStore, on(Any)),
				grant(acts("secretsmanager:GetSecretValue"), whyKmsUserSecret, on(Secret, KmsUserPasswordSecret), on(Input, InputCACertificateSecret)),
				grant(acts("kms:Decrypt"), "", on(Key), on(Input, InputClusterSecretsKeys)),
				// KMS creates its service-linked role for key stores on the account's first
				// CreateCustomKeyStore, with the caller's permission (KMS developer guide, "Authorizing
				// AWS KMS to manage AWS CloudHSM and Amazon EC2 resources"): only that role.
				{Actions: acts("iam:CreateServiceLinkedRole"), On: []Ref{on(ServiceLinkedRole, "cks.kms")},
					Condition: map[string]map[string]string{"StringEquals": {"iam:AWSServiceName": "cks.kms.amazonaws.com"}}},
			}}},
		{Placeholder: "DeleteFunctionArn", Function: Function{Name: "keystore-delete",
			Grants: []Grant{
				grant(acts("kms:DeleteCustomKeyStore"), whyKeyStore, on(Any)),
				// A rolled-back Create may have made no secret: deleting it by name is then authorized on
				// the name's bare ARN, and must find it gone rather than be refused.
				grant(acts("secretsmanager:DeleteSecret"), whyKmsUserSecret, on(Secret, KmsUserPasswordSecret), on(MissingSecret, KmsUserPasswordSecret)),
			}}},
		{Placeholder: "DescribeFunctionArn", Function: Function{Name: "keystore-describe",
			Grants: []Grant{grant(acts("kms:DescribeCustomKeyStores"), whyKeyStore, on(Any))}}},
		{Placeholder: "PasswordFunctionArn", Function: Function{Name: "keystore-password",
			Env: map[string]Ref{"SECRET_KMS_KEY_ID": on(Key)},
			Grants: []Grant{
				grant(acts("secretsmanager:GetRandomPassword"), whyNoARN("secretsmanager:GetRandomPassword"), on(Any)),
				// CreateSecret is called with no tags (lambdas/keystore-password), so no TagResource.
				grant(acts("secretsmanager:DescribeSecret", "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"),
					whyKmsUserSecret, on(Secret, KmsUserPasswordSecret)),
				// Secrets Manager encrypts a new secret value with GenerateDataKey and reads it back with
				// Decrypt under the caller's permissions (CreateSecret's and PutSecretValue's required
				// permissions); nothing here calls Encrypt.
				grant(acts("kms:GenerateDataKey", "kms:Decrypt"), "", on(Key)),
			}}},
		{Placeholder: "PlanFunctionArn", Function: Function{Name: "keystore-plan",
			Grants: []Grant{grant(acts("cloudhsm:DescribeClusters"), whyKeyStore, on(Any))}}},
		{Placeholder: "UpdateFunctionArn", Function: Function{Name: "keystore-update",
			Grants: []Grant{
				grant(acts("kms:UpdateCustomKeyStore", "kms:DescribeCustomKeyStores", "cloudhsm:DescribeClusters"), whyKeyStore, on(Any)),
				grant(acts("secretsmanager:GetSecretValue"), whyKmsUserSecret, on(Secret, KmsUserPasswordSecret)),
				grant(acts("kms:Decrypt"), "", on(Key)),
			}}},
		{Placeholder: "UserFunctionArn", Function: Function{Name: "keystore-user",
			Env: map[string]Ref{
				"CREATE_USER_DOCUMENT":     on(Document, hsmdocs.CreateCryptoUser),
				"DELETE_USER_DOCUMENT":     on(Document, hsmdocs.DeleteCryptoUser),
				"CHANGE_PASSWORD_DOCUMENT": on(Document, hsmdocs.ChangeCryptoUserPassword),
			},
			Grants: []Grant{grant(acts("ssm:SendCommand"), "",
				on(ClientInstance), on(Document, hsmdocs.ChangeCryptoUserPassword), on(Document, hsmdocs.CreateCryptoUser), on(Document, hsmdocs.DeleteCryptoUser))}}},
	},
}
