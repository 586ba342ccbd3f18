package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
)

// The tests in this file hold strongroom to the command-line contract stated in usage.go: help on
// stdout with exit status 0, a refused command line on stderr with exit status 2, a runtime
// failure with exit status 1.

// runCaptured runs the command line args as main does, with what strongroom and its subcommands
// print captured.
func runCaptured(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCapturedCtx(t, context.Background(), args...)
}

// runCapturedCtx is runCaptured with ctx; tests of command lines that must not run pass one that
// has ended, so that one wrongly accepted returns at once instead of serving a sandbox or running
// the demo.
func runCapturedCtx(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	oldNag, oldSandbox, oldDemo := nagOut, sandboxOut, demoOut
	nagOut, sandboxOut, demoOut = &out, &out, &out
	defer func() { nagOut, sandboxOut, demoOut = oldNag, oldSandbox, oldDemo }()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// canceled is a context that has ended.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// commandFlags lists every command path with the flags its usage must show. Every command in
// commands and builtins must have an entry (TestEveryCommandIsCovered).
var commandFlags = map[string][]string{
	"cost":            {"region", "stacks"},
	"demo":            {"iam-decisions", "only", "root", "scale", "v"},
	"iam-report":      {"cdkout", "decisions", "stacks", "strict", "test-decisions"},
	"help":            nil,
	"nag-report":      {"suppressed"},
	"sandbox":         {"addr", "scale", "v"},
	"sandbox fault":   {"addr", "caller", "clear", "code", "count", "kind", "latency", "list", "message", "operation", "p", "service", "skip", "status"},
	"sandbox records": {"addr", "operation", "service"},
	"version":         nil,
}

func TestEveryCommandIsCovered(t *testing.T) {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	for n := range builtins {
		names = append(names, n)
	}
	for _, sub := range sandboxSubcommands {
		names = append(names, "sandbox "+sub.name)
	}
	for _, n := range names {
		if _, ok := commandFlags[n]; !ok {
			t.Errorf("command %q has no entry in commandFlags, so its usage is not tested", n)
		}
	}
	if len(names) != len(commandFlags) {
		sort.Strings(names)
		t.Errorf("commands %v, but commandFlags has %d entries", names, len(commandFlags))
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"-help"}, {"--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runCaptured(t, args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
			}
			assertMainUsage(t, stdout)
		})
	}
	t.Run("no command", func(t *testing.T) {
		code, stdout, stderr := runCaptured(t)
		if code != 2 || stdout != "" {
			t.Fatalf("exit status %d, stdout:\n%s", code, stdout)
		}
		first, usage, _ := strings.Cut(stderr, "\n")
		if first != "strongroom: missing command" {
			t.Errorf("first line %q, want %q", first, "strongroom: missing command")
		}
		assertMainUsage(t, usage)
	})
}

// assertMainUsage checks that usage describes strongroom, lists every command with its summary
// and says how to get a command's usage.
func assertMainUsage(t *testing.T, usage string) {
	t.Helper()
	lines := strings.Split(usage, "\n")
	if !strings.HasPrefix(lines[0], "strongroom ") || !strings.Contains(usage, "usage: strongroom <command>") {
		t.Errorf("usage does not start with a description and a synopsis:\n%s", usage)
	}
	summaries := map[string]string{}
	for n, c := range commands {
		summaries[n] = c.summary
	}
	for n, s := range builtins {
		summaries[n] = s
	}
	for name, summary := range summaries {
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) > 1 && f[0] == name && strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), name)) == summary {
				found = true
			}
		}
		if !found {
			t.Errorf("usage has no line %q with its summary %q:\n%s", name, summary, usage)
		}
	}
	if !strings.Contains(usage, "strongroom help <command>") || !strings.Contains(usage, "strongroom <command> -h") {
		t.Errorf("usage does not say how to get a command's usage:\n%s", usage)
	}
}

