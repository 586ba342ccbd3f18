package clustertest_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestConnectedKeyStoreGuardsTheCluster puts a KMS custom key store on a cluster the resource
// made and connects it. While it is CONNECTED, a Delete and an update to one HSM are refused
// with a reason naming the store (the cluster keeps its HSMs); IgnoreConnectedKeyStores lets the
// update through; once the store is disconnected, a Delete goes ahead without it. Before the
// check, both answered SUCCESS and the store's keys became unusable.
func TestConnectedKeyStoreGuardsTheCluster(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	props := clustertest.Properties(2)
	out, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "create", out)
	id := out.PhysicalResourceID

	// A key store on it, as an operator would make one: kmsuser, the trust anchor, connect.
	secrets := sm.NewFromConfig(r.env.AWSConfig())
	read := func(arn string) string {
		v, err := secrets.GetSecretValue(r.ctx, &sm.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatalf("read %s: %v", arn, err)
		}
		return aws.ToString(v.SecretString)
	}
	admin := cloudhsm.Credentials{Role: "admin", User: "admin", Password: read(out.Data["AdminPasswordSecretArn"].(string))}
	if err := r.env.CloudHSM.CreateUser(id, admin, "kmsuser", cloudhsm.RoleCryptoUser, "kmsuser-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	kc := kms.NewFromConfig(r.env.AWSConfig())
	ks, err := kc.CreateCustomKeyStore(r.ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String("guarded"), CloudHsmClusterId: aws.String(id),
		TrustAnchorCertificate: aws.String(read(out.Data["CustomerCaCertificateSecretArn"].(string))),
		KeyStorePassword:       aws.String("kmsuser-Passw0rd"),
	})
	if err != nil {
		t.Fatal(err)
	}
	store := aws.ToString(ks.CustomKeyStoreId)
	if _, err := kc.ConnectCustomKeyStore(r.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: ks.CustomKeyStoreId}); err != nil {
		t.Fatal(err)
	}
	waitState := func(want kmstypes.ConnectionStateType) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			d, err := kc.DescribeCustomKeyStores(r.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: ks.CustomKeyStoreId})
			if err != nil {
				t.Fatal(err)
			}
			if st := d.CustomKeyStores[0].ConnectionState; st == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("key store %s is %s; want %s", store, st, want)
			}
		}
	}
	waitState(kmstypes.ConnectionStateTypeConnected)

	refused := func(what string, o *cloudformation.Outcome) {
		t.Helper()
		if o.Status != cloudformation.StatusFailed || !strings.Contains(o.Reason, store) || !strings.Contains(o.Reason, "IgnoreConnectedKeyStores") {
			t.Errorf("%s while %s is CONNECTED answered %s %q; want FAILED naming the store and the override", what, store, o.Status, o.Reason)
		}
		if c := r.cluster(t, id); string(c.State) != "ACTIVE" || len(c.Hsms) != 2 {
			t.Errorf("after the refused %s the cluster is %s with %d HSMs; want ACTIVE with 2", what, c.State, len(c.Hsms))
		}
	}
	one := clustertest.Properties(1)
	up, err := r.dep.Update(r.ctx, "Cluster", id, props, one)
	if err != nil {
		t.Fatal(err)
	}
	refused("an update to 1 HSM", up)
	del, err := r.dep.Delete(r.ctx, "Cluster", id, props)
	if err != nil {
		t.Fatal(err)
	}
	refused("a delete", del)

	// The explicit override lets the scale-down through.
	forced := maps.Clone(one)
	forced["IgnoreConnectedKeyStores"] = "true"
	up, err = r.dep.Update(r.ctx, "Cluster", id, props, forced)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "update to 1 HSM with IgnoreConnectedKeyStores", up)

	// A disconnected store does not hold the cluster: the Delete goes ahead without the override.
	if _, err := kc.DisconnectCustomKeyStore(r.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: ks.CustomKeyStoreId}); err != nil {
		t.Fatal(err)
	}
	waitState(kmstypes.ConnectionStateTypeDisconnected)
	del, err = r.dep.Delete(r.ctx, "Cluster", id, one)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete with the store disconnected", del)
}
