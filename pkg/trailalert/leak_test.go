package trailalert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// capturePublisher records what the relay asks SNS to publish.
type capturePublisher struct{ in []*sns.PublishInput }

func (p *capturePublisher) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	p.in = append(p.in, in)
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprintf("msg-%d", len(p.in)))}, nil
}

// published is everything the relay sends for one event, as SNS would carry it: the subject, the
// body and every message attribute (name, type and value), plus the relay's own log lines.
func published(t *testing.T, in *sns.PublishInput, logs string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s\n", aws.ToString(in.Subject))
	names := make([]string, 0, len(in.MessageAttributes))
	for k := range in.MessageAttributes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := in.MessageAttributes[k]
		fmt.Fprintf(&b, "Attribute %s (%s) = %s\n", k, aws.ToString(v.DataType), aws.ToString(v.StringValue))
	}
	fmt.Fprintf(&b, "----- body -----\n%s\n----- relay log -----\n%s", aws.ToString(in.Message), logs)
	return b.String()
}

// relayAsDeployed builds the relay the way lambdas/trailrelay does: the default sensitive fields
// plus the comma-separated REDACT_FIELDS, which the stack sets from strongroom:alertRedactFields.
func relayAsDeployed(t *testing.T, redactFields string) (*trailalert.Relay, *capturePublisher, *bytes.Buffer) {
	t.Helper()
	fields := append([]string{}, trailalert.DefaultSensitiveFields...)
	for _, f := range strings.Split(redactFields, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	a, err := trailalert.New(trailalert.Options{SensitiveFields: fields})
	if err != nil {
		t.Fatal(err)
	}
	pub := &capturePublisher{}
	var logs bytes.Buffer
	r, err := trailalert.NewRelay(a, pub, "arn:aws:sns:us-east-1:111122223333:strongroom-alerts", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return r, pub, &logs
}

// TestRealEventsLeakNoSecret relays real-shaped CloudTrail events of several services, each with
// credentials where the service's API puts them (request, response, nested objects, arrays,
// name/value lists), and checks that no credential - and no value of a field named in
// REDACT_FIELDS - appears anywhere in what is published (subject, body, attributes) or logged,
// while the event's ordinary fields still do.
func TestRealEventsLeakNoSecret(t *testing.T) {
	tests := []struct {
		event        string
		redactFields string // REDACT_FIELDS, as strongroom:alertRedactFields sets it
		secrets      []string
		visible      []string
	}{
		{event: "01-cognito-createuserpoolclient",
			secrets: []string{"CogCreateSecret7Hq2mZ9vXwLp0aK3rT8uYb5nC1dE6fG4hJ2kM9qS0wV"},
			visible: []string{"payments-backend", "4tq1examplecl1ent1d00000a", "us-east-1_EXAMPLE1", `"generateSecret": true`, `"allowedOAuthFlowsUserPoolClient": true`}},
		{event: "02-cognito-updateuserpoolclient",
			secrets: []string{"CogUpdateSecretQ3wE5rT7yU9iO1pA2sD4fG6hJ8kL0zX1cV3bN5mQ7"},
			visible: []string{"payments-backend-v2", "4tq1examplecl1ent1d00000a"}},
		{event: "03-events-createconnection-oauth",
			secrets: []string{"EbOAuthClientSecret9vB7nM5qW3eR1tY8uI6oP4aS2", "EbHeaderApiKeyValue4kJ8hG2fD6sA0zX"},
			visible: []string{"crm-client-42", "crm-api-audience", "https://auth.partner.example/oauth2/token", "X-Partner-Api-Key", "name=partner-crm"}},
		{event: "04-events-createconnection-apikey",
			secrets: []string{"EbApiKeyValue2pL9oK7iJ5uH3yG1tF"},
			visible: []string{"API_KEY", "acme-tenant-eu", "name=ledger-webhook"}},
		{event: "05-events-updateconnection-basic",
			secrets: []string{"EbBasicPassw0rdXy7Zq4Wm1"},
			visible: []string{"svc-erp-bridge", "BASIC"}},
		{event: "06-rds-createdbinstance",
			secrets: []string{"RdsCreateMasterPw8Nc3Vb6Xz1"},
			visible: []string{"ledger-prod", "ledger_admin", "db.r6g.large"}},
		{event: "07-rds-modifydbinstance",
			secrets: []string{"RdsModifyMasterPw5Tg2Yh9Uj4"},
			visible: []string{"ledger-prod", `"applyImmediately": true`}},
		{event: "08-secretsmanager-putsecretvalue",
			secrets: []string{"SmSecretStringPw6Rf3Ed8Ws1", "U21TZWNyZXRCaW5hcnlCbG9iNDJ4WQ=="},
			visible: []string{"secretId=arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/ledger/db-Xy12Ab", "4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f", "AWSPENDING"}},
		{event: "09-iam-createaccesskey",
			secrets: []string{"IamSecretAccessKey/K7MDENG+bPxRfiCYEXAMPLEKEY"},
			visible: []string{"userName=ci-deployer", "AKIAI44QH8DHBEXAMPLE", `"status": "Active"`}},
		{event: "10-lambda-createfunction",
			secrets: []string{"LambdaDbPassw0rd3Kx8Lp2", "sk_live_LambdaStripeKey51Hx9Qm2Wn7", "LambdaMysqlPwd6Bv4Nc8",
				"LambdaLdapPasswd1Zx5Cv9", "ghp_LambdaGithubToken8Jk2Lm4Np6"},
			visible: []string{"ledger-prod.cluster-c1a2b3.us-east-1.rds.amazonaws.com", `"LOG_LEVEL": "warning"`, "invoice-worker"}},
		{event: "11-ssm-putparameter-securestring",
			secrets: []string{"SsmSecureStringWhsec4Gh7Jk1Lz3"},
			visible: []string{"name=/prod/ledger/stripe-webhook-signing", "alias/aws/ssm", "SecureString"}},
		{event: "12-ssm-putparameter-string",
			visible: []string{`"value": "https://ledger.internal.example/v2"`, "name=/prod/ledger/api-base-url"}},
		{event: "13-elasticache-createreplicationgroup",
			secrets: []string{"RedisAuthToken2Wq8Er4Ty6Ui0Op"},
			visible: []string{"web sessions", `"authTokenEnabled": true`, `"transitEncryptionEnabled": true`}},
		{event: "14-codebuild-importsourcecredentials",
			secrets: []string{"ghp_CodebuildPat5Rt7Yu9Io1Pa3Sd"},
			visible: []string{"PERSONAL_ACCESS_TOKEN", "GITHUB", "arn:aws:codebuild:us-east-1:111122223333:token/github"}},
		{event: "15-appflow-createconnectorprofile",
			secrets: []string{"AppflowSfAccessToken00D5e000001NzXq", "AppflowSfRefreshToken5Aep861TSESvWeug"},
			visible: []string{"https://acme-corp.my.salesforce.com", "salesforce-prod"}},
		{event: "16-ecs-registertaskdefinition",
			secrets: []string{"EcsDatasourcePassw0rd7Hn3Jm", "EcsAuth0ClientSecret2Kd9Lf"},
			visible: []string{"SPRING_DATASOURCE_PASSWORD", `"value": "8443"`, `"value": "production-eu"`, "ledger-api:1.42.0"}},
		// Fields named in strongroom:alertRedactFields. The caller's user name makes up the subject
		// and the Who line's ARN; the target's makes up the resource summary and the resource ARN.
		{event: "17-iam-createloginprofile", redactFields: "userName",
			secrets: []string{"ops-ana.silva", "ext-jdoe-contractor"},
			visible: []string{"CreateLoginProfile", "AIDAEXAMPLEOPSANA0001", "AKIAEXAMPLEOPSANA001", `"passwordResetRequired": true`, "arn:aws:iam::111122223333:user/"}},
		// The secret's ARN is the configured field's value; the response repeats it under "arn".
		{event: "18-secretsmanager-deletesecret", redactFields: "secretId",
			secrets: []string{"arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/project-zephyr-merger/db-Qw3Er5"},
			visible: []string{"DeleteSecret", `"recoveryWindowInDays": 7`, "Dec 8, 2026, 10:18:00 AM"}},
		// The account ID is in the subject, the account attribute, the summary and every ARN.
		{event: "19-kms-schedulekeydeletion", redactFields: "clientRequestToken, account",
			secrets: []string{"444455556666"},
			visible: []string{"ScheduleKeyDeletion", "key/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "PendingDeletion"}},
	}
	events := trailalerttest.Fixtures(t, "testdata/leaks")
	if len(tests) != len(events) {
		t.Errorf("%d cases for %d events in testdata/leaks", len(tests), len(events))
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			raw, ok := events[tc.event]
			if !ok {
				t.Fatalf("no testdata/leaks/%s.json", tc.event)
			}
			for _, s := range tc.secrets {
				if !bytes.Contains(raw, []byte(jsonEscape(s))) {
					t.Fatalf("the event does not hold %q: the case proves nothing", s)
				}
			}
			relay, pub, logs := relayAsDeployed(t, tc.redactFields)
			if _, err := relay.Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(pub.in) != 1 {
				t.Fatalf("%d messages published; want 1", len(pub.in))
			}
			all := published(t, pub.in[0], logs.String())
			for _, s := range tc.secrets {
				for _, form := range []string{s, jsonEscape(s)} {
					if i := strings.Index(all, form); i >= 0 {
						t.Errorf("secret %q reached the e-mail: ...%s...", s, excerptAround(all, i, len(form)))
						break
					}
				}
			}
			for _, v := range tc.visible {
				if !strings.Contains(all, v) {
					t.Errorf("non-secret %q is missing from the e-mail (over-redacted)", v)
				}
			}
			if t.Failed() {
				t.Logf("published:\n%s", all)
			}
		})
	}
}

// excerptAround shows the line of s around [i, i+n), to say where a leak is.
func excerptAround(s string, i, n int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i+n:], '\n')
	if end < 0 {
		end = len(s)
	} else {
		end += i + n
	}
	return s[start:end]
}