// TestCommandHelp asks for each command's usage every way there is and checks that they agree,
// that each goes to stdout with exit status 0, and that each names the command and its flags.
func TestCommandHelp(t *testing.T) {
	for path, flags := range commandFlags {
		t.Run(path, func(t *testing.T) {
			p := strings.Fields(path)
			forms := [][]string{
				append([]string{"help"}, p...),
				append(append([]string{}, p...), "-h"),
				append(append([]string{}, p...), "-help"),
				append(append([]string{}, p...), "--help"),
			}
			var first string
			for i, args := range forms {
				code, stdout, stderr := runCapturedCtx(t, canceled(), args...)
				if code != 0 || stderr != "" || stdout == "" {
					t.Errorf("%q: exit status %d, stderr:\n%s\nstdout:\n%s", args, code, stderr, stdout)
					continue
				}
				if i == 0 {
					first = stdout
				} else if stdout != first {
					t.Errorf("%q prints another usage than %q:\n%s\nversus:\n%s", args, forms[0], stdout, first)
				}
			}
			if !strings.HasPrefix(first, "usage: strongroom "+path) {
				t.Errorf("usage does not start with the synopsis of strongroom %s:\n%s", path, first)
			}
			for _, f := range flags {
				// flag.PrintDefaults puts a one-letter boolean's usage on its line after a tab.
				if !strings.Contains(first, "\n  -"+f+" ") && !strings.Contains(first, "\n  -"+f+"\n") && !strings.Contains(first, "\n  -"+f+"\t") {
					t.Errorf("usage does not list -%s:\n%s", f, first)
				}
			}
		})
	}
}

// TestHelpShowsDefaults spot-checks that flag defaults appear in the usage.
func TestHelpShowsDefaults(t *testing.T) {
	for _, c := range []struct{ args, want []string }{
		{[]string{"sandbox", "-h"}, []string{`(default "127.0.0.1:4580")`, "(default 1)"}},
		{[]string{"sandbox", "fault", "-h"}, []string{`(default "127.0.0.1:4580")`, `(default "*")`}},
		{[]string{"demo", "-h"}, []string{"usage: strongroom demo [-scale N] [-only alerts|rotation|cluster] [-v] [-root DIR] [-cdkout DIR] [-iam-decisions FILE]\n",
			"make build synth deps", "\n  -cdkout ", "(default: cdk.out under the repository root)", "\n  -only ", "\n  -root ", "(default: found from the working directory)", "\n  -scale ", "(default 120)", "\n  -v"}},
		{[]string{"sandbox", "-h"}, []string{"  fault ", "  records ", "strongroom sandbox <subcommand> -h", "\n  -cdkout ", "\n  -stacks "}},
	} {
		_, stdout, _ := runCapturedCtx(t, canceled(), c.args...)
		assertInOrder(t, strings.Join(c.args, " "), stdout, c.want)
	}
}

