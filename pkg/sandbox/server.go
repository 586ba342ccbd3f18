package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Defaults for the identity the sandbox answers as.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
	// DefaultAddr is where `strongroom sandbox` listens.
	DefaultAddr = "127.0.0.1:4580"
	// maxBody bounds a request body (Lambda's synchronous limit plus headroom).
	maxBody = 8 << 20
)

// Options configure a Sandbox. The zero value is usable.
type Options struct {
	// Scale is how many sandbox seconds pass per wall second (0: real time).
	Scale float64
	// Region and Account are what every service answers as (defaults us-east-1, 123456789012).
	Region, Account string
	// Seed seeds the random choices of probabilistic faults, so a test run can be repeated.
	Seed uint64
	// Logger receives the server's own JSON logs (request lines at debug level). Default: discard.
	Logger *slog.Logger
}

// Server is the sandbox's HTTP front: it routes wire requests to registered services, injects
// faults and records every call. It holds no service state of its own.
type Server struct {
	Clock    *core.ScaledClock
	Faults   *Faults
	Recorder *Recorder
	Region   string
	Account  string
	log      *slog.Logger

	mu       sync.RWMutex
	json     map[string]core.JSONService // by TargetPrefix
	query    []core.QueryService
	rest     []core.RESTService
	rpc      map[string]core.RPCv2Service // by ServiceName
	url      string
	httpSrv  *http.Server
	listener net.Listener
	done     chan struct{}
	inflight atomic.Int64
	// principals are the session credentials Credentials issued.
	principals principals
	// enforcer judges role sessions' calls once EnforceIAM is on (under mu).
	enforcer *enforcer
}

// NewServer returns a server with no services registered.
func NewServer(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		Clock:    core.NewScaledClock(opts.Scale),
		Faults:   newFaults(opts.Seed),
		Recorder: NewRecorder(),
		Region:   opts.Region,
		Account:  opts.Account,
		log:      opts.Logger,
		json:     map[string]core.JSONService{},
		rpc:      map[string]core.RPCv2Service{},
	}
}

// RegisterJSON adds a JSON 1.0/1.1 service, routed by its X-Amz-Target prefix.
func (s *Server) RegisterJSON(svc core.JSONService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.json[svc.TargetPrefix()] = svc
}

// RegisterQuery adds a Query-protocol service, routed by its SigV4 signing name.
func (s *Server) RegisterQuery(svc core.QueryService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.query = append(s.query, svc)
}

// RegisterRPCv2 adds a Smithy RPC v2 CBOR service, routed by the service name in its path.
func (s *Server) RegisterRPCv2(svc core.RPCv2Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rpc[svc.ServiceName()] = svc
}

// RegisterREST adds a REST service, asked in registration order whether a request is its own.
func (s *Server) RegisterREST(svc core.RESTService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rest = append(s.rest, svc)
}

// ServiceIDs lists the registered services, sorted.
func (s *Server) ServiceIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for _, j := range s.json {
		ids = append(ids, j.ServiceID())
	}
	for _, q := range s.query {
		ids = append(ids, q.ServiceID())
	}
	for _, r := range s.rest {
		ids = append(ids, r.ServiceID())
	}
	for _, r := range s.rpc {
		ids = append(ids, r.ServiceID())
	}
	sort.Strings(ids)
	return slices.Compact(ids) // a service served over two protocols is one service
}