// TestSensitiveNames pins which field names are redacted by the default list: secret-bearing names
// in any case and in camelCase, snake_case and kebab-case, and the names that only describe a
// credential (its ID, ARN, type, policy, or an idempotency or paging token), which stay readable.
func TestSensitiveNames(t *testing.T) {
	red, err := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	if err != nil {
		t.Fatal(err)
	}
	sensitive := []string{
		"password", "Password", "PASSWORD", "masterUserPassword", "DB_PASSWORD", "db-password", "newPassword",
		"passwd", "LDAP_PASSWD", "pwd", "MYSQL_PWD", "Pwd", "passphrase", "keyPassphrase",
		"clientSecret", "ClientSecret", "client_secret", "client-secret", "CLIENT_SECRET", "AUTH0_CLIENT_SECRET",
		"secret", "secretKey", "secretString", "SecretString", "secret_string", "secretBinary", "secretAccessKey",
		"authToken", "AuthToken", "auth_token", "x-auth-token", "accessToken", "refreshToken", "idToken",
		"sessionToken", "SessionToken", "token", "Token", "GITHUB_TOKEN", "bearerToken", "tokenCode",
		"apiKey", "ApiKey", "api_key", "api-key", "X-API-KEY", "STRIPE_API_KEY", "apiKeyValue",
		"credential", "credentials", "Credentials", "connectorProfileCredentials", "serviceSpecificCredential",
		"privateKey", "private_key", "private-key", "PrivateKeyPem", "SSH_PRIVATE_KEY",
		"plaintext", "Plaintext", "keyMaterial", "passwordData", "Password_Hint",
	}
	notSensitive := []string{
		"keyId", "KeyId", "accessKeyId", "publicKey", "keyState", "kmsKeyId", "userName", "name", "value",
		"secretId", "SecretId", "secretArn", "secret_arn", "secretName", "SecretARN",
		"clientRequestToken", "ClientRequestToken", "clientToken", "nextToken", "NextToken", "idempotencyToken",
		"tokenType", "token_type",
		"apiKeyId", "apiKeyName", "apiKeySource", "credentialId", "sessionCredentialFromConsole",
		"passwordPolicy", "PasswordPolicy", "minimumPasswordLength", "maxPasswordAge", "passwordReusePrevention",
		"passwordLastUsed", "authTokenUpdateStrategy", "refreshTokenValidity", "clientSecretExpiresAt",
	}
	for _, name := range sensitive {
		if !red.Sensitive(name) {
			t.Errorf("%q is not redacted; it names a secret", name)
		}
	}
	for _, name := range notSensitive {
		if red.Sensitive(name) {
			t.Errorf("%q is redacted; it does not hold a secret", name)
		}
	}
}

