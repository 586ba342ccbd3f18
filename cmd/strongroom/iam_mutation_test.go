package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/iammutation"
)

// The mutation proof of issue 13: removing one grant from a copy of cdk.out makes the workflow that
// needs it fail with an AccessDenied naming the action, answered FAILED to CloudFormation exactly
// once, with nothing left half-created, and never hangs. TestIAMMutations runs a representative
// subset by default (one each of a function's role, a state machine's role, a key policy and a
// Lambda permission, each of which must really deny and fail); IAM_MUTATIONS=all (make
// iam-mutations) runs every grant and writes the matrix to build/iam-mutations.txt.

// Outcomes of one mutation.
const (
	outcomeDeniedFailed = "denied+FAILED" // the wanted outcome
	// The Create answered FAILED and so did the rollback's Delete, denied the same grant: what the
	// Create made stays, as a stack in ROLLBACK_FAILED keeps it on AWS. Not the workflow's defect (no
	// workflow can delete without the permission to), but listed apart because something is left.
	outcomeDeniedRollbackFailed = "denied+FAILED, rollback FAILED"
	outcomeDeniedNotFailed      = "denied but not FAILED" // a defect: denied, but not answered FAILED once, or something left behind
	// Denied where the refusal changes no custom resource answer: a path no custom resource
	// request takes (the alert relay, a scheduled health check, a deploy refused before the
	// resource exists), Lambda's delivery of a function's log lines or trace segments (the function
	// runs on and they are lost, as on AWS), or the safety net behind a workflow that answered
	// itself. The demo fails on the denial.
	outcomeDeniedNoResource = "denied, no answer changed"
	outcomeNoFailure        = "no failure"         // the grant is not needed on the demo's paths
	outcomeHang             = "hang"               // a defect: no answer, or the run outlasted its bound
	outcomeOtherFailure     = "failed, not denied" // the run failed with no denial of the grant's actions
	outcomeNotDeployed      = "not deployed"       // the demo does not deploy the grant's stack
)

// mutationSections are the demo sections that deploy stack and run its workflows, in the order a
// mutation tries them (none for a stack the demo does not deploy): the cluster section deploys the
// alerts stack first when it runs alone, and the key store stack on the ACTIVE cluster; the
// rotation section deploys the database stack, after the alerts stack. An alerts stack grant
// that the alerts section runs without is tried in the cluster section (its key store's health
// findings, its workflows' failures and dead letters) and then the rotation section (the
// RotationFailed rule's). A database stack grant the rotation section runs without is tried in the
// whole demo (wholeDemo), where the cluster section runs with the database stack deployed: the one
// sandbox VPC carries both stacks' flow logs, so the database flow log's role delivers the records
// of the client instance's connections to the HSMs (demo_flowlogs.go).
func mutationSections(stack string) []string {
	switch stack {
	case alertsStack:
		return []string{"alerts", "cluster", "rotation"}
	case clusterStack, keyStoreStack:
		return []string{"cluster"}
	case databaseStack:
		return []string{"rotation", wholeDemo}
	}
	return nil
}

// wholeDemo names, as a section, a run of every section (demo -only unset).
const wholeDemo = "all"

// mutationBound is the wall time a run of a section may take before it counts as a hang: the
// cluster section takes about a minute alone (DefaultDemoScale), its full Create, key store,
// Update and Delete included.
func mutationBound(section string) time.Duration {
	switch section {
	case wholeDemo:
		return 10 * time.Minute
	case "cluster":
		return 6 * time.Minute
	case "rotation": // MariaDB's start, the stack's deploy and five rotations
		return 4 * time.Minute
	}
	return 2 * time.Minute
}

// observation is what one run of the demo left: its error, the IAM denials, every custom resource
// event with its answers, and what is left of the billable resources a failed Create must not leave.
type observation struct {
	err       error
	hung      bool
	decisions []sandbox.Decision
	requests  []cloudformation.Sent
	leftovers []string
	planned   []string // the demo's failures on purpose (demo.planned)
	output    string
	wall      time.Duration
}

func (o observation) denied() []sandbox.Decision {
	var out []sandbox.Decision
	for _, x := range o.decisions {
		if !x.Allowed {
			out = append(out, x)
		}
	}
	return out
}

