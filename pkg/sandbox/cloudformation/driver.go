// Package cloudformation drives CloudFormation custom resources in the sandbox: it sends the
// Create, Update and Delete events CloudFormation sends to a custom resource's service token (a
// Lambda function, invoked asynchronously), serves the event's ResponseURL as an S3 pre-signed URL
// does (PUT, any content type), and judges the answer as CloudFormation would.
//
// What matches AWS (CloudFormation User Guide, "Custom resources" request and response objects):
// the event shape (RequestType, ServiceToken, ResponseURL, StackId, RequestId, LogicalResourceId,
// ResourceType, ResourceProperties with ServiceToken, OldResourceProperties and
// PhysicalResourceId on Update and Delete); the response rules (Status SUCCESS or FAILED, Reason
// required on FAILED, PhysicalResourceId required, StackId, RequestId and LogicalResourceId echoed,
// NoEcho a boolean, Data an object, the whole body at most 4096 bytes); a resource that gets no
// answer within its ServiceTimeout (1-3600 s, default 3600 s, on the sandbox clock) fails; a failed
// Create is followed, during rollback, by a Delete carrying the PhysicalResourceId of the failed
// answer; a failed Update is followed by an Update back to the old properties; an Update answered
// with a new PhysicalResourceId is a replacement, and the old resource gets a Delete during
// cleanup.
//
// Differences from AWS: there are no stacks or templates, only resources driven one at a time
// from Go; a second answer to the same ResponseURL is accepted (S3 would overwrite the object)
// and reported as a duplicate instead of being ignored silently; when a Create got no usable
// PhysicalResourceId (timeout, invalid answer), the rollback Delete carries a generated id of the
// form <stack>-<logical id>-<random>; reason texts follow CloudFormation's console wording where
// known.
package cloudformation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Limits CloudFormation applies to custom resources.
const (
	MaxResponseBytes      = 4096
	DefaultServiceTimeout = time.Hour
	MaxServiceTimeout     = time.Hour
	responseURLExpiry     = 2 * time.Hour
)

// Request types.
const (
	RequestCreate = "Create"
	RequestUpdate = "Update"
	RequestDelete = "Delete"
)

// Statuses of a resource operation.
const (
	StatusSuccess = "SUCCESS"
	StatusFailed  = "FAILED"
)

// Event is the request CloudFormation sends to the service token.
type Event struct {
	RequestType           string         `json:"RequestType"`
	ServiceToken          string         `json:"ServiceToken"`
	ResponseURL           string         `json:"ResponseURL"`
	StackID               string         `json:"StackId"`
	RequestID             string         `json:"RequestId"`
	LogicalResourceID     string         `json:"LogicalResourceId"`
	PhysicalResourceID    string         `json:"PhysicalResourceId,omitempty"`
	ResourceType          string         `json:"ResourceType"`
	ResourceProperties    map[string]any `json:"ResourceProperties"`
	OldResourceProperties map[string]any `json:"OldResourceProperties,omitempty"`
}

// Response is the custom resource's answer as PUT to the ResponseURL.
type Response struct {
	Status             string         `json:"Status"`
	Reason             string         `json:"Reason,omitempty"`
	PhysicalResourceID string         `json:"PhysicalResourceId"`
	StackID            string         `json:"StackId"`
	RequestID          string         `json:"RequestId"`
	LogicalResourceID  string         `json:"LogicalResourceId"`
	NoEcho             bool           `json:"NoEcho,omitempty"`
	Data               map[string]any `json:"Data,omitempty"`
}

// Answer is one body PUT to a ResponseURL.
type Answer struct {
	Body []byte
	// Response is the decoded body, nil when it is not a valid response object.
	Response *Response
	// Problems lists why CloudFormation would not accept the answer; empty when valid.
	Problems []string
	At       time.Time // sandbox clock
}

// Outcome is what CloudFormation makes of one request.
type Outcome struct {
	Event Event
	// Answer is the first answer, nil when none came in time.
	Answer *Answer
	// Duplicates are the answers that came after the first, up to the moment Outcome was returned
	// (Driver.Answers reports later ones).
	Duplicates []Answer
	TimedOut   bool
	// Status is SUCCESS only for a valid SUCCESS answer; otherwise FAILED.
	Status string
	// Reason is CloudFormation's status reason for a FAILED resource.
	Reason             string
	PhysicalResourceID string
	// Data is the answer's Data (what Fn::GetAtt reads); NoEcho says it would be masked.
	Data   map[string]any
	NoEcho bool
	// Rollback is what CloudFormation sent after a failure: the Delete after a failed Create, the
	// Update back to the old properties after a failed Update. Cleanup is the Delete of the old
	// resource after an Update replaced it.
	Rollback *Outcome
	Cleanup  *Outcome
}

