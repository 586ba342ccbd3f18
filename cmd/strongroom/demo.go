package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
)

// The demo runs Strongroom's workflows end to end in one process against a fresh sandbox on
// 127.0.0.1:0: the alerts stack from cdk.out with the real relay binary, MariaDB credential rotation
// with the real rotation binary against a real MariaDB server, and (when cdk.out has it) the
// CloudHSM cluster stack's custom resource through Create, an HsmCount update and Delete, with the
// KMS key store stack deployed on the ACTIVE cluster in between (connected, used, its alerts shown
// as e-mails: a disconnection its scheduled health check finds, a failed Update workflow; deleted). It prints
// for a person: short headings, one line per event, sandbox time on the left.
//
// The sandbox clock runs only while a workflow does. The demo's own slow work (compiling the
// functions for this host, registering them, starting MariaDB, the secret scan) happens with the
// clock stopped (clockSwitch), so the sandbox times it prints are the workflows' own: a deploy keeps
// the clock stopped except while a custom resource's Create is outstanding (deployStack).

// demoOut receives what the demo prints (tests replace it).
var demoOut io.Writer = os.Stdout

// demoSections are the sections in the order they run.
var demoSections = []string{"alerts", "rotation", "cluster"}

// DefaultDemoScale runs the sandbox clock 120 times faster than wall time: the cluster's
// twenty-odd minutes of CloudHSM state changes take seconds, while rotation and alert delivery
// (which wait for nothing) are unaffected.
const DefaultDemoScale = 120

// demoConfig is the demo's parsed command line.
type demoConfig struct {
	scale   float64
	only    string
	verbose bool
	root    string
	// cdkOut is the cloud assembly the demo deploys from: -cdkout, or <root>/cdk.out.
	cdkOut string
	// decisions, when set, is the file every IAM decision is written to (JSON lines).
	decisions string
	// hostBuilds, when set (tests only), is a directory of the functions' host builds kept across
	// runs of one process: a function built there by an earlier run is registered without building
	// it again (deploy.Deployer.ReuseHostBuilds). The mutation matrix runs the demo once per grant.
	hostBuilds string
	// observe, when set (tests only), is called with the run once its sections and IAM summary are
	// done, before the sandbox closes, so a test can look at what the sandbox holds.
	observe func(*demo)
}

// parseDemoFlags parses the demo's command line under the contract in usage.go: a *helpRequest
// for -h, a *usageError for a command line the demo cannot run (judged before anything else, so
// it is refused wherever it is run), and otherwise the config with root set. An empty -root is
// the same as none: the root is then found from the working directory, and not finding it is a
// plain error, a runtime failure, because the command line is fine and where it ran is not.
func parseDemoFlags(args []string) (demoConfig, error) {
	fs := newFlagSet("demo", []string{"strongroom demo [-scale N] [-only alerts|rotation|cluster] [-v] [-root DIR] [-cdkout DIR] [-iam-decisions FILE]"}, `
Run Strongroom's workflows end to end in one process against a fresh local sandbox: the alerts
stack with its relay, MariaDB credential rotation and, when cdk.out has it, the CloudHSM cluster
stack with the KMS key store on it. Each event prints with the sandbox time; a summary and a scan
of everything the sandbox recorded for the secret values it issued follow.

Needs `+"`make build synth deps`"+` first (make demo does that). -cdkout deploys another cloud assembly
(a changed template, say) instead of cdk.out; its functions' assets must still match build/*/bootstrap.`)
	var c demoConfig
	fs.Float64Var(&c.scale, "scale", DefaultDemoScale, "sandbox seconds per wall second; Lambda steps take real wall time, so far above the default\n"+
		"a step can outlast its 120 s (sandbox) Task timeout and the cluster workflow fails with States.Timeout")
	fs.StringVar(&c.only, "only", "", "run one section: "+strings.Join(demoSections, ", "))
	fs.BoolVar(&c.verbose, "v", false, "print the functions' own logs (JSON, on stderr)")
	fs.StringVar(&c.decisions, "iam-decisions", "", "write every IAM decision the sandbox made (role, call, action, resource, allowed, granting statements) to FILE as JSON lines")
	fs.StringVar(&c.root, "root", "", "the repository root, holding cdk.out, build and lambdas (default: found from the working directory)")
	fs.StringVar(&c.cdkOut, "cdkout", "", "the cloud assembly to deploy the stacks from (default: cdk.out under the repository root)")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if err := noArgs(fs); err != nil {
		return c, err
	}
	// Written so that NaN fails as well as zero and negatives. +Inf is refused too, as sandbox.go
	// refuses it: a clock that runs infinitely fast has no sandbox time to print.
	if !(c.scale > 0) || math.IsInf(c.scale, 1) {
		return c, usageErrorf(fs, "-scale %v: want a positive number of sandbox seconds per wall second, for example %d", c.scale, DefaultDemoScale)
	}
	if c.only != "" && !slices.Contains(demoSections, c.only) {
		return c, usageErrorf(fs, "-only %q: want one of %s", c.only, strings.Join(demoSections, ", "))
	}
	if c.root == "" {
		root, err := findRepoRoot()
		if err != nil {
			return c, err
		}
		c.root = root
	}
	if c.cdkOut == "" {
		c.cdkOut = filepath.Join(c.root, "cdk.out")
	} else if err := checkCDKOut("-cdkout", c.cdkOut); err != nil {
		return c, err
	}
	return c, nil
}

