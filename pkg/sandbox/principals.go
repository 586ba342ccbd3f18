package sandbox

import (
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"strings"
	"sync"
)

// principals maps the access key ids the sandbox issues to the Lambda function each names, so
// a call tells who made it as a call to AWS does (the SigV4 credential's access key id names the
// caller's session). Keys are derived from the function name, so a function keeps its key
// across process starts and sandboxes; nothing here is a secret: signatures are not verified.
type principals struct {
	mu    sync.RWMutex
	byKey map[string]string
}

// FunctionCredentials returns the credentials the sandbox gives function's processes (as Lambda
// gives a function its execution role's session) and remembers them, so calls signed with them
// carry function as their Caller.
func (s *Server) FunctionCredentials(function string) (keyID, secret, token string) {
	sum := sha256.Sum256([]byte("strongroom-sandbox-function:" + function))
	// ASIA marks temporary (session) credentials, as Lambda's are; 16 more characters make
	// AWS's 20-character key id shape.
	keyID = "ASIA" + base32.StdEncoding.EncodeToString(sum[:])[:16]
	s.principals.mu.Lock()
	if s.principals.byKey == nil {
		s.principals.byKey = map[string]string{}
	}
	s.principals.byKey[keyID] = function
	s.principals.mu.Unlock()
	return keyID, "sandbox-function-secret-not-a-secret", "sandbox-session-" + keyID
}

// callerOf names the Lambda function whose credentials signed r ("" for any other key: the
// test's or the CLI's static key, a pre-signed URL another service issued).
func (s *Server) callerOf(r *http.Request) string {
	key := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		if _, cred, ok := strings.Cut(auth, "Credential="); ok {
			key, _, _ = strings.Cut(cred, "/")
		}
	} else {
		key, _, _ = strings.Cut(r.URL.Query().Get("X-Amz-Credential"), "/")
	}
	if key == "" {
		return ""
	}
	s.principals.mu.RLock()
	defer s.principals.mu.RUnlock()
	return s.principals.byKey[key]
}
