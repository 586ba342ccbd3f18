// Command strongroom is the operator's entry point: the local sandbox, the end-to-end demo and
// build-time checks. Each subcommand lives in its own file, registers itself in commands and keeps
// its usage text next to its flags; this file only dispatches and maps outcomes to exit statuses
// (the contract is stated in usage.go):
//
//	strongroom, strongroom help, strongroom -h    the list of commands (bare strongroom: stderr, exit 2)
//	strongroom help COMMAND [SUBCOMMAND]          a command's usage, the same as COMMAND [SUBCOMMAND] -h
//	strongroom version, strongroom --version      the version this binary was built from
//
// The version comes from the build information the go command embeds (runtime/debug.ReadBuildInfo):
// the main module's version (a tag or a pseudo-version, "(devel)" when the build had none) and,
// when the binary was built from a version-control checkout, the revision and whether the tree had
// uncommitted changes. go run and go test embed no revision.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: a one-line summary and a run function taking the arguments after
// its name. run keeps the contract in usage.go: for -h it returns a *helpRequest without doing
// anything else (`strongroom help COMMAND` relies on that), and it reports a command line it
// cannot run as a *usageError.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands are the subcommands other than the builtins, one table so that each is registered the
// same way; each run function lives in the file named after its command.
var commands = map[string]command{
	"cost": {
		summary: "print the hourly and monthly cost of what each stack of a cloud assembly creates (HSMs, instances, NAT, endpoints)",
		run:     runCost,
	},
	"demo": {
		summary: "run the alerts, rotation, cluster and key store workflows end to end in a local sandbox",
		run:     runDemo,
	},
	"iam-report": {
		summary: "least privilege, measured: each role's granted actions against the IAM decisions of a demo run",
		run:     runIAMReport,
	},
	"nag-report": {
		summary: "fail on any unsuppressed cdk-nag finding in a cloud assembly; -suppressed lists the suppressions and their reasons",
		run:     runNagReport,
	},
	"sandbox": {
		summary: "serve the local AWS sandbox; its subcommands fault and records inject faults into it and list its calls",
		run:     runSandbox,
	},
}

// builtins are the commands this file answers itself, listed with the others.
var builtins = map[string]string{
	"help":    "print this list, or a command's usage and flags (help COMMAND [SUBCOMMAND])",
	"version": "print the version this binary was built from (also --version)",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args (without the program name) and returns the exit status: 0 on success or
// help, 2 for a command line that cannot run, 1 for a runtime failure. What strongroom itself
// prints (usage, errors, the version) goes to stdout and stderr; subcommands print their results
// to their own writers (sandboxOut, nagOut, demoOut).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return exitStatus(&usageError{msg: "missing command", usage: mainUsage()}, "", stdout, stderr)
	}
	name, rest := args[0], args[1:]
	var err error
	switch name {
	case "help", "-h", "-help", "--help":
		err = runHelp(ctx, rest)
	case "version", "-version", "--version":
		err = runVersion(rest, stdout)
	default:
		runCmd, ok := lookup(name)
		if !ok {
			what := "command"
			if strings.HasPrefix(name, "-") {
				what = "flag"
			}
			err = &usageError{msg: fmt.Sprintf("unknown %s %q", what, name), usage: mainUsage()}
			break
		}
		err = runCmd(ctx, rest)
	}
	return exitStatus(err, name, stdout, stderr)
}

// lookup returns the run function of the subcommand name.
func lookup(name string) (func(ctx context.Context, args []string) error, bool) {
	cmd, ok := commands[name]
	return cmd.run, ok
}

// exitStatus prints what err calls for and returns the exit status.
func exitStatus(err error, name string, stdout, stderr io.Writer) int {
	var help *helpRequest
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, help.usage)
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %s\n", strings.TrimSpace("strongroom "+usage.cmd), usage.msg)
		fmt.Fprint(stderr, usage.usage)
		return 2
	default:
		fmt.Fprintf(stderr, "strongroom %s: %v\n", name, err)
		return 1
	}
}

// mainUsage lists every command.
func mainUsage() string {
	summaries := map[string]string{}
	for n, c := range commands {
		summaries[n] = c.summary
	}
	for n, s := range builtins {
		summaries[n] = s
	}
	names := make([]string, 0, len(summaries))
	width := 0
	for n := range summaries {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("strongroom runs Strongroom's local AWS sandbox and end-to-end demo, and checks its build.\n\n")
	b.WriteString("usage: strongroom <command> [flags] [arguments]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, summaries[n])
	}
	b.WriteString("\nRun `strongroom help <command>` or `strongroom <command> -h` for a command's usage and flags.\n")
	return b.String()
}

// runHelp answers `strongroom help [COMMAND [SUBCOMMAND]]` by running COMMAND [SUBCOMMAND] -h,
// so the two print the same usage.
func runHelp(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &helpRequest{usage: mainUsage()}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return &usageError{cmd: "help", msg: fmt.Sprintf("unexpected argument %q", args[1]), usage: helpUsage}
		}
		return &helpRequest{usage: helpUsage}
	case "version":
		return runVersion(append(args[1:len(args):len(args)], "-h"), io.Discard)
	}
	runCmd, ok := lookup(args[0])
	if !ok {
		return &usageError{cmd: "help", msg: fmt.Sprintf("unknown command %q", args[0]), usage: mainUsage()}
	}
	return runCmd(ctx, append(args[1:len(args):len(args)], "-h"))
}

const helpUsage = `usage: strongroom help [COMMAND [SUBCOMMAND]]

Without a command, list strongroom's commands. With one, print its usage and flags, the same as
strongroom COMMAND [SUBCOMMAND] -h.
`

// runVersion prints the version this binary was built from.
func runVersion(args []string, stdout io.Writer) error {
	fs := newFlagSet("version", []string{"strongroom version", "strongroom --version"}, `
Print the version this binary was built from, as the go command recorded it in the binary: the main
module's version (a release tag, a pseudo-version derived from the commit, or "(devel)" when the build
recorded none), then the version-control revision and whether the working tree had uncommitted
changes, when the build recorded them (go build in a checkout does; go run and go test do not), then
the Go toolchain.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo() // nil when the binary has none
	_, err := io.WriteString(stdout, versionText(info))
	return err
}

// versionText is what `strongroom version` prints for the build information info (nil when the
// binary has none).
func versionText(info *debug.BuildInfo) string {
	version := "(devel)"
	if info != nil && info.Main.Version != "" {
		version = info.Main.Version
	}
	var b strings.Builder
	fmt.Fprintf(&b, "strongroom %s\n", version)
	if info == nil {
		return b.String()
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "revision %s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString("\n")
	}
	if info.GoVersion != "" {
		fmt.Fprintf(&b, "built with %s %s/%s\n", info.GoVersion, runtime.GOOS, runtime.GOARCH)
	}
	return b.String()
}
