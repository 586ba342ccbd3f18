package kms_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestRunbook is the whole journey over the wire: cluster, HSM, CSR, signing, initialization,
// activation through SSM, a second HSM, kmsuser, key store create/connect, a key in the store,
// encryption, disconnect, deletion of everything.
func TestRunbook(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.activeCluster(t, "runbook", 1, false)

	// One HSM is not enough for a key store.
	_, err := e.kmsc.CreateCustomKeyStore(ctx, &awskms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String("strongroom"), CloudHsmClusterId: &f.clusterID,
		TrustAnchorCertificate: aws.String(string(f.ca.CertificatePEM())), KeyStorePassword: aws.String(userPW),
	})
	if msg := sandboxtest.WantCode(t, err, "CloudHsmClusterInvalidConfigurationException"); !strings.Contains(msg, "two active HSMs") {
		t.Fatalf("message: %q", msg)
	}
	e.addHsm(t, f.clusterID, "us-east-1b")
	e.waitCluster(t, f.clusterID, "two ACTIVE HSMs", activeHsms(2))

	otherCA := sandboxtest.CustomerCA(t)
	refusals := []struct {
		name string
		in   awskms.CreateCustomKeyStoreInput
		code string
	}{
		{"wrong trust anchor", awskms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("s"), CloudHsmClusterId: &f.clusterID, TrustAnchorCertificate: aws.String(string(otherCA.CertificatePEM())), KeyStorePassword: aws.String(userPW)}, "IncorrectTrustAnchorException"},
		{"unknown cluster", awskms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("s"), CloudHsmClusterId: aws.String("cluster-nosuchcluste"), TrustAnchorCertificate: aws.String(string(f.ca.CertificatePEM())), KeyStorePassword: aws.String(userPW)}, "CloudHsmClusterNotFoundException"},
		{"short password", awskms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("s"), CloudHsmClusterId: &f.clusterID, TrustAnchorCertificate: aws.String(string(f.ca.CertificatePEM())), KeyStorePassword: aws.String("123456")}, "ValidationException"},
	}
	for _, r := range refusals {
		t.Run("create refused: "+r.name, func(t *testing.T) {
			_, err := e.kmsc.CreateCustomKeyStore(ctx, &r.in)
			sandboxtest.WantCode(t, err, r.code)
		})
	}

	storeID := e.createStore(t, f, "strongroom", userPW)
	if again := e.createStore(t, f, "strongroom", userPW); again != storeID {
		t.Fatalf("identical create returned %s, want the existing %s", again, storeID)
	}
	_, err = e.kmsc.CreateCustomKeyStore(ctx, &awskms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String("second"), CloudHsmClusterId: &f.clusterID,
		TrustAnchorCertificate: aws.String(string(f.ca.CertificatePEM())), KeyStorePassword: aws.String(userPW),
	})
	sandboxtest.WantCode(t, err, "CloudHsmClusterInUseException")
	s := e.store(t, storeID)
	if s.ConnectionState != kmstypes.ConnectionStateTypeDisconnected || *s.CloudHsmClusterId != f.clusterID || s.CustomKeyStoreType != kmstypes.CustomKeyStoreTypeAwsCloudhsm || s.ConnectionErrorCode != "" {
		t.Fatalf("new store: %+v", s)
	}

	// No kmsuser yet: the connect fails, and a FAILED store must be disconnected first.
	if s := e.connect(t, storeID); s.ConnectionState != kmstypes.ConnectionStateTypeFailed || s.ConnectionErrorCode != kmstypes.ConnectionErrorCodeTypeUserNotFound {
		t.Fatalf("connect without kmsuser: %s %s", s.ConnectionState, s.ConnectionErrorCode)
	}
	_, err = e.kmsc.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: &storeID})
	sandboxtest.WantCode(t, err, "CustomKeyStoreInvalidStateException")
	e.disconnect(t, storeID)

	e.createKMSUser(t, f, f.userARN)
	if s := e.connect(t, storeID); s.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		t.Fatalf("connect: %s %s", s.ConnectionState, s.ConnectionErrorCode)
	}
	// KMS rotated kmsuser's password and stays logged in.
	if err := e.hsm.Login(f.clusterID, cloudhsm.Credentials{User: "kmsuser", Password: userPW}); !errors.Is(err, cloudhsm.ErrInvalidCredentials) {
		t.Fatalf("the operator's kmsuser password still works after connect: %v", err)
	}
	users, _ := e.hsm.Users(f.clusterID)
	if !users[2].LoggedIn {
		t.Fatalf("kmsuser not logged in while connected: %+v", users)
	}

	// Only the name may change while connected.
	if _, err := e.kmsc.UpdateCustomKeyStore(ctx, &awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: &storeID, NewCustomKeyStoreName: aws.String("strongroom-renamed")}); err != nil {
		t.Fatalf("rename while connected: %v", err)
	}
	_, err = e.kmsc.UpdateCustomKeyStore(ctx, &awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: &storeID, KeyStorePassword: aws.String("An0therPassword")})
	sandboxtest.WantCode(t, err, "CustomKeyStoreInvalidStateException")
	byName, err := e.kmsc.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("strongroom-renamed")})
	if err != nil || len(byName.CustomKeyStores) != 1 {
		t.Fatalf("describe by new name: %v", err)
	}

	// A key in the store, and real encryption with it.
	created, err := e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{Origin: kmstypes.OriginTypeAwsCloudhsm, CustomKeyStoreId: &storeID, Description: aws.String("in the HSMs")})
	if err != nil {
		t.Fatalf("CreateKey in store: %v", err)
	}
	md := created.KeyMetadata
	if md.KeyState != kmstypes.KeyStateEnabled || *md.CustomKeyStoreId != storeID || *md.CloudHsmClusterId != f.clusterID || md.Origin != kmstypes.OriginTypeAwsCloudhsm {
		t.Fatalf("key metadata: %+v", md)
	}
	msg := []byte("attack at dawn")
	encCtx := map[string]string{"purpose": "runbook"}
	enc, err := e.kmsc.Encrypt(ctx, &awskms.EncryptInput{KeyId: md.KeyId, Plaintext: msg, EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if bytes.Contains(enc.CiphertextBlob, msg) {
		t.Fatal("ciphertext contains the plaintext")
	}
	dec, err := e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || !bytes.Equal(dec.Plaintext, msg) || *dec.KeyId != *md.Arn {
		t.Fatalf("Decrypt: %v", err)
	}
	_, err = e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	sandboxtest.WantCode(t, err, "InvalidCiphertextException")
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: encCtx})
	sandboxtest.WantCode(t, err, "InvalidCiphertextException")
	dk, err := e.kmsc.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: kmstypes.DataKeySpecAes256})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	dkBack, err := e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyId: md.KeyId})
	if err != nil || !bytes.Equal(dkBack.Plaintext, dk.Plaintext) {
		t.Fatalf("decrypt data key: %v", err)
	}

	// Deleting a connected store is refused; disconnected, its keys are unavailable.
	_, err = e.kmsc.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: &storeID})
	sandboxtest.WantCode(t, err, "CustomKeyStoreInvalidStateException")
	e.disconnect(t, storeID)
	desc, _ := e.kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: md.KeyId})
	if desc.KeyMetadata.KeyState != kmstypes.KeyStateUnavailable {
		t.Fatalf("key state while disconnected: %s", desc.KeyMetadata.KeyState)
	}
	_, err = e.kmsc.Encrypt(ctx, &awskms.EncryptInput{KeyId: md.KeyId, Plaintext: msg})
	sandboxtest.WantCode(t, err, "KMSInvalidStateException")
	_, err = e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{Origin: kmstypes.OriginTypeAwsCloudhsm, CustomKeyStoreId: &storeID})
	sandboxtest.WantCode(t, err, "CustomKeyStoreInvalidStateException")
	_, err = e.kmsc.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: &storeID})
	sandboxtest.WantCode(t, err, "CustomKeyStoreHasCMKsException")

	// Reconnecting works with the password KMS rotated to; old ciphertext still decrypts.
	if s := e.connect(t, storeID); s.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		t.Fatalf("reconnect: %s %s", s.ConnectionState, s.ConnectionErrorCode)
	}
	if dec, err := e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx}); err != nil || !bytes.Equal(dec.Plaintext, msg) {
		t.Fatalf("decrypt after reconnect: %v", err)
	}
	// kmsuser owns the key and is logged in: the delete-user document fails.
	del := map[string]string{"UserName": "kmsuser"}
	for k, v := range f.params {
		del[k] = v
	}
	if inv := e.runDoc(t, hsmdocs.DeleteCryptoUser, del); inv.Status != ssmtypes.CommandInvocationStatusFailed {
		t.Fatalf("deleting kmsuser while it owns keys: %s", inv.Status)
	}
	e.disconnect(t, storeID)

	// Key deletion takes 7 days at least: run the clock fast for it.
	e.srv.Clock.SetScale(1e8)
	sched, err := e.kmsc.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil || sched.KeyState != kmstypes.KeyStatePendingDeletion || *sched.PendingWindowInDays != 7 {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	poll(t, "key deleted", func() bool {
		_, err := e.kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: md.KeyId})
		return err != nil
	})
	e.srv.Clock.SetScale(scale)
	_, err = e.kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: md.KeyId})
	sandboxtest.WantCode(t, err, "NotFoundException")
	if _, err := e.kmsc.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: &storeID}); err != nil {
		t.Fatalf("DeleteCustomKeyStore: %v", err)
	}
	_, err = e.kmsc.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreId: &storeID})
	sandboxtest.WantCode(t, err, "CustomKeyStoreNotFoundException")
	if inv := e.runDoc(t, hsmdocs.DeleteCryptoUser, del); inv.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("delete kmsuser: %s %s", inv.Status, aws.ToString(inv.StandardErrorContent))
	}

	// Tear down: HSMs, then the cluster.
	e.deleteCluster(t, f.clusterID)

	// Secrets: no password appears anywhere outside the channels meant for them (Secrets
	// Manager's values, KMS's KeyStorePassword).
	rotated := e.kms.SecretValues()
	if len(rotated) != 2 { // two successful connects
		t.Fatalf("KMS generated %d kmsuser passwords, want 2", len(rotated))
	}
	if leaks := e.srv.Recorder.ScanExcept(sandbox.SecretChannels, append(rotated, adminPW, userPW)...); len(leaks) > 0 {
		t.Fatalf("passwords leaked: %v", leaks)
	}
}

