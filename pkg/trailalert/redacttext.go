package trailalert

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// Free-form texts (a Step Functions error's cause, a Lambda function's errorMessage) have no
// field names to go by. These patterns find where such a text names a credential: a name the
// Redactor finds sensitive followed by ':' or '=' (password=..., "apiKey": "...",
// X-Amz-Security-Token=...), the password of a URL's user information or of a Go MySQL driver
// DSN (scheme://user:PASSWORD@host, user:PASSWORD@tcp(host)), and an HTTP Bearer token. They are
// compiled on first use, so a cold start of the relay does not pay for them.
var (
	textKey      = lazyregexp.New(`([A-Za-z][A-Za-z0-9_.\-]*)["']?[ \t]*[:=][ \t]*`)
	textUserinfo = lazyregexp.New(`://[^/\s:@"']+:([^/\s@"']+)@`)
	textDSN      = lazyregexp.New(`(?:^|[\s"'(=,])[^\s:@/"'(),]+:([^\s@/"']+)@(?:tcp|unix)\(`)
	textBearer   = lazyregexp.New(`(?i)\bbearer[ \t]+([A-Za-z0-9._~+/=\-]{6,})`)
)

// textValueEnd are the bytes that end an unquoted value after a sensitive name: only white space
// and quotes, since a password may hold any punctuation ('&', ')', ';'). A value that runs on
// (the rest of a URL's query string) is hidden whole: the safe side.
const textValueEnd = " \t\r\n\"'"

// textValueTrail is punctuation a value may be followed by in prose ("(password=x)", "token=x.");
// copies are looked for without it too.
const textValueTrail = ")]}>.,;:"

// RedactText redacts a free-form text. A text that is a JSON object or array is redacted as a
// document (see Redactor), and each string left in it as text below; it comes back compact, its
// members sorted by name. In other text, the value after a sensitive name followed by ':' or '='
// (quoted or up to a space or delimiter), the password of a URL's or MySQL DSN's user
// information, and a Bearer token are replaced by RedactedMarker, and so is every other copy in
// the text of a value so replaced. It returns the text and how many values it replaced.
func (r *Redactor) RedactText(s string) (string, int) {
	var tr textRedaction
	out := tr.redact(r, s)
	return tr.scrub(out), tr.n
}

// textRedaction redacts texts and collects what it hid, so copies elsewhere can be hidden too.
type textRedaction struct {
	n       int
	secrets []string
	seen    map[string]bool
}

func (tr *textRedaction) hide(v string) {
	tr.n++
	tr.hunt(v)
	if t := strings.TrimRight(v, textValueTrail); t != v {
		tr.hunt(t)
	}
}

// hunt adds v to the values whose copies scrub replaces.
func (tr *textRedaction) hunt(v string) {
	if len(v) < minCopyLen || v == RedactedMarker || tr.seen[v] {
		return
	}
	if tr.seen == nil {
		tr.seen = map[string]bool{}
	}
	tr.seen[v] = true
	tr.secrets = append(tr.secrets, v)
}

// scrub replaces, in s, the copies of every value hidden so far.
func (tr *textRedaction) scrub(s string) string {
	if len(tr.secrets) == 0 {
		return s
	}
	return newScrubber(append([]string(nil), tr.secrets...)).replace(s)
}

// redact redacts one text: as a JSON document when it is an object or an array, else as text.
func (tr *textRedaction) redact(r *Redactor, s string) string {
	if t := strings.TrimSpace(s); t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
		res := r.redact([]byte(t), false)
		tr.n += res.fields
		return tr.document(r, res.out)
	}
	return tr.text(r, s)
}

// document redacts the strings of a redacted JSON document as text and writes it compact.
func (tr *textRedaction) document(r *Redactor, doc []byte) string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return RedactedMarker // cannot happen: doc is the redactor's valid output
	}
	v = tr.walk(r, v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return RedactedMarker
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func (tr *textRedaction) walk(r *Redactor, v any) any {
	switch x := v.(type) {
	case string:
		return tr.text(r, x)
	case map[string]any:
		for k, e := range x {
			x[k] = tr.walk(r, e)
		}
	case []any:
		for i, e := range x {
			x[i] = tr.walk(r, e)
		}
	}
	return v
}

// text redacts plain text.
func (tr *textRedaction) text(r *Redactor, s string) string {
	var b strings.Builder
	last := 0 // s[:last] is written
	for _, m := range textKey.Compiled().FindAllStringSubmatchIndex(s, -1) {
		if m[0] < last || !r.Sensitive(s[m[2]:m[3]]) {
			continue
		}
		start := m[1]
		end := valueEnd(s, start)
		if end <= start {
			continue
		}
		v := s[start:end]
		quote := ""
		if q := v[0]; (q == '"' || q == '\'') && len(v) >= 2 && v[len(v)-1] == q {
			quote, v = string(q), v[1:len(v)-1]
		}
		if v == "" || v == RedactedMarker {
			continue
		}
		tr.hide(v)
		b.WriteString(s[last:start])
		b.WriteString(quote + RedactedMarker + quote)
		last = end
	}
	if last > 0 {
		b.WriteString(s[last:])
		s = b.String()
	}
	for _, re := range []*lazyregexp.Regexp{textUserinfo, textDSN, textBearer} {
		s = replaceGroup(s, re.Compiled(), tr)
	}
	return s
}

// valueEnd returns the end of the value that starts at i: a quoted string with its closing quote,
// else up to the first delimiter.
func valueEnd(s string, i int) int {
	if i >= len(s) {
		return i
	}
	if q := s[i]; q == '"' || q == '\'' {
		if j := strings.IndexByte(s[i+1:], q); j >= 0 {
			return i + 1 + j + 1
		}
		return len(s)
	}
	if j := strings.IndexAny(s[i:], textValueEnd); j >= 0 {
		return i + j
	}
	return len(s)
}

// replaceGroup replaces the first submatch of each match of re with RedactedMarker.
func replaceGroup(s string, re *regexp.Regexp, tr *textRedaction) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		v := s[m[2]:m[3]]
		if v == RedactedMarker {
			continue
		}
		tr.hide(v)
		b.WriteString(s[last:m[2]])
		b.WriteString(RedactedMarker)
		last = m[3]
	}
	b.WriteString(s[last:])
	return b.String()
}
