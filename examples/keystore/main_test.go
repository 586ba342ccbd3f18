package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/nagreport"
)

func TestMain(m *testing.M) { templatetest.Main(m) }

// TestExampleSynthesizesNagClean synthesizes the example as `cdk synth` would run it, with no
// prebuilt Lambda code, and requires both custom resources and zero unsuppressed cdk-nag findings.
func TestExampleSynthesizesNagClean(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cdk.out")
	newApp(out).Synth(nil)

	raw, err := os.ReadFile(filepath.Join(out, "ExampleKeys.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct{ Type string }
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, r := range tmpl.Resources {
		types[r.Type]++
	}
	for _, want := range []string{"Custom::CloudHsmCluster", "Custom::CloudHsmKeyStore"} {
		if types[want] != 1 {
			t.Errorf("%d %s resources; want 1", types[want], want)
		}
	}
	if types["AWS::Lambda::Function"] < 20 {
		t.Errorf("%d Lambda functions; want the cluster's and the key store's", types["AWS::Lambda::Function"])
	}
	// Every function's code is an asset holding a bootstrap the construct compiled.
	assets, _ := filepath.Glob(filepath.Join(out, "asset.*", "bootstrap"))
	if len(assets) < 20 {
		t.Errorf("%d bootstrap assets in the cloud assembly", len(assets))
	}

	rep, err := nagreport.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(nagreport.Compliant) < 50 {
		t.Fatalf("only %d compliant checks: did cdk-nag run? %s", rep.Count(nagreport.Compliant), rep.Summary())
	}
	for _, f := range rep.Findings() {
		t.Errorf("unsuppressed cdk-nag finding: %s", f)
	}
	if !strings.Contains(rep.Summary(), "0 non-compliant") {
		t.Errorf("summary: %s", rep.Summary())
	}
}
