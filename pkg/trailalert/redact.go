package trailalert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// RedactedMarker replaces the value of every sensitive field.
const RedactedMarker = "[REDACTED]"

// DefaultSensitiveFields mark field names whose values must never be published or logged. A field
// is sensitive when its name, lower-cased and with '_', '-' and ' ' removed, contains one of these
// (lower-cased the same way): "password" covers keyStorePassword and NewPassword, "secretString"
// covers SecretString and secret_string.
var DefaultSensitiveFields = []string{
	"password",
	"passphrase",
	"secretString",
	"secretBinary",
	"privateKey",
	"plaintext",
	"sessionToken",
	"secretAccessKey",
	"keyMaterial",
}

// Redactor replaces the values of sensitive fields in JSON documents, at any depth, in objects
// and arrays. A sensitive field whose value is null is left null (it holds no secret).
type Redactor struct {
	markers [][]byte
}

// NewRedactor returns a Redactor for exactly the given field-name markers (use
// DefaultSensitiveFields plus your own). Empty markers are refused: they would match every field.
func NewRedactor(fields []string) (*Redactor, error) {
	r := &Redactor{}
	for i, f := range fields {
		m := normalizeKey(nil, []byte(strings.TrimSpace(f)))
		if len(m) == 0 {
			return nil, fmt.Errorf("sensitive field %d (%q) is empty after normalising: remove it from the list", i, f)
		}
		r.markers = append(r.markers, m)
	}
	return r, nil
}

// Sensitive reports whether a field named name is redacted.
func (r *Redactor) Sensitive(name string) bool {
	var buf [64]byte
	return r.matches(normalizeKey(buf[:0], []byte(name)))
}

func (r *Redactor) matches(norm []byte) bool {
	for _, m := range r.markers {
		if bytes.Contains(norm, m) {
			return true
		}
	}
	return false
}

// Redact returns src, compacted, with every sensitive field's value replaced by RedactedMarker,
// and the number of values replaced. Key order and all other values are kept as they were.
func (r *Redactor) Redact(src []byte) ([]byte, int, error) {
	if !json.Valid(src) {
		return nil, 0, fmt.Errorf("%w: redact: input is not valid JSON", ErrMalformed)
	}
	w := redactWriter{r: r, in: src, out: make([]byte, 0, len(src))}
	w.value(w.ws(0))
	return w.out, w.n, nil
}

// redactWriter copies a JSON document already known to be valid, replacing sensitive values.
// It relies on validity: every index it reads is in bounds for valid JSON.
type redactWriter struct {
	r   *Redactor
	in  []byte
	out []byte
	n   int
	key [64]byte
	// indent, when set, writes the layout of json.Indent(dst, src, "", "  ") instead of compact.
	indent bool
	depth  int
}

// newline starts a new line at the current depth (indent mode only).
func (w *redactWriter) newline() {
	if !w.indent {
		return
	}
	w.out = append(w.out, '\n')
	for i := 0; i < w.depth; i++ {
		w.out = append(w.out, ' ', ' ')
	}
}

func (w *redactWriter) ws(i int) int {
	for i < len(w.in) {
		switch w.in[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// value copies the value at i and returns the index after it.
func (w *redactWriter) value(i int) int {
	switch w.in[i] {
	case '{':
		return w.container(i, '}', w.member)
	case '[':
		return w.container(i, ']', w.value)
	case '"':
		end := stringEnd(w.in, i)
		w.out = append(w.out, w.in[i:end]...)
		return end
	default: // number, true, false, null
		j := scalarEnd(w.in, i)
		w.out = append(w.out, w.in[i:j]...)
		return j
	}
}

// container copies the object or array opening at i, whose closing bracket is end, and returns
// the index after it; each member (an object's key and value, an array's element) is copied by
// member, which returns the index after it.
func (w *redactWriter) container(i int, end byte, member func(int) int) int {
	w.out = append(w.out, w.in[i])
	i = w.ws(i + 1)
	if w.in[i] == end {
		w.out = append(w.out, end)
		return i + 1
	}
	w.depth++
	w.newline()
	for w.in[i] != end {
		if w.in[i] == ',' {
			w.out = append(w.out, ',')
			w.newline()
			i = w.ws(i + 1)
		}
		i = w.ws(member(i))
	}
	w.depth--
	w.newline()
	w.out = append(w.out, end)
	return i + 1
}

// member copies the object member (key, colon and value) at i, redacting the value when the key
// is sensitive, and returns the index after it.
func (w *redactWriter) member(i int) int {
	end := stringEnd(w.in, i)
	key := w.in[i:end]
	w.out = append(w.out, key...)
	w.out = append(w.out, ':')
	if w.indent {
		w.out = append(w.out, ' ')
	}
	i = w.ws(w.ws(end) + 1) // past ':'
	if w.sensitiveKey(key) && !bytes.HasPrefix(w.in[i:], []byte("null")) {
		w.out = append(w.out, `"`+RedactedMarker+`"`...)
		w.n++
		return skipValue(w.in, i)
	}
	return w.value(i)
}

// sensitiveKey decides on a quoted key as it appears in the document.
func (w *redactWriter) sensitiveKey(quoted []byte) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		var s string
		if json.Unmarshal(quoted, &s) != nil {
			return true // undecodable key: fail closed
		}
		raw = []byte(s)
	}
	return w.r.matches(normalizeKey(w.key[:0], raw))
}

func isDelim(b byte) bool {
	switch b {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// stringEnd returns the index after the closing quote of the string starting at i.
func stringEnd(in []byte, i int) int {
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(in)
}

// skipValue returns the index after the value starting at i.
func skipValue(in []byte, i int) int {
	switch in[i] {
	case '"':
		return stringEnd(in, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(in); j++ {
			switch in[j] {
			case '"':
				j = stringEnd(in, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(in)
	default:
		return scalarEnd(in, i)
	}
}

// scalarEnd returns the index after the number, true, false or null starting at i.
func scalarEnd(in []byte, i int) int {
	for i < len(in) && !isDelim(in[i]) {
		i++
	}
	return i
}

// normalizeKey lower-cases ASCII letters and drops '_', '-' and ' ', appending to dst.
func normalizeKey(dst, key []byte) []byte {
	for _, c := range key {
		switch {
		case c == '_' || c == '-' || c == ' ':
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
