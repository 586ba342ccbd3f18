package stacktest_test

import (
	"reflect"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// TestSampleFaults: by default a refused invocation only where the function has no named fault of
// its own, and a transient fault at the first two sites of each operation (throttling, then a
// 5xx); full gives every site every fault it wants.
func TestSampleFaults(t *testing.T) {
	site := func(fn, svc, op string) sandbox.CallSite {
		return sandbox.CallSite{Function: fn, Service: svc, Operation: op}
	}
	wants := []stacktest.SiteWant{
		{Site: site("create", "lambda", "Invoke"), Named: true, Transient: true},
		{Site: site("create", "cloudhsmv2", "CreateCluster"), Named: true, Transient: true},
		{Site: site("describe", "lambda", "Invoke"), Named: true, Transient: true},
		{Site: site("describe", "cloudhsmv2", "DescribeClusters"), Named: false, Transient: true},
		{Site: site("report", "lambda", "Invoke"), Named: true, Transient: true},
		{Site: site("report", "cloudhsmv2", "DescribeClusters"), Named: true, Transient: true},
		{Site: site("answer", "cloudhsmv2", "DescribeClusters"), Named: true, Transient: false},
	}
	f := func(s sandbox.CallSite, k sandbox.FaultKind, n int) stacktest.SiteFault {
		return stacktest.SiteFault{Site: s, Kind: k, Count: n}
	}
	want := []stacktest.SiteFault{
		f(wants[0].Site, sandbox.FaultThrottle, 2), // create's invocation: it fails on CreateCluster
		f(wants[1].Site, sandbox.FaultError, 1), f(wants[1].Site, sandbox.FaultThrottle, 2),
		f(wants[2].Site, sandbox.FaultError, 1), f(wants[2].Site, sandbox.FaultInternal, 1), // describe has no named fault of its own
		f(wants[3].Site, sandbox.FaultThrottle, 2),
		f(wants[5].Site, sandbox.FaultError, 1), f(wants[5].Site, sandbox.FaultInternal, 1),
		f(wants[6].Site, sandbox.FaultError, 1),
	}
	if got := stacktest.SampleFaults(wants, false); !reflect.DeepEqual(got, want) {
		t.Errorf("sampled:\n got %v\nwant %v", got, want)
	}
	all := 0
	for _, w := range wants {
		if w.Named {
			all++
		}
		if w.Transient {
			all += 2
		}
	}
	if got := stacktest.SampleFaults(wants, true); len(got) != all {
		t.Errorf("full: %d cases; want %d (%v)", len(got), all, got)
	}
}
