package kms_test

import (
	"context"
	"fmt"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// BenchmarkEncryptDecrypt is one Encrypt and one Decrypt of 1 KiB through the SDK over HTTP.
func BenchmarkEncryptDecrypt(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	key, err := e.kmsc.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1024)
	b.ResetTimer()
	for b.Loop() {
		enc, err := e.kmsc.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: msg})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.kmsc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunbookToTwoActiveHsms is the wall time of the runbook (create, HSM, CSR, sign,
// initialize, activate through SSM, second HSM, kmsuser) at the test scale of 3000x: about 20
// sandbox minutes each.
func BenchmarkRunbookToTwoActiveHsms(b *testing.B) {
	e := newEnv(b)
	n := 0
	for b.Loop() {
		n++
		e.activeCluster(b, fmt.Sprintf("bench%d", n), 2, true)
	}
}
