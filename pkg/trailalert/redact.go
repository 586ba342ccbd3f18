package trailalert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// RedactedMarker replaces the value of every sensitive field, and every copy of such a value found
// in another string of the event.
const RedactedMarker = "[REDACTED]"

// DefaultSensitiveFields mark field names whose values must never be published or logged. Each
// entry is a marker; see Redactor for how a field name is matched against the markers. Why each
// is here:
//
//   - "password", "passwd", "pwd", "passphrase": passwords by any spelling (masterUserPassword,
//     DB_PASSWORD, basicAuthParameters.password, LDAP_PASSWD, MYSQL_PWD, a key's passphrase).
//   - "secret": client secrets (Cognito's clientSecret, OAuth clientParameters.clientSecret),
//     shared and signing secrets, secretKey, and Secrets Manager's secretString and secretBinary
//     and IAM's secretAccessKey; secretId, secretArn and secretName only name a secret (below).
//   - "token": authToken (ElastiCache), accessToken, refreshToken and idToken (OAuth, Cognito),
//     sessionToken (STS), GITHUB_TOKEN, CodeBuild's bare token; idempotency and paging tokens
//     (clientRequestToken, nextToken, ...) carry no secret and are listed in nonSecretNames.
//   - "apiKey": API keys (apiKeyValue, STRIPE_API_KEY, apiKeyAuthParameters).
//   - "credential": credentials and credential objects (STS credentials, AppFlow's
//     connectorProfileCredentials, IAM's serviceSpecificCredential); the whole object is
//     redacted, whatever its members are called.
//   - "privateKey", "keyMaterial", "plaintext": private keys, imported KMS key material, and
//     KMS's decrypted plaintext.
var DefaultSensitiveFields = []string{
	"password",
	"passwd",
	"pwd",
	"passphrase",
	"secret",
	"token",
	"apiKey",
	"credential",
	"privateKey",
	"keyMaterial",
	"plaintext",
}

// describingQualifiers are the endings that turn a marker into the name of something that
// describes a credential without holding it: its identifier (secretId, apiKeyArn, credentialId),
// its kind or display name (tokenType, apiKeyName), a policy about it (passwordPolicy,
// minimumPasswordLength, maxPasswordAge, passwordReusePrevention) or its lifecycle
// (passwordLastUsed, clientSecretExpiresAt, refreshTokenValidity, authTokenUpdateStrategy). They
// are compared, normalised, with the whole rest of the name after its last marker, optionally
// after a plural "s" (credentialsId), never as a suffix: "passwordData" (EC2's encrypted Windows
// password) or "secretKey" stay sensitive because "data" and "key" are not listed.
var describingQualifiers = map[string]bool{
	"id": true, "ids": true, "arn": true, "arns": true, "name": true, "names": true,
	"type": true, "types": true, "source": true, "status": true,
	"policy": true, "policies": true, "length": true, "age": true, "reuseprevention": true,
	"lastused": true, "expiresat": true, "validity": true, "validityunits": true, "updatestrategy": true,
}

// nonSecretNames are whole field names (normalised) that contain a default marker but never hold a
// secret. They exempt a name from the default markers only: a marker configured on top of the
// defaults (REDACT_FIELDS) still redacts it, so an operator who lists clientRequestToken gets it
// redacted.
var nonSecretNames = map[string]bool{
	// Idempotency tokens: chosen by the caller to make a retry safe, echoed as version IDs.
	"clientrequesttoken": true, "clienttoken": true, "idempotencytoken": true,
	// Paging tokens: opaque positions in a listing.
	"nexttoken": true, "paginationtoken": true, "continuationtoken": true, "startingtoken": true,
	// CloudTrail's own record fields about how the caller's credentials were issued.
	"sessioncredentialfromconsole": true, "credentialsissuedto": true,
}

