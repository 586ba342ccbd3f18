package lambdaruntime

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// BuildFlags are `make build`'s flags for a Lambda bootstrap: static, no RPC mode, stripped and
// reproducible. BuildHost uses them with the host's GOOS/GOARCH instead of linux/arm64.
var BuildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid="}

// EnvPrebuilt names a directory of host bootstraps built ahead of the tests, so that each test
// process does not link the same executables again (`make test` sets it for its `go test`). The
// directory holds DIR/<name>, each main package <lambdas>/<name> built with BuildFlags and
// CGO_ENABLED=0 for the host, and the file DIR/PrebuiltSourceFile naming, as an absolute path, the
// <lambdas> directory they were built from. BuildHost takes an executable from it only for a
// package directly in that directory; anything else is built as usual. Whoever sets the variable
// builds the directory from the code under test first: BuildHost cannot tell a stale executable.
const EnvPrebuilt = "STRONGROOM_PREBUILT_HOST_LAMBDAS"

// PrebuiltSourceFile is the file in an EnvPrebuilt directory that names the directory its
// executables were built from.
const PrebuiltSourceFile = "source-dir"

// BuildHost builds the Go main package pkgPath (an import path, or a path relative to the current
// directory such as "./testdata/hello") for the host's OS and architecture with BuildFlags and
// CGO_ENABLED=0, into outDir/<last element of pkgPath>/bootstrap, and returns that path. The go
// build cache makes a repeated build of unchanged code cheap, but each build still links; with
// EnvPrebuilt set it copies the prebuilt executable of pkgPath instead, when there is one.
func BuildHost(ctx context.Context, pkgPath, outDir string) (string, error) {
	if pkgPath == "" || outDir == "" {
		return "", fmt.Errorf("%w: BuildHost needs a package path and an output directory", ErrConfig)
	}
	dir, err := filepath.Abs(outDir)
	if err != nil {
		return "", fmt.Errorf("build %s: resolve output directory %q: %w", pkgPath, outDir, err)
	}
	out := filepath.Join(dir, path.Base(filepath.ToSlash(pkgPath)), "bootstrap")
	if ok, err := copyPrebuilt(pkgPath, out); err != nil {
		return "", err
	} else if ok {
		return out, nil
	}
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

// copyPrebuilt copies pkgPath's executable from the EnvPrebuilt directory to out. It reports
// false, and no error, when the variable is unset or the directory holds no executable for
// pkgPath (a relative pkgPath is taken from the current directory; an import path never matches).
func copyPrebuilt(pkgPath, out string) (bool, error) {
	pre := os.Getenv(EnvPrebuilt)
	if pre == "" || !strings.HasPrefix(pkgPath, ".") && !filepath.IsAbs(pkgPath) {
		return false, nil
	}
	src, err := os.ReadFile(filepath.Join(pre, PrebuiltSourceFile))
	if err != nil {
		return false, fmt.Errorf("%s=%s: %w (set it to a directory `make test` prebuilt, or unset it)", EnvPrebuilt, pre, err)
	}
	pkgDir, err := filepath.Abs(pkgPath)
	if err != nil {
		return false, fmt.Errorf("build %s: %w", pkgPath, err)
	}
	if real, err := filepath.EvalSymlinks(pkgDir); err == nil {
		pkgDir = real
	}
	srcDir := strings.TrimSpace(string(src))
	if real, err := filepath.EvalSymlinks(srcDir); err == nil {
		srcDir = real
	}
	if filepath.Dir(pkgDir) != srcDir {
		return false, nil
	}
	in, err := os.Open(filepath.Join(pre, filepath.Base(pkgDir)))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", EnvPrebuilt, err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return false, fmt.Errorf("copy the prebuilt %s: %w", pkgPath, err)
	}
	// Written beside out and renamed over it, as go build does: out may be running.
	f, err := os.CreateTemp(filepath.Dir(out), ".bootstrap-*")
	if err != nil {
		return false, fmt.Errorf("copy the prebuilt %s: %w", pkgPath, err)
	}
	_, err = io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	if err != nil {
		os.Remove(f.Name())
		return false, fmt.Errorf("copy the prebuilt %s: %w", pkgPath, err)
	}
	return true, nil
}
