package kms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	hsmv2 "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func TestOrdinaryKeysAndAliases(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created, err := e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("secrets")})
	if err != nil {
		t.Fatal(err)
	}
	k := created.KeyMetadata
	if k.Origin != kmstypes.OriginTypeAwsKms || k.KeySpec != kmstypes.KeySpecSymmetricDefault || k.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt || !k.Enabled || k.CustomKeyStoreId != nil {
		t.Fatalf("metadata: %+v", k)
	}
	if _, err := e.kmsc.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/strongroom"), TargetKeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.kmsc.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/strongroom"), TargetKeyId: k.KeyId})
	sandboxtest.WantCode(t, err, "AlreadyExistsException")
	_, err = e.kmsc.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/aws/secretsmanager"), TargetKeyId: k.KeyId})
	sandboxtest.WantCode(t, err, "InvalidAliasNameException")

	// Every way of naming the key reaches it.
	for _, ref := range []string{*k.KeyId, *k.Arn, "alias/strongroom", "arn:aws:kms:us-east-1:123456789012:alias/strongroom"} {
		d, err := e.kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(ref)})
		if err != nil || *d.KeyMetadata.KeyId != *k.KeyId {
			t.Fatalf("DescribeKey(%s): %v", ref, err)
		}
	}
	enc, err := e.kmsc.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/strongroom"), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{})
	_, err = e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: other.KeyMetadata.KeyId})
	sandboxtest.WantCode(t, err, "IncorrectKeyException")
	_, err = e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: []byte("not a kms ciphertext blob at all, really not")})
	sandboxtest.WantCode(t, err, "InvalidCiphertextException")

	noPlain, err := e.kmsc.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: k.KeyId, NumberOfBytes: aws.Int32(24)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: noPlain.CiphertextBlob})
	if err != nil || len(back.Plaintext) != 24 {
		t.Fatalf("decrypt data key: %v", err)
	}
	_, err = e.kmsc.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyId})
	sandboxtest.WantCode(t, err, "ValidationException")

	if _, err := e.kmsc.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.kmsc.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	sandboxtest.WantCode(t, err, "DisabledException")
	if _, err := e.kmsc.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}

	_, err = e.kmsc.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(6)})
	sandboxtest.WantCode(t, err, "ValidationException")
	sched, err := e.kmsc.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: k.KeyId})
	if err != nil || *sched.PendingWindowInDays != 30 || sched.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("ScheduleKeyDeletion default window: %v", err)
	}
	_, err = e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	sandboxtest.WantCode(t, err, "KMSInvalidStateException")
	if _, err := e.kmsc.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	d, _ := e.kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyId})
	if d.KeyMetadata.KeyState != kmstypes.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion: %s", d.KeyMetadata.KeyState)
	}

	for range 3 {
		if _, err := e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	p := awskms.NewListKeysPaginator(e.kmsc, &awskms.ListKeysInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range out.Keys {
			ids = append(ids, *k.KeyId)
		}
	}
	if len(ids) != 5 || ids[0] != *k.KeyId {
		t.Fatalf("ListKeys pages: %v", ids)
	}
	aliases, err := e.kmsc.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: k.KeyId})
	if err != nil || len(aliases.Aliases) != 1 || *aliases.Aliases[0].TargetKeyId != *k.KeyId {
		t.Fatalf("ListAliases: %v", err)
	}
	_, err = e.kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	sandboxtest.WantCode(t, err, "NotFoundException")
	_, err = e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	sandboxtest.WantCode(t, err, "UnsupportedOperationException")
}

