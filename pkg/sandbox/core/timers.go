package core

import (
	"sync"
	"time"
)

// Timers schedules a service's delayed state changes (a cluster becoming ACTIVE, a command
// finishing, a key store connecting) on the sandbox clock. Each change runs under the service's
// own lock, and Close cancels every pending one, so nothing runs after a service is closed.
type Timers struct {
	clock  Clock
	mu     *sync.Mutex
	stops  []func() bool
	closed bool
}

// NewTimers returns timers that run their functions on clock under mu, the service's lock.
func NewTimers(clock Clock, mu *sync.Mutex) *Timers {
	return &Timers{clock: clock, mu: mu}
}

// Later runs f under the service's lock once d of sandbox time has passed, unless the service is
// closed by then. The caller holds the service's lock.
func (t *Timers) Later(d time.Duration, f func()) {
	if t.closed {
		return
	}
	t.stops = append(t.stops, t.clock.AfterFunc(d, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.closed {
			f()
		}
	}))
}

// Close cancels every pending function; later calls to Later do nothing. It takes the service's
// lock itself.
func (t *Timers) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, stop := range t.stops {
		stop()
	}
	t.stops = nil
}