// runSection runs one demo section on the assembly cdkOut, bounded by mutationBound.
func runSection(t *testing.T, root, cdkOut, hostBuilds, section string) observation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mutationBound(section))
	defer cancel()
	var out bytes.Buffer
	old := demoOut
	demoOut = &out
	defer func() { demoOut = old }()
	var o observation
	start := time.Now()
	only := section
	if section == wholeDemo {
		only = ""
	}
	o.err = runDemoConfig(ctx, demoConfig{scale: DefaultDemoScale, root: root, cdkOut: cdkOut, only: only, hostBuilds: hostBuilds,
		observe: func(d *demo) {
			o.decisions = d.judged()
			o.requests = d.sb.CloudFormation.Requests()
			o.leftovers = leftovers(context.Background(), d)
			o.planned = slices.Clone(d.planned)
		}})
	o.wall = time.Since(start)
	o.hung = errors.Is(ctx.Err(), context.DeadlineExceeded)
	o.output = out.String()
	return o
}

// leftovers lists the CloudHSM clusters that are not DELETED (or still have HSMs) and the KMS
// custom key stores that exist: what a rolled-back Create must not leave.
func leftovers(ctx context.Context, d *demo) []string {
	var out []string
	clusters, err := cloudhsmv2.NewFromConfig(d.aws).DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{})
	if err != nil {
		return []string{"DescribeClusters: " + err.Error()}
	}
	for _, c := range clusters.Clusters {
		if c.State != "DELETED" || len(c.Hsms) > 0 {
			out = append(out, fmt.Sprintf("cluster %s %s with %d HSMs", *c.ClusterId, c.State, len(c.Hsms)))
		}
	}
	stores, err := kms.NewFromConfig(d.aws).DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{})
	if err != nil {
		return append(out, "DescribeCustomKeyStores: "+err.Error())
	}
	for _, s := range stores.CustomKeyStores {
		out = append(out, fmt.Sprintf("key store %s %s", *s.CustomKeyStoreId, s.ConnectionState))
	}
	return out
}

// leftoverPrefix is how leftovers names what a custom resource type's Create makes.
var leftoverPrefix = map[string]string{clusterResourceType: "cluster ", keyStoreResourceType: "key store "}

// failedAnswers lists the custom resource events of o answered FAILED ("<RequestType>
// <LogicalResourceId>", one entry per event).
func failedAnswers(o observation) []string {
	var out []string
	for _, r := range o.requests {
		if len(r.Answers) > 0 && r.Answers[0].Response != nil && r.Answers[0].Response.Status == cloudformation.StatusFailed {
			out = append(out, r.Event.RequestType+" "+r.Event.LogicalResourceID)
		}
	}
	return out
}

