// Package trailalerttest holds what the tests of pkg/trailalert and of lambdas/trailrelay share:
// the recorded EventBridge events in pkg/trailalert/testdata/events, an Alerter with the default
// options, an oversized event, and an independent collector of the sensitive values an event
// holds (what a redaction must remove).
package trailalerttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/trailalert"
)

// Fixtures returns the recorded events (*.json) in dir, by file name without .json. A directory
// without any fails the test.
func Fixtures(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = b
	}
	return out
}

// NewAlerter returns an Alerter with the default options.
func NewAlerter(t testing.TB) *trailalert.Alerter {
	t.Helper()
	a, err := trailalert.New(trailalert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Oversized is fixture 15 (iam PutRolePolicy, given as raw) with a 400 KB policy document of
// multi-byte characters (so a cut could split one), a password after it and an error message
// that tries to forge a body line.
func Oversized(t testing.TB, raw []byte) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	params := detail["requestParameters"].(map[string]any)
	params["policyDocument"] = strings.Repeat("é-policy-", 400<<10/10)
	params["password"] = "after-the-cut"
	detail["errorMessage"] = strings.Repeat("x", 10000) + "\nForged-Line: yes"
	big, _ := json.Marshal(ev)
	return big
}

// CollectSensitive returns the string leaves of the values the redaction must hide, and how many
// such values there are: the value of every key red finds sensitive, unless it is null, true or
// false; and the "value" or "parameterValue" of an object whose "name", "key", "parameterKey" or
// "parameterName" is a sensitive name, whose "isValueSecret" is true, or whose "type" is
// "SecureString". It walks the decoded JSON v itself, independently of the redactor's byte-level
// pass, so tests can hold one against the other.
func CollectSensitive(v any, red *trailalert.Redactor) (values []string, keys int) {
	switch x := v.(type) {
	case map[string]any:
		marked := false
		for k, val := range x {
			switch s, _ := val.(string); norm(k) {
			case "name", "key", "parameterkey", "parametername":
				marked = marked || red.Sensitive(s)
			case "isvaluesecret":
				marked = marked || val == true
			case "type":
				marked = marked || strings.EqualFold(s, "SecureString")
			}
		}
		for k, val := range x {
			hidden := red.Sensitive(k)
			if n := norm(k); marked && (n == "value" || n == "parametervalue") {
				hidden = true
			}
			if hidden && holdsSecret(val) {
				values = append(values, leafStrings(val, nil)...)
				keys++
				continue
			}
			vs, n := CollectSensitive(val, red)
			values, keys = append(values, vs...), keys+n
		}
	case []any:
		for _, e := range x {
			vs, n := CollectSensitive(e, red)
			values, keys = append(values, vs...), keys+n
		}
	}
	return values, keys
}

// holdsSecret: null and booleans are left in place by the redaction.
func holdsSecret(v any) bool {
	switch v.(type) {
	case nil, bool:
		return false
	}
	return true
}

// norm lower-cases the ASCII letters of a key and drops '_', '-' and ' ', as the redactor
// compares names (other characters are kept as they are: the Kelvin sign is not a 'k').
func norm(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c == '_' || c == '-' || c == ' ':
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func leafStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case map[string]any:
		for _, e := range x {
			out = leafStrings(e, out)
		}
	case []any:
		for _, e := range x {
			out = leafStrings(e, out)
		}
	}
	return out
}