// cloudTrailHidden is what CloudTrail itself writes for values it withholds. It is redacted like
// any sensitive value but not hunted for elsewhere: other fields CloudTrail hid keep saying so.
const cloudTrailHidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// minCopyLen is the shortest redacted value that is hunted for in other strings. Shorter ones
// ("1", "true", "admin") would turn unrelated words, numbers and ARNs into markers, and are
// shorter than any credential worth the name; they are still replaced in their own field.
const minCopyLen = 6

// maxQuickSecrets is the most secrets redactWriter.mayHoldSecret looks for one by one.
const maxQuickSecrets = 8

// Redactor replaces the values of sensitive fields in JSON documents, at any depth, in objects
// and arrays, then replaces every copy of a replaced value that another string of the document
// holds (an ARN or resource name built from it, a message quoting it).
//
// A field name is normalised - ASCII letters lower-cased, '_', '-' and ' ' dropped, so
// clientSecret, client_secret, CLIENT-SECRET are one name - and is sensitive when it contains a
// marker (normalised the same way) and what follows the last marker in it is not one of
// describingQualifiers (see there). Names in nonSecretNames are exempt from the default markers.
// Configured markers follow the same rule: "customerRef" also redacts customer_ref and
// CustomerRefs, not customerRefId.
//
// A field named "value" or "parameterValue" is also sensitive when its object marks it: a sibling
// "name", "key", "parameterKey" or "parameterName" whose string is itself a sensitive name
// ({"name":"DB_PASSWORD","value":...}), "isValueSecret": true (EventBridge connections), or
// "type": "SecureString" (SSM parameters).
//
// A sensitive field whose value is null, true or false is left as it is: it holds no secret, and
// flags such as generateSecret or isValueSecret stay readable. Any other value - a string, a
// number, a whole object or array - becomes RedactedMarker. Field names themselves are never
// changed.
type Redactor struct {
	markers []marker
}

type marker struct {
	norm []byte
	// builtin is set for markers of DefaultSensitiveFields, which nonSecretNames exempt from.
	builtin bool
}

// NewRedactor returns a Redactor for exactly the given field-name markers (use
// DefaultSensitiveFields plus your own). Empty markers are refused: they would match every field.
// An entry equal, once normalised, to a default marker behaves as that default one.
func NewRedactor(fields []string) (*Redactor, error) {
	builtin := map[string]bool{}
	for _, f := range DefaultSensitiveFields {
		builtin[string(normalizeKey(nil, []byte(f)))] = true
	}
	r := &Redactor{}
	for i, f := range fields {
		m := normalizeKey(nil, []byte(strings.TrimSpace(f)))
		if len(m) == 0 {
			return nil, fmt.Errorf("sensitive field %d (%q) is empty after normalising: remove it from the list", i, f)
		}
		r.markers = append(r.markers, marker{norm: m, builtin: builtin[string(m)]})
	}
	return r, nil
}

// Sensitive reports whether a field named name is redacted wherever it appears, whatever its
// object holds (the context rules of Redactor aside).
func (r *Redactor) Sensitive(name string) bool {
	var buf [64]byte
	return r.matches(normalizeKey(buf[:0], []byte(name)))
}

// matches decides on a normalised field name.
func (r *Redactor) matches(norm []byte) bool {
	// The end of the marker occurrence that ends last in norm, among all markers and among the
	// configured ones only (for names in nonSecretNames).
	last, lastConfigured := -1, -1
	for _, m := range r.markers {
		// bytes.Contains first: it is much faster than LastIndex, and most names hold no marker.
		if !bytes.Contains(norm, m.norm) {
			continue
		}
		end := bytes.LastIndex(norm, m.norm) + len(m.norm)
		last = max(last, end)
		if !m.builtin {
			lastConfigured = max(lastConfigured, end)
		}
	}
	if last >= 0 && nonSecretNames[string(norm)] {
		last = lastConfigured
	}
	if last < 0 {
		return false
	}
	rest := norm[last:]
	if len(rest) == 0 {
		return true
	}
	if describingQualifiers[string(rest)] {
		return false
	}
	return !(rest[0] == 's' && describingQualifiers[string(rest[1:])])
}

