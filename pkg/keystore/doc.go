// Package keystore is the Custom::CloudHsmKeyStore resource (wired in pkg/resourcedef/keystore.go): a KMS
// custom key store of type AWS_CLOUDHSM on a Strongroom (or existing) CloudHSM cluster.
//
// It provides the property parser (Spec), the Step Functions steps of the create, update, delete
// and rotate-password workflows (statemachines/keystore-*.asl.json), and the table that turns a
// FAILED store's ConnectionErrorCode into the action that fixes it (Explain).
//
// Contracts every step keeps:
//   - Payloads carry secret ARNs, never values. The kmsuser password and the trust anchor are read
//     from Secrets Manager inside the step that hands them to KMS, and never returned or logged.
//   - Every step converges when retried after a crash: it looks for what an earlier attempt did
//     (a store of the same name on the same cluster, a secret of the same name, a kmsuser that
//     logs in with our password) before doing it again.
//   - Errors leave as lambdaerr types: a refusal that a retry cannot fix is a TerminalError whose
//     reason names the property or condition and the fix, because CloudFormation shows it.
package keystore
