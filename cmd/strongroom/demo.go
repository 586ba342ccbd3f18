package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
)

// The demo runs Strongroom's workflows end to end in one process against a fresh sandbox on
// 127.0.0.1:0: the alerts stack from cdk.out with the real relay binary, MariaDB credential rotation
// with the real rotation binary against a real MariaDB server, and (when cdk.out has it) the
// CloudHSM cluster stack's custom resource through Create, an HsmCount update and Delete, with the
// KMS key store stack deployed on the ACTIVE cluster in between (connected, used, deleted). It prints
// for a person: short headings, one line per event, sandbox time on the left.

// demoOut receives what the demo prints (tests replace it).
var demoOut io.Writer = os.Stdout

// demoSections are the sections in the order they run.
var demoSections = []string{"alerts", "rotation", "cluster"}

// DefaultDemoScale runs the sandbox clock 120 times faster than wall time: the cluster's
// twenty-odd minutes of CloudHSM state changes take seconds, while rotation and alert delivery
// (which wait for nothing) are unaffected.
const DefaultDemoScale = 120

func init() {
	commands["demo"] = command{
		summary: "run the alerts, rotation, cluster and key store workflows end to end in a local sandbox",
		run:     runDemo,
	}
}

// demoConfig is the demo's parsed command line.
type demoConfig struct {
	scale   float64
	only    string
	verbose bool
	root    string
}

func parseDemoFlags(args []string) (demoConfig, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(demoOut)
	var c demoConfig
	fs.Float64Var(&c.scale, "scale", DefaultDemoScale, "sandbox seconds per wall second; Lambda steps take real wall time, so far above the default\n"+
		"a step can outlast its 120 s (sandbox) Task timeout and the cluster workflow fails with States.Timeout")
	fs.StringVar(&c.only, "only", "", "run one section: "+strings.Join(demoSections, ", "))
	fs.BoolVar(&c.verbose, "v", false, "print the functions' own logs (JSON, on stderr)")
	fs.StringVar(&c.root, "root", "", "the repository root, holding cdk.out, build and lambdas (default: found from the working directory)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: strongroom demo [-scale N] [-only alerts|rotation|cluster] [-v]\n"+
			"Needs `make build synth deps` first (make demo does that).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: the demo takes flags only (-scale, -only, -v)", fs.Arg(0))
	}
	if c.scale <= 0 {
		return c, fmt.Errorf("-scale %v: want a positive number of sandbox seconds per wall second, for example %d", c.scale, DefaultDemoScale)
	}
	if c.only != "" && !contains(demoSections, c.only) {
		return c, fmt.Errorf("-only %q: want one of %s", c.only, strings.Join(demoSections, ", "))
	}
	if c.root == "" {
		root, err := findRepoRoot()
		if err != nil {
			return c, err
		}
		c.root = root
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// findRepoRoot walks up from the working directory to the directory whose go.mod declares this
// module.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/strongroom/strongroom\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of github.com/strongroom/strongroom above %s: run the demo from the repository (or pass -root)", dir)
		}
	}
}

// demo is one run: the sandbox, what prints, and how each section went.
type demo struct {
	cfg    demoConfig
	sb     *sandbox.Sandbox
	aws    aws.Config
	p      *printer
	logs   io.Writer // the functions' stdout and stderr
	binDir string    // host builds of lambdas/*
	deploy *deploy.Deployer
	ran    []sectionResult
	// alertTopic is the alerts stack's topic once section 1 has deployed it.
	alertTopic string
}

// sectionResult is one line of the summary.
type sectionResult struct {
	name    string
	status  string // ok, FAILED, skipped
	detail  string
	sandbox time.Duration
	wall    time.Duration
}

func runDemo(ctx context.Context, args []string) error {
	cfg, err := parseDemoFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the usage
	}
	if err != nil {
		return err
	}
	return runDemoConfig(ctx, cfg)
}

