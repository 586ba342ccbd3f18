package lambdaruntime

import (
	"context"
	"errors"
	"sync"
)

// Function is a function with at most one execution environment, which it starts on the first
// invocation and replaces when the previous one died (a crash, a panic that exits, a timeout), as
// Lambda does. Invocations are serialised. The zero value is not usable; use NewFunction.
type Function struct {
	cfg Config

	mu     sync.Mutex
	proc   *Process
	closed bool
	starts int
}

// NewFunction returns a Function that starts processes with cfg. It starts nothing yet.
func NewFunction(cfg Config) (*Function, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return &Function{cfg: cfg}, nil
}

// Invoke runs one invocation, starting an environment first if none is alive (a cold start).
func (f *Function) Invoke(ctx context.Context, payload []byte) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return Result{}, ErrClosed
	}
	for attempt := 0; attempt < 2; attempt++ {
		if f.proc == nil || f.proc.Exited() {
			if f.proc != nil {
				f.proc.Close()
			}
			p, err := Start(ctx, f.cfg)
			if err != nil {
				f.proc = nil
				return Result{}, err
			}
			f.proc, f.starts = p, f.starts+1
		}
		res, err := f.proc.Invoke(ctx, payload)
		// The environment may die between the liveness check and the hand-off; one fresh start.
		if errors.Is(err, ErrExited) {
			continue
		}
		return res, err
	}
	return Result{}, ErrExited
}

// Starts reports how many environments the Function has started (cold starts).
func (f *Function) Starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

// Close kills the current environment; later invocations fail with ErrClosed.
func (f *Function) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.proc != nil {
		return f.proc.Close()
	}
	return nil
}
