package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

const invokePrefix = "/2015-03-31/functions/"

// ServiceID implements core.RESTService.
func (s *Service) ServiceID() string { return "lambda" }

// MatchREST implements core.RESTService: POST /2015-03-31/functions/{name}/invocations is Invoke,
// GET /2015-03-31/functions/ ListFunctions, GET .../functions/{name} GetFunction and
// GET .../functions/{name}/configuration GetFunctionConfiguration.
func (s *Service) MatchREST(r *http.Request) string {
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, eventInvokePrefix); ok {
		if name, tail, _ := strings.Cut(rest, "/"); name != "" && tail == "event-invoke-config" {
			switch r.Method {
			case http.MethodPut:
				return "PutFunctionEventInvokeConfig"
			case http.MethodGet:
				return "GetFunctionEventInvokeConfig"
			}
		}
		return ""
	}
	if !strings.HasPrefix(p, invokePrefix) && p != strings.TrimSuffix(invokePrefix, "/") {
		return ""
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(invokePrefix, "/")), "/")
	name, tail, _ := strings.Cut(rest, "/")
	switch {
	case r.Method == http.MethodPost && name != "" && tail == "invocations":
		return "Invoke"
	case r.Method == http.MethodPost && name != "" && tail == "policy":
		return "AddPermission"
	case r.Method == http.MethodGet && name != "" && tail == "policy":
		return "GetPolicy"
	case r.Method == http.MethodDelete && name != "" && strings.HasPrefix(tail, "policy/") && len(tail) > len("policy/"):
		return "RemovePermission"
	case r.Method == http.MethodGet && name == "":
		return "ListFunctions"
	case r.Method == http.MethodGet && tail == "":
		return "GetFunction"
	case r.Method == http.MethodGet && tail == "configuration":
		return "GetFunctionConfiguration"
	}
	return ""
}

// RESTOperations implements core.RESTService: the operations MatchREST returns.
func (s *Service) RESTOperations() []string {
	return []string{"Invoke", "ListFunctions", "GetFunction", "GetFunctionConfiguration", "AddPermission", "GetPolicy", "RemovePermission",
		"PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig"}
}

// ServeREST implements core.RESTService.
func (s *Service) ServeREST(ctx context.Context, op string, r *http.Request, body []byte) (*core.RESTResponse, error) {
	switch op {
	case "ListFunctions":
		return s.listFunctions()
	case "PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig":
		return s.eventInvokeConfig(op, r, body)
	case "AddPermission", "GetPolicy", "RemovePermission":
		f, tail, err := s.pathFunction(r)
		if err != nil {
			return nil, err
		}
		switch op {
		case "AddPermission":
			return s.addPermission(f, body)
		case "GetPolicy":
			return s.getPolicy(f)
		}
		sid, _ := url.PathUnescape(strings.TrimPrefix(tail, "policy/"))
		return s.removePermission(f, sid)
	case "GetFunction", "GetFunctionConfiguration":
		f, _, err := s.pathFunction(r)
		if err != nil {
			return nil, err
		}
		cfg := s.configuration(f)
		if op == "GetFunction" {
			return jsonResponse(map[string]any{"Configuration": cfg, "Code": map[string]string{"RepositoryType": "S3", "Location": "https://awslambda-" + s.region + "-tasks.s3." + s.region + ".amazonaws.com/snapshots/" + s.account + "/" + f.name}})
		}
		return jsonResponse(cfg)
	}
	seg := strings.TrimSuffix(strings.TrimPrefix(r.URL.EscapedPath(), invokePrefix), "/invocations")
	name, err := unescapeName(seg)
	if err != nil || name == "" || strings.Contains(name, "/") {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint", seg)
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" && q != "$LATEST" {
		return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "Function not found: %s:%s", s.ARN(name), q)
	}
	f, cerr := s.resolve(name)
	if cerr != nil {
		return nil, cerr
	}
	invType := r.Header.Get("X-Amz-Invocation-Type")
	if invType == "" {
		invType = "RequestResponse"
	}
	limit := MaxSyncPayload
	if invType == "Event" {
		limit = MaxAsyncPayload
	}
	if len(body) > limit {
		return nil, core.StatusErrorf(http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than %d bytes for the Invoke operation", limit)
	}
	if len(body) > 0 && !json.Valid(body) {
		return nil, core.Errorf("InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json")
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	hdr := http.Header{}
	hdr.Set("X-Amz-Executed-Version", "$LATEST")
	switch invType {
	case "DryRun":
		return &core.RESTResponse{Status: http.StatusNoContent, Header: hdr}, nil
	case "Event":
		if err := s.InvokeAsync(ctx, f.name, body); err != nil {
			return nil, err
		}
		return &core.RESTResponse{Status: http.StatusAccepted, Header: http.Header{}}, nil
	case "RequestResponse":
	default:
		return nil, core.Errorf("InvalidParameterValueException", "Unsupported invocation type %s: use RequestResponse, Event or DryRun", invType)
	}
	inv, err := s.runVia(ctx, f, body, false, 1, true)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, core.StatusErrorf(http.StatusInternalServerError, "ServiceException", "invocation canceled by the caller")
		}
		return nil, core.StatusErrorf(http.StatusBadGateway, "ServiceException", "%v", err)
	}
	hdr.Set("Content-Type", "application/json")
	if inv.Error != nil {
		hdr.Set("X-Amz-Function-Error", "Unhandled")
	}
	return &core.RESTResponse{Status: http.StatusOK, Header: hdr, Body: inv.Response}, nil
}

