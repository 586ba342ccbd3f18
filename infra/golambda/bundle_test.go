package golambda_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/infra/golambda"
)

// TestBundleIsTheBuild: a bundle is a linux/arm64 bootstrap byte for byte equal to what `make
// build` writes with golambda.BuildFlags (the sandbox deployer matches assets to build/ by their
// bytes), and a second call reuses it.
func TestBundleIsTheBuild(t *testing.T) {
	dir, err := golambda.Bundle("cfn-answer")
	if err != nil {
		t.Fatal(err)
	}
	if err := golambda.CheckBootstrap(dir); err != nil {
		t.Fatal(err)
	}
	again, err := golambda.Bundle("cfn-answer")
	if err != nil || again != dir {
		t.Fatalf("second bundle %q, %v; want the cached %q", again, err, dir)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "bootstrap" {
		t.Fatalf("the asset directory holds %v; want only the bootstrap", entries)
	}

	want := filepath.Join(t.TempDir(), "bootstrap")
	args := append(append([]string{"build"}, golambda.BuildFlags...), "-o", want, "./lambdas/cfn-answer")
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "bootstrap"))
	b, _ := os.ReadFile(want)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("the bundle (%d bytes) differs from make build's bootstrap (%d bytes)", len(a), len(b))
	}
}

// TestWithFiles ships data beside a bundle in a directory named by the contents, so a changed
// file makes a new asset and the bundle's own directory is never touched.
func TestWithFiles(t *testing.T) {
	dir, err := golambda.Bundle("cfn-answer")
	if err != nil {
		t.Fatal(err)
	}
	pem := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(pem, []byte("-----BEGIN CERTIFICATE-----\none\n"), 0o644)
	with, err := golambda.WithFiles(dir, map[string]string{"ca.pem": pem})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(with, "ca.pem")); string(got) != "-----BEGIN CERTIFICATE-----\none\n" {
		t.Fatalf("ca.pem = %q", got)
	}
	if err := golambda.CheckBootstrap(with); err != nil {
		t.Fatal(err)
	}
	if same, err := golambda.WithFiles(dir, map[string]string{"ca.pem": pem}); err != nil || same != with {
		t.Fatalf("the same files gave %q, %v; want %q", same, err, with)
	}
	os.WriteFile(pem, []byte("-----BEGIN CERTIFICATE-----\ntwo\n"), 0o644)
	if other, err := golambda.WithFiles(dir, map[string]string{"ca.pem": pem}); err != nil || other == with {
		t.Fatalf("changed contents gave %q, %v; want a new directory", other, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		t.Fatal("WithFiles wrote into the bundle's own directory")
	}
	if _, err := golambda.WithFiles(dir, map[string]string{"../x": pem}); err == nil {
		t.Fatal("a path as an asset file name was accepted")
	}
}
