package golambda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Module is the module whose lambdas/<name> mains Bundle builds.
const Module = "github.com/strongroom/strongroom"

// BuildFlags are `make build`'s (LAMBDA_GOFLAGS): reproducible (no paths, build id or VCS
// stamp), stripped, no RPC mode. With the same sources they give the same bytes, so a bundle
// equals build/<name>/bootstrap.
var BuildFlags = []string{"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid="}

var bundles struct {
	sync.Mutex
	moduleDir, key string
}

// Bundle builds lambdas/<name> of this module for linux/arm64 (provided.al2023) and returns the
// directory holding its bootstrap. It is how a CDK app that imports these constructs gets the
// functions' code without a prebuilt build/ directory: the build runs in this module's own
// directory (this repository, or its copy in the Go module cache), so it uses this module's
// pinned dependencies whatever the importing app's go.mod says. Results are cached under the
// user's cache directory by a hash of the module's Go sources (or by its version in the module
// cache), so a second synthesis costs no build.
func Bundle(name string) (string, error) {
	bundles.Lock()
	defer bundles.Unlock()
	if bundles.moduleDir == "" {
		dir, key, err := moduleSource()
		if err != nil {
			return "", err
		}
		bundles.moduleDir, bundles.key = dir, key
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "strongroom", "lambda-bundles", bundles.key, name)
	if CheckBootstrap(out) == nil {
		return out, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("bundle %s: %w", name, err)
	}
	// The build goes beside the asset directory, not into it: the CDK copies (and hashes) the
	// whole directory, so it must never hold another synthesis's half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+name+"-bootstrap-*")
	if err != nil {
		return "", fmt.Errorf("bundle %s: %w", name, err)
	}
	tmp.Close()
	args := append(append([]string{"build"}, BuildFlags...), "-o", tmp.Name(), "./lambdas/"+name)
	cmd := exec.Command("go", args...)
	cmd.Dir = bundles.moduleDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("bundle %s: go build for linux/arm64 in %s: %v\n%s", name, bundles.moduleDir, err, msg)
	}
	// Rename is atomic: a concurrent synthesis sees the old bundle or the new one, never half.
	if err := os.Rename(tmp.Name(), filepath.Join(out, "bootstrap")); err != nil {
		return "", fmt.Errorf("bundle %s: %w", name, err)
	}
	return out, nil
}

// moduleSource finds this module's directory and a key for its sources.
func moduleSource() (dir, key string, err error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}\t{{.Version}}", Module)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("find module %s to bundle its Lambdas (go list -m): %v: %s", Module, err, strings.TrimSpace(stderr.String()))
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if dir == "" {
		return "", "", fmt.Errorf("module %s has no directory: run `go mod download %s`", Module, Module)
	}
	// The toolchain and the flags make the bytes as much as the sources do.
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", strings.TrimSpace(string(goVersion)), strings.Join(BuildFlags, " "))
	if version != "" {
		// The module cache is immutable: a version names its sources.
		fmt.Fprintf(h, "%s", version)
		return dir, "v-" + hex.EncodeToString(h.Sum(nil))[:16], nil
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "cdk.out", "build", "testdata", "docs", "examples":
				return filepath.SkipDir
			}
			return nil
		}
		if (strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go")) || rel == "go.mod" || rel == "go.sum" ||
			strings.HasSuffix(rel, ".json") || strings.HasSuffix(rel, ".sh") || strings.HasSuffix(rel, ".pem") {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(h, "%s\x00", rel)
			_, err = io.Copy(h, f)
			return err
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("hash the sources of %s: %w", Module, err)
	}
	return dir, "src-" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// WithFiles returns a directory holding assetDir's bootstrap and files (name in the asset -> path
// on this machine), for a function that ships data beside its code (the rotation function's RDS
// CA bundle). The directory sits beside assetDir, named by a hash of the files' contents, and is
// written once.
func WithFiles(assetDir string, files map[string]string) (string, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	contents := map[string][]byte{}
	for _, n := range names {
		if n != filepath.Base(n) || n == "bootstrap" {
			return "", fmt.Errorf("asset file name %q: give a plain file name other than bootstrap", n)
		}
		b, err := os.ReadFile(files[n])
		if err != nil {
			return "", fmt.Errorf("asset file %s: %w", n, err)
		}
		contents[n] = b
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	boot, err := os.ReadFile(filepath.Join(assetDir, "bootstrap"))
	if err != nil {
		return "", fmt.Errorf("asset %s: %w", assetDir, err)
	}
	h.Write(boot)
	out := filepath.Clean(assetDir) + "+" + hex.EncodeToString(h.Sum(nil))[:16]
	if CheckBootstrap(out) == nil {
		return out, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".staging-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "bootstrap"), boot, 0o755); err != nil {
		return "", err
	}
	for n, b := range contents {
		if err := os.WriteFile(filepath.Join(tmp, n), b, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, out); err != nil && CheckBootstrap(out) != nil {
		return "", fmt.Errorf("stage %s: %w", out, err)
	}
	return out, nil
}
