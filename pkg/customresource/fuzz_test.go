package customresource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/customresource/entry"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/keystore"
)

// decodeLikeTheRuntime decodes a payload as aws-lambda-go's lambda.Start decodes a handler's
// event (lambdaenv.Start passes no options): one json.Decoder.Decode into the handler's type.
func decodeLikeTheRuntime(data []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// requestSeeds are CloudFormation custom-resource requests as the service token receives them.
func requestSeeds() []string {
	const head = `"ServiceToken":"arn:aws:lambda:us-east-1:123456789012:function:StrongroomCluster-Entry",` +
		`"ResponseURL":"https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/StrongroomCluster/1/Cluster?X-Amz-Signature=x",` +
		`"StackId":"arn:aws:cloudformation:us-east-1:123456789012:stack/StrongroomCluster/5b3e1c70-cc5a-11f0-9e0a-0affd0c3a2b1",` +
		`"RequestId":"6f1c0a63-7b5b-4d4e-9a52-0c8a8c1a2b3d","LogicalResourceId":"Cluster"`
	const cluster = `{"ServiceToken":"arn:aws:lambda:us-east-1:123456789012:function:StrongroomCluster-Entry","SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"],"ClientInstanceId":"i-0123456789abcdef0","HsmCount":"2"}`
	const store = `{"ClusterId":"cluster-igklspoyj5v","KeyStoreName":"strongroom","AdminPasswordSecretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf","CustomerCaCertificateSecretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:c-GhIjKl","ClientInstanceId":"i-0a5b0c1d2e3f40001","DeleteKeyStoreOnStackDeletion":"false"}`
	return []string{
		`{"RequestType":"Create",` + head + `,"ResourceType":"Custom::CloudHsmCluster","ResourceProperties":` + cluster + `}`,
		`{"RequestType":"Update",` + head + `,"ResourceType":"Custom::CloudHsmCluster","PhysicalResourceId":"cluster-igklspoyj5v","ResourceProperties":` + cluster + `,"OldResourceProperties":` + cluster + `}`,
		`{"RequestType":"Delete",` + head + `,"ResourceType":"Custom::CloudHsmCluster","PhysicalResourceId":"cluster-igklspoyj5v","ResourceProperties":{"SubnetIds":"not a list"}}`,
		`{"RequestType":"Delete",` + head + `,"ResourceType":"Custom::CloudHsmCluster","PhysicalResourceId":"strongroom-none-6f1c0a63-7b5b-4d4e-9a52-0c8a8c1a2b3d","ResourceProperties":{}}`,
		`{"RequestType":"Create",` + head + `,"ResourceType":"Custom::CloudHsmCluster","ResourceProperties":{"SubnetIds":["subnet-0123456789abcdef0"],"HsmCuont":3}}`,
		`{"RequestType":"Create",` + head + `,"ResourceType":"Custom::CloudHsmCluster","ResourceProperties":{"SubnetIds":["subnet-0123456789abcdef0"],"Tags":{"aws:a":"1","aws:b":"2","aws:c":3,"aws:d":4}}}`,
		`{"RequestType":"Create",` + head + `,"ResourceType":"Custom::CloudHsmKeyStore","ResourceProperties":` + store + `}`,
		`{"RequestType":"Update",` + head + `,"ResourceType":"Custom::CloudHsmKeyStore","PhysicalResourceId":"cks-1234567890abcdef0","ResourceProperties":` + store + `,"OldResourceProperties":` + strings.Replace(store, "igklspoyj5v", "abcdefghijk", 1) + `}`,
		`{"RequestType":"Replace",` + head + `,"ResourceType":"Custom::CloudHsmCluster","PhysicalResourceId":"cluster-igklspoyj5v"}`,
		`{"RequestType":"Create","RequestId":"r","ResponseURL":"","StackId":"s","LogicalResourceId":"L","ResourceType":"Custom::X","ResourceProperties":null}`,
		`{"RequestType":"Create","RequestId":"` + strings.Repeat("é", 50) + `","ResponseURL":"u","ResourceType":"Custom::X","OldResourceProperties":{}}`,
		`{"RequestType":"Delete","RequestId":"r","ResponseURL":"u","StackId":"` + strings.Repeat("s", 5000) + `","LogicalResourceId":"L","PhysicalResourceId":""}`,
		`{"RequestType":5}`, `[]`, `null`, `{}`,
	}
}

// FuzzEntry decodes fuzzed custom-resource requests as the entry functions' runtime does and
// hands them to entry.Entry (with the real Custom::CloudHsmCluster and Custom::CloudHsmKeyStore
// validators, an in-memory Step Functions and a recording Sender). Properties:
//
//   - The workflow's input carries the request: WorkflowInput encodes and decodes to the same
//     event, which is how every step reads it.
//   - Every request ends exactly one way: one execution of its request type's state machine,
//     named ExecutionName (at most 80 of [A-Za-z0-9_-]) and carrying the event, and no answer; or
//     one answer and no execution: FAILED for an unknown RequestType or properties the validator
//     refuses (with its text), SUCCESS for a Delete of a PhysicalResourceId that names no resource.
//     Handle returns an error only when no answer can be sent (no ResponseURL, or ids too long for
//     the 4,096-byte body).
//   - An answer echoes the request's ids, has a PhysicalResourceId, fits in 4,096 bytes, and a
//     FAILED one has a valid UTF-8 reason.
//   - Properties are validated once for Create and Update, never for Delete.
//   - The same request again starts nothing new (the execution name is the request's).
func FuzzEntry(f *testing.F) {
	for _, s := range requestSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev cfn.Event
		if decodeLikeTheRuntime(data, &ev) != nil {
			return
		}
		b, err := json.Marshal(customresource.WorkflowInput{Event: ev})
		if err != nil {
			t.Fatalf("the event does not encode as workflow input: %v", err)
		}
		var in customresource.WorkflowInput
		if err := json.Unmarshal(b, &in); err != nil || !reflect.DeepEqual(in.Event, sameEvent(ev)) {
			t.Fatalf("workflow input %s decodes to %+v, %v; want %+v", b, in.Event, err, ev)
		}
		name := customresource.ExecutionName(ev)
		if len(name) > 80 || (name != "" && !validName(name)) {
			t.Fatalf("ExecutionName = %q: not at most 80 of [A-Za-z0-9_-]", name)
		}

		sfnFake, rec, calls := newFakeSFN(), &recorder{}, 0
		e := &entry.Entry{SFN: sfnFake, Send: rec.send,
			StateMachines: map[cfn.RequestType]string{cfn.RequestCreate: createSM, cfn.RequestUpdate: updateSM, cfn.RequestDelete: deleteSM},
			Validate: func(ev *cfn.Event) error {
				calls++
				return validateByType(ev)
			}}
		out, err := e.Handle(context.Background(), ev)

		known := ev.RequestType == cfn.RequestCreate || ev.RequestType == cfn.RequestUpdate || ev.RequestType == cfn.RequestDelete
		wantCalls := 0
		if known && ev.RequestType != cfn.RequestDelete {
			wantCalls = 1
		}
		if calls != wantCalls {
			t.Fatalf("%s: properties validated %d times; want %d", ev.RequestType, calls, wantCalls)
		}
		if out.Action == "started" {
			machine := map[cfn.RequestType]string{cfn.RequestCreate: createSM, cfn.RequestUpdate: updateSM, cfn.RequestDelete: deleteSM}[ev.RequestType]
			x := sfnFake.execs[out.ExecutionARN]
			if err != nil || len(sfnFake.execs) != 1 || x == nil || x.machine != machine || x.name != name || rec.attempts != 0 {
				t.Fatalf("started %+v, %v: %d executions (%+v), %d answers; want one of %s named %q, no answer", out, err, len(sfnFake.execs), x, rec.attempts, machine, name)
			}
			if ev.RequestType == cfn.RequestDelete && customresource.NamesNoResource(ev.PhysicalResourceID) {
				t.Fatalf("a Delete of %q, which names no resource, started a workflow", ev.PhysicalResourceID)
			}
			var got customresource.WorkflowInput
			if err := json.Unmarshal([]byte(x.input), &got); err != nil || !reflect.DeepEqual(got.Event, sameEvent(ev)) {
				t.Fatalf("the execution's input %s does not carry the event (%v)", x.input, err)
			}
			again, err := e.Handle(context.Background(), ev)
			if err != nil || len(sfnFake.execs) != 1 || rec.attempts != 0 || (again != out && again.Action != "already started") {
				t.Fatalf("the same request again: %+v, %v (%d executions, %d answers)", again, err, len(sfnFake.execs), rec.attempts)
			}
			return
		}
		if len(sfnFake.execs) != 0 {
			t.Fatalf("%+v, %v, yet %d executions exist", out, err, len(sfnFake.execs))
		}
		if err != nil {
			if ev.ResponseURL != "" && fits(ev) {
				t.Fatalf("Handle failed without answering a request it could answer: %v", err)
			}
			if rec.attempts != 0 {
				t.Fatalf("Handle failed (%v) after sending an answer", err)
			}
			return
		}
		if len(rec.sent) != 1 || rec.urls[0] != ev.ResponseURL {
			t.Fatalf("%+v: %d answers sent; want one to the ResponseURL", out, len(rec.sent))
		}
		r := rec.sent[0]
		checkResponse(t, &ev, r)
		if out.Action != "answered "+string(r.Status) {
			t.Fatalf("Action %q for a %s answer", out.Action, r.Status)
		}
		switch {
		case !known:
			if r.Status != cfn.StatusFailed || !saysOrBegins(r.Reason, "unknown RequestType") {
				t.Fatalf("unknown RequestType %q answered %s %q", ev.RequestType, r.Status, r.Reason)
			}
		case ev.RequestType == cfn.RequestDelete && customresource.NamesNoResource(ev.PhysicalResourceID):
			if r.Status != cfn.StatusSuccess {
				t.Fatalf("a Delete of nothing answered %s %q", r.Status, r.Reason)
			}
		case r.Status != cfn.StatusFailed:
			t.Fatalf("%s answered %s without a workflow", ev.RequestType, r.Status)
		case ev.RequestType != cfn.RequestDelete:
			// Refused properties: the answer gives the validator's text (shortened only to fit).
			verr := validateByType(&ev)
			if verr == nil {
				if !saysOrBegins(r.Reason, "start "+string(ev.RequestType)+" workflow") {
					t.Fatalf("valid %s answered FAILED %q without starting a workflow", ev.RequestType, r.Reason)
				}
			} else if want := strings.ToValidUTF8(verr.Error(), "?"); !saysOrBegins(r.Reason, want) && !sameParts(r.Reason, want) {
				t.Fatalf("refused properties answered %q; want the validator's %q", r.Reason, want)
			}
		}
	})
}

