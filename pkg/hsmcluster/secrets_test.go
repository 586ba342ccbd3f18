package hsmcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/hsmcluster/activate"
	"github.com/strongroom/strongroom/pkg/hsmcluster/initialize"
	"github.com/strongroom/strongroom/pkg/hsmcluster/password"
	"github.com/strongroom/strongroom/pkg/hsmcluster/report"
	"github.com/strongroom/strongroom/pkg/hsmcluster/sign"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

const (
	adminName  = "strongroom/MyStack/Cluster/admin-password"
	caKeyName  = "strongroom/MyStack/Cluster/customer-ca/private-key"
	caCertName = "strongroom/MyStack/Cluster/customer-ca/certificate"
)

func passwordStep(sm *fakeSecrets) *password.StorePassword {
	return &password.StorePassword{Secrets: sm, KMSKeyID: "alias/strongroom-secrets", Tags: map[string]string{"strongroom:purpose": "cluster-admin"}}
}

// StorePassword generates a password of letters and digits into a new secret (encrypted with the
// configured key) before anything uses it, and answers with the ARN only. It creates first (a role
// granted <name>-?????? may not describe a secret that does not exist). Run again, it reuses the
// secret: CreateSecret is refused and the existing secret's ARN is answered, its value untouched.
func TestStorePasswordCreatesOnceAndNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	sm := newFakeSecrets()
	step := passwordStep(sm)
	in := password.PasswordInput{SecretName: adminName, Description: "CloudHSM cluster admin password (Strongroom)"}
	out, err := step.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	s := sm.byName(adminName)
	if s == nil || out != (password.PasswordOutput{SecretARN: s.arn, Created: true}) {
		t.Fatalf("out = %+v; secret %+v", out, s)
	}
	if want := []string{"GetRandomPassword", "CreateSecret"}; !reflect.DeepEqual(sm.calls, want) {
		t.Fatalf("calls = %v; want %v", sm.calls, want)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(s.value) {
		t.Fatalf("password %d characters, not letters and digits only", len(s.value))
	}
	if s.kmsKey != "alias/strongroom-secrets" || s.description != in.Description ||
		!reflect.DeepEqual(s.tags, []smtypes.Tag{{Key: aws.String("strongroom:purpose"), Value: aws.String("cluster-admin")}}) {
		t.Fatalf("secret settings: %+v", s)
	}
	if b, _ := json.Marshal(out); strings.Contains(string(b), s.value) {
		t.Fatal("the step's output carries the password")
	}

	first := s.value
	sm.calls = nil
	again, err := step.Handle(ctx, in)
	if err != nil || again != (password.PasswordOutput{SecretARN: s.arn}) {
		t.Fatalf("re-run: %+v %v", again, err)
	}
	if !reflect.DeepEqual(sm.calls, []string{"GetRandomPassword", "CreateSecret", "DescribeSecret"}) || s.value != first || len(sm.secrets) != 1 {
		t.Fatalf("re-run touched the secret: calls %v", sm.calls)
	}
}

func TestStorePasswordExistingSecrets(t *testing.T) {
	ctx := context.Background()
	t.Run("an existing secret is reused", func(t *testing.T) {
		sm := newFakeSecrets()
		s := sm.put(adminName, "ActivatedClusterPassword1")
		out, err := passwordStep(sm).Handle(ctx, password.PasswordInput{SecretName: adminName})
		if err != nil || out != (password.PasswordOutput{SecretARN: s.arn}) || s.value != "ActivatedClusterPassword1" {
			t.Fatalf("%+v %v, value changed: %v", out, err, s.value != "ActivatedClusterPassword1")
		}
	})
	t.Run("a secret scheduled for deletion is refused", func(t *testing.T) {
		sm := newFakeSecrets()
		s := sm.put(adminName, "ActivatedClusterPassword1")
		s.deleted = aws.Time(testNow)
		_, err := passwordStep(sm).Handle(ctx, password.PasswordInput{SecretName: adminName})
		mustTerminal(t, err, "secret "+adminName+" is scheduled for deletion; restore it (RestoreSecret) or choose another name")
		if !reflect.DeepEqual(sm.calls, []string{"GetRandomPassword", "CreateSecret", "DescribeSecret"}) {
			t.Fatalf("calls = %v", sm.calls)
		}
	})
	// Another attempt created the secret but reads do not find it yet: CreateSecret refuses the
	// name (ResourceExistsException) and the step answers with that secret once it is readable,
	// retrying until then; the other attempt's password is kept.
	for _, tc := range []struct {
		hidden  int
		wantErr bool
	}{{0, false}, {1, true}} {
		sm := newFakeSecrets()
		s := sm.put(adminName, "OtherAttemptsPassword1")
		s.hidden = tc.hidden
		out, err := passwordStep(sm).Handle(ctx, password.PasswordInput{SecretName: adminName})
		if tc.wantErr {
			mustRetryable(t, err, "create secret "+adminName+": it already exists but cannot be described yet")
			if out.SecretARN != "" {
				t.Fatalf("answered an ARN without having read one: %+v", out)
			}
		} else if err != nil || out != (password.PasswordOutput{SecretARN: s.arn}) {
			t.Fatalf("hidden %d: %+v %v", tc.hidden, out, err)
		}
		if s.value != "OtherAttemptsPassword1" || len(sm.secrets) != 1 {
			t.Fatal("the other attempt's password was replaced")
		}
	}
}

