// Package iamreport measures least privilege: it holds every statement the synthesized templates
// grant a role against the IAM decisions the sandbox made while running them (sandbox.Decision,
// as `strongroom demo -iam-decisions FILE` writes them) and, optionally, the workflow test kits'
// decisions (actors.go), so each granted action shows how often it was used and by which
// operations, and an action never used shows the reason it is granted anyway (Reasons) or is
// flagged as unused.
package iamreport

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
)

// Statement is one Allow statement a template grants a role: in an AWS::IAM::Policy attached to
// it, or in the role's own Policies.
type Statement struct {
	Stack string
	// Role is the role's name as the sandbox deploys it (deploy.PhysicalName).
	Role string
	// Policy is the policy's name; Number the statement's place in it, from 1 (as decisions name
	// statements: "<policy>#<number>").
	Policy  string
	Number  int
	Actions []string
	// Actors are what the role runs (a resource's function or workflow, the client instance), by
	// which the kits' decisions are matched to it (actors.go).
	Actors []string
}

// Row is one granted action of one statement and its use.
type Row struct {
	Statement
	Action string
	// Uses counts the decisions this statement allowed for this action; Operations lists the
	// calls ("kms Decrypt") that made them, with counts. TestUses counts the test kits' decisions
	// of the role's actors for this action (TestOperations their calls).
	Uses           int
	Operations     map[string]int
	TestUses       int
	TestOperations map[string]int
	// Reason says why an unused action is granted anyway ("" when it was used, or when no reason
	// is known: then it is unused and flagged).
	Reason string
}

// Unused reports whether the action was never used and has no reason to be granted.
func (r Row) Unused() bool { return r.Uses == 0 && r.TestUses == 0 && r.Reason == "" }

// Reasons are why actions a role is granted go unused in the sandbox and are still needed on AWS,
// by action prefix. Each names what uses them there.
var Reasons = map[string]string{
	"logs:":                          "CloudWatch Logs: Lambda delivers each invocation's platform lines and what the function prints to its log group with the role (so does the sandbox, judged: TestEnforceIAMFunctionLogs), and this role's function has no invocation in the demo",
	"xray:PutTraceSegments":          "X-Ray: each invocation of a traced function and each execution of a traced state machine sends its segment with the role (pkg/sandbox/tracing.go; TestEnforceIAMTracing); this role's function or state machine has no invocation in the demo",
	"xray:PutTelemetryRecords":       "X-Ray: the X-Ray daemon Lambda and Step Functions run reports its telemetry with the role (the sandbox's X-Ray keeps segments only, pkg/sandbox/xray)",
	"xray:GetSamplingRules":          "X-Ray: Step Functions applies the account's sampling rules with the state machine's role (the sandbox keeps every segment, pkg/sandbox/xray)",
	"xray:GetSamplingTargets":        "X-Ray: Step Functions reports its sampling statistics with the state machine's role (the sandbox keeps every segment, pkg/sandbox/xray)",
	"ec2:DeleteNetworkInterface":     "a function in a VPC: Lambda deletes its network interfaces with the role when the function is deleted or leaves its VPC (Sandbox.DetachFunctionVPC; TestEnforceIAMFunctionVPC): the demo deletes no function",
	"ec2:AssignPrivateIpAddresses":   "a function in a VPC: AWSLambdaVPCAccessExecutionRole grants it for Lambda's management of its network interfaces' addresses, which no documented operation names (the sandbox gives each interface one address)",
	"ec2:UnassignPrivateIpAddresses": "a function in a VPC: AWSLambdaVPCAccessExecutionRole grants it for Lambda's management of its network interfaces' addresses, which no documented operation names (the sandbox gives each interface one address)",
	"sqs:SendMessage":                "a dead-letter queue: Lambda sends a function's failed asynchronous events to it with the role (so does the sandbox, judged: TestEnforceIAMFunctionDeadLetter), and none of this function's failed on the demo's paths",
}

// PathReason is why one role's action is granted although the demo takes no path that uses it: the
// path that does, and where it is coded and tested. Role is a substring of the role's name.
type PathReason struct {
	Role, Action, Reason string
}

