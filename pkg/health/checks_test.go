package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/health/clustercheck"
	"github.com/strongroom/strongroom/pkg/health/storecheck"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// activeCluster takes a sandbox cluster to ACTIVE with an HSM in each of zones (the runbook, with
// activation done by the sandbox's CloudHSM directly) and stores the CA certificate in caSecret.
func activeCluster(t *testing.T, ctx context.Context, env *sandboxtest.Env, caSecret string, zones ...string) (id, caPEM, adminPW string) {
	t.Helper()
	cfg := env.AWSConfig()
	hsm := cloudhsmv2.NewFromConfig(cfg)
	cc, err := hsm.CreateCluster(ctx, &cloudhsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:]})
	if err != nil {
		t.Fatal(err)
	}
	id = aws.ToString(cc.Cluster.ClusterId)
	wait := func(what string, ok func(hsmtypes.Cluster) bool) hsmtypes.Cluster {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			out, err := hsm.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Clusters) == 1 && ok(out.Clusters[0]) {
				return out.Clusters[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster %s: timed out waiting for %s", id, what)
			}
		}
	}
	wait("UNINITIALIZED", func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateUninitialized })
	if _, err := hsm.CreateHsm(ctx, &cloudhsmv2.CreateHsmInput{ClusterId: aws.String(id), AvailabilityZone: aws.String(zones[0])}); err != nil {
		t.Fatal(err)
	}
	c := wait("the CSR", func(c hsmtypes.Cluster) bool {
		return c.Certificates != nil && aws.ToString(c.Certificates.ClusterCsr) != ""
	})
	key, err := customerca.NewKey(customerca.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := customerca.NewCA(key, customerca.Options{Validity: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ca.Issue([]byte(aws.ToString(c.Certificates.ClusterCsr)), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caPEM = string(ca.CertificatePEM())
	if _, err := hsm.InitializeCluster(ctx, &cloudhsmv2.InitializeClusterInput{ClusterId: aws.String(id), SignedCert: aws.String(string(signed)), TrustAnchor: aws.String(caPEM)}); err != nil {
		t.Fatal(err)
	}
	wait("INITIALIZED", func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateInitialized })
	adminPW = "Adm1nPassw0rdForHealthTests"
	if err := env.CloudHSM.Activate(id, caPEM, adminPW); err != nil {
		t.Fatal(err)
	}
	for _, z := range zones[1:] {
		if _, err := hsm.CreateHsm(ctx, &cloudhsmv2.CreateHsmInput{ClusterId: aws.String(id), AvailabilityZone: aws.String(z)}); err != nil {
			t.Fatal(err)
		}
	}
	wait("ACTIVE HSMs", func(c hsmtypes.Cluster) bool {
		n := 0
		for _, h := range c.Hsms {
			if h.State == hsmtypes.HsmStateActive {
				n++
			}
		}
		return c.State == hsmtypes.ClusterStateActive && n == len(zones)
	})
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(caSecret), SecretString: aws.String(caPEM)}); err != nil {
		t.Fatal(err)
	}
	return id, caPEM, adminPW
}

// byCondition indexes findings, failing on a condition reported twice or a finding that is not valid.
func byCondition(t *testing.T, fs []health.Finding) map[string]health.Finding {
	t.Helper()
	out := map[string]health.Finding{}
	for _, f := range fs {
		if err := f.Validate(); err != nil {
			t.Errorf("finding %+v: %v", f, err)
		}
		if _, dup := out[f.Condition]; dup {
			t.Errorf("condition %s reported twice", f.Condition)
		}
		out[f.Condition] = f
	}
	return out
}

func wantStatus(t *testing.T, got map[string]health.Finding, condition string, status health.Status, severity string, words ...string) {
	t.Helper()
	f, ok := got[condition]
	if !ok {
		t.Errorf("no %s finding among %v", condition, keys(got))
		return
	}
	if f.Status != status || f.Severity != severity {
		t.Errorf("%s: %s/%q (%s); want %s/%q", condition, f.Status, f.Severity, f.Summary, status, severity)
	}
	for _, w := range words {
		if !strings.Contains(f.Summary+" "+f.Fix, w) {
			t.Errorf("%s: %q / %q does not say %q", condition, f.Summary, f.Fix, w)
		}
	}
}