func TestStorePasswordFailures(t *testing.T) {
	ctx := context.Background()
	_, err := passwordStep(newFakeSecrets()).Handle(ctx, password.PasswordInput{})
	mustTerminal(t, err, "store password: SecretName is empty")

	// A throttled CreateSecret is retried by the state machine; its error never holds the value.
	sm := newFakeSecrets()
	sm.inject("CreateSecret", throttled("Secrets Manager", "CreateSecret"))
	out, err := passwordStep(sm).Handle(ctx, password.PasswordInput{SecretName: adminName})
	if errType(err) != lambdaerr.NameRetryable || out.SecretARN != "" || len(sm.secrets) != 0 {
		t.Fatalf("throttled: %+v %v (%s)", out, err, errType(err))
	}
	if !strings.HasPrefix(err.Error(), "create secret "+adminName+": ") {
		t.Fatalf("err = %v", err)
	}

	// A refused CreateSecret creates nothing and fails for good, naming the call.
	sm = newFakeSecrets()
	sm.inject("CreateSecret", sdkError("Secrets Manager", "CreateSecret", 400, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}))
	_, err = passwordStep(sm).Handle(ctx, password.PasswordInput{SecretName: adminName})
	if errType(err) != lambdaerr.NameTerminal || !strings.HasPrefix(err.Error(), "create secret "+adminName+": ") || len(sm.calls) != 2 || len(sm.secrets) != 0 {
		t.Fatalf("err = %v, calls %v", err, sm.calls)
	}
}

// signStep signs with a customer CA kept by customerca.Store in the fake Secrets Manager, as
// lambdas/cluster-sign does.
func signStep(hsm *fakeCloudHSM, sm *fakeSecrets) *sign.SignCSR {
	return &sign.SignCSR{
		HSM: hsm,
		NewStore: func(keyName, certName string) sign.CAStore {
			return &customerca.Store{Secrets: sm, KeySecretName: keyName, CertSecretName: certName, KMSKeyID: "alias/strongroom-ca"}
		},
		Now: func() time.Time { return testNow },
	}
}

func signInput(id string, days int) sign.SignInput {
	return sign.SignInput{ClusterID: id, CAKeySecretName: caKeyName, CACertSecretName: caCertName, CAKeyType: "RSA_2048", CAValidityDays: days}
}

// uninitializedWithCSR is a cluster whose first HSM is ACTIVE: it has a CSR to sign.
func uninitializedWithCSR(hsm *fakeCloudHSM) *fakeCluster {
	c := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil)
	hsm.addHsm(c, azA, types.HsmStateActive)
	c.csr = clusterCSR()
	return c
}

