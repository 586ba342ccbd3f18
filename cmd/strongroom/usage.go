package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The command line's contract, which main.go turns into output and an exit status:
//
//   - Asked for help (-h, -help or --help before any argument, or `strongroom help COMMAND`), a
//     command returns a *helpRequest and does nothing else; its usage goes to stdout, exit status 0.
//   - Given a command line it cannot run (an unknown flag or subcommand, a missing, extra or
//     invalid argument or flag value), a command returns a *usageError; one line naming the
//     problem and then the usage go to stderr, exit status 2.
//   - Any other error is a runtime failure: "strongroom COMMAND: error" on stderr, exit status 1.
//
// Subcommands build their flags with newFlagSet and parse them with parseFlags, which keep that
// contract for everything the flag package detects; the checks a command adds after parsing
// report through usageErrorf.

// helpRequest carries the usage a command was asked for.
type helpRequest struct{ usage string }

func (*helpRequest) Error() string { return "help requested" }

// usageError is a command line that cannot run.
type usageError struct {
	cmd   string // the command path, for example "sandbox fault"; "" for strongroom itself
	msg   string // what was wrong, one line
	usage string // the usage of cmd
}

func (e *usageError) Error() string { return e.msg }

// newFlagSet returns the flag set of the command path name (for example "sandbox fault"). Its
// usage is "usage: " and each synopsis line, the description, then every flag with its default
// (as flag.PrintDefaults shows them: zero defaults are implied). The set itself prints nothing;
// parseFlags hands the usage to main.go, which prints it to stdout or stderr as the contract says.
func newFlagSet(name string, synopsis []string, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		for i, s := range synopsis {
			if i == 0 {
				fmt.Fprintf(w, "usage: %s\n", s)
			} else {
				fmt.Fprintf(w, "       %s\n", s)
			}
		}
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(description))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// usageOf renders fs's usage.
func usageOf(fs *flag.FlagSet) string {
	var b strings.Builder
	out := fs.Output()
	fs.SetOutput(&b)
	fs.Usage()
	fs.SetOutput(out)
	return b.String()
}

// parseFlags parses args with fs (made by newFlagSet). It returns a *helpRequest for -h, -help
// or --help, a *usageError for any other flag the flag package refuses, and nil otherwise.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return &helpRequest{usage: usageOf(fs)}
	case err != nil:
		return &usageError{cmd: fs.Name(), msg: err.Error(), usage: usageOf(fs)}
	}
	return nil
}

// usageErrorf is a *usageError of fs's command with fs's usage.
func usageErrorf(fs *flag.FlagSet, format string, args ...any) error {
	return &usageError{cmd: fs.Name(), msg: fmt.Sprintf(format, args...), usage: usageOf(fs)}
}

// noArgs is a *usageError naming the first argument left after parsing, for the commands that
// take flags only; nil when none is left.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	return usageErrorf(fs, "unexpected argument %q (strongroom %s takes no arguments)", fs.Arg(0), fs.Name())
}

// setFlags returns the names of the flags the command line set, in lexical order, for checks of
// flags that exclude each other.
func setFlags(fs *flag.FlagSet) []string {
	var set []string
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	return set
}
