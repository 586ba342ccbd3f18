package ssm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/hsmclient"
)

// AWSAccess is how the instance's AWS CLI reaches the sandbox: its endpoint (known once the sandbox
// serves) and the instance role's credentials, which the instance profile would provide on AWS.
type AWSAccess struct {
	Endpoint func() string
	// Credentials returns the session credentials of instance id's role.
	Credentials func(instanceID string) (keyID, secret, token string)
	Region      string
}

// WithAWS sets how the instance's AWS CLI reaches the sandbox. Without it scripts that call `aws`
// fail as they would on an instance with no network route to the service.
func WithAWS(a AWSAccess) Option { return func(s *Service) { s.aws = a } }

// holder is a clock that can stand still while a script runs (*core.ScaledClock is one).
type holder interface{ Hold() (release func()) }

// host is the emulated client instance's machine: one root directory per instance under dir, the
// instance endpoint its CloudHSM tools reach (hsmclient.Handler), and the record of every process
// started there.
type host struct {
	dir      string
	endpoint string
	srv      *http.Server

	mu        sync.Mutex
	processes []hsmclient.Process

	cliMu  sync.Mutex
	awscli map[string]*hsmclient.AWSCLIServer // by instance; nil: the shim starts the CLI itself
}

// hostFor starts the host on first use. Caller does not hold s.mu.
func (s *Service) hostFor() (*host, error) {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	if s.host != nil {
		return s.host, nil
	}
	dir, err := os.MkdirTemp("", "strongroom-instance-")
	if err != nil {
		return nil, fmt.Errorf("make the instance root: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("listen for the instance's HSM network: %w", err)
	}
	h := &host{dir: dir, endpoint: "http://" + ln.Addr().String()}
	h.srv = &http.Server{Handler: hsmclient.Handler(s.hsm, s.network, h.record), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	s.host = h
	return h, nil
}

func (h *host) record(p hsmclient.Process) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.processes = append(h.processes, p)
}

func (h *host) close() {
	if h == nil {
		return
	}
	_ = h.srv.Close()
	h.cliMu.Lock()
	for _, c := range h.awscli {
		c.Close()
	}
	h.cliMu.Unlock()
	_ = os.RemoveAll(h.dir)
}

// root makes (once) and returns an instance's root directory: the CloudHSM client installed in
// opt/cloudhsm (bin/cloudhsm-cli, bin/configure-cli, etc/), the AWS CLI on usr/local/bin, a home
// and a tmp.
func (h *host) root(instanceID string) (string, error) {
	root := filepath.Join(h.dir, instanceID)
	if _, err := os.Stat(filepath.Join(root, "opt/cloudhsm/bin", hsmclient.CloudHSMCLI)); err == nil {
		return root, nil
	}
	for _, d := range []string{"opt/cloudhsm/etc", "root", "tmp", "usr/local/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", fmt.Errorf("make the instance's %s: %w", d, err)
		}
	}
	for dir, tools := range map[string][]string{"opt/cloudhsm/bin": {hsmclient.CloudHSMCLI, hsmclient.ConfigureCLI}, "usr/local/bin": {hsmclient.AWSCLI}} {
		for _, t := range tools {
			if err := hsmclient.Link(filepath.Join(root, dir), t); err != nil {
				return "", err
			}
		}
	}
	return root, nil
}

// cliServer returns the instance's AWS CLI server (hsmclient.AWSCLIServer), started on first use
// in the instance's environment env, or nil when the CLI cannot be served (not a Python program,
// or not installed): the shim then starts it on every call, only slower, or reports it missing.
func (h *host) cliServer(instanceID, root string, env []string) *hsmclient.AWSCLIServer {
	h.cliMu.Lock()
	defer h.cliMu.Unlock()
	if c, ok := h.awscli[instanceID]; ok {
		return c
	}
	cli := os.Getenv(hsmclient.EnvAWSCLI)
	if cli == "" {
		cli = hsmclient.DefaultAWSCLI
	}
	c, err := hsmclient.StartAWSCLIServer(filepath.Join(root, "tmp"), cli, env)
	if err != nil {
		c = nil
	}
	if h.awscli == nil {
		h.awscli = map[string]*hsmclient.AWSCLIServer{}
	}
	h.awscli[instanceID] = c
	return c
}

