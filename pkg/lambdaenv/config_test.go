package lambdaenv_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func TestConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_SNS", "http://127.0.0.1:2")
	cfg, err := lambdaenv.Config()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SessionToken != "token" {
		t.Fatalf("credentials %+v %v", creds, err)
	}
	if cfg.Region != "eu-west-1" || *cfg.BaseEndpoint != "http://127.0.0.1:1" {
		t.Fatalf("cfg %+v", cfg)
	}
	if e := lambdaenv.Endpoint("SNS"); *e != "http://127.0.0.1:2" {
		t.Fatalf("SNS endpoint %s", *e)
	}
	if e := lambdaenv.Endpoint("KMS"); *e != "http://127.0.0.1:1" {
		t.Fatalf("KMS endpoint %s", *e)
	}
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := lambdaenv.Config(); !errors.Is(err, lambdaenv.ErrIncomplete) || !strings.Contains(err.Error(), "AWS_REGION, AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("missing: %v", err)
	}
}

// The point of Config: lambdaenv must not link aws-sdk-go-v2/config (and its STS/SSO clients).
func TestDoesNotImportConfig(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/aws/aws-sdk-go-v2/config" || strings.HasSuffix(dep, "/service/sts") || strings.HasSuffix(dep, "/service/sso") {
			t.Errorf("lambdaenv depends on %s", dep)
		}
	}
}
