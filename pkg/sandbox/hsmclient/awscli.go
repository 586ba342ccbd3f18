package hsmclient

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// EnvAWSCLIServer names the variable with the Unix socket of an AWS CLI start server
// (StartAWSCLIServer); when it is set and answers, the aws shim runs the CLI through it instead of
// starting a new interpreter.
const EnvAWSCLIServer = "STRONGROOM_SANDBOX_AWS_CLI_SERVER"

// awsCLIServerPy is the start server (see its header).
//
//go:embed awscli_server.py
var awsCLIServerPy []byte

// AWSCLIServer runs the real AWS CLI for the instance's scripts without paying its interpreter
// start on every call. Debian's AWS CLI is a Python program that spends about 0.5 s of its 0.8 s
// (on an idle machine; over 1.4 s under the test suite's load) importing its modules before it
// makes one call, and every document on the instance calls it two or three times. The server
// imports the CLI once and forks a child per run; the child runs the CLI's own script, unchanged,
// with the run's argv, environment, directory and standard streams (passed as file descriptors),
// so what the scripts see (output, errors, exit codes, the CLI's retries) is the CLI's. It is a
// sandbox measure only: on an instance the scripts call the installed `aws` as they do here.
type AWSCLIServer struct {
	Socket string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dir    string
}

// StartAWSCLIServer starts the server for the Python AWS CLI at cli, with its socket and script in
// a new directory under dir, in the environment env (the instance's: the server imports the CLI
// in it, and serves only runs that agree with it in what the import reads). It fails when cli is
// not a Python script whose interpreter can import awscli (the AWS installer's frozen build, for
// one); the shim then starts the CLI itself.
func StartAWSCLIServer(dir, cli string, env []string) (*AWSCLIServer, error) {
	interp, err := pythonOf(cli)
	if err != nil {
		return nil, err
	}
	d, err := os.MkdirTemp(dir, "awscli-")
	if err != nil {
		return nil, fmt.Errorf("make the AWS CLI server's directory: %w", err)
	}
	script := filepath.Join(d, "server.py")
	if err := os.WriteFile(script, awsCLIServerPy, 0o600); err != nil {
		_ = os.RemoveAll(d)
		return nil, fmt.Errorf("write the AWS CLI server: %w", err)
	}
	s := &AWSCLIServer{Socket: filepath.Join(d, "s"), dir: d}
	s.cmd = exec.Command(interp, script, s.Socket, cli)
	s.cmd.Env = env
	var stderr bytes.Buffer
	s.cmd.Stderr = &stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		_ = os.RemoveAll(d)
		return nil, fmt.Errorf("start the AWS CLI server: %w", err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(d)
		return nil, fmt.Errorf("start the AWS CLI server: %w", err)
	}
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(d)
		return nil, fmt.Errorf("start the AWS CLI server %s: %w", interp, err)
	}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		if line == "ready\n" {
			return s, nil
		}
	case <-time.After(30 * time.Second):
	}
	s.Close()
	return nil, fmt.Errorf("the AWS CLI server for %s did not start: %s", cli, strings.TrimSpace(stderr.String()))
}

// Close stops the server (runs under way finish on their own) and removes its directory.
func (s *AWSCLIServer) Close() {
	if s == nil {
		return
	}
	_ = s.stdin.Close() // the server exits at end of input
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = os.RemoveAll(s.dir)
}

// pythonOf returns the interpreter of the Python script at path, from its #! line.
func pythonOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open the AWS CLI %s: %w", path, err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	interp, ok := strings.CutPrefix(strings.TrimSpace(line), "#!")
	if fields := strings.Fields(interp); ok && len(fields) == 1 && strings.Contains(filepath.Base(fields[0]), "python") {
		return fields[0], nil
	}
	return "", fmt.Errorf("the AWS CLI %s is not a Python script (first line %q)", path, strings.TrimSpace(line))
}

// refused is the server's answer to a run it does not serve (REFUSED in awscli_server.py).
const refused = -1000

// errNoServer means the server could not be reached; the shim then starts the CLI itself.
var errNoServer = errors.New("no AWS CLI server")

// runViaServer runs argv (argv[0] is ignored: the server runs its own CLI) through the server at
// socket with this process's standard streams, environment env and working directory, and returns
// the run's exit code.
func runViaServer(socket string, argv, env []string) (int, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errNoServer, err)
	}
	defer conn.Close()
	dir, err := os.Getwd()
	if err != nil {
		return 0, fmt.Errorf("%w: working directory: %v", errNoServer, err)
	}
	body, err := json.Marshal(map[string]any{"argv": argv, "env": env, "dir": dir})
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errNoServer, err)
	}
	head := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	rights := syscall.UnixRights(int(os.Stdin.Fd()), int(os.Stdout.Fd()), int(os.Stderr.Fd()))
	if _, _, err := conn.WriteMsgUnix(head, rights, nil); err != nil {
		return 0, fmt.Errorf("%w: send the streams: %v", errNoServer, err)
	}
	if _, err := conn.Write(body); err != nil {
		return 0, fmt.Errorf("send the run to the AWS CLI server: %w", err)
	}
	var code int32
	if err := binary.Read(conn, binary.BigEndian, &code); err != nil {
		return 0, fmt.Errorf("the AWS CLI run ended without an exit code (it crashed or was killed): %w", err)
	}
	if code == refused {
		return 0, fmt.Errorf("%w for this environment (it differs in what the CLI's start reads)", errNoServer)
	}
	return int(code), nil
}