// ResourceSpec describes one custom resource.
type ResourceSpec struct {
	// StackName names the stack (default "strongroom-sandbox"); one StackId per name.
	StackName         string
	LogicalResourceID string
	// ResourceType is Custom::<Name> or AWS::CloudFormation::CustomResource.
	ResourceType string
	// ServiceToken is the Lambda function ARN (or name) that receives the events.
	ServiceToken string
	Properties   map[string]any
	// ServiceTimeout bounds the wait for an answer (1 s-1 h; 0 means CloudFormation's default, 1 h).
	ServiceTimeout time.Duration
	// PhysicalResourceID is the current id, for Update and Delete.
	PhysicalResourceID string
	// OldProperties are the previous properties, for Update.
	OldProperties map[string]any
	// DisableRollback skips the Delete that follows a failed Create (--disable-rollback).
	DisableRollback bool
}

// Driver sends custom-resource events and collects their answers.
type Driver struct {
	clock           core.Clock
	lambda          core.AsyncLambdaInvoker
	baseURL         func() string
	region, account string

	mu      sync.Mutex
	stacks  map[string]string   // stack name -> StackId
	pending map[string]*request // by ResponseURL object key
}

type request struct {
	event     Event
	token     string
	issued    time.Time
	answers   []Answer
	first     chan struct{} // closed at the first answer
	firstOnce sync.Once
}

// New returns a driver that invokes service tokens through lambda and serves ResponseURLs under
// baseURL() (the sandbox's address, read when an event is sent).
func New(clock core.Clock, lambda core.AsyncLambdaInvoker, baseURL func() string, region, account string) *Driver {
	return &Driver{clock: clock, lambda: lambda, baseURL: baseURL, region: region, account: account,
		stacks: map[string]string{}, pending: map[string]*request{}}
}

// Create sends a Create event and waits for its outcome (and, if it failed, for the rollback
// Delete's).
func (d *Driver) Create(ctx context.Context, spec ResourceSpec) (*Outcome, error) {
	out, err := d.send(ctx, RequestCreate, spec)
	if err != nil || out.Status == StatusSuccess || spec.DisableRollback {
		return out, err
	}
	del := spec
	del.PhysicalResourceID = out.PhysicalResourceID
	if del.PhysicalResourceID == "" {
		del.PhysicalResourceID = d.generatedID(spec)
	}
	del.OldProperties = nil
	out.Rollback, err = d.send(ctx, RequestDelete, del)
	return out, err
}

// Update sends an Update event (spec.PhysicalResourceID and spec.OldProperties set) and waits.
// A SUCCESS with a new PhysicalResourceId replaces the resource: the old one then gets a Delete
// (Outcome.Cleanup). A failed Update is rolled back with a second Update from the new properties
// back to the old ones (Outcome.Rollback), unless spec.DisableRollback.
func (d *Driver) Update(ctx context.Context, spec ResourceSpec) (*Outcome, error) {
	if spec.PhysicalResourceID == "" {
		return nil, errors.New("update: spec.PhysicalResourceID is empty: pass the id the Create answered with")
	}
	out, err := d.send(ctx, RequestUpdate, spec)
	if err != nil {
		return out, err
	}
	if out.Status != StatusSuccess {
		if spec.DisableRollback {
			return out, nil
		}
		// UPDATE_ROLLBACK_IN_PROGRESS: CloudFormation asks the resource to go back to the old
		// properties, with the physical id it had before the update.
		back := spec
		back.Properties, back.OldProperties = spec.OldProperties, spec.Properties
		out.Rollback, err = d.send(ctx, RequestUpdate, back)
		return out, err
	}
	if out.PhysicalResourceID == spec.PhysicalResourceID {
		return out, nil
	}
	old := spec
	old.Properties, old.OldProperties = spec.OldProperties, nil
	out.Cleanup, err = d.send(ctx, RequestDelete, old)
	return out, err
}

// Delete sends a Delete event (spec.PhysicalResourceID set) and waits.
func (d *Driver) Delete(ctx context.Context, spec ResourceSpec) (*Outcome, error) {
	if spec.PhysicalResourceID == "" {
		return nil, errors.New("delete: spec.PhysicalResourceID is empty: pass the id the Create answered with")
	}
	spec.OldProperties = nil
	return d.send(ctx, RequestDelete, spec)
}

