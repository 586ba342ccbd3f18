package core

import (
	"fmt"
	"net/http"
)

// Error is a service exception as AWS sends it: the shape name (Code), a message and the HTTP
// status. The server writes it in the service's wire format, so an SDK client decodes it into its
// typed error (for example *types.ResourceNotFoundException) and the CLI prints it as AWS would.
type Error struct {
	Code    string
	Message string
	Status  int
	// Fields are extra members of the exception shape, for example KMS's none or CloudHSM's none;
	// kept for services whose exceptions carry more than Message.
	Fields map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Fault reports whether the error is a server-side fault (5xx), which SDKs retry.
func (e *Error) Fault() bool { return e.Status >= 500 }

// Errorf returns a client error (HTTP 400) with the given shape name.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// StatusErrorf returns an error with an explicit HTTP status.
func StatusErrorf(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}
