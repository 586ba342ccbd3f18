package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// invoker runs Task resources for pkg/sandbox/asl: Lambda functions through the sandbox's Lambda
// service and aws-sdk integrations through the service's table.
type invoker struct {
	s *Service
	// role and session are the state machine's role and the execution's name: the session the
	// tasks' calls are made with.
	role, session string
}

// authorized asks the service's Authorizer, if any, about call.
func (v *invoker) authorized(ctx context.Context, call TaskCall) *core.Error {
	v.s.mu.Lock()
	authorize := v.s.authorize
	v.s.mu.Unlock()
	if authorize == nil {
		return nil
	}
	call.RoleARN, call.Session = v.role, v.session
	return authorize(ctx, call)
}

var _ asl.Invoker = (*invoker)(nil)

func (v *invoker) Invoke(ctx context.Context, resource string, input any) (any, error) {
	payload, err := asl.Marshal(input)
	if err != nil {
		return nil, &asl.Failure{Name: asl.ErrRuntime, Cause: "the task input is not JSON: " + err.Error()}
	}
	if strings.HasPrefix(resource, "arn:") && strings.Contains(resource, ":states:::aws-sdk:") {
		return v.sdk(ctx, resource, payload)
	}
	if denied := v.authorized(ctx, TaskCall{Service: "lambda", Operation: "Invoke", FunctionName: resource}); denied != nil {
		return nil, lambdaFailure(denied)
	}
	out, err := v.s.lambda.Invoke(ctx, resource, payload)
	if err != nil {
		return nil, lambdaFailure(err)
	}
	return json.RawMessage(out), nil
}

// lambdaFailure names a failed invocation as Step Functions does: a function error by the
// function's errorType with its error payload as the cause, a service error as Lambda.<Code>.
func lambdaFailure(err error) *asl.Failure {
	var fe *core.FunctionError
	if errors.As(err, &fe) {
		cause, _ := json.Marshal(map[string]string{"errorMessage": fe.Message, "errorType": fe.Type})
		return &asl.Failure{Name: fe.Type, Cause: string(cause)}
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return &asl.Failure{Name: "Lambda." + ce.Code, Cause: ce.Message}
	}
	return &asl.Failure{Name: "Lambda.SdkClientException", Cause: err.Error()}
}

func (v *invoker) sdk(ctx context.Context, resource string, params []byte) (any, error) {
	parts := strings.Split(resource, ":")
	key := parts[len(parts)-2] + ":" + parts[len(parts)-1]
	v.s.mu.Lock()
	in, ok := v.s.integrations[key]
	v.s.mu.Unlock()
	if !ok {
		return nil, &asl.Failure{Name: asl.ErrRuntime, Cause: "the sandbox has no integration for " + resource}
	}
	if denied := v.authorized(ctx, TaskCall{Service: in.Service, Operation: in.Operation, Params: params}); denied != nil {
		return nil, &asl.Failure{Name: in.ErrorPrefix + "." + denied.Code, Cause: denied.Message}
	}
	out, err := in.Call(ctx, params)
	if err != nil {
		var ce *core.Error
		if errors.As(err, &ce) {
			return nil, &asl.Failure{Name: in.ErrorPrefix + "." + ce.Code, Cause: ce.Message}
		}
		return nil, &asl.Failure{Name: asl.ErrTaskFailed, Cause: err.Error()}
	}
	return out, nil
}