func keys(m map[string]health.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestClusterCheck judges each cluster condition against the sandbox's CloudHSM over the wire: a
// healthy two-zone cluster, then one HSM lost, a DEGRADED cluster, a backup and the certificates
// grown old (by checking later), and a cluster deleted outside its stack.
func TestClusterCheck(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(3600))
	ctx := sandboxtest.Context(t, 2*time.Minute)
	cfg := env.AWSConfig()
	hsm, sm := cloudhsmv2.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	const caSecret = "strongroom/Health/Cluster/customer-ca/certificate"
	id, _, _ := activeCluster(t, ctx, env, caSecret, "us-east-1a", "us-east-1b")
	target := clustercheck.Target{ClusterID: id, HsmCount: 2, CACertSecret: caSecret}
	now := env.Clock.Now()

	healthy, err := clustercheck.Check(ctx, hsm, sm, target, now)
	if err != nil {
		t.Fatal(err)
	}
	got := byCondition(t, healthy)
	for _, c := range []string{health.ClusterState, health.ClusterHsms, health.ClusterZones, health.BackupAge,
		health.CertificateExpiry + "/customer-ca", health.CertificateExpiry + "/cluster", health.CertificateExpiry + "/hsm"} {
		wantStatus(t, got, c, health.OK, "")
	}

	// Eleven months and three weeks on: the backups are old and the CA and cluster certificates
	// (activeCluster's CA: one year) expire within 30 days.
	later, err := clustercheck.Check(ctx, hsm, sm, target, now.Add(355*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got = byCondition(t, later)
	wantStatus(t, got, health.BackupAge, health.Alarm, health.Warning, "hours ago", "bound is 36")
	wantStatus(t, got, health.CertificateExpiry+"/customer-ca", health.Alarm, health.Warning, "expires at", caSecret)
	expired := byCondition(t, must(clustercheck.Check(ctx, hsm, sm, target, now.Add(400*24*time.Hour))))
	wantStatus(t, expired, health.CertificateExpiry+"/customer-ca", health.Alarm, health.Critical, "expired at")

	// HsmCount 3 declared, two ACTIVE: a warning; one HSM lost: critical, and one zone.
	got = byCondition(t, must(clustercheck.Check(ctx, hsm, sm, clustercheck.Target{ClusterID: id, HsmCount: 3, CACertSecret: caSecret}, now)))
	wantStatus(t, got, health.ClusterHsms, health.Alarm, health.Warning, "2 ACTIVE HSMs of the 3")
	info, err := env.CloudHSM.Cluster(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.CloudHSM.DeleteHsmOutOfBand(id, info.Hsms[1].ID); err != nil {
		t.Fatal(err)
	}
	got = byCondition(t, must(clustercheck.Check(ctx, hsm, sm, target, now)))
	wantStatus(t, got, health.ClusterHsms, health.Alarm, health.Critical, "1 ACTIVE HSMs of the 2")
	wantStatus(t, got, health.ClusterZones, health.Alarm, health.Warning, "1 zone(s)")

	// A change under way is not judged: no cluster-state finding while UPDATE_IN_PROGRESS.
	if err := env.CloudHSM.ForceState(id, cloudhsm.StateUpdateInProgress); err != nil {
		t.Fatal(err)
	}
	if got := byCondition(t, must(clustercheck.Check(ctx, hsm, sm, target, now))); got[health.ClusterState].Condition != "" {
		t.Errorf("cluster-state while UPDATE_IN_PROGRESS: %+v; want none", got[health.ClusterState])
	}
	if err := env.CloudHSM.InjectDegraded(id, info.Hsms[0].ID); err != nil {
		t.Fatal(err)
	}
	got = byCondition(t, must(clustercheck.Check(ctx, hsm, sm, target, now)))
	wantStatus(t, got, health.ClusterState, health.Alarm, health.Critical, "DEGRADED", "One or more HSMs in the cluster are degraded.")
	wantStatus(t, got, health.ClusterHsms, health.Alarm, health.Critical, "0 ACTIVE HSMs")

	// Deleted outside the stack: one finding, critical.
	got = byCondition(t, must(clustercheck.Check(ctx, hsm, sm, clustercheck.Target{ClusterID: "cluster-aaaaaaaaaaa", HsmCount: 2}, now)))
	if len(got) != 1 {
		t.Errorf("findings for a missing cluster: %v; want cluster-state only", keys(got))
	}
	wantStatus(t, got, health.ClusterState, health.Alarm, health.Critical, "lists no cluster", "DeleteCluster")
}

func must(fs []health.Finding, err error) []health.Finding {
	if err != nil {
		panic(err)
	}
	return fs
}

// TestKeyStoreCheck judges a real sandbox key store through its states: CONNECTED, DISCONNECTED
// (an operator's disconnect), FAILED (with the code's fix from pkg/keystore), and gone.
func TestKeyStoreCheck(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(3600))
	ctx := sandboxtest.Context(t, 2*time.Minute)
	cfg := env.AWSConfig()
	const caSecret = "strongroom/Health/Store/customer-ca/certificate"
	id, caPEM, adminPW := activeCluster(t, ctx, env, caSecret, "us-east-1a", "us-east-1b")
	kmsuserPW := "KmsUserPassw0rdForHealthTests"
	if err := env.CloudHSM.CreateUser(id, cloudhsm.Credentials{Role: cloudhsm.RoleAdmin, User: "admin", Password: adminPW}, "kmsuser", cloudhsm.RoleCryptoUser, kmsuserPW); err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(cfg)
	cs, err := k.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("health"), CloudHsmClusterId: aws.String(id),
		TrustAnchorCertificate: aws.String(caPEM), KeyStorePassword: aws.String(kmsuserPW)})
	if err != nil {
		t.Fatal(err)
	}
	store := aws.ToString(cs.CustomKeyStoreId)
	state := func() string {
		out, err := k.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(store)})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.CustomKeyStores[0].ConnectionState)
	}
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); state() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("store %s: still %s, want %s", store, state(), want)
			}
		}
	}
	check := func() map[string]health.Finding {
		t.Helper()
		fs, err := storecheck.Check(ctx, k, store, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return byCondition(t, fs)
	}
	wantStatus(t, check(), health.KeyStoreConnection, health.Alarm, health.Critical, "DISCONNECTED", "connect-custom-key-store")
	if _, err := k.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)}); err != nil {
		t.Fatal(err)
	}
	if state() == "CONNECTING" {
		if got := check(); len(got) != 0 {
			t.Errorf("findings while CONNECTING: %v; want none", keys(got))
		}
	}
	waitFor("CONNECTED")
	wantStatus(t, check(), health.KeyStoreConnection, health.OK, "", "CONNECTED", id)

	if _, err := k.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)}); err != nil {
		t.Fatal(err)
	}
	waitFor("DISCONNECTED")
	wantStatus(t, check(), health.KeyStoreConnection, health.Alarm, health.Critical, "DISCONNECTED", "every key in it is unusable")

	if err := env.KMS.FailNextConnect(store, "USER_LOCKED_OUT"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)}); err != nil {
		t.Fatal(err)
	}
	waitFor("FAILED")
	wantStatus(t, check(), health.KeyStoreConnection, health.Alarm, health.Critical, "failed to connect", "USER_LOCKED_OUT", "Fix:")

	// A store a failed Create left is the rollback's: nothing to report.
	if fs, err := storecheck.Check(ctx, k, store+"/failed-create", env.Clock.Now()); err != nil || len(fs) != 0 {
		t.Errorf("failed-create store: %v, %v; want no findings", fs, err)
	}
	if _, err := k.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)}); err != nil {
		t.Fatal(err)
	}
	waitFor("DISCONNECTED")
	if _, err := k.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, check(), health.KeyStoreConnection, health.Alarm, health.Critical, "KMS has no key store", "DeleteCustomKeyStore")
}