// validateByType is each resource type's entry validation: the real Custom::CloudHsmCluster and
// Custom::CloudHsmKeyStore ones, and none for other types.
func validateByType(ev *cfn.Event) error {
	switch ev.ResourceType {
	case hsmcluster.ResourceType:
		return hsmcluster.ValidateRequest(ev)
	case keystore.ResourceType:
		return keystore.ValidateRequest(ev)
	}
	return nil
}

// sameParts reports whether two property-error texts list the same "; "-separated parts: the
// cluster validator lists Tags problems in map order, which varies from one call to the next.
func sameParts(a, b string) bool {
	ha, ta, _ := strings.Cut(a, " properties: ")
	hb, tb, _ := strings.Cut(b, " properties: ")
	pa, pb := strings.Split(ta, "; "), strings.Split(tb, "; ")
	slices.Sort(pa)
	slices.Sort(pb)
	return ha == hb && slices.Equal(pa, pb)
}

// saysOrBegins reports whether reason is want, or a shortened reason ("[...truncated]") that is
// a beginning of it; it also accepts a reason that begins with want.
func saysOrBegins(reason, want string) bool {
	kept, truncated := strings.CutSuffix(reason, " [...truncated]")
	return strings.HasPrefix(reason, want) || (truncated && strings.HasPrefix(want, kept))
}

