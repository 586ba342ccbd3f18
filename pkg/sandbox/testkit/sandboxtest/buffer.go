package sandboxtest

import (
	"bytes"
	"sync"
)

// Buffer collects a function's output: the goroutines copying a process's pipes (or the
// sandbox's Lambda service) write while the test reads. Its zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it is safe to call concurrently with String.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