// classify judges a run of the demo on the assembly without s. A denial counts only when it names
// one of s's actions. The alerts section has no custom resource: there a denial that fails the
// section is the wanted outcome. Elsewhere every custom resource event must have exactly one
// answer, at least one must be FAILED that the demo did not fail on purpose (o.planned: the
// cluster section fails a key store Update), and a failed Create must leave no cluster or key
// store.
func classify(s iammutation.Statement, section string, o observation) (outcome, detail string) {
	var named []sandbox.Decision
	for _, x := range o.denied() {
		if s.Matches(x.Action) {
			named = append(named, x)
		}
	}
	var unanswered, twice, failed []string
	createFailed, rollbackFailed := false, false
	// What a failed Create must not leave: its own resource's kind (a key store's Create is not
	// answerable for the cluster it was created on, which the section keeps until its own Delete).
	var leftovers []string
	for _, r := range o.requests {
		what := r.Event.RequestType + " " + r.Event.LogicalResourceID
		switch {
		case len(r.Answers) == 0:
			unanswered = append(unanswered, what)
		case len(r.Answers) > 1:
			twice = append(twice, fmt.Sprintf("%s answered %d times", what, len(r.Answers)))
		}
		if len(r.Answers) > 0 && r.Answers[0].Response != nil && r.Answers[0].Response.Status == cloudformation.StatusFailed {
			failed = append(failed, what)
			switch r.Event.RequestType {
			case cloudformation.RequestCreate:
				createFailed = true
				for _, l := range o.leftovers {
					if strings.HasPrefix(l, leftoverPrefix[r.Event.ResourceType]) {
						leftovers = append(leftovers, l)
					}
				}
			case cloudformation.RequestDelete:
				rollbackFailed = rollbackFailed || createFailed
			}
		}
	}
	firstErr := ""
	if o.err != nil {
		firstErr = firstLine(o.err.Error())
	}
	switch {
	case o.hung:
		return outcomeHang, fmt.Sprintf("the run outlasted its bound of %s: %s", mutationBound(section), firstErr)
	case len(unanswered) > 0:
		return outcomeHang, "no answer to " + strings.Join(unanswered, ", ")
	case len(named) == 0 && o.err == nil:
		return outcomeNoFailure, ""
	case len(named) == 0:
		other := ""
		if d := o.denied(); len(d) > 0 {
			other = fmt.Sprintf(" (%d other denials, first %s)", len(d), d[0].Action)
		}
		return outcomeOtherFailure, firstErr + other
	}
	denial := fmt.Sprintf("%s %s denied %s", named[0].Service, named[0].Operation, named[0].Action)
	if len(named) > 1 {
		denial += fmt.Sprintf(" (+%d)", len(named)-1)
	}
	if o.err == nil {
		return outcomeDeniedNotFailed, denial + ", yet the demo succeeded"
	}
	// The failures the removed grant caused: failed less the planned ones, one for one.
	fresh := slices.Clone(failed)
	for _, b := range o.planned {
		if i := slices.Index(fresh, b); i >= 0 {
			fresh = slices.Delete(fresh, i, i+1)
		}
	}
	if len(fresh) == 0 && len(twice) == 0 {
		answers := "every custom resource request answered SUCCESS once"
		if len(failed) > 0 {
			answers = "every custom resource request answered once, as without the removal (FAILED: " + strings.Join(failed, ", ") + ")"
		}
		return outcomeDeniedNoResource, denial + "; " + answers + "; the demo failed: " + firstErr
	}
	failed = fresh
	var problems []string
	problems = append(problems, twice...)
	left := len(leftovers) > 0
	if left && !rollbackFailed {
		problems = append(problems, "left behind: "+strings.Join(leftovers, ", "))
	}
	if len(problems) > 0 {
		return outcomeDeniedNotFailed, denial + "; " + strings.Join(problems, "; ")
	}
	if left {
		return outcomeDeniedRollbackFailed, denial + "; FAILED: " + strings.Join(failed, ", ") + "; kept: " + strings.Join(leftovers, ", ")
	}
	return outcomeDeniedFailed, denial + "; FAILED: " + strings.Join(failed, ", ")
}