// checkCDKOut says what is wrong with dir as a cloud assembly given by flag: it must be a
// directory holding at least one *.template.json. A plain error, not a usage error: the command
// line is well formed, the directory is not what it names.
func checkCDKOut(flag, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w: pass the directory cdk synth wrote (make synth writes cdk.out)", flag, dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s %s: not a directory: pass the directory cdk synth wrote (make synth writes cdk.out)", flag, dir)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.template.json")); len(m) == 0 {
		return fmt.Errorf("%s %s: no *.template.json in it: pass the directory cdk synth wrote (make synth writes cdk.out)", flag, dir)
	}
	return nil
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
	cfg demoConfig
	// planned are the custom resource requests the demo makes fail on purpose ("<RequestType>
	// <LogicalResourceId>"), for the mutation matrix (cmd/strongroom/iam_mutation_test.go) to tell
	// them from failures a removed grant caused.
	planned []string
	sb      *sandbox.Sandbox
	clock   *clockSwitch
	aws     aws.Config
	p       *printer
	logs    io.Writer // the functions' stdout and stderr
	binDir  string    // host builds of lambdas/*
	deploy  *deploy.Deployer
	// stacks are the stacks deployed so far, in order, even one whose deploy failed.
	stacks []*deploy.Stack
	ran    []sectionResult
	// alertTopic is the alerts stack's topic once section 1 has deployed it.
	alertTopic string
	// alarmsTested are the stacks one of whose alarms testAlarms has set to ALARM.
	alarmsTested map[string]bool
	// deadLettersShown are the stacks testDeadLetters has shown a dead letter of; refusedOnPurpose
	// are the indexes (in Decisions) of the refusals it caused by taking a permission away.
	deadLettersShown map[string]bool
	refusedOnPurpose map[int]bool
	// logsShown are the stacks showLogGroups has printed the log groups of; deliveriesChecked
	// counts the functions' log deliveries it has checked.
	logsShown         map[string]bool
	deliveriesChecked int
	// What setup prepared for the rotation section (when it runs): MariaDB and the rotation
	// function's host build, or why not.
	db    *mariadbtest.Server
	dbErr error
}

// sectionResult is one line of the summary.
type sectionResult struct {
	name    string
	status  string // ok, FAILED, skipped
	detail  string
	sandbox time.Duration
	wall    time.Duration // with the clock running
	setup   time.Duration // wall time with the clock stopped
}

func runDemo(ctx context.Context, args []string) error {
	cfg, err := parseDemoFlags(args)
	if err != nil {
		return err
	}
	return runDemoConfig(ctx, cfg)
}

