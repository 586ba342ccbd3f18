// Package sandboxtest starts a complete Strongroom sandbox for a test: every available emulated
// service on 127.0.0.1 (a free port), stopped by t.Cleanup, and an aws.Config whose SDK v2
// clients all reach it.
//
//	env := sandboxtest.New(t, sandboxtest.Scale(1000))
//	client := kms.NewFromConfig(env.AWSConfig())
package sandboxtest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/strongroom/strongroom/pkg/sandbox"
)

// Env is a running sandbox. Its embedded *sandbox.Sandbox gives the clock, faults, recorder,
// Lambda registry, EventBridge and CloudFormation driver.
type Env struct {
	*sandbox.Sandbox
	// URL is the base endpoint, for example http://127.0.0.1:41234.
	URL string
}

// Option adjusts the sandbox a test gets.
type Option func(*sandbox.Options)

// Scale runs the sandbox clock n times faster than wall time.
func Scale(n float64) Option { return func(o *sandbox.Options) { o.Scale = n } }

// Seed fixes the random choices of probabilistic faults.
func Seed(n uint64) Option { return func(o *sandbox.Options) { o.Seed = n } }

// New starts a sandbox for t and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o sandbox.Options
	for _, f := range opts {
		f(&o)
	}
	sb := sandbox.New(o)
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	return &Env{Sandbox: sb, URL: url}
}

// AWSConfig returns a config with static credentials, the sandbox's region and BaseEndpoint set
// to the sandbox, so any SDK v2 client built from it talks to the sandbox.
func (e *Env) AWSConfig() aws.Config { return config(e.Region, e.URL) }

// NoRetryConfig is AWSConfig with one attempt per call, for contract tests that check each
// exception as the service answered it.
func (e *Env) NoRetryConfig() aws.Config {
	cfg := e.AWSConfig()
	cfg.RetryMaxAttempts = 1
	return cfg
}

// Context returns a context cancelled when the test ends or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// CheckNoSecrets fails t once for each place a secret appears in what the sandbox recorded
// (requests and responses outside sandbox.SecretChannels, function logs written through
// Recorder.Writer, function environments): the values the sandbox's services issued or stored,
// and their secret JSON members, plus extra. Findings name the secret by index, never by value.
func (e *Env) CheckNoSecrets(t testing.TB, extra ...string) {
	t.Helper()
	for _, f := range e.SecretLeaks(extra...) {
		t.Errorf("secret leak: %s", f)
	}
}
