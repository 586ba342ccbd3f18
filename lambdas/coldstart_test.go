// Package lambdas_test measures what every deployed Strongroom function costs before its first
// request: BenchmarkColdStarts. The functions themselves are the commands in lambdas/<name>.
package lambdas_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// coldStartRounds is how many cold starts of each function (and as many of the hello-world beside
// it) one benchmark run takes; the figures are medians over them.
const coldStartRounds = 21

// deployed is one function package as the synthesized templates deploy it.
type deployed struct {
	pkg, stack, logicalID string
	env                   []string
	bin                   string
	props                 map[string]any // the function's Properties in its template
}

// BenchmarkColdStarts measures, for every function the synthesized stacks in cdk.out deploy
// (`make bench` synthesizes them first), the time from exec to its first request for work
// (GET /next on the Runtime API stand-in, pkg/sandbox/lambdaruntime), with the environment its
// template gives it: intrinsic values become placeholder ARNs, /var/task/ paths point into the
// function's asset directory (as Lambda's task root holds the asset). Every bootstrap and the
// aws-lambda-go hello-world are built for the host with make build's flags; each function's
// starts alternate with the hello-world's so the two share the machine's state. It prints the
// table (function, binary size, cold start, ratio to the hello-world) and reports the largest
// ratios as metrics. Target: every ratio at most 1.2, every size at most 1.4x.
func BenchmarkColdStarts(b *testing.B) {
	ctx := context.Background()
	root, err := stacktest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	// Lambda's task root is the asset directory; the rotation function's asset lacks the RDS CA
	// bundle until a user adds it before deploying (infra/database), so it gets a test CA here.
	ca, err := mariadbtest.NewCA("cold start test CA")
	if err != nil {
		b.Fatal(err)
	}
	fns, err := deployedFunctions(filepath.Join(root, "cdk.out"), filepath.Join(root, "build"), b.TempDir(), ca.PEM)
	if err != nil {
		b.Fatalf("%v (make bench runs make build and make synth first)", err)
	}
	bins := b.TempDir()
	hello, err := lambdaruntime.BuildHost(ctx, filepath.Join(root, "pkg/sandbox/lambdaruntime/testdata/hello"), bins)
	if err != nil {
		b.Fatal(err)
	}
	for i := range fns {
		if fns[i].bin, err = lambdaruntime.BuildHost(ctx, filepath.Join(root, "lambdas", fns[i].pkg), bins); err != nil {
			b.Fatal(err)
		}
	}
	start := func(path, name string, env []string) time.Duration {
		p, err := lambdaruntime.Start(ctx, lambdaruntime.Config{Path: path, FunctionName: name, Env: env})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		d, err := p.Ready(ctx)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return d
	}
	helloSize := fileSize(b, hello)
	var worstTime, worstSize float64
	for n := 0; n < b.N; n++ {
		type row struct {
			fn          deployed
			med, helloM time.Duration
			size        int64
		}
		var rows []row
		for _, fn := range fns {
			// One unmeasured start each, so both binaries are in the page cache.
			start(fn.bin, fn.pkg, fn.env)
			start(hello, "hello", fn.env)
			var mine, base []time.Duration
			for r := 0; r < coldStartRounds; r++ {
				if r%2 == 0 {
					mine = append(mine, start(fn.bin, fn.pkg, fn.env))
					base = append(base, start(hello, "hello", fn.env))
				} else {
					base = append(base, start(hello, "hello", fn.env))
					mine = append(mine, start(fn.bin, fn.pkg, fn.env))
				}
			}
			rows = append(rows, row{fn: fn, med: median(mine), helloM: median(base), size: fileSize(b, fn.bin)})
		}
		var out strings.Builder
		fmt.Fprintf(&out, "cold start to first GET /next, medians of %d starts each, hello-world %d bytes\n", coldStartRounds, helloSize)
		fmt.Fprintf(&out, "%-22s %-18s %10s %6s %9s %9s %6s\n", "function", "stack", "bytes", "size", "ms", "hello ms", "ratio")
		for _, r := range rows {
			ratio := float64(r.med) / float64(r.helloM)
			sizeRatio := float64(r.size) / float64(helloSize)
			worstTime, worstSize = max(worstTime, ratio), max(worstSize, sizeRatio)
			flag := ""
			if ratio > 1.2 || sizeRatio > 1.4 {
				flag = "  over target"
			}
			fmt.Fprintf(&out, "%-22s %-18s %10d %5.2fx %9.2f %9.2f %5.2fx%s\n", r.fn.pkg, r.fn.stack, r.size, sizeRatio, ms(r.med), ms(r.helloM), ratio, flag)
		}
		// Printed, not b.Log: the testing package keeps only ten lines of a benchmark's log.
		fmt.Print(out.String())
	}
	b.ReportMetric(worstTime, "worst-ratio")
	b.ReportMetric(worstSize, "worst-size-ratio")
}

