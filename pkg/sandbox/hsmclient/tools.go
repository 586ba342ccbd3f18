package hsmclient

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Tool names, as the instance links them.
const (
	CloudHSMCLI  = "cloudhsm-cli"
	ConfigureCLI = "configure-cli"
	AWSCLI       = "aws"
)

// EnvAWSCLI names the variable with the path of the real AWS CLI the aws shim runs; it defaults to
// DefaultAWSCLI.
const EnvAWSCLI = "STRONGROOM_SANDBOX_AWS_CLI"

// DefaultAWSCLI is Debian's AWS CLI (package awscli, installed by `make deps`).
const DefaultAWSCLI = "/usr/bin/aws"

// tool runs one tool and returns its exit code.
type tool func(args []string, env []string, stdin io.Reader, stdout, stderr io.Writer) int

func init() {
	name := filepath.Base(os.Args[0])
	var t tool
	switch name {
	case CloudHSMCLI:
		t = cloudhsmCLI
	case ConfigureCLI:
		t = configureCLI
	case AWSCLI:
		t = awsShim
	default:
		return
	}
	if os.Getenv(EnvEndpoint) == "" {
		// Not on the emulated instance: this binary was merely started under a tool's name.
		fmt.Fprintf(os.Stderr, "%s: this is the Strongroom sandbox's stand-in; it runs only on the sandbox's emulated client instance (%s is unset)\n", name, EnvEndpoint)
		os.Exit(1)
	}
	c := newClient(os.Getenv(EnvEndpoint))
	if err := c.record(Process{Tool: name, Argv: os.Args, Env: os.Environ()}); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(t(os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// Link installs the tool name in dir as a link to this executable, so that running it runs the
// tool (see the package doc).
func Link(dir, name string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this executable to link %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	dst := filepath.Join(dir, name)
	_ = os.Remove(dst)
	if err := os.Symlink(exe, dst); err != nil {
		return fmt.Errorf("link %s: %w", dst, err)
	}
	return nil
}

// awsShim runs the real AWS CLI with the same arguments, pointed at the sandbox (AWS_ENDPOINT_URL,
// which the instance sets, as --endpoint-url too for CLI versions that ignore the variable): through
// the instance's AWS CLI server when there is one (awscli.go), else by exec. The start is recorded
// by init before either, so the scan sees the CLI's argv and environment.
func awsShim(args []string, env []string, _ io.Reader, _, stderr io.Writer) int {
	real := lookup(env, EnvAWSCLI)
	if real == "" {
		real = DefaultAWSCLI
	}
	argv := []string{real}
	if url := lookup(env, "AWS_ENDPOINT_URL"); url != "" && !hasFlag(args[1:], "--endpoint-url") {
		argv = append(argv, "--endpoint-url", url)
	}
	argv = append(argv, args[1:]...)
	if socket := lookup(env, EnvAWSCLIServer); socket != "" {
		code, err := runViaServer(socket, argv, env)
		if err == nil {
			return code
		}
		if !errors.Is(err, errNoServer) { // the run began: starting it again could repeat a call
			fmt.Fprintf(stderr, "aws: %v\n", err)
			return 255
		}
	}
	err := syscall.Exec(real, argv, env)
	fmt.Fprintf(stderr, "aws: run %s: %v (run `make deps`: it installs Debian's awscli)\n", real, err)
	return 127
}

func lookup(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}
