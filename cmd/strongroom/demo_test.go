package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox"
)

// TestDemo runs every section of the demo against a fresh sandbox, as `make demo` does, and checks
// what it printed: the e-mails the alert subscribers got, that rotation kept the application
// working, and the cluster's journey with the key store's on it, including the e-mails of the key
// store's health check and of its failed workflow (or, without those stacks in cdk.out, that the
// section says why it did not run). It needs `make build synth` artifacts and builds them itself when they
// are missing or stale.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs real binaries, a real MariaDB server and whole workflows (about 50 s)")
	}
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ensureArtifacts(t, root)
	var out bytes.Buffer
	old := demoOut
	demoOut = &out
	t.Cleanup(func() { demoOut = old })
	// A bound, not a timing (make bench times the demo): alone it takes about two minutes, and four
	// once ran out while make test ran packages side by side on two cores.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	start := time.Now()
	var seen observation // what the mutation matrix's classify reads (iam_mutation_test.go)
	runErr := runDemoConfig(ctx, demoConfig{scale: DefaultDemoScale, root: root, hostBuilds: sharedHostBuilds(t),
		observe: func(d *demo) { seen.requests, seen.planned = d.sb.CloudFormation.Requests(), slices.Clone(d.planned) }})
	t.Logf("demo took %s of wall time; output:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if runErr != nil {
		// Reported, and the checks below still run, so each section's failure is named.
		t.Errorf("demo failed: %v", runErr)
	}
	text := out.String()
	// The mutation matrix tells a removed grant's failures from the demo's own by demo.planned:
	// unmutated, the answers FAILED are exactly those.
	if got := failedAnswers(seen); len(seen.planned) == 0 || !slices.Equal(got, seen.planned) {
		t.Errorf("custom resource requests answered FAILED: %q; the demo planned %q", got, seen.planned)
	}

	t.Run("alerts", func(t *testing.T) {
		// One e-mail per recorded event to everyone, with the relay's subject and severity; only
		// the critical ones reach the on-call subscription's filter policy.
		checkContains(t, text,
			"Subject: [CRITICAL] signin:ConsoleLogin by root in 123456789012  [severity=critical]",
			"Subject: [CRITICAL] cloudhsm:DeleteCluster by Admin/carol@example.com in 123456789012  [severity=critical]",
			"Subject: [CRITICAL] kms:ScheduleKeyDeletion by bob in 123456789012  [severity=critical]",
			"Subject: [INFO] secretsmanager:GetSecretValue by StrongroomRotation-RotateRoleA1B2C3D4-M5... in 123456789012  [severity=info]",
			"Subject: [WARNING] signin:ConsoleLogin failed by alice in 123456789012  [severity=warning]",
			"Subject: [WARNING] secretsmanager:GetSecretValue failed: AccessDenied by app-server/i-0fe... in 123456789012  [severity=warning]",
			"Subject: [CRITICAL] secretsmanager:RotationFailed by secretsmanager.amazonaws.com in 123456789012  [severity=critical]",
			"PutEvents(source aws.signin) -> NotAuthorizedForSourceException",
			"| Result:     FAILED AccessDenied: User: arn:aws:sts::111122223333:assumed-role/app-server/",
		)
		// The recorded events, plus the real RotationFailed of the rotation section (the key store's
		// e-mails are checked by the keystore subtest).
		if got := strings.Count(between(text, "== 1. ", "== 3. "), "-> To: "+alertsEveryone); got != len(alertFixtures)+1 {
			t.Errorf("%d e-mails to %s printed; want %d", got, alertsEveryone, len(alertFixtures)+1)
		}
		if got := strings.Count(between(text, "== 1. ", "== 2. "), "also to: "+alertsOnCall); got != 4 {
			t.Errorf("%d recorded events also reached %s; want the 4 critical ones", got, alertsOnCall)
		}
		if !strings.Contains(text, "alerts    ok      ") {
			t.Error("summary does not report the alerts section ok")
		}
	})

	t.Run("alarms", func(t *testing.T) {
		// One alarm of each stack set to ALARM: CloudWatch's publish to the encrypted alert topic,
		// allowed by the topic's and its key's CloudWatch statements, is mailed to everyone; the
		// on-call subscription's filter policy matches no alarm notification.
		for _, stack := range []string{alertsStack, databaseStack, clusterStack, keyStoreStack} {
			mail := "   -> alarm e-mail to " + alertsEveryone + "  Subject: ALARM: \"" + stack + "-"
			if got := strings.Count(text, mail); got != 1 {
				t.Errorf("%d alarm e-mails %q...; want 1, for the alarm the demo set to ALARM", got, mail)
			}
		}
		checkContains(t, text,
			"      | - State Change:               INSUFFICIENT_DATA -> ALARM",
			"      not to: "+alertsOnCall+` (its filter policy {"severity":["critical"]} matches no attribute of an alarm's notification)`,
		)
	})

	t.Run("dead letters", func(t *testing.T) {
		// Each stack with a dead-letter queue shows one dead letter reaching it, refused by the
		// rule's function (its permission taken away) and sent as events.amazonaws.com, allowed by
		// the queue's policy (and the alert key's, for the encrypted alert queue).
		for _, stack := range []string{alertsStack, clusterStack, keyStoreStack} {
			line := stack + ": dead letter in " + stack + "-"
			if !strings.Contains(text, line) || !strings.Contains(between(text, line, "\n"), ": ERROR_CODE NO_PERMISSIONS, RULE_ARN arn:aws:events:us-east-1:123456789012:rule/") {
				t.Errorf("no dead letter of %s printed (want %q... ERROR_CODE NO_PERMISSIONS, RULE_ARN ...)", stack, line)
			}
		}
		checkContains(t, text,
			"StrongroomAlerts: dead letter in StrongroomAlerts-UndeliveredAlerts",
			"RULE_ARN arn:aws:events:us-east-1:123456789012:rule/StrongroomAlerts-CloudTrailEvents (sent as events.amazonaws.com, allowed by the queue's policy and its KMS key's)",
			"refused on purpose (a rule's permission taken away to show its dead letter)",
			// The relay's own dead letter, sent by Lambda with the relay's role after 3 attempts.
			"StrongroomAlerts: dead letter of StrongroomAlerts-TrailRelay",
			"after 3 attempts: RequestID ",
			"ErrorCode 200, ErrorMessage \"RetryableError: publish event",
			"(sent by Lambda with the function's role, allowed by its sqs:SendMessage and kms:GenerateDataKey on the queue's key)",
		)
	})

	t.Run("logs", func(t *testing.T) {
		// The relay's lines reach its log group, written with its role (CreateLogStream and
		// PutLogEvents, judged), and the cluster's Create workflow's events its group.
		relay := between(text, alertsStack+": log group "+alertsStack+"-TrailRelayLogs", "\n")
		if !strings.Contains(relay, " events, the first: \"alert published\"") {
			t.Errorf("the relay's log group line is %q, want its events, the first \"alert published\"", relay)
		}
		if !strings.Contains(text, clusterStack+": log group "+clusterStack+"-ClusterCreateWorkflowLogs") {
			t.Errorf("no line for the cluster's Create workflow's log group")
		}
	})

	t.Run("trail", func(t *testing.T) {
		// The alerts stack's trail delivers an SSE-KMS log file, read back as the account, of calls
		// the demo made (the relay's own, as its role), and the trail bucket's access log records
		// that read.
		section := between(text, "== 1. ", "== 2. ")
		checkContains(t, section,
			"(as cloudtrail.amazonaws.com, SSE-KMS with the trail key)",
			"/AWSLogs/123456789012/CloudTrail/us-east-1/",
			"GetObject as the account (aws:kms, key arn:aws:kms:us-east-1:123456789012:key/",
			"1x cloudtrail:StartLogging by root",
			"dynamodb:UpdateItem by StrongroomAlerts-TrailRelayRole",
			"(as logging.s3.amazonaws.com)",
			"      REST.GET.OBJECT AWSLogs/123456789012/CloudTrail/us-east-1/",
		)
	})

	t.Run("rotation", func(t *testing.T) {
		checkContains(t, text,
			"deploying StrongroomDatabase from cdk.out",
			"application user Create answered SUCCESS",
			"ran: createSecret -> setSecret -> testSecret -> finishSecret\n",
			": rotation function StrongroomDatabase-UserRotation",
			"ran: testSecret\n",
			"CloudFormation's generated password (now AWSPREVIOUS) of strongroom_admin is refused: Error 1045 (28000): Access denied for user 'strongroom_admin'",
			"application user app (created by the stack's Custom::DatabaseUser) logs in to database app",
			"old password (AWSPREVIOUS) of strongroom_admin is refused: Error 1045 (28000): Access denied for user 'strongroom_admin'",
			"new password (AWSCURRENT) of strongroom_admin logs in",
			"rotation 1: both users log in: AWSCURRENT=app_clone, AWSPREVIOUS=app",
			"rotation 2: both users log in: AWSCURRENT=app, AWSPREVIOUS=app_clone",
			"ran: createSecret -> setSecret FAILED (TerminalError)",
			"rotation failed as it should: setSecret: as superuser strongroom_admin",
			"AWSCURRENT of app still logs in; the AWSPENDING version stays for the next attempt",
			"the alerts stack e-mailed the real RotationFailed event:\n   -> To: security-team@example.com  Subject: [CRITICAL] secretsmanager:RotationFailed",
			"| Result:     FAILED: Error when executing lambda arn:aws:lambda:us-east-1:123456789012:function:StrongroomDatabase-UserRotation",
		)
		// The deploy's superuser rotation, one single user, two alternating.
		if n := strings.Count(text, "ran: createSecret -> setSecret -> testSecret -> finishSecret"); n != 4 {
			t.Errorf("%d complete rotations printed; want 4 (the deploy's, one single user, two alternating)", n)
		}
		m := regexp.MustCompile(`application failed queries: single user (\d+) of (\d+); alternating users (\d+) of (\d+); a failed rotation left AWSCURRENT working and was e-mailed`).FindStringSubmatch(text)
		if m == nil {
			t.Fatal("summary lacks the application's failed-query counts")
		}
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		if n(2) == 0 || n(4) == 0 {
			t.Errorf("the application ran no queries during rotation: %s", m[0])
		}
		if n(3) != 0 {
			t.Errorf("alternating users: %d failed queries; want none", n(3))
		}
		t.Logf("single user: %d of %d queries failed; alternating users: %d of %d", n(1), n(2), n(3), n(4))
	})

	t.Run("cluster", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(root, "cdk.out", clusterStack+".template.json")); err != nil {
			if !strings.Contains(text, "skipped: cdk.out has no "+clusterStack) || !strings.Contains(text, "cluster   skipped") {
				t.Errorf("without %s in cdk.out the section must say it is skipped and why", clusterStack)
			}
			return
		}
		// States in the order a Create, an Update and a Delete go through them; between the Update
		// and the Delete, a Mode change the Update workflow refuses, rolled back and e-mailed.
		// The Fail state is entered just after the answer; the relay mails only once the execution failed.
		refused := between(text, "a stack update asks for Mode", "the relay mailed:")
		checkOrder(t, refused, "workflow ClusterUpdateWorkflow", "> Plan", "> AnswerFailure", "> Failed")
		if n := len(regexp.MustCompile(`workflow ClusterUpdateWorkflow\S* FAILED`).FindAllString(text, -1)); n != 1 {
			t.Errorf("%d cluster Update workflows FAILED; want the 1 the demo makes fail", n)
		}
		if bad := regexp.MustCompile(`workflow Cluster(Create|Delete)Workflow\S* (FAILED|TIMED_OUT|ABORTED)|workflow Cluster\S* (TIMED_OUT|ABORTED)`).FindString(text); bad != "" {
			t.Errorf("output contains %q", bad)
		}
		checkOrder(t, text,
			"cluster cluster-", ": CREATE_IN_PROGRESS\n", "CREATE_IN_PROGRESS -> UNINITIALIZED", "UNINITIALIZED -> INITIALIZE_IN_PROGRESS",
			"INITIALIZE_IN_PROGRESS -> INITIALIZED", "INITIALIZED -> ACTIVE", "Create answered SUCCESS", "Data.HsmIps",
			"Update HsmCount 2 -> 3 answered SUCCESS", "is ACTIVE with 3 HSMs",
			"runs lambdas/cluster-health rate(5 minutes)", "health check: cluster-state OK: cluster cluster-", "health check: backup-age OK",
			"a stack update asks for Mode (unset) -> NON_FIPS, which a cluster cannot change in place",
			"Update Mode answered FAILED: ", "Mode: cannot be changed by an update: a cluster's FIPS mode is fixed at creation",
			"CloudFormation rolled the stack back (an Update to the old properties): answered SUCCESS",
			"-> To: security-team@example.com  Subject: [CRITICAL] states:ExecutionFailed cluster update at Plan: WorkflowFailed",
			"| Cause:         invalid Custom::CloudHsmCluster properties: Mode: cannot be changed by an update", "also to: on-call@example.com",
			" requests CloudFormation sent ClusterEB0386A7 so far was answered once",
			"ACTIVE -> DELETE_IN_PROGRESS",
			"DELETE_IN_PROGRESS -> DELETED", "Delete answered SUCCESS", "customer CA secret")
		// Both stacks' flow logs on the one sandbox VPC deliver with their roles; the database
		// stack's (ALL) saw the client instance reach the HSMs during activation.
		checkMatch(t, text, `flow logs on vpc-0a5b0c1d2e3f40001: 2, each DeliverLogsStatus SUCCESS; StrongroomDatabase's flow log fl-[0-9a-f]{17} \(ALL\) holds [1-9]\d* ACCEPT records of the client instance's connections to HSMs on port 2223 \(streams eni-[0-9a-f]{17}`)
		if !strings.Contains(text, "cluster   ok      ") {
			t.Error("summary does not report the cluster section ok")
		}
	})

	t.Run("keystore", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(root, "cdk.out", clusterStack+".template.json")); err != nil {
			return // the cluster subtest checks the section says why it was skipped
		}
		if _, err := os.Stat(filepath.Join(root, "cdk.out", keyStoreStack+".template.json")); err != nil {
			if !strings.Contains(text, "skipped: cdk.out has no "+keyStoreStack) {
				t.Errorf("without %s in cdk.out the cluster section must say the key store was skipped and why", keyStoreStack)
			}
			return
		}
		// On the ACTIVE cluster after its Create and before its update, what the demo itself does,
		// in this order.
		checkOrder(t, text,
			"Create answered SUCCESS, PhysicalResourceId cluster-", "== 3a. KMS custom key store", "deploying "+keyStoreStack,
			"key store Create answered SUCCESS, PhysicalResourceId cks-", "Data.CustomKeyStoreId",
			"the secret scan will look for the kmsuser password (secret strongroom/StrongroomKeyStore/KeyStore/kmsuser-password) and the 1 that KMS generated on connect",
			"kmsuser password rotation: no schedule (off by default; set strongroom:kmsUserRotationSchedule to a cron() window to turn it on)",
			") is CONNECTED to cluster cluster-", "CreateKey (Origin AWS_CLOUDHSM, CustomKeyStoreId cks-", ", Enabled, key material on cluster cluster-",
			`Encrypt "attack at dawn" (14 bytes) -> ciphertext of `, `Decrypt -> "attack at dawn" under key `, "round trip ok",
			"kmsuser password rotation, run once as its schedule would run it: StartExecution of arn:aws:states:",
			"rotation SUCCEEDED: secret strongroom/StrongroomKeyStore/KeyStore/kmsuser-password holds a new kmsuser password",
			`the store is CONNECTED again, and what was encrypted before it decrypts to "attack at dawn"`,
			"DeleteKeyStoreOnStackDeletion is false in the template",
			"key store Delete answered SUCCESS: key store cks-", " was disconnected and kept, with kmsuser, because DeleteKeyStoreOnStackDeletion is false",
			"is DISCONNECTED and kept; key ", " is Unavailable (Encrypt now answers KMSInvalidStateException)",
			"== 3d. CloudHSM cluster", "Update HsmCount 2 -> 3")
		// The watcher's lines interleave with the deploy's, but all of a workflow's lines come
		// before the answer it sent (each execution's states in order) and so do the ConnectionState
		// changes the workflow waits for. (A state shorter than one poll may go unseen, so the
		// patterns allow for that.)
		create := between(text, "deploying "+keyStoreStack, "key store Create answered")
		checkOrder(t, create, "workflow KeyStoreCreateWorkflow", "> Plan", "> StorePassword", "> CreateUser", "> CreateStore", "> Connect", "> AnswerSuccess")
		checkOrder(t, create, "ConnectionState ", "CONNECTING -> CONNECTED")
		checkMatch(t, create, `ConnectionState (DISCONNECTED -> )?CONNECTING\n`)
		rotation := between(text, "kmsuser password rotation, run once", "rotation SUCCEEDED")
		checkOrder(t, rotation, "workflow KeyStoreRotateWorkflow", "> Plan", "> Disconnect", "> ChangePassword", "> TellKms", "> Connect")
		del := between(text, "deleting "+keyStoreStack, "key store Delete answered")
		checkOrder(t, del, "workflow KeyStoreDeleteWorkflow", "> Plan", "> Disconnect", "> AnswerSuccess")
		checkMatch(t, del, `ConnectionState CONNECTED -> (DISCONNECTING|DISCONNECTED)\n`, `ConnectionState (CONNECTED|DISCONNECTING) -> DISCONNECTED\n`)
		// An execution ends just after its answer, so its end may print after the demo moved on.
		checkMatch(t, text, `workflow KeyStoreCreateWorkflow\S* SUCCEEDED`, `workflow KeyStoreDeleteWorkflow\S* SUCCEEDED`)
		// Only the Update that the alerts part makes fail may fail, once.
		if bad := regexp.MustCompile(`workflow KeyStore(Create|Delete|Rotate)\S* (FAILED|TIMED_OUT|ABORTED)|workflow KeyStore\S* (TIMED_OUT|ABORTED)|ConnectionState (\S+ -> )?FAILED`).FindString(text); bad != "" {
			t.Errorf("output contains %q", bad)
		}
		if n := len(regexp.MustCompile(`workflow KeyStoreUpdateWorkflow\S* FAILED`).FindAllString(text, -1)); n != 1 {
			t.Errorf("%d key store Update workflows FAILED; want the 1 the demo makes fail", n)
		}
		m := regexp.MustCompile(`Encrypt "attack at dawn" \((\d+) bytes\) -> ciphertext of (\d+) bytes`).FindStringSubmatch(text)
		if m == nil {
			t.Fatal("output lacks the Encrypt line")
		}
		if cipher, _ := strconv.Atoi(m[2]); cipher <= len(demoMessage) {
			t.Errorf("Encrypt of %d bytes gave %d bytes of ciphertext; want more (it carries the key id, nonce and tag)", len(demoMessage), cipher)
		}
		checkMatch(t, text, `key store cks-\S+: CONNECTED, Encrypt/Decrypt round trip, kmsuser password rotated, 3 alert e-mails \(disconnected, recovered, failed Update\), Delete kept it DISCONNECTED`)

		// The key store's alerts, between its use and its stack's deletion: the health check's rule
		// fired by hand finds the store OK (nothing mailed), DISCONNECTED (an ALARM mailed, to
		// on-call too), CONNECTED again (a recovery mailed, to everyone only) and unchanged
		// (nothing); then a rename whose KMS calls fail ends in the Update workflow's FAILED e-mail,
		// and the rollback leaves the store as it was.
		alerts := between(text, "== 3b. Alerts from the key store", "== 3c. ")
		checkOrder(t, alerts,
			"health check: rule StrongroomKeyStore-KeyStoreHealthCheckRule", "runs lambdas/keystore-health rate(5 minutes)",
			"health check (store CONNECTED): keystore-connection OK: key store cks-", "the relay mailed nothing: healthy, and never in ALARM before",
			"DisconnectCustomKeyStore cks-", "ConnectionState DISCONNECTING -> DISCONNECTED",
			"health check (store DISCONNECTED): keystore-connection ALARM: key store cks-",
			"-> To: security-team@example.com  Subject: [CRITICAL] strongroom:keystore-connection ALARM cks-", "[severity=critical]",
			"| Status:        ALARM (critical), was OK", "| Fix:           connect it (aws kms connect-custom-key-store", "also to: on-call@example.com",
			"ConnectCustomKeyStore cks-", "ConnectionState CONNECTING -> CONNECTED",
			"-> To: security-team@example.com  Subject: [INFO] strongroom:keystore-connection recovered cks-", "[severity=info]",
			"| Status:        OK, was ALARM/critical",
			"health check (next run): keystore-connection OK", "the relay mailed nothing: unchanged since the last check",
			"Update KeyStoreName strongroom -> strongroom-payments", "> Rename",
			"key store Update answered FAILED after ", " failed UpdateCustomKeyStore calls",
			"rolled the stack back (an Update to KeyStoreName strongroom): answered SUCCESS",
			"-> To: security-team@example.com  Subject: [CRITICAL] states:ExecutionFailed key store update", "[severity=critical]",
			"| Cause:         update key store cks-", "KMSInternalException", "also to: on-call@example.com",
			"is CONNECTED and still named strongroom")
		checkMatch(t, alerts, `workflow KeyStoreUpdateWorkflow\S* FAILED: WorkflowFailed: update key store cks-`)
		for _, subject := range []string{"[CRITICAL] strongroom:keystore-connection ALARM", "[INFO] strongroom:keystore-connection recovered",
			"[CRITICAL] states:ExecutionFailed key store update", "[CRITICAL] states:ExecutionFailed cluster update"} {
			if n := strings.Count(text, "Subject: "+subject); n != 1 {
				t.Errorf("%d e-mails %q printed; want 1", n, subject)
			}
		}
		if recovery := between(alerts, "recovered cks-", "health check (next run)"); recovery == "" || strings.Contains(recovery, "also to: ") {
			t.Errorf("the recovery e-mail (INFO) must reach %s only, not the critical-only on-call filter:\n%s", alertsEveryone, recovery)
		}
		if n := strings.Count(alerts, "-> To: "); n != 3 {
			t.Errorf("the key store's alerts printed %d e-mails; want 3", n)
		}
	})

	t.Run("x-ray and vpc", func(t *testing.T) {
		// Every stack's traced functions and state machines sent their segments with their roles,
		// and each of the database stack's VPC functions has one network interface per subnet.
		section := between(text, "== X-Ray and VPC network interfaces", "== IAM")
		for _, stack := range []string{alertsStack, databaseStack, clusterStack, keyStoreStack} {
			m := regexp.MustCompile(regexp.QuoteMeta(stack) + `: X-Ray received (\d+) segments: (.*)`).FindStringSubmatch(section)
			if m == nil || m[1] == "0" {
				t.Errorf("no segments of %s printed: %q", stack, m)
			}
		}
		checkMatch(t, section,
			`StrongroomAlerts: X-Ray received \d+ segments: TrailRelay9A8CC26A [1-9]`,
			`StrongroomCluster: X-Ray received \d+ segments: .*ClusterCreateWorkflow96780394 1`,
			// The refused Mode change's FAILED execution starts the cluster's safety net, which finds it answered.
			`StrongroomCluster: X-Ray received \d+ segments: .*ClusterSafetyNet92C891A3 1(,|\s)`,
		)
		for _, fn := range []string{"ApplicationUserFunction9A0A684A", "SuperuserRotation32FB06B1", "UserRotationBCBF627D"} {
			checkMatch(t, section, databaseStack+": "+fn+` in its VPC: network interfaces eni-[0-9a-f]{17} \(subnet-[0-9a-f]+, 10\.0\.\d+\.\d+\), eni-[0-9a-f]{17} \(subnet-`)
		}
	})

	t.Run("summary", func(t *testing.T) {
		if !strings.Contains(text, "found in records, payloads, logs, environments and this output: 0") {
			t.Error("the secret scan found secrets in what the sandbox recorded")
		}
		if !regexp.MustCompile(`total     sandbox time \S+ in \S+ of wall time \(clock x120\)`).MatchString(text) {
			t.Error("summary lacks sandbox and wall time")
		}
	})
}

