package sandbox

import (
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"strings"
	"sync"
)

// principals maps the access key ids the sandbox issues to the principal each names (a Lambda
// function, the client instance's role session), so a call tells who made it as a call to AWS does
// (the SigV4 credential's access key id names the caller's session). Keys are derived from the
// principal's name, so it keeps its key across process starts and sandboxes; nothing here is a
// secret: signatures are not verified.
type principals struct {
	mu    sync.RWMutex
	byKey map[string]string
	// roles are the roles principals' sessions are of (BindRole).
	roles map[string]string
}

// InstancePrincipal is the principal name of the client instance id's role session, as its calls
// carry it in Call.Caller and Record.Caller.
func InstancePrincipal(id string) string { return instancePrefix + id }

// IsInstancePrincipal reports whether principal names a client instance (InstancePrincipal).
func IsInstancePrincipal(principal string) bool { return strings.HasPrefix(principal, instancePrefix) }

const instancePrefix = "instance/"

// Credentials returns session credentials that name principal and remembers them, so calls signed
// with them carry principal as their Caller: a function's name for its processes (as Lambda gives
// a function its execution role's session), InstancePrincipal's for a client instance.
func (s *Server) Credentials(principal string) (keyID, secret, token string) {
	sum := sha256.Sum256([]byte("strongroom-sandbox-principal:" + principal))
	// ASIA marks temporary (session) credentials, as Lambda's and an instance profile's are; 16
	// more characters make AWS's 20-character key id shape.
	keyID = "ASIA" + base32.StdEncoding.EncodeToString(sum[:])[:16]
	s.principals.mu.Lock()
	if s.principals.byKey == nil {
		s.principals.byKey = map[string]string{}
	}
	s.principals.byKey[keyID] = principal
	s.principals.mu.Unlock()
	return keyID, "sandbox-session-secret-not-a-secret", "sandbox-session-" + keyID
}

// callerOf names the principal whose sandbox-issued credentials signed r ("" for any other key:
// the test's or the CLI's static key, a pre-signed URL another service issued, or none).
func (s *Server) callerOf(r *http.Request) string {
	key, _, err := credential(r)
	if err != nil {
		return ""
	}
	s.principals.mu.RLock()
	defer s.principals.mu.RUnlock()
	return s.principals.byKey[key]
}

// sessionOf returns the role principal's calls are made with (BindRole) and the ARN of its
// session (a function's name, or a client instance's id, as the session name), or "" and "" for a
// principal bound to no role (the operator).
func (s *Server) sessionOf(principal string) (roleARN, session string) {
	roleARN = s.RoleOf(principal)
	if roleARN == "" {
		return "", ""
	}
	return roleARN, sessionARN(s.Account, roleARN, strings.TrimPrefix(principal, instancePrefix))
}

// requesterARN names the principal that signed r as AWS logs it (an S3 access log's requester):
// a bound role's session ARN, else the account's root (the operator's static key).
func (s *Server) requesterARN(r *http.Request) string {
	if _, session := s.sessionOf(s.callerOf(r)); session != "" {
		return session
	}
	return "arn:aws:iam::" + s.Account + ":root"
}
