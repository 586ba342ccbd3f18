package lambdaruntime

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Runtime API headers (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs  = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	HeaderErrorType   = "Lambda-Runtime-Function-Error-Type"
	// aws-lambda-go reports an error that happens while it streams a response in these trailers.
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// maxErrorBytes bounds an error document or init error read from the runtime.
const maxErrorBytes = 1 << 20

func (p *Process) routes() http.Handler {
	mux := http.NewServeMux()
	base := "/" + APIVersion + "/runtime"
	mux.HandleFunc("GET "+base+"/invocation/next", p.handleNext)
	mux.HandleFunc("POST "+base+"/invocation/{id}/response", p.handleResponse)
	mux.HandleFunc("POST "+base+"/invocation/{id}/error", p.handleError)
	mux.HandleFunc("POST "+base+"/init/error", p.handleInitError)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, "UnknownPath", "the emulator does not serve "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// handleNext long-polls until Invoke hands over an event. Its first call marks the end of init.
func (p *Process) handleNext(w http.ResponseWriter, r *http.Request) {
	p.readyOnce.Do(func() {
		p.firstNext = time.Now()
		close(p.ready)
	})
	select {
	case inv := <-p.next:
		now := time.Now()
		inv.deadline = time.UnixMilli(now.Add(inv.timeout).UnixMilli())
		p.mu.Lock()
		p.current = inv
		p.mu.Unlock()
		close(inv.handed)
		h := w.Header()
		h.Set(HeaderRequestID, inv.id)
		h.Set(HeaderDeadlineMs, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(HeaderFunctionARN, p.cfg.FunctionARN)
		h.Set(HeaderTraceID, traceID(now))
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-p.closed:
		writeStatus(w, http.StatusInternalServerError, "ServiceUnavailable", "the environment is shutting down")
	}
}

// take returns the in-flight invocation named id and marks it answered, or writes the Runtime
// API's error answer and returns nil.
func (p *Process) take(w http.ResponseWriter, id string) *invocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current != nil && p.current.id == id {
		inv := p.current
		p.current, p.answered = nil, id
		return inv
	}
	if id == p.answered {
		writeStatus(w, http.StatusForbidden, "InvalidStateTransition", "invocation "+id+" was already answered")
		return nil
	}
	writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight has request id "+id)
	return nil
}

func (p *Process) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := p.take(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "InvalidRequest", "read response body: "+err.Error())
		inv.done <- exitLike(inv.id, "could not read the function's response: "+err.Error())
		return
	}
	if len(body) > MaxResponseBytes {
		_, _ = io.Copy(io.Discard, r.Body)
		msg := "Response payload size exceeded maximum allowed payload size (" + strconv.Itoa(MaxResponseBytes) + " bytes)."
		writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
		inv.done <- functionError(ErrorTypeResponseTooLarge, msg, nil)
		return
	}
	// A streamed response that failed midway carries the error in trailers (readable after the body).
	if typ := r.Trailer.Get(trailerErrorType); typ != "" {
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody))
		inv.done <- functionError(typ, messageOf(doc), doc)
	} else {
		inv.done <- outcome{payload: body, at: time.Now()}
	}
	writeAccepted(w)
}

func (p *Process) handleError(w http.ResponseWriter, r *http.Request) {
	inv := p.take(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	doc, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	typ, msg := errorDoc(doc, r.Header.Get(HeaderErrorType))
	inv.done <- functionError(typ, msg, doc)
	writeAccepted(w)
}

func (p *Process) handleInitError(w http.ResponseWriter, r *http.Request) {
	doc, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	typ, _ := errorDoc(doc, r.Header.Get(HeaderErrorType))
	if p.isReady() {
		writeStatus(w, http.StatusForbidden, "InvalidStateTransition", "init error reported after initialization finished")
		return
	}
	p.initOnce.Do(func() {
		if !json.Valid(doc) {
			doc, _ = json.Marshal(core.FunctionError{Type: typ, Message: string(doc)})
		}
		p.initErr, p.initType = doc, typ
		close(p.initFailed)
	})
	writeAccepted(w)
}

// errorDoc reads an error document's type and message. The document's errorType is what Lambda's
// Invoke returns; the Lambda-Runtime-Function-Error-Type header is the fallback.
func errorDoc(doc []byte, header string) (typ, msg string) {
	var e struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(doc, &e) != nil {
		e.Message = string(doc)
	}
	typ = e.Type
	if typ == "" {
		typ = header
	}
	if typ == "" {
		typ = ErrorTypeUnknown
	}
	return typ, e.Message
}

// functionError builds the outcome of a failed invocation. doc is the runtime's error document,
// kept as the payload when it is JSON.
func functionError(typ, msg string, doc []byte) outcome {
	fe := &core.FunctionError{Type: typ, Message: msg}
	if !json.Valid(doc) {
		doc, _ = json.Marshal(fe)
	}
	return outcome{payload: doc, ferr: fe, at: time.Now()}
}

func exitLike(id, msg string) outcome {
	return functionError(ErrorTypeExit, "RequestId: "+id+" Error: "+msg, nil)
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// writeStatus answers with the Runtime API's ErrorResponse shape.
func writeStatus(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(core.FunctionError{Type: typ, Message: msg})
}