func runDemoConfig(ctx context.Context, cfg demoConfig) (err error) {
	sb := sandbox.New(sandbox.Options{Scale: cfg.scale})
	// Stopped from the start: the sections start it for their workflows.
	clock := newClockSwitch(sb.Clock)
	clock.stop()
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	defer func() { err = errors.Join(err, sb.Close()) }()
	// Every call a deployed function or the client instance makes is judged by IAM as AWS would,
	// on the roles and policies the templates deploy (pkg/sandbox/iamjudge: iam-simulate).
	judge, err := iamjudge.Start(ctx, iamjudge.Options{Root: cfg.root})
	if err != nil {
		return fmt.Errorf("start the IAM judge: %w", err)
	}
	defer func() { err = errors.Join(err, judge.Close()) }()
	sb.EnforceIAM(judge)
	binDir := cfg.hostBuilds
	if binDir == "" {
		if binDir, err = os.MkdirTemp("", "strongroom-demo-"); err != nil {
			return fmt.Errorf("create a directory for host builds: %w", err)
		}
		defer os.RemoveAll(binDir)
	}
	if cfg.cdkOut == "" {
		cfg.cdkOut = filepath.Join(cfg.root, "cdk.out")
	}

	// What the demo prints is kept by the recorder too, so the secret scan covers it.
	p := newPrinter(io.MultiWriter(demoOut, sb.Recorder.Writer("demo output")), sb)
	// Function logs are kept by the sandbox's recorder, so the secret scan at the end covers them.
	logs := sb.Recorder.Writer("function logs")
	if cfg.verbose {
		// Several function processes write at once; *os.File holds its descriptor's write lock
		// for the whole of each Write call, so one call's bytes are never interleaved with
		// another's, which is all a locking wrapper would add.
		logs = io.MultiWriter(logs, os.Stderr)
	}
	d := &demo{cfg: cfg, sb: sb, clock: clock, p: p, logs: logs, binDir: binDir,
		aws: aws.Config{
			Region:       sb.Region,
			Credentials:  credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, ""),
			BaseEndpoint: aws.String(url),
		}}
	d.deploy = &deploy.Deployer{SB: sb, Cfg: d.aws, CDKOut: cfg.cdkOut,
		BuildDir: filepath.Join(cfg.root, "build"), RepoRoot: cfg.root, BinDir: binDir, FunctionLogs: logs,
		ReuseHostBuilds: cfg.hostBuilds != "",
		// A function's run is a real process whose wall time, scaled x120, would eat a state's
		// TimeoutSeconds on a busy machine (an RSA key for the customer CA once took more than
		// SignCsr's 120 s): the clock stops while one runs. The demo injects no latency faults.
		HoldClock: true}

	p.heading("Strongroom demo")
	p.line("sandbox on %s, clock x%g (sandbox time on the left); every call below goes over HTTP with aws-sdk-go-v2", url, cfg.scale)
	p.line("the clock is stopped while the demo compiles, registers functions and starts MariaDB, so sandbox times are the workflows' own")
	defer func() {
		if d.db != nil {
			err = errors.Join(err, d.db.Stop())
		}
	}()
	startWall, startSim, startStopped := time.Now(), sb.Clock.Now(), clock.stopped()
	if err := d.setup(ctx); err != nil {
		p.line("FAILED: %v", err)
		return fmt.Errorf("setup: %w", err)
	}
	sections := map[string]func(context.Context) (string, error){
		"alerts":   d.alerts,
		"rotation": d.rotation,
		"cluster":  d.cluster,
	}
	var failed []string
	for _, name := range demoSections {
		if !d.runs(name) {
			continue
		}
		clock.stop() // each section starts the clock when its workflow starts
		w0, s0, c0 := time.Now(), sb.Clock.Now(), clock.stopped()
		detail, err := sections[name](ctx)
		clock.stop()
		setup := clock.stopped() - c0
		r := sectionResult{name: name, status: "ok", detail: detail, wall: time.Since(w0) - setup, setup: setup, sandbox: sb.Clock.Now().Sub(s0)}
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
	d.tracesAndInterfaces()
	if denied := d.iamSummary(); denied > 0 {
		failed = append(failed, fmt.Sprintf("IAM (%d calls denied)", denied))
	}
	if cfg.observe != nil {
		cfg.observe(d)
	}
	p.heading("Secret scan")
	p.line("scanning every call, payload, function log and environment the sandbox recorded, and this output, for the %d secret values it issued...", len(sb.SecretValues()))
	done := p.during(func() string { return "scanning for secret values" })
	leaks := sb.SecretLeaks()
	done()
	stopped := clock.stopped() - startStopped
	d.summary(time.Since(startWall)-stopped, stopped, sb.Clock.Now().Sub(startSim), len(sb.SecretValues()), len(leaks))
	if len(leaks) > 0 {
		failed = append(failed, fmt.Sprintf("secret scan (%d findings, first: %s)", len(leaks), leaks[0].Where))
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// judged returns the decisions IAM made, without the refusals the demo caused on purpose
// (refusedOnPurpose).
func (d *demo) judged() []sandbox.Decision {
	var out []sandbox.Decision
	for i, x := range d.sb.Decisions() {
		if !d.refusedOnPurpose[i] {
			out = append(out, x)
		}
	}
	return out
}

// iamSummary prints what IAM judged, and every denial, and returns the number of denials.
func (d *demo) iamSummary() int {
	decisions := d.sb.Decisions()
	roles := map[string]bool{}
	var denied, purposely []sandbox.Decision
	for i, x := range decisions {
		roles[x.Role] = true
		switch {
		case !x.Allowed && d.refusedOnPurpose[i]:
			purposely = append(purposely, x)
		case !x.Allowed:
			denied = append(denied, x)
		}
	}
	if d.cfg.decisions != "" {
		if err := writeDecisions(d.cfg.decisions, decisions); err != nil {
			d.p.line("could not write the IAM decisions: %v", err)
		}
	}
	d.p.heading("IAM")
	d.p.line("%d authorizations of %d roles (the stacks' and the deploy's) and AWS services judged by iam-simulate on the templates' policies; %d denied", len(decisions), len(roles), len(denied))
	for _, x := range denied {
		d.p.line("denied %s %s: %s", x.Service, x.Operation, x.Message)
	}
	for _, x := range purposely {
		d.p.line("refused on purpose (a rule's permission taken away to show its dead letter): %s %s on %s", x.Role, x.Action, x.Resource)
	}
	return len(denied)
}

// writeDecisions writes decisions to path, one JSON object per line.
func writeDecisions(path string, decisions []sandbox.Decision) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, x := range decisions {
		if err := enc.Encode(x); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}

// errSkipped is returned by a section that could not run for a reason it has printed.
var errSkipped = errors.New("skipped")

// runs reports whether section name runs in this demo (-only).
func (d *demo) runs(name string) bool { return d.cfg.only == "" || d.cfg.only == name }

// summary prints how each section went. wall is the wall time with the clock running, setup the
// wall time with it stopped.
func (d *demo) summary(wall, setup, sim time.Duration, secrets, leaks int) {
	p := d.p
	p.heading("Summary")
	for _, r := range d.ran {
		p.plain("  %-9s %-7s sandbox %-9s wall %-7s setup %-7s %s", r.name, r.status, round(r.sandbox), round(r.wall), round(r.setup), r.detail)
	}
	p.plain("  total     sandbox time %s in %s of wall time (clock x%g), plus %s of setup with the clock stopped", round(sim), round(wall), d.cfg.scale, round(setup))
	setupWork := "compiling and registering the functions"
	if d.runs("rotation") {
		setupWork += ", MariaDB"
	}
	p.plain("            (setup: %s, the secret scan)", setupWork)
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
	last  time.Time // wall time of the last line written
}

func newPrinter(w io.Writer, sb *sandbox.Sandbox) *printer {
	return &printer{w: w, sb: sb, start: sb.Clock.Now(), last: time.Now()}
}

func (p *printer) heading(title string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = time.Now()
	fmt.Fprintf(p.w, "\n== %s\n", title)
}

// line prints one event with the sandbox time.
func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = time.Now()
	el := p.sb.Clock.Now().Sub(p.start)
	h, m, s := int(el.Hours()), int(el.Minutes())%60, int(el.Seconds())%60
	fmt.Fprintf(p.w, "[%02d:%02d:%02d] %s\n", h, m, s, fmt.Sprintf(format, args...))
}

// plain prints a line without the time (bodies, tables).
func (p *printer) plain(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = time.Now()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// heartbeatEvery is the longest the demo stays silent during one of its own long steps (see
// during).
const heartbeatEvery = 5 * time.Second

// during is for a long step of the demo's own (compiling, registering functions, the secret
// scan): until done is called, whenever nothing has been printed for heartbeatEvery it prints
// what the step is doing now (status) and for how long it has been at it, so the output never
// stalls silently.
func (p *printer) during(status func() string) (done func()) {
	start := time.Now()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(heartbeatEvery / 10)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			p.mu.Lock()
			quiet := time.Since(p.last) >= heartbeatEvery
			p.mu.Unlock()
			if quiet {
				p.line("  ... %s (%s so far)", status(), time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
	}
}

// clockSwitch starts and stops the sandbox clock and adds up the wall time it was stopped. The demo
// stops it for its own slow work, which is no part of what AWS would do, so the sandbox times it
// prints are the workflows' own.
type clockSwitch struct {
	clock *core.ScaledClock
	mu    sync.Mutex
	since time.Time     // when it was stopped; zero while it runs
	total time.Duration // stopped before since
}

func newClockSwitch(c *core.ScaledClock) *clockSwitch { return &clockSwitch{clock: c} }

// stop stops the clock (if it runs).
func (s *clockSwitch) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since.IsZero() {
		s.clock.Pause()
		s.since = time.Now()
	}
}

// start starts the clock (if it is stopped).
func (s *clockSwitch) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.since.IsZero() {
		s.clock.Resume()
		s.total += time.Since(s.since)
		s.since = time.Time{}
	}
}

// stopped is the wall time the clock has been stopped so far.
func (s *clockSwitch) stopped() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.total
	if !s.since.IsZero() {
		t += time.Since(s.since)
	}
	return t
}