// Redact returns src, compacted, with every sensitive field's value replaced by RedactedMarker
// and every copy of such a value in another string replaced too, and the number of field values
// replaced (copies not counted). Key order and all other values are kept as they were.
func (r *Redactor) Redact(src []byte) ([]byte, int, error) {
	if !json.Valid(src) {
		return nil, 0, fmt.Errorf("%w: redact: input is not valid JSON", ErrMalformed)
	}
	res := r.redact(src, false)
	return res.out, res.fields, nil
}

// redaction is the result of one redaction of a valid document.
type redaction struct {
	out []byte
	// fields counts the field values replaced, copies the other strings in which copies of them
	// were replaced.
	fields, copies int
}

// redact redacts src, which must be valid JSON, compact or (indent) laid out as
// json.Indent(dst, src, "", "  ") would. It makes two passes: the first finds the sensitive
// values (so a value's object can be read in full before deciding on it, and every copy is
// known before any string is written), the second writes.
func (r *Redactor) redact(src []byte, indent bool) redaction {
	f := finder{r: r, in: src}
	f.value(f.ws(0))
	w := redactWriter{in: src, out: make([]byte, 0, len(src)+len(src)/2), indent: indent, hide: f.hide}
	if len(f.secrets) > 0 {
		w.scrub = newScrubber(f.secrets)
		for _, s := range f.secrets {
			w.secrets = append(w.secrets, []byte(s))
		}
	}
	w.value(w.ws(0))
	return redaction{out: w.out, fields: w.n, copies: w.copies}
}

// finder is the first pass: it records where the sensitive values are and what they hold.
type finder struct {
	r  *Redactor
	in []byte
	// hide maps the start of each value to redact to its end.
	hide map[int]int
	// secrets are the distinct strings (and number literals) inside the values to redact that
	// are worth hunting for elsewhere (see minCopyLen).
	secrets []string
	seen    map[string]bool // secrets, for deduplication in constant time
	key     [64]byte
}

func (f *finder) ws(i int) int { return skipWS(f.in, i) }

// value scans the value at i and returns the index after it.
func (f *finder) value(i int) int {
	switch f.in[i] {
	case '{':
		return f.object(i)
	case '[':
		i = f.ws(i + 1)
		for f.in[i] != ']' {
			if f.in[i] == ',' {
				i = f.ws(i + 1)
			}
			i = f.ws(f.value(i))
		}
		return i + 1
	default:
		return skipValue(f.in, i)
	}
}

// Member kinds that matter to the context rules of Redactor: a field named only "value" is
// redacted when its object says what it is.
const (
	plainMember = iota
	// pairNameMember names the value of the same object: ECS and CodeBuild environment entries
	// {"name","value"}, EventBridge connection parameters and tags {"key","value"},
	// CloudFormation parameters {"parameterKey","parameterValue"}. A sensitive name makes the
	// value sensitive.
	pairNameMember
	// pairValueMember is the value those objects hold.
	pairValueMember
	// isValueSecretMember is EventBridge's own flag on connection parameters.
	isValueSecretMember
	// typeMember is SSM's parameter type ("SecureString").
	typeMember
)

// memberKind classifies a normalised member name (a switch: no hashing for every name).
func memberKind(norm []byte) int {
	switch string(norm) {
	case "name", "key", "parameterkey", "parametername":
		return pairNameMember
	case "value", "parametervalue":
		return pairValueMember
	case "isvaluesecret":
		return isValueSecretMember
	case "type":
		return typeMember
	}
	return plainMember
}

