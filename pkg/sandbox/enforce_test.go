package sandbox_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox/events"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	sbsecrets "github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// enforcedSandbox starts a sandbox with IAM enforced by a judge of its own.
func enforcedSandbox(ctx context.Context, t *testing.T, opts ...sandboxtest.Option) *sandboxtest.Env {
	t.Helper()
	judge, err := iamjudge.Start(ctx, iamjudge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = judge.Close() })
	env := sandboxtest.New(t, opts...)
	env.EnforceIAM(judge)
	return env
}

// roleSession creates the role name (trusting Lambda) with policy as its inline policy, binds the
// principal name to it, and returns the role's ARN and a copy of op signed as that principal's
// session, as Lambda gives a function its execution role's credentials.
func roleSession(ctx context.Context, t *testing.T, env *sandboxtest.Env, op aws.Config, name, policy string) (string, aws.Config) {
	t.Helper()
	admin := iam.NewFromConfig(op)
	role, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(name), PolicyDocument: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	env.BindRole(name, aws.ToString(role.Role.Arn))
	k, s, tok := env.Credentials(name)
	cfg := op.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(k, s, tok)
	return aws.ToString(role.Role.Arn), cfg
}

// TestEnforceIAM: with IAM enforced, a role session's calls are judged by iam-simulate on the
// role's policies in the sandbox's IAM and the resource's own policy, over the wire, with each
// service's access-denied error and AWS's message; a denied call does nothing; the operator's
// calls (the static key) are not judged; changing a policy changes the next decision.
func TestEnforceIAM(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	admin := iam.NewFromConfig(op)
	keys := kms.NewFromConfig(op)

	// The operator (not a role session) sets up: two keys, one whose key policy lets only another
	// role use it (no delegation to IAM), a topic, a role for the function "step".
	open, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("default key policy")})
	if err != nil {
		t.Fatal(err)
	}
	other := "arn:aws:iam::" + env.Account + ":role/other"
	// A key policy that names neither the account nor its creator fails KMS's lockout safety
	// check (TestEnforceIAMKeyPolicyLockout) unless the request bypasses it.
	closed, err := keys.CreateKey(ctx, &kms.CreateKeyInput{BypassPolicyLockoutSafetyCheck: true, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + other + `"},"Action":"kms:*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	topic, err := sns.NewFromConfig(op).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts")})
	if err != nil {
		t.Fatal(err)
	}
	role, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("step-role"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	grant := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":["` +
		aws.ToString(open.KeyMetadata.Arn) + `","` + aws.ToString(closed.KeyMetadata.Arn) + `"]}]}`
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("step-role"), PolicyName: aws.String("crypto"), PolicyDocument: aws.String(grant)}); err != nil {
		t.Fatal(err)
	}
	env.BindRole("step", aws.ToString(role.Role.Arn))
	session := "arn:aws:sts::" + env.Account + ":assumed-role/step-role/step"

	// The function's calls, signed with the session credentials the sandbox gives it.
	key, secret, token := env.Credentials("step")
	fn := op.Copy()
	fn.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
	crypto := kms.NewFromConfig(fn)

	enc, err := crypto.Encrypt(ctx, &kms.EncryptInput{KeyId: open.KeyMetadata.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("Encrypt that the role's policy and the default key policy allow: %v", err)
	}
	// Decrypt need not name its key: it is judged on the key the ciphertext names.
	if _, err := crypto.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt without KeyId: %v", err)
	}
	_, err = crypto.Encrypt(ctx, &kms.EncryptInput{KeyId: closed.KeyMetadata.KeyId, Plaintext: []byte("x")})
	msg := sandboxtest.WantCode(t, err, "AccessDeniedException")
	if want := "User: " + session + " is not authorized to perform: kms:Encrypt on resource: " + aws.ToString(closed.KeyMetadata.Arn) + " because no resource-based policy allows the kms:Encrypt action"; msg != want {
		t.Errorf("denial message\n got %s\nwant %s", msg, want)
	}
	before, _ := keys.ListKeys(ctx, &kms.ListKeysInput{})
	_, err = crypto.CreateKey(ctx, &kms.CreateKeyInput{})
	msg = sandboxtest.WantCode(t, err, "AccessDeniedException")
	if !strings.Contains(msg, "kms:CreateKey on resource: *") || !strings.Contains(msg, "no identity-based policy allows") {
		t.Errorf("CreateKey denial: %s", msg)
	}
	if after, _ := keys.ListKeys(ctx, &kms.ListKeysInput{}); len(after.Keys) != len(before.Keys) {
		t.Errorf("a denied CreateKey created a key: %d keys, were %d", len(after.Keys), len(before.Keys))
	}

	// Other protocols, with their own errors.
	_, err = sns.NewFromConfig(fn).Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("m")})
	if msg := sandboxtest.WantCode(t, err, "AuthorizationError"); !strings.Contains(msg, "sns:Publish on resource: "+aws.ToString(topic.TopicArn)) {
		t.Errorf("Publish denial: %s", msg)
	}
	_, err = ec2.NewFromConfig(fn).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if msg := sandboxtest.WantCode(t, err, "UnauthorizedOperation"); !strings.HasPrefix(msg, "You are not authorized to perform this operation. User: "+session) {
		t.Errorf("DescribeSubnets denial: %s", msg)
	}
	if _, err := env.Lambda.RegisterHandler("target", func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil }); err != nil {
		t.Fatal(err)
	}
	_, err = lambda.NewFromConfig(fn).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("target")})
	if msg := sandboxtest.WantCode(t, err, "AccessDeniedException"); !strings.Contains(msg, "lambda:InvokeFunction on resource: arn:aws:lambda:") {
		t.Errorf("Invoke denial: %s", msg)
	}

	// The operator's calls are not judged.
	if _, err := keys.Encrypt(ctx, &kms.EncryptInput{KeyId: closed.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Errorf("operator Encrypt: %v", err)
	}

	// Decisions name the statement that allowed a call; removing the grant denies the next call.
	var granted bool
	for _, d := range env.Decisions() {
		if d.Action == "kms:Encrypt" && d.Allowed && d.Resource == aws.ToString(open.KeyMetadata.Arn) {
			granted = granted || slices.Contains(d.Grants, "crypto#1")
		}
	}
	if !granted {
		t.Errorf("no allowed kms:Encrypt decision names the statement crypto#1: %+v", env.Decisions())
	}
	if _, err := admin.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("step-role"), PolicyName: aws.String("crypto")}); err != nil {
		t.Fatal(err)
	}
	_, err = crypto.Encrypt(ctx, &kms.EncryptInput{KeyId: open.KeyMetadata.KeyId, Plaintext: []byte("x")})
	sandboxtest.WantCode(t, err, "AccessDeniedException")
}

