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
	start := c.Now()
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
