package iamjudge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
)

// judge is the one judge process of this test binary (TestMain).
var judge *iamjudge.Judge

func TestMain(m *testing.M) { os.Exit(iamjudge.RunTests(m, &judge)) }

const (
	account = "111122223333"
	role    = "arn:aws:iam::" + account + ":role/StrongroomRotation"
	session = "arn:aws:sts::" + account + ":assumed-role/StrongroomRotation/rotate"
	secret  = "arn:aws:secretsmanager:us-east-1:" + account + ":secret:db-AbCdEf"
	topic   = "arn:aws:sns:us-east-1:" + account + ":alerts"
	rule    = "arn:aws:events:us-east-1:" + account + ":rule/StrongroomAlerts-Relay"
	key     = "arn:aws:kms:us-east-1:" + account + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	fn      = "arn:aws:lambda:us-east-1:" + account + ":function:rotate"
)

// doc builds a policy document from statements.
func doc(statements ...string) json.RawMessage {
	return json.RawMessage(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`)
}

func policies(statements ...string) []iamjudge.Policy {
	return []iamjudge.Policy{{Name: "inline", Document: doc(statements...)}}
}

func decide(t *testing.T, req iamjudge.Request) iamjudge.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := judge.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// expect checks the decision and, for a denial, AWS's message text.
func expect(t *testing.T, req iamjudge.Request, want iamjudge.Decision, message string) iamjudge.Result {
	t.Helper()
	res := decide(t, req)
	if res.Decision != want {
		t.Fatalf("%s %s on %s: %s, want %s (denials %+v, grants %+v)", req.Principal, req.Action, req.Resource, res.Decision, want, res.Denials, res.Grants)
	}
	if got := iamjudge.Message(req, res); got != message {
		t.Errorf("message:\n got %q\nwant %q", got, message)
	}
	return res
}

func TestIdentityPolicyAllows(t *testing.T) {
	req := iamjudge.Request{
		Principal: session, Action: "secretsmanager:GetSecretValue", Resource: secret,
		IdentityPolicies: policies(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"` + secret + `"}`),
	}
	res := expect(t, req, iamjudge.Allowed, "")
	want := iamjudge.Grant{PolicyType: iamjudge.IdentityPolicy, Policy: "inline", StatementIndex: 1}
	if !slices.Contains(res.Grants, want) {
		t.Errorf("grants %+v, want one %+v", res.Grants, want)
	}
	if res.ResourceType != "Secret" {
		t.Errorf("resource type %q, want Secret", res.ResourceType)
	}
}

func TestNoAllowIsImplicitDeny(t *testing.T) {
	req := iamjudge.Request{
		Principal: session, Action: "secretsmanager:GetSecretValue", Resource: secret,
		IdentityPolicies: policies(`{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"` + secret + `"}`),
	}
	expect(t, req, iamjudge.ImplicitlyDenied, "User: "+session+" is not authorized to perform: secretsmanager:GetSecretValue on resource: "+secret+
		" because no identity-based policy allows the secretsmanager:GetSecretValue action")
}

func TestExplicitDenyWins(t *testing.T) {
	t.Run("identity policy", func(t *testing.T) {
		req := iamjudge.Request{
			Principal: session, Action: "sns:Publish", Resource: topic,
			IdentityPolicies: policies(
				`{"Effect":"Allow","Action":"sns:*","Resource":"*"}`,
				`{"Sid":"NoPublish","Effect":"Deny","Action":"sns:Publish","Resource":"`+topic+`"}`),
		}
		res := expect(t, req, iamjudge.ExplicitlyDenied, "User: "+session+" is not authorized to perform: sns:Publish on resource: "+topic+
			" with an explicit deny in an identity-based policy")
		want := iamjudge.Denial{PolicyType: iamjudge.IdentityPolicy, Explicit: true, Policy: "inline", StatementID: "NoPublish", StatementIndex: 2}
		if !slices.Contains(res.Denials, want) {
			t.Errorf("denials %+v, want one %+v", res.Denials, want)
		}
	})
	t.Run("resource policy over an identity allow", func(t *testing.T) {
		req := iamjudge.Request{
			Principal: session, Action: "sns:Publish", Resource: topic,
			IdentityPolicies: policies(`{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}`),
			ResourcePolicy:   doc(`{"Effect":"Deny","Principal":"*","Action":"sns:Publish","Resource":"` + topic + `"}`),
		}
		expect(t, req, iamjudge.ExplicitlyDenied, "User: "+session+" is not authorized to perform: sns:Publish on resource: "+topic+
			" with an explicit deny in a resource-based policy")
	})
}