// ServedOperations lists, by service id (ServiceIDs), the operations each registered service
// answers: a JSON service's Operations, a Query service's QueryOperations, a REST service's
// RESTOperations, an RPC v2 service's RPCOperations (a service served over two protocols lists
// each operation once). Each list is sorted.
func (s *Server) ServedOperations() map[string][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ops := map[string][]string{}
	for _, j := range s.json {
		for op := range j.Operations() {
			ops[j.ServiceID()] = append(ops[j.ServiceID()], op)
		}
	}
	for _, q := range s.query {
		for op := range q.QueryOperations() {
			ops[q.ServiceID()] = append(ops[q.ServiceID()], op)
		}
	}
	for _, r := range s.rest {
		ops[r.ServiceID()] = append(ops[r.ServiceID()], r.RESTOperations()...)
	}
	for _, r := range s.rpc {
		for op := range r.RPCOperations() {
			ops[r.ServiceID()] = append(ops[r.ServiceID()], op)
		}
	}
	for id := range ops {
		sort.Strings(ops[id])
		ops[id] = slices.Compact(ops[id])
	}
	return ops
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves in the background until
// Close. It returns the base URL, for example http://127.0.0.1:4580.
func (s *Server) Start(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.listener = l
	s.url = "http://" + l.Addr().String()
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	srv, done := s.httpSrv, s.done
	s.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("sandbox server stopped", "error", err.Error())
		}
	}()
	return s.URL(), nil
}

// URL is the base URL once started ("" before).
func (s *Server) URL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.url
}

// Close stops the server: it stops accepting connections, waits up to 5 s for the calls in
// progress, then closes every connection. (http.Server.Shutdown is not used: it waits 5 s for any
// connection a client dialled but never used, which the SDK's and Go's transports leave behind.)
func (s *Server) Close() error {
	s.mu.Lock()
	srv, l, done := s.httpSrv, s.listener, s.done
	s.httpSrv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.SetKeepAlivesEnabled(false)
	_ = l.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	err := srv.Close()
	if errors.Is(err, net.ErrClosed) { // the listener was closed above
		err = nil
	}
	<-done
	if n := s.inflight.Load(); n > 0 {
		return errors.Join(err, fmt.Errorf("sandbox: closed with %d calls still in progress after 5s", n))
	}
	return err
}

// ServeHTTP routes one request: the admin API under /_sandbox/, REST services by path, JSON
// services by X-Amz-Target, Query services by form POST.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	caller := s.callerOf(r)
	if caller != "" {
		r = r.WithContext(core.WithCaller(r.Context(), caller))
	}
	call := &call{s: s, w: w, r: r, body: body, id: core.NewUUID(), caller: caller}
	s.mu.RLock()
	var restSvc core.RESTService
	var restOp string
	for _, svc := range s.rest {
		if op := svc.MatchREST(r); op != "" {
			restSvc, restOp = svc, op
			break
		}
	}
	s.mu.RUnlock()
	switch {
	case restSvc != nil:
		s.serveREST(call, restSvc, restOp)
	case isRPCv2(r):
		s.serveRPCv2(call)
	case r.Header.Get("X-Amz-Target") != "":
		s.serveJSON(call)
	case r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		s.serveQuery(call)
	default:
		// A REST call no service implements (for example Lambda's ListAliases) gets a REST-JSON
		// error, which SDK clients surface as an API error with this code.
		call.protocol, call.service, call.operation = "rest", "unknown", r.Method+" "+r.URL.Path
		call.writeRESTError(core.StatusErrorf(http.StatusNotFound, "UnknownOperationException", "The sandbox implements no operation at %s %s", r.Method, r.URL.Path))
	}
}

// call is one request in flight.
type call struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	body      []byte
	id        string
	service   string
	operation string
	protocol  string
	injected  string
	// lost is the exception a FaultLostAnswer rule answers with once the call is served, and
	// writeError the protocol's writer of it (set by each protocol's serve function).
	lost       *core.Error
	writeError func(*core.Error)
	// caller is the principal whose sandbox-issued credentials signed the call, if any (callerOf).
	caller string
	// queryCompatible, for a service that is (SQS), names each error's Query code.
	queryCompatible core.QueryCompatible
	// restSvc is the REST service answering, whose errors may have their own body (core.RESTErrorBody).
	restSvc core.RESTService
}