// setup does, with the clock stopped, the slow work the sections would otherwise do on it. It
// compiles every lambdas/* package for this host in one go command, so each function the
// Deployer registers later only needs linking; when the rotation section runs, it also starts
// MariaDB (meanwhile) and builds the rotation function. A compile failure fails the demo; MariaDB's
// or the rotation build's fails the rotation section.
func (d *demo) setup(ctx context.Context) error {
	p := d.p
	p.heading("Setup: the functions' host builds and MariaDB (clock stopped)")
	var wg sync.WaitGroup
	if d.runs("rotation") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.line("starting MariaDB (a fresh data directory, TLS required)...")
			w0 := time.Now()
			d.db, d.dbErr = mariadbtest.Start(ctx, mariadbtest.Options{RequireSecureTransport: true})
			if d.dbErr != nil {
				d.dbErr = fmt.Errorf("start MariaDB (make deps installs Debian's mariadb-server): %w", d.dbErr)
				p.line("MariaDB did not start: %v", d.dbErr)
				return
			}
			p.line("MariaDB started on %s in %s", d.db.Addr(), round(time.Since(w0)))
		}()
	}
	err := d.compileLambdas(ctx)
	wg.Wait()
	return err
}

// compileLambdas compiles every lambdas/* package and its dependencies for this host, as
// lambdaruntime.BuildHost builds them (its flags, CGO_ENABLED=0), into the go build cache. `go list
// -export` compiles without linking; BuildHost then finds every package compiled.
func (d *demo) compileLambdas(ctx context.Context) error {
	p := d.p
	dirs, err := filepath.Glob(filepath.Join(d.cfg.root, "lambdas", "*", "main.go"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("no lambdas/*/main.go under %s", d.cfg.root)
	}
	p.line("compiling the %d lambdas/* packages for this host (%s/%s); the sandbox runs each function as a process...", len(dirs), runtime.GOOS, runtime.GOARCH)
	done := p.during(func() string { return "compiling lambdas/* for this host" })
	defer done()
	w0 := time.Now()
	args := append([]string{"list", "-export", "-f", "{{.ImportPath}}"}, lambdaruntime.BuildFlags...)
	cmd := exec.CommandContext(ctx, "go", append(args, "./lambdas/...")...)
	cmd.Dir = d.cfg.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		return fmt.Errorf("compile lambdas/* for %s/%s: %w\n%s", runtime.GOOS, runtime.GOARCH, err, strings.TrimSpace(stderr.String()))
	}
	p.line("compiled in %s", round(time.Since(w0)))
	return nil
}

