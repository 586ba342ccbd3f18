package secretsmanager_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// BenchmarkGetSecretValue measures one GetSecretValue through a real SDK client over HTTP to the
// sandbox server (signing, routing, recording, the service's lock).
func BenchmarkGetSecretValue(b *testing.B) {
	e, ctx := newBenchEnv(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotateSecret measures a whole rotation: RotateSecret, the four steps through the
// sandbox's Lambda service to the stand-in function (which itself calls DescribeSecret,
// GetSecretValue, GetRandomPassword, PutSecretValue and UpdateSecretVersionStage over HTTP), and
// the wait until the rotation has finished.
func BenchmarkRotateSecret(b *testing.B) {
	e, ctx := newBenchEnv(b)
	b.ResetTimer()
	for b.Loop() {
		// A fresh input each time: the SDK fills ClientRequestToken into the input it is given.
		if _, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("bench"), RotationLambdaARN: aws.String(e.fnARN)}); err != nil {
			b.Fatal(err)
		}
		waitRotation(b, e.svc, "bench")
	}
	b.StopTimer()
	if msg, _ := e.svc.LastRotationError("bench"); msg != "" {
		b.Fatalf("last rotation failed: %s", msg)
	}
}

// newBenchEnv returns the sandbox with the secret "bench" every benchmark works on.
func newBenchEnv(b *testing.B) (*env, context.Context) {
	e := newEnv(b)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bench"), SecretString: aws.String(`{"password":"bench-pw"}`)}); err != nil {
		b.Fatal(err)
	}
	return e, ctx
}
