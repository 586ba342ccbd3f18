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
// Order is preserved: an event due earlier in sandbox time fires earlier in wall time, also across
// SetScale, which reschedules every pending AfterFunc and Sleep for its remaining sandbox time, and
// across Pause and Resume.
type ScaledClock struct {
	mu        sync.Mutex
	wallStart time.Time
	simStart  time.Time // while paused, the sandbox time it stopped at
	scale     float64
	paused    bool // Pause was called, or holds > 0
	stopped   bool // Pause was called and not yet Resumed
	holds     int  // Hold calls not yet released
	pending   map[*pendingTimer]struct{}
}

// pendingTimer is an AfterFunc not yet fired or stopped.
type pendingTimer struct {
	due   time.Time // sandbox time
	f     func()
	timer *time.Timer // nil while the clock is paused and it is not yet due
}

// NewScaledClock returns a clock starting at the current wall time that runs scale times as fast.
// A scale of 0 or less means real time.
func NewScaledClock(scale float64) *ScaledClock {
	if scale <= 0 {
		scale = 1
	}
	now := time.Now()
	return &ScaledClock{wallStart: now, simStart: now.UTC(), scale: scale, pending: map[*pendingTimer]struct{}{}}
}

// Now implements Clock.
func (c *ScaledClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *ScaledClock) nowLocked() time.Time {
	if c.paused {
		return c.simStart
	}
	elapsed := time.Since(c.wallStart)
	return c.simStart.Add(time.Duration(float64(elapsed) * c.scale))
}

// Scale implements Clock.
func (c *ScaledClock) Scale() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scale
}

// SetScale changes the speed from now on, keeping the current sandbox time; pending timers fire at
// their sandbox due time under the new speed.
func (c *ScaledClock) SetScale(scale float64) {
	if scale <= 0 {
		scale = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowLocked()
	c.wallStart, c.simStart, c.scale = time.Now(), now, scale
	if c.paused {
		return // Resume arms the timers
	}
	for p := range c.pending {
		if p.timer.Stop() {
			p.timer = time.AfterFunc(c.wallLocked(p.due.Sub(now)), c.fire(p))
		}
	}
}

// Pause stops sandbox time until Resume: Now stays put and nothing scheduled with AfterFunc or
// Sleep comes due, so work outside the emulated services (building binaries, say) takes no sandbox
// time. An AfterFunc already due, or set while paused for a duration of zero or less, still fires.
// Pausing a paused clock does nothing; a clock also held (Hold) stays stopped until released.
func (c *ScaledClock) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.settleLocked()
}

// Resume restarts a paused clock from the sandbox time it stopped at; each pending AfterFunc and
// Sleep fires when its remaining sandbox time has passed. Resuming a running clock does nothing.
// A held clock restarts only when its last Hold is released.
func (c *ScaledClock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = false
	c.settleLocked()
}

// Hold stops sandbox time, as Pause does, until release is called. Holds nest with each other and
// with Pause: the clock runs again only when nothing holds or pauses it. The emulated client
// instance holds the clock while a shell script runs, so the wall time of a real process (bash,
// the AWS CLI) is not multiplied by the clock's scale into minutes of sandbox time. Calling
// release more than once releases once.
func (c *ScaledClock) Hold() (release func()) {
	c.mu.Lock()
	c.holds++
	c.settleLocked()
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.holds--
			c.settleLocked()
		})
	}
}

// settleLocked stops or restarts time to match Pause/Resume and the holds. Caller holds c.mu.
func (c *ScaledClock) settleLocked() {
	want := c.stopped || c.holds > 0
	switch {
	case want && !c.paused:
		c.simStart, c.paused = c.nowLocked(), true
		for p := range c.pending {
			// A timer that cannot be stopped is firing: fire drops p from pending, so it stays as it is.
			if p.timer != nil && p.timer.Stop() {
				p.timer = nil
			}
		}
	case !want && c.paused:
		c.wallStart, c.paused = time.Now(), false
		for p := range c.pending {
			if p.timer == nil {
				p.timer = time.AfterFunc(c.wallLocked(p.due.Sub(c.simStart)), c.fire(p))
			}
		}
	}
}

// Wall converts a sandbox duration to the wall duration it takes at the current scale.
func (c *ScaledClock) Wall(d time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wallLocked(d)
}

func (c *ScaledClock) wallLocked(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) / c.scale)
}

// fire returns the wall timer's function for p: forget p, then run it.
func (c *ScaledClock) fire(p *pendingTimer) func() {
	return func() {
		c.mu.Lock()
		_, live := c.pending[p]
		delete(c.pending, p)
		c.mu.Unlock()
		if live {
			p.f()
		}
	}
}

// AfterFunc implements Clock.
func (c *ScaledClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := &pendingTimer{due: c.nowLocked().Add(d), f: f}
	c.pending[p] = struct{}{}
	if !c.paused || d <= 0 {
		p.timer = time.AfterFunc(c.wallLocked(d), c.fire(p))
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, live := c.pending[p]; !live {
			return false
		}
		delete(c.pending, p)
		if p.timer != nil {
			p.timer.Stop()
		}
		return true
	}
}

// Sleep implements Clock.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	done := make(chan struct{})
	stop := c.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		stop()
		return ctx.Err()
	}
}

var _ Clock = (*ScaledClock)(nil)
