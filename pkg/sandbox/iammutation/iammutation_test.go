package iammutation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const testTemplate = `{"Resources":{
 "Fn":{"Type":"AWS::Lambda::Function","DependsOn":["OnePolicy","TwoPolicy","Perm"],"Properties":{}},
 "TwoPolicy":{"Type":"AWS::IAM::Policy","Properties":{"PolicyName":"TwoPolicy","PolicyDocument":{"Statement":[
   {"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"},
   {"Effect":"Deny","Action":"sns:*","Resource":"*"},
   {"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:123456789012:t"}]}}},
 "OnePolicy":{"Type":"AWS::IAM::Policy","Properties":{"PolicyName":"OnePolicy","PolicyDocument":{"Statement":[
   {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}}},
 "Key":{"Type":"AWS::KMS::Key","Properties":{"KeyPolicy":{"Statement":[
   {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}}},
 "Perm":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","Principal":"events.amazonaws.com","FunctionName":"f"}}
}}`

func writeAssembly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "S.template.json"), []byte(testTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "asset.abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestList: every Allow statement, numbered as in its document, and no Deny.
func TestList(t *testing.T) {
	all, err := List(writeAssembly(t), []string{"S"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range all {
		ids = append(ids, s.ID)
	}
	want := []string{"S/Key#1", "S/OnePolicy#1", "S/Perm#1", "S/TwoPolicy#1", "S/TwoPolicy#3"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	if all[4].Grant != "TwoPolicy#3" || !all[4].Matches("SNS:publish") || all[4].Matches("sns:Subscribe") {
		t.Errorf("TwoPolicy#3 = %+v", all[4])
	}
	if !all[0].Matches("kms:GenerateDataKey") || all[2].Principal != `{"Service":"events.amazonaws.com"}` {
		t.Errorf("key %+v, permission %+v", all[0], all[2])
	}
}

// TestWrite: exactly the statement goes; a resource that would be left empty goes as a whole (and
// from DependsOn); a key keeps a statement granting only DescribeKey; the rest is linked.
func TestWrite(t *testing.T) {
	src := writeAssembly(t)
	all, err := List(src, []string{"S"})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Statement{}
	for _, s := range all {
		byID[s.ID] = s
	}
	read := func(dir string) map[string]map[string]any {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "S.template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tpl struct{ Resources map[string]map[string]any }
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatal(err)
		}
		return tpl.Resources
	}
	statements := func(r map[string]any, doc string) []any {
		return r["Properties"].(map[string]any)[doc].(map[string]any)["Statement"].([]any)
	}

	dst := filepath.Join(t.TempDir(), "out")
	if _, err := Write(src, dst, byID["S/TwoPolicy#3"]); err != nil {
		t.Fatal(err)
	}
	rs := read(dst)
	if sts := statements(rs["TwoPolicy"], "PolicyDocument"); len(sts) != 2 || sts[1].(map[string]any)["Effect"] != "Deny" {
		t.Errorf("TwoPolicy after removing #3: %v", sts)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "asset.abc")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("asset.abc is not a link to the original: %v", err)
	}

	for _, id := range []string{"S/OnePolicy#1", "S/Perm#1"} {
		dst := filepath.Join(t.TempDir(), "out")
		if _, err := Write(src, dst, byID[id]); err != nil {
			t.Fatal(err)
		}
		rs := read(dst)
		res := byID[id].Resource
		if _, ok := rs[res]; ok {
			t.Errorf("%s: resource %s kept", id, res)
		}
		if deps := rs["Fn"]["DependsOn"].([]any); slices.Contains(deps, any(res)) || len(deps) != 2 {
			t.Errorf("%s: Fn DependsOn %v", id, deps)
		}
	}

	dst = filepath.Join(t.TempDir(), "out")
	if _, err := Write(src, dst, byID["S/Key#1"]); err != nil {
		t.Fatal(err)
	}
	sts := statements(read(dst)["Key"], "KeyPolicy")
	if len(sts) != 1 || sts[0].(map[string]any)["Action"] != "kms:DescribeKey" {
		t.Errorf("key policy after removing its only statement: %v", sts)
	}
}

// TestStacks: the manifest's dependencies order the stacks; no template is an error naming the fix.
func TestStacks(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"A", "B", "C"} {
		if err := os.WriteFile(filepath.Join(dir, n+".template.json"), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `{"artifacts":{"A":{"type":"aws:cloudformation:stack","dependencies":["C","A.assets"]},"C":{"type":"aws:cloudformation:stack","dependencies":["B"]}}}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Stacks(dir)
	if err != nil || !slices.Equal(got, []string{"B", "C", "A"}) {
		t.Errorf("Stacks = %v, %v; want B C A", got, err)
	}
	if _, err := Stacks(t.TempDir()); err == nil {
		t.Error("an empty directory: no error")
	}
}