// Why the paths below are not in the demo: each is a retry, a repair, a setting the demo leaves at
// its default, or a failure the demo does not inject; each named test runs it under IAM enforcement
// (the kits' roles are built from the same grants), so with make test's decisions (-test-decisions)
// most of these actions are counted as used and the reason is not needed.
const (
	pathRetryCreate      = "a step run again (a retry after a crash or a timeout) whose CreateSecret finds the secret it made before (ResourceExistsException) describes it instead (pkg/hsmcluster/password; clustertest TestCrashAfterSideEffect)"
	pathStartUnknown     = "after a StartExecution whose answer was lost (a timeout, a 5xx) the entry step asks whether the execution started (pkg/customresource/entry; the kits' lost start probe, stacktest.Run.LostStartProbe, runs it under IAM)"
	pathFlowLogsReject   = "VPC flow logs: a REJECT flow log delivers its records with its role (logs:CreateLogStream for each interface's stream, then logs:PutLogEvents) only when the security groups refuse a connection, which none does in the demo (pkg/sandbox/flowlogs.go; TestEnforceIAMFlowLogs proves both grants and the trust of vpc-flow-logs.amazonaws.com)"
	pathFlowLogsDescribe = "VPC flow logs: AWS's documented flow log role (Amazon VPC User Guide, IAM role for publishing flow logs to CloudWatch Logs) grants it, for the service to find its log streams; the sandbox's delivery knows its streams and judges only logs:CreateLogStream and logs:PutLogEvents (pkg/sandbox/flowlogs.go; TestEnforceIAMFlowLogs)"
	pathRecovery         = "a single-user rotation recovers a password an abandoned rotation already set by listing the secret's unlabelled versions (pkg/rotation setSecret; TestAbandonedRotationRecovers)"
)

// PathReasons are the role-specific reasons, for actions that the prefix Reasons do not cover or
// cover for other roles.
var PathReasons = []PathReason{
	{"VpcAllIAMRole", "logs:CreateLogStream", pathFlowLogsReject},
	{"VpcAllIAMRole", "logs:PutLogEvents", pathFlowLogsReject},
	{"VpcAllIAMRole", "logs:DescribeLogStreams", pathFlowLogsDescribe},
	{"VpcFlowLogIAMRole", "logs:DescribeLogStreams", pathFlowLogsDescribe},
	{"SuperuserRotationRole", "secretsmanager:ListSecretVersionIds", pathRecovery},
	{"UserRotationRole", "secretsmanager:ListSecretVersionIds", pathRecovery},
	{"ClusterPasswordRole", "secretsmanager:DescribeSecret", pathRetryCreate},
	{"ClusterSignRole", "secretsmanager:GetSecretValue", "a signing step run again (a retry after a crash or a timeout) finds the customer CA it created and reads its key (pkg/customerca; clustertest TestCrashAfterSideEffect)"},
	{"ClusterSettingsRole", "cloudhsm:ModifyCluster", "an Update that changes BackupRetentionDays (pkg/hsmcluster/settings; clustertest TestUpdateAppliesBackupRetentionAndTags): the demo's Update changes HsmCount only"},
	{"ClusterSettingsRole", "cloudhsm:TagResource", "an Update that adds or changes the cluster's Tags (pkg/hsmcluster/settings; clustertest TestUpdateAppliesBackupRetentionAndTags)"},
	{"ClusterSettingsRole", "cloudhsm:UntagResource", "an Update that removes one of the cluster's Tags (pkg/hsmcluster/settings; clustertest TestUpdateAppliesBackupRetentionAndTags)"},
	{"ClusterEntryRole", "states:DescribeExecution", pathStartUnknown},
	{"KeyStoreEntryRole", "states:DescribeExecution", pathStartUnknown},
	{"KeystoreDeleteRole", "kms:DeleteCustomKeyStore", "a stack deletion with DeleteKeyStoreOnStackDeletion true (pkg/keystore/delete; keystoretest TestKeyStoreLifecycle): the demo keeps the store"},
	{"KeystoreDeleteRole", "secretsmanager:DeleteSecret", "a stack deletion with DeleteKeyStoreOnStackDeletion true deletes the kmsuser password secret (pkg/keystore/delete; keystoretest TestKeyStoreLifecycle)"},
	{"KeystoreUpdateRole", "cloudhsm:DescribeClusters", "KMS requires it of the caller of an UpdateCustomKeyStore that moves the store to another cluster (authz.Specials; pkg/keystore/update): the demo's Update renames, and an injected KMS fault fails it"},
	{"KeystoreUpdateRole", "kms:UpdateCustomKeyStore", "an Update that renames the store or moves it (pkg/keystore/update; keystoretest TestKeyStoreLifecycle): the demo's is failed by an injected KMS fault, which answers before IAM judges"},
	{"KeystoreUpdateRole", "secretsmanager:GetSecretValue", "an Update that gives KMS the kmsuser password again (pkg/keystore/update; keystoretest TestKeyStoreLifecycle)"},
	{"KeystoreUpdateRole", "kms:Decrypt", "Secrets Manager decrypts the kmsuser password for the Update step's GetSecretValue (pkg/keystore/update; keystoretest TestKeyStoreLifecycle)"},
	{"ClusterCreateRole", "ec2:CreateTags", "the AWS CloudHSM User Guide's policy for cluster administrators (Customer managed policies for AWS CloudHSM) grants it beside the security group actions CreateCluster uses with the caller's permissions, for the tags of the group CloudHSM creates; the Service Authorization Reference's CreateCluster row and the sandbox's CreateCluster do not name it. Kept so a first real deploy cannot fail on it; to be dropped once CloudTrail in a real account shows CreateCluster without it"},
}

