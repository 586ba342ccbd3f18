package lambdaenv

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Test hooks for the local sandbox (pkg/sandbox). Both are inert unless their variable is set,
// and Lambda never sets them: they exist so the unchanged production binaries can be proven
// against an emulator whose clock runs faster than wall time.
const (
	// SandboxClockScaleVar names the sandbox clock's speed (sandbox seconds per wall second).
	// When it is above 1, the SDK's retry backoff sleeps are divided by it: the SDK sleeps on the
	// wall clock, and without this a throttled call would look scale times slower to the state
	// machine than it is on AWS (its Task TimeoutSeconds run on the sandbox clock).
	SandboxClockScaleVar = "STRONGROOM_SANDBOX_CLOCK_SCALE"
	// SandboxCrashOnceVar names a marker file. After the handler has succeeded (its side effect
	// is done) and before the response is sent, the first process to delete the file exits with
	// status 1, as a Lambda environment killed at that moment would (Runtime.ExitError). Tests use
	// it to prove that every step converges when retried.
	SandboxCrashOnceVar = "STRONGROOM_SANDBOX_CRASH_ONCE_FILE"
)

// sandboxConfig applies SandboxClockScaleVar to cfg.
func sandboxConfig(cfg aws.Config) aws.Config {
	scale, err := strconv.ParseFloat(os.Getenv(SandboxClockScaleVar), 64)
	if err != nil || scale <= 1 {
		return cfg
	}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = scaledBackoff{next: retry.NewExponentialJitterBackoff(retry.DefaultMaxBackoff), scale: scale}
		})
	}
	return cfg
}

// scaledBackoff is the SDK's own backoff, run scale times faster.
type scaledBackoff struct {
	next  retry.BackoffDelayer
	scale float64
}

func (b scaledBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	d, err := b.next.BackoffDelay(attempt, err)
	return time.Duration(float64(d) / b.scale), err
}

// crashOnce wraps handle with SandboxCrashOnceVar; without the variable it returns handle itself.
func crashOnce[In, Out any](handle func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	marker := os.Getenv(SandboxCrashOnceVar)
	if marker == "" {
		return handle
	}
	return func(ctx context.Context, in In) (Out, error) {
		out, err := handle(ctx, in)
		if err == nil && os.Remove(marker) == nil {
			os.Exit(1)
		}
		return out, err
	}
}

// Clock is the clock a step's own waits run on (entry.Entry's start retries): the wall clock, or,
// when SandboxClockScaleVar is above 1, one that runs scale times faster from the cold start, so
// a wait of d sleeps d/scale and a budget counted on it lasts what it would on AWS as the state
// machine (on the sandbox clock) sees it.
func Clock() (now func() time.Time, pause func(context.Context, time.Duration) error) {
	scale, err := strconv.ParseFloat(os.Getenv(SandboxClockScaleVar), 64)
	if err != nil || scale <= 1 {
		scale = 1
	}
	start := time.Now()
	now = func() time.Time { return start.Add(time.Duration(float64(time.Since(start)) * scale)) }
	pause = func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(time.Duration(float64(d) / scale))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	return now, pause
}