// topicPolicy lets EventBridge publish to the topic from one rule, as the alerts stack's topic
// policy does.
var topicPolicy = doc(`{"Sid":"Events","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sns:Publish","Resource":"` + topic + `",` +
	`"Condition":{"ArnEquals":{"aws:SourceArn":"` + rule + `"},"StringEquals":{"aws:SourceAccount":"` + account + `"}}}`)

func TestResourcePolicyAloneAllowsAServicePrincipal(t *testing.T) {
	req := iamjudge.Request{
		Principal: "events.amazonaws.com", Action: "sns:Publish", Resource: topic, ResourcePolicy: topicPolicy,
		Context: map[string][]string{"aws:SourceArn": {rule}, "aws:SourceAccount": {account}},
	}
	res := expect(t, req, iamjudge.Allowed, "")
	want := iamjudge.Grant{PolicyType: iamjudge.ResourcePolicy, StatementID: "Events", StatementIndex: 1}
	if !slices.Contains(res.Grants, want) {
		t.Errorf("grants %+v, want one %+v", res.Grants, want)
	}

	// Secrets Manager invoking the rotation function through its AWS::Lambda::Permission.
	invoke := iamjudge.Request{
		Principal: "secretsmanager.amazonaws.com", Action: "lambda:InvokeFunction", Resource: fn,
		ResourcePolicy: doc(`{"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}`),
	}
	expect(t, invoke, iamjudge.Allowed, "")

	// Without the statement, nothing allows the service.
	invoke.ResourcePolicy = doc(`{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}`)
	expect(t, invoke, iamjudge.ImplicitlyDenied, "User: secretsmanager.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: "+fn+
		" because no resource-based policy allows the lambda:InvokeFunction action")
}

func TestConditions(t *testing.T) {
	req := iamjudge.Request{
		Principal: "events.amazonaws.com", Action: "sns:Publish", Resource: topic, ResourcePolicy: topicPolicy,
		Context: map[string][]string{"aws:SourceArn": {rule}, "aws:SourceAccount": {"444455556666"}},
	}
	expect(t, req, iamjudge.ImplicitlyDenied, "User: events.amazonaws.com is not authorized to perform: sns:Publish on resource: "+topic+
		" because no resource-based policy allows the sns:Publish action")

	req.Context = map[string][]string{"aws:SourceArn": {"arn:aws:events:us-east-1:" + account + ":rule/another"}, "aws:SourceAccount": {account}}
	expect(t, req, iamjudge.ImplicitlyDenied, "User: events.amazonaws.com is not authorized to perform: sns:Publish on resource: "+topic+
		" because no resource-based policy allows the sns:Publish action")

	// kms:ViaService: the role may decrypt only through Secrets Manager.
	via := iamjudge.Request{
		Principal: session, Action: "kms:Decrypt", Resource: key,
		IdentityPolicies: policies(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"` + key + `","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}`),
		ResourcePolicy:   doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}`),
		Context:          map[string][]string{"kms:ViaService": {"secretsmanager.us-east-1.amazonaws.com"}},
	}
	expect(t, via, iamjudge.Allowed, "")
	via.Context = map[string][]string{"kms:ViaService": {"ssm.us-east-1.amazonaws.com"}}
	expect(t, via, iamjudge.ImplicitlyDenied, "User: "+session+" is not authorized to perform: kms:Decrypt on resource: "+key+
		" because no identity-based policy allows the kms:Decrypt action")
	via.Context = nil
	expect(t, via, iamjudge.ImplicitlyDenied, "User: "+session+" is not authorized to perform: kms:Decrypt on resource: "+key+
		" because no identity-based policy allows the kms:Decrypt action")
}

// KMS: an identity policy grants access to a key only when the key policy lets IAM policies do so
// (a statement for the account's root); a key policy naming other principals only does not.
func TestKMSKeyPolicyMustDelegateToIAM(t *testing.T) {
	identity := policies(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`)
	req := iamjudge.Request{
		Principal: session, Action: "kms:Decrypt", Resource: key, IdentityPolicies: identity,
		ResourcePolicy: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}`),
	}
	expect(t, req, iamjudge.ImplicitlyDenied, "User: "+session+" is not authorized to perform: kms:Decrypt on resource: "+key+
		" because no resource-based policy allows the kms:Decrypt action")

	req.ResourcePolicy = doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}`)
	expect(t, req, iamjudge.Allowed, "")

	// Delegation alone allows nothing: the identity policy must still grant the action.
	req.IdentityPolicies = policies(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`)
	expect(t, req, iamjudge.ImplicitlyDenied, "User: "+session+" is not authorized to perform: kms:Decrypt on resource: "+key+
		" because no identity-based policy allows the kms:Decrypt action")
}

func TestWildcards(t *testing.T) {
	identity := policies(`{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:us-east-1:` + account + `:secret:db-??????"}`)
	for _, c := range []struct {
		action, resource string
		want             iamjudge.Decision
	}{
		{"secretsmanager:GetSecretValue", secret, iamjudge.Allowed},
		{"secretsmanager:GetRandomPassword", "*", iamjudge.ImplicitlyDenied}, // wildcard-only: the policy names db-?????? only
		{"secretsmanager:PutSecretValue", secret, iamjudge.ImplicitlyDenied},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:" + account + ":secret:app-AbCdEf", iamjudge.ImplicitlyDenied},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:" + account + ":secret:db-AbCdEfG", iamjudge.ImplicitlyDenied},
	} {
		req := iamjudge.Request{Principal: session, Action: c.action, Resource: c.resource, ResourceAccount: account, IdentityPolicies: identity}
		if res := decide(t, req); res.Decision != c.want {
			t.Errorf("%s on %s: %s, want %s", c.action, c.resource, res.Decision, c.want)
		}
	}

	// A wildcard-only action is granted on "*", by an action pattern.
	create := iamjudge.Request{
		Principal: session, Action: "kms:CreateCustomKeyStore", Resource: "*", ResourceAccount: account,
		IdentityPolicies: policies(`{"Effect":"Allow","Action":["kms:Create*Store","cloudhsm:Describe*"],"Resource":"*"}`),
	}
	expect(t, create, iamjudge.Allowed, "")
	create.Action = "kms:CreateKey"
	expect(t, create, iamjudge.ImplicitlyDenied, "User: "+session+" is not authorized to perform: kms:CreateKey on resource: *"+
		" because no identity-based policy allows the kms:CreateKey action")
}