// between returns the part of text after the first from and before the next to ("" if absent).
func between(text, from, to string) string {
	_, after, ok := strings.Cut(text, from)
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, to)
	return before
}

// checkContains fails t for each string that text lacks.
func checkContains(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// checkMatch fails t for each pattern that does not match text.
func checkMatch(t *testing.T, text string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(text) {
			t.Errorf("output lacks a match for %q", p)
		}
	}
}

// checkOrder fails t unless each string occurs in text after the previous one.
func checkOrder(t *testing.T, text string, in ...string) {
	t.Helper()
	at := 0
	for _, s := range in {
		i := strings.Index(text[at:], s)
		if i < 0 {
			t.Errorf("output lacks %q after offset %d (or it came out of order)", s, at)
			return
		}
		at += i + len(s)
	}
}

func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for success
	}{
		{name: "defaults", args: nil},
		{name: "one section", args: []string{"-only", "rotation", "-scale", "30", "-v"}},
		{name: "unknown section", args: []string{"-only", "database"}, want: `-only "database": want one of alerts, rotation, cluster`},
		{name: "empty root", args: []string{"-root", ""}},
		{name: "zero scale", args: []string{"-scale", "0"}, want: "-scale 0: want a positive number"},
		{name: "NaN scale", args: []string{"-scale", "NaN"}, want: "-scale NaN: want a positive number"},
		{name: "infinite scale", args: []string{"-scale", "Inf"}, want: "-scale +Inf: want a positive number"},
		{name: "stray argument", args: []string{"alerts"}, want: `unexpected argument "alerts"`},
		{name: "unknown flag", args: []string{"-fast"}, want: "flag provided but not defined: -fast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseDemoFlags(tc.args)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.root == "" || c.scale <= 0 {
					t.Fatalf("config %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to contain %q", err, tc.want)
			}
			// A *usageError, so that main.go exits 2 and prints the usage (see usage.go).
			var usage *usageError
			if !errors.As(err, &usage) || usage.cmd != "demo" || !strings.HasPrefix(usage.usage, "usage: strongroom demo") {
				t.Errorf("error %#v; want a *usageError of demo with its usage", err)
			}
		})
	}
}

