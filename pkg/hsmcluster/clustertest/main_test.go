package clustertest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster/clustertest"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest"
)

// Built once for the whole package: every function's host binary.
var (
	repoRoot string
	binaries map[string]string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := clustertest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "clustertest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	binaries, err = clustertest.Binaries(ctx, root, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the cluster functions:", err)
		return 1
	}
	return m.Run()
}

// scale is the sandbox clock speed of these tests: a Create takes about 25 sandbox minutes, so
// about 1.5 s of waiting plus the functions' own run time.
const scale = 1000

type rig struct {
	env *sandboxtest.Env
	dep *clustertest.Deployment
	hsm *cloudhsmv2.Client
	ctx context.Context
}

func newRig(t *testing.T, o clustertest.Options, opts ...sandboxtest.Option) *rig {
	t.Helper()
	env := sandboxtest.New(t, append([]sandboxtest.Option{sandboxtest.Scale(scale)}, opts...)...)
	ctx := sandboxtest.Context(t, 2*time.Minute)
	dep, err := clustertest.Deploy(ctx, env.Sandbox, env.AWSConfig(), repoRoot, binaries, env.Recorder.Writer("function logs"), o)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{env: env, dep: dep, hsm: cloudhsmv2.NewFromConfig(env.AWSConfig()), ctx: ctx}
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