// FuzzAnswer decodes fuzzed answer-step input (what a workflow's Answer state passes:
// {Event, Outcome, Error}) as lambdas/cfn-answer's runtime does and answers with a recording
// Sender. Properties:
//
//   - Exactly one response is sent to the event's ResponseURL, unless there is none or the
//     outcome's Status is neither empty, SUCCESS nor FAILED: then Handle fails and sends nothing.
//   - The response echoes the request's ids, names PhysicalID(event, outcome) and fits in 4,096
//     bytes; a caught Error makes it FAILED; a FAILED one has a reason.
//   - The Reason is the outcome's (or the caught error's) as valid UTF-8, whole when it fits;
//     else a prefix of it followed by " [...truncated]".
//   - Data that fits is sent as given; Data that cannot fit turns the answer FAILED.
//   - The step's output echoes the response.
func FuzzAnswer(f *testing.F) {
	ev := `{"RequestType":"Create","RequestId":"6f1c0a63-7b5b-4d4e-9a52-0c8a8c1a2b3d","ResponseURL":"https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=x","StackId":"arn:aws:cloudformation:us-east-1:123456789012:stack/StrongroomCluster/5b3e1c70-cc5a-11f0-9e0a-0affd0c3a2b1","LogicalResourceId":"Cluster","ResourceType":"Custom::CloudHsmCluster","ResourceProperties":{}}`
	for _, s := range []string{
		`{"Event":` + ev + `,"Outcome":{"Status":"SUCCESS","PhysicalResourceId":"cluster-igklspoyj5v","Data":{"ClusterId":"cluster-igklspoyj5v","HsmIps":"10.0.0.11,10.0.1.12"}}}`,
		`{"Event":` + ev + `,"Outcome":{"PhysicalResourceId":"cks-1234567890abcdef0","NoEcho":true,"Data":{"Password":"p"}}}`,
		`{"Event":` + ev + `,"Outcome":{"Status":"FAILED","Reason":"` + strings.Repeat("ü\u2028<", 1500) + `"}}`,
		`{"Event":` + ev + `,"Outcome":{"Status":"SUCCESS","PhysicalResourceId":"cluster-igklspoyj5v"},"Error":{"Error":"States.TaskFailed","Cause":"{\"errorMessage\":\"cluster-create: quota exceeded\",\"errorType\":\"TerminalError\"}"}}`,
		`{"Event":` + ev + `,"Outcome":{},"Error":{"Error":"States.Timeout","Cause":""}}`,
		`{"Event":` + ev + `,"Outcome":{"Status":"SUCCESS","Data":{"Big":"` + strings.Repeat("x", 5000) + `"}}}`,
		`{"Event":` + ev + `,"Outcome":{"Status":"PENDING"}}`,
		`{"Event":{"RequestType":"Delete","RequestId":"r","ResponseURL":""},"Outcome":{}}`,
		`{"Event":{"RequestType":"Delete","RequestId":"r","ResponseURL":"u","PhysicalResourceId":"cluster-x"},"Outcome":{"Status":"FAILED","Reason":" \xff\xfe "}}`,
		`{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in customresource.AnswerInput
		if decodeLikeTheRuntime(data, &in) != nil {
			return
		}
		rec := &recorder{}
		out, err := (&customresource.Answer{Send: rec.send}).Handle(context.Background(), in)
		status := in.Outcome.Status
		if in.Error != nil {
			status = cfn.StatusFailed
		} else if status == "" {
			status = cfn.StatusSuccess
		}
		if err != nil {
			if rec.attempts != 0 {
				t.Fatalf("Handle failed (%v) after sending", err)
			}
			if in.Event.ResponseURL != "" && (status == cfn.StatusSuccess || status == cfn.StatusFailed) && fits(in.Event) {
				t.Fatalf("Handle failed on an answer it could send: %v", err)
			}
			return
		}
		if len(rec.sent) != 1 || rec.urls[0] != in.Event.ResponseURL {
			t.Fatalf("%d responses sent; want one to the ResponseURL", len(rec.sent))
		}
		r := rec.sent[0]
		checkResponse(t, &in.Event, r)
		if out != (customresource.AnswerOutput{Status: r.Status, PhysicalResourceID: r.PhysicalResourceID, Reason: r.Reason}) {
			t.Fatalf("output %+v does not echo the response %+v", out, r)
		}
		if r.PhysicalResourceID != customresource.PhysicalID(&in.Event, in.Outcome.PhysicalResourceID) {
			t.Fatalf("PhysicalResourceId %q; want PhysicalID's %q", r.PhysicalResourceID, customresource.PhysicalID(&in.Event, in.Outcome.PhysicalResourceID))
		}
		if r.NoEcho != in.Outcome.NoEcho && r.Status == status {
			t.Fatalf("NoEcho %t; want %t", r.NoEcho, in.Outcome.NoEcho)
		}
		if r.Status != status {
			// Only Data too large for the body turns an answer FAILED.
			if r.Status != cfn.StatusFailed || r.Data != nil || !saysOrBegins(r.Reason, customresource.ErrDataTooLarge.Error()) {
				t.Fatalf("answered %s %q; want %s", r.Status, r.Reason, status)
			}
			return
		}
		if !reflect.DeepEqual(r.Data, in.Outcome.Data) {
			t.Fatalf("Data %v; want %v", r.Data, in.Outcome.Data)
		}
		reason := in.Outcome.Reason
		if reason == "" && in.Error != nil {
			reason = in.Error.Reason()
		}
		reason = strings.ToValidUTF8(reason, "?")
		if status == cfn.StatusFailed && strings.TrimSpace(reason) == "" {
			return // the generic reason, checked by checkResponse
		}
		whole := *r
		whole.Reason = reason
		if body, _ := json.Marshal(&whole); len(body) <= customresource.MaxBody {
			if r.Reason != reason {
				t.Fatalf("a reason that fits was changed: %q; want %q", r.Reason, reason)
			}
		} else if kept, ok := strings.CutSuffix(r.Reason, " [...truncated]"); !ok || !strings.HasPrefix(reason, kept) {
			t.Fatalf("a truncated reason %q is not a prefix of %q with the marker", r.Reason, reason)
		}
	})
}

// checkResponse checks what every answer must be.
func checkResponse(t *testing.T, ev *cfn.Event, r *cfn.Response) {
	t.Helper()
	if r.RequestID != ev.RequestID || r.StackID != ev.StackID || r.LogicalResourceID != ev.LogicalResourceID {
		t.Fatalf("response %+v does not echo the request's ids", r)
	}
	if r.PhysicalResourceID == "" || (r.Status != cfn.StatusSuccess && r.Status != cfn.StatusFailed) {
		t.Fatalf("response %+v: no PhysicalResourceId, or a status that is neither SUCCESS nor FAILED", r)
	}
	if r.Status == cfn.StatusFailed && strings.TrimSpace(r.Reason) == "" {
		t.Fatalf("a FAILED response without a reason: %+v", r)
	}
	if !utf8.ValidString(r.Reason) {
		t.Fatalf("reason %q is not valid UTF-8", r.Reason)
	}
	if body, err := json.Marshal(r); err != nil || len(body) > customresource.MaxBody {
		t.Fatalf("response body of %d bytes (%v); CloudFormation takes at most %d", len(body), err, customresource.MaxBody)
	}
}

// fits reports whether a FAILED answer to ev with the shortest reason fits CloudFormation's body:
// the request's ids are echoed whole, so very long ones cannot.
func fits(ev cfn.Event) bool {
	r := cfn.NewResponse(&ev)
	r.Status, r.PhysicalResourceID, r.Reason = cfn.StatusFailed, customresource.PhysicalID(&ev, ""), " [...truncated]"
	body, _ := json.Marshal(r)
	return len(body) <= customresource.MaxBody
}

// sameEvent is ev as it reads back from JSON: an empty OldResourceProperties is left out
// (omitempty), which reads the same as none.
func sameEvent(ev cfn.Event) cfn.Event {
	if len(ev.OldResourceProperties) == 0 {
		ev.OldResourceProperties = nil
	}
	return ev
}
