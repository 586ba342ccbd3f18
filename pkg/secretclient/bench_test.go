package secretclient_test

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/rotationtest"
	"github.com/strongroom/strongroom/pkg/secretclient"
)

const (
	benchClients   = 16
	benchRotations = 20
	// benchIdle is how long the clients run with no rotation, for the baseline p99.
	benchIdle = time.Second
)

// BenchmarkQueriesDuringRotation: 16 independent clients (each its own secretclient cache and
// pool, opening a new connection for every query: the worst case, since only a new login can
// meet changed credentials) query a real MariaDB through secretclient, first with no rotation,
// then while 20 rotations run back to back through the sandbox's Secrets Manager and the real
// rotation function. Reported per strategy, per 20-rotation run:
//
//	failed-ops        queries that returned an error while rotating (target 0 for alternating users)
//	p99-idle-us       p99 query latency with no rotation
//	p99-rotating-us   p99 query latency during the rotations
//	p99-ratio         p99-rotating / p99-idle
//	ops-rotating      queries completed during the rotations
//	refusals          logins the database refused (each then recovered or failed)
func BenchmarkQueriesDuringRotation(b *testing.B) {
	for _, strategy := range []rotation.Strategy{rotation.StrategySingleUser, rotation.StrategyAlternating} {
		b.Run(string(strategy), func(b *testing.B) {
			env := rotationtest.New(b, db, rotation.Config{})
			master := ""
			if strategy == rotation.StrategyAlternating {
				_, master = env.NewAdmin(b)
			}
			u := env.NewUser(b)
			arn := env.CreateSecret(b, u.Secret(db, master))
			tl := testTLS(b)

			var failed, ops, refusals int
			var idle, rotating []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				caches := make([]*secretclient.Cache, benchClients)
				pools := make([]*sql.DB, benchClients)
				for c := range pools {
					caches[c] = secretclient.New(env.Client, secretclient.Options{})
					pools[c] = secretclient.OpenDB(caches[c], arn, tl)
					pools[c].SetMaxIdleConns(0)
				}
				// Baseline: no rotation.
				lat, fails := runClients(pools, func(stop chan<- struct{}) { time.Sleep(benchIdle); close(stop) })
				if fails > 0 {
					b.Fatalf("%d queries failed with no rotation", fails)
				}
				idle = append(idle, lat...)
				// Rotations back to back.
				var rotErr error
				lat, fails = runClients(pools, func(stop chan<- struct{}) {
					defer close(stop)
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					for r := 0; r < benchRotations && rotErr == nil; r++ {
						rotErr = env.Rotate(ctx, arn)
					}
				})
				if rotErr != nil {
					b.Fatal(rotErr)
				}
				rotating = append(rotating, lat...)
				failed += fails
				ops += len(lat)
				for c := range pools {
					refusals += caches[c].Stats(arn).Refusals
					pools[c].Close()
				}
			}
			b.StopTimer()
			if failed > 0 {
				b.Logf("%s: %d failed queries; one of them: %s", strategy, failed, lastFailure)
			}
			p99Idle, p99Rot := p99(idle), p99(rotating)
			n := float64(b.N)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(failed)/n, "failed-ops")
			b.ReportMetric(float64(p99Idle.Microseconds()), "p99-idle-us")
			b.ReportMetric(float64(p99Rot.Microseconds()), "p99-rotating-us")
			b.ReportMetric(float64(p99Rot)/float64(p99Idle), "p99-ratio")
			b.ReportMetric(float64(ops)/n, "ops-rotating")
			b.ReportMetric(float64(refusals)/n, "refusals")
		})
	}
}

// runClients runs one query loop per pool until phase closes stop, and returns the latencies of
// the queries that succeeded and the number that failed.
func runClients(pools []*sql.DB, phase func(stop chan<- struct{})) ([]time.Duration, int) {
	stop := make(chan struct{})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lat   []time.Duration
		fails atomic.Int64
		first atomic.Value
	)
	for _, pool := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				var v string
				err := pool.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v)
				cancel()
				if err != nil || v != "one" {
					fails.Add(1)
					if err != nil {
						first.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				mine = append(mine, time.Since(start))
			}
		}()
	}
	phase(stop)
	wg.Wait()
	if f := first.Load(); f != nil {
		lastFailure = f.(string)
	}
	return lat, int(fails.Load())
}

// lastFailure is the first error of the last phase that had failures, for the benchmark's log.
var lastFailure string

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)*99)/100]
}