// pathReason is PathReasons' reason for role's action, "" when it has none.
func pathReason(role, action string) string {
	for _, p := range PathReasons {
		if p.Action == action && strings.Contains(role, p.Role) {
			return p.Reason
		}
	}
	return ""
}

func reason(action string) string {
	best := ""
	for prefix := range Reasons {
		if strings.HasPrefix(action, prefix) && len(prefix) > len(best) {
			best = prefix
		}
	}
	return Reasons[best]
}

// Load reads the Allow statements every role of the stacks' templates (cdkOut/<stack>.template.json)
// is granted.
func Load(cdkOut string, stacks []string) ([]Statement, error) {
	var out []Statement
	roleActors := map[string][]string{}
	for _, stack := range stacks {
		t, err := cfntemplate.Load(filepath.Join(cdkOut, stack+".template.json"))
		if err != nil {
			return nil, err
		}
		roleName := func(v any) string {
			if m, ok := v.(map[string]any); ok {
				if id, ok := m["Ref"].(string); ok {
					if r, ok := t.Resources[id]; ok && r.Type == "AWS::IAM::Role" {
						if n, ok := r.Properties["RoleName"].(string); ok {
							return n
						}
						return deploy.PhysicalName(stack, id, 64)
					}
				}
			}
			if s, ok := v.(string); ok {
				return s
			}
			return "" // a role of another stack (Fn::ImportValue): reported with that stack
		}
		add := func(role, policy string, doc any) {
			d, _ := doc.(map[string]any)
			sts, _ := d["Statement"].([]any)
			for i, st := range sts {
				m, _ := st.(map[string]any)
				if m["Effect"] != "Allow" {
					continue
				}
				out = append(out, Statement{Stack: stack, Role: role, Policy: policy, Number: i + 1, Actions: strs(m["Action"])})
			}
		}
		for role, as := range actors(t, roleName) {
			roleActors[role] = append(roleActors[role], as...)
		}
		for _, id := range t.ByType("AWS::IAM::Role") {
			name := roleName(map[string]any{"Ref": id})
			pols, _ := t.Resources[id].Properties["Policies"].([]any)
			for _, p := range pols {
				m, _ := p.(map[string]any)
				add(name, fmt.Sprint(m["PolicyName"]), m["PolicyDocument"])
			}
		}
		for _, id := range t.ByType("AWS::IAM::Policy") {
			p := t.Resources[id].Properties
			roles, _ := p["Roles"].([]any)
			for _, r := range roles {
				if name := roleName(r); name != "" {
					add(name, fmt.Sprint(p["PolicyName"]), p["PolicyDocument"])
				} else if imp, ok := r.(map[string]any)["Fn::ImportValue"].(string); ok {
					// The exporting stack's Ref output names the role: <Stack>:ExportsOutputRef<LogicalId><hash>.
					if name := importedRole(imp); name != "" {
						add(name, fmt.Sprint(p["PolicyName"]), p["PolicyDocument"])
					}
				}
			}
		}
	}
	for i := range out {
		out[i].Actors = roleActors[out[i].Role]
	}
	return out, nil
}

// exportRef matches CDK's export names for a Ref: <Stack>:ExportsOutputRef<LogicalId><8 hex>.
var exportRef = regexp.MustCompile(`^([A-Za-z0-9-]+):ExportsOutputRef([A-Za-z0-9]+)[0-9A-F]{8}$`)

