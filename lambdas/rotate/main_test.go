package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

var db *mariadbtest.Server

// TestMain runs the tests with a real MariaDB server and the IAM judge (stacktest.WithJudge).
func TestMain(m *testing.M) {
	os.Exit(stacktest.WithJudge("", "rotate", func() int { return mariadbtest.Main(m, mariadbtest.Options{}, &db) }))
}

// TestBinaryRotates builds this command as `make build` does (for the host), registers the
// bootstrap with the sandbox's Lambda, and lets the sandbox's Secrets Manager rotate a real
// MariaDB user through it: once with TLS verified against the test CA, once with TLS disabled.
// IAM is enforced as on AWS: the function runs under a role of exactly the actions pkg/rotation
// declares (which infra/database grants), on the secret it rotates and its customer managed key,
// and Secrets Manager may invoke it for that secret only.
func TestBinaryRotates(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	bin, err := lambdaruntime.BuildHost(ctx, ".", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantLog string
	}{
		{"TLS verified", map[string]string{"DB_CA_BUNDLE": db.CAFile}, `"msg":"stored new credentials as AWSPENDING"`},
		{"TLS disabled", map[string]string{"DB_TLS": "disabled"}, "TLS to the database is disabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := sandboxtest.New(t)
			stacktest.EnforceIAM(t, env.Sandbox, false)
			svc := env.SecretsManager
			logs := &sandboxtest.Buffer{}
			fn, err := env.Lambda.RegisterBinary("strongroom-rotate", bin, logs, lambda.WithEnv(tc.env), lambda.WithTimeout(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			client := sm.NewFromConfig(env.AWSConfig())

			name, password, dbname := db.UniqueName("binapp"), "Bin-start-pw-"+db.UniqueName("x"), db.UniqueName("bindb")
			if err := db.CreateDatabase(ctx, dbname); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateUser(ctx, name, password, "SELECT ON `"+dbname+"`.*"); err != nil {
				t.Fatal(err)
			}
			body, _ := (&dbsecret.Secret{Engine: "mariadb", Host: db.Host, Port: db.Port, Username: name, Password: password, DBName: dbname}).JSON()
			keyARN, err := stacktest.CreateKey(ctx, env.AWSConfig(), "the database secrets' key")
			if err != nil {
				t.Fatal(err)
			}
			out, err := client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(body), KmsKeyId: aws.String(keyARN)})
			if err != nil {
				t.Fatal(err)
			}
			stacktest.FunctionRole(ctx, t, env.Sandbox, env.AWSConfig(), "strongroom-rotate",
				stacktest.Statement{Actions: rotation.SecretActions, Resources: []string{*out.ARN}},
				stacktest.Statement{Actions: rotation.AccountActions, Resources: []string{"*"}},
				stacktest.Statement{Actions: rotation.KeyActions, Resources: []string{keyARN}})
			if err := stacktest.MayInvoke(ctx, env.AWSConfig(), fn, "secretsmanager.amazonaws.com", *out.ARN); err != nil {
				t.Fatal(err)
			}
			if _, err := client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(fn)}); err != nil {
				t.Fatal(err)
			}
			for busy := true; busy; {
				if busy, err = svc.Rotating(*out.ARN); err != nil {
					t.Fatal(err)
				}
				if ctx.Err() != nil {
					t.Fatal("rotation did not finish")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if msg, _ := svc.LastRotationError(*out.ARN); msg != "" {
				t.Fatalf("rotation failed: %s\nfunction output:\n%s", msg, logs)
			}
			val, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: out.ARN})
			if err != nil {
				t.Fatal(err)
			}
			cur, err := dbsecret.Parse(*val.SecretString)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Login(ctx, cur.Username, cur.Password, cur.DBName); err != nil {
				t.Fatalf("new credentials do not log in: %v", err)
			}
			if err := db.Login(ctx, name, password, dbname); !dbsecret.IsAccessDenied(err) {
				t.Fatalf("old password: got %v, want access denied", err)
			}
			out2 := logs.String()
			if !strings.Contains(out2, tc.wantLog) {
				t.Fatalf("function output lacks %q:\n%s", tc.wantLog, out2)
			}
			for _, v := range append(svc.SecretValues(), cur.Password, password) {
				if s, err := dbsecret.Parse(v); err == nil {
					v = s.Password
				}
				if len(v) >= 4 && strings.Contains(out2, v) {
					t.Fatal("the function's output contains a secret value")
				}
			}
		})
	}
}
