package trailalert_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// BenchmarkAlert measures the relay's CPU work per event - parse, classify, redact, render - over
// the fixture set on one core (GOMAXPROCS=1). Target: at least 20,000 events/s. It reports
// events/s of wall time and events/cpu-s, events per second of this process's CPU time (user +
// system, GC included), which stays meaningful when other work shares the machine.
func BenchmarkAlert(b *testing.B) {
	a := trailalerttest.NewAlerter(b)
	fx := fixtures(b)
	events := make([][]byte, 0, len(fx))
	for _, raw := range fx {
		events = append(events, raw)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Alert(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/(cpuTime(b)-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime is the CPU time this process has used so far (all threads, user and system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
