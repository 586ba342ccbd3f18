package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/stepfunctions"
)

// SetActiveTracing turns X-Ray tracing on for resource: a function's name (TracingConfig Mode
// Active) or a state machine's ARN (TracingConfiguration Enabled), as deploy reads them from a
// template. Each invocation of such a function, and each execution of such a state machine once it
// ends, then sends its segment to the sandbox's X-Ray with the resource's role (traceInvocation,
// traceExecution).
func (sb *Sandbox) SetActiveTracing(resource string) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.traced == nil {
		sb.traced = map[string]bool{}
	}
	sb.traced[resource] = true
}

func (sb *Sandbox) isTraced(resource string) bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.traced[resource]
}

// traceInvocation sends the segment of one invocation of a function with active tracing, as Lambda
// does with the function's execution role (the Lambda developer guide, "Visualize Lambda function
// invocations using AWS X-Ray": the role needs xray:PutTraceSegments and xray:PutTelemetryRecords,
// which AWSXRayDaemonWriteAccess grants): the segment is named after the function, with origin
// AWS::Lambda::Function, and fault with the error's cause when the function failed.
func (sb *Sandbox) traceInvocation(inv lambda.Invocation) {
	if !sb.isTraced(inv.Function) {
		return
	}
	doc := segment(inv.Function, inv.Start, inv.End)
	doc["origin"] = "AWS::Lambda::Function"
	doc["aws"] = map[string]any{"request_id": inv.RequestID}
	if inv.Error != nil {
		doc["fault"] = true
		doc["cause"] = map[string]any{"exceptions": []any{map[string]any{"type": inv.Error.Type, "message": inv.Error.Message}}}
	}
	sb.putSegment(inv.Function, sb.Server.RoleOf(inv.Function), inv.Function, doc)
}

// traceExecution sends the segment of an execution of a state machine with tracing enabled once it
// ends, with the state machine's role, as Step Functions does (the Step Functions developer guide,
// "AWS X-Ray and Step Functions": the role needs xray:PutTraceSegments, xray:PutTelemetryRecords,
// xray:GetSamplingRules and xray:GetSamplingTargets): named after the state machine, origin
// AWS::StepFunctions::StateMachine, error for an execution that FAILED, TIMED_OUT or ABORTED.
func (sb *Sandbox) traceExecution(c stepfunctions.StatusChange) {
	machine, _ := c.Detail["stateMachineArn"].(string)
	status, _ := c.Detail["status"].(string)
	if status == "RUNNING" || !sb.isTraced(machine) {
		return
	}
	name, role, err := sb.StepFunctions.Machine(machine)
	if err != nil {
		sb.Server.log.Error("trace an execution", "stateMachine", machine, "error", err.Error())
		return
	}
	millis := func(k string) time.Time {
		n, _ := c.Detail[k].(int64)
		return time.UnixMilli(n)
	}
	exec, _ := c.Detail["name"].(string)
	doc := segment(name, millis("startDate"), millis("stopDate"))
	doc["origin"] = "AWS::StepFunctions::StateMachine"
	doc["aws"] = map[string]any{"execution_arn": c.Detail["executionArn"]}
	if status != "SUCCEEDED" {
		doc["error"] = true
	}
	sb.putSegment(machine, role, exec, doc)
}

// segment is an X-Ray segment document's required fields (the X-Ray developer guide, "AWS X-Ray
// segment documents"): a new trace id of the start time, a new segment id, start and end times.
func segment(name string, start, end time.Time) map[string]any {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return map[string]any{
		"name": name, "id": hex.EncodeToString(b[:8]),
		"trace_id":   fmt.Sprintf("1-%08x-%s", start.Unix(), hex.EncodeToString(b[8:])),
		"start_time": float64(start.UnixMicro()) / 1e6, "end_time": float64(end.UnixMicro()) / 1e6,
	}
}

// putSegment sends doc for resource (a function's name, a state machine's ARN) as a session of role
// named session: under EnforceIAM the role must be allowed xray:PutTraceSegments, judged and recorded
// as a Decision; a refused segment is dropped (the trace is lost, as on AWS). The call is recorded as
// an internal PutTraceSegments. A resource with no role is the operator's stand-in and not judged.
func (sb *Sandbox) putSegment(resource, role, session string, doc map[string]any) {
	body, _ := json.Marshal(doc)
	in := map[string]any{"TraceSegmentDocuments": []any{string(body)}}
	sb.Server.mu.RLock()
	e := sb.Server.enforcer
	sb.Server.mu.RUnlock()
	var err *core.Error
	if e != nil && role != "" {
		err = e.authorize(context.Background(), sb.Clock.Now(), role, sessionARN(sb.Account, role, session), "xray", "PutTraceSegments", authz.Request{JSON: in})
	}
	rec := Record{Time: sb.Clock.Now(), RequestID: core.NewUUID(), Service: "xray", Operation: "PutTraceSegments", Protocol: "internal",
		Path: resource, RequestBody: body, Status: http.StatusOK, Internal: true, Caller: session}
	if err == nil {
		if un := sb.XRay.Put([]string{string(body)}); len(un) > 0 {
			err = core.Errorf("InvalidRequestException", "the segment of %s was not processed: %s", resource, un[0].Message)
		}
	}
	if err != nil {
		rec.Status, rec.ErrorCode, rec.ResponseBody = err.Status, err.Code, []byte(err.Message)
		sb.Server.log.Warn("segment dropped", "resource", resource, "error", err.Error())
	}
	sb.Recorder.Add(rec)
}