// record stores the finished call.
func (c *call) record(status int, resp []byte, code string) {
	c.s.Recorder.Add(Record{
		Time: c.s.Clock.Now(), RequestID: c.id, Service: c.service, Operation: c.operation,
		Protocol: c.protocol, Method: c.r.Method, Path: c.r.URL.Path, RequestBody: c.body,
		Status: status, ResponseBody: resp, ErrorCode: code, Injected: c.injected, Caller: c.caller,
	})
	c.s.log.Debug("sandbox call", "service", c.service, "operation", c.operation, "status", status, "error_code", code, "request_id", c.id)
}

// writeRaw records a response and sends it. Recording first means a client that has its answer
// always finds the call in the Recorder (a test counting calls right after one raced otherwise).
// A success of a call a FaultLostAnswer rule picked is replaced by the rule's exception, written
// by the protocol's writeError.
func (c *call) writeRaw(status int, contentType string, body []byte, code string) {
	if lost := c.lost; lost != nil && status < 300 && c.writeError != nil {
		// The answer that was lost takes its headers with it (a REST result's X-Amz-* headers).
		c.lost = nil
		clear(c.w.Header())
		c.writeError(lost)
		return
	}
	c.record(status, body, code)
	h := c.w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("x-amzn-RequestId", c.id)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// applyFaults runs the latency and error rules for this call. A non-nil result is the injected
// exception to answer with.
func (c *call) applyFaults(svc any) *core.Error {
	at := Call{Service: c.service, Operation: c.operation, Caller: c.caller}
	if f := c.s.Faults.pick(at, true); f != nil {
		c.injected = string(f.Kind)
		if err := c.s.Clock.Sleep(c.r.Context(), time.Duration(f.Latency)); err != nil {
			return core.StatusErrorf(http.StatusInternalServerError, "RequestCanceled", "request canceled during injected latency")
		}
	}
	if f := c.s.Faults.pick(at, false); f != nil {
		c.injected = string(f.Kind)
		if f.Kind == FaultLostAnswer {
			c.lost = faultError(f, svc, c.service, c.protocol) // served, then answered so (writeRaw)
			return nil
		}
		return faultError(f, svc, c.service, c.protocol)
	}
	return nil
}

// sigV4 matches the Authorization header of a SigV4-signed request and captures the credential's
// access key id and its scope's region and service.
var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request,\s*SignedHeaders=[^,\s]+,\s*Signature=[0-9a-f]+$`)

// signingService returns the credential scope's service, or an error when the request carries
// neither a SigV4 Authorization header nor SigV4 query parameters (a pre-signed URL). Signatures
// are not verified: the sandbox accepts any key.
func signingService(r *http.Request) (string, *core.Error) {
	_, service, err := credential(r)
	return service, err
}

// credential returns the access key id and the scope's service of the request's SigV4 credential,
// from its Authorization header or, for a pre-signed URL, its query parameters (signingService
// says when each is refused).
func credential(r *http.Request) (keyID, service string, _ *core.Error) {
	auth := r.Header.Get("Authorization")
	if q := r.URL.Query(); auth == "" && q.Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" {
		// A pre-signed request carries its credential scope in the query string.
		parts := strings.Split(q.Get("X-Amz-Credential"), "/")
		if len(parts) != 5 || parts[4] != "aws4_request" || q.Get("X-Amz-Signature") == "" {
			return "", "", core.Errorf("IncompleteSignatureException", "X-Amz-Credential must be <key>/<date>/<region>/<service>/aws4_request and X-Amz-Signature must be set.")
		}
		return parts[0], parts[3], nil
	}
	if auth == "" {
		return "", "", core.StatusErrorf(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	m := sigV4.FindStringSubmatch(auth)
	if m == nil {
		return "", "", core.Errorf("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' in AWS4-HMAC-SHA256 form.")
	}
	return m[1], m[3], nil
}

// asCoreError turns any handler error into the exception to send.
func asCoreError(err error) *core.Error {
	var ce *core.Error
	if errors.As(err, &ce) {
		if ce.Status == 0 {
			c := *ce
			c.Status = http.StatusBadRequest
			return &c
		}
		return ce
	}
	return core.StatusErrorf(http.StatusInternalServerError, "InternalFailure", "The sandbox failed to process the request: %v", err)
}