// deployStack deploys stack from cdk.out, printing its progress with log. The clock is stopped
// except while one of the stack's custom resources has a Create outstanding: registering the
// functions (each a host build of a lambdas/* package) is the demo's setup, while a custom
// resource's workflow is what a section shows. It returns with the clock stopped.
func (d *demo) deployStack(ctx context.Context, log *deployLog) (*deploy.Stack, error) {
	d.clock.stop()
	done := d.p.during(log.status)
	defer done()
	actx, cancel := context.WithCancel(ctx)
	var answers sync.WaitGroup
	d.deploy.Progress = func(format string, args ...any) {
		log.progress(format, args...)
		if strings.HasPrefix(format, "custom resource ") && strings.HasSuffix(format, ": Create") {
			seen := len(d.sb.Recorder.Records("s3", "PutObject"))
			d.clock.start()
			answers.Add(1)
			go func() {
				defer answers.Done()
				// After a FAILED answer CloudFormation sends a rollback Delete, which needs the
				// clock: it runs until the deploy returns.
				if d.answeredSuccess(actx, seen) {
					d.clock.stop()
				}
			}()
		}
	}
	st, err := d.deploy.Deploy(ctx, log.stack)
	if st != nil {
		d.stacks = append(d.stacks, st)
	}
	cancel()
	answers.Wait()
	d.clock.stop()
	log.flush()
	d.deploy.Progress = log.progress // for Update and Destroy, which run with the clock running
	return st, err
}

