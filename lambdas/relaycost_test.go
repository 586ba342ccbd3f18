package lambdas_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// Lambda's prices and CPU rule the relay's cost estimate uses: AWS Lambda pricing for US East
// (N. Virginia), Arm (the relay's architecture), first pricing tier, as published for
// https://aws.amazon.com/lambda/pricing/ (checked 2026-12 against copies of that table; no network
// here reaches AWS's page itself); and Lambda's rule that a function gets
// CPU in proportion to its memory, one full vCPU at 1,769 MB (AWS Lambda Developer Guide,
// "Configuring Lambda function memory").
const (
	lambdaArmUSDPerGBSecond = 0.0000133334
	lambdaUSDPerMillionReqs = 0.20
	lambdaMBPerVCPU         = 1769
	eventsPerDay            = 1_000_000
	daysPerMonth            = 30
)

// timedPublisher is the relay's SNS client for the benchmark: it answers at once and keeps how
// long the relay spent inside it, so that time can be taken out of the handler's.
type timedPublisher struct{ inside time.Duration }

func (p *timedPublisher) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	start := time.Now()
	out := &sns.PublishOutput{MessageId: aws.String("00000000-0000-0000-0000-000000000000")}
	p.inside += time.Since(start)
	return out, nil
}

// BenchmarkRelayCost measures what the alert relay costs per event on Lambda's terms, for an
// organization to size its bill from its event rate. It runs the relay's handler
// (trailalert.Relay.Handle: parse, classify, redact, render, the JSON log line) over every recorded
// CloudTrail event in pkg/trailalert/testdata/events, one at a time on one core, with an SNS
// client that answers at once (the time inside it is subtracted: the Publish round trip is not the
// relay's work). It reads the relay's memory size from the synthesized alerts stack (cdk.out) and
// scales the handler time by Lambda's CPU share at that size (lambdaMBPerVCPU / memory), taking one
// core here as one Lambda vCPU, to estimate the billed duration. It prints the median and p99
// handler time per event, here and on Lambda, the memory size, and the monthly cost at 1 M events
// a day with what it leaves out (the Publish round trip Lambda also bills, SNS's own charges).
func BenchmarkRelayCost(b *testing.B) {
	memoryMB, arch := relayMemory(b)
	alerter := trailalerttest.NewAlerter(b)
	pub := &timedPublisher{}
	relay, err := trailalert.NewRelay(alerter, pub, "arn:aws:sns:us-east-1:123456789012:alerts", slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	fx := trailalerttest.Fixtures(b, filepath.Join(repoRoot(b), "pkg/trailalert/testdata/events"))
	names := slices.Sorted(maps.Keys(fx))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx := context.Background()
	var per []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw := fx[names[i%len(names)]]
		pub.inside = 0
		start := time.Now()
		if _, err := relay.Handle(ctx, raw); err != nil {
			b.Fatalf("%s: %v", names[i%len(names)], err)
		}
		per = append(per, time.Since(start)-pub.inside)
	}
	b.StopTimer()
	slices.Sort(per)
	if b.N < len(names) { // the calibration run: too few events for percentiles worth printing
		return
	}
	p50, p99 := per[len(per)/2], per[min(len(per)-1, len(per)*99/100)]
	scale := math.Max(1, lambdaMBPerVCPU/memoryMB)
	lambdaP50, lambdaP99 := scaled(p50, scale), scaled(p99, scale)
	billedMS := math.Ceil(ms(lambdaP50)) // Lambda bills duration in 1 ms steps
	events := float64(eventsPerDay * daysPerMonth)
	// durationUSD is a month's duration charge when every invocation runs msEach.
	durationUSD := func(msEach float64) float64 {
		return events * msEach / 1000 * memoryMB / 1024 * lambdaArmUSDPerGBSecond
	}
	compute, per10ms := durationUSD(billedMS), durationUSD(10)
	requests := events / 1e6 * lambdaUSDPerMillionReqs
	b.Logf("\nrelay per event over %d handler runs (%d recorded events), SNS Publish excluded:\n"+
		"  here, one core:         median %7.3f ms   p99 %7.3f ms\n"+
		"  on Lambda (%s, %.0f MB, %.1fx less CPU than one vCPU): median %.2f ms   p99 %.2f ms\n"+
		"monthly at %d events a day (%d days): %.0f M invocations\n"+
		"  requests  $%.2f   compute $%.2f (billed %.0f ms each)   total $%.2f\n"+
		"  not included: the SNS Publish round trip Lambda also bills ($%.2f a month per 10 ms of it),\n"+
		"  SNS's own publish and e-mail charges, CloudTrail and EventBridge (prices: us-east-1 Arm, as published in 2026-12)",
		len(per), len(names), p50.Seconds()*1000, p99.Seconds()*1000,
		arch, memoryMB, scale, ms(lambdaP50), ms(lambdaP99),
		eventsPerDay, daysPerMonth, events/1e6, requests, compute, billedMS, requests+compute, per10ms)
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	b.ReportMetric(ms(lambdaP50), "lambda-p50-ms")
	b.ReportMetric(ms(lambdaP99), "lambda-p99-ms")
	b.ReportMetric(memoryMB, "memory-MB")
	b.ReportMetric(requests+compute, "usd/month@1M/day")
}

func scaled(d time.Duration, by float64) time.Duration { return time.Duration(float64(d) * by) }

// relayMemory reads the relay function's MemorySize and architecture from the synthesized alerts
// stack, found as BenchmarkColdStarts finds every function (deployedFunctions).
func relayMemory(b *testing.B) (float64, string) {
	b.Helper()
	root := repoRoot(b)
	fns, err := deployedFunctions(filepath.Join(root, "cdk.out"), filepath.Join(root, "build"), b.TempDir(), nil)
	if err != nil {
		b.Fatalf("%v (make bench runs make build and make synth first)", err)
	}
	for _, fn := range fns {
		if fn.pkg != "trailrelay" {
			continue
		}
		mem, ok := fn.props["MemorySize"].(float64)
		if !ok {
			mem = 128 // CloudFormation's default when the template leaves it out
		}
		arch := "x86_64"
		if a, ok := fn.props["Architectures"].([]any); ok && len(a) == 1 {
			arch = fmt.Sprint(a[0])
		}
		if arch != "arm64" {
			b.Fatalf("the relay deploys on %s; this estimate uses Arm prices", arch)
		}
		return mem, arch
	}
	b.Fatal("no trailrelay function in cdk.out's templates")
	return 0, ""
}

func repoRoot(b *testing.B) string {
	b.Helper()
	root, err := stacktest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	return root
}