// TestUsageErrors runs command lines that cannot run: each must print one line naming the problem
// and then the usage of the command it belongs to, on stderr, and exit with status 2. The context
// has ended, so a command line wrongly accepted returns instead of serving or running the demo.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args  []string
		first string // the first line of stderr
		usage string // what the usage that follows starts with
	}{
		{[]string{"bogus"}, `strongroom: unknown command "bogus"`, "strongroom runs"},
		{[]string{"-x"}, `strongroom: unknown flag "-x"`, "strongroom runs"},
		{[]string{"help", "bogus"}, `strongroom help: unknown command "bogus"`, "strongroom runs"},
		{[]string{"help", "help", "more"}, `strongroom help: unexpected argument "more"`, "usage: strongroom help"},
		{[]string{"version", "now"}, `strongroom version: unexpected argument "now" (strongroom version takes no arguments)`, "usage: strongroom version"},
		{[]string{"--version", "-short"}, `strongroom version: flag provided but not defined: -short`, "usage: strongroom version"},
		{[]string{"sandbox", "-bogus"}, "strongroom sandbox: flag provided but not defined: -bogus", "usage: strongroom sandbox"},
		{[]string{"sandbox", "faults"}, `strongroom sandbox: unknown subcommand "faults": want fault or records, before any flag`, "usage: strongroom sandbox"},
		{[]string{"sandbox", "-v", "records"}, `strongroom sandbox: unknown subcommand "records": want fault or records, before any flag`, "usage: strongroom sandbox"},
		{[]string{"sandbox", "-scale", "0"}, "strongroom sandbox: -scale 0: want a positive number", "usage: strongroom sandbox"},
		{[]string{"sandbox", "-scale", "NaN"}, "strongroom sandbox: -scale NaN: want a positive number", "usage: strongroom sandbox"},
		{[]string{"sandbox", "-scale", "fast"}, `strongroom sandbox: invalid value "fast" for flag -scale: parse error`, "usage: strongroom sandbox"},
		{[]string{"sandbox", "-addr"}, "strongroom sandbox: flag needs an argument: -addr", "usage: strongroom sandbox"},
		{[]string{"sandbox", "fault"}, "strongroom sandbox fault: -service is required: a service id such as kms, or *", "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-service", "kms"}, "strongroom sandbox fault: -kind is required: throttle, internal, error, latency or lost-answer", "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-service", "kms", "-kind", "slow"}, `strongroom sandbox fault: fault kind "slow": want throttle, internal, error, latency or lost-answer`, "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-service", "kms", "-kind", "error"}, "strongroom sandbox fault: fault kind error needs code: the exception name, for example ResourceNotFoundException", "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-service", "kms", "-kind", "throttle", "-p", "2"}, "strongroom sandbox fault: fault probability 2 is outside 0..1", "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-latency", "soon"}, `strongroom sandbox fault: invalid value "soon" for flag -latency: parse error`, "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-list", "-clear"}, "strongroom sandbox fault: -list and -clear exclude each other", "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-list", "-service", "kms"}, "strongroom sandbox fault: -service does not go with -list or -clear, which take only -addr", "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "fault", "-list", "kms"}, `strongroom sandbox fault: unexpected argument "kms" (strongroom sandbox fault takes no arguments)`, "usage: strongroom sandbox fault"},
		{[]string{"sandbox", "records", "kms"}, `strongroom sandbox records: unexpected argument "kms" (strongroom sandbox records takes no arguments)`, "usage: strongroom sandbox records"},
		{[]string{"sandbox", "records", "-since", "1m"}, "strongroom sandbox records: flag provided but not defined: -since", "usage: strongroom sandbox records"},
		{[]string{"demo", "-fast"}, "strongroom demo: flag provided but not defined: -fast", "usage: strongroom demo"},
		{[]string{"demo", "alerts"}, `strongroom demo: unexpected argument "alerts" (strongroom demo takes no arguments)`, "usage: strongroom demo"},
		{[]string{"demo", "-v", "-only", "alerts", "extra"}, `strongroom demo: unexpected argument "extra" (strongroom demo takes no arguments)`, "usage: strongroom demo"},
		{[]string{"demo", "-scale", "0"}, "strongroom demo: -scale 0: want a positive number of sandbox seconds per wall second, for example 120", "usage: strongroom demo"},
		{[]string{"demo", "-scale", "-5"}, "strongroom demo: -scale -5: want a positive number of sandbox seconds per wall second, for example 120", "usage: strongroom demo"},
		{[]string{"demo", "-scale", "NaN"}, "strongroom demo: -scale NaN: want a positive number of sandbox seconds per wall second, for example 120", "usage: strongroom demo"},
		{[]string{"demo", "-scale", "+Inf"}, "strongroom demo: -scale +Inf: want a positive number of sandbox seconds per wall second, for example 120", "usage: strongroom demo"},
		{[]string{"demo", "-scale", "fast"}, `strongroom demo: invalid value "fast" for flag -scale: parse error`, "usage: strongroom demo"},
		{[]string{"demo", "-only", "database"}, `strongroom demo: -only "database": want one of alerts, rotation, cluster`, "usage: strongroom demo"},
		{[]string{"demo", "-only", "bogus"}, `strongroom demo: -only "bogus": want one of alerts, rotation, cluster`, "usage: strongroom demo"},
		{[]string{"demo", "-root"}, "strongroom demo: flag needs an argument: -root", "usage: strongroom demo"},
		{[]string{"sandbox", "-stacks", "StrongroomAlerts"}, "strongroom sandbox: -stacks needs -cdkout: name the cloud assembly the stacks are in", "usage: strongroom sandbox"},
		{[]string{"nag-report"}, "strongroom nag-report: missing the cloud assembly directory, for example cdk.out", "usage: strongroom nag-report"},
		{[]string{"cost"}, "strongroom cost: missing the cloud assembly directory, for example cdk.out", "usage: strongroom cost"},
		{[]string{"cost", "a", "b"}, `strongroom cost: unexpected argument "b": cost reads one cloud assembly directory`, "usage: strongroom cost"},
		{[]string{"iam-report", "-stacks", " "}, `strongroom iam-report: -stacks is empty: name at least one stack, for example "StrongroomAlerts StrongroomDatabase StrongroomCluster StrongroomKeyStore"`, "usage: strongroom iam-report"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCapturedCtx(t, canceled(), c.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout:\n%s", stdout)
			}
			first, usage, _ := strings.Cut(stderr, "\n")
			if first != c.first {
				t.Errorf("first line of stderr:\n%s\nwant:\n%s", first, c.first)
			}
			if !strings.HasPrefix(usage, c.usage) {
				t.Errorf("stderr after the first line does not start with %q:\n%s", c.usage, usage)
			}
		})
	}
}

