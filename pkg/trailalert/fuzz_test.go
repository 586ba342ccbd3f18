package trailalert_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

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
		`{"detail-type":"AWS API Call via CloudTrail","source":"aws.ssm","account":"1","region":"r","detail":{"eventSource":"ssm.amazonaws.com","eventName":"PutParameter","eventID":"2","eventTime":"2026-01-01T00:00:00Z","requestParameters":{"name":"secret-copy-1","value":"secret-copy-1","type":"SecureString","env":[{"name":"DB_PASSWORD","value":{"v":"x"}},{"key":"a","isValueSecret":true,"value":"zz"}]}}}`,
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

// FuzzPlantedSecret plants a secret under a fuzzed field name somewhere in a recorded event, and
// copies of it where the subject and summary read (the principal, a request parameter the
// resource summary lists, a resource ARN, the error message). Whenever the name is sensitive, the
// secret must appear nowhere in the message: subject, body or attributes. Its seed corpus runs in
// plain go test.
func FuzzPlantedSecret(f *testing.F) {
	fx := fixtures(f)
	names := make([]string, 0, len(fx))
	for name := range fx {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, key := range []string{"clientSecret", "DB_PASSWORD", "x-auth-token", "apiKeyValue", "credentials",
		"MYSQL_PWD", "PrivateKeyPem", "token", "secret_string", "refreshToken", "sessionToken"} {
		f.Add(byte(i*7), key, "Zx9-planted-"+strings.Repeat("q", i)+"-value")
	}
	a := trailalerttest.NewAlerter(f)
	red, err := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pick byte, key, secret string) {
		if len(key) > 128 || !utf8.ValidString(key) || !red.Sensitive(key) || !plantable(secret) || strings.Contains(key, secret) {
			return
		}
		raw := fx[names[int(pick)%len(names)]]
		where := int(pick) / len(names) % 3
		// The same plant with a value that cannot overlap the secret: what it shows is text the
		// plant and the template put there whatever the value. A secret found in it (a fragment of
		// the ARN prefix, say) proves nothing.
		control, err := a.Alert(plant(t, raw, where, key, strings.Repeat("#", len(secret))))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(everything(control), secret) {
			return
		}
		m, err := a.Alert(plant(t, raw, where, key, secret))
		if err != nil {
			t.Fatalf("the planted event was refused: %v", err)
		}
		checkInvariants(t, "planted", m)
		if all := everything(m); strings.Contains(all, secret) {
			t.Fatalf("planted secret %q under %q reached the message:\n%s", secret, key, all)
		}
	})
}

// plantable limits fuzzed secrets to what a credential looks like: 8 to 256 characters of
// letters, digits and ._:/+=-, with at least one letter and one digit. Without spaces, brackets or
// quotes, the secret cannot be made up of RedactedMarker and the text around it, nor hide
// behind a JSON escape.
func plantable(s string) bool {
	if len(s) < 8 || len(s) > 256 {
		return false
	}
	var letter, digit bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9':
			digit = true
		case strings.IndexByte("._:/+=-", c) >= 0:
		default:
			return false
		}
	}
	return letter && digit
}

// plant returns raw with secret under key (where: 0 in requestParameters, 1 in an object in a
// list in responseElements, 2 nested in additionalEventData), and copies of secret as the IAM
// user's name and ARN, the roleName request parameter, a resource ARN and inside the error message.
func plant(t *testing.T, raw []byte, where int, key, secret string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	params, ok := detail["requestParameters"].(map[string]any)
	if !ok {
		params = map[string]any{}
		detail["requestParameters"] = params
	}
	switch where {
	case 0:
		params[key] = secret
	case 1:
		detail["responseElements"] = map[string]any{"items": []any{map[string]any{"id": "item-1", key: secret}}}
	default:
		detail["additionalEventData"] = map[string]any{"config": map[string]any{"entries": []any{1, map[string]any{key: secret}}}}
	}
	params["roleName"] = secret
	detail["userIdentity"] = map[string]any{"type": "IAMUser", "principalId": "AIDACKCEVSQ6C2EXAMPLE",
		"arn": "arn:aws:iam::111122223333:user/" + secret, "accountId": "111122223333", "userName": secret}
	detail["resources"] = []any{map[string]any{"ARN": "arn:aws:iam::111122223333:role/" + secret, "type": "AWS::IAM::Role"}}
	detail["errorCode"] = "ValidationException"
	detail["errorMessage"] = "Value at 'roleName' (" + secret + ") failed to satisfy constraint"
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// everything is what SNS carries for m: the subject, the body and every attribute.
func everything(m *trailalert.Message) string {
	return m.Subject + "\n" + m.Body + "\n" + fmt.Sprint(m.Attributes)
}
