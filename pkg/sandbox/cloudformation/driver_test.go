package cloudformation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// recorder keeps the events a custom resource function received.
type recorder struct {
	mu     sync.Mutex
	events []cfn.Event
}

func (r *recorder) add(e cfn.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []cfn.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cfn.Event(nil), r.events...)
}

// register installs fn behind aws-lambda-go's own cfn.LambdaWrap, which PUTs the response the way
// real Go custom resources do.
func register(t *testing.T, env *sandboxtest.Env, name string, fn cfn.CustomResourceFunction) (string, *recorder) {
	t.Helper()
	rec := &recorder{}
	wrapped := cfn.LambdaWrap(func(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
		rec.add(e)
		return fn(ctx, e)
	})
	arn, err := env.Lambda.RegisterHandler(name, awslambda.NewHandler(wrapped).Invoke)
	if err != nil {
		t.Fatal(err)
	}
	return arn, rec
}

func TestCreateUpdateDelete(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	token, rec := register(t, env, "cluster", func(_ context.Context, e cfn.Event) (string, map[string]any, error) {
		id, _ := e.ResourceProperties["Name"].(string)
		return "cluster-" + id, map[string]any{"ClusterId": "cluster-" + id}, nil
	})
	spec := cloudformation.ResourceSpec{
		StackName: "hsm", LogicalResourceID: "Cluster", ResourceType: "Custom::CloudHsmCluster", ServiceToken: token,
		Properties: map[string]any{"Name": "a", "HsmCount": "2"}, ServiceTimeout: 10 * time.Minute,
	}
	created, err := env.CloudFormation.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != cloudformation.StatusSuccess || created.PhysicalResourceID != "cluster-a" || created.Data["ClusterId"] != "cluster-a" || created.Rollback != nil {
		t.Fatalf("create outcome = %+v", created)
	}
	ev := rec.all()[0]
	if ev.RequestType != cfn.RequestCreate || ev.LogicalResourceID != "Cluster" || ev.ResourceType != "Custom::CloudHsmCluster" ||
		!strings.HasPrefix(ev.StackID, "arn:aws:cloudformation:us-east-1:123456789012:stack/hsm/") || ev.PhysicalResourceID != "" ||
		ev.ResourceProperties["ServiceToken"] != token || ev.ResourceProperties["ServiceTimeout"] != "600" ||
		!strings.HasPrefix(ev.ResponseURL, env.URL+"/cloudformation-custom-resource-response-useast1/") || !strings.Contains(ev.ResponseURL, "X-Amz-Signature=") {
		t.Errorf("create event = %+v", ev)
	}

	// An update that keeps the physical id is in place.
	spec.PhysicalResourceID, spec.OldProperties = created.PhysicalResourceID, spec.Properties
	spec.Properties = map[string]any{"Name": "a", "HsmCount": "3"}
	updated, err := env.CloudFormation.Update(ctx, spec)
	if err != nil || updated.Status != cloudformation.StatusSuccess || updated.Cleanup != nil {
		t.Fatalf("in-place update = %+v, %v", updated, err)
	}
	ev = rec.all()[1]
	if ev.RequestType != cfn.RequestUpdate || ev.PhysicalResourceID != "cluster-a" || ev.OldResourceProperties["HsmCount"] != "2" || ev.ResourceProperties["HsmCount"] != "3" || ev.StackID != created.Event.StackID {
		t.Errorf("update event = %+v", ev)
	}

	// An update answered with a new physical id replaces the resource: the old one is deleted.
	spec.OldProperties = spec.Properties
	spec.Properties = map[string]any{"Name": "b"}
	replaced, err := env.CloudFormation.Update(ctx, spec)
	if err != nil || replaced.PhysicalResourceID != "cluster-b" || replaced.Cleanup == nil || replaced.Cleanup.Status != cloudformation.StatusSuccess {
		t.Fatalf("replacing update = %+v, %v", replaced, err)
	}
	if c := replaced.Cleanup.Event; c.RequestType != cloudformation.RequestDelete || c.PhysicalResourceID != "cluster-a" || c.ResourceProperties["HsmCount"] != "3" {
		t.Errorf("cleanup delete = %+v, want the old resource with its old properties", c)
	}

	spec.PhysicalResourceID = "cluster-b"
	deleted, err := env.CloudFormation.Delete(ctx, spec)
	if err != nil || deleted.Status != cloudformation.StatusSuccess || deleted.Event.PhysicalResourceID != "cluster-b" {
		t.Fatalf("delete = %+v, %v", deleted, err)
	}
	// Every answer went over HTTP to the sandbox and was recorded. The driver wakes on the answer
	// inside the PUT's handler, and the server records the call once that handler returns, so the
	// last PUT may reach the Recorder a moment after Delete returned (a clean-clone CI run saw 4).
	n := env.Recorder.Count("s3", "PutObject")
	for deadline := time.Now().Add(5 * time.Second); n < 5 && time.Now().Before(deadline); n = env.Recorder.Count("s3", "PutObject") {
		time.Sleep(10 * time.Millisecond)
	}
	if n != 5 {
		t.Errorf("recorded answers = %d, want 5", n)
	}
}

