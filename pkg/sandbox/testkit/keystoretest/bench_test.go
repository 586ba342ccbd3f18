package keystoretest_test

import (
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// BenchmarkCreateThenDelete measures the wall time of a key store Create (to CONNECTED: eight
// sandbox minutes of connecting at the tests' clock scale) and of a deleting Delete, through the
// CloudFormation driver, with the real step binaries. The rig (sandbox, cluster, deployment) is
// built outside the timer.
func BenchmarkCreateThenDelete(b *testing.B) {
	var create, del time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b, keystoretest.Options{}, 2)
		props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-bench", true)
		b.StartTimer()
		start := time.Now()
		out, err := r.dep.Create(r.ctx, "KeyStore", props)
		if err != nil || out.Status != cloudformation.StatusSuccess {
			b.Fatalf("create: %v %+v", err, out)
		}
		create += time.Since(start)
		start = time.Now()
		d, err := r.dep.Delete(r.ctx, "KeyStore", out.PhysicalResourceID, props)
		if err != nil || d.Status != cloudformation.StatusSuccess {
			b.Fatalf("delete: %v %+v", err, d)
		}
		del += time.Since(start)
	}
	b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "create-ms/op")
	b.ReportMetric(float64(del.Milliseconds())/float64(b.N), "delete-ms/op")
}
