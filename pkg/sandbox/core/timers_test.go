package core_test

import (
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

func TestTimersRunUnderLockAndStopAtClose(t *testing.T) {
	var mu sync.Mutex
	clock := core.NewScaledClock(1000)
	timers := core.NewTimers(clock, &mu)
	ran := make(chan bool, 2)
	mu.Lock()
	timers.Later(time.Second, func() { ran <- mu.TryLock() }) // TryLock fails: f runs under mu
	timers.Later(time.Hour, func() { ran <- true })           // cancelled by Close below
	mu.Unlock()
	select {
	case locked := <-ran:
		if locked {
			t.Fatal("the function ran without the service's lock held")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the 1 s (sandbox) function never ran")
	}
	timers.Close()
	mu.Lock()
	timers.Later(time.Millisecond, func() { ran <- true }) // after Close: never runs
	mu.Unlock()
	clock.SetScale(1e6) // the hour-long one would now be due within milliseconds
	select {
	case <-ran:
		t.Fatal("a function ran after Close")
	case <-time.After(200 * time.Millisecond):
	}
}