// TestEnforceIAMStateMachineRole: a state machine's tasks call with its role, as Step Functions
// makes them: invoking a function needs lambda:InvokeFunction on it, an aws-sdk task its
// operation's action; a refused task fails with the service's error (Lambda.AccessDeniedException,
// SecretsManager.AccessDeniedException) naming the role session and the action, and the function
// refused is never invoked.
func TestEnforceIAMStateMachineRole(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	admin := iam.NewFromConfig(op)
	handler := func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil }
	allowed, err := env.Lambda.RegisterHandler("allowed", handler)
	if err != nil {
		t.Fatal(err)
	}
	refused, err := env.Lambda.RegisterHandler("refused", handler)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secretsmanager.NewFromConfig(op).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	roles := map[string]string{}
	for name, policy := range map[string]string{
		"with-describe":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"` + allowed + `"},{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`,
		"without-describe": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"` + allowed + `"}]}`,
	} {
		r, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("tasks"), PolicyDocument: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
		roles[name] = aws.ToString(r.Role.Arn)
	}
	def := `{"StartAt":"Allowed","States":{
	  "Allowed":{"Type":"Task","Resource":"` + allowed + `","Next":"Describe"},
	  "Describe":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:secretsmanager:describeSecret","Parameters":{"SecretId":"db"},"ResultPath":null,"Next":"Refused"},
	  "Refused":{"Type":"Task","Resource":"` + refused + `","End":true}}}`
	client := sfn.NewFromConfig(op)
	run := func(role string) *sfn.DescribeExecutionOutput {
		sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(role), Definition: aws.String(def), RoleArn: aws.String(roles[role])})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("run-" + role), Input: aws.String(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		for {
			d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != sfntypes.ExecutionStatusRunning {
				return d
			}
			select {
			case <-ctx.Done():
				t.Fatalf("execution of %s still running: %v", role, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	d := run("with-describe")
	session := "arn:aws:sts::" + env.Account + ":assumed-role/with-describe/run-with-describe"
	if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "Lambda.AccessDeniedException" ||
		aws.ToString(d.Cause) != "User: "+session+" is not authorized to perform: lambda:InvokeFunction on resource: "+refused+" because no identity-based policy allows the lambda:InvokeFunction action" {
		t.Errorf("execution %s: %s: %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if n := len(env.Lambda.History("allowed")); n != 1 {
		t.Errorf("allowed invoked %d times, want 1", n)
	}
	if n := len(env.Lambda.History("refused")); n != 0 {
		t.Errorf("the refused function was invoked %d times", n)
	}
	d = run("without-describe")
	if aws.ToString(d.Error) != "SecretsManager.AccessDeniedException" || !strings.Contains(aws.ToString(d.Cause), "secretsmanager:DescribeSecret on resource: arn:aws:secretsmanager:") {
		t.Errorf("execution without the describe grant: %s: %s", aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// TestEnforceIAMEventBridgeDelivery: EventBridge invokes a rule's Lambda target as
// events.amazonaws.com, which only the function's resource-based policy can allow: with no
// permission, or one for another rule, the delivery is refused and the function not invoked; with
// AddPermission for this rule (as AWS::Lambda::Permission deploys it), it is delivered.
func TestEnforceIAMEventBridgeDelivery(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	fn, err := env.Lambda.RegisterHandler("relay", func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(op)
	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("alerts"), EventPattern: aws.String(`{"source":["strongroom.test"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("alerts"), Targets: []ebtypes.Target{{Id: aws.String("relay"), Arn: aws.String(fn)}}}); err != nil {
		t.Fatal(err)
	}
	send := func() events.Delivery {
		before := len(env.Events.Deliveries())
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("strongroom.test"), DetailType: aws.String("t"), Detail: aws.String(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		all := env.Events.Deliveries()
		if len(all) != before+1 {
			t.Fatalf("%d deliveries, want %d", len(all), before+1)
		}
		return all[len(all)-1]
	}
	lc := lambda.NewFromConfig(op)
	d := send()
	if want := "AccessDeniedException: User: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: " + fn; !strings.HasPrefix(d.Err, want) {
		t.Errorf("delivery with no permission: %q, want %q...", d.Err, want)
	}
	if _, err := lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("relay"), StatementId: aws.String("other"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("events.amazonaws.com"), SourceArn: aws.String(strings.Replace(aws.ToString(rule.RuleArn), "alerts", "other", 1))}); err != nil {
		t.Fatal(err)
	}
	if d := send(); !strings.Contains(d.Err, "AccessDeniedException") {
		t.Errorf("delivery with a permission for another rule: %q, want it refused", d.Err)
	}
	if _, err := lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("relay"), StatementId: aws.String("alerts"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("events.amazonaws.com"), SourceArn: rule.RuleArn}); err != nil {
		t.Fatal(err)
	}
	if d := send(); d.Err != "" {
		t.Errorf("delivery with the rule's permission: %q", d.Err)
	}
	if err := env.Lambda.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(env.Lambda.History("relay")); n != 1 {
		t.Errorf("relay invoked %d times, want once (only the permitted delivery)", n)
	}
	pol, err := lc.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("relay")})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), `"AWS:SourceArn":"`+aws.ToString(rule.RuleArn)+`"`) {
		t.Errorf("GetPolicy: %v %v", aws.ToString(pol.Policy), err)
	}
	_, err = lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("relay"), StatementId: aws.String("alerts"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("events.amazonaws.com")})
	sandboxtest.WantCode(t, err, "ResourceConflictException")
}

// TestEnforceIAMRotationInvoke: Secrets Manager invokes a rotation function as
// secretsmanager.amazonaws.com, allowed only by the function's policy for that secret. RotateSecret
// naming a function that does not allow it answers AccessDeniedException and configures nothing;
// a permission for another secret does not do; the secret's own permission does; a rotation step
// after the permission is removed is refused and invokes nothing.
func TestEnforceIAMRotationInvoke(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	smc := secretsmanager.NewFromConfig(op)
	// A minimal rotation function: a new pending value, then AWSCURRENT moved to it.
	fn, err := env.Lambda.RegisterHandler("rotator", func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev struct{ Step, SecretId, ClientRequestToken string }
		err := json.Unmarshal(payload, &ev)
		if err != nil {
			return nil, err
		}
		switch ev.Step {
		case "createSecret":
			_, err = smc.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &ev.SecretId, ClientRequestToken: &ev.ClientRequestToken,
				SecretString: aws.String("rotated"), VersionStages: []string{"AWSPENDING"}})
		case "finishSecret":
			var d *secretsmanager.DescribeSecretOutput
			if d, err = smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &ev.SecretId}); err != nil {
				return nil, err
			}
			var current string
			for v, stages := range d.VersionIdsToStages {
				if slices.Contains(stages, "AWSCURRENT") {
					current = v
				}
			}
			_, err = smc.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: &ev.SecretId, VersionStage: aws.String("AWSCURRENT"),
				MoveToVersionId: &ev.ClientRequestToken, RemoveFromVersionId: &current})
		}
		return []byte(`null`), err
	})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app"), SecretString: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	other, err := smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("other"), SecretString: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	lc := lambda.NewFromConfig(op)
	permit := func(id, source string) {
		t.Helper()
		if _, err := lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("rotator"), StatementId: aws.String(id), Action: aws.String("lambda:InvokeFunction"),
			Principal: aws.String("secretsmanager.amazonaws.com"), SourceArn: aws.String(source), SourceAccount: aws.String(env.Account)}); err != nil {
			t.Fatal(err)
		}
	}
	rotate := func(withFunction bool) error {
		in := &secretsmanager.RotateSecretInput{SecretId: sec.ARN}
		if withFunction {
			in.RotationLambdaARN = aws.String(fn)
		}
		_, err := smc.RotateSecret(ctx, in)
		return err
	}
	err = rotate(true)
	sandboxtest.WantCode(t, err, "AccessDeniedException")
	if err != nil && !strings.Contains(err.Error(), "Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com") {
		t.Errorf("RotateSecret with no permission: %v, want Secrets Manager's message", err)
	}
	if d, err := smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: sec.ARN}); err != nil || aws.ToBool(d.RotationEnabled) || d.RotationLambdaARN != nil {
		t.Errorf("a refused RotateSecret configured rotation: enabled %v, function %v (%v)", aws.ToBool(d.RotationEnabled), aws.ToString(d.RotationLambdaARN), err)
	}
	permit("other", aws.ToString(other.ARN))
	sandboxtest.WantCode(t, rotate(true), "AccessDeniedException")
	permit("app", aws.ToString(sec.ARN))
	if err := rotate(true); err != nil {
		t.Fatalf("RotateSecret with the secret's permission: %v", err)
	}
	waitRotated := func(want string) {
		t.Helper()
		for ctx.Err() == nil {
			d, err := smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: sec.ARN})
			if err != nil {
				t.Fatal(err)
			}
			pending := false
			for _, stages := range d.VersionIdsToStages {
				pending = pending || (slices.Contains(stages, "AWSPENDING") && !slices.Contains(stages, "AWSCURRENT"))
			}
			if !pending {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		v, err := smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: sec.ARN})
		if err != nil || aws.ToString(v.SecretString) != want {
			t.Fatalf("current value after rotation = %q (%v), want %q", aws.ToString(v.SecretString), err, want)
		}
	}
	waitRotated("rotated")
	invoked := len(env.Lambda.History("rotator"))
	if invoked != 4 {
		t.Errorf("rotator invoked %d times, want 4 (one per step)", invoked)
	}
	if _, err := lc.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("rotator"), StatementId: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	// The configured function, no longer permitted: RotateSecret starts, its first step is refused.
	failed := make(chan string, 4)
	env.SecretsManager.OnRotationEvent(func(ev sbsecrets.RotationEvent) {
		if ev.Name == sbsecrets.EventRotationFailed {
			failed <- ev.Step
		}
	})
	if err := rotate(false); err != nil {
		t.Fatalf("RotateSecret with the configured function: %v", err)
	}
	select {
	case step := <-failed:
		if step != sbsecrets.StepCreateSecret {
			t.Errorf("rotation failed at %s, want %s", step, sbsecrets.StepCreateSecret)
		}
	case <-ctx.Done():
		t.Fatal("no RotationFailed event after the permission was removed")
	}
	if n := len(env.Lambda.History("rotator")); n != invoked {
		t.Errorf("rotator invoked %d times after its permission was removed, want %d", n, invoked)
	}
	denied := 0
	for _, d := range env.Decisions() {
		if d.Session == "secretsmanager.amazonaws.com" && !d.Allowed {
			denied++
		}
	}
	if denied != 3 {
		t.Errorf("%d refused invocations by secretsmanager.amazonaws.com recorded, want 3", denied)
	}
}

// TestEnforceIAMServiceLinkedRoleOnFirstUse: a fresh account has no service-linked role, so the
// first CreateCustomKeyStore needs the caller's iam:CreateServiceLinkedRole for KMS's key store role
// (KMS developer guide, "Authorizing AWS KMS to manage AWS CloudHSM and Amazon EC2 resources"): a
// role without it is refused naming it and creates nothing; a role with it gets past IAM and the
// role then exists; after that, the role without it is no longer refused for it.
func TestEnforceIAMServiceLinkedRoleOnFirstUse(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	admin := iam.NewFromConfig(op)
	const slr = "AWSServiceRoleForKeyManagementServiceCustomKeyStores"
	store := `{"Effect":"Allow","Action":["kms:CreateCustomKeyStore","cloudhsm:DescribeClusters"],"Resource":"*"}`
	create := `{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"arn:aws:iam::` + env.Account +
		`:role/aws-service-role/cks.kms.amazonaws.com/` + slr + `","Condition":{"StringEquals":{"iam:AWSServiceName":"cks.kms.amazonaws.com"}}}`
	client := func(fn string, statements ...string) *kms.Client {
		t.Helper()
		role, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(fn + "-role"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(fn + "-role"), PolicyName: aws.String("p"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`)}); err != nil {
			t.Fatal(err)
		}
		env.BindRole(fn, aws.ToString(role.Role.Arn))
		key, secret, token := env.Credentials(fn)
		cfg := op.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
		return kms.NewFromConfig(cfg)
	}
	without, with := client("without", store), client("with", store, create)
	in := &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("s"), CloudHsmClusterId: aws.String("cluster-none"),
		KeyStorePassword: aws.String("kmsuser-password-1"), TrustAnchorCertificate: aws.String("not a certificate")}

	_, err := without.CreateCustomKeyStore(ctx, in)
	msg := sandboxtest.WantCode(t, err, "AccessDeniedException")
	if !strings.Contains(msg, "is not authorized to perform: iam:CreateServiceLinkedRole on resource: arn:aws:iam::"+env.Account+":role/aws-service-role/cks.kms.amazonaws.com/"+slr) {
		t.Errorf("denial: %s", msg)
	}
	if env.IAM.RoleARNByName(slr) != "" {
		t.Fatal("a refused call created the service-linked role")
	}
	// Past IAM, KMS refuses the made-up cluster: the service-linked role exists now.
	_, err = with.CreateCustomKeyStore(ctx, in)
	sandboxtest.WantCode(t, err, "CloudHsmClusterNotFoundException")
	if env.IAM.RoleARNByName(slr) == "" {
		t.Fatal("the first allowed call did not create the service-linked role")
	}
	_, err = without.CreateCustomKeyStore(ctx, in)
	sandboxtest.WantCode(t, err, "CloudHsmClusterNotFoundException")
}