// object scans the object at i, deciding on each member by its name and then on its value
// members by what the whole object says, and returns the index after it.
func (f *finder) object(i int) int {
	i = f.ws(i + 1)
	var values [][2]int // pairValueMember members, start and end
	marked := false     // the object says its value members are secret
	for f.in[i] != '}' {
		if f.in[i] == ',' {
			i = f.ws(i + 1)
		}
		end := stringEnd(f.in, i)
		norm, ok := f.normKey(f.in[i:end])
		sensitive := !ok || f.r.matches(norm)
		kind := memberKind(norm)
		v := f.ws(f.ws(end) + 1) // past ':'
		var vEnd int
		if sensitive && holdsValue(f.in[v]) {
			vEnd = skipValue(f.in, v)
			f.mark(v, vEnd)
		} else {
			vEnd = f.value(v)
		}
		switch kind {
		case pairNameMember:
			if s, ok := stringValue(f.in[v:vEnd]); ok && f.r.Sensitive(s) {
				marked = true
			}
		case pairValueMember:
			values = append(values, [2]int{v, vEnd})
		case isValueSecretMember:
			marked = marked || string(f.in[v:vEnd]) == "true"
		case typeMember:
			if s, ok := stringValue(f.in[v:vEnd]); ok && strings.EqualFold(s, "SecureString") {
				marked = true
			}
		}
		i = f.ws(vEnd)
	}
	if marked {
		for _, v := range values {
			if holdsValue(f.in[v[0]]) {
				f.mark(v[0], v[1])
			}
		}
	}
	return i + 1
}

// normKey returns the normalised form of a quoted key as it appears in the document (valid until
// the next call), and false when an escaped key cannot be decoded (the caller fails closed).
func (f *finder) normKey(quoted []byte) ([]byte, bool) {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		var s string
		if json.Unmarshal(quoted, &s) != nil {
			return nil, false
		}
		raw = []byte(s)
	}
	return normalizeKey(f.key[:0], raw), true
}

// mark records the value in [start, end) for redaction and collects what it holds.
func (f *finder) mark(start, end int) {
	if f.hide == nil {
		f.hide = map[int]int{}
	}
	f.hide[start] = end
	f.collect(start)
}

// collect adds the strings and numbers of the value at i (not the names of its members) to
// f.secrets, and returns the index after the value.
func (f *finder) collect(i int) int {
	switch c := f.in[i]; {
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = f.ws(i + 1)
		for f.in[i] != closing {
			if f.in[i] == ',' {
				i = f.ws(i + 1)
			}
			if closing == '}' {
				i = f.ws(f.ws(stringEnd(f.in, i)) + 1) // past the member's name and ':'
			}
			i = f.ws(f.collect(i))
		}
		return i + 1
	case c == '"':
		end := stringEnd(f.in, i)
		if s, ok := stringValue(f.in[i:end]); ok {
			f.addSecret(s)
		}
		return end
	default:
		end := scalarEnd(f.in, i)
		if holdsValue(c) { // a number
			f.addSecret(string(f.in[i:end]))
		}
		return end
	}
}

