package trailalert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// The execution fixtures are EventBridge "Step Functions Execution Status Change" events shaped
// as AWS documents them, for executions of the CDK app's state machines (names as CloudFormation
// gives them: <construct path><hash>-<suffix>) whose input is what lambdas/cluster-entry and
// keystore-entry start them with. testdata/executions/history holds each one's history as
// GetExecutionHistory returns it (oldest first), served over HTTP to the real SDK client below.
// The whole path against the sandbox's Step Functions is tested in lambdas/trailrelay.

func executionFixtures(t testing.TB) map[string][]byte {
	return trailalerttest.Fixtures(t, "testdata/executions")
}

// historyServer answers GetExecutionHistory from a recorded history as the service does: newest
// first with reverseOrder, maxResults per page with a nextToken, no inputs or outputs when
// includeExecutionData is false, ExecutionDoesNotExist for another execution. fail, when set, is
// the error code every call gets instead.
type historyServer struct {
	arn    string
	events []map[string]any
	fail   string

	mu    sync.Mutex
	calls []historyCall
}

type historyCall struct {
	MaxResults           int     `json:"maxResults"`
	NextToken            *string `json:"nextToken"`
	ReverseOrder         bool    `json:"reverseOrder"`
	IncludeExecutionData *bool   `json:"includeExecutionData"`
	ExecutionArn         string  `json:"executionArn"`
}