// answeredSuccess waits for the first custom resource answer after the seen-th and reports
// whether it was SUCCESS (false when ctx ends first). An answer is a PUT to the ResponseURL, which
// the sandbox records as S3 PutObject; one it refused (403) is not an answer.
func (d *demo) answeredSuccess(ctx context.Context, seen int) bool {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		recs := d.sb.Recorder.Records("s3", "PutObject")
		for _, r := range recs[min(seen, len(recs)):] {
			if r.Status != 200 {
				continue
			}
			var answer struct{ Status string }
			_ = json.Unmarshal(r.RequestBody, &answer)
			return answer.Status == "SUCCESS"
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// deployLog prints a Deployer's progress for a person: a line per resource, except functions,
// which are counted and printed as one line per run of them (not fifteen), with maps written out
// and counts with their nouns.
type deployLog struct {
	p     *printer
	stack string
	// functions is how many the stack's template declares.
	functions int

	mu         sync.Mutex
	registered int    // functions registered so far
	unprinted  int    // of those, not yet printed
	doing      string // for the heartbeat
	// change is what the next Update changes ("HsmCount 2 -> 3"), for its line.
	change string
}

// template is the path of stack's template in the cloud assembly the demo deploys.
func (d *demo) template(stack string) string {
	return filepath.Join(d.cfg.cdkOut, stack+".template.json")
}

// assembly names the cloud assembly the demo deploys, for what it prints: cdk.out, or -cdkout's
// directory.
func (d *demo) assembly() string {
	if d.cfg.cdkOut == filepath.Join(d.cfg.root, "cdk.out") {
		return "cdk.out"
	}
	return d.cfg.cdkOut
}

// newDeployLog reads stack's template from cdk.out to count its functions.
func (d *demo) newDeployLog(stack string) (*deployLog, error) {
	t, err := cfntemplate.Load(d.template(stack))
	if err != nil {
		return nil, err
	}
	l := &deployLog{p: d.p, stack: stack, doing: "starting"}
	for _, r := range t.Resources {
		if r.Type == "AWS::Lambda::Function" {
			l.functions++
		}
	}
	return l, nil
}

// progress is the Deployer's Progress.
func (l *deployLog) progress(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.HasPrefix(format, "function ") {
		l.registered++
		l.unprinted++
		l.doing = fmt.Sprintf("%d of %d functions built for this host and registered", l.registered, l.functions)
		return
	}
	l.flushLocked()
	msg := deployMessage(format, args, l.change)
	if strings.HasPrefix(format, "custom resource ") {
		l.doing = "waiting for the answer to " + msg
	} else {
		l.doing = "created " + msg
	}
	l.p.line("deploy: %s", msg)
}

// flush prints the functions registered since the last line.
func (l *deployLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *deployLog) flushLocked() {
	if l.unprinted == 0 {
		return
	}
	l.p.line("deploy: %s registered, %d of %d (each lambdas/* package built for this host; its arm64 asset matched in build/)",
		plural(l.unprinted, "function"), l.registered, l.functions)
	l.unprinted = 0
}

// status is what the deploy is doing, for the heartbeat.
func (l *deployLog) status() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return "deploying " + l.stack + ": " + l.doing
}

// setChange names what the next Update changes, from the custom resource's properties before
// (old) and the ones it sets.
func (l *deployLog) setChange(old, set map[string]any) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.change = changes(old, set)
	return l.change
}

