package keystoretest_test

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// TestKeyStoreLifecycle drives one store through everything a stack does to it, through the
// CloudFormation driver: Create (CONNECTED), rename in place (still CONNECTED), a password
// rotation, then Delete in all four combinations of DeleteKeyStoreOnStackDeletion and keys in the
// store (kept, kept, kept with keys, deleted with kmsuser), and scans everything recorded for
// every secret value issued.
func TestKeyStoreLifecycle(t *testing.T) {
	r := newRig(t, keystoretest.Options{}, 2)
	sm := secretsmanager.NewFromConfig(r.env.AWSConfig())
	props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-e2e", false)
	out, err := r.dep.Create(r.ctx, "KeyStore", props)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "create", cloudformation.StatusSuccess, out)
	id := out.PhysicalResourceID
	if !strings.HasPrefix(id, "cks-") {
		t.Fatalf("PhysicalResourceId = %q; want the key store id", id)
	}
	want := map[string]any{"CustomKeyStoreId": id, "KeyStoreName": "strongroom-e2e", "ClusterId": r.cluster.ID, "KmsUserPasswordSecretName": r.dep.SecretName("KeyStore")}
	if !maps.Equal(out.Data, want) {
		t.Errorf("Data = %v; want %v", out.Data, want)
	}
	s := r.store(t, id)
	if s.ConnectionState != kmstypes.ConnectionStateTypeConnected || aws.ToString(s.CloudHsmClusterId) != r.cluster.ID || aws.ToString(s.CustomKeyStoreName) != "strongroom-e2e" {
		t.Fatalf("after create: %s on %s named %s; want CONNECTED on %s", s.ConnectionState, aws.ToString(s.CloudHsmClusterId), aws.ToString(s.CustomKeyStoreName), r.cluster.ID)
	}
	if !r.kmsUser(t) {
		t.Error("after create the cluster has no kmsuser")
	}
	var issued []string
	read := func(stage string) {
		v, err := sm.GetSecretValue(r.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.dep.SecretName("KeyStore")), VersionStage: aws.String(stage)})
		if err != nil {
			t.Fatalf("read the kmsuser password (%s): %v", stage, err)
		}
		pw := aws.ToString(v.SecretString)
		if len(pw) < 8 || len(pw) > 32 || strings.Trim(pw, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			t.Errorf("the kmsuser password is not 8-32 letters and digits (length %d)", len(pw))
		}
		issued = append(issued, pw)
	}
	read("AWSCURRENT")

	// Rename in place: KMS allows it while CONNECTED, so the store stays usable.
	old := props
	props = maps.Clone(old)
	props["KeyStoreName"] = "strongroom-e2e-renamed"
	up, err := r.dep.Update(r.ctx, "KeyStore", id, old, props)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "rename", cloudformation.StatusSuccess, up)
	if up.PhysicalResourceID != id || up.Data["KeyStoreName"] != "strongroom-e2e-renamed" {
		t.Errorf("rename answered %s with Data %v", up.PhysicalResourceID, up.Data)
	}
	if s := r.store(t, id); aws.ToString(s.CustomKeyStoreName) != "strongroom-e2e-renamed" || s.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		t.Errorf("after rename: %q %s; want the new name, CONNECTED", aws.ToString(s.CustomKeyStoreName), s.ConnectionState)
	}
	if n := r.env.Recorder.Count("kms", "DisconnectCustomKeyStore"); n != 0 {
		t.Errorf("the rename disconnected the store %d times; want none", n)
	}
	// A change of anything else is refused, naming the property.
	bad := maps.Clone(props)
	bad["ClientInstanceId"] = "i-0fffffffffffffff0"
	refused, err := r.dep.Update(r.ctx, "KeyStore", id, props, bad)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Status != cloudformation.StatusFailed || !strings.Contains(refused.Reason, "ClientInstanceId") {
		t.Errorf("a ClientInstanceId change answered %s %q; want FAILED naming ClientInstanceId", refused.Status, refused.Reason)
	}

	// Rotate the kmsuser password: disconnect, change on the HSM, tell KMS, reconnect.
	status, output, cause, err := r.dep.Rotate(r.ctx, id, props)
	if err != nil {
		t.Fatal(err)
	}
	if status != "SUCCEEDED" || !strings.Contains(output, `"State":"CONNECTED"`) {
		t.Fatalf("rotation ended %s: %s %s", status, output, cause)
	}
	read("AWSCURRENT")
	if issued[0] == issued[1] {
		t.Error("the rotation left the kmsuser password unchanged")
	}
	if n := r.env.Recorder.Count("kms", "UpdateCustomKeyStore"); n != 2 {
		t.Errorf("%d UpdateCustomKeyStore calls; want 2 (the rename, the new password)", n)
	}

	// Delete, DeleteKeyStoreOnStackDeletion false, no keys: kept, disconnected, kmsuser kept.
	del := func(deleteStore bool, wantText string) {
		t.Helper()
		p := maps.Clone(props)
		p["DeleteKeyStoreOnStackDeletion"] = map[bool]string{true: "true", false: "false"}[deleteStore]
		o, err := r.dep.Delete(r.ctx, "KeyStore", id, p)
		if err != nil {
			t.Fatal(err)
		}
		requireStatus(t, "delete", cloudformation.StatusSuccess, o)
		if !strings.Contains(answerReason(o), wantText) {
			t.Errorf("delete (DeleteKeyStoreOnStackDeletion %v) Reason %q; want it to say %q", deleteStore, answerReason(o), wantText)
		}
	}
	del(false, "DeleteKeyStoreOnStackDeletion is false")
	if s := r.store(t, id); s == nil || s.ConnectionState != kmstypes.ConnectionStateTypeDisconnected || !r.kmsUser(t) {
		t.Fatalf("after a keeping delete: store %+v, kmsuser %v; want it DISCONNECTED with kmsuser", s, r.kmsUser(t))
	}

	// An operator reconnects it and uses it: a KMS key in the HSMs encrypts and decrypts.
	if _, err := r.kms.ConnectCustomKeyStore(r.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	r.waitStore(t, id, kmstypes.ConnectionStateTypeConnected)
	key, err := r.kms.CreateKey(r.ctx, &kms.CreateKeyInput{Origin: kmstypes.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(id)})
	if err != nil {
		t.Fatalf("create a key in the store: %v", err)
	}
	enc, err := r.kms.Encrypt(r.ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("strongroom")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := r.kms.Decrypt(r.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "strongroom" {
		t.Fatalf("decrypt: %v", err)
	}

	del(false, "DeleteKeyStoreOnStackDeletion is false")
	del(true, "still holds KMS keys")
	if s := r.store(t, id); s == nil || s.ConnectionState != kmstypes.ConnectionStateTypeDisconnected || !r.kmsUser(t) {
		t.Fatalf("after a delete of a store with keys: %+v, kmsuser %v; want it kept DISCONNECTED with kmsuser", s, r.kmsUser(t))
	}

	// The key's deletion window passes (7 days, run fast), then the store can go.
	if _, err := r.kms.ScheduleKeyDeletion(r.ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	r.env.Clock.SetScale(1e7)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := r.kms.DescribeKey(r.ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})
		var nf *kmstypes.NotFoundException
		if errors.As(err, &nf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key was not deleted after its window: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.env.Clock.SetScale(scale)
	del(true, "was deleted")
	if s := r.store(t, id); s != nil {
		t.Errorf("after the deleting delete the store is still %s", s.ConnectionState)
	}
	if r.kmsUser(t) {
		t.Error("after the store was deleted kmsuser remains")
	}
	_, err = sm.DescribeSecret(r.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.dep.SecretName("KeyStore"))})
	var snf *smtypes.ResourceNotFoundException
	if !errors.As(err, &snf) {
		t.Errorf("the kmsuser password secret outlived the store: %v", err)
	}
	r.env.CheckNoSecrets(t, issued...)
}
