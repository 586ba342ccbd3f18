// Package stacktest holds what the construct harnesses (pkg/sandbox/testkit/clustertest,
// pkg/sandbox/testkit/keystoretest) share when they stand a custom resource up in a sandbox without a
// synthesized template: building the lambdas/<name> mains for the host in TestMain, registering
// them with the sandbox's Lambda service with the construct's environment, creating the state
// machines from statemachines/ with the construct's DefinitionSubstitutions, the SSM documents,
// the secrets key and the safety-net rule, each function, workflow and the client instance under
// the role the construct declares (iam.go), with IAM enforced by one judge per test binary
// (pkg/sandbox/iamjudge, started by Main). Each harness keeps its own functions, environment,
// workflows and properties.
//
// pkg/sandbox/deploy does the same from a synthesized template (cdk.out), which these harnesses
// deliberately do without; it is test support, not used in production.
package stacktest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
)

// RepoRoot returns the module root: the nearest directory above the working directory with go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binaries builds each named lambdas/<name> main for the host into dir/<name>/bootstrap, two at a
// time (the go build cache makes unchanged code cheap), and returns name -> path.
func Binaries(ctx context.Context, root, dir string, names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := lambdaruntime.BuildHost(ctx, filepath.Join(root, "lambdas", n), dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[n] = p
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Parallel is how many parallel tests a harness runs at once unless -test.parallel says otherwise.
// Its tests wait on the sandbox clock nearly all the time (a lifecycle uses a fraction of a core),
// so go test's default, GOMAXPROCS (2 on the reference machine), left the cores mostly idle while
// the harnesses' many lifecycles queued; more at once would make a loaded machine's function wall
// times overrun their states' TimeoutSeconds (wall time counts scale times).
const Parallel = 4

// Main is a harness's TestMain body: from the module root it builds functions for the host into
// a temporary directory named after tempPrefix (into *bins; removed when the tests
// end, the build bounded by five minutes), and runs m with Parallel parallel tests unless
// -test.parallel is given. what names the functions in a build error. It returns the exit code
// for os.Exit.
func Main(m *testing.M, tempPrefix, what string, functions []string, bins *map[string]string) int {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && runtime.GOMAXPROCS(0) < Parallel {
		if err := flag.Set("test.parallel", strconv.Itoa(Parallel)); err != nil {
			fmt.Fprintln(os.Stderr, "set -test.parallel:", err)
			return 1
		}
	}
	r, err := RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return WithJudge(r, what, func() int {
		closeDecisions, err := openDecisions(strings.TrimSuffix(tempPrefix, "-bin-"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer closeDecisions()
		*bins, err = Binaries(ctx, r, dir, functions)
		if err != nil {
			fmt.Fprintln(os.Stderr, "build "+what+":", err)
			return 1
		}
		return m.Run()
	})
}

// WithJudge runs run (a TestMain's body that calls m.Run, with root the module root) with the
// binary's IAM judge started, which Deploy and EnforceIAM enforce with, and closed after. It
// returns run's code, or 1 when the judge does not start, or when run passed, deployed or
// enforced something, and no call of what was judged (enforcement is not on). Main uses it; a
// function's own test that builds its function itself calls it from TestMain.
func WithJudge(root, what string, run func() int) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	judged, err := iamjudge.Start(ctx, iamjudge.Options{Root: root})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the IAM judge:", err)
		return 1
	}
	defer func() { _ = judged.Close() }()
	judge = judged
	code := run()
	checks, n, denied := iamCounts()
	if checks == 0 {
		return code // no test deployed a resource (a binary that only builds functions)
	}
	fmt.Fprintf(os.Stderr, "IAM enforced on %s: %d decisions judged, %d denied\n", what, n, denied)
	if code == 0 && n == 0 && flag.Lookup("test.run").Value.String() == "" {
		fmt.Fprintln(os.Stderr, "no call of "+what+" was judged: IAM enforcement is not on (stacktest.Deploy and stacktest.EnforceIAM turn it on)")
		return 1
	}
	return code
}

// Registrar registers host binaries as sandbox Lambda functions the way the constructs declare
// them: the sandbox clock's scale (the SDK's retry backoff runs at its speed,
// lambdaenv.SandboxClockScaleVar), then the construct's Env, then the test's Extra, and a 60 s
// timeout.
type Registrar struct {
	SB *sandbox.Sandbox
	// Bins are the host binaries by function name.
	Bins map[string]string
	// Logs receives every function's output.
	Logs io.Writer
	// Env is the construct's per-function environment; Extra adds the test's (for example a
	// crash hook) over it. Both may change between Register calls.
	Env, Extra map[string]map[string]string
	// ARNs are the registered functions' ARNs by name.
	ARNs map[string]string
}

// Register registers the function name and records its ARN.
func (r *Registrar) Register(name string) error {
	bin, ok := r.Bins[name]
	if !ok {
		return fmt.Errorf("no binary for %s", name)
	}
	vars := map[string]string{lambdaenv.SandboxClockScaleVar: strconv.FormatFloat(r.SB.Clock.Scale(), 'f', -1, 64)}
	for k, v := range r.Env[name] {
		vars[k] = v
	}
	for k, v := range r.Extra[name] {
		vars[k] = v
	}
	arn, err := r.SB.Lambda.RegisterBinary(name, bin, r.Logs, sblambda.WithEnv(vars), sblambda.WithTimeout(60*time.Second))
	if err != nil {
		return fmt.Errorf("register %s: %w", name, err)
	}
	r.ARNs[name] = arn
	return nil
}

// CreateKey creates the construct's customer-managed secrets key and returns its ARN.
func CreateKey(ctx context.Context, cfg aws.Config, description string) (string, error) {
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(description)})
	if err != nil {
		return "", fmt.Errorf("create the secrets key: %w", err)
	}
	return aws.ToString(key.KeyMetadata.Arn), nil
}