// Many goroutines share the one process; each must get the answer to its own question.
func TestConcurrentRequests(t *testing.T) {
	identity := policies(`{"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:` + account + `:even-*"}`)
	const goroutines, each = 32, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := g*each + i
				parity := map[bool]string{true: "even", false: "odd"}[n%2 == 0]
				res := fmt.Sprintf("arn:aws:sns:us-east-1:%s:%s-%d", account, parity, n)
				req := iamjudge.Request{Principal: session, Action: "sns:Publish", Resource: res, IdentityPolicies: identity}
				got, err := judge.Decide(context.Background(), req)
				if err != nil {
					errs <- err
					continue
				}
				want := iamjudge.ImplicitlyDenied
				if n%2 == 0 {
					want = iamjudge.Allowed
				}
				if got.Decision != want {
					errs <- fmt.Errorf("%s: %s, want %s", res, got.Decision, want)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestActionsOfEmulatedServices(t *testing.T) {
	ctx := context.Background()
	for _, s := range iamjudge.EmulatedServices {
		names, err := judge.Actions(ctx, s)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(names) < 3 {
			t.Errorf("%s: iam-data lists %d actions: %v", s, len(names), names)
		}
	}

	get, err := judge.Action(ctx, "secretsmanager:GetSecretValue")
	if err != nil {
		t.Fatal(err)
	}
	if get.WildcardOnly || len(get.ResourceTypes) != 1 || get.ResourceTypes[0].Name != "Secret" ||
		get.ResourceTypes[0].ARN != "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}" || !get.ResourceTypes[0].Required {
		t.Errorf("secretsmanager:GetSecretValue: %+v", get)
	}
	if !slices.Contains(get.ConditionKeys, "secretsmanager:VersionStage") {
		t.Errorf("secretsmanager:GetSecretValue condition keys %v, want secretsmanager:VersionStage", get.ConditionKeys)
	}

	store, err := judge.Action(ctx, "kms:CreateCustomKeyStore")
	if err != nil {
		t.Fatal(err)
	}
	if !store.WildcardOnly || len(store.ResourceTypes) != 0 {
		t.Errorf("kms:CreateCustomKeyStore is wildcard-only in the Service Authorization Reference: %+v", store)
	}

	decrypt, err := judge.Action(ctx, "kms:Decrypt")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(decrypt.ConditionKeys, "kms:ViaService") || len(decrypt.ResourceTypes) != 1 ||
		decrypt.ResourceTypes[0].ARN != "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}" {
		t.Errorf("kms:Decrypt: %+v", decrypt)
	}

	if _, err := judge.Action(ctx, "kms:NoSuchAction"); err == nil || !strings.Contains(err.Error(), "kms:NoSuchAction") || !strings.Contains(err.Error(), `no action "NoSuchAction"`) {
		t.Errorf("an unknown action: %v, want an error naming it", err)
	}
	if _, err := judge.Actions(ctx, "nosuchservice"); err == nil || !strings.Contains(err.Error(), "nosuchservice") {
		t.Errorf("an unknown service: %v, want an error naming it", err)
	}

	v, err := judge.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.IAMSimulate == "" || v.IAMData == "" || v.Node == "" {
		t.Errorf("versions %+v", v)
	}
}

func TestErrorsSayWhatWasAsked(t *testing.T) {
	ctx := context.Background()
	req := iamjudge.Request{
		Principal: session, Action: "sns:Publish", Resource: topic,
		IdentityPolicies: policies(`{"Effect":"Allw","Action":"sns:Publish","Resource":"*"}`),
	}
	_, err := judge.Decide(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "may "+session+" perform sns:Publish on "+topic) || !strings.Contains(err.Error(), "Statement[0].Effect") {
		t.Errorf("an invalid policy: %v, want an error naming the request and the statement", err)
	}

	_, err = judge.Decide(ctx, iamjudge.Request{Principal: session, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/key"})
	if err == nil || !strings.Contains(err.Error(), "ResourceAccount") {
		t.Errorf("an S3 ARN without ResourceAccount: %v, want an error naming ResourceAccount", err)
	}

	_, err = judge.Decide(ctx, iamjudge.Request{Principal: session, Action: "kms:CreateCustomKeyStore", Resource: key})
	if err == nil || !strings.Contains(err.Error(), "must.use.wildcard") {
		t.Errorf("a resource ARN for a wildcard-only action: %v, want iam-simulate's must.use.wildcard", err)
	}

	_, err = iamjudge.Start(ctx, iamjudge.Options{Root: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Errorf("no npm packages: %v, want an error naming make deps", err)
	}
}

// A call after the process has ended fails at once, saying so, instead of waiting for an answer.
func TestCallAfterCloseFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := iamjudge.Start(ctx, iamjudge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = j.Decide(ctx, iamjudge.Request{Principal: session, Action: "sns:Publish", Resource: topic})
	if err == nil || !strings.Contains(err.Error(), "judge process") || !strings.Contains(err.Error(), "ended") {
		t.Errorf("Decide after Close: %v, want an error saying the judge process ended", err)
	}
}

// A key policy's kms:EncryptionContext:<key> condition is decided on the request's encryption
// context (iam-simulate alone ignores such keys, so the condition failed on every request): CloudTrail's
// statement allows a data key for a trail of the account and for no other context, and the grant keeps
// its statement number.
func TestEncryptionContextCondition(t *testing.T) {
	trail := "arn:aws:cloudtrail:us-east-1:" + account + ":trail/main"
	policy := doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+account+`:root"},"Action":"kms:DescribeKey","Resource":"*"}`,
		`{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*",
		  "Condition":{"StringEquals":{"aws:SourceArn":"`+trail+`"},"StringLike":{"kms:EncryptionContext:aws:cloudtrail:arn":"arn:aws:cloudtrail:*:`+account+`:trail/*"}}}`)
	req := func(ec string) iamjudge.Request {
		cx := map[string][]string{"aws:SourceArn": {trail}, "aws:SourceAccount": {account}}
		if ec != "" {
			cx["kms:EncryptionContext:aws:cloudtrail:arn"] = []string{ec}
		}
		return iamjudge.Request{Principal: "cloudtrail.amazonaws.com", Action: "kms:GenerateDataKey", Resource: key,
			ResourceAccount: account, ResourcePolicy: policy, Context: cx}
	}
	res := expect(t, req(trail), iamjudge.Allowed, "")
	if len(res.Grants) != 1 || res.Grants[0].StatementIndex != 2 {
		t.Errorf("grants %+v, want the key policy's statement 2", res.Grants)
	}
	for _, ec := range []string{"arn:aws:cloudtrail:us-east-1:999988887777:trail/main", ""} {
		if res := decide(t, req(ec)); res.Decision != iamjudge.ImplicitlyDenied {
			t.Errorf("encryption context %q: %s, want ImplicitlyDenied", ec, res.Decision)
		}
	}
}
