package keystoretest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/strongroom/strongroom/pkg/keystore/keystoretest"
)

// TestPlaceholdersMatchASL checks that the deployment fills exactly the ${Placeholders} the key
// store ASL files use, each with a function that exists under lambdas/.
func TestPlaceholdersMatchASL(t *testing.T) {
	re := regexp.MustCompile(`\$\{([A-Za-z]+)\}`)
	used := map[string]bool{}
	for _, f := range keystoretest.Workflows {
		b, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	var want, got []string
	for p := range used {
		want = append(want, p)
	}
	for p, fn := range keystoretest.Placeholders {
		got = append(got, p)
		if _, err := os.Stat(filepath.Join(repoRoot, "lambdas", fn, "main.go")); err != nil {
			t.Errorf("%s names lambdas/%s, which does not exist", p, fn)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		t.Errorf("placeholders used by the ASL files %v; filled %v", want, got)
	}
}
