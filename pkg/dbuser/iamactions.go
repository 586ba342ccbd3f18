package dbuser

// The IAM actions the application-user function's own calls need, by what they act on.
// infra/database grants exactly these, beside what Lambda itself needs for the function (its logs,
// tracing and the VPC's network interfaces); infra's tests hold the synthesized role to them, and
// lambdas/dbuser's test runs the function in the sandbox under a role made of them, with IAM
// enforced.
var (
	// SecretActions act on the superuser's secret (to log in) and the user's (to create the user
	// from it): the methods of SecretsManager (a test keeps the two in step). It writes neither.
	SecretActions = []string{"secretsmanager:GetSecretValue"}
	// KeyActions act on the secrets' KMS key: Secrets Manager decrypts their values with it as the
	// caller.
	KeyActions = []string{"kms:Decrypt"}
)