// configuration is a function's FunctionConfiguration as Lambda reports it for a provided.al2023
// Go function on arm64 (what `make build` produces).
func (s *Service) configuration(f *function) map[string]any {
	timeout := f.timeout
	if timeout == 0 {
		// An in-process handler without WithTimeout runs unbounded; Lambda's maximum says so best.
		timeout = 15 * time.Minute
		if _, ok := f.runner.(*binary); ok {
			timeout = DefaultBinaryTimeout
		}
	}
	cfg := map[string]any{
		"FunctionName": f.name, "FunctionArn": f.arn, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"Role": "arn:aws:iam::" + s.account + ":role/sandbox-lambda", "CodeSize": 0, "Description": "",
		"Timeout": int(timeout / time.Second), "MemorySize": 128, "Version": "$LATEST",
		"LastModified": "2026-01-01T00:00:00.000+0000", "State": "Active", "LastUpdateStatus": "Successful",
		"PackageType": "Zip", "Architectures": []string{"arm64"},
	}
	if len(f.env) > 0 {
		cfg["Environment"] = map[string]any{"Variables": f.env}
	}
	return cfg
}

func (s *Service) listFunctions() (*core.RESTResponse, error) {
	var cfgs []map[string]any
	for _, name := range s.Functions() {
		s.mu.Lock()
		f := s.functions[name]
		s.mu.Unlock()
		if f != nil {
			cfgs = append(cfgs, s.configuration(f))
		}
	}
	if cfgs == nil {
		cfgs = []map[string]any{}
	}
	return jsonResponse(map[string]any{"Functions": cfgs})
}

func jsonResponse(v any) (*core.RESTResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &core.RESTResponse{Status: http.StatusOK, Header: h, Body: b}, nil
}

// PathParams implements core.RESTPathParams: FunctionName, for every operation but ListFunctions.
func (s *Service) PathParams(op string, r *http.Request) map[string]string {
	if op == "ListFunctions" {
		return nil
	}
	seg, _ := splitFunctionPath(r)
	if n, err := unescapeName(seg); err == nil {
		seg = n
	}
	return map[string]string{"FunctionName": seg}
}

// splitFunctionPath splits /2015-03-31/functions/<FunctionName>[/<tail>] (or the
// event-invoke-config API's /2019-09-25/functions/...) into the escaped name segment and the rest.
func splitFunctionPath(r *http.Request) (seg, tail string) {
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, eventInvokePrefix); ok {
		seg, tail, _ = strings.Cut(rest, "/")
		return seg, tail
	}
	seg, tail, _ = strings.Cut(strings.TrimPrefix(p, invokePrefix), "/")
	return seg, tail
}

// pathFunction is the function the path names, and the path after its name.
func (s *Service) pathFunction(r *http.Request) (*function, string, error) {
	seg, tail := splitFunctionPath(r)
	name, err := unescapeName(seg)
	if err != nil {
		return nil, "", core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint", seg)
	}
	f, cerr := s.resolve(name)
	if cerr != nil {
		return nil, "", cerr
	}
	return f, tail, nil
}