// Answers returns every answer received for the request with requestID, duplicates included.
func (d *Driver) Answers(requestID string) []Answer {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.pending {
		if r.event.RequestID == requestID {
			return append([]Answer(nil), r.answers...)
		}
	}
	return nil
}

// Sent is one event the driver sent and the answers it got so far.
type Sent struct {
	Event   Event
	Issued  time.Time // sandbox clock
	Answers []Answer
}

// Requests returns every event sent so far, in the order sent, each with its answers so far (a
// second answer to one event is a defect a test can look for).
func (d *Driver) Requests() []Sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Sent, 0, len(d.pending))
	for _, r := range d.pending {
		out = append(out, Sent{Event: r.event, Issued: r.issued, Answers: append([]Answer(nil), r.answers...)})
	}
	slices.SortStableFunc(out, func(a, b Sent) int { return a.Issued.Compare(b.Issued) })
	return out
}

func (d *Driver) validate(spec ResourceSpec) error {
	switch {
	case spec.LogicalResourceID == "":
		return errors.New("resource spec: LogicalResourceID is empty: name the resource as in a template")
	case !strings.HasPrefix(spec.ResourceType, "Custom::") && spec.ResourceType != "AWS::CloudFormation::CustomResource":
		return fmt.Errorf("resource spec: ResourceType %q: use Custom::<Name> or AWS::CloudFormation::CustomResource", spec.ResourceType)
	case spec.ServiceToken == "":
		return errors.New("resource spec: ServiceToken is empty: set the custom resource Lambda's ARN")
	case spec.ServiceTimeout < 0 || spec.ServiceTimeout > MaxServiceTimeout || (spec.ServiceTimeout > 0 && spec.ServiceTimeout < time.Second):
		return fmt.Errorf("resource spec: ServiceTimeout %v: CloudFormation accepts 1 s to 1 h", spec.ServiceTimeout)
	}
	return nil
}

func (d *Driver) stackID(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.stacks[name]
	if !ok {
		id = "arn:aws:cloudformation:" + d.region + ":" + d.account + ":stack/" + name + "/" + core.NewUUID()
		d.stacks[name] = id
	}
	return id
}

func (d *Driver) generatedID(spec ResourceSpec) string {
	return stackName(spec) + "-" + spec.LogicalResourceID + "-" + strings.ToUpper(core.RandomHex(12))
}

func stackName(spec ResourceSpec) string {
	if spec.StackName == "" {
		return "strongroom-sandbox"
	}
	return spec.StackName
}

// send delivers one event and waits for its first answer or its timeout.
func (d *Driver) send(ctx context.Context, reqType string, spec ResourceSpec) (*Outcome, error) {
	if err := d.validate(spec); err != nil {
		return nil, err
	}
	timeout := spec.ServiceTimeout
	if timeout == 0 {
		timeout = DefaultServiceTimeout
	}
	props := map[string]any{}
	for k, v := range spec.Properties {
		props[k] = v
	}
	props["ServiceToken"] = spec.ServiceToken
	if spec.ServiceTimeout > 0 {
		props["ServiceTimeout"] = fmt.Sprint(int(spec.ServiceTimeout / time.Second))
	}
	ev := Event{
		RequestType: reqType, ServiceToken: spec.ServiceToken, StackID: d.stackID(stackName(spec)),
		RequestID: core.NewUUID(), LogicalResourceID: spec.LogicalResourceID, ResourceType: spec.ResourceType,
		ResourceProperties: props,
	}
	if reqType != RequestCreate {
		ev.PhysicalResourceID = spec.PhysicalResourceID
	}
	if reqType == RequestUpdate {
		ev.OldResourceProperties = map[string]any{"ServiceToken": spec.ServiceToken}
		for k, v := range spec.OldProperties {
			ev.OldResourceProperties[k] = v
		}
	}
	key := ev.StackID + "|" + ev.LogicalResourceID + "|" + ev.RequestID
	r := &request{token: core.RandomHex(64), issued: d.clock.Now(), first: make(chan struct{})}
	ev.ResponseURL = d.responseURL(key, r)
	r.event = ev
	d.mu.Lock()
	d.pending[key] = r
	d.mu.Unlock()

	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode event: %w", reqType, spec.LogicalResourceID, err)
	}
	timedOut := make(chan struct{})
	stop := d.clock.AfterFunc(timeout, func() { close(timedOut) })
	defer stop()
	if err := d.lambda.InvokeAsync(ctx, spec.ServiceToken, payload); err != nil {
		return nil, fmt.Errorf("%s %s: invoke service token %s: %w", reqType, spec.LogicalResourceID, spec.ServiceToken, err)
	}
	select {
	case <-r.first:
	case <-timedOut:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s %s: waiting for the custom resource's answer: %w", reqType, spec.LogicalResourceID, ctx.Err())
	}
	return d.outcome(r, reqType), nil
}