func runDemoConfig(ctx context.Context, cfg demoConfig) (err error) {
	sb := sandbox.New(sandbox.Options{Scale: cfg.scale})
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	defer func() { err = errors.Join(err, sb.Close()) }()
	binDir, err := os.MkdirTemp("", "strongroom-demo-")
	if err != nil {
		return fmt.Errorf("create a directory for host builds: %w", err)
	}
	defer os.RemoveAll(binDir)

	// What the demo prints is kept by the recorder too, so the secret scan covers it.
	p := newPrinter(io.MultiWriter(demoOut, sb.Recorder.Writer("demo output")), sb)
	// Function logs are kept by the sandbox's recorder, so the secret scan at the end covers them.
	logs := sb.Recorder.Writer("function logs")
	if cfg.verbose {
		logs = io.MultiWriter(logs, &lockedWriter{w: os.Stderr})
	}
	d := &demo{cfg: cfg, sb: sb, p: p, logs: logs, binDir: binDir,
		aws: aws.Config{
			Region:       sb.Region,
			Credentials:  credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, ""),
			BaseEndpoint: aws.String(url),
		}}
	d.deploy = &deploy.Deployer{SB: sb, Cfg: d.aws, CDKOut: filepath.Join(cfg.root, "cdk.out"),
		BuildDir: filepath.Join(cfg.root, "build"), RepoRoot: cfg.root, BinDir: binDir, FunctionLogs: logs}

	p.heading("Strongroom demo")
	p.line("sandbox on %s, clock x%g (sandbox time on the left); every call below goes over HTTP with aws-sdk-go-v2", url, cfg.scale)

	startWall, startSim := time.Now(), sb.Clock.Now()
	sections := map[string]func(context.Context) (string, error){
		"alerts":   d.alerts,
		"rotation": d.rotation,
		"cluster":  d.cluster,
	}
	var failed []string
	for _, name := range demoSections {
		if cfg.only != "" && cfg.only != name {
			continue
		}
		w0, s0 := time.Now(), sb.Clock.Now()
		detail, err := sections[name](ctx)
		r := sectionResult{name: name, status: "ok", detail: detail, wall: time.Since(w0), sandbox: sb.Clock.Now().Sub(s0)}
		switch {
		case errors.Is(err, errSkipped):
			r.status = "skipped"
		case err != nil:
			r.status, r.detail = "FAILED", err.Error()
			failed = append(failed, name)
			p.line("FAILED: %v", err)
		}
		d.ran = append(d.ran, r)
		if ctx.Err() != nil {
			break
		}
	}
	leaks := sb.SecretLeaks()
	d.summary(time.Since(startWall), sb.Clock.Now().Sub(startSim), len(sb.SecretValues()), len(leaks))
	if len(leaks) > 0 {
		failed = append(failed, fmt.Sprintf("secret scan (%d findings, first: %s)", len(leaks), leaks[0].Where))
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// errSkipped is returned by a section that could not run for a reason it has printed.
var errSkipped = errors.New("skipped")

func (d *demo) summary(wall, sim time.Duration, secrets, leaks int) {
	p := d.p
	p.heading("Summary")
	for _, r := range d.ran {
		p.plain("  %-9s %-7s sandbox %-9s wall %-7s %s", r.name, r.status, round(r.sandbox), round(r.wall), r.detail)
	}
	p.plain("  total     sandbox time %s in %s of wall time (clock x%g)", round(sim), round(wall), d.cfg.scale)
	p.plain("  secrets   %d secret values issued; found in records, payloads, logs, environments and this output: %d", secrets, leaks)
	p.plain("Explore it yourself: `make sandbox` serves this sandbox on %s (point the AWS CLI at it with", sandbox.DefaultAddr)
	p.plain("--endpoint-url); README.md explains the stacks and how to deploy them to a real account.")
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// printer writes the demo's lines, each prefixed with the sandbox time elapsed since the start.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	sb    *sandbox.Sandbox
	start time.Time
}

func newPrinter(w io.Writer, sb *sandbox.Sandbox) *printer {
	return &printer{w: w, sb: sb, start: sb.Clock.Now()}
}

func (p *printer) heading(title string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\n== %s\n", title)
}

// line prints one event with the sandbox time.
func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := p.sb.Clock.Now().Sub(p.start)
	h, m, s := int(el.Hours()), int(el.Minutes())%60, int(el.Seconds())%60
	fmt.Fprintf(p.w, "[%02d:%02d:%02d] %s\n", h, m, s, fmt.Sprintf(format, args...))
}

// plain prints a line without the time (bodies, tables).
func (p *printer) plain(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// lockedWriter serializes writes from several function processes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
