package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox"
)

// sandboxOut receives what the sandbox commands print (tests replace it).
var sandboxOut io.Writer = os.Stdout

func init() {
	commands["sandbox"] = command{
		summary: "serve the local AWS sandbox (subcommands: fault, records)",
		run:     runSandbox,
	}
}

func runSandbox(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "fault":
			return runSandboxFault(ctx, args[1:])
		case "records":
			return runSandboxRecords(ctx, args[1:])
		}
	}
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", sandbox.DefaultAddr, "address to listen on (127.0.0.1 only is recommended)")
	scale := fs.Float64("scale", 1, "sandbox seconds per wall second (for example 60 makes a 20-minute cluster creation take 20 s)")
	verbose := fs.Bool("v", false, "log every call")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: strongroom sandbox [-addr 127.0.0.1:4580] [-scale N] [-v]\n       strongroom sandbox fault -service S -kind throttle|internal|error|latency [...] | -list | -clear\n       strongroom sandbox records [-service S] [-operation O]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scale <= 0 {
		return fmt.Errorf("-scale %v: want a positive number", *scale)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	sb := sandbox.New(sandbox.Options{Scale: *scale, Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
	return sb.Serve(ctx, *addr, func(u string) {
		fmt.Fprintf(sandboxOut, "# Strongroom sandbox on %s (clock x%g, services: %s). Point clients at it:\n", u, *scale, strings.Join(sb.ServiceIDs(), ", "))
		fmt.Fprint(sandboxOut, sb.Exports())
		fmt.Fprintln(sandboxOut, "# Interrupt (Ctrl-C) to stop. Faults: strongroom sandbox fault -h; calls: strongroom sandbox records.")
	})
}

func adminURL(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/") + "/_sandbox/"
}

func runSandboxFault(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sandbox fault", flag.ContinueOnError)
	addr := fs.String("addr", sandbox.DefaultAddr, "the running sandbox")
	var f sandbox.Fault
	fs.StringVar(&f.Service, "service", "", "service id: cloudhsmv2, kms, secretsmanager, ssm, sns, ec2, sts, lambda, events, states, s3 (CloudFormation response URLs), or * (required)")
	fs.StringVar(&f.Operation, "operation", "*", "operation name, for example CreateHsm, or *")
	kind := fs.String("kind", "", "throttle, internal, error or latency (required)")
	fs.StringVar(&f.Code, "code", "", "exception name, for -kind error")
	fs.StringVar(&f.Message, "message", "", "exception message, for -kind error")
	fs.IntVar(&f.Status, "status", 0, "HTTP status, for -kind error (default 400)")
	latency := fs.Duration("latency", 0, "sandbox-time delay, for -kind latency")
	fs.IntVar(&f.Count, "count", 0, "apply to the next N matching calls (0: no limit)")
	fs.Float64Var(&f.Probability, "p", 0, "apply to each matching call with this probability (0: always)")
	list := fs.Bool("list", false, "list the rules instead")
	clearAll := fs.Bool("clear", false, "remove every rule instead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base := adminURL(*addr)
	switch {
	case *list:
		return adminDo(ctx, http.MethodGet, base+"faults", nil, sandboxOut)
	case *clearAll:
		return adminDo(ctx, http.MethodDelete, base+"faults", nil, sandboxOut)
	}
	f.Kind, f.Latency = sandbox.FaultKind(*kind), sandbox.Duration(*latency)
	if err := f.Validate(); err != nil {
		return err
	}
	body, _ := json.Marshal(f)
	return adminDo(ctx, http.MethodPost, base+"faults", body, sandboxOut)
}

func runSandboxRecords(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sandbox records", flag.ContinueOnError)
	addr := fs.String("addr", sandbox.DefaultAddr, "the running sandbox")
	service := fs.String("service", "", "only this service")
	operation := fs.String("operation", "", "only this operation")
	if err := fs.Parse(args); err != nil {
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