// representative picks the default subset from the statements: the alerts relay's sns:Publish (a
// function's role), the CloudTrail rule's permission to invoke the relay (a Lambda permission), the
// alert key's statement that lets CloudWatch alarms publish to the encrypted topic (a service
// principal's grant, about 2 s: the demo's alarm test is refused kms:GenerateDataKey), the trail
// bucket's statement that lets CloudTrail write, the access log bucket's that lets S3 server access
// logging write and the trail key's that lets CloudTrail encrypt (service principals' grants in a
// bucket policy and a key policy, about 2 s each: the trail's or the access log's delivery is
// refused s3:PutObject or kms:GenerateDataKey), the cluster
// Create workflow's lambda:InvokeFunction (a state machine's role: the workflow cannot invoke its
// answer step either, so the safety net answers), the cluster secrets key's statement that lets
// IAM policies grant its use (a key policy's account statement: KMS's lockout safety check refuses
// the deploy's CreateKey with MalformedPolicyDocumentException, a few seconds), and the two grants EventBridge's dead letters to the
// encrypted alert queue need (about 2 s each: the demo's dead letter is refused): the queue
// policy's statement for the CloudTrail rule (sqs:SendMessage) and the alert key's
// AllowEventBridgeDeadLetters (kms:GenerateDataKey); the relay role's sqs:SendMessage, with which
// Lambda sends the relay's own failed event to its dead-letter queue (the demo's is then lost); the
// relay role's X-Ray statement (each invocation's segment is refused xray:PutTraceSegments and
// lost); the application user function role's network interface statement (the database
// stack's deploy is refused creating the function in its VPC: CreateFunction's
// InvalidParameterValueException, before its custom resource exists; the rotation section starts
// MariaDB first, a few seconds); and the relay role's logs statement, with which Lambda delivers
// what the relay prints to its log group (the relay runs on, its lines are dropped, and the refusal
// fails the demo).
func representative(t *testing.T, all []iammutation.Statement) []iammutation.Statement {
	t.Helper()
	picks := []struct {
		what string
		ok   func(iammutation.Statement) bool
	}{
		{"the alerts relay role's sns:Publish", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && strings.HasPrefix(s.Resource, "TrailRelayRoleDefaultPolicy") && slices.Equal(s.Actions, []string{"sns:Publish"})
		}},
		{"the CloudTrail rule's permission to invoke the relay", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindLambdaPermission && strings.HasPrefix(s.Resource, "CloudTrailEventsRuleAllowEventRule")
		}},
		{"the cluster Create workflow role's lambda:InvokeFunction", func(s iammutation.Statement) bool {
			return s.Stack == clusterStack && strings.HasPrefix(s.Resource, "ClusterCreateWorkflowRoleDefaultPolicy") && slices.Equal(s.Actions, []string{"lambda:InvokeFunction"})
		}},
		{"the alert key's statement that lets CloudWatch alarms publish", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindKeyPolicy && strings.Contains(s.Principal, "cloudwatch.amazonaws.com")
		}},
		{"the trail bucket's statement that lets CloudTrail write", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindBucketPolicy && strings.HasPrefix(s.Resource, "TrailBucketPolicy") && slices.Equal(s.Actions, []string{"s3:PutObject"})
		}},
		{"the access log bucket's statement that lets S3 server access logging write", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindBucketPolicy && strings.Contains(s.Principal, "logging.s3.amazonaws.com")
		}},
		{"the trail key's statement that lets CloudTrail encrypt", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindKeyPolicy && strings.Contains(s.Principal, "cloudtrail.amazonaws.com") && slices.Contains(s.Actions, "kms:GenerateDataKey*")
		}},
		{"the cluster secrets key's policy", func(s iammutation.Statement) bool {
			return s.Stack == clusterStack && s.Kind == iammutation.KindKeyPolicy && strings.HasPrefix(s.Resource, "ClusterSecretsKey")
		}},
		{"the alert queue policy's statement that lets the CloudTrail rule send dead letters", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindQueuePolicy && strings.Contains(s.Principal, "events.amazonaws.com") &&
				slices.Equal(s.Actions, []string{"sqs:SendMessage"})
		}},
		{"the alert key's statement that lets EventBridge send dead letters", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && s.Kind == iammutation.KindKeyPolicy && strings.Contains(s.Principal, "events.amazonaws.com")
		}},
		{"the alerts relay role's sqs:SendMessage to its dead-letter queue", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && strings.HasPrefix(s.Resource, "TrailRelayRoleDefaultPolicy") && slices.Equal(s.Actions, []string{"sqs:SendMessage"})
		}},
		{"the alerts relay role's X-Ray statement", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && strings.HasPrefix(s.Resource, "TrailRelayTracingPolicy") && slices.Contains(s.Actions, "xray:PutTraceSegments")
		}},
		{"the application user function role's network interface statement", func(s iammutation.Statement) bool {
			return s.Stack == databaseStack && strings.HasPrefix(s.Resource, "ApplicationUserFunctionRoleDefaultPolicy") && slices.Contains(s.Actions, "ec2:CreateNetworkInterface")
		}},
		{"the alerts relay role's logs statement for its log group", func(s iammutation.Statement) bool {
			return s.Stack == alertsStack && strings.HasPrefix(s.Resource, "TrailRelayRoleDefaultPolicy") &&
				slices.Equal(s.Actions, []string{"logs:CreateLogStream", "logs:PutLogEvents"})
		}},
	}
	// IAM_MUTATIONS_PICKS=<text> runs only the picks whose description contains it.
	if only := os.Getenv("IAM_MUTATIONS_PICKS"); only != "" {
		picks = slices.DeleteFunc(picks, func(p struct {
			what string
			ok   func(iammutation.Statement) bool
		}) bool {
			return !strings.Contains(p.what, only)
		})
	}
	var out []iammutation.Statement
	for _, p := range picks {
		i := slices.IndexFunc(all, p.ok)
		if i < 0 {
			t.Fatalf("cdk.out has no statement that is %s: the subset needs one (see representative)", p.what)
		}
		out = append(out, all[i])
	}
	return out
}

func TestIAMMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("each mutation deploys a copy of cdk.out and runs a demo section")
	}
	full := os.Getenv("IAM_MUTATIONS") == "all"
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ensureArtifacts(t, root)
	cdkOut := filepath.Join(root, "cdk.out")
	stacks, err := iammutation.Stacks(cdkOut)
	if err != nil {
		t.Fatal(err)
	}
	all, err := iammutation.List(cdkOut, stacks)
	if err != nil {
		t.Fatal(err)
	}
	hostBuilds := sharedHostBuilds(t)

	// The baseline: unmutated, the alerts section (and, for the whole matrix, the cluster and
	// rotation sections)
	// runs with no denial, so every denial below is the removed grant's. TestDemo is the cluster
	// section's baseline in make test.
	sections := []string{"alerts"}
	if full {
		sections = append(sections, "cluster", "rotation", wholeDemo)
	}
	granted := map[string]bool{} // identity statements some baseline decision was granted by
	for _, section := range sections {
		o := runSection(t, root, cdkOut, hostBuilds, section)
		if o.err != nil || len(o.denied()) > 0 || len(o.decisions) == 0 {
			t.Fatalf("baseline %s: %v, %d decisions, %d denied; output:\n%s", section, o.err, len(o.decisions), len(o.denied()), o.output)
		}
		// Unmutated, what failed is exactly what the demo failed on purpose.
		if got := failedAnswers(o); !slices.Equal(got, o.planned) {
			t.Fatalf("baseline %s: FAILED answers %q, but the demo planned %q", section, got, o.planned)
		}
		for _, x := range o.decisions {
			for _, g := range x.Grants {
				granted[g] = true
			}
		}
		t.Logf("baseline %s: %d decisions, 0 denied, %s", section, len(o.decisions), o.wall.Round(time.Second))
	}

	todo := representative(t, all)
	if full {
		todo = all
		// IAM_MUTATIONS_STACKS="A B" limits the matrix to those stacks' grants (the baselines still
		// run whole).
		if only := strings.Fields(os.Getenv("IAM_MUTATIONS_STACKS")); len(only) > 0 {
			todo = slices.DeleteFunc(slices.Clone(all), func(s iammutation.Statement) bool { return !slices.Contains(only, s.Stack) })
		}
		// IAM_MUTATIONS_IDS="A B" limits it to the statements whose ID contains one of them.
		if ids := strings.Fields(os.Getenv("IAM_MUTATIONS_IDS")); len(ids) > 0 {
			todo = slices.DeleteFunc(todo, func(s iammutation.Statement) bool {
				return !slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(s.ID, id) })
			})
		}
	}
	var matrix strings.Builder
	totals := map[string]int{}
	inferred := 0
	for _, s := range todo {
		sections := mutationSections(s.Stack)
		outcome, detail := "", ""
		switch {
		case len(sections) == 0:
			outcome, detail = outcomeNotDeployed, "the demo does not deploy "+s.Stack
		case full && s.Grant != "" && !granted[s.Grant]:
			// No decision of the baseline was granted by it, so removing it changes no decision the
			// demo makes: recorded without a run (the default subset runs every pick).
			outcome, detail = outcomeNoFailure, "not run: no baseline decision was granted by it"
			inferred++
		default:
			dir := filepath.Join(t.TempDir(), "cdk.out")
			removed, err := iammutation.Write(cdkOut, dir, s)
			if err != nil {
				t.Fatal(err)
			}
			// Each section in turn, until one fails without the grant.
			var o observation
			section := ""
			for _, section = range sections {
				o = runSection(t, root, dir, hostBuilds, section)
				if outcome, detail = classify(s, section, o); outcome != outcomeNoFailure {
					break
				}
			}
			where := "the " + section + " section"
			if section == wholeDemo {
				where = "the whole demo"
			}
			detail = fmt.Sprintf("%s; %s, %s; %s", removed, where, o.wall.Round(time.Second), detail)
			// On the alerts path there is no custom resource: its picks must be denied there. A VPC
			// function's network interface grant fails the database stack's deploy at the function,
			// before its custom resource exists.
			// A key's account statement: KMS's lockout safety check refuses the deploy's CreateKey.
			want := outcomeDeniedFailed
			if section == "alerts" || (s.Stack == databaseStack && slices.Contains(s.Actions, "ec2:CreateNetworkInterface")) ||
				(s.Kind == iammutation.KindKeyPolicy && slices.Equal(s.Actions, []string{"kms:*"})) {
				want = outcomeDeniedNoResource
			}
			if !full && outcome != want {
				t.Errorf("%s (%s): %s: %s\noutput:\n%s", s.ID, strings.Join(s.Actions, " "), outcome, detail, o.output)
			}
		}
		totals[outcome]++
		line := fmt.Sprintf("%s\t%s\t%s\t%s\n", s.ID, strings.Join(s.Actions, " "), outcome, detail)
		matrix.WriteString(line)
		t.Log(strings.TrimSpace(line))
		if full {
			writeMatrix(t, root, matrix.String(), totals, len(todo), inferred)
		}
	}
	if full {
		writeMatrix(t, root, matrix.String(), totals, len(todo), inferred)
	}
}