func importedRole(name string) string {
	m := exportRef.FindStringSubmatch(name)
	if m == nil {
		return ""
	}
	return deploy.PhysicalName(m[1], m[2], 64)
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// actionPattern matches the actions an IAM action pattern (with * and ?) names, case-insensitively.
func actionPattern(pattern string) *regexp.Regexp {
	return regexp.MustCompile("(?i)^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$")
}

// Build holds statements against decisions: one Row per granted action of each statement.
func Build(statements []Statement, decisions []sandbox.Decision, tests []TestDecision) []Row {
	type key struct{ role, grant string }
	byGrant := map[key][]sandbox.Decision{}
	for _, d := range decisions {
		if !d.Allowed {
			continue
		}
		role := d.Role[strings.LastIndex(d.Role, "/")+1:]
		for _, g := range d.Grants {
			byGrant[key{role, g}] = append(byGrant[key{role, g}], d)
		}
	}
	byActor := map[string][]TestDecision{}
	for _, d := range tests {
		if d.Allowed && d.Actor != "" {
			byActor[d.Actor] = append(byActor[d.Actor], d)
		}
	}
	var rows []Row
	for _, st := range statements {
		used := byGrant[key{st.Role, fmt.Sprintf("%s#%d", st.Policy, st.Number)}]
		for _, a := range st.Actions {
			r := Row{Statement: st, Action: a, Operations: map[string]int{}, TestOperations: map[string]int{}}
			pattern := actionPattern(a)
			for _, d := range used {
				if pattern.MatchString(d.Action) {
					r.Uses++
					r.Operations[d.Service+" "+d.Operation]++
				}
			}
			for _, actor := range st.Actors {
				for _, d := range byActor[actor] {
					if pattern.MatchString(d.Action) {
						r.TestUses++
						r.TestOperations[d.Service+" "+d.Operation]++
					}
				}
			}
			// A role's own reason first: it is more specific than the action's.
			if r.Uses == 0 && r.TestUses == 0 {
				if r.Reason = pathReason(st.Role, a); r.Reason == "" {
					r.Reason = reason(a)
				}
			}
			rows = append(rows, r)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Role != rows[j].Role {
			return rows[i].Role < rows[j].Role
		}
		if rows[i].Policy != rows[j].Policy {
			return rows[i].Policy < rows[j].Policy
		}
		return rows[i].Number < rows[j].Number
	})
	return rows
}

// ReadDecisions reads decisions written one JSON object per line.
func ReadDecisions(path string) ([]sandbox.Decision, error) {
	return readLines[sandbox.Decision](path, "decisions")
}

// readLines reads the JSON objects of the file at path, one per line; what names them in errors.
func readLines[T any](path, what string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	dec := json.NewDecoder(f)
	for {
		var d T
		if err := dec.Decode(&d); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("read %s %s: %w", what, path, err)
		}
		out = append(out, d)
	}
}

// Write prints rows grouped by role, then a summary line, and returns the number of unused
// actions with no reason.
func Write(w io.Writer, rows []Row) (unused int, err error) {
	var b strings.Builder
	roles, used, testsOnly, reasoned := map[string]bool{}, 0, 0, 0
	ops := func(m map[string]int) string {
		out := make([]string, 0, len(m))
		for op, n := range m {
			out = append(out, fmt.Sprintf("%s x%d", op, n))
		}
		sort.Strings(out)
		return strings.Join(out, ", ")
	}
	for i, r := range rows {
		if i == 0 || r.Role != rows[i-1].Role {
			fmt.Fprintf(&b, "%s (%s)\n", r.Role, r.Stack)
			roles[r.Role] = true
		}
		switch {
		case r.Uses > 0:
			used++
			fmt.Fprintf(&b, "  %s#%d %s: used %d (%s)", r.Policy, r.Number, r.Action, r.Uses, ops(r.Operations))
			if r.TestUses > 0 {
				fmt.Fprintf(&b, "; in the tests %d", r.TestUses)
			}
			b.WriteString("\n")
		case r.TestUses > 0:
			testsOnly++
			fmt.Fprintf(&b, "  %s#%d %s: used in the tests %d (%s), not in the demo\n", r.Policy, r.Number, r.Action, r.TestUses, ops(r.TestOperations))
		case r.Reason != "":
			reasoned++
			fmt.Fprintf(&b, "  %s#%d %s: not used here; %s\n", r.Policy, r.Number, r.Action, r.Reason)
		default:
			unused++
			fmt.Fprintf(&b, "  %s#%d %s: UNUSED in this run: no call needed it; remove it if nothing needs it on AWS, else give the reason (pkg/sandbox/iamreport Reasons)\n", r.Policy, r.Number, r.Action)
		}
	}
	fmt.Fprintf(&b, "iam-report: %d roles, %d granted actions: %d used in the demo, %d used only in the tests, %d not used here with a reason, %d unused\n",
		len(roles), len(rows), used, testsOnly, reasoned, unused)
	_, err = io.WriteString(w, b.String())
	return unused, err
}
