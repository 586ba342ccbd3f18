package secretsmanager_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestSecretValuesForScans checks what secret scans look for: stored values, the secret fields
// of JSON values, generated passwords; never certificates (public) or references such as ARNs.
func TestSecretValuesForScans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ca := sandboxtest.CustomerCA(t)
	keyPEMBytes, err := customerca.PrivateKeyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := string(ca.CertificatePEM()), string(keyPEMBytes)
	dbJSON := `{"engine":"mariadb","host":"db.internal","username":"app","password":"db-pass-123","masterarn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:super-AbCdEf"}`
	for name, value := range map[string]string{"ca-cert": certPEM, "ca-key": keyPEM, "db": dbJSON, "plain": "plain-secret-value"} {
		if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
			t.Fatal(err)
		}
	}
	pw, err := e.client.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := e.svc.SecretValues()
	cases := []struct {
		name  string
		value string
		want  bool
	}{
		{"private key", keyPEM, true},
		{"whole JSON secret", dbJSON, true},
		{"JSON password field", "db-pass-123", true},
		{"plain string", "plain-secret-value", true},
		{"generated password", *pw.RandomPassword, true},
		{"certificate is public", certPEM, false},
		{"JSON reference field", "arn:aws:secretsmanager:us-east-1:123456789012:secret:super-AbCdEf", false},
		{"JSON plain field", "db.internal", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(got, tc.value) != tc.want {
				t.Fatalf("SecretValues contains it: %v, want %v", !tc.want, tc.want)
			}
		})
	}
}
