// Package customresource is the CloudFormation side of Strongroom's custom resources
// (docs/architecture.md, "The custom-resource contract"): the entry step that checks a request
// and starts the right workflow, the answer step every workflow ends with, the safety net that
// answers FAILED for a workflow that ended without answering, and the property errors every
// resource's validation returns.
//
// The contract: every request is answered exactly once, a failed Create names whatever it created
// (so the rollback's Delete removes it), and no stack waits for CloudFormation's hour-long timeout.
// States that answer CloudFormation are named with the AnswerStatePrefix and put the answer step's
// output at $.Answer; the safety net reads the execution history for such a state having exited
// with an answer, so no extra store is needed.
package customresource

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// AnswerStatePrefix starts the name of every state that answers CloudFormation.
const AnswerStatePrefix = "Answer"

// WorkflowInput is what the entry step starts a workflow with.
type WorkflowInput struct {
	Event cfn.Event `json:"Event"`
}

// Sender puts a response to the pre-signed ResponseURL.
type Sender func(ctx context.Context, r *cfn.Response, url string) error

// HTTPSender sends with client (a short timeout: the URL is S3's).
func HTTPSender(client *http.Client) Sender {
	return func(ctx context.Context, r *cfn.Response, url string) error {
		body, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(string(body)))
		if err != nil {
			return fmt.Errorf("response URL: %w", err)
		}
		// S3 pre-signed URLs are signed without a content type; sending one breaks the signature.
		req.Header.Del("Content-Type")
		req.ContentLength = int64(len(body))
		res, err := client.Do(req)
		if err != nil {
			return lambdaerr.Retryable("put response to CloudFormation", err)
		}
		defer res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return nil
		}
		code := errorCode(res)
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests || retryableS3Codes[code] {
			return lambdaerr.Retryable(fmt.Sprintf("put response to CloudFormation: HTTP %d %s", res.StatusCode, code), nil)
		}
		return lambdaerr.Terminal(fmt.Sprintf("put response to CloudFormation: HTTP %d %s (the pre-signed URL expired or was altered)", res.StatusCode, code), nil)
	}
}

// retryableS3Codes are S3 error codes that a later attempt can succeed after, whatever their
// status: SlowDown (503), RequestTimeout (400: the upload was too slow), InternalError and
// ServiceUnavailable, and the generic throttling names.
var retryableS3Codes = map[string]bool{
	"SlowDown": true, "RequestTimeout": true, "InternalError": true, "ServiceUnavailable": true,
	"Throttling": true, "ThrottlingException": true,
}

// errorCode reads an error answer's code: S3's XML <Code>, or the X-Amzn-ErrorType header other
// AWS REST services (and the sandbox's injected faults) send.
func errorCode(res *http.Response) string {
	if c := res.Header.Get("X-Amzn-ErrorType"); c != "" {
		c, _, _ = strings.Cut(c, ":")
		return c
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	var e struct {
		Code string `xml:"Code"`
	}
	if xml.Unmarshal(body, &e) == nil {
		return e.Code
	}
	return ""
}

// DefaultSender sends with a 30-second timeout.
var DefaultSender = HTTPSender(&http.Client{Timeout: 30 * time.Second})

// AnswerInput is the answer step's input.
type AnswerInput struct {
	Event   cfn.Event `json:"Event"`
	Outcome Outcome   `json:"Outcome"`
	// Error is a Catch's error output ({Error, Cause}); when set, the answer is FAILED with the
	// cause as its reason.
	Error *CaughtError `json:"Error,omitempty"`
	// Cleanup, when set, is what a failed request's clean-up could not do (a Catch's output, or a
	// note in the same shape); the FAILED reason adds it, so nothing left behind goes unsaid.
	Cleanup *CaughtError `json:"Cleanup,omitempty"`
}

// CaughtError is what a Catch puts at its ResultPath.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Reason turns a caught error into a person-readable reason: a Lambda's cause is JSON
// {"errorMessage","errorType",...}; its message is what the step said.
func (c *CaughtError) Reason() string {
	var lambdaCause struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal([]byte(c.Cause), &lambdaCause) == nil && lambdaCause.Message != "" {
		return lambdaCause.Message
	}
	switch {
	case c.Cause != "":
		return c.Error + ": " + c.Cause
	case c.Error != "":
		return c.Error
	}
	return ""
}

// AnswerOutput echoes what was sent (without Data values, which may be NoEcho).
type AnswerOutput struct {
	Status             cfn.StatusType `json:"Status"`
	PhysicalResourceID string         `json:"PhysicalResourceId"`
	// Reason is always emitted ("" for a SUCCESS without one): every workflow's Fail state after
	// a FAILED answer reads it as its cause ($.Answer.Reason), and a FAILED answer always has one
	// (Build), which omitempty would hide from the contract check (pkg/sandbox/asl/contract).
	Reason string `json:"Reason"`
}

// Answer sends the workflow's outcome to CloudFormation.
type Answer struct {
	Send Sender
}

// Handle implements the step.
func (s *Answer) Handle(ctx context.Context, in AnswerInput) (AnswerOutput, error) {
	o := in.Outcome
	if in.Error != nil {
		o.Status = cfn.StatusFailed
		if o.Reason == "" {
			o.Reason = in.Error.Reason()
		}
	}
	if in.Cleanup != nil && o.Status == cfn.StatusFailed {
		o.Reason += "; clean-up: " + in.Cleanup.Reason()
	}
	if o.Status == "" {
		o.Status = cfn.StatusSuccess
	}
	r, err := Build(&in.Event, o)
	if errors.Is(err, ErrDataTooLarge) {
		r, err = Build(&in.Event, Outcome{Status: cfn.StatusFailed, PhysicalResourceID: o.PhysicalResourceID, Reason: err.Error()})
	}
	if err != nil {
		return AnswerOutput{}, lambdaerr.Terminal("build CloudFormation response", err)
	}
	if in.Event.ResponseURL == "" {
		return AnswerOutput{}, lambdaerr.Terminal("answer CloudFormation: the event has no ResponseURL", nil)
	}
	if err := s.Send(ctx, r, in.Event.ResponseURL); err != nil {
		return AnswerOutput{}, err
	}
	return AnswerOutput{Status: r.Status, PhysicalResourceID: r.PhysicalResourceID, Reason: r.Reason}, nil
}

// ExecutionName is the execution's name for a request: at most 80 characters of [A-Za-z0-9-_].
func ExecutionName(ev cfn.Event) string {
	var b strings.Builder
	for _, r := range string(ev.RequestType) + "-" + ev.RequestID {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	name := b.String()
	if len(name) > 80 {
		name = name[:80]
	}
	return name
}
