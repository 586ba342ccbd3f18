package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/iammutation"
)

// sandboxOut receives what the sandbox commands print (tests replace it).
var sandboxOut io.Writer = os.Stdout

// sandboxSubcommands are the subcommands of `strongroom sandbox`, which talk to a running sandbox
// through its admin API (pkg/sandbox/admin.go).
var sandboxSubcommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}{
	{"fault", "add, list or remove fault rules: throttling, errors or latency for matching calls", runSandboxFault},
	{"records", "print the calls the sandbox has served, as JSON", runSandboxRecords},
}

func runSandbox(ctx context.Context, args []string) error {
	if len(args) > 0 {
		for _, sub := range sandboxSubcommands {
			if args[0] == sub.name {
				return sub.run(ctx, args[1:])
			}
		}
	}
	var subs strings.Builder
	for _, sub := range sandboxSubcommands {
		fmt.Fprintf(&subs, "  %-8s %s\n", sub.name, sub.summary)
	}
	fs := newFlagSet("sandbox", []string{
		"strongroom sandbox [-addr host:port] [-scale N] [-v] [-cdkout DIR [-stacks \"A B\"]]",
		"strongroom sandbox <subcommand> [flags]",
	}, `
Serve every AWS API Strongroom calls, emulated on one local address with one clock, until interrupted
(Ctrl-C). It prints the environment variables that point AWS clients at it.

With -cdkout it first deploys a cloud assembly's stacks into it, as the demo does (each stack after
the ones it depends on; functions are the lambdas/* builds whose bytes match the assets, so run it from
the repository after make build synth): roles and policies, keys, topics, rules, state machines,
functions bound to their roles, and each custom resource's Create run to its answer. A custom
resource's workflow waits on the sandbox clock: give -scale (60 makes a cluster's creation take about
20 s). IAM is not enforced on the served sandbox (the demo enforces it).

Subcommands, for a running sandbox:
`+subs.String()+`
Run `+"`strongroom sandbox <subcommand> -h`"+` for a subcommand's flags.`)
	addr := fs.String("addr", sandbox.DefaultAddr, "address to listen on (127.0.0.1 only is recommended)")
	scale := fs.Float64("scale", 1, "sandbox seconds per wall second (for example 60 makes a 20-minute cluster creation take 20 s)")
	verbose := fs.Bool("v", false, "log every call (JSON, on stderr)")
	cdkOut := fs.String("cdkout", "", "deploy the stacks of this cloud assembly (for example cdk.out) before serving")
	stacks := fs.String("stacks", "", "with -cdkout, deploy only these stacks, space-separated (default: every stack in DIR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *stacks != "" && *cdkOut == "" {
		return usageErrorf(fs, "-stacks needs -cdkout: name the cloud assembly the stacks are in")
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unknown subcommand %q: want fault or records, before any flag", fs.Arg(0))
	}
	if !(*scale > 0) || math.IsInf(*scale, 1) {
		return usageErrorf(fs, "-scale %v: want a positive number", *scale)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	var order []string
	if *cdkOut != "" {
		if err := checkCDKOut("-cdkout", *cdkOut); err != nil {
			return err
		}
		all, err := iammutation.Stacks(*cdkOut)
		if err != nil {
			return fmt.Errorf("-cdkout %s: %w", *cdkOut, err)
		}
		order = all
		if *stacks != "" {
			want := strings.Fields(*stacks)
			for _, name := range want {
				if !slices.Contains(all, name) {
					return fmt.Errorf("-stacks: %s has no %s.template.json (it has %s)", *cdkOut, name, strings.Join(all, ", "))
				}
			}
			// In the assembly's order, so each stack comes after the ones it imports from.
			order = slices.DeleteFunc(slices.Clone(all), func(n string) bool { return !slices.Contains(want, n) })
		}
	}
	sb := sandbox.New(sandbox.Options{Scale: *scale, Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
	ready := func(u string) {
		fmt.Fprintf(sandboxOut, "# Strongroom sandbox on %s (clock x%g, services: %s). Point clients at it:\n", u, *scale, strings.Join(sb.ServiceIDs(), ", "))
		fmt.Fprint(sandboxOut, sb.Exports())
		fmt.Fprintln(sandboxOut, "# Interrupt (Ctrl-C) to stop. Faults: strongroom sandbox fault -h; calls: strongroom sandbox records.")
	}
	if len(order) == 0 {
		return sb.Serve(ctx, *addr, ready)
	}
	u, err := sb.Start(*addr)
	if err != nil {
		return err
	}
	if err := deployAssembly(ctx, sb, u, *cdkOut, order); err != nil {
		return errors.Join(err, sb.Close())
	}
	ready(u)
	<-ctx.Done()
	return sb.Close()
}

// deployAssembly deploys the stacks of cdkOut, in order, into the sandbox serving on u, printing
// each resource as it is created (as shell comments, so the output stays sourceable).
func deployAssembly(ctx context.Context, sb *sandbox.Sandbox, u, cdkOut string, order []string) error {
	root, err := findRepoRoot()
	if err != nil {
		return fmt.Errorf("-cdkout deploys functions from the repository's lambdas/ and build/: %w", err)
	}
	binDir, err := os.MkdirTemp("", "strongroom-sandbox-")
	if err != nil {
		return fmt.Errorf("create a directory for host builds: %w", err)
	}
	// The host builds are needed only until each is registered: the sandbox starts a function's
	// process from its own copy of the binary (lambda.RegisterBinary).
	defer os.RemoveAll(binDir)
	d := &deploy.Deployer{SB: sb, CDKOut: cdkOut, BuildDir: filepath.Join(root, "build"), RepoRoot: root, BinDir: binDir,
		FunctionLogs: sb.Recorder.Writer("function logs"),
		Cfg: aws.Config{Region: sb.Region, BaseEndpoint: aws.String(u),
			Credentials: credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, "")},
		Progress: func(format string, args ...any) { fmt.Fprintf(sandboxOut, "# deploy: "+format+"\n", args...) },
	}
	for _, name := range order {
		st, err := d.Deploy(ctx, name)
		if err != nil {
			return fmt.Errorf("-cdkout %s: deploy %s: %w", cdkOut, name, err)
		}
		fmt.Fprintf(sandboxOut, "# deployed %s: %d functions, %d state machines, %d custom resources; %d resources not emulated (placeholders)\n",
			name, len(st.Functions), len(st.Machines), len(st.CustomResources), len(st.NotEmulated))
	}
	return nil
}

func adminURL(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/") + "/_sandbox/"
}

func runSandboxFault(ctx context.Context, args []string) error {
	fs := newFlagSet("sandbox fault", []string{
		"strongroom sandbox fault [-addr host:port] -service S -kind throttle|internal|error|latency|lost-answer [rule flags]",
		"strongroom sandbox fault [-addr host:port] -list",
		"strongroom sandbox fault [-addr host:port] -clear",
	}, `
Add a fault rule to a running sandbox: calls matching -service and -operation fail with the service's
throttling exception (-kind throttle), its internal-failure exception (internal) or the exception
named by -code (error), or are delayed by -latency of sandbox time (latency). -caller aims it at the
calls of one Lambda function (each signs with credentials of its own); -skip lets the first N
matching calls pass; -count and -p limit which matching calls it applies to after that. It prints
the new rule's id as JSON.
-list prints the rules with their hit counts, as JSON; -clear removes every rule.`)
	addr := fs.String("addr", sandbox.DefaultAddr, "the running sandbox")
	var f sandbox.Fault
	fs.StringVar(&f.Service, "service", "", "service id: cloudhsmv2, kms, secretsmanager, ssm, sns, ec2, sts, lambda, events, states, s3 (CloudFormation response URLs), or * (required)")
	fs.StringVar(&f.Operation, "operation", "*", "operation name, for example CreateHsm, or *")
	kind := fs.String("kind", "", "throttle, internal, error, latency or lost-answer (served, then answered as internal) (required)")
	fs.StringVar(&f.Code, "code", "", "exception name, for -kind error (required there)")
	fs.StringVar(&f.Message, "message", "", "exception message, for -kind error")
	fs.IntVar(&f.Status, "status", 0, "HTTP status 400-599, for -kind error (0 means 400)")
	latency := fs.Duration("latency", 0, "sandbox-time delay, for -kind latency (required there), for example 5s")
	fs.StringVar(&f.Caller, "caller", "", "only calls made by this Lambda function, for example strongroom-e2e-cluster-check (default: any caller)")
	fs.IntVar(&f.Skip, "skip", 0, "let the first N matching calls pass before the rule applies")
	fs.IntVar(&f.Count, "count", 0, "apply to the next N matching calls (0: no limit)")
	fs.Float64Var(&f.Probability, "p", 0, "apply to each matching call with this probability, 0 to 1 (0: always)")
	list := fs.Bool("list", false, "list the rules instead")
	clearAll := fs.Bool("clear", false, "remove every rule instead")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	base := adminURL(*addr)
	if *list || *clearAll {
		if *list && *clearAll {
			return usageErrorf(fs, "-list and -clear exclude each other")
		}
		for _, name := range setFlags(fs) {
			if name != "addr" && name != "list" && name != "clear" {
				return usageErrorf(fs, "-%s does not go with -list or -clear, which take only -addr", name)
			}
		}
		if *list {
			return adminDo(ctx, http.MethodGet, base+"faults", nil, sandboxOut)
		}
		return adminDo(ctx, http.MethodDelete, base+"faults", nil, sandboxOut)
	}
	switch {
	case f.Service == "":
		return usageErrorf(fs, "-service is required: a service id such as kms, or *")
	case *kind == "":
		return usageErrorf(fs, "-kind is required: throttle, internal, error, latency or lost-answer")
	}
	f.Kind, f.Latency = sandbox.FaultKind(*kind), sandbox.Duration(*latency)
	if err := f.Validate(); err != nil {
		return usageErrorf(fs, "%v", err)
	}
	body, _ := json.Marshal(f)
	return adminDo(ctx, http.MethodPost, base+"faults", body, sandboxOut)
}

func runSandboxRecords(ctx context.Context, args []string) error {
	fs := newFlagSet("sandbox records", []string{
		"strongroom sandbox records [-addr host:port] [-service S] [-operation O]",
	}, `
Print the calls a running sandbox has served, oldest first, as a JSON array: each call's service,
operation, HTTP status, error code and injected fault if any, and its request and response bodies
as text.`)
	addr := fs.String("addr", sandbox.DefaultAddr, "the running sandbox")
	service := fs.String("service", "", "only this service, for example kms (default: every service)")
	operation := fs.String("operation", "", "only this operation, for example CreateKey (default: every operation)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	q := url.Values{}
	q.Set("service", *service)
	q.Set("operation", *operation)
	return adminDo(ctx, http.MethodGet, adminURL(*addr)+"records?"+q.Encode(), nil, sandboxOut)
}

// adminDo calls the sandbox admin API and copies the answer to out.
func adminDo(ctx context.Context, method, u string, body []byte, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the sandbox admin API at %s (is `strongroom sandbox` running?): %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = out.Write(b)
	return err
}