// outcome judges the answers received so far.
func (d *Driver) outcome(r *request, reqType string) *Outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := &Outcome{Event: r.event, Status: StatusFailed}
	if len(r.answers) == 0 {
		out.TimedOut = true
		out.Reason = fmt.Sprintf("CloudFormation did not receive a response from your Custom Resource. Please check your logs for requestId [%s].", r.event.RequestID)
		if reqType != RequestCreate {
			out.PhysicalResourceID = r.event.PhysicalResourceID
		}
		return out
	}
	first := r.answers[0]
	out.Answer = &first
	out.Duplicates = append([]Answer(nil), r.answers[1:]...)
	if len(first.Problems) > 0 {
		out.Reason = strings.Join(first.Problems, " ")
		if first.Response != nil {
			out.PhysicalResourceID = first.Response.PhysicalResourceID
		}
		return out
	}
	resp := first.Response
	out.PhysicalResourceID, out.Data, out.NoEcho = resp.PhysicalResourceID, resp.Data, resp.NoEcho
	if resp.Status == StatusSuccess {
		out.Status = StatusSuccess
		return out
	}
	out.Reason = fmt.Sprintf("Received response status [FAILED] from custom resource. Message returned: %s (RequestId: %s)", resp.Reason, r.event.RequestID)
	return out
}

func (d *Driver) responseURL(key string, r *request) string {
	region := strings.ReplaceAll(d.region, "-", "")
	q := url.Values{}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Date", r.issued.UTC().Format("20060102T150405Z"))
	q.Set("X-Amz-SignedHeaders", "host")
	q.Set("X-Amz-Expires", fmt.Sprint(int(responseURLExpiry/time.Second)))
	q.Set("X-Amz-Credential", "AKIASANDBOXCFN000000/"+r.issued.UTC().Format("20060102")+"/"+d.region+"/s3/aws4_request")
	q.Set("X-Amz-Signature", r.token)
	return d.baseURL() + responsePathPrefix + region + "/" + url.PathEscape(key) + "?" + q.Encode()
}

// judge checks one answer body against the request, as CloudFormation does.
func judge(ev Event, body []byte) (*Response, []string) {
	var problems []string
	if len(body) > MaxResponseBytes {
		problems = append(problems, fmt.Sprintf("Response object is too long (%d bytes; the limit is %d).", len(body), MaxResponseBytes))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, append(problems, "Response object is not valid JSON.")
	}
	var resp Response
	if b, ok := raw["NoEcho"]; ok && string(b) != "true" && string(b) != "false" {
		problems = append(problems, "NoEcho must be a boolean.")
		delete(raw, "NoEcho")
	}
	if b, ok := raw["Data"]; ok && (len(b) == 0 || b[0] != '{') && string(b) != "null" {
		problems = append(problems, "Data must be a JSON object.")
		delete(raw, "Data")
	}
	clean, _ := json.Marshal(raw)
	if err := json.Unmarshal(clean, &resp); err != nil {
		return nil, append(problems, "Response object is not valid: "+err.Error())
	}
	switch resp.Status {
	case StatusSuccess:
	case StatusFailed:
		if resp.Reason == "" {
			problems = append(problems, "Reason is required when Status is FAILED.")
		}
	default:
		problems = append(problems, fmt.Sprintf("Invalid Status %q: use SUCCESS or FAILED.", resp.Status))
	}
	if resp.PhysicalResourceID == "" {
		problems = append(problems, "Invalid PhysicalResourceId: it is required.")
	} else if len(resp.PhysicalResourceID) > 1024 {
		problems = append(problems, "Invalid PhysicalResourceId: longer than 1 KB.")
	}
	for _, f := range []struct{ name, got, want string }{
		{"StackId", resp.StackID, ev.StackID},
		{"RequestId", resp.RequestID, ev.RequestID},
		{"LogicalResourceId", resp.LogicalResourceID, ev.LogicalResourceID},
	} {
		if f.got != f.want {
			problems = append(problems, fmt.Sprintf("%s %q does not match the request's %q.", f.name, f.got, f.want))
		}
	}
	return &resp, problems
}