// hostBuildsDir is the directory of host builds the demo's runs in this test process share
// (demoConfig.hostBuilds), made by sharedHostBuilds and removed by TestMain.
var hostBuildsDir struct {
	sync.Mutex
	path string
}

// sharedHostBuilds returns hostBuildsDir, making it on first use: TestDemo builds every function
// for the host once, and each mutation's run registers those builds instead of linking them again.
func sharedHostBuilds(t *testing.T) string {
	t.Helper()
	hostBuildsDir.Lock()
	defer hostBuildsDir.Unlock()
	if hostBuildsDir.path == "" {
		dir, err := os.MkdirTemp("", "strongroom-test-host-builds-")
		if err != nil {
			t.Fatal(err)
		}
		hostBuildsDir.path = dir
	}
	return hostBuildsDir.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hostBuildsDir.path != "" {
		_ = os.RemoveAll(hostBuildsDir.path)
	}
	os.Exit(code)
}

// writeMatrix writes build/iam-mutations.txt: one line per grant (id, actions, outcome, detail)
// and the totals; it is rewritten after each mutation, so a run cut short keeps what it found.
func writeMatrix(t *testing.T, root, rows string, totals map[string]int, n, inferred int) {
	t.Helper()
	done := 0
	for _, c := range totals {
		done += c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# IAM mutation matrix (cmd/strongroom/iam_mutation_test.go): each grant of cdk.out removed alone, the demo section that deploys it run\n")
	fmt.Fprintf(&b, "# statement\tactions\toutcome\tdetail\n%s", rows)
	fmt.Fprintf(&b, "# totals: %d of %d statements: %d %s, %d %s, %d %s, %d %s (%d of them not run: no baseline decision granted by them), %d %s; defects: %d %s, %d %s, %d %s\n",
		done, n, totals[outcomeDeniedFailed], outcomeDeniedFailed, totals[outcomeDeniedRollbackFailed], outcomeDeniedRollbackFailed,
		totals[outcomeDeniedNoResource], outcomeDeniedNoResource,
		totals[outcomeNoFailure], outcomeNoFailure, inferred,
		totals[outcomeNotDeployed], outcomeNotDeployed,
		totals[outcomeDeniedNotFailed], outcomeDeniedNotFailed, totals[outcomeHang], outcomeHang, totals[outcomeOtherFailure], outcomeOtherFailure)
	if err := os.MkdirAll(filepath.Join(root, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "build", "iam-mutations.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
