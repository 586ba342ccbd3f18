package clustertest_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/strongroom/strongroom/pkg/hsmcluster/clustertest"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest/stacktest"
)

// Built once for the whole package: every function's host binary.
var (
	repoRoot string
	binaries map[string]string
)

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, "clustertest-bin-", "the cluster functions", clustertest.Functions(), &repoRoot, &binaries))
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
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the functions' concurrent output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T, o clustertest.Options, opts ...sandboxtest.Option) *rig {
	t.Helper()
	env := sandboxtest.New(t, append([]sandboxtest.Option{sandboxtest.Scale(scale)}, opts...)...)
	ctx := sandboxtest.Context(t, 2*time.Minute)
	logs := &syncBuffer{}
	dep, err := clustertest.Deploy(ctx, env.Sandbox, env.AWSConfig(), repoRoot, binaries, io.MultiWriter(env.Recorder.Writer("function logs"), logs), o)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{env: env, dep: dep, hsm: cloudhsmv2.NewFromConfig(env.AWSConfig()), ctx: ctx, logs: logs}
	r.dumpOnFailure(t)
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

// dumpOnFailure logs, when t has failed, each execution's state path and the recorded calls that
// answered an error: what a person needs to see why a workflow went wrong.
func (r *rig) dumpOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		sf := sfn.NewFromConfig(r.env.AWSConfig())
		ctx := context.Background()
		for _, kind := range []string{"Create", "Update", "Delete"} {
			arns, _ := r.dep.Executions(ctx, kind)
			for _, arn := range arns {
				h, err := sf.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
				if err != nil {
					t.Logf("history %s: %v", arn, err)
					continue
				}
				var path []string
				for _, e := range h.Events {
					switch {
					case e.StateEnteredEventDetails != nil:
						path = append(path, aws.ToString(e.StateEnteredEventDetails.Name))
					case e.TaskFailedEventDetails != nil:
						path = append(path, "!"+aws.ToString(e.TaskFailedEventDetails.Error)+":"+clustertest.Reason(aws.ToString(e.TaskFailedEventDetails.Cause), 300))
					case e.LambdaFunctionFailedEventDetails != nil:
						path = append(path, "!"+aws.ToString(e.LambdaFunctionFailedEventDetails.Error)+":"+clustertest.Reason(aws.ToString(e.LambdaFunctionFailedEventDetails.Cause), 300))
					case e.ExecutionFailedEventDetails != nil:
						path = append(path, "FAILED "+aws.ToString(e.ExecutionFailedEventDetails.Error)+":"+clustertest.Reason(aws.ToString(e.ExecutionFailedEventDetails.Cause), 300))
					}
				}
				t.Logf("%s %s: %s", kind, arn, strings.Join(path, " > "))
			}
		}
		lines := strings.Split(r.logs.String(), "\n")
		for _, l := range lines[max(0, len(lines)-40):] {
			t.Logf("log: %s", clustertest.Reason(l, 400))
		}
		for _, rec := range r.env.Recorder.Records("", "") {
			if rec.ErrorCode != "" {
				t.Logf("call %s %s -> %s %s", rec.Service, rec.Operation, rec.ErrorCode, clustertest.Reason(string(rec.ResponseBody), 200))
			}
		}
	})
}
