package core

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestScaledClockOrderAndSpeed(t *testing.T) {
	c := NewScaledClock(6000) // 10 sandbox minutes take 100 ms
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	// start is read before the timers are set: each is due its duration after it was set, so on a
	// loaded machine a start read after setting them could lag the third timer's base.
	start := c.Now()
	for _, e := range []struct {
		name string
		d    time.Duration
	}{{"third", 10 * time.Minute}, {"first", 2 * time.Minute}, {"second", 5 * time.Minute}} {
		wg.Add(1)
		c.AfterFunc(e.d, func() {
			mu.Lock()
			order = append(order, e.name)
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if got := c.Now().Sub(start); got < 10*time.Minute {
		t.Errorf("last timer fired after %v of sandbox time, want at least 10m", got)
	}
	if len(order) != 3 || order[0] != "first" || order[1] != "second" || order[2] != "third" {
		t.Errorf("order = %v", order)
	}
}

func TestScaledClockStop(t *testing.T) {
	c := NewScaledClock(1000)
	fired := make(chan struct{}, 1)
	stop := c.AfterFunc(time.Second, func() { fired <- struct{}{} })
	if !stop() {
		t.Fatal("stop of a pending timer = false")
	}
	if stop() {
		t.Error("second stop = true")
	}
	if err := c.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fired:
		t.Error("a stopped timer fired")
	default:
	}
}

// TestSetScaleReschedules: a timer set at real time would take an hour; speeding the clock up
// makes it fire at its sandbox due time under the new speed.
func TestSetScaleReschedules(t *testing.T) {
	c := NewScaledClock(1)
	start := c.Now()
	done := make(chan time.Time, 1)
	c.AfterFunc(time.Hour, func() { done <- c.Now() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sleepDone := make(chan error, 1)
	go func() { sleepDone <- c.Sleep(ctx, 2*time.Hour) }()
	time.Sleep(10 * time.Millisecond)
	c.SetScale(360000) // an hour in 10 ms
	select {
	case at := <-done:
		if at.Sub(start) < time.Hour {
			t.Errorf("fired at +%v sandbox time, want at least 1h", at.Sub(start))
		}
	case <-ctx.Done():
		t.Fatal("the timer did not follow the new scale")
	}
	if err := <-sleepDone; err != nil {
		t.Errorf("Sleep across SetScale: %v", err)
	}
	if ctx.Err() != nil {
		t.Error("timers needed the whole timeout")
	}
}

func TestSleepCancelled(t *testing.T) {
	c := NewScaledClock(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d timers left pending after a cancelled Sleep", n)
	}
}

// TestPauseResume: while paused, sandbox time stands still and a timer set before or during the
// pause does not fire; after Resume each fires once its remaining sandbox time has passed. A timer
// due at once still fires while paused.
func TestPauseResume(t *testing.T) {
	c := NewScaledClock(6000) // 10 sandbox minutes take 100 ms
	start := c.Now()
	fired := make(chan string, 3)
	c.AfterFunc(10*time.Minute, func() { fired <- "before" })
	c.Pause()
	c.Pause() // a second Pause changes nothing
	at := c.Now()
	c.AfterFunc(5*time.Minute, func() { fired <- "during" })
	c.AfterFunc(0, func() { fired <- "due" })
	if got := <-fired; got != "due" {
		t.Fatalf("first timer to fire while paused: %s; want the one due at once", got)
	}
	time.Sleep(200 * time.Millisecond) // 20 sandbox minutes, were the clock running
	select {
	case got := <-fired:
		t.Fatalf("timer %q fired while the clock was paused", got)
	default:
	}
	if now := c.Now(); !now.Equal(at) {
		t.Fatalf("paused clock moved by %v", now.Sub(at))
	}
	c.Resume()
	c.Resume() // a second Resume changes nothing
	for _, want := range []string{"during", "before"} {
		select {
		case got := <-fired:
			if got != want {
				t.Errorf("fired %q; want %q (timers keep their sandbox order)", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("timer %q did not fire after Resume", want)
		}
	}
	// "before" was due 10 sandbox minutes after the start, and Now does not count the 20 minutes
	// the clock was paused.
	if el := c.Now().Sub(start); el < 10*time.Minute || el >= 30*time.Minute {
		t.Errorf("the first timer fired %v of sandbox time after the start; want 10m, and the pause not counted", el)
	}
}

// TestPauseStopAndSetScale: a timer stopped while paused never fires, and SetScale while paused
// keeps the clock paused.
func TestPauseStopAndSetScale(t *testing.T) {
	c := NewScaledClock(60000)
	c.Pause()
	fired := make(chan struct{}, 1)
	stop := c.AfterFunc(time.Minute, func() { fired <- struct{}{} })
	c.SetScale(120000)
	at := c.Now()
	time.Sleep(10 * time.Millisecond)
	if !c.Now().Equal(at) {
		t.Fatal("SetScale resumed a paused clock")
	}
	if !stop() {
		t.Fatal("stop of a timer set while paused = false")
	}
	c.Resume()
	if err := c.Sleep(context.Background(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fired:
		t.Error("a timer stopped while paused fired")
	default:
	}
}

// TestHoldNestsWithPause: the clock runs only when no Hold is held and it is not paused; a
// release called twice releases once.
func TestHoldNestsWithPause(t *testing.T) {
	c := NewScaledClock(60000) // a millisecond of wall time is a sandbox minute
	moving := func() bool {
		a := c.Now()
		time.Sleep(5 * time.Millisecond)
		return c.Now().After(a)
	}
	r1 := c.Hold()
	r2 := c.Hold()
	if moving() {
		t.Fatal("a held clock moved")
	}
	r1()
	r1() // released once only: r2 still holds
	if moving() {
		t.Fatal("the clock moved while a second Hold was held")
	}
	c.Pause()
	r2()
	if moving() {
		t.Fatal("the clock moved while paused, after its holds were released")
	}
	c.Resume()
	if !moving() {
		t.Fatal("the clock did not run after Resume with no holds")
	}
	fired := make(chan struct{})
	release := c.Hold()
	c.AfterFunc(time.Minute, func() { close(fired) })
	select {
	case <-fired:
		t.Fatal("a timer fired while the clock was held")
	case <-time.After(20 * time.Millisecond):
	}
	release()
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("the timer did not fire after the hold was released")
	}
}