// CreateDocument creates the Strongroom document doc (pkg/hsmdocs) through SSM under name.
func CreateDocument(ctx context.Context, cfg aws.Config, name, doc string) error {
	content, err := hsmdocs.Content(doc)
	if err != nil {
		return err
	}
	if _, err := ssm.NewFromConfig(cfg).CreateDocument(ctx, &ssm.CreateDocumentInput{
		Name: aws.String(name), Content: aws.String(content),
		DocumentType: ssmtypes.DocumentTypeCommand, DocumentFormat: ssmtypes.DocumentFormatJson,
	}); err != nil {
		return fmt.Errorf("create document %s: %w", name, err)
	}
	return nil
}

// StateMachines creates each workflow as the state machine <stack>-<kind>Workflow from its
// embedded ASL file (statemachines/) with subs, as the construct does, and returns the ARNs and the
// substituted definitions by kind.
func StateMachines(ctx context.Context, cfg aws.Config, account, stack string, workflows []resourcedef.Workflow, subs map[string]string) (arns, defs map[string]string, err error) {
	arns, defs = map[string]string{}, map[string]string{}
	sf := sfn.NewFromConfig(cfg)
	for _, w := range workflows {
		asl, err := readWorkflow(w.File)
		if err != nil {
			return nil, nil, err
		}
		def, err := stepfunctions.Substitute(asl, subs)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", w.File, err)
		}
		out, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String(machineName(stack, w.Kind)), Definition: aws.String(def),
			RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s", account, machineRole(stack, w.Kind))),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("create the %s state machine: %w", w.Kind, err)
		}
		arns[w.Kind] = aws.ToString(out.StateMachineArn)
		defs[w.Kind] = def
	}
	return arns, defs, nil
}

// SafetyNet puts the construct's safety net: the rule <stack>-SafetyNetRule on Step Functions
// execution status changes to FAILED, TIMED_OUT or ABORTED of machines, targeting the function
// target with the construct's retry policy, and the target's permission for the rule. It returns
// the rule's name.
func SafetyNet(ctx context.Context, cfg aws.Config, stack string, machines []string, target string) (string, error) {
	pattern, _ := json.Marshal(map[string]any{
		"source":      []string{"aws.states"},
		"detail-type": []string{"Step Functions Execution Status Change"},
		"detail": map[string]any{
			"status":          []string{"FAILED", "TIMED_OUT", "ABORTED"},
			"stateMachineArn": machines,
		},
	})
	rule := stack + "-SafetyNetRule"
	eb := eventbridge.NewFromConfig(cfg)
	put, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventPattern: aws.String(string(pattern))})
	if err != nil {
		return "", fmt.Errorf("put the safety-net rule: %w", err)
	}
	if err := MayInvoke(ctx, cfg, target, "events.amazonaws.com", aws.ToString(put.RuleArn)); err != nil {
		return "", err
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{{
		Id: aws.String("SafetyNet"), Arn: aws.String(target),
		RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(20), MaximumEventAgeInSeconds: aws.Int32(7200)},
	}}}); err != nil {
		return "", fmt.Errorf("put the safety-net target: %w", err)
	}
	return rule, nil
}

// LogOnFailure logs, once t has failed, what a person needs to see why a workflow went wrong: each
// execution of the workflows kinds as its path through the states (a failure with its error and
// cause), the last logLines lines of the functions' output logs, and every call sb recorded that
// answered an error.
func (d *Deployment) LogOnFailure(t testing.TB, sb *sandbox.Sandbox, logs fmt.Stringer, logLines int, kinds ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		sf := sfn.NewFromConfig(d.Cfg)
		ctx := context.Background()
		for _, kind := range kinds {
			arns, _ := d.Executions(ctx, kind)
			for _, arn := range arns {
				h, err := sf.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
				if err != nil {
					t.Logf("history %s: %v", arn, err)
					continue
				}
				t.Logf("%s %s: %s", kind, arn, statePath(h.Events))
			}
		}
		lines := strings.Split(logs.String(), "\n")
		for _, l := range lines[max(0, len(lines)-logLines):] {
			t.Logf("log: %s", Reason(l, 400))
		}
		for _, rec := range sb.Recorder.Records("", "") {
			if rec.ErrorCode != "" {
				t.Logf("call %s %s -> %s %s", rec.Service, rec.Operation, rec.ErrorCode, Reason(string(rec.ResponseBody), 200))
			}
		}
	})
}

// statePath renders an execution history as the states it entered, with each failure's error and
// (shortened) cause.
func statePath(events []sfntypes.HistoryEvent) string {
	var path []string
	failure := func(prefix string, errName, cause *string) {
		path = append(path, prefix+aws.ToString(errName)+":"+Reason(aws.ToString(cause), 300))
	}
	for _, e := range events {
		switch {
		case e.StateEnteredEventDetails != nil:
			path = append(path, aws.ToString(e.StateEnteredEventDetails.Name))
		case e.TaskFailedEventDetails != nil:
			failure("!", e.TaskFailedEventDetails.Error, e.TaskFailedEventDetails.Cause)
		case e.LambdaFunctionFailedEventDetails != nil:
			failure("!", e.LambdaFunctionFailedEventDetails.Error, e.LambdaFunctionFailedEventDetails.Cause)
		case e.ExecutionFailedEventDetails != nil:
			failure("FAILED ", e.ExecutionFailedEventDetails.Error, e.ExecutionFailedEventDetails.Cause)
		}
	}
	return strings.Join(path, " > ")
}

// Reason shortens s (an error cause, a log line, a response) to one line of at most n bytes for
// a test's log.
func Reason(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
