package lambdas_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/layout"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// maxInitBytes is the most a package of this module may allocate at init in a Lambda. Building
// tables or compiling patterns at init costs every cold start of every function that links the
// package, used or not; such work waits for its first use (pkg/lazyregexp, sync.OnceValue). A few
// small values (error variables, a map of constants) stay under it: the largest, 1.5 KB.
const maxInitBytes = 4096

// TestLambdasDoNoWorkAtInit runs every Lambda's host bootstrap once with GODEBUG=inittrace=1 and
// holds each of this module's packages in it to maxInitBytes of allocation at init. The bytes a
// package's init allocates do not vary from run to run, unlike its time. With make test's prebuilt
// executables it takes about two seconds; without them it links every Lambda first.
func TestLambdasDoNoWorkAtInit(t *testing.T) {
	root, err := stacktest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	mains, err := filepath.Glob(filepath.Join(root, "lambdas", "*", "main.go"))
	if err != nil || len(mains) < 20 {
		t.Fatalf("found %d Lambda mains under %s/lambdas (%v)", len(mains), root, err)
	}
	bins := t.TempDir()
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		bin, err := lambdaruntime.BuildHost(ctx, filepath.Dir(m), bins)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		inits := initAllocations(t, bin)
		if len(inits) < 20 {
			t.Fatalf("%s: GODEBUG=inittrace=1 reported %d package inits; expected the Go runtime's and the SDK's", name, len(inits))
		}
		for pkg, n := range inits {
			if strings.HasPrefix(pkg, layout.Module+"/") && n > maxInitBytes {
				t.Errorf("%s: package %s allocates %d bytes at init (at most %d): build its tables and compile its patterns on first use (pkg/lazyregexp, sync.OnceValue), not in package-level variables", name, pkg, n, maxInitBytes)
			}
		}
	}
}

// initAllocations runs bin with GODEBUG=inittrace=1 and no Lambda environment (its main exits at
// once, after every package's init) and returns the bytes each package allocated at init.
func initAllocations(t *testing.T, bin string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"GODEBUG=inittrace=1", "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run() // exits non-zero without its environment; only the init trace matters
	if ctx.Err() != nil {
		t.Fatalf("%s did not exit within 30 s without a Lambda environment", bin)
	}
	// A line: init <package> @<t> ms, <t> ms clock, <n> bytes, <n> allocs
	out := map[string]int{}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("%s: unreadable init trace line %q", bin, sc.Text())
		}
		out[f[1]] += n
	}
	return out
}
