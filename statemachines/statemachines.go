// Package statemachines holds the Amazon States Language definitions of Strongroom's workflows,
// embedded, so the CDK constructs (infra/workflowresource), the sandbox and its tests read the
// same bytes, from this repository or from any module that imports it. Which steps fill each
// file's ${Placeholder}s is declared in pkg/resourcedef.
package statemachines

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed *.asl.json
var files embed.FS

// Read returns the ASL file name (for example "cluster-create.asl.json").
func Read(name string) (string, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("state machine %q: %w (the files are statemachines/*.asl.json)", name, err)
	}
	return string(b), nil
}

// Names lists the ASL files, sorted.
func Names() []string {
	entries, _ := fs.Glob(files, "*.asl.json")
	sort.Strings(entries)
	return entries
}
