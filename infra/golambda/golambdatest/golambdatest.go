// Package golambdatest builds real Lambda bootstraps for infra tests, the way `make build` does, so the
// assets a test synthesizes are the ones golambda.CheckBootstrap accepts and `cdk deploy` would ship.
package golambdatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles lambdas/<name> for linux/arm64 with `make build`'s flags into outDir/<name>/bootstrap
// and returns outDir/<name> and the package it built. repoRoot is the module root.
func Build(repoRoot, outDir, name string) (assetDir, builtPkg string, err error) {
	pkg := filepath.Join("lambdas", name)
	if _, err := os.Stat(filepath.Join(repoRoot, pkg, "main.go")); err != nil {
		return "", "", fmt.Errorf("build Lambda %s: %w", name, err)
	}
	assetDir = filepath.Join(outDir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid=",
		"-o", filepath.Join(assetDir, "bootstrap"), "./"+pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build %s for linux/arm64: %v\n%s", pkg, err, out)
	}
	return assetDir, pkg, nil
}
