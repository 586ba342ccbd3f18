package core

import (
	"context"
	"net/http"
)

// RESTService is a service whose operations are told apart by method and path, as in Lambda's
// REST-JSON API (POST /2015-03-31/functions/{name}/invocations) or an S3 pre-signed URL. The server
// asks each registered RESTService in turn whether a request is its own.
type RESTService interface {
	// ServiceID is the id used for AWS_ENDPOINT_URL_<SERVICE>, fault rules and records ("lambda").
	ServiceID() string
	// MatchREST returns the operation name for a request this service answers, or "" when the
	// request is not this service's.
	MatchREST(r *http.Request) string
	// RESTOperations lists every operation name MatchREST can return, so that what the service
	// serves can be listed (the IAM table in pkg/sandbox/authz must cover each one).
	RESTOperations() []string
	// ServeREST answers one operation; body is the whole request body. An *Error is written in the
	// REST-JSON error form (X-Amzn-ErrorType header and {"Type","message"} body); any other error
	// becomes a 500.
	ServeREST(ctx context.Context, op string, r *http.Request, body []byte) (*RESTResponse, error)
}

// RESTResponse is a REST operation's answer as it goes on the wire.
type RESTResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// FaultCodes is implemented by a service that names its own internal-failure exception with its
// own message (for example KMS's KMSInternalException). The server uses it for injected internal
// faults; services without it get their exception name with a generic message. Injected throttling
// always uses the protocol's throttling exception (ThrottlingException for JSON services, which is
// what CloudHSM, KMS and SSM answer: none of them models a throttling exception of its own).
type FaultCodes interface {
	InternalError() *Error
}

// RESTPathParams is implemented by a REST service whose operations name resources in the path:
// the path parameters of a request MatchREST matched, by the API model's names (Lambda's
// FunctionName), so the request can be authorized (pkg/sandbox/authz).
type RESTPathParams interface {
	PathParams(op string, r *http.Request) map[string]string
}

// RESTErrorBody is implemented by a REST service whose errors are not REST-JSON (S3's XML
// <Error>): the server writes an *Error, its own or an access denial, in the body it returns.
type RESTErrorBody interface {
	RESTError(e *Error, requestID string, r *http.Request) (contentType string, body []byte)
}
