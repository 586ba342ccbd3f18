package clustertest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmcluster/clustertest"
)

// TestPlaceholdersMatchASL checks that every ${Placeholder} of the three cluster workflows has a
// function in clustertest.Placeholders, and every entry there is used by some workflow.
func TestPlaceholdersMatchASL(t *testing.T) {
	re := regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)
	used := map[string]bool{}
	for kind, file := range clustertest.Workflows {
		b, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", file))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
			if _, ok := clustertest.Placeholders[m[1]]; !ok {
				t.Errorf("%s uses ${%s}, which no function fills", file, m[1])
			}
		}
	}
	var unused []string
	for p := range clustertest.Placeholders {
		if !used[p] {
			unused = append(unused, p)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("placeholders no workflow uses: %v", unused)
	}
}
