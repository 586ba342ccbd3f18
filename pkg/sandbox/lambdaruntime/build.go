package lambdaruntime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
)

// BuildFlags are `make build`'s flags for a Lambda bootstrap: static, no RPC mode, stripped and
// reproducible. BuildHost uses them with the host's GOOS/GOARCH instead of linux/arm64.
var BuildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid="}

// BuildHost builds the Go main package pkgPath (an import path, or a path relative to the current
// directory such as "./testdata/hello") for the host's OS and architecture with BuildFlags and
// CGO_ENABLED=0, into outDir/<last element of pkgPath>/bootstrap, and returns that path. The go
// build cache makes a repeated build of unchanged code cheap.
func BuildHost(ctx context.Context, pkgPath, outDir string) (string, error) {
	if pkgPath == "" || outDir == "" {
		return "", fmt.Errorf("%w: BuildHost needs a package path and an output directory", ErrConfig)
	}
	dir, err := filepath.Abs(outDir)
	if err != nil {
		return "", fmt.Errorf("build %s: resolve output directory %q: %w", pkgPath, outDir, err)
	}
	out := filepath.Join(dir, path.Base(filepath.ToSlash(pkgPath)), "bootstrap")
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out, pkgPath)
	// go test puts its own toolchain first on PATH, so tests build with the go that runs them.
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s for %s/%s: %w\n%s", pkgPath, runtime.GOOS, runtime.GOARCH, err, msg)
	}
	return out, nil
}
