package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/xray"
)

// TestEnforceIAMTracing: a function with active tracing sends each invocation's segment to X-Ray
// with its execution role (named after the function, fault when it failed), and a state machine
// with tracing enabled each execution's with its role (error when it failed); a role without
// xray:PutTraceSegments has its segment dropped, with a denied Decision of its session.
func TestEnforceIAMTracing(t *testing.T) {
	ctx := sandboxtest.Context(t, 20*time.Second)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	ic, lc, sc := iam.NewFromConfig(op), awslambda.NewFromConfig(op), sfn.NewFromConfig(op)
	xrayGrant := []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
	// waitFor polls until what the hooks report (they run after the call returns) satisfies ok.
	waitFor := func(t *testing.T, what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-ctx.Done():
				t.Fatalf("no %s: %v; x-ray calls: %+v", what, ctx.Err(), env.Recorder.Records("xray", ""))
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	segmentOf := func(name string) (xray.Segment, bool) {
		i := slices.IndexFunc(env.XRay.Segments(), func(s xray.Segment) bool { return s.Name == name })
		if i < 0 {
			return xray.Segment{}, false
		}
		return env.XRay.Segments()[i], true
	}
	deniedTo := func(session string) (sandbox.Decision, bool) {
		for _, d := range env.Decisions() {
			if !d.Allowed && d.Action == "xray:PutTraceSegments" && strings.HasSuffix(d.Session, session) {
				return d, true
			}
		}
		return sandbox.Decision{}, false
	}

	for _, granted := range []bool{true, false} {
		t.Run(fmt.Sprintf("function granted %v", granted), func(t *testing.T) {
			fn := fmt.Sprintf("traced-%v", granted)
			actions := []string{"sqs:ListQueues"}
			if granted {
				actions = xrayGrant
			}
			env.BindRole(fn, grantRole(ctx, t, ic, fn+"-role", actions...))
			if _, err := env.Lambda.RegisterHandler(fn, func(context.Context, []byte) ([]byte, error) {
				return nil, errors.New("the database refused the connection")
			}); err != nil {
				t.Fatal(err)
			}
			env.SetActiveTracing(fn)
			if _, err := lc.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			if !granted {
				waitFor(t, "denied decision", func() bool { _, ok := deniedTo(fn + "-role/" + fn); return ok })
				if _, ok := segmentOf(fn); ok {
					t.Errorf("a segment of %s arrived without the grant", fn)
				}
				return
			}
			waitFor(t, "segment", func() bool { _, ok := segmentOf(fn); return ok })
			seg, _ := segmentOf(fn)
			var doc map[string]any
			_ = json.Unmarshal([]byte(seg.Document), &doc)
			if !seg.Fault || doc["origin"] != "AWS::Lambda::Function" || seg.End < seg.Start || !strings.Contains(seg.Document, "the database refused the connection") {
				t.Errorf("segment %+v, want the function's, fault with its error", seg)
			}
		})
	}

	for _, granted := range []bool{true, false} {
		t.Run(fmt.Sprintf("state machine granted %v", granted), func(t *testing.T) {
			name := fmt.Sprintf("workflow-%v", granted)
			actions := []string{"sqs:ListQueues"}
			if granted {
				actions = xrayGrant
			}
			role := grantRole(ctx, t, ic, name+"-role", actions...)
			sm, err := sc.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), RoleArn: aws.String(role),
				Definition: aws.String(`{"StartAt":"Fail","States":{"Fail":{"Type":"Fail","Error":"Boom","Cause":"on purpose"}}}`)})
			if err != nil {
				t.Fatal(err)
			}
			env.SetActiveTracing(aws.ToString(sm.StateMachineArn))
			if _, err := sc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("run-" + name)}); err != nil {
				t.Fatal(err)
			}
			if !granted {
				waitFor(t, "denied decision", func() bool { _, ok := deniedTo(name + "-role/run-" + name); return ok })
				if _, ok := segmentOf(name); ok {
					t.Errorf("a segment of %s arrived without the grant", name)
				}
				return
			}
			waitFor(t, "segment", func() bool { _, ok := segmentOf(name); return ok })
			seg, _ := segmentOf(name)
			if !seg.Error || !strings.Contains(seg.Document, `"origin":"AWS::StepFunctions::StateMachine"`) || !strings.Contains(seg.Document, "execution:"+name+":run-"+name) {
				t.Errorf("segment %+v, want the state machine's, error, naming the execution", seg)
			}
		})
	}
}