// SignCSR creates the customer CA on first use, issues a certificate for the cluster CSR that
// chains to the CA (what InitializeCluster checks), and returns only public material and ARNs.
// A re-run reuses the stored CA.
func TestSignCSR(t *testing.T) {
	ctx := context.Background()
	hsm, sm := newFakeCloudHSM(), newFakeSecrets()
	c := uninitializedWithCSR(hsm)
	step := signStep(hsm, sm)
	out, err := step.Handle(ctx, signInput(c.id, 3652))
	if err != nil {
		t.Fatal(err)
	}
	key, cert := sm.byName(caKeyName), sm.byName(caCertName)
	if key == nil || cert == nil || key.kmsKey != "alias/strongroom-ca" {
		t.Fatalf("CA secrets: %+v %+v", key, cert)
	}
	if out.CAKeySecretARN != key.arn || out.CACertSecretARN != cert.arn || out.TrustAnchor != cert.value {
		t.Fatalf("out names %s, %s; want the stored secrets %s, %s and their certificate", out.CAKeySecretARN, out.CACertSecretARN, key.arn, cert.arn)
	}
	// Ten years of 3652 days from 2030-01-02 include two leap days.
	if out.NotAfter != "2040-01-02T03:04:05Z" {
		t.Fatalf("NotAfter = %s", out.NotAfter)
	}
	if err := customerca.Verify([]byte(out.SignedCert), []byte(clusterCSR()), []byte(out.TrustAnchor), testNow); err != nil {
		t.Fatalf("the certificate does not verify as InitializeCluster would: %v", err)
	}
	if b, _ := json.Marshal(out); strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), strings.TrimSpace(key.value)) {
		t.Fatal("the output carries the CA's private key")
	}
	// CloudHSM accepts it.
	if _, err := (&initialize.Initialize{HSM: hsm}).Handle(ctx, initialize.InitializeInput{ClusterID: c.id, SignedCert: out.SignedCert, TrustAnchor: out.TrustAnchor}); err != nil {
		t.Fatal(err)
	}

	hsm2 := newFakeCloudHSM()
	c2 := uninitializedWithCSR(hsm2)
	again, err := signStep(hsm2, sm).Handle(ctx, signInput(c2.id, 3652))
	if err != nil || again.TrustAnchor != out.TrustAnchor || again.CAKeySecretARN != key.arn || len(sm.secrets) != 2 {
		t.Fatalf("re-run: err %v, same anchor %v, %d secrets", err, again.TrustAnchor == out.TrustAnchor, len(sm.secrets))
	}
}

// The HSM certificate never outlives its CA.
func TestSignCSRCapsValidityAtTheCA(t *testing.T) {
	hsm, sm := newFakeCloudHSM(), newFakeSecrets()
	c := uninitializedWithCSR(hsm)
	out, err := signStep(hsm, sm).Handle(context.Background(), signInput(c.id, 30))
	if err != nil {
		t.Fatal(err)
	}
	if out.NotAfter != "2030-02-01T03:04:05Z" {
		t.Fatalf("NotAfter = %s; want the CA's", out.NotAfter)
	}
}

func TestSignCSRRefusals(t *testing.T) {
	ctx := context.Background()
	hsm, sm := newFakeCloudHSM(), newFakeSecrets()
	noCSR := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil)
	initialized := hsm.addCluster(types.ClusterStateInitialized, []string{subnetA, subnetB}, nil)
	step := signStep(hsm, sm)

	_, err := step.Handle(ctx, signInput(noCSR.id, 3652))
	mustRetryable(t, err, "sign CSR: cluster "+noCSR.id+" has no CSR yet (its first HSM is not ACTIVE)")
	_, err = step.Handle(ctx, signInput(initialized.id, 3652))
	mustTerminal(t, err, "sign CSR: cluster "+initialized.id+" is INITIALIZED; the CSR exists only while UNINITIALIZED")
	_, err = step.Handle(ctx, signInput("cluster-zzzzzzzzzzz", 3652))
	mustTerminal(t, err, "sign CSR: cluster cluster-zzzzzzzzzzz no longer exists")
	if len(sm.calls) != 0 {
		t.Fatalf("a CA was touched for a cluster that cannot be signed: %v", sm.calls)
	}

	// Another attempt stored the CA key, which cannot be read yet: retry rather than mint a
	// second CA.
	c := uninitializedWithCSR(hsm)
	other := sm.put(caKeyName, "-----BEGIN PRIVATE KEY-----\nother attempt\n-----END PRIVATE KEY-----\n")
	other.hidden = 2
	_, err = step.Handle(ctx, signInput(c.id, 3652))
	var re *lambdaerr.RetryableError
	if !errors.As(err, &re) || !errors.Is(err, customerca.ErrNotYetVisible) {
		t.Fatalf("err = %v; want a RetryableError wrapping ErrNotYetVisible", err)
	}
	if len(sm.secrets) != 1 {
		t.Fatalf("%d secrets; want only the other attempt's key", len(sm.secrets))
	}
}

