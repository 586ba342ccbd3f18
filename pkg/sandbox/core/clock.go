package core

import (
	"context"
	"sync"
	"time"
)

// Clock is the sandbox's single notion of time. Durations passed to it are sandbox durations (as
// AWS would take them); a scaled clock runs them faster in wall time.
type Clock interface {
	// Now is the current sandbox time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d of sandbox time has passed, unless stopped.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// Sleep waits d of sandbox time or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
	// Scale is how many sandbox seconds pass per wall-clock second (1 for real time).
	Scale() float64
}

// ScaledClock runs sandbox time Scale times faster than wall time, from the moment it was made.
// Order is preserved: an event due earlier in sandbox time fires earlier in wall time.
type ScaledClock struct {
	mu        sync.Mutex
	wallStart time.Time
	simStart  time.Time
	scale     float64
}

// NewScaledClock returns a clock starting at the current wall time that runs scale times as fast.
// A scale of 0 or less means real time.
func NewScaledClock(scale float64) *ScaledClock {
	if scale <= 0 {
		scale = 1
	}
	now := time.Now()
	return &ScaledClock{wallStart: now, simStart: now.UTC(), scale: scale}
}

// Now implements Clock.
func (c *ScaledClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := time.Since(c.wallStart)
	return c.simStart.Add(time.Duration(float64(elapsed) * c.scale))
}

// Scale implements Clock.
func (c *ScaledClock) Scale() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scale
}

// SetScale changes the speed from now on, keeping the current sandbox time.
func (c *ScaledClock) SetScale(scale float64) {
	if scale <= 0 {
		scale = 1
	}
	now := c.Now()
	c.mu.Lock()
	c.wallStart, c.simStart, c.scale = time.Now(), now, scale
	c.mu.Unlock()
}

// Wall converts a sandbox duration to the wall duration it takes at the current scale.
func (c *ScaledClock) Wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Scale())
}

// AfterFunc implements Clock.
func (c *ScaledClock) AfterFunc(d time.Duration, f func()) func() bool {
	t := time.AfterFunc(c.Wall(d), f)
	return t.Stop
}

// Sleep implements Clock.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(c.Wall(d))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ Clock = (*ScaledClock)(nil)