func TestFailedCreateIsRolledBack(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	token, rec := register(t, env, "failing", func(_ context.Context, e cfn.Event) (string, map[string]any, error) {
		if e.RequestType == cfn.RequestCreate {
			return "half-made-1", nil, errors.New("SubnetIds: need two subnets in distinct AZs")
		}
		return e.PhysicalResourceID, nil, nil
	})
	out, err := env.CloudFormation.Create(ctx, cloudformation.ResourceSpec{LogicalResourceID: "Cluster", ResourceType: "Custom::CloudHsmCluster", ServiceToken: token})
	if err != nil {
		t.Fatal(err)
	}
	want := "Received response status [FAILED] from custom resource. Message returned: SubnetIds: need two subnets in distinct AZs (RequestId: " + out.Event.RequestID + ")"
	if out.Status != cloudformation.StatusFailed || out.Reason != want {
		t.Errorf("outcome = %s %q, want FAILED %q", out.Status, out.Reason, want)
	}
	if out.Rollback == nil || out.Rollback.Event.RequestType != cloudformation.RequestDelete || out.Rollback.Event.PhysicalResourceID != "half-made-1" || out.Rollback.Status != cloudformation.StatusSuccess {
		t.Fatalf("rollback = %+v, want a Delete of half-made-1", out.Rollback)
	}
	if n := len(rec.all()); n != 2 {
		t.Errorf("the function got %d events, want Create then Delete", n)
	}
}