// activateStep sends the activation document through runcommand.Send, as lambdas/cluster-activate
// does.
func activateStep(ssmc *fakeSSM, sm *fakeSecrets) *activate.Activate {
	return &activate.Activate{Send: &runcommand.Send{SSM: ssmc, Document: hsmdocs.ActivateCluster, TimeoutSeconds: 600}, Secrets: sm, Region: region}
}

// Activate sends the activation document with ids and secret ARNs as its parameters: the
// instance reads the password and the CA certificate itself, so SSM's command history never
// holds them.
func TestActivateSendsARNsNeverValues(t *testing.T) {
	sm, ssmc := newFakeSecrets(), newFakeSSM()
	const password = "Adm1nPasswordValue0123456789abcd"
	admin := sm.put(adminName, password)
	caCert := sm.put(caCertName, string(testCA().CertificatePEM()))
	in := activate.ActivateInput{ClusterID: "cluster-abcdefghijk", InstanceID: instance, HsmIP: "10.0.0.11",
		AdminPasswordSecretARN: admin.arn, CACertSecretName: caCertName}
	cmd, err := activateStep(ssmc, sm).Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ssmc.sent) != 1 {
		t.Fatalf("%d commands sent", len(ssmc.sent))
	}
	sent := ssmc.sent[0]
	if cmd != (runcommand.Command{CommandID: "0b7e6f1c-0000-4000-8000-000000000001", InstanceID: instance}) {
		t.Fatalf("cmd = %+v", cmd)
	}
	want := &ssm.SendCommandInput{
		DocumentName: aws.String(hsmdocs.ActivateCluster), InstanceIds: []string{instance}, TimeoutSeconds: aws.Int32(600),
		Comment: aws.String("Strongroom: activate cluster-abcdefghijk"),
		Parameters: map[string][]string{
			"ClusterId": {"cluster-abcdefghijk"}, "HsmIp": {"10.0.0.11"}, "Region": {region},
			"AdminPasswordSecretArn": {admin.arn}, "CustomerCaCertSecretArn": {caCert.arn},
		},
	}
	if !reflect.DeepEqual(sent, want) {
		t.Fatalf("SendCommand input =\n  %+v\nwant\n  %+v", sent, want)
	}
	for k, v := range sent.Parameters {
		if strings.Contains(v[0], password) || strings.Contains(v[0], "BEGIN CERTIFICATE") {
			t.Fatalf("parameter %s carries a secret value", k)
		}
	}
}

func TestActivateRefusals(t *testing.T) {
	const password = "Adm1nPasswordValue0123456789abcd"
	cases := []struct {
		name  string
		edit  func(*activate.ActivateInput, *fakeSecrets, *fakeSSM)
		check func(t *testing.T, err error)
	}{
		{"no ACTIVE HSM yet", func(in *activate.ActivateInput, _ *fakeSecrets, _ *fakeSSM) { in.HsmIP = "" }, func(t *testing.T, err error) {
			mustRetryable(t, err, "activate cluster cluster-abcdefghijk: no ACTIVE HSM has an IP yet")
		}},
		{"CA certificate secret missing", func(in *activate.ActivateInput, _ *fakeSecrets, _ *fakeSSM) {
			in.CACertSecretName = "strongroom/other/ca"
		},
			func(t *testing.T, err error) {
				mustTerminal(t, err, "activate cluster cluster-abcdefghijk: the customer CA certificate secret strongroom/other/ca does not exist; it is the trust anchor the cluster was initialized with")
			}},
		{"the password itself wired as the ARN", func(in *activate.ActivateInput, _ *fakeSecrets, _ *fakeSSM) { in.AdminPasswordSecretARN = password },
			func(t *testing.T, err error) {
				var te *lambdaerr.TerminalError
				if !errors.As(err, &te) || !strings.Contains(err.Error(), "AdminPasswordSecretArn") || strings.Contains(err.Error(), password) {
					t.Fatalf("err = %v; want a TerminalError naming the parameter without its value", err)
				}
			}},
		{"instance not managed by SSM", func(_ *activate.ActivateInput, _ *fakeSecrets, s *fakeSSM) { s.managed = nil }, func(t *testing.T, err error) {
			var te *lambdaerr.TerminalError
			if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "ClientInstanceId: instance "+instance+" is not managed by SSM") {
				t.Fatalf("err = %v", err)
			}
		}},
		{"describe throttled", func(_ *activate.ActivateInput, sm *fakeSecrets, _ *fakeSSM) {
			sm.inject("DescribeSecret", throttled("Secrets Manager", "DescribeSecret"))
		}, func(t *testing.T, err error) {
			if errType(err) != lambdaerr.NameRetryable {
				t.Fatalf("err = %v (%s)", err, errType(err))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sm, ssmc := newFakeSecrets(), newFakeSSM()
			admin := sm.put(adminName, password)
			sm.put(caCertName, string(testCA().CertificatePEM()))
			in := activate.ActivateInput{ClusterID: "cluster-abcdefghijk", InstanceID: instance, HsmIP: "10.0.0.11",
				AdminPasswordSecretARN: admin.arn, CACertSecretName: caCertName}
			tc.edit(&in, sm, ssmc)
			_, err := activateStep(ssmc, sm).Handle(context.Background(), in)
			tc.check(t, err)
			if len(ssmc.sent) != 0 {
				t.Fatal("a command was sent")
			}
		})
	}
}