func (h *historyServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	if got := req.Header.Get("X-Amz-Target"); got != "AWSStepFunctions.GetExecutionHistory" {
		fail(400, "UnknownOperationException", got)
		return
	}
	var in historyCall
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		fail(400, "SerializationException", err.Error())
		return
	}
	h.mu.Lock()
	h.calls = append(h.calls, in)
	h.mu.Unlock()
	switch {
	case h.fail == "ThrottlingException":
		fail(400, h.fail, "Rate exceeded")
		return
	case h.fail != "":
		fail(400, h.fail, "User: arn:aws:sts::111122223333:assumed-role/relay/x is not authorized to perform: states:GetExecutionHistory on resource: "+in.ExecutionArn)
		return
	case in.ExecutionArn != h.arn:
		fail(400, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
		return
	case in.MaxResults < 0 || in.MaxResults > 1000:
		fail(400, "ValidationException", "maxResults")
		return
	}
	events := slices.Clone(h.events)
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	size := in.MaxResults
	if size == 0 {
		size = 100
	}
	end := min(start+size, len(events))
	out := map[string]any{"events": []map[string]any{}}
	page := []map[string]any{}
	for _, e := range events[start:end] {
		if in.IncludeExecutionData != nil && !*in.IncludeExecutionData {
			e = withoutData(e)
		}
		page = append(page, e)
	}
	out["events"] = page
	if end < len(events) {
		out["nextToken"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// withoutData drops the input and output of an event's details.
func withoutData(e map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range e {
		if d, ok := v.(map[string]any); ok && strings.HasSuffix(k, "EventDetails") {
			dd := map[string]any{}
			for dk, dv := range d {
				if dk != "input" && dk != "output" {
					dd[dk] = dv
				}
			}
			v = dd
		}
		c[k] = v
	}
	return c
}

// startHistory serves fixture name's recorded history and returns a real SDK client for it.
func startHistory(t *testing.T, name string, raw []byte) (*historyServer, *sfn.Client) {
	t.Helper()
	var ev struct {
		Detail struct {
			ExecutionArn string `json:"executionArn"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	h := &historyServer{arn: ev.Detail.ExecutionArn}
	if b, err := os.ReadFile(filepath.Join("testdata", "executions", "history", name+".json")); err == nil {
		var hist struct {
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(b, &hist); err != nil {
			t.Fatalf("history of %s: %v", name, err)
		}
		h.events = hist.Events
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// sandboxtest.HTTPClient reads each body whole: without it a history page larger than the
	// transport's read buffer can fail mid-read against 127.0.0.1 (sandboxtest.WholeBody says why),
	// as it did once in CI.
	return h, sfn.New(sfn.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1, HTTPClient: sandboxtest.HTTPClient,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "example", ""),
	})
}

// alertExecution runs the execution path as the relay does: parse, read the history, render.
func alertExecution(t *testing.T, name string, raw []byte) (*trailalert.Message, *trailalert.ExecutionFailure, *historyServer) {
	t.Helper()
	ev, err := trailalert.ParseExecution(raw)
	if err != nil {
		t.Fatalf("%s: ParseExecution: %v", name, err)
	}
	h, client := startHistory(t, name, raw)
	f, err := trailalert.ReadExecutionFailure(context.Background(), client, ev.Detail.ExecutionARN)
	if err != nil {
		t.Fatalf("%s: ReadExecutionFailure: %v", name, err)
	}
	return trailalerttest.NewAlerter(t).AlertExecution(ev, f), f, h
}

func TestExecutionGoldenMessages(t *testing.T) {
	for name, raw := range executionFixtures(t) {
		if strings.Contains(name, "succeeded") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			m, _, _ := alertExecution(t, name, raw)
			checkExecutionInvariants(t, name, m, raw)
			got := golden(m)
			path := filepath.Join("testdata", "executions", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("message differs from %s (go test ./pkg/trailalert -run TestExecutionGoldenMessages -update rewrites it):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// checkExecutionInvariants holds for every execution alert.
func checkExecutionInvariants(t *testing.T, name string, m *trailalert.Message, raw []byte) {
	t.Helper()
	if len(m.Subject) == 0 || len(m.Subject) > trailalert.MaxSubjectChars {
		t.Errorf("%s: subject length %d not in 1..%d", name, len(m.Subject), trailalert.MaxSubjectChars)
	}
	for i := 0; i < len(m.Subject); i++ {
		if c := m.Subject[i]; c < 0x20 || c > 0x7e {
			t.Errorf("%s: subject byte %d is %#x, not printable ASCII", name, i, c)
		}
	}
	if !strings.HasPrefix(m.Subject, "[CRITICAL] states:Execution") || m.Severity != trailalert.Critical || m.Rule != trailalert.ExecutionRule {
		t.Errorf("%s: subject %q severity %v rule %q", name, m.Subject, m.Severity, m.Rule)
	}
	if m.Size() > trailalert.MaxMessageBytes || m.Truncated {
		t.Errorf("%s: %d bytes, truncated %v", name, m.Size(), m.Truncated)
	}
	want := map[string]string{trailalert.AttrEventSource: "states.amazonaws.com", trailalert.AttrSeverity: "critical",
		trailalert.AttrAccount: "111122223333", trailalert.AttrRegion: "us-east-1"}
	for k, v := range want {
		if m.Attributes[k] != v {
			t.Errorf("%s: attribute %s = %q; want %q", name, k, m.Attributes[k], v)
		}
	}
	if len(m.Attributes) != 5 || !strings.HasPrefix(m.Attributes[trailalert.AttrEventName], "Execution") {
		t.Errorf("%s: attributes %v; want the five of every alert", name, m.Attributes)
	}
	var ev struct {
		Detail struct {
			ExecutionArn string  `json:"executionArn"`
			Input        *string `json:"input"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(raw, &ev)
	link := "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" + ev.Detail.ExecutionArn
	if !strings.Contains(m.Body, "Console:       "+link+"\n") {
		t.Errorf("%s: body lacks the console link %s:\n%s", name, link, m.Body)
	}
	// Nothing of the input but its identifiers: not the pre-signed ResponseURL, its token or any
	// other property value.
	for _, leak := range []string{"ResponseURL", "X-Amz-Security-Token", "IQoJb3JpZ2lu", "s3.amazonaws.com", "ServiceToken", "subnet-0a1b2c3d4e5f60718", `"Event"`} {
		if strings.Contains(m.Body, leak) || strings.Contains(m.Subject, leak) {
			t.Errorf("%s: %q from the input reached the message", name, leak)
		}
	}
}

func TestExecutionFixtures(t *testing.T) {
	want := map[string]struct {
		subject, state, stateType, step string
		pages                           int
		lines                           []string
	}{
		"01-cluster-create-failed": {
			subject: "[CRITICAL] states:ExecutionFailed cluster create at CreateCluster: WorkflowFailed in 111122223333",
			state:   "Failed", stateType: "Fail", step: "CreateCluster", pages: 1,
			lines: []string{
				"Workflow:      cluster create (state machine ClusterCreateWorkflow5E2B6C1D-Yq3tK8wZ1mNa)",
				"Failed state:  Failed (Fail)",
				"Error:         WorkflowFailed",
				"Cause:         CreateCluster: create cluster: CloudHsmInvalidRequestException: The subnet subnet-0f1e2d3c4b5a69788 is in an Availability Zone CloudHSM does not support",
				"Failed step:   CreateCluster (Task): LambdaFunctionFailed TerminalError: {",
				"Resource:      RequestType=Create",
				"               LogicalResourceId=ClusterResource4D1E2F3A",
				"               StackId=arn:aws:cloudformation:us-east-1:111122223333:stack/StrongroomCluster/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
				"Status:        FAILED at 2026-03-02 10:00:",
			},
		},
		"02-keystore-create-timed-out": {
			subject: "[CRITICAL] states:ExecutionTimedOut key store create at ConnectDescribe in 111122223333",
			state:   "ConnectDescribe", stateType: "Task", step: "ConnectDescribe", pages: 2,
			lines: []string{
				"Failed state:  ConnectDescribe (Task)",
				"Error:         States.Timeout",
				"Failed step:   ConnectDescribe (Task): LambdaFunctionFailed RetryableError: {",
				"               ClusterId=cluster-2wdk4gxsz7r",
				"               KeyStoreName=strongroom-keystore",
				"Status:        TIMED_OUT at 2026-03-03 09:25:00 UTC, 55m0s after it started",
			},
		},
		"03-keystore-rotate-aborted": {
			subject: "[CRITICAL] states:ExecutionAborted key store rotate at DisconnectWait in 111122223333",
			state:   "DisconnectWait", stateType: "Wait", pages: 1,
			lines: []string{
				"Failed state:  DisconnectWait (Wait)",
				"Error:         Operator.Stop",
				"Cause:         stopped by alice@example.com: the maintenance window moved",
				"Resource:      CustomKeyStoreId=cks-5e1f2a3b4c5d6e7f8",
			},
		},
		"05-cluster-update-password-in-cause": {
			subject: "[CRITICAL] states:ExecutionFailed cluster update at Scale: WorkflowFailed in 111122223333",
			state:   "Failed", stateType: "Fail", step: "Scale", pages: 1,
			lines: []string{
				"Cause:         Scale: set HSM user: login failed: user admin password=[REDACTED] rejected by hsm-3fgc4nc2z4e (credential [REDACTED])",
				"               PhysicalResourceId=cluster-2wdk4gxsz7r",
			},
		},
	}
	fx := executionFixtures(t)
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			raw, ok := fx[name]
			if !ok {
				t.Fatalf("fixture %s missing", name)
			}
			m, f, h := alertExecution(t, name, raw)
			if m.Subject != w.subject {
				t.Errorf("subject %q\n   want %q", m.Subject, w.subject)
			}
			if f.State != w.state || f.StateType != w.stateType || f.Approximate || f.ReadError != "" {
				t.Errorf("failed state %q (%q) approximate %v read error %q; want %q (%q)", f.State, f.StateType, f.Approximate, f.ReadError, w.state, w.stateType)
			}
			if (f.Step == nil) != (w.step == "") || (f.Step != nil && f.Step.State != w.step) {
				t.Errorf("step %+v; want state %q", f.Step, w.step)
			}
			if f.Pages != w.pages || len(h.calls) != w.pages {
				t.Errorf("%d pages read (%d calls); want %d: page only as needed", f.Pages, len(h.calls), w.pages)
			}
			for _, c := range h.calls {
				if !c.ReverseOrder || c.MaxResults != trailalert.HistoryPageSize || c.IncludeExecutionData == nil || *c.IncludeExecutionData {
					t.Errorf("call %+v; want reverseOrder, maxResults %d, includeExecutionData false", c, trailalert.HistoryPageSize)
				}
			}
			for _, l := range w.lines {
				if !strings.Contains(m.Body, "\n"+l) {
					t.Errorf("body lacks line %q:\n%s", l, m.Body)
				}
			}
		})
	}
	for name := range fx {
		if _, ok := want[name]; !ok && !strings.Contains(name, "succeeded") {
			t.Errorf("fixture %s has no expectations here", name)
		}
	}
}

// TestExecutionSecretsRedacted: the cause quotes a password (after "password=") and the value of
// a sensitive property of the input (with no name next to it); neither may reach the message,
// in the event's cause, the history's or the failed step's.
func TestExecutionSecretsRedacted(t *testing.T) {
	name := "05-cluster-update-password-in-cause"
	raw := executionFixtures(t)[name]
	m, _, _ := alertExecution(t, name, raw)
	all := m.Subject + "\n" + m.Body + "\n" + fmt.Sprint(m.Attributes)
	for _, secret := range []string{"Tr0ub4dor", "&3-hsm", "Xk9#mQ2$vL7pWz", "Xk9"} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %.4q... reached the message:\n%s", secret, all)
		}
	}
	if n := strings.Count(m.Body, "password="+trailalert.RedactedMarker); n < 2 {
		t.Errorf("the cause and the failed step's cause should both show password=%s; found %d:\n%s", trailalert.RedactedMarker, n, m.Body)
	}
	if m.Redacted < 2 || !strings.Contains(m.Body, "Redacted:") {
		t.Errorf("Redacted = %d; the input's property and the causes' passwords were redacted", m.Redacted)
	}
}

