package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func captureOut(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := sandboxOut
	sandboxOut = &buf
	t.Cleanup(func() { sandboxOut = old })
	return &buf
}

func TestSandboxFaultCommand(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	out := captureOut(t)
	if err := runSandbox(ctx, []string{"fault", "-addr", env.URL, "-service", "kms", "-operation", "CreateKey", "-kind", "throttle", "-count", "2"}); err != nil {
		t.Fatal(err)
	}
	if err := runSandbox(ctx, []string{"fault", "-addr", env.URL, "-service", "sts", "-kind", "latency", "-latency", "3s", "-p", "0.5", "-caller", "fn-a", "-skip", "1"}); err != nil {
		t.Fatal(err)
	}
	got := env.Faults.List()
	if len(got) != 2 || got[0].Service != "kms" || got[0].Operation != "CreateKey" || got[0].Kind != sandbox.FaultThrottle || got[0].Count != 2 ||
		got[1].Latency != sandbox.Duration(3*time.Second) || got[1].Probability != 0.5 || got[1].Caller != "fn-a" || got[1].Skip != 1 {
		t.Fatalf("rules = %+v", got)
	}
	out.Reset()
	if err := runSandbox(ctx, []string{"fault", "-addr", env.URL, "-list"}); err != nil {
		t.Fatal(err)
	}
	var listed []sandbox.Fault
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil || len(listed) != 2 {
		t.Errorf("-list printed %s (%v)", out, err)
	}
	if err := runSandbox(ctx, []string{"fault", "-addr", env.URL, "-clear"}); err != nil || len(env.Faults.List()) != 0 {
		t.Errorf("-clear: %v, %d rules left", err, len(env.Faults.List()))
	}
	if err := runSandbox(ctx, []string{"fault", "-addr", env.URL, "-service", "kms", "-kind", "error"}); err == nil || !strings.Contains(err.Error(), "needs code") {
		t.Errorf("error fault without -code: err = %v, want one naming code", err)
	}
	if err := runSandbox(ctx, []string{"fault", "-addr", "127.0.0.1:1", "-list"}); err == nil || !strings.Contains(err.Error(), "is `strongroom sandbox` running?") {
		t.Errorf("unreachable sandbox: err = %v", err)
	}
	out.Reset()
	if err := runSandbox(ctx, []string{"records", "-addr", env.URL, "-service", "none"}); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("records: %v, printed %q", err, out)
	}
}

// TestSandboxServe runs `strongroom sandbox` until its context ends and calls it in between.
func TestSandboxServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	old := sandboxOut
	sandboxOut = pw
	t.Cleanup(func() { sandboxOut = old })
	done := make(chan error, 1)
	go func() { done <- runSandbox(ctx, []string{"-addr", "127.0.0.1:0", "-scale", "10"}); pw.Close() }()

	var endpoint string
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "export AWS_ENDPOINT_URL="); ok {
			endpoint = v
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if endpoint == "" {
		t.Fatal("no export AWS_ENDPOINT_URL line printed")
	}
	resp, err := http.Get(endpoint + "/_sandbox/clock")
	if err != nil {
		t.Fatal(err)
	}
	var clock struct{ Scale float64 }
	_ = json.NewDecoder(resp.Body).Decode(&clock)
	resp.Body.Close()
	if clock.Scale != 10 {
		t.Errorf("clock scale = %v, want 10", clock.Scale)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sandbox exited with %v", err)
	}
	if _, err := http.Get(endpoint + "/_sandbox/health"); err == nil {
		t.Error("the sandbox still answers after interruption")
	}
}

// TestSandboxServeCDKOut: `strongroom sandbox -cdkout DIR` deploys DIR's stacks, each after the
// stacks manifest.json says it depends on (Fn::ImportValue needs the exporter first), before it
// prints the exports, so any AWS client finds them; -stacks picks some.
func TestSandboxServeCDKOut(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// B imports A's key, and sorts first by name: only the manifest's order deploys it.
	write("manifest.json", `{"version":"36.0.0","artifacts":{"B":{"type":"aws:cloudformation:stack","dependencies":["A"]},"A":{"type":"aws:cloudformation:stack"}}}`)
	write("A.template.json", `{"Resources":{"Key":{"Type":"AWS::KMS::Key","Properties":{"Description":"cdkout test key",
		"KeyPolicy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*",
		"Principal":{"AWS":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":root"]]}}}]}}}},
		"Outputs":{"KeyArn":{"Value":{"Fn::GetAtt":["Key","Arn"]},"Export":{"Name":"A:KeyArn"}}}}`)
	write("B.template.json", `{"Resources":{"Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":"cdkout-alerts","KmsMasterKeyId":{"Fn::ImportValue":"A:KeyArn"}}}}}`)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	old := sandboxOut
	sandboxOut = pw
	t.Cleanup(func() { sandboxOut = old })
	done := make(chan error, 1)
	go func() { done <- runSandbox(ctx, []string{"-addr", "127.0.0.1:0", "-cdkout", dir}); pw.Close() }()
	var endpoint string
	var printed []string
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		printed = append(printed, lines.Text())
		if v, ok := strings.CutPrefix(lines.Text(), "export AWS_ENDPOINT_URL="); ok {
			endpoint = v
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if endpoint == "" {
		t.Fatalf("no export AWS_ENDPOINT_URL line printed: %v (%v)", printed, <-done)
	}
	text := strings.Join(printed, "\n")
	if !strings.Contains(text, "# deployed A: ") || strings.Index(text, "# deployed A: ") > strings.Index(text, "# deployed B: ") {
		t.Errorf("want A deployed before B, before the exports:\n%s", text)
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, "")}
	attrs, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:cdkout-alerts")})
	if err != nil {
		t.Fatalf("the deployed topic: %v", err)
	}
	if k := attrs.Attributes["KmsMasterKeyId"]; !strings.HasPrefix(k, "arn:aws:kms:") {
		t.Errorf("topic's KmsMasterKeyId = %q, want the key stack A exported", k)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sandbox exited with %v", err)
	}

	// -stacks names a stack the assembly lacks: refused before anything is served.
	err = runSandbox(context.Background(), []string{"-addr", "127.0.0.1:0", "-cdkout", dir, "-stacks", "A C"})
	if err == nil || !strings.Contains(err.Error(), "-stacks: "+dir+" has no C.template.json (it has A, B)") {
		t.Errorf("-stacks C: err = %v", err)
	}
}
