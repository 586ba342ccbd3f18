package lambda_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
)

// RESTOperations lists exactly the operations MatchREST routes to, so Server.ServedOperations (and
// the IAM table that must cover it, pkg/sandbox/authz) sees every Lambda operation served.
func TestRESTOperationsAreWhatMatchRESTRoutes(t *testing.T) {
	s := sblambda.New(sblambda.Config{})
	var routed []string
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/2015-03-31/functions/rotate/invocations"},
		{http.MethodGet, "/2015-03-31/functions/"},
		{http.MethodGet, "/2015-03-31/functions"},
		{http.MethodGet, "/2015-03-31/functions/rotate"},
		{http.MethodGet, "/2015-03-31/functions/rotate/configuration"},
		{http.MethodPost, "/2015-03-31/functions/rotate/policy"},
		{http.MethodGet, "/2015-03-31/functions/rotate/policy"},
		{http.MethodDelete, "/2015-03-31/functions/rotate/policy/events"},
		{http.MethodPut, "/2019-09-25/functions/rotate/event-invoke-config"},
		{http.MethodGet, "/2019-09-25/functions/rotate/event-invoke-config"},
	} {
		op := s.MatchREST(httptest.NewRequest(r.method, r.path, nil))
		if op == "" {
			t.Errorf("%s %s is not routed", r.method, r.path)
			continue
		}
		if !slices.Contains(s.RESTOperations(), op) {
			t.Errorf("%s %s routes to %s, which RESTOperations %v does not list", r.method, r.path, op, s.RESTOperations())
		}
		routed = append(routed, op)
	}
	for _, op := range s.RESTOperations() {
		if !slices.Contains(routed, op) {
			t.Errorf("RESTOperations lists %s, which no request routes to", op)
		}
	}
}