func TestExecutionStatusesWithoutAlert(t *testing.T) {
	raw := executionFixtures(t)["04-cluster-delete-succeeded"]
	for _, status := range []string{"SUCCEEDED", "RUNNING", "PENDING_REDRIVE"} {
		in := bytes.Replace(raw, []byte(`"status": "SUCCEEDED"`), []byte(`"status": "`+status+`"`), 1)
		_, err := trailalert.ParseExecution(in)
		if !errors.Is(err, trailalert.ErrNoAlert) || !strings.Contains(err.Error(), status) {
			t.Errorf("%s: %v; want ErrNoAlert naming the status", status, err)
		}
	}
	if !trailalert.IsExecutionStatusChange(raw) {
		t.Error("IsExecutionStatusChange = false for a status change")
	}
	if trailalert.IsExecutionStatusChange(fixtures(t)["07-kms-schedulekeydeletion-iamuser"]) {
		t.Error("IsExecutionStatusChange = true for a CloudTrail event")
	}
	// A CloudTrail event that merely mentions the detail-type is still CloudTrail.
	ct := bytes.Replace(fixtures(t)["07-kms-schedulekeydeletion-iamuser"], []byte(`"eventName"`), []byte(`"note":"Step Functions Execution Status Change","eventName"`), 1)
	if trailalert.IsExecutionStatusChange(ct) {
		t.Error("IsExecutionStatusChange = true for a CloudTrail event quoting the detail-type")
	}
}