// TestRuntimeFailures checks that failures of a well-formed command line exit with status 1 and
// say which command failed.
func TestRuntimeFailures(t *testing.T) {
	emptyDir := t.TempDir()
	noDecisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	if err := os.WriteFile(noDecisions, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string // the start of stderr
	}{
		{[]string{"nag-report", t.TempDir()}, "strongroom nag-report: no *-NagReport.csv in "},
		{[]string{"nag-report", filepath.Join(t.TempDir(), "cdk.out")}, "strongroom nag-report: read nag reports: "},
		{[]string{"cost", t.TempDir()}, "strongroom cost: read the cloud assembly's manifest (run make synth first): "},
		{[]string{"iam-report", "-decisions", filepath.Join(t.TempDir(), "none.jsonl")}, "strongroom iam-report: open "},
		{[]string{"iam-report", "-decisions", noDecisions, "-test-decisions", emptyDir}, "strongroom iam-report: -test-decisions: " + emptyDir + " holds no *.jsonl: make test writes the kits' decisions there"},
		{[]string{"demo", "-cdkout", emptyDir, "-only", "alerts"}, "strongroom demo: -cdkout " + emptyDir + ": no *.template.json in it: pass the directory cdk synth wrote (make synth writes cdk.out)"},
		{[]string{"demo", "-cdkout", filepath.Join(emptyDir, "none")}, "strongroom demo: -cdkout " + filepath.Join(emptyDir, "none") + ": stat "},
		{[]string{"sandbox", "-cdkout", emptyDir}, "strongroom sandbox: -cdkout " + emptyDir + ": no *.template.json in it: pass the directory cdk synth wrote"},
		{[]string{"sandbox", "fault", "-addr", "127.0.0.1:1", "-list"}, "strongroom sandbox: reach the sandbox admin API at http://127.0.0.1:1/_sandbox/faults"},
		{[]string{"sandbox", "records", "-addr", "127.0.0.1:1"}, "strongroom sandbox: reach the sandbox admin API at http://127.0.0.1:1/_sandbox/records"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runCaptured(t, c.args...)
			if code != 1 || !strings.HasPrefix(stderr, c.want) {
				t.Errorf("exit status %d, stderr:\n%s\nwant 1 and stderr starting with %q", code, stderr, c.want)
			}
			if strings.Contains(stderr, "usage:") {
				t.Errorf("a runtime failure printed the usage:\n%s", stderr)
			}
		})
	}
}