// TestMessageDerivesFromRedactedEvent plants one value under a field named in REDACT_FIELDS and
// copies of it where the summary and subject read: the principal, a request parameter the
// resource summary lists, a resource ARN, the error message. None may survive anywhere.
func TestMessageDerivesFromRedactedEvent(t *testing.T) {
	const secret = "Cust0merRef-99812-ZZ"
	var ev map[string]any
	if err := json.Unmarshal(fixtures(t)["15-iam-putrolepolicy"], &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	params := detail["requestParameters"].(map[string]any)
	params["customerRef"] = secret
	params["roleName"] = secret
	detail["errorCode"] = "MalformedPolicyDocument"
	detail["errorMessage"] = "Policy for " + secret + " is malformed"
	detail["userIdentity"].(map[string]any)["userName"] = secret
	detail["resources"] = []any{map[string]any{"ARN": "arn:aws:iam::111122223333:role/" + secret, "type": "AWS::IAM::Role"}}
	raw, _ := json.Marshal(ev)

	relay, pub, logs := relayAsDeployed(t, "customerRef")
	if _, err := relay.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	all := published(t, pub.in[0], logs.String())
	if i := strings.Index(all, secret); i >= 0 {
		t.Errorf("the configured field's value reached the e-mail: ...%s...", excerptAround(all, i, len(secret)))
	}
	for _, want := range []string{"PutRolePolicy", "MalformedPolicyDocument", "arn:aws:iam::111122223333:role/", "policyName="} {
		if !strings.Contains(all, want) {
			t.Errorf("%q missing from the e-mail", want)
		}
	}
	if t.Failed() {
		t.Logf("published:\n%s", all)
	}
}

// TestRedactedRecordFieldsStillRender configures markers that hit the record's own structured
// fields (times, the identity object, the resources list; readOnly, a boolean, is kept): the
// message is still complete, and their values appear nowhere - not even the account ID, a value
// inside the redacted identity object that the envelope repeats.
func TestRedactedRecordFieldsStillRender(t *testing.T) {
	raw := fixtures(t)["07-kms-schedulekeydeletion-iamuser"]
	relay, pub, logs := relayAsDeployed(t, "time, userIdentity, resources, readOnly, eventID")
	if _, err := relay.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	all := published(t, pub.in[0], logs.String())
	for _, secret := range []string{"2026-11-22T10:11:12Z", "2026-11-22 10:11:12", "AKIAIOSFODNN7EXAMPLE", "user/bob",
		"d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f07", "111122223333"} {
		if i := strings.Index(all, secret); i >= 0 {
			t.Errorf("%q reached the e-mail: ...%s...", secret, excerptAround(all, i, len(secret)))
		}
	}
	for _, want := range []string{"Subject: [CRITICAL] kms:ScheduleKeyDeletion by unknown principal in [REDACTED]",
		"When:       [REDACTED]", "What:       ScheduleKeyDeletion on kms.amazonaws.com (AwsApiCall, Management, write)",
		"Event ID:   [REDACTED]", "keyId=1234abcd-12ab-34cd-56ef-1234567890ab", `"pendingWindowInDays": 7`} {
		if !strings.Contains(all, want) {
			t.Errorf("%q missing from the e-mail", want)
		}
	}
	if t.Failed() {
		t.Logf("published:\n%s", all)
	}
}