// Report answers SUCCESS with the documented attributes: the cluster, its security group, the
// ACTIVE HSMs' IPs comma-separated, the two secret ARNs ("" when the secret does not exist), and
// the workflow execution; never a secret value.
func TestReport(t *testing.T) {
	const password = "Adm1nPasswordValue0123456789abcd"
	const execARN = "arn:aws:states:us-east-1:123456789012:execution:cluster-create:Create-req-1"
	spec := specOf(t, valid)
	for _, tc := range []struct {
		name        string
		withSecrets bool
	}{{"created by Strongroom", true}, {"adopted, no secrets", false}} {
		t.Run(tc.name, func(t *testing.T) {
			hsm, sm := newFakeCloudHSM(), newFakeSecrets()
			c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, nil)
			a := hsm.addHsm(c, azA, types.HsmStateActive)
			b := hsm.addHsm(c, azB, types.HsmStateActive)
			hsm.addHsm(c, azB, types.HsmStateDeleteInProgress)
			adminARN, caARN := "", ""
			if tc.withSecrets {
				adminARN = sm.put(adminName, password).arn
				caARN = sm.put(caCertName, string(testCA().CertificatePEM())).arn
			}
			out, err := (&report.Report{HSM: hsm, Secrets: sm}).Handle(context.Background(), report.ReportInput{ClusterID: c.id, Spec: spec, ExecutionARN: execARN})
			if err != nil {
				t.Fatal(err)
			}
			want := customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: c.id, Data: map[string]any{
				"ClusterId": c.id, "SecurityGroupId": c.securityGroup, "HsmIps": a.ip + "," + b.ip,
				"CustomerCaCertificateSecretArn": caARN, "AdminPasswordSecretArn": adminARN, "WorkflowExecutionArn": execARN,
			}}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("outcome =\n  %+v\nwant\n  %+v", out, want)
			}
			b2, _ := json.Marshal(out)
			if strings.Contains(string(b2), password) || strings.Contains(string(b2), "BEGIN CERTIFICATE") {
				t.Fatal("the outcome carries a secret value")
			}
			// The answer step can send it.
			if _, err := customresource.Build(&cfn.Event{RequestType: cfn.RequestCreate, RequestID: "req-1"}, out); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReportFailures(t *testing.T) {
	hsm, sm := newFakeCloudHSM(), newFakeSecrets()
	_, err := (&report.Report{HSM: hsm, Secrets: sm}).Handle(context.Background(), report.ReportInput{ClusterID: "cluster-zzzzzzzzzzz"})
	mustTerminal(t, err, "report: cluster cluster-zzzzzzzzzzz no longer exists")

	c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, nil)
	sm.inject("DescribeSecret", sdkError("Secrets Manager", "DescribeSecret", 400, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}))
	_, err = (&report.Report{HSM: hsm, Secrets: sm}).Handle(context.Background(), report.ReportInput{ClusterID: c.id, Spec: specOf(t, valid)})
	if errType(err) != lambdaerr.NameTerminal || !strings.HasPrefix(err.Error(), "describe secret "+caCertName+": ") {
		t.Fatalf("err = %v", err)
	}
}