// TestStepSendsFindings runs the cluster-health step as its Lambda does, with the rule's input,
// and reads the events EventBridge matched to a rule on the health source.
func TestStepSendsFindings(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(3600))
	ctx := sandboxtest.Context(t, 2*time.Minute)
	cfg := env.AWSConfig()
	const caSecret = "strongroom/Health/Step/customer-ca/certificate"
	id, _, _ := activeCluster(t, ctx, env, caSecret, "us-east-1a")
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("health"),
		EventPattern: aws.String(fmt.Sprintf(`{"source":[%q],"detail-type":[%q]}`, health.Source, health.DetailType))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("health"), Targets: []ebtypes.Target{
		{Id: aws.String("queue"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:health")}}}); err != nil {
		t.Fatal(err)
	}
	step := &clustercheck.Step{HSM: cloudhsmv2.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg), Events: eb, Now: env.Clock.Now}
	props := map[string]any{"SubnetIds": []any{ec2.DefaultSubnetIDs[0], ec2.DefaultSubnetIDs[1]}, "HsmCount": "2", "ClientInstanceId": "i-0123456789abcdef0",
		"AdminPasswordSecretName": "strongroom/Health/Step/admin-password", "CustomerCaKeySecretName": "strongroom/Health/Step/customer-ca/private-key",
		"CustomerCaCertificateSecretName": caSecret}
	report, err := step.Handle(ctx, health.Input{ResourceID: id, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	var events []health.Finding
	for _, d := range env.Events.Deliveries() {
		var env struct {
			Source     string          `json:"source"`
			DetailType string          `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(d.Payload, &env); err != nil {
			t.Fatalf("delivery %q: %v", d.Payload, err)
		}
		f, err := health.Parse(env.Detail)
		if err != nil {
			t.Errorf("event detail %s: %v", env.Detail, err)
		}
		events = append(events, f)
	}
	if len(events) != report.Sent || report.Sent < 6 {
		t.Fatalf("%d events matched the rule, the step says it sent %d; want the same, at least 6", len(events), report.Sent)
	}
	got := byCondition(t, events)
	wantStatus(t, got, health.ClusterHsms, health.Alarm, health.Critical, "1 ACTIVE HSMs of the 2")
	wantStatus(t, got, health.ClusterZones, health.Alarm, health.Warning)
	if len(report.Alarms) != 2 {
		t.Errorf("report alarms %v; want the HSM count and the zones", report.Alarms)
	}
	if _, err := step.Handle(ctx, health.Input{Properties: props}); err == nil || !strings.Contains(err.Error(), "ResourceId") {
		t.Errorf("no ResourceId: %v; want an error naming it", err)
	}
	delete(props, "HsmCount")
	props["HsmCount"] = "many"
	if _, err := step.Handle(ctx, health.Input{ResourceID: id, Properties: props}); err == nil || !strings.Contains(err.Error(), "HsmCount") {
		t.Errorf("bad HsmCount: %v; want an error naming it", err)
	}
}
