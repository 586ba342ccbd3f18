package sandbox_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMKeyPolicyLockout: with IAM enforced, KMS makes its key policy lockout safety check
// of every caller, as AWS does: CreateKey with a Policy and PutKeyPolicy are refused with
// MalformedPolicyDocumentException, and nothing changes, when the new policy would not let the
// caller put the next one; BypassPolicyLockoutSafetyCheck skips it. The operator (a deploy) is
// judged as the CloudFormation execution role of a default cdk bootstrap, with
// AdministratorAccess, so a key policy must delegate to the account or name that role; a role
// session is judged with its own policies. Each check is recorded as a kms:PutKeyPolicy decision
// naming the statement that allowed it.
func TestEnforceIAMKeyPolicyLockout(t *testing.T) {
	ctx := sandboxtest.Context(t, 2*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	keys := kms.NewFromConfig(op)
	const lockedOut = "The new key policy will not allow you to update the key policy in the future."
	policy := func(principal string) *string {
		return aws.String(`{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*"},` +
			`{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"kms:*","Resource":"*"}]}`)
	}
	account := "arn:aws:iam::" + env.Account + ":root"
	other := "arn:aws:iam::" + env.Account + ":role/other"
	deployRole := "arn:aws:iam::" + env.Account + ":role/" + sandbox.DeployRoleName(env.Account, env.Region)
	count := func() int {
		out, err := keys.ListKeys(ctx, &kms.ListKeysInput{})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Keys)
	}

	// The operator: a policy for another role only is refused, and creates no key.
	_, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Policy: policy(other)})
	if msg := sandboxtest.WantCode(t, err, "MalformedPolicyDocumentException"); msg != lockedOut {
		t.Errorf("message %q, want %q", msg, lockedOut)
	}
	if n := count(); n != 0 {
		t.Fatalf("a refused CreateKey left %d keys", n)
	}
	// Delegating to the account, or naming the deploy role, passes; so does the bypass.
	key, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Policy: policy(account)})
	if err != nil {
		t.Fatalf("CreateKey with the account statement: %v", err)
	}
	if _, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Policy: policy(deployRole)}); err != nil {
		t.Fatalf("CreateKey naming the deploy role: %v", err)
	}
	if _, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Policy: policy(other), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatalf("CreateKey with BypassPolicyLockoutSafetyCheck: %v", err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	// The check that passed names the key policy's second statement.
	if !slices.ContainsFunc(env.Decisions(), func(d sandbox.Decision) bool {
		return d.Role == deployRole && d.Operation == "CreateKey" && d.Action == "kms:PutKeyPolicy" && d.Resource == keyARN &&
			d.Allowed && slices.Contains(d.Grants, "resource:"+keyARN+"#2")
	}) {
		t.Errorf("no allowed kms:PutKeyPolicy decision of %s for CreateKey naming resource:%s#2: %+v", deployRole, keyARN, env.Decisions())
	}

	// PutKeyPolicy: refused, the policy unchanged; allowed with the bypass.
	_, err = keys.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyMetadata.KeyId, Policy: policy(other)})
	sandboxtest.WantCode(t, err, "MalformedPolicyDocumentException")
	got, err := keys.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: key.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Policy) != aws.ToString(policy(account)) {
		t.Errorf("a refused PutKeyPolicy changed the policy to %s", aws.ToString(got.Policy))
	}

	// A role session with kms:PutKeyPolicy: the new policy must let that role put the next one.
	roleARN, session := roleSession(ctx, t, env, op, "keeper",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:PutKeyPolicy","Resource":"`+keyARN+`"}]}`)
	keeper := kms.NewFromConfig(session)
	_, err = keeper.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyMetadata.KeyId, Policy: policy(other)})
	sandboxtest.WantCode(t, err, "MalformedPolicyDocumentException")
	if _, err := keeper.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyMetadata.KeyId, Policy: policy(roleARN)}); err != nil {
		t.Fatalf("PutKeyPolicy naming the caller's role: %v", err)
	}
	if _, err := keeper.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyMetadata.KeyId, Policy: policy(other), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatalf("PutKeyPolicy with BypassPolicyLockoutSafetyCheck: %v", err)
	}
}
