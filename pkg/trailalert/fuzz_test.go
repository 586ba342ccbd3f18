package trailalert_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// FuzzParse feeds arbitrary bytes through the whole pipeline. Its seed corpus (the fixtures and
// known-bad inputs) runs in plain go test; make test fuzzes it for a bounded time.
func FuzzParse(f *testing.F) {
	for _, raw := range fixtures(f) {
		f.Add(raw)
	}
	for _, s := range []string{
		"", "null", "[]", "{}", `"x"`, `{"detail-type":"AWS API Call via CloudTrail"}`,
		`{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","detail":null}`,
		`{"detail-type":"AWS Service Event via CloudTrail","source":"aws.x","account":"1","region":"r","detail":{"eventSource":"\u0000","eventName":"\u2028","eventID":"#","eventTime":"2026-01-01T00:00:00Z","userIdentity":{"type":"Root"}}}`,
		`{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","account":"1","region":"r","detail":{"eventSource":"kms.amazonaws.com","eventName":"x","eventID":"1","eventTime":"2026-01-01T00:00:00Z","requestParameters":{"password":{"a":[1,{"b":"c"}]}}}}`,
	} {
		f.Add([]byte(s))
	}
	a, err := trailalert.New(trailalert.Options{})
	if err != nil {
		f.Fatal(err)
	}
	red, _ := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	f.Fuzz(func(t *testing.T, data []byte) {
		if out, n, err := red.Redact(data); err == nil {
			if !json.Valid(out) || n < 0 {
				t.Fatalf("Redact produced invalid JSON %q from %q", out, data)
			}
		} else if json.Valid(data) {
			t.Fatalf("Redact refused valid JSON: %v", err)
		}
		m, err := a.Alert(data)
		if err != nil {
			if !errors.Is(err, trailalert.ErrMalformed) && !errors.Is(err, trailalert.ErrNotCloudTrail) &&
				!errors.Is(err, trailalert.ErrMissingField) && !errors.Is(err, trailalert.ErrInvalidField) {
				t.Fatalf("error %v is not one of the sentinels", err)
			}
			return
		}
		checkInvariants(t, "fuzz", m)
		if m.Truncated {
			return
		}
		const head = "Event (sensitive fields redacted):\n"
		excerpt := m.Body[strings.Index(m.Body, head)+len(head):]
		var doc any
		if err := json.Unmarshal([]byte(excerpt), &doc); err != nil {
			t.Fatalf("untruncated excerpt is not JSON: %v", err)
		}
		// The one-pass redact-and-indent must equal json.Indent of the compact redaction.
		compact, _, _ := red.Redact(data)
		var want bytes.Buffer
		if err := json.Indent(&want, compact, "", "  "); err != nil {
			t.Fatal(err)
		}
		if excerpt != want.String()+"\n" {
			t.Fatalf("excerpt differs from json.Indent:\n%q\n%q", excerpt, want.String())
		}
		if vals, _ := trailalerttest.CollectSensitive(doc, red); len(vals) > 0 {
			for _, v := range vals {
				if v != trailalert.RedactedMarker {
					t.Fatalf("sensitive value %q left in the excerpt", v)
				}
			}
		}
	})
}