func (f *finder) addSecret(s string) {
	if len(s) < minCopyLen || s == cloudTrailHidden || s == RedactedMarker || f.seen[s] {
		return
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[s] = true
	f.secrets = append(f.secrets, s)
}

// holdsValue reports whether the value starting with c can carry a secret: anything but null,
// true and false.
func holdsValue(c byte) bool { return c != 'n' && c != 't' && c != 'f' }

// stringValue decodes a quoted JSON string; ok is false for any other value.
func stringValue(quoted []byte) (string, bool) {
	if len(quoted) < 2 || quoted[0] != '"' {
		return "", false
	}
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	var s string
	return s, json.Unmarshal(quoted, &s) == nil
}

// redactWriter is the second pass: it copies a JSON document already known to be valid,
// replacing the values the finder marked and the copies of their contents. It relies on validity:
// every index it reads is in bounds for valid JSON.
type redactWriter struct {
	in   []byte
	out  []byte
	hide map[int]int
	// secrets (as bytes, for a quick look) and scrub (nil when there are none) replace copies
	// of hidden values in strings.
	secrets [][]byte
	scrub   *scrubber
	// n counts hidden values written as RedactedMarker, copies the strings scrubbed.
	n, copies int
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

func (w *redactWriter) ws(i int) int { return skipWS(w.in, i) }

// value copies the value at i and returns the index after it.
func (w *redactWriter) value(i int) int {
	switch w.in[i] {
	case '{':
		return w.container(i, '}', w.member)
	case '[':
		return w.container(i, ']', w.value)
	case '"':
		return w.str(i)
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

// member copies the object member (key, colon and value) at i, writing RedactedMarker for a value
// the finder marked, and returns the index after it.
func (w *redactWriter) member(i int) int {
	end := stringEnd(w.in, i)
	w.out = append(w.out, w.in[i:end]...)
	w.out = append(w.out, ':')
	if w.indent {
		w.out = append(w.out, ' ')
	}
	i = w.ws(w.ws(end) + 1) // past ':'
	if vEnd, ok := w.hide[i]; ok {
		w.out = append(w.out, `"`+RedactedMarker+`"`...)
		w.n++
		return vEnd
	}
	return w.value(i)
}

// str copies the string at i, replacing copies of hidden values in it, and returns the index
// after it. The match is on the decoded string, so an escape (\u0041, \/) hides no copy.
func (w *redactWriter) str(i int) int {
	end := stringEnd(w.in, i)
	quoted := w.in[i:end]
	if w.scrub == nil || !w.mayHoldSecret(quoted) {
		w.out = append(w.out, quoted...)
		return end
	}
	s, _ := stringValue(quoted)
	scrubbed := w.scrub.replace(s)
	if scrubbed == s {
		w.out = append(w.out, quoted...)
		return end
	}
	w.copies++
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep '<', '>' and '&' readable; the body is plain text
	_ = enc.Encode(scrubbed) // a string always encodes
	w.out = append(w.out, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	return end
}

// mayHoldSecret is a cheap test that rules out most strings before decoding: an unescaped string
// holds a secret only if its bytes do. Past a few secrets, looking for each one in turn costs more
// than the Replacer's single pass (a document with thousands of sensitive values would take time
// quadratic in its size), so the answer is yes and the Replacer decides.
func (w *redactWriter) mayHoldSecret(quoted []byte) bool {
	raw := quoted[1 : len(quoted)-1]
	if len(w.secrets) > maxQuickSecrets || bytes.IndexByte(raw, '\\') >= 0 {
		return true
	}
	for _, s := range w.secrets {
		if bytes.Contains(raw, s) {
			return true
		}
	}
	return false
}

// scrubber replaces copies of secrets in a string with RedactedMarker, in time linear in the
// string's length whatever the secrets (an event is only 256 KB, but whoever makes the API call
// chooses much of it, and must not be able to stall the relay).
type scrubber struct {
	// short replaces secrets of up to maxTrieSecret bytes in one pass. Given several that match
	// at one place, strings.Replacer takes the one passed first: they are passed longest first,
	// so a secret that contains another is replaced whole.
	short *strings.Replacer
	// long are the longer secrets, longest first, each replaced in a pass of its own: a
	// Replacer compares up to a whole secret at every position of the string.
	long []string
}

// maxTrieSecret bounds the work per string position of scrubber.short.
const maxTrieSecret = 256

func newScrubber(secrets []string) *scrubber {
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	s := &scrubber{}
	var pairs []string
	for _, x := range secrets {
		if len(x) > maxTrieSecret {
			s.long = append(s.long, x)
		} else {
			pairs = append(pairs, x, RedactedMarker)
		}
	}
	if len(pairs) > 0 {
		s.short = strings.NewReplacer(pairs...)
	}
	return s
}

// replace returns x with every copy of a secret replaced. A secret made partly of RedactedMarker's
// own characters ("ED]abc") may reappear next to a marker written for another secret; a
// credential has no reason to look like that, and going round again could loop for ever.
func (s *scrubber) replace(x string) string {
	for _, l := range s.long {
		x = strings.ReplaceAll(x, l, RedactedMarker)
	}
	if s.short != nil {
		x = s.short.Replace(x)
	}
	return x
}

// skipWS returns the index of the first non-space byte of in at or after i.
func skipWS(in []byte, i int) int {
	for i < len(in) {
		switch in[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
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
