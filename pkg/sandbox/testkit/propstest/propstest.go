// Package propstest turns values into custom-resource properties the way CloudFormation delivers
// them, for the property parsers' tests and fuzz targets (pkg/hsmcluster, pkg/keystore).
package propstest

import (
	"encoding/json"
	"strconv"
	"testing"
)

// JSON writes v as JSON and reads it back as properties.
func JSON(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// StringScalars turns every number and boolean in v into its string, as CloudFormation passes a
// custom resource's properties (a template's 3 and true arrive as "3" and "true").
func StringScalars(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = StringScalars(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = StringScalars(e)
		}
		return out
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return v
}
