// Package secretsmanager is the sandbox's AWS Secrets Manager: real secrets, versions and staging
// labels behind the service's JSON 1.1 wire protocol (target prefix "secretsmanager"), and rotation
// that drives a rotation Lambda through its four steps via core.LambdaInvoker.
//
// Operations: CreateSecret, DescribeSecret, GetSecretValue, PutSecretValue, UpdateSecret,
// UpdateSecretVersionStage, ListSecretVersionIds, ListSecrets, GetRandomPassword, RotateSecret,
// CancelRotateSecret, DeleteSecret, RestoreSecret, TagResource, UntagResource, PutResourcePolicy,
// GetResourcePolicy, DeleteResourcePolicy.
//
// Behaviour follows the Secrets Manager API reference: ClientRequestToken is the VersionId and makes
// writes idempotent (same token and value: the same version; same token, other value:
// ResourceExistsException); moving AWSCURRENT gives the old current version AWSPREVIOUS;
// UpdateSecretVersionStage demands RemoveFromVersionId for a label that is attached elsewhere;
// RotateSecret creates the AWSPENDING version (empty) with the token as its id, answers at once and
// invokes the rotation function asynchronously with {"Step","SecretId","ClientRequestToken",
// "RotationToken"} for createSecret, setSecret, testSecret and finishSecret (only testSecret, on a
// version removed afterwards, when RotateImmediately is false); rotation schedules (rate() at
// least 4 hours, cron() with minute 0 and year *, Duration windows) are validated as documented.
//
// Known differences from AWS (sandbox choices where AWS documents nothing, or simplifications):
//   - A failed rotation is not retried by the service on its own. A later RotateSecret answers
//     "A previous rotation isn't complete. That rotation will be reattempted." and the sandbox then
//     reattempts that rotation with the pending version's token, as the message says.
//   - After a successful rotation the service removes AWSPENDING from the new current version
//     (AWS's backend does this "on rotation completion, outside the rotation lambda", per a
//     maintainer in aws-samples/aws-secrets-manager-rotation-lambdas#145). A rotation whose
//     finishSecret returns without moving AWSCURRENT to the token counts as failed (sandbox choice).
//   - Scheduled rotations start only with the WithScheduledRotation option (off by default, so a
//     test with a fast clock rotates only when it calls RotateSecret), and then at the start of
//     each window rather than at a random time within it. NextRotationDate is always reported.
//   - Encryption is recorded, not performed: KmsKeyId is kept and reported, values are stored in
//     memory as given. Resource policies are stored as given after a JSON syntax check.
//   - Deprecated versions (no labels) are removed, oldest first, as soon as a secret has more than
//     100 versions (AWS removes them "periodically").
//   - Recovery-window deletion takes effect lazily, on the first request after DeletionDate.
//   - No replication, no managed rotation, no BatchGetSecretValue, no ValidateResourcePolicy.
//
// Service events (RotationStarted, RotationSucceeded, RotationFailed, RotationAbandoned and the
// TestRotation* events) are delivered to hooks registered with OnRotationEvent / OnRotationFailed,
// which the sandbox platform wires to EventBridge as "AWS Service Event via CloudTrail".
//
// For secret scans, SecretValues returns every value the service ever stored or generated (and
// the password, secret, private-key, token and credential fields of JSON values), except values
// that are only PEM certificates, which are public. It is a Go API only, never on the wire.
package secretsmanager