func TestNoAnswerTimesOut(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(1000))
	ctx := sandboxtest.Context(t, 20*time.Second)
	var mu sync.Mutex
	var urls []string
	if _, err := env.Lambda.RegisterHandler("silent", func(_ context.Context, p []byte) ([]byte, error) {
		var e cloudformation.Event
		_ = json.Unmarshal(p, &e)
		mu.Lock()
		urls = append(urls, e.ResponseURL)
		mu.Unlock()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	start := env.Clock.Now()
	out, err := env.CloudFormation.Create(ctx, cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "Custom::X", ServiceToken: "silent", ServiceTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !out.TimedOut || out.Status != cloudformation.StatusFailed || !strings.Contains(out.Reason, "did not receive a response") {
		t.Errorf("outcome = %+v, want a timeout", out)
	}
	if out.Rollback == nil || !out.Rollback.TimedOut || !strings.HasPrefix(out.Rollback.Event.PhysicalResourceID, "strongroom-sandbox-R-") {
		t.Errorf("rollback = %+v, want a Delete with a generated id that also timed out", out.Rollback)
	}
	if waited := env.Clock.Now().Sub(start); waited < 2*time.Minute {
		t.Errorf("waited %v of sandbox time, want at least two 1-minute service timeouts", waited)
	}

	// The ResponseURL is a pre-signed URL: a wrong signature is refused, and it expires after 2 h.
	mu.Lock()
	u := urls[0]
	mu.Unlock()
	if status, body := put(t, ctx, strings.Replace(u, "X-Amz-Signature=", "X-Amz-Signature=00", 1), []byte(`{}`)); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Errorf("wrong signature: %d %s", status, body)
	}
	env.Clock.SetScale(1e6)
	if err := env.Clock.Sleep(ctx, 2*time.Hour+time.Minute); err != nil {
		t.Fatal(err)
	}
	if status, body := put(t, ctx, u, []byte(`{}`)); status != 403 || !strings.Contains(body, "Request has expired") {
		t.Errorf("expired URL: %d %s", status, body)
	}
}

func put(t *testing.T, ctx context.Context, url string, body []byte) (int, string) {
	t.Helper()
	status, resp, err := putRaw(ctx, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, resp
}

// putRaw answers a ResponseURL as a custom resource does. Handlers use it rather than put: they
// run on the Lambda service's goroutines, where t.Fatal must not be called.
func putRaw(ctx context.Context, url string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestInvalidAnswers sends hand-made answers and checks CloudFormation's verdict on each.
func TestInvalidAnswers(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 30*time.Second)
	type answer func(e cloudformation.Event) []byte
	valid := func(e cloudformation.Event) cloudformation.Response {
		return cloudformation.Response{Status: "SUCCESS", PhysicalResourceID: "p", StackID: e.StackID, RequestID: e.RequestID, LogicalResourceID: e.LogicalResourceID}
	}
	marshal := func(v any) []byte { b, _ := json.Marshal(v); return b }
	tests := []struct {
		name    string
		answer  answer
		status  string
		problem string
	}{
		{"valid with NoEcho", func(e cloudformation.Event) []byte {
			r := valid(e)
			r.NoEcho, r.Data = true, map[string]any{"Password": "x"}
			return marshal(r)
		}, "SUCCESS", ""},
		{"too large", func(e cloudformation.Event) []byte {
			r := valid(e)
			r.Data = map[string]any{"Blob": strings.Repeat("a", 4096)}
			return marshal(r)
		}, "FAILED", "Response object is too long"},
		{"FAILED without Reason", func(e cloudformation.Event) []byte {
			r := valid(e)
			r.Status = "FAILED"
			return marshal(r)
		}, "FAILED", "Reason is required"},
		{"unknown status", func(e cloudformation.Event) []byte {
			r := valid(e)
			r.Status = "OK"
			return marshal(r)
		}, "FAILED", `Invalid Status "OK"`},
		{"no physical id", func(e cloudformation.Event) []byte {
			r := valid(e)
			r.PhysicalResourceID = ""
			return marshal(r)
		}, "FAILED", "Invalid PhysicalResourceId"},
		{"wrong request id", func(e cloudformation.Event) []byte {
			r := valid(e)
			r.RequestID = "other"
			return marshal(r)
		}, "FAILED", "RequestId \"other\" does not match"},
		{"NoEcho not boolean", func(e cloudformation.Event) []byte {
			b := marshal(valid(e))
			return append(b[:len(b)-1], []byte(`,"NoEcho":"yes"}`)...)
		}, "FAILED", "NoEcho must be a boolean"},
		{"not JSON", func(cloudformation.Event) []byte { return []byte("SUCCESS") }, "FAILED", "not valid JSON"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "answer" + string(rune('a'+i))
			if _, err := env.Lambda.RegisterHandler(name, func(ctx context.Context, p []byte) ([]byte, error) {
				var e cloudformation.Event
				if err := json.Unmarshal(p, &e); err != nil {
					return nil, err
				}
				_, _, err := putRaw(ctx, e.ResponseURL, tc.answer(e))
				return nil, err
			}); err != nil {
				t.Fatal(err)
			}
			out, err := env.CloudFormation.Create(ctx, cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "Custom::X", ServiceToken: name, DisableRollback: true})
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.status || out.Answer == nil {
				t.Fatalf("status = %s (answer %v), want %s", out.Status, out.Answer, tc.status)
			}
			got := strings.Join(out.Answer.Problems, " ")
			if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) || !strings.Contains(out.Reason, tc.problem) {
				t.Errorf("problems = %q, reason %q, want %q", got, out.Reason, tc.problem)
			}
			if tc.problem == "" && (!out.NoEcho || out.Data["Password"] != "x") {
				t.Errorf("NoEcho/Data = %v %v", out.NoEcho, out.Data)
			}
		})
	}
}

