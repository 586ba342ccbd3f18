package lambdaenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

func TestSandboxClockScale(t *testing.T) {
	cases := []struct {
		name, value string
		scaled      bool
	}{
		{"unset (production)", "", false},
		{"not a number", "fast", false},
		{"real time", "1", false},
		{"scale 100", "100", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(SandboxClockScaleVar, tc.value)
			cfg := sandboxConfig(aws.Config{})
			if (cfg.Retryer != nil) != tc.scaled {
				t.Fatalf("retryer set = %v; want %v", cfg.Retryer != nil, tc.scaled)
			}
			if !tc.scaled {
				return
			}
			r := cfg.Retryer()
			if r.MaxAttempts() != retry.DefaultMaxAttempts {
				t.Errorf("max attempts = %d; want the SDK default %d", r.MaxAttempts(), retry.DefaultMaxAttempts)
			}
			for attempt := 1; attempt <= 10; attempt++ {
				d, err := r.RetryDelay(attempt, errors.New("throttled"))
				if err != nil {
					t.Fatal(err)
				}
				if d < 0 || d > retry.DefaultMaxBackoff/100 {
					t.Errorf("attempt %d: delay %s; want at most %s", attempt, d, retry.DefaultMaxBackoff/100)
				}
			}
		})
	}
}

func TestCrashOnceIsInertWithoutTheVariable(t *testing.T) {
	t.Setenv(SandboxCrashOnceVar, "")
	calls := 0
	h := crashOnce(func(context.Context, int) (int, error) { calls++; return 7, nil })
	if out, err := h(context.Background(), 1); out != 7 || err != nil || calls != 1 {
		t.Fatalf("got %d, %v after %d calls; want the handler's own answer", out, err, calls)
	}
}

func TestCrashOnceLeavesFailuresAlone(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "crash")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(SandboxCrashOnceVar, marker)
	h := crashOnce(func(context.Context, int) (int, error) { return 0, errors.New("no side effect") })
	if _, err := h(context.Background(), 1); err == nil {
		t.Fatal("want the handler's error")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("a failed invocation consumed the crash marker: %v", err)
	}
}

// Under the sandbox the step's clock runs scale times faster: a pause of d has passed d on it
// when it returns. Without the variable it is the wall clock.
func TestClockFollowsTheSandboxScale(t *testing.T) {
	for _, c := range []struct {
		value string
		scale time.Duration
	}{{"", 1}, {"1000", 1000}} {
		t.Setenv(SandboxClockScaleVar, c.value)
		now, pause := Clock()
		before, wall := now(), time.Now()
		if err := pause(context.Background(), time.Second); err != nil {
			t.Fatal(err)
		}
		if got := now().Sub(before); got < time.Second {
			t.Errorf("scale %q: a 1 s pause advanced the clock by %v", c.value, got)
		}
		if c.scale == 1 && time.Since(wall) < time.Second {
			t.Errorf("without the variable a 1 s pause slept %v of wall time", time.Since(wall))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := pause(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("scale %q: pause after cancel = %v", c.value, err)
		}
	}
}