// TestDemoOutsideTheRepository checks the one runtime failure the demo's command line can meet
// before running: well-formed flags, but no repository found from the working directory (an
// empty -root is the same as none). A command line the demo cannot run is still refused as such
// there, and -h still prints the usage.
func TestDemoOutsideTheRepository(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"demo", "-only", "alerts"}, {"demo", "-root", "", "-only", "alerts"}, {"demo", "-root="}} {
		code, stdout, stderr := runCapturedCtx(t, canceled(), args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "strongroom demo: no go.mod of github.com/strongroom/strongroom above ") {
			t.Errorf("%q: exit status %d, stdout:\n%s\nstderr:\n%s\nwant 1 and an error naming the missing repository", args, code, stdout, stderr)
		}
		if strings.Contains(stderr, "usage:") {
			t.Errorf("%q: a runtime failure printed the usage:\n%s", args, stderr)
		}
	}
	if code, _, stderr := runCapturedCtx(t, canceled(), "demo", "-scale", "NaN"); code != 2 || !strings.HasPrefix(stderr, "strongroom demo: -scale NaN: ") {
		t.Errorf("demo -scale NaN: exit status %d, stderr:\n%s\nwant 2 and the bad -scale named", code, stderr)
	}
	if code, stdout, _ := runCapturedCtx(t, canceled(), "demo", "-h"); code != 0 || !strings.HasPrefix(stdout, "usage: strongroom demo") {
		t.Errorf("demo -h: exit status %d, stdout:\n%s\nwant 0 and the usage", code, stdout)
	}
}