func TestDuplicateAnswer(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	if _, err := env.Lambda.RegisterHandler("twice", func(ctx context.Context, p []byte) ([]byte, error) {
		var e cloudformation.Event
		_ = json.Unmarshal(p, &e)
		for _, status := range []string{"SUCCESS", "FAILED"} {
			body, _ := json.Marshal(cloudformation.Response{Status: status, Reason: "second", PhysicalResourceID: "p", StackID: e.StackID, RequestID: e.RequestID, LogicalResourceID: e.LogicalResourceID})
			if _, _, err := putRaw(ctx, e.ResponseURL, body); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err := env.CloudFormation.Create(ctx, cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "Custom::X", ServiceToken: "twice"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != cloudformation.StatusSuccess {
		t.Errorf("status = %s, want the first answer's SUCCESS", out.Status)
	}
	if err := env.Lambda.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	answers := env.CloudFormation.Answers(out.Event.RequestID)
	if len(answers) != 2 || answers[1].Response.Status != "FAILED" {
		t.Errorf("answers = %d, want the duplicate FAILED reported as a second answer", len(answers))
	}
}

func TestSpecErrors(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	tests := []struct {
		name string
		spec cloudformation.ResourceSpec
		want string
	}{
		{"no logical id", cloudformation.ResourceSpec{ResourceType: "Custom::X", ServiceToken: "f"}, "LogicalResourceID"},
		{"bad type", cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "AWS::S3::Bucket", ServiceToken: "f"}, "ResourceType"},
		{"no token", cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "Custom::X"}, "ServiceToken"},
		{"timeout too long", cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "Custom::X", ServiceToken: "f", ServiceTimeout: 2 * time.Hour}, "ServiceTimeout"},
		{"unknown function", cloudformation.ResourceSpec{LogicalResourceID: "R", ResourceType: "Custom::X", ServiceToken: "nope"}, "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.CloudFormation.Create(ctx, tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestFailedUpdateIsRolledBack(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	// The cluster really is FIPS; a handler compares the wanted Mode with the resource's own.
	token, rec := register(t, env, "immutable", func(_ context.Context, e cfn.Event) (string, map[string]any, error) {
		if e.RequestType == cfn.RequestUpdate && e.ResourceProperties["Mode"] != "FIPS" {
			return e.PhysicalResourceID, nil, errors.New("Mode cannot change after creation: create a new cluster instead")
		}
		return e.PhysicalResourceID, nil, nil
	})
	out, err := env.CloudFormation.Update(ctx, cloudformation.ResourceSpec{
		LogicalResourceID: "Cluster", ResourceType: "Custom::CloudHsmCluster", ServiceToken: token, PhysicalResourceID: "cluster-a",
		Properties: map[string]any{"Mode": "NON_FIPS"}, OldProperties: map[string]any{"Mode": "FIPS"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != cloudformation.StatusFailed || !strings.Contains(out.Reason, "Mode cannot change") {
		t.Errorf("update = %s %q", out.Status, out.Reason)
	}
	rb := out.Rollback
	if rb == nil || rb.Event.RequestType != cloudformation.RequestUpdate || rb.Event.PhysicalResourceID != "cluster-a" ||
		rb.Event.ResourceProperties["Mode"] != "FIPS" || rb.Event.OldResourceProperties["Mode"] != "NON_FIPS" || rb.Status != cloudformation.StatusSuccess {
		t.Fatalf("rollback = %+v, want an Update back to FIPS answered SUCCESS", rb)
	}
	if n := len(rec.all()); n != 2 {
		t.Errorf("events = %d, want the update and its rollback", n)
	}
}
