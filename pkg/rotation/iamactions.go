package rotation

// The IAM actions the rotation function's own calls need, by what they act on. infra/database
// grants exactly these, beside what Lambda itself needs for the function (its logs, tracing and
// the VPC's network interfaces); infra's tests hold the synthesized roles to them, and
// lambdas/rotate's test runs the function in the sandbox under a role made of them, with IAM
// enforced.
var (
	// SecretActions act on the secret being rotated: the methods of SecretsManager but
	// GetRandomPassword (a test keeps the two in step). ListSecretVersionIds is how a single-user
	// rotation recovers a password an abandoned rotation already set.
	SecretActions = []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
		"secretsmanager:ListSecretVersionIds", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
	// MasterSecretActions act on the superuser's secret, which the alternating-users strategy logs
	// in with; it never writes it.
	MasterSecretActions = []string{"secretsmanager:GetSecretValue"}
	// AccountActions act on "*": GetRandomPassword supports no resource-level permission.
	AccountActions = []string{"secretsmanager:GetRandomPassword"}
	// KeyActions act on the secrets' KMS key: Secrets Manager decrypts and encrypts their values
	// with it as the caller.
	KeyActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}
)