func TestVersionText(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	cases := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "strongroom (devel)\n"},
		{"go run: no version, no revision", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/strongroom/strongroom", Version: "(devel)"}},
			"strongroom (devel)\nbuilt with go1.26.0 " + platform + "\n"},
		{"empty main version", &debug.BuildInfo{GoVersion: "go1.26.0"}, "strongroom (devel)\nbuilt with go1.26.0 " + platform + "\n"},
		{"release from a clean checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "false"},
		}}, "strongroom v1.2.3\nrevision 0123456789abcdef (2026-01-02T03:04:05Z)\nbuilt with go1.26.0 " + platform + "\n"},
		{"pseudo-version with uncommitted changes", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"},
		}}, "strongroom v0.0.0-20260102030405-0123456789ab+dirty\nrevision 0123456789abcdef, with uncommitted changes\nbuilt with go1.26.0 " + platform + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := versionText(c.info); got != c.want {
				t.Errorf("versionText:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// TestVersionCommand checks that version and --version print the test binary's own build
// information and nothing on stderr.
func TestVersionCommand(t *testing.T) {
	info, _ := debug.ReadBuildInfo()
	want := versionText(info)
	for _, arg := range []string{"version", "--version", "-version"} {
		code, stdout, stderr := runCaptured(t, arg)
		if code != 0 || stderr != "" || stdout != want {
			t.Errorf("%s: exit status %d, stdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", arg, code, stdout, stderr, want)
		}
	}
}

// TestBinary builds strongroom as a person would (go build) and runs it: the exit statuses and
// streams must survive main's os.Exit, and version must report what the go command recorded in
// the binary, as `go version -m` reads it.
func TestBinary(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "strongroom")
	// -buildvcs=auto is go build's default; it is spelled out because GOFLAGS may turn stamping
	// off, and the revision is what version must report.
	if out, err := exec.Command(goCmd, "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	exe := func(args ...string) (code int, stdout, stderr string) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("run %s: %v", bin, err)
		}
		return code, out.String(), errOut.String()
	}

	cases := []struct {
		args   []string
		code   int
		stdout string // what stdout starts with; "" for nothing printed
		stderr string // what stderr starts with; "" for nothing printed
	}{
		{nil, 2, "", "strongroom: missing command\nstrongroom runs"},
		{[]string{"help"}, 0, "strongroom runs", ""},
		{[]string{"-h"}, 0, "strongroom runs", ""},
		{[]string{"--help"}, 0, "strongroom runs", ""},
		{[]string{"help", "sandbox", "fault"}, 0, "usage: strongroom sandbox fault", ""},
		{[]string{"sandbox", "fault", "-h"}, 0, "usage: strongroom sandbox fault", ""},
		{[]string{"nag-report", "--help"}, 0, "usage: strongroom nag-report", ""},
		{[]string{"demo", "-h"}, 0, "usage: strongroom demo", ""},
		{[]string{"bogus"}, 2, "", `strongroom: unknown command "bogus"`},
		{[]string{"nag-report"}, 2, "", "strongroom nag-report: missing the cloud assembly directory"},
		{[]string{"demo", "-fast"}, 2, "", "strongroom demo: flag provided but not defined: -fast\nusage: strongroom demo"},
		// -only alerts and an empty -root directory make a demo wrongly accepted fail at once.
		{[]string{"demo", "-scale", "NaN", "-only", "alerts", "-root", t.TempDir()}, 2, "", "strongroom demo: -scale NaN: want a positive number"},
		{[]string{"sandbox", "fault", "-kind", "slow", "-service", "kms"}, 2, "", `strongroom sandbox fault: fault kind "slow"`},
		{[]string{"nag-report", t.TempDir()}, 1, "", "strongroom nag-report: no *-NagReport.csv"},
		{[]string{"nag-report", "../../pkg/nagreport/testdata/compliant"}, 0, "nag-report: ../../pkg/nagreport/testdata/compliant: 1 report(s)", ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := exe(c.args...)
			if code != c.code {
				t.Errorf("exit status %d, want %d", code, c.code)
			}
			if c.stdout == "" && stdout != "" || !strings.HasPrefix(stdout, c.stdout) {
				t.Errorf("stdout:\n%s\nwant it to start with %q", stdout, c.stdout)
			}
			if c.stderr == "" && stderr != "" || !strings.HasPrefix(stderr, c.stderr) {
				t.Errorf("stderr:\n%s\nwant it to start with %q", stderr, c.stderr)
			}
		})
	}

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(goCmd, "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m: %v", err)
		}
		info := parseGoVersionM(t, string(out))
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		code, stdout, stderr := exe("version")
		if code != 0 || stderr != "" {
			t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
		}
		if want := versionText(info); stdout != want {
			t.Errorf("version printed:\n%s\nwant, from go version -m:\n%s", stdout, want)
		}
		// The same facts, checked without versionText.
		if info.Main.Version == "" || !strings.HasPrefix(stdout, "strongroom "+info.Main.Version+"\n") {
			t.Errorf("version does not start with the main module's version %q:\n%s", info.Main.Version, stdout)
		}
		if rev := settings["vcs.revision"]; rev != "" && !strings.Contains(stdout, "revision "+rev) {
			t.Errorf("version does not name revision %s:\n%s", rev, stdout)
		}
		if modified := strings.Contains(stdout, "uncommitted changes"); modified != (settings["vcs.modified"] == "true") {
			t.Errorf("vcs.modified=%s, but the version says:\n%s", settings["vcs.modified"], stdout)
		}
		if !strings.Contains(stdout, info.GoVersion) {
			t.Errorf("version does not name %s:\n%s", info.GoVersion, stdout)
		}
		if code, again, _ := exe("--version"); code != 0 || again != stdout {
			t.Errorf("--version: exit status %d, printed:\n%s\nwant what version printed", code, again)
		}
	})
}

// parseGoVersionM reads the output of `go version -m FILE` ("FILE: goX" and then the lines of
// debug.BuildInfo.String, each indented by a tab) into the build information it shows.
func parseGoVersionM(t *testing.T, out string) *debug.BuildInfo {
	t.Helper()
	head, body, ok := strings.Cut(out, "\n")
	i := strings.LastIndex(head, ": ")
	if !ok || i < 0 {
		t.Fatalf("go version -m printed:\n%s", out)
	}
	var b strings.Builder
	for _, l := range strings.Split(body, "\n") {
		if l = strings.TrimPrefix(l, "\t"); l != "" {
			b.WriteString(l + "\n")
		}
	}
	info, err := debug.ParseBuildInfo(b.String())
	if err != nil {
		t.Fatalf("parse go version -m output: %v\n%s", err, out)
	}
	info.GoVersion = head[i+2:] // ParseBuildInfo leaves it unset
	return info
}

// assertInOrder fails unless each of want occurs in got, each after the previous one.
func assertInOrder(t *testing.T, what, got string, want []string) {
	t.Helper()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (in this order):\n%s", what, w, got)
			return
		}
		rest = rest[i+len(w):]
	}
}