// TestConnectionErrorCodes makes each ConnectionErrorCode from a real condition of the cluster.
func TestConnectionErrorCodes(t *testing.T) {
	cases := []struct {
		name string
		// setup runs after the store is created (DISCONNECTED) and before the connect.
		setup func(t *testing.T, e *env, f fixture, storeID string)
		want  kmstypes.ConnectionErrorCodeType
	}{
		{"no kmsuser", func(t *testing.T, e *env, f fixture, storeID string) {}, kmstypes.ConnectionErrorCodeTypeUserNotFound},
		{"wrong kmsuser password", func(t *testing.T, e *env, f fixture, storeID string) {
			e.createKMSUser(t, f, e.secret(t, "codes-"+storeID+"/other", "0therPassw0rdAbc"))
		}, kmstypes.ConnectionErrorCodeTypeInvalidCredentials},
		{"kmsuser locked out", func(t *testing.T, e *env, f fixture, storeID string) {
			e.createKMSUser(t, f, e.secret(t, "codes-"+storeID+"/other", "0therPassw0rdAbc"))
			for range 5 { // five failed logins lock the user out
				if s := e.connect(t, storeID); s.ConnectionErrorCode != kmstypes.ConnectionErrorCodeTypeInvalidCredentials {
					t.Fatalf("failed login: %s", s.ConnectionErrorCode)
				}
				e.disconnect(t, storeID)
			}
		}, kmstypes.ConnectionErrorCodeTypeUserLockedOut},
		{"kmsuser logged in elsewhere", func(t *testing.T, e *env, f fixture, storeID string) {
			e.createKMSUser(t, f, f.userARN)
			if err := e.hsm.OpenSession(f.clusterID, cloudhsm.Credentials{User: "kmsuser", Password: userPW}); err != nil {
				t.Fatal(err)
			}
		}, kmstypes.ConnectionErrorCodeTypeUserLoggedIn},
		{"no active HSM", func(t *testing.T, e *env, f fixture, storeID string) {
			e.createKMSUser(t, f, f.userARN)
			for _, h := range e.cluster(t, f.clusterID).Hsms {
				if err := e.hsm.DeleteHsmOutOfBand(f.clusterID, *h.HsmId); err != nil {
					t.Fatal(err)
				}
			}
		}, kmstypes.ConnectionErrorCodeTypeInsufficientCloudhsmHsms},
		{"cluster deleted", func(t *testing.T, e *env, f fixture, storeID string) {
			e.deleteCluster(t, f.clusterID)
		}, kmstypes.ConnectionErrorCodeTypeClusterNotFound},
		{"network errors (injected)", func(t *testing.T, e *env, f fixture, storeID string) {
			e.createKMSUser(t, f, f.userARN)
			if err := e.kms.FailNextConnect(storeID, "NETWORK_ERRORS"); err != nil {
				t.Fatal(err)
			}
		}, kmstypes.ConnectionErrorCodeTypeNetworkErrors},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := e.activeCluster(t, "codes", 2, false)
			storeID := e.createStore(t, f, "store", userPW)
			tc.setup(t, e, f, storeID)
			s := e.connect(t, storeID)
			if s.ConnectionState != kmstypes.ConnectionStateTypeFailed || s.ConnectionErrorCode != tc.want {
				t.Fatalf("state %s code %q, want FAILED %s", s.ConnectionState, s.ConnectionErrorCode, tc.want)
			}
		})
	}
}
