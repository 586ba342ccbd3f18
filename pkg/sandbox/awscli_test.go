package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest"
)

// awsCLI is Debian's AWS CLI v2 (package awscli, installed by `make deps`). The `aws` on PATH
// may be another version through a shim, so the path is fixed.
const awsCLI = "/usr/bin/aws"

// cli runs the AWS CLI against the sandbox with dummy credentials and no configuration files,
// and decodes its JSON output.
type cli struct {
	t   *testing.T
	ctx context.Context
	url string
	env []string
}

func newCLI(t *testing.T, ctx context.Context, url string) *cli {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must install Debian's awscli (make deps): %v", awsCLI, err)
		}
		t.Skipf("%s is missing (run `make deps` to install Debian's awscli); this test fails instead of skipping when CI=true", awsCLI)
	}
	home := t.TempDir()
	return &cli{t: t, ctx: ctx, url: url, env: []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + sandbox.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + sandbox.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}}
}

// run executes one command and returns its decoded output, failing the test on a non-zero exit.
func (c *cli) run(args ...string) map[string]any {
	c.t.Helper()
	out, stderr, err := c.exec(args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	var doc map[string]any
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &doc); err != nil {
			c.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return doc
}

func (c *cli) exec(args ...string) ([]byte, string, error) {
	full := append([]string{"--endpoint-url", c.url, "--output", "json", "--cli-read-timeout", "20"}, args...)
	cmd := exec.CommandContext(c.ctx, awsCLI, full...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), err
}

// TestAWSCLI points an AWS client nobody here wrote at the sandbox.
func TestAWSCLI(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 3*time.Minute)
	aws := newCLI(t, ctx, env.URL)

	t.Run("sts get-caller-identity", func(t *testing.T) {
		out := aws.run("sts", "get-caller-identity")
		if out["Account"] != env.Account || out["Arn"] != "arn:aws:iam::"+env.Account+":user/sandbox" {
			t.Errorf("output = %v", out)
		}
	})

	t.Run("service error code printed", func(t *testing.T) {
		_, stderr, err := aws.exec("events", "put-rule", "--name", "r", "--event-pattern", `{"source":"x"}`)
		if err == nil || !strings.Contains(stderr, "(InvalidEventPatternException) when calling the PutRule operation") {
			t.Errorf("err %v, stderr %q: want the exception name printed", err, stderr)
		}
	})

	t.Run("lambda invoke", func(t *testing.T) {
		if _, err := env.Lambda.RegisterHandler("echo", func(_ context.Context, p []byte) ([]byte, error) { return p, nil }); err != nil {
			t.Fatal(err)
		}
		outFile := t.TempDir() + "/out.json"
		out := aws.run("lambda", "invoke", "--function-name", "echo", "--cli-binary-format", "raw-in-base64-out", "--payload", `{"hello":"cli"}`, outFile)
		got, _ := os.ReadFile(outFile)
		if out["StatusCode"] != 200.0 || string(got) != `{"hello":"cli"}` {
			t.Errorf("output %v, payload %s", out, got)
		}
	})

	t.Run("events put-rule list-rules", func(t *testing.T) {
		aws.run("events", "put-rule", "--name", "trail", "--event-pattern", `{"detail-type":["AWS API Call via CloudTrail"]}`)
		out := aws.run("events", "list-rules")
		rules, _ := out["Rules"].([]any)
		if len(rules) != 1 || rules[0].(map[string]any)["Name"] != "trail" {
			t.Errorf("rules = %v", out)
		}
	})

	t.Run("secretsmanager create-secret get-secret-value", func(t *testing.T) {
		created := aws.run("secretsmanager", "create-secret", "--name", "strongroom/cli", "--secret-string", `{"password":"cli-s3cret"}`)
		got := aws.run("secretsmanager", "get-secret-value", "--secret-id", "strongroom/cli")
		if got["ARN"] != created["ARN"] || got["SecretString"] != `{"password":"cli-s3cret"}` {
			t.Errorf("get-secret-value = %v, created %v", got, created)
		}
		stages, _ := got["VersionStages"].([]any)
		if len(stages) != 1 || stages[0] != "AWSCURRENT" {
			t.Errorf("VersionStages = %v", got["VersionStages"])
		}
	})

	t.Run("cloudhsmv2 create-cluster describe-clusters", func(t *testing.T) {
		subnets := aws.run("ec2", "describe-subnets")
		list, _ := subnets["Subnets"].([]any)
		if len(list) < 2 {
			t.Fatalf("describe-subnets = %v, want the default VPC's subnets", subnets)
		}
		ids := []string{list[0].(map[string]any)["SubnetId"].(string), list[1].(map[string]any)["SubnetId"].(string)}
		created := aws.run("cloudhsmv2", "create-cluster", "--hsm-type", "hsm2m.medium", "--subnet-ids", ids[0], ids[1])
		cluster, _ := created["Cluster"].(map[string]any)
		id, _ := cluster["ClusterId"].(string)
		if !strings.HasPrefix(id, "cluster-") || cluster["State"] != "CREATE_IN_PROGRESS" {
			t.Fatalf("create-cluster = %v", created)
		}
		described := aws.run("cloudhsmv2", "describe-clusters", "--filters", "clusterIds="+id)
		clusters, _ := described["Clusters"].([]any)
		if len(clusters) != 1 || clusters[0].(map[string]any)["ClusterId"] != id {
			t.Errorf("describe-clusters = %v", described)
		}
	})

	t.Run("sns create-topic publish", func(t *testing.T) {
		topic := aws.run("sns", "create-topic", "--name", "strongroom-alerts")
		arn, _ := topic["TopicArn"].(string)
		if arn != "arn:aws:sns:us-east-1:"+env.Account+":strongroom-alerts" {
			t.Fatalf("create-topic = %v", topic)
		}
		aws.run("sns", "subscribe", "--topic-arn", arn, "--protocol", "email", "--notification-endpoint", "secops@example.com")
		pub := aws.run("sns", "publish", "--topic-arn", arn, "--subject", "DeleteSecret by alice", "--message", "a secret was deleted")
		if id, _ := pub["MessageId"].(string); id == "" {
			t.Errorf("publish = %v, want a MessageId", pub)
		}
		if d := env.SNS.Deliveries(arn); len(d) != 1 {
			t.Errorf("deliveries = %+v, want the message delivered to the e-mail subscriber", d)
		}
	})

	t.Run("kms describe-custom-key-stores", func(t *testing.T) {
		out := aws.run("kms", "describe-custom-key-stores")
		if stores, ok := out["CustomKeyStores"].([]any); !ok || len(stores) != 0 {
			t.Errorf("describe-custom-key-stores = %v, want an empty list", out)
		}
		_, stderr, err := aws.exec("kms", "describe-custom-key-stores", "--custom-key-store-id", "cks-1234567890abcdef0")
		if err == nil || !strings.Contains(stderr, "(CustomKeyStoreNotFoundException)") {
			t.Errorf("unknown key store: err %v, stderr %q", err, stderr)
		}
	})

	// Every call the CLI made was answered by a service (none fell through to an unknown route).
	for _, r := range env.Recorder.Records("", "") {
		if r.Service == "unknown" {
			t.Errorf("unrouted CLI call: %s %s %s", r.Method, r.Path, r.RequestBody)
		}
	}
}