// TestUpdateToRelatedCluster moves a store to a cluster restored from its cluster's backup, and
// refuses an unrelated one.
func TestUpdateToRelatedCluster(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// kmsuser first, then the second HSM: adding it takes the backup that holds kmsuser.
	f := e.activeCluster(t, "update", 1, true)
	e.addHsm(t, f.clusterID, "us-east-1b")
	e.waitCluster(t, f.clusterID, "two ACTIVE HSMs", activeHsms(2))
	storeID := e.createStore(t, f, "store", userPW)

	var backupID string
	poll(t, "READY backup", func() bool {
		b, err := e.hsmc.DescribeBackups(ctx, &hsmv2.DescribeBackupsInput{Filters: map[string][]string{"clusterIds": {f.clusterID}, "states": {"READY"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Backups) == 2 { // activation and second HSM; newest first
			backupID = *b.Backups[0].BackupId
		}
		return backupID != ""
	})
	restored, err := e.hsmc.CreateCluster(ctx, &hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:], SourceBackupId: &backupID})
	if err != nil {
		t.Fatal(err)
	}
	rid := *restored.Cluster.ClusterId
	e.waitState(t, rid, hsmtypes.ClusterStateActive)
	_, err = e.kmsc.UpdateCustomKeyStore(ctx, &awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: &storeID, CloudHsmClusterId: &rid})
	sandboxtest.WantCode(t, err, "CloudHsmClusterInvalidConfigurationException") // no HSMs yet
	for _, az := range []string{"us-east-1a", "us-east-1c"} {
		e.addHsm(t, rid, az)
	}
	e.waitCluster(t, rid, "two ACTIVE HSMs", activeHsms(2))

	unrelated := e.activeCluster(t, "unrelated", 2, false)
	_, err = e.kmsc.UpdateCustomKeyStore(ctx, &awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: &storeID, CloudHsmClusterId: &unrelated.clusterID})
	sandboxtest.WantCode(t, err, "CloudHsmClusterNotRelatedException")
	if _, err := e.kmsc.UpdateCustomKeyStore(ctx, &awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: &storeID, CloudHsmClusterId: &rid}); err != nil {
		t.Fatalf("update to the restored cluster: %v", err)
	}
	// The restored cluster has the same users, so the store connects to it.
	if s := e.connect(t, storeID); s.ConnectionState != kmstypes.ConnectionStateTypeConnected || *s.CloudHsmClusterId != rid {
		t.Fatalf("connect to the restored cluster: %s %s", s.ConnectionState, s.ConnectionErrorCode)
	}
	_, err = e.kmsc.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{Limit: aws.Int32(0)})
	sandboxtest.WantCode(t, err, "ValidationException")
}

// TestKMSUserPasswordRotation is the operator's rotation: set a new kmsuser password on the
// cluster through SSM, then tell KMS with UpdateCustomKeyStore.
func TestKMSUserPasswordRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.activeCluster(t, "rotate", 2, true)
	storeID := e.createStore(t, f, "store", userPW)
	if s := e.connect(t, storeID); s.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		t.Fatalf("connect: %s", s.ConnectionErrorCode)
	}
	const newPW = "N3wKmsUserPassw0rd"
	params := map[string]string{"UserName": "kmsuser", "UserPasswordSecretArn": e.secret(t, "rotate/kmsuser-next", newPW)}
	for k, v := range f.params {
		params[k] = v
	}
	// KMS is logged in as kmsuser while connected: the password cannot change now.
	// The script puts cloudhsm-cli's refusal on stderr, which the workflow's reason carries.
	if inv := e.runDoc(t, hsmdocs.ChangeCryptoUserPassword, params); inv.Status != ssmtypes.CommandInvocationStatusFailed || !strings.Contains(aws.ToString(inv.StandardErrorContent), "logged in") {
		t.Fatalf("change password while connected: %s %q", inv.Status, aws.ToString(inv.StandardErrorContent))
	}
	e.disconnect(t, storeID)
	if inv := e.runDoc(t, hsmdocs.ChangeCryptoUserPassword, params); inv.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("change password: %s %s", inv.Status, aws.ToString(inv.StandardErrorContent))
	}
	if s := e.connect(t, storeID); s.ConnectionErrorCode != kmstypes.ConnectionErrorCodeTypeInvalidCredentials {
		t.Fatalf("connect with the old password: %s %s", s.ConnectionState, s.ConnectionErrorCode)
	}
	e.disconnect(t, storeID)
	if _, err := e.kmsc.UpdateCustomKeyStore(ctx, &awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: &storeID, KeyStorePassword: aws.String(newPW)}); err != nil {
		t.Fatalf("UpdateCustomKeyStore password: %v", err)
	}
	if s := e.connect(t, storeID); s.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		t.Fatalf("connect after the update: %s %s", s.ConnectionState, s.ConnectionErrorCode)
	}
}

func TestUnsupportedHsmTypeIsRefused(t *testing.T) {
	e := newEnv(t)
	f := e.activeCluster(t, "hsmtype", 2, true)
	e.kms.SetUnsupportedHsmTypes("hsm2m.medium")
	_, err := e.kmsc.CreateCustomKeyStore(context.Background(), &awskms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String("store"), CloudHsmClusterId: &f.clusterID,
		TrustAnchorCertificate: aws.String(string(f.ca.CertificatePEM())), KeyStorePassword: aws.String(userPW),
	})
	if msg := sandboxtest.WantCode(t, err, "CloudHsmClusterInvalidConfigurationException"); !strings.Contains(msg, "hsm2m.medium") {
		t.Fatalf("message does not name the HSM type: %q", msg)
	}
	e.kms.SetUnsupportedHsmTypes()
	e.createStore(t, f, "store", userPW)
}