// Processes reports, as JSON lines, every process started on the emulated instances (the agent's
// shell and each tool, with argv and environment) and every file left in their roots, for the
// sandbox's secret scan.
func (s *Service) Processes() []byte {
	s.hostMu.Lock()
	h := s.host
	s.hostMu.Unlock()
	if h == nil { // nothing ran
		return nil
	}
	var buf bytes.Buffer
	h.mu.Lock()
	for _, p := range h.processes {
		b, _ := json.Marshal(p)
		buf.Write(append(b, '\n'))
	}
	h.mu.Unlock()
	_ = filepath.WalkDir(h.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			buf.Write(b)
			buf.WriteByte('\n')
		}
		return nil
	})
	return buf.Bytes()
}

// result is how one script run ended.
type result struct {
	stdout, stderr string
	code           int
	timedOut       bool
}

// maxCapture bounds what is kept of a script's output (SSM keeps less: maxStdout, maxStderr).
const maxCapture = 1 << 20

// execute runs c's step on the instance as the SSM agent does: the parameters substituted into the
// script, the script written to the agent's orchestration directory as _script.sh and run by
// `sh -c` (its #!/bin/bash line picks bash), with the instance's environment, until it exits or
// the step's timeoutSeconds pass. Sandbox time stands still while it runs (the clock is held), so
// real processes cost no sandbox time. ctx cancels the run (CancelCommand).
func (s *Service) execute(ctx context.Context, c *command, instanceID string) result {
	if h, ok := s.clock.(holder); ok {
		defer h.Hold()()
	}
	h, err := s.hostFor()
	if err != nil {
		return result{stderr: "sandbox: " + err.Error() + "\n", code: 1}
	}
	root, err := h.root(instanceID)
	if err != nil {
		return result{stderr: "sandbox: " + err.Error() + "\n", code: 1}
	}
	step := c.doc.parsed.MainSteps[0]
	dir := filepath.Join(root, "var/lib/amazon/ssm", instanceID, "document/orchestration", c.id, step.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return result{stderr: "sandbox: " + err.Error() + "\n", code: 1}
	}
	script := filepath.Join(dir, "_script.sh")
	if err := os.WriteFile(script, []byte(c.doc.parsed.Script(c.values)), 0o700); err != nil {
		return result{stderr: "sandbox: " + err.Error() + "\n", code: 1}
	}
	timeout := 3600 * time.Second
	if n, err := strconv.Atoi(step.Inputs.TimeoutSeconds); err == nil && n > 0 {
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := []string{"sh", "-c", script}
	env := s.instanceEnv(root, hsmclient.InstanceEndpoint(h.endpoint, instanceID), instanceID)
	if c := h.cliServer(instanceID, root, env); c != nil {
		env = append(env, hsmclient.EnvAWSCLIServer+"="+c.Socket)
	}
	h.record(hsmclient.Process{Tool: "sh", Argv: argv, Env: env})
	cmd := exec.CommandContext(ctx, "/bin/sh", argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The whole process group goes when the run is cancelled or times out, as the agent kills it.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.timedOut, r.code = true, -1
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		r.code = 1
		r.stderr += "sandbox: run the script: " + err.Error() + "\n"
	}
	_ = os.WriteFile(filepath.Join(dir, "stdout"), []byte(r.stdout), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "stderr"), []byte(r.stderr), 0o600)
	return r
}

// instanceEnv is the environment the agent gives a script on the instance: root's PATH with the
// instance's tools first, HOME, a private TMPDIR, the CloudHSM client's home, and what the AWS
// CLI needs to reach the sandbox as the instance role (on AWS: the instance profile through IMDS).
func (s *Service) instanceEnv(root, endpoint, instanceID string) []string {
	env := []string{
		"PATH=" + filepath.Join(root, "usr/local/bin") + ":" + filepath.Join(root, "opt/cloudhsm/bin") + ":/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(root, "root"), "TMPDIR=" + filepath.Join(root, "tmp"), "LANG=C.UTF-8",
		"CLOUDHSM_HOME=" + filepath.Join(root, "opt/cloudhsm"),
		hsmclient.EnvEndpoint + "=" + endpoint,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=", // the CLI's own retries, as on an instance (a throttled GetSecretValue is retried)
	}
	if s.aws.Endpoint != nil && s.aws.Credentials != nil {
		key, secret, token := s.aws.Credentials(instanceID)
		env = append(env, "AWS_ENDPOINT_URL="+s.aws.Endpoint(), "AWS_ACCESS_KEY_ID="+key,
			"AWS_SECRET_ACCESS_KEY="+secret, "AWS_SESSION_TOKEN="+token, "AWS_DEFAULT_REGION="+s.aws.Region)
	}
	if v := os.Getenv(hsmclient.EnvAWSCLI); v != "" {
		env = append(env, hsmclient.EnvAWSCLI+"="+v)
	}
	return env
}

// capped keeps the first maxCapture bytes written to it.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxCapture - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