func TestParseExecutionErrors(t *testing.T) {
	valid := executionFixtures(t)["01-cluster-create-failed"]
	mutate := func(f func(ev, detail map[string]any)) []byte {
		var ev map[string]any
		if err := json.Unmarshal(valid, &ev); err != nil {
			t.Fatal(err)
		}
		f(ev, ev["detail"].(map[string]any))
		b, _ := json.Marshal(ev)
		return b
	}
	tests := []struct {
		name  string
		input []byte
		want  error
		field string
	}{
		{"truncated", valid[:len(valid)/2], trailalert.ErrMalformed, "truncated"},
		{"CloudTrail event", fixtures(t)["07-kms-schedulekeydeletion-iamuser"], trailalert.ErrNotCloudTrail, "AWS API Call via CloudTrail"},
		{"other source", mutate(func(ev, _ map[string]any) { ev["source"] = "custom.app" }), trailalert.ErrInvalidField, "source"},
		{"no source", mutate(func(ev, _ map[string]any) { delete(ev, "source") }), trailalert.ErrMissingField, "source"},
		{"no detail", mutate(func(ev, _ map[string]any) { delete(ev, "detail") }), trailalert.ErrMissingField, "detail"},
		{"detail is a string", mutate(func(ev, _ map[string]any) { ev["detail"] = "password=hunter2-x" }), trailalert.ErrInvalidField, "detail"},
		{"no executionArn", mutate(func(_, d map[string]any) { delete(d, "executionArn") }), trailalert.ErrMissingField, "detail.executionArn"},
		{"no status", mutate(func(_, d map[string]any) { delete(d, "status") }), trailalert.ErrMissingField, "detail.status"},
		{"unknown status", mutate(func(_, d map[string]any) { d["status"] = "password=hunter2-x" }), trailalert.ErrInvalidField, "detail.status"},
		{"startDate a string", mutate(func(_, d map[string]any) { d["startDate"] = "password=hunter2-x" }), trailalert.ErrInvalidField, "startDate"},
		{"cause an object", mutate(func(_, d map[string]any) { d["cause"] = map[string]any{"password": "hunter2-x"} }), trailalert.ErrInvalidField, "cause"},
		{"no account anywhere", mutate(func(ev, d map[string]any) { delete(ev, "account"); d["executionArn"] = "run-1" }), trailalert.ErrMissingField, "account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := trailalert.ParseExecution(tc.input)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %v; want %v naming %q", err, tc.want, tc.field)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
}

// TestExecutionHistoryUnreadable: when GetExecutionHistory is refused, the alert still goes out
// and says why the failed state is missing, by the error code only.
func TestExecutionHistoryUnreadable(t *testing.T) {
	name := "01-cluster-create-failed"
	raw := executionFixtures(t)[name]
	for _, code := range []string{"AccessDeniedException", "ThrottlingException"} {
		t.Run(code, func(t *testing.T) {
			h, client := startHistory(t, name, raw)
			h.fail = code
			var logs bytes.Buffer
			pub := &capturePublisher{}
			relay, err := trailalert.NewRelay(trailalerttest.NewAlerter(t), pub, "arn:aws:sns:us-east-1:111122223333:alerts",
				slog.New(slog.NewJSONHandler(&logs, nil)), trailalert.WithExecutionHistory(client))
			if err != nil {
				t.Fatal(err)
			}
			out, err := relay.Handle(context.Background(), raw)
			if err != nil || len(pub.in) != 1 {
				t.Fatalf("Handle = %+v, %v with %d messages; want the alert published", out, err, len(pub.in))
			}
			body := aws.ToString(pub.in[0].Message)
			if want := "Failed state:  could not be read: GetExecutionHistory failed with " + code + " (the console shows the history)\n"; !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
			if !strings.Contains(body, "Cause:         CreateCluster: create cluster: CloudHsmInvalidRequestException") {
				t.Errorf("the event's own cause should stand in:\n%s", body)
			}
			if strings.Contains(body, "not authorized") || strings.Contains(body, "Rate exceeded") {
				t.Errorf("the error message (not only its code) reached the body:\n%s", body)
			}
			if out.HistoryError != code || out.FailedState != "" || !strings.HasPrefix(aws.ToString(pub.in[0].Subject), "[CRITICAL] states:ExecutionFailed cluster create: WorkflowFailed in ") {
				t.Errorf("output %+v subject %q", out, aws.ToString(pub.in[0].Subject))
			}
			if !strings.Contains(logs.String(), `"msg":"execution history not read; alerting without it"`) || !strings.Contains(logs.String(), `"error_code":"`+code+`"`) {
				t.Errorf("no warning naming the error code:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "CloudHsmInvalidRequestException") {
				t.Errorf("the cause reached the log:\n%s", logs.String())
			}
		})
	}
}

func TestRelayExecutionAlertsAndSkips(t *testing.T) {
	fx := executionFixtures(t)
	var logs bytes.Buffer
	pub := &capturePublisher{}
	name := "02-keystore-create-timed-out"
	_, client := startHistory(t, name, fx[name])
	relay, err := trailalert.NewRelay(trailalerttest.NewAlerter(t), pub, "arn:aws:sns:us-east-1:111122223333:alerts",
		slog.New(slog.NewJSONHandler(&logs, nil)), trailalert.WithExecutionHistory(client))
	if err != nil {
		t.Fatal(err)
	}
	out, err := relay.Handle(context.Background(), fx[name])
	if err != nil || out.FailedState != "ConnectDescribe" || out.Severity != "critical" || out.MessageID == "" || out.HistoryError != "" {
		// The relay's log says why a history read failed (the SDK's error, never the history).
		t.Fatalf("Handle = %+v, %v\nlog: %s", out, err, logs.String())
	}
	attrs := pub.in[0].MessageAttributes
	if aws.ToString(attrs[trailalert.AttrEventName].StringValue) != "ExecutionTimedOut" || aws.ToString(attrs[trailalert.AttrSeverity].StringValue) != "critical" {
		t.Errorf("attributes %+v", attrs)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &line); err != nil || line["msg"] != "alert published" ||
		line["failed_state"] != "ConnectDescribe" || line["execution_arn"] != out.ExecutionARN || line["event_source"] != "states.amazonaws.com" {
		t.Errorf("log %s (%v)", logs.String(), err)
	}
	if strings.Contains(logs.String(), "CONNECTING") || strings.Contains(logs.String(), "exceeded") {
		t.Errorf("a cause reached the log: %s", logs.String())
	}

	logs.Reset()
	out, err = relay.Handle(context.Background(), fx["04-cluster-delete-succeeded"])
	if err != nil || out.Skipped == "" || out.MessageID != "" || len(pub.in) != 1 {
		t.Errorf("SUCCEEDED: %+v, %v, %d messages; want skipped, nothing published", out, err, len(pub.in))
	}
	if !strings.Contains(logs.String(), `"msg":"event skipped"`) || strings.Contains(logs.String(), "cluster-2wdk4gxsz7r") {
		t.Errorf("skip log %s", logs.String())
	}
}

// TestExecutionWithoutHistoryClient: a relay without a Step Functions client still alerts.
func TestExecutionWithoutHistoryClient(t *testing.T) {
	raw := executionFixtures(t)["03-keystore-rotate-aborted"]
	ev, err := trailalert.ParseExecution(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := trailalerttest.NewAlerter(t).AlertExecution(ev, nil)
	checkExecutionInvariants(t, "no client", m, raw)
	if !strings.Contains(m.Body, "Failed state:  not read (the relay has no Step Functions client") ||
		m.Subject != "[CRITICAL] states:ExecutionAborted key store rotate: Operator.Stop in 111122223333" {
		t.Errorf("subject %q body:\n%s", m.Subject, m.Body)
	}
}

func TestExecutionSubjectStaysShort(t *testing.T) {
	raw := executionFixtures(t)["01-cluster-create-failed"]
	long := strings.Repeat("VeryLongMachineName", 5)[:80]
	in := bytes.ReplaceAll(raw, []byte("ClusterCreateWorkflow5E2B6C1D-Yq3tK8wZ1mNa"), []byte(long))
	in = bytes.Replace(in, []byte(`"error": "WorkflowFailed"`), []byte(`"error": "`+strings.Repeat("E\u00e9rr", 60)+`"`), 1)
	ev, err := trailalert.ParseExecution(in)
	if err != nil {
		t.Fatal(err)
	}
	f := &trailalert.ExecutionFailure{State: strings.Repeat("S", 80), StateType: "Task"}
	m := trailalerttest.NewAlerter(t).AlertExecution(ev, f)
	checkExecutionInvariants(t, "long", m, in)
	if !strings.HasSuffix(m.Subject, " in 111122223333") || !strings.Contains(m.Subject, " at SSSSSSSSSSSSS") || !strings.HasPrefix(m.Subject, "[CRITICAL] states:ExecutionFailed VeryLong") {
		t.Errorf("subject %q lost the workflow, state or account", m.Subject)
	}
}

func TestWorkflowKind(t *testing.T) {
	for name, want := range map[string]string{
		"ClusterCreateWorkflow5E2B6C1D-Yq3tK8wZ1mNa":  "cluster create",
		"ClusterUpdateWorkflow8C4D2A9F-Lm3nB5vC7xZq":  "cluster update",
		"ClusterDeleteWorkflowD4E5F6A7-Bc2dE4fG6hJk":  "cluster delete",
		"KeyStoreCreateWorkflow7A1C3E5B-Hj6kL2mN4pQr": "key store create",
		"KeyStoreUpdateWorkflow11223344-Aa":           "key store update",
		"KeyStoreDeleteWorkflow11223344-Aa":           "key store delete",
		"KeyStoreRotateWorkflowB3C9D2E7-Pq8rS7tU6vWx": "key store rotate",
		"StrongroomCluster-ClusterCreateWorkflowAB12": "cluster create",
		"StrongroomKeyStore-KeyStoreRotateWorkflowCD": "key store rotate",
		"cluster-create":           "cluster create",
		"keystore-rotate-password": "key store rotate",
		"key_store-delete":         "key store delete",
		"ClusterRotateWorkflow":    "",
		"MyOtherMachine":           "",
		"clusterxcreate":           "",
		"":                         "",
	} {
		if got := trailalert.WorkflowKind(name); got != want {
			t.Errorf("WorkflowKind(%q) = %q; want %q", name, got, want)
		}
	}
}

func TestExecutionConsoleURL(t *testing.T) {
	const path = "/states/home?region="
	for _, tc := range []struct{ arn, want string }{
		{"arn:aws:states:eu-west-2:111122223333:execution:m:run-1", "https://eu-west-2.console.aws.amazon.com" + path + "eu-west-2#/v2/executions/details/arn:aws:states:eu-west-2:111122223333:execution:m:run-1"},
		{"arn:aws-us-gov:states:us-gov-west-1:111122223333:execution:m:r", "https://console.amazonaws-us-gov.com" + path + "us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:111122223333:execution:m:r"},
		{"arn:aws-cn:states:cn-north-1:111122223333:execution:m:r", "https://console.amazonaws.cn" + path + "cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:111122223333:execution:m:r"},
		{"arn:aws:states:evil.example.com/x:111122223333:execution:m:r", ""},
		{"arn:aws:states:us-east-1:111122223333:execution:m:r#/../x", ""},
		{"arn:aws:states:us-east-1:111122223333:execution:m:r u", ""},
		{"arn:aws:states:us-east-1:111122223333:stateMachine:m", ""},
		{"arn:aws:states:us-east-1:1111:execution:m:r", ""},
		{"arn:aws-iso:states:us-iso-east-1:111122223333:execution:m:r", ""},
		{"", ""},
	} {
		if got := trailalert.ExecutionConsoleURL(tc.arn); got != tc.want {
			t.Errorf("ExecutionConsoleURL(%q) = %q; want %q", tc.arn, got, tc.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	red, err := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	if err != nil {
		t.Fatal(err)
	}
	const m = trailalert.RedactedMarker
	for _, tc := range []struct {
		in, want string
		n        int
	}{
		{"login failed: password=hunter2-x rejected", "login failed: password=" + m + " rejected", 1},
		{"DB_PASSWORD: 'two words' set", "DB_PASSWORD: '" + m + "' set", 1},
		{`bad config {"apiKey": "k-123456", "name": "ok"`, `bad config {"apiKey": "` + m + `", "name": "ok"`, 1},
		{"PUT https://b.s3.amazonaws.com/k?X-Amz-Security-Token=IQoJabc&X-Amz-Signature=f00", "PUT https://b.s3.amazonaws.com/k?X-Amz-Security-Token=" + m, 1},
		{"dial mysql://admin:s3cr3t-pw@db.internal:3306/x", "dial mysql://admin:" + m + "@db.internal:3306/x", 1},
		{"open admin:s3cr3t-pw@tcp(db:3306)/x", "open admin:" + m + "@tcp(db:3306)/x", 1},
		{"Authorization: Bearer eyJhbGciOi.abc", "Authorization: Bearer " + m, 1},
		{"passwordPolicy=strict, secretId=arn:aws:x, clientRequestToken=abc", "passwordPolicy=strict, secretId=arn:aws:x, clientRequestToken=abc", 0},
		{"password=Zz9!long-secret and again Zz9!long-secret", "password=" + m + " and again " + m, 1},
		{`{"errorMessage":"token=abcdef123 expired","errorType":"TerminalError","password":"pw-123456"}`,
			`{"errorMessage":"token=` + m + ` expired","errorType":"TerminalError","password":"` + m + `"}`, 2},
		{"no secrets at all: Error: States.TaskFailed", "no secrets at all: Error: States.TaskFailed", 0},
	} {
		got, n := red.RedactText(tc.in)
		if got != tc.want || n != tc.n {
			t.Errorf("RedactText(%q)\n = %q, %d\nwant %q, %d", tc.in, got, n, tc.want, tc.n)
		}
	}
}

// FuzzParseExecution feeds arbitrary bytes through the execution path (with a fixed history):
// errors are the sentinels, messages keep the invariants.
func FuzzParseExecution(f *testing.F) {
	for _, raw := range executionFixtures(f) {
		f.Add(raw)
	}
	for _, s := range []string{
		"", "{}", `{"detail-type":"Step Functions Execution Status Change"}`,
		`{"detail-type":"Step Functions Execution Status Change","source":"aws.states","account":"1","region":"r","detail":{"executionArn":"\u2028","status":"FAILED","cause":"{\"password\":[1,{\"a\":\"b\"}]}","input":"[\"x\"]"}}`,
		`{"detail-type":"Step Functions Execution Status Change","source":"aws.states","detail":{"executionArn":"arn:aws:states:us-east-1:111122223333:execution:m:r","status":"ABORTED","error":"password=x","input":"{\"Event\":{\"StackId\":{\"a\":1}}}"}}`,
	} {
		f.Add([]byte(s))
	}
	a, err := trailalert.New(trailalert.Options{})
	if err != nil {
		f.Fatal(err)
	}
	failure := &trailalert.ExecutionFailure{EventType: "ExecutionFailed", Error: "E", Cause: "password=fuzz-secret-1", State: "S", StateType: "Task",
		Step: &trailalert.StepFailure{EventType: "TaskFailed", State: "T", Error: "X", Cause: `{"secret":"fuzz-secret-2"}`}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := trailalert.ParseExecution(data)
		if err != nil {
			for _, s := range []error{trailalert.ErrMalformed, trailalert.ErrNotCloudTrail, trailalert.ErrMissingField, trailalert.ErrInvalidField, trailalert.ErrNoAlert} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v is not one of the sentinels", err)
		}
		m := a.AlertExecution(ev, failure)
		if len(m.Subject) == 0 || len(m.Subject) > trailalert.MaxSubjectChars || len(m.Attributes) != 5 || m.Size() > trailalert.MaxMessageBytes {
			t.Fatalf("invariants broken: subject %q, %d attributes, %d bytes", m.Subject, len(m.Attributes), m.Size())
		}
		for _, secret := range []string{"fuzz-secret-1", "fuzz-secret-2"} {
			if strings.Contains(m.Body+m.Subject, secret) {
				t.Fatalf("%s reached the message", secret)
			}
		}
		for _, v := range m.Attributes {
			if v == "" {
				t.Fatal("empty attribute")
			}
		}
	})
}

// TestReadExecutionFailureStopsAtItsBudget: a state that retried a step more times than
// HistoryMaxPages pages hold is not followed to its start: the read stops at the budget, and the
// message says the state was not found among the events read.
func TestReadExecutionFailureStopsAtItsBudget(t *testing.T) {
	name := "01-cluster-create-failed"
	raw := executionFixtures(t)[name]
	h, client := startHistory(t, name, raw)
	ev := func(typ string, details map[string]any) {
		e := map[string]any{"id": len(h.events) + 1, "previousEventId": len(h.events), "timestamp": 1772445607.123 + float64(len(h.events)), "type": typ}
		for k, v := range details {
			e[k] = v
		}
		h.events = append(h.events, e)
	}
	h.events = nil
	ev("ExecutionStarted", map[string]any{"executionStartedEventDetails": map[string]any{"input": "{}", "roleArn": "arn:aws:iam::111122223333:role/r"}})
	ev("TaskStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": "Poll", "input": "{}"}})
	for range 60 {
		ev("LambdaFunctionScheduled", map[string]any{"lambdaFunctionScheduledEventDetails": map[string]any{"resource": "arn:aws:lambda:us-east-1:111122223333:function:f"}})
		ev("LambdaFunctionStarted", nil)
		ev("LambdaFunctionFailed", map[string]any{"lambdaFunctionFailedEventDetails": map[string]any{"error": "RetryableError", "cause": "not yet"}})
	}
	ev("ExecutionFailed", map[string]any{"executionFailedEventDetails": map[string]any{"error": "RetryableError", "cause": "not yet"}})

	f, err := trailalert.ReadExecutionFailure(context.Background(), client, h.arn)
	if err != nil {
		t.Fatal(err)
	}
	if f.Pages != trailalert.HistoryMaxPages || len(h.calls) != trailalert.HistoryMaxPages || f.Events != trailalert.HistoryMaxPages*trailalert.HistoryPageSize {
		t.Errorf("%d pages, %d calls, %d events; want the budget of %d pages", f.Pages, len(h.calls), f.Events, trailalert.HistoryMaxPages)
	}
	if f.State != "" || f.EventType != "ExecutionFailed" || f.Error != "RetryableError" || f.Step == nil || f.Step.EventType != "LambdaFunctionFailed" {
		t.Errorf("failure %+v step %+v", f, f.Step)
	}
	parsed, err := trailalert.ParseExecution(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := trailalerttest.NewAlerter(t).AlertExecution(parsed, f)
	if want := "Failed state:  not found in the last 100 events of the history (the console shows it all)\n"; !strings.Contains(m.Body, want) {
		t.Errorf("body lacks %q:\n%s", want, m.Body)
	}
}