// ensureArtifacts runs `make build synth` when cdk.out lacks the alerts stack or a function asset
// of a stack the demo deploys matches no build/*/bootstrap (the Deployer maps assets to
// lambdas/<name> by those bytes).
func ensureArtifacts(t *testing.T, root string) {
	t.Helper()
	problem := staleArtifacts(root)
	if problem == "" {
		return
	}
	t.Logf("%s: running make build synth", problem)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", root, "build", "synth")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the demo needs `make build synth` (%s), and it failed: %v\n%s", problem, err, out)
	}
	if problem := staleArtifacts(root); problem != "" {
		t.Fatalf("after make build synth: %s", problem)
	}
}

// staleArtifacts says what is missing or stale, or "".
func staleArtifacts(root string) string {
	builds := map[string]bool{}
	paths, _ := filepath.Glob(filepath.Join(root, "build", "*", "bootstrap"))
	for _, p := range paths {
		if h, err := sha256File(p); err == nil {
			builds[h] = true
		}
	}
	for _, stack := range []string{alertsStack, clusterStack, keyStoreStack} {
		path := filepath.Join(root, "cdk.out", stack+".template.json")
		b, err := os.ReadFile(path)
		if err != nil {
			if stack == alertsStack {
				return fmt.Sprintf("%s is missing", path)
			}
			continue
		}
		var tpl struct {
			Resources map[string]struct {
				Type     string
				Metadata map[string]any
			}
		}
		if err := json.Unmarshal(b, &tpl); err != nil {
			return fmt.Sprintf("%s: %v", path, err)
		}
		for id, r := range tpl.Resources {
			asset, _ := r.Metadata["aws:asset:path"].(string)
			if r.Type != "AWS::Lambda::Function" || asset == "" {
				continue
			}
			h, err := sha256File(filepath.Join(root, "cdk.out", asset, "bootstrap"))
			if err != nil || !builds[h] {
				return fmt.Sprintf("%s: the asset of %s matches no build/*/bootstrap", stack, id)
			}
		}
	}
	return ""
}

