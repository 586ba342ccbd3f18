package lambda

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// eventInvokePrefix is the path of the asynchronous-invocation configuration API
// (PUT/GET /2019-09-25/functions/{FunctionName}/event-invoke-config).
const eventInvokePrefix = "/2019-09-25/functions/"

// Limits of PutFunctionEventInvokeConfig (Lambda API reference).
const (
	minEventAge = 60 * time.Second
	maxEventAge = 6 * time.Hour
)

// eventInvokeConfig serves PutFunctionEventInvokeConfig (MaximumRetryAttempts 0-2,
// MaximumEventAgeInSeconds 60-21600, on $LATEST; a DestinationConfig is refused: the sandbox has
// no destinations) and GetFunctionEventInvokeConfig (ResourceNotFoundException when none was put).
func (s *Service) eventInvokeConfig(op string, r *http.Request, body []byte) (*core.RESTResponse, error) {
	f, _, err := s.pathFunction(r)
	if err != nil {
		return nil, err
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" && q != "$LATEST" {
		return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "Function not found: %s:%s", f.arn, q)
	}
	if op == "PutFunctionEventInvokeConfig" {
		var in struct {
			MaximumRetryAttempts     *int
			MaximumEventAgeInSeconds *int
			DestinationConfig        json.RawMessage
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, core.Errorf("InvalidParameterValueException", "the request body is not an event invoke config: %v", err)
		}
		if len(in.DestinationConfig) > 0 && string(in.DestinationConfig) != "null" && string(in.DestinationConfig) != "{}" {
			return nil, core.Errorf("InvalidParameterValueException", "DestinationConfig: the sandbox has no asynchronous invocation destinations; use the function's DeadLetterConfig")
		}
		retries, age := len(AsyncRetryDelays), time.Duration(0)
		if in.MaximumRetryAttempts != nil {
			if *in.MaximumRetryAttempts < 0 || *in.MaximumRetryAttempts > len(AsyncRetryDelays) {
				return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2", *in.MaximumRetryAttempts)
			}
			retries = *in.MaximumRetryAttempts
		}
		if in.MaximumEventAgeInSeconds != nil {
			age = time.Duration(*in.MaximumEventAgeInSeconds) * time.Second
			if age < minEventAge || age > maxEventAge {
				return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600", *in.MaximumEventAgeInSeconds)
			}
		}
		s.mu.Lock()
		f.retries, f.maxAge, f.invokeConfigSet, f.invokeConfigModified = retries, age, true, s.clock.Now()
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f.invokeConfigSet {
		return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "The function %s doesn't have an EventInvokeConfig", f.arn)
	}
	out := map[string]any{"FunctionArn": f.arn + ":$LATEST", "MaximumRetryAttempts": f.retries,
		"LastModified": float64(f.invokeConfigModified.UnixMilli()) / 1000, "DestinationConfig": map[string]any{}}
	if f.maxAge > 0 {
		out["MaximumEventAgeInSeconds"] = int(f.maxAge / time.Second)
	}
	return jsonResponse(out)
}
