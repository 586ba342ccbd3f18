package hsmclient

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeCLI is a Python "AWS CLI" that shows what a run sees: whether the server had imported
// awscli before it ran, its argv, one variable, its directory and its stdin; it exits with the
// code its first argument names, or sleeps when that is "sleep".
const fakeCLI = `#!/usr/bin/python3
import os, sys, time
print("preloaded=%s" % ("awscli.clidriver" in sys.modules))
print("argv=%s" % " ".join(sys.argv[1:]))
print("var=%s" % os.environ.get("RUN_VAR", "<unset>"))
print("dir=%s" % os.getcwd())
print("pid=%d" % os.getpid(), flush=True)
if sys.argv[1] == "sleep":
    time.sleep(60)
print("stdin=%s" % sys.stdin.read().strip())
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]))
`

func startFake(t *testing.T) (*AWSCLIServer, string) {
	t.Helper()
	if _, err := exec.Command("/usr/bin/python3", "-c", "import awscli.clidriver").CombinedOutput(); err != nil {
		t.Fatalf("Debian's awscli is not installed (make deps installs it): %v", err)
	}
	dir := t.TempDir()
	cli := filepath.Join(dir, "aws")
	if err := os.WriteFile(cli, []byte(fakeCLI), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := StartAWSCLIServer(dir, cli, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dir
}

// TestAWSCLIServerRunsTheCLIWithTheCallersStreamsAndEnvironment runs the shim's client side in a
// child process (this test binary, re-run) so that its standard streams are pipes the test reads.
func TestAWSCLIServerRunsTheCLIWithTheCallersStreamsAndEnvironment(t *testing.T) {
	if os.Getenv("AWSCLI_TEST_CLIENT") != "" {
		code, err := runViaServer(os.Getenv("AWSCLI_TEST_CLIENT"), os.Args[len(os.Args)-2:], append(os.Environ(), "RUN_VAR=from-env"))
		if err != nil {
			os.Stderr.WriteString("client: " + err.Error())
			os.Exit(99)
		}
		os.Exit(code)
	}
	s, _ := startFake(t)
	work := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAWSCLIServerRunsTheCLIWithTheCallersStreamsAndEnvironment$", "aws", "7")
	cmd.Env = append(os.Environ(), "AWSCLI_TEST_CLIENT="+s.Socket)
	cmd.Dir = work
	cmd.Stdin = strings.NewReader("piped input\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("exit: %v (want code 7)\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"preloaded=True", "argv=7\n", "var=from-env", "dir=" + work, "stdin=piped input"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.TrimSpace(stderr.String()) != "to stderr" {
		t.Errorf("stderr %q", stderr.String())
	}
}

// TestAWSCLIServerRunDiesWithItsCaller: a run whose caller is killed (SSM kills a timed-out
// script's process group, which holds the shim, not the server's child) is killed too.
func TestAWSCLIServerRunDiesWithItsCaller(t *testing.T) {
	s, _ := startFake(t)
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	body, _ := json.Marshal(map[string]any{"argv": []string{"aws", "sleep"}, "env": os.Environ(), "dir": "/"})
	rights := syscall.UnixRights(int(os.Stdin.Fd()), int(w.Fd()), int(w.Fd()))
	if _, _, err := conn.WriteMsgUnix(binary.BigEndian.AppendUint32(nil, uint32(len(body))), rights, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var pid int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "pid="); ok {
			pid, _ = strconv.Atoi(v)
			break
		}
	}
	if pid == 0 {
		t.Fatal("the run never started")
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("run %d is not running: %v", pid, err)
	}
	conn.Close() // the caller dies
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("run %d outlived its caller", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAWSCLIServerRefusesANonPythonCLI: a CLI that is not a Python script (the AWS installer's
// frozen build) gets no server; the shim then starts it itself.
func TestAWSCLIServerRefusesANonPythonCLI(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "aws")
	if err := os.WriteFile(cli, []byte("\x7fELF..."), 0o755); err != nil {
		t.Fatal(err)
	}
	if s, err := StartAWSCLIServer(dir, cli, os.Environ()); err == nil || !strings.Contains(err.Error(), "not a Python script") {
		s.Close()
		t.Fatalf("StartAWSCLIServer on a binary: %v", err)
	}
	if _, err := runViaServer(filepath.Join(dir, "no-socket"), []string{"aws"}, nil); !errors.Is(err, errNoServer) {
		t.Fatalf("run without a server: %v, want errNoServer (the shim falls back to exec)", err)
	}
}

// TestAWSCLIServerRefusesARunItWouldNotStartAlike: a run whose HOME or AWS_DATA_PATH differs from
// the server's (the CLI's imports fix paths from them) is refused before it runs, so the shim
// starts the CLI itself; the same run in the server's environment is served.
func TestAWSCLIServerRefusesARunItWouldNotStartAlike(t *testing.T) {
	s, _ := startFake(t)
	for _, extra := range []string{"HOME=/elsewhere", "AWS_DATA_PATH=/models", "PYTHONPATH=/lib"} {
		if _, err := runViaServer(s.Socket, []string{"aws", "0"}, append(os.Environ(), extra)); !errors.Is(err, errNoServer) {
			t.Errorf("run with %s: %v, want errNoServer", extra, err)
		}
	}
}