func sha256File(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(b)), nil
}

// TestDemoUpdateLine: the line an Update prints names each changed property with its old and new
// value, not a Go map.
func TestDemoUpdateLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, set map[string]any
		want     string
	}{
		// Custom resource properties arrive as strings; the demo sets numbers.
		{"HsmCount", map[string]any{"HsmCount": "2", "ClusterName": "strongroom"}, map[string]any{"HsmCount": 3}, "HsmCount 2 -> 3"},
		{"two properties in name order", map[string]any{"HsmCount": "2", "BackupRetentionDays": "90"},
			map[string]any{"HsmCount": 3, "BackupRetentionDays": 30}, "BackupRetentionDays 90 -> 30, HsmCount 2 -> 3"},
		{"new property", map[string]any{}, map[string]any{"Tags": []any{"a", "b"}}, "Tags (unset) -> a, b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := changes(tc.old, tc.set); got != tc.want {
				t.Errorf("changes = %q; want %q", got, tc.want)
			}
		})
	}
	var l deployLog
	if got := l.setChange(map[string]any{"HsmCount": "2"}, map[string]any{"HsmCount": 3}); got != "HsmCount 2 -> 3" {
		t.Errorf("setChange = %q", got)
	}
}

// TestDemoDeployMessage: the Deployer's progress messages as the demo prints them.
func TestDemoDeployMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		args   []any
		change string
		want   string
	}{
		{"update with its change", "custom resource %s (%s): Update %v", []any{"ClusterEB0386A7", "Custom::CloudHsmCluster", map[string]any{"HsmCount": 3}},
			"HsmCount 2 -> 3", "custom resource ClusterEB0386A7 (Custom::CloudHsmCluster): Update HsmCount 2 -> 3"},
		{"update without one", "custom resource %s (%s): Update %v", []any{"ClusterEB0386A7", "Custom::CloudHsmCluster", map[string]any{"HsmCount": 3}},
			"", "custom resource ClusterEB0386A7 (Custom::CloudHsmCluster): Update HsmCount 3"},
		{"one target", "rule %s (%d targets)", []any{"StrongroomAlerts-Rule", 1}, "", "rule StrongroomAlerts-Rule (1 target)"},
		{"two targets", "rule %s (%d targets)", []any{"StrongroomAlerts-Rule", 2}, "", "rule StrongroomAlerts-Rule (2 targets)"},
		{"create", "custom resource %s (%s): Create", []any{"KeyStoreBDDE1D74", "Custom::CloudHsmKeyStore"}, "HsmCount 2 -> 3",
			"custom resource KeyStoreBDDE1D74 (Custom::CloudHsmKeyStore): Create"},
		{"list", "function %s = %v", []any{"f", []string{"a", "b"}}, "", "function f = a, b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deployMessage(tc.format, tc.args, tc.change); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDemoHumanValue: values from templates, events and answers as the demo prints them.
func TestDemoHumanValue(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"10.0.0.5,10.0.1.4", "10.0.0.5,10.0.1.4"},
		{float64(3), "3"},
		{2.5, "2.5"},
		{3, "3"},
		{true, "true"},
		{nil, "(none)"},
		{[]any{"10.0.0.5", "10.0.1.4"}, "10.0.0.5, 10.0.1.4"},
		{[]string{"StrongroomAlerts-TrailRelay"}, "StrongroomAlerts-TrailRelay"},
		{map[string]any{"HsmCount": "3", "Zones": []any{"us-east-1a", "us-east-1b"}}, "HsmCount 3, Zones [us-east-1a, us-east-1b]"},
		{map[string]string{"b": "2", "a": "1"}, "a 1, b 2"},
		{[]any{map[string]any{"Key": "team", "Value": "security"}}, "{Key team, Value security}"},
	} {
		if got := humanValue(tc.v); got != tc.want {
			t.Errorf("humanValue(%#v) = %q; want %q", tc.v, got, tc.want)
		}
	}
}

