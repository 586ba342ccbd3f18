package clustertest_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// Built once for the whole package: every function's host binary.
var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, "clustertest-bin-", "the cluster functions", clustertest.Functions(), &binaries))
}

// scale is the sandbox clock speed of these tests. A Create takes about 25 sandbox minutes (about
// 25 s of wall time at 60). It cannot be much higher: a function's own wall time counts scale
// times against its state's TimeoutSeconds (120 s of sandbox time, 2 s of wall time at 60), and
// on a loaded 2-core machine a fresh Lambda process generating the customer CA's RSA key can take
// a good part of that (at 200, 3 of 14 crash cases timed out under parallel load; at 100, 2 did
// once while other packages compiled; `make test` runs packages in parallel).
const scale = 60

type rig struct {
	env  *sandboxtest.Env
	dep  *clustertest.Deployment
	hsm  *cloudhsmv2.Client
	ctx  context.Context
	logs *sandboxtest.Buffer
}

func newRig(t *testing.T, o clustertest.Options, opts ...sandboxtest.Option) *rig {
	t.Helper()
	env := sandboxtest.New(t, append([]sandboxtest.Option{sandboxtest.Scale(scale)}, opts...)...)
	ctx := sandboxtest.Context(t, 2*time.Minute)
	logs := &sandboxtest.Buffer{}
	dep, err := clustertest.Deploy(ctx, env.Sandbox, env.AWSConfig(), binaries, io.MultiWriter(env.Recorder.Writer("function logs"), logs), o)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{env: env, dep: dep, hsm: cloudhsmv2.NewFromConfig(env.AWSConfig()), ctx: ctx, logs: logs}
	r.dep.LogOnFailure(t, env.Sandbox, logs, 40, "Create", "Update", "Delete")
	r.dep.CheckIAM(t)
	return r
}

// clusters lists every cluster the sandbox knows that is not DELETED, and every HSM in them.
func (r *rig) liveClusters(t *testing.T) []types.Cluster {
	t.Helper()
	out, err := r.hsm.DescribeClusters(r.ctx, &cloudhsmv2.DescribeClustersInput{})
	if err != nil {
		t.Fatalf("describe clusters: %v", err)
	}
	var live []types.Cluster
	for _, c := range out.Clusters {
		if c.State != types.ClusterStateDeleted {
			live = append(live, c)
		}
	}
	return live
}

func (r *rig) cluster(t *testing.T, id string) types.Cluster {
	t.Helper()
	out, err := r.hsm.DescribeClusters(r.ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		t.Fatalf("describe cluster %s: %v", id, err)
	}
	if len(out.Clusters) != 1 {
		t.Fatalf("describe cluster %s: %d clusters", id, len(out.Clusters))
	}
	return out.Clusters[0]
}

func hsmZones(c types.Cluster) (active int, zones map[string]int) {
	zones = map[string]int{}
	for _, h := range c.Hsms {
		if h.State == types.HsmStateActive {
			active++
		}
		zones[aws.ToString(h.AvailabilityZone)]++
	}
	return active, zones
}

func artifactsDir(t *testing.T) string {
	if d := os.Getenv("STRONGROOM_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
	}
	return t.TempDir()
}

func writeArtifact(t *testing.T, name, text string) {
	t.Helper()
	p := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Errorf("write %s: %v", p, err)
		return
	}
	t.Logf("wrote %s", p)
}
