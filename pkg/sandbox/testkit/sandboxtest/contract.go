package sandboxtest

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox"
)

// Serve starts srv, a server with only the services a contract test registered on it, on a free
// loopback port. When the test ends it runs closers (the services' Close methods, in order) and
// then stops the server. It returns the config for the test's SDK clients: the server's region,
// the sandbox's static credentials, one attempt per call (so a test sees each exception as the
// service answered it) and HTTPClient.
func Serve(t testing.TB, srv *sandbox.Server, closers ...func()) aws.Config {
	t.Helper()
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
		if err := srv.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	cfg := config(srv.Region, url)
	cfg.RetryMaxAttempts = 1
	cfg.HTTPClient = HTTPClient
	return cfg
}

// config is an SDK config with the sandbox's static credentials, for a sandbox serving url.
func config(region, url string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, ""),
		BaseEndpoint: aws.String(url),
	}
}

// WantCode fails t at once unless err is a service exception (smithy.APIError, as SDK clients
// decode them) with the given code, and returns the exception's message for the test to check.
func WantCode(t testing.TB, err error, code string) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
	return ae.ErrorMessage()
}