// TestDemoDeployLog: functions are counted into one line per run of them, and the heartbeat says
// how far the deploy is.
func TestDemoDeployLog(t *testing.T) {
	var out bytes.Buffer
	sb := newTestSandbox(t)
	sb.Clock.Pause() // every line at [00:00:00]
	p := newPrinter(&out, sb)
	l := &deployLog{p: p, stack: "StrongroomCluster", functions: 3, doing: "starting"}
	l.progress("SSM document %s", "Doc")
	l.progress("function %s = lambdas/%s", "StrongroomCluster-Plan", "cluster-plan")
	l.progress("function %s = lambdas/%s", "StrongroomCluster-Check", "cluster-check")
	if got, want := l.status(), "deploying StrongroomCluster: 2 of 3 functions built for this host and registered"; got != want {
		t.Errorf("status %q; want %q", got, want)
	}
	l.progress("custom resource %s (%s): Create", "ClusterEB0386A7", "Custom::CloudHsmCluster")
	l.progress("function %s = lambdas/%s", "StrongroomCluster-SafetyNet", "cfn-safetynet")
	l.flush()
	l.flush()
	want := "[00:00:00] deploy: SSM document Doc\n" +
		"[00:00:00] deploy: 2 functions registered, 2 of 3 (each lambdas/* package built for this host; its arm64 asset matched in build/)\n" +
		"[00:00:00] deploy: custom resource ClusterEB0386A7 (Custom::CloudHsmCluster): Create\n" +
		"[00:00:00] deploy: 1 function registered, 3 of 3 (each lambdas/* package built for this host; its arm64 asset matched in build/)\n"
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}

// TestDemoClockSwitch: the sandbox clock stands still while stopped, and the switch adds up the
// wall time it was stopped.
func TestDemoClockSwitch(t *testing.T) {
	sb := newTestSandbox(t)
	s := newClockSwitch(sb.Clock)
	s.stop()
	s.stop()
	at := sb.Clock.Now()
	time.Sleep(20 * time.Millisecond)
	if !sb.Clock.Now().Equal(at) {
		t.Fatal("the sandbox clock moved while stopped")
	}
	s.start()
	s.start()
	stopped := s.stopped()
	if stopped < 20*time.Millisecond {
		t.Errorf("stopped %v; want at least the 20ms it was", stopped)
	}
	time.Sleep(10 * time.Millisecond)
	if !sb.Clock.Now().After(at) {
		t.Error("the sandbox clock did not move after start")
	}
	if s.stopped() != stopped {
		t.Error("stopped grew while the clock ran")
	}
}

// newTestSandbox is a sandbox (not serving) for the printer and the clock.
func newTestSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb := sandbox.New(sandbox.Options{Scale: DefaultDemoScale})
	t.Cleanup(func() { _ = sb.Close() })
	return sb
}
