package cloudformation

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// responsePathPrefix starts every ResponseURL path, like CloudFormation's regional response bucket
// (cloudformation-custom-resource-response-<region without dashes>).
const responsePathPrefix = "/cloudformation-custom-resource-response-"

var _ core.RESTService = (*Driver)(nil)

// ServiceID implements core.RESTService: answers are PUTs to S3 pre-signed URLs.
func (d *Driver) ServiceID() string { return "s3" }

// MatchREST implements core.RESTService.
func (d *Driver) MatchREST(r *http.Request) string {
	if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, responsePathPrefix) {
		return "PutObject"
	}
	return ""
}

// RESTOperations implements core.RESTService: MatchREST returns only PutObject.
func (d *Driver) RESTOperations() []string { return []string{"PutObject"} }

// ServeREST implements core.RESTService: it stores the answer as S3 would (200 and an ETag) and
// answers S3-style XML errors for a wrong signature or an expired URL.
func (d *Driver) ServeREST(_ context.Context, _ string, r *http.Request, body []byte) (*core.RESTResponse, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), responsePathPrefix)
	_, escKey, _ := strings.Cut(rest, "/")
	key, err := url.PathUnescape(escKey)
	if err != nil {
		return s3Error(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."), nil
	}
	d.mu.Lock()
	req, ok := d.pending[key]
	d.mu.Unlock()
	sig := r.URL.Query().Get("X-Amz-Signature")
	if !ok || subtle.ConstantTimeCompare([]byte(sig), []byte(req.token)) != 1 {
		return s3Error(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."), nil
	}
	now := d.clock.Now()
	if now.Sub(req.issued) > responseURLExpiry {
		return s3Error(http.StatusForbidden, "AccessDenied", "Request has expired"), nil
	}
	resp, problems := judge(req.event, body)
	d.mu.Lock()
	req.answers = append(req.answers, Answer{Body: body, Response: resp, Problems: problems, At: now})
	d.mu.Unlock()
	req.firstOnce.Do(func() { close(req.first) })
	h := http.Header{}
	h.Set("ETag", fmt.Sprintf("%q", core.RandomHex(32)))
	return &core.RESTResponse{Status: http.StatusOK, Header: h}, nil
}

func s3Error(status int, code, msg string) *core.RESTResponse {
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, code, msg, strings.ToUpper(core.RandomHex(16)))
	return &core.RESTResponse{Status: status, Header: h, Body: []byte(body)}
}