// deployedFunctions reads every AWS::Lambda::Function of the templates in cdkOut, one per
// lambdas/<name> package (the first stack that deploys it, in stack name order). A /var/task/<file>
// value names the asset's file, or, when the asset lacks it, a file in spare holding fill.
func deployedFunctions(cdkOut, buildDir, spare string, fill []byte) ([]deployed, error) {
	templates, err := filepath.Glob(filepath.Join(cdkOut, "*.template.json"))
	if err != nil || len(templates) == 0 {
		return nil, fmt.Errorf("no synthesized templates in %s", cdkOut)
	}
	slices.Sort(templates)
	seen := map[string]bool{}
	var out []deployed
	for _, path := range templates {
		t, err := cfntemplate.Load(path)
		if err != nil {
			return nil, err
		}
		stack := strings.TrimSuffix(filepath.Base(path), ".template.json")
		ev := &cfntemplate.Evaluator{T: t, R: placeholders{t}, Env: cfntemplate.Env{
			Region: "us-east-1", AccountID: "123456789012", Partition: "aws", StackName: stack, URLSuffix: "amazonaws.com",
		}}
		for _, id := range t.ByType("AWS::Lambda::Function") {
			r := t.Resources[id]
			asset, _ := r.Metadata["aws:asset:path"].(string)
			if asset == "" {
				return nil, fmt.Errorf("%s %s: no aws:asset:path metadata", stack, id)
			}
			assetDir := filepath.Join(cdkOut, asset)
			pkg, err := deploy.MatchAsset(buildDir, filepath.Join(assetDir, "bootstrap"))
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", stack, id, err)
			}
			if seen[pkg] {
				continue
			}
			seen[pkg] = true
			vars, err := ev.Resolve(r.Properties["Environment"])
			if err != nil {
				return nil, fmt.Errorf("%s %s environment: %w", stack, id, err)
			}
			fn := deployed{pkg: pkg, stack: stack, logicalID: id, props: r.Properties, env: []string{"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example"}}
			if m, ok := vars.(map[string]any); ok {
				vs, _ := m["Variables"].(map[string]any)
				for k, v := range vs {
					s := fmt.Sprint(v)
					if rest, ok := strings.CutPrefix(s, "/var/task/"); ok {
						if s = filepath.Join(assetDir, rest); !exists(s) {
							s = filepath.Join(spare, rest)
							if err := os.WriteFile(s, fill, 0o644); err != nil {
								return nil, err
							}
						}
					}
					fn.env = append(fn.env, k+"="+s)
				}
			}
			out = append(out, fn)
		}
	}
	slices.SortFunc(out, func(a, b deployed) int { return strings.Compare(a.pkg, b.pkg) })
	return out, nil
}

// placeholders resolves Ref and Fn::GetAtt to an ARN-shaped value naming the resource: the
// functions read these variables as names and ARNs and call nothing before their first request.
type placeholders struct{ t *cfntemplate.Template }

func (p placeholders) Ref(id string) (any, error) { return p.arn(id), nil }

func (p placeholders) GetAtt(id, _ string) (any, error) { return p.arn(id), nil }

func (p placeholders) arn(id string) string {
	service := "cloudformation"
	if parts := strings.Split(p.t.Resources[id].Type, "::"); len(parts) == 3 {
		service = strings.ToLower(parts[1])
	}
	return fmt.Sprintf("arn:aws:%s:us-east-1:123456789012:%s", service, id)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fileSize(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}