// deployMessage writes a Deployer progress message for a person: maps and lists as text (an
// Update's properties as change, when set) and "1 target", not "1 targets".
func deployMessage(format string, args []any, change string) string {
	args = slices.Clone(args)
	for i, a := range args {
		switch a.(type) {
		case map[string]any, map[string]string, []any, []string:
			args[i] = humanValue(a)
		}
	}
	if change != "" && strings.HasSuffix(format, ": Update %v") && len(args) > 0 {
		args[len(args)-1] = change
	}
	return strings.ReplaceAll(fmt.Sprintf(format, args...), "(1 targets)", "(1 target)")
}

// changes describes what an update changes, property by property in name order, for example
// "HsmCount 2 -> 3"; a property set for the first time shows as "(unset) -> 3".
func changes(old, set map[string]any) string {
	keys := slices.Sorted(maps.Keys(set))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		from := "(unset)"
		if v, ok := old[k]; ok {
			from = humanValue(v)
		}
		parts = append(parts, fmt.Sprintf("%s %s -> %s", k, from, humanValue(set[k])))
	}
	return strings.Join(parts, ", ")
}

// humanValue writes a template, event or answer value for a person rather than as Go would:
// strings as they are, whole numbers without a decimal point, lists joined with ", ", and maps as
// "key value" pairs in key order. Nested lists and maps are in brackets and braces.
func humanValue(v any) string {
	return humanValueIn(v, false)
}

func humanValueIn(v any, nested bool) string {
	wrap := func(open, s, close string) string {
		if nested {
			return open + s + close
		}
		return s
	}
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		return wrap("[", strings.Join(x, ", "), "]")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = humanValueIn(e, true)
		}
		return wrap("[", strings.Join(parts, ", "), "]")
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return humanValueIn(m, nested)
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + humanValueIn(x[k], true)
		}
		return wrap("{", strings.Join(parts, ", "), "}")
	}
	return fmt.Sprint(v)
}

// watchedDeploy is what deployWatched deployed: the deploy log (for later updates of the stack),
// the stack, and its custom resource's logical id and Create outcome.
type watchedDeploy struct {
	log     *deployLog
	st      *deploy.Stack
	id      string
	created *cloudformation.Outcome
}

// deployWatched deploys stack from cdk.out (announcing it with about after the stack's name) while
// the watcher w follows its workflow, gives w a last look so the states the deploy reached are
// printed, restarts the clock deployStack stopped, and finds the custom resource of type typ as
// createdResource does, printed as what. The caller resets d.deploy.Progress when done.
func (d *demo) deployWatched(ctx context.Context, w *watcher, stack, typ, what, about string) (watchedDeploy, error) {
	log, err := d.newDeployLog(stack)
	if err != nil {
		return watchedDeploy{}, err
	}
	d.p.line("deploying %s from %s%s", stack, d.assembly(), about)
	st, err := d.deployStack(ctx, log)
	w.poll(ctx)
	d.clock.start()
	id, created, err := createdResource(d, st, err, stack, typ, what)
	return watchedDeploy{log: log, st: st, id: id, created: created}, err
}

// createdResource is the logical id and the Create outcome of the one custom resource of type typ
// in a deployed stack, printed as what; after a failed deploy it prints the outcomes it has and
// returns the deploy's error.
func createdResource(d *demo, st *deploy.Stack, deployErr error, stack, typ, what string) (string, *cloudformation.Outcome, error) {
	if deployErr != nil {
		if st != nil {
			for _, o := range st.CustomResources {
				printOutcome(d, what+" (before the deploy failed)", o)
			}
		}
		return "", nil, fmt.Errorf("deploy %s: %w", stack, deployErr)
	}
	for lid, r := range st.Template.Resources {
		if r.Type == typ {
			created := st.CustomResources[lid]
			printOutcome(d, what, created)
			return lid, created, nil
		}
	}
	return "", nil, fmt.Errorf("stack %s has no %s", stack, typ)
}
