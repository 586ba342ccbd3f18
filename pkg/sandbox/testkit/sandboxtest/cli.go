package sandboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox"
)

// AWSCLIPath is Debian's AWS CLI v2 (package awscli, installed by `make deps`), a client of the
// sandbox that nobody here wrote: botocore's own service models and serializers. The `aws` on
// PATH may be another version through a shim, so the path is fixed.
const AWSCLIPath = "/usr/bin/aws"

// CLI runs the AWS CLI against a sandbox with its static credentials, us-east-1, no
// configuration files, one attempt per call and JSON output.
type CLI struct {
	t   testing.TB
	ctx context.Context
	url string
	env []string
}

// NewCLI returns a CLI for the sandbox at url whose commands end with ctx. It fails t when the
// CLI is not installed.
func NewCLI(t testing.TB, ctx context.Context, url string) *CLI {
	t.Helper()
	if _, err := os.Stat(AWSCLIPath); err != nil {
		t.Fatalf("%s is missing: run `make deps` (it installs Debian's awscli): %v", AWSCLIPath, err)
	}
	return &CLI{t: t, ctx: ctx, url: url, env: []string{
		"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LANG=C.UTF-8",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + sandbox.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + sandbox.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
	}}
}

// Run executes one command and returns its JSON output decoded (nil for no output), failing the
// test on a non-zero exit.
func (c *CLI) Run(args ...string) map[string]any {
	c.t.Helper()
	var doc map[string]any
	c.RunInto(&doc, args...)
	return doc
}

// RunInto executes one command and decodes its JSON output, if any, into out.
func (c *CLI) RunInto(out any, args ...string) {
	c.t.Helper()
	stdout, stderr, err := c.Exec(args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	if len(bytes.TrimSpace(stdout)) > 0 {
		if err := json.Unmarshal(stdout, out); err != nil {
			c.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
}

// WantError executes one command that must fail with the service exception code, which the CLI
// prints in parentheses.
func (c *CLI) WantError(code string, args ...string) {
	c.t.Helper()
	_, stderr, err := c.Exec(args...)
	if err == nil || !strings.Contains(stderr, "("+code+")") {
		c.t.Fatalf("aws %s: want error %s, got %v\n%s", strings.Join(args, " "), code, err, stderr)
	}
}

// Exec executes one command and returns its output as it is.
func (c *CLI) Exec(args ...string) (stdout []byte, stderr string, err error) {
	full := append([]string{"--endpoint-url", c.url, "--output", "json", "--cli-read-timeout", "20"}, args...)
	cmd := exec.CommandContext(c.ctx, AWSCLIPath, full...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.String(), err
}
