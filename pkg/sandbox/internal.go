package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// internalJSON presents a JSON service to in-process callers (Step Functions' aws-sdk
// integrations) with the same faults and recording as a wire call, so a fault set on
// secretsmanager GetSecretValue also hits a state machine's aws-sdk:secretsmanager:getSecretValue
// task, as it would on AWS, and the call shows up in the records (marked Internal).
type internalJSON struct {
	core.JSONService
	s *Server
}

// Internal wraps svc for in-process callers; see internalJSON.
func (s *Server) Internal(svc core.JSONService) core.JSONService { return internalJSON{svc, s} }

// Operations implements core.JSONService.
func (w internalJSON) Operations() map[string]core.JSONOperation {
	ops := w.JSONService.Operations()
	out := make(map[string]core.JSONOperation, len(ops))
	for name, fn := range ops {
		out[name] = func(ctx context.Context, in json.RawMessage) (any, error) {
			return w.s.callInternal(ctx, w.JSONService, name, in, fn)
		}
	}
	return out
}

func (s *Server) callInternal(ctx context.Context, svc core.JSONService, op string, in json.RawMessage, fn core.JSONOperation) (any, error) {
	rec := Record{RequestID: core.NewUUID(), Service: svc.ServiceID(), Operation: op, Protocol: "internal", RequestBody: in, Internal: true}
	finish := func(out any, err error) (any, error) {
		rec.Time = s.Clock.Now()
		rec.Status = http.StatusOK
		if err != nil {
			ce := asCoreError(err)
			rec.Status, rec.ErrorCode = ce.Status, ce.Code
			rec.ResponseBody, _ = json.Marshal(map[string]string{"__type": ce.Code, "message": ce.Message})
			s.Recorder.Add(rec)
			return nil, ce
		}
		rec.ResponseBody, _ = json.Marshal(out)
		s.Recorder.Add(rec)
		return out, nil
	}
	if ferr, kind := s.injectInternal(ctx, svc, rec.Service, op, "json"); kind != "" {
		rec.Injected = kind
		if kind == string(FaultLostAnswer) {
			// Served, and its answer lost: the service's own refusal stands.
			if _, err := fn(ctx, in); err != nil {
				return finish(nil, err)
			}
			return finish(nil, ferr)
		}
		if ferr != nil {
			return finish(nil, ferr)
		}
	}
	return finish(fn(ctx, in))
}

// injectInternal applies the fault rules to an in-process call: it waits out a latency rule and
// returns an error rule's exception. kind names the rule kind that applied ("" for none).
func (s *Server) injectInternal(ctx context.Context, svc any, service, op, protocol string) (*core.Error, string) {
	kind := ""
	at := Call{Service: service, Operation: op}
	if f := s.Faults.pick(at, true); f != nil {
		kind = string(f.Kind)
		if err := s.Clock.Sleep(ctx, time.Duration(f.Latency)); err != nil {
			return asCoreError(err), kind
		}
	}
	if f := s.Faults.pick(at, false); f != nil {
		return faultError(f, svc, service, protocol), string(f.Kind)
	}
	return nil, kind
}
