package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Record is one call the sandbox answered: a wire request from a client, or an internal call one
// emulated service made to another (Internal, for example Secrets Manager invoking a rotation
// Lambda). Bodies are kept whole so a test can assert on them and scan them for secrets.
type Record struct {
	Seq          int       `json:"seq"`
	Time         time.Time `json:"time"` // sandbox clock
	RequestID    string    `json:"requestId"`
	Service      string    `json:"service"`
	Operation    string    `json:"operation"`
	Protocol     string    `json:"protocol"` // json, query, rest, internal
	Method       string    `json:"method,omitempty"`
	Path         string    `json:"path,omitempty"`
	RequestBody  []byte    `json:"-"`
	Status       int       `json:"status"`
	ResponseBody []byte    `json:"-"`
	// ErrorCode is the exception name sent, empty on success.
	ErrorCode string `json:"errorCode,omitempty"`
	// Injected names the fault rule kind that produced or delayed this answer, if any.
	Injected string `json:"injected,omitempty"`
	Internal bool   `json:"internal,omitempty"`
	// Caller is the principal whose sandbox-issued credentials signed the call (Call.Caller);
	// empty for other callers.
	Caller string `json:"caller,omitempty"`
}

// MarshalJSON writes the bodies as text, so the admin dump is readable.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	return json.Marshal(struct {
		plain
		Request  string `json:"request"`
		Response string `json:"response"`
	}{plain(r), string(r.RequestBody), string(r.ResponseBody)})
}

// Recorder keeps every record in order, plus named extra sources of bytes (function logs,
// environments) that secret scans also cover. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	records []Record
	sinks   map[string]*bytes.Buffer
	sources map[string]func() []byte
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{sinks: map[string]*bytes.Buffer{}, sources: map[string]func() []byte{}}
}

// Add appends r, numbering it, and returns the stored copy.
func (rc *Recorder) Add(r Record) Record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r.Seq = len(rc.records) + 1
	rc.records = append(rc.records, r)
	return r
}

// Reset forgets every record and sink's bytes (sources stay registered).
func (rc *Recorder) Reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.records = nil
	for _, b := range rc.sinks {
		b.Reset()
	}
}

// Records returns the records of service and operation; "" or "*" matches any.
func (rc *Recorder) Records(service, operation string) []Record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Record
	for _, r := range rc.records {
		if matches(service, r.Service) && matches(operation, r.Operation) {
			out = append(out, r)
		}
	}
	return out
}

// Count is len(Records(service, operation)).
func (rc *Recorder) Count(service, operation string) int { return len(rc.Records(service, operation)) }

// Writer returns a writer whose bytes are kept under name and covered by Scan (for example a
// function's stdout and stderr, or a logger's output). Writers with the same name share a buffer.
func (rc *Recorder) Writer(name string) io.Writer {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	b, ok := rc.sinks[name]
	if !ok {
		b = &bytes.Buffer{}
		rc.sinks[name] = b
	}
	return sinkWriter{rc: rc, b: b}
}

type sinkWriter struct {
	rc *Recorder
	b  *bytes.Buffer
}

func (w sinkWriter) Write(p []byte) (int, error) {
	w.rc.mu.Lock()
	defer w.rc.mu.Unlock()
	return w.b.Write(p)
}

// AddSource registers a function whose bytes Scan also covers, read at scan time (for example the
// environment variables of every registered Lambda function).
func (rc *Recorder) AddSource(name string, f func() []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.sources[name] = f
}

// Finding is one place a secret was found. It never holds the secret itself: Secret is the index
// of the secret in the Scan arguments, so a failing test does not print the value.
type Finding struct {
	Secret   int    `json:"secret"`
	Where    string `json:"where"`
	Encoding string `json:"encoding"` // raw, json, json-in-json, url, base64
}

func (f Finding) String() string {
	return fmt.Sprintf("secret #%d found (%s) in %s", f.Secret, f.Encoding, f.Where)
}

// Scan looks for each secret in every recorded request and response body, every sink and every
// source, in the forms a secret takes on the wire: raw, JSON-escaped (once, or twice for JSON
// inside a JSON string), URL-encoded and base64 (of the value alone).
// Secrets shorter than 4 bytes are ignored (they would match by chance).
func (rc *Recorder) Scan(secrets ...string) []Finding {
	return rc.ScanExcept(nil, secrets...)
}

// Part names one half of a recorded call.
type Part string

// The parts of a record.
const (
	PartRequest  Part = "request"
	PartResponse Part = "response"
)

// ScanExcept is Scan, skipping the record parts for which allowed returns true: the channels
// whose purpose is to carry secret values (see SecretChannels). A nil allowed skips nothing.
func (rc *Recorder) ScanExcept(allowed func(r Record, p Part) bool, secrets ...string) []Finding {
	type blob struct {
		where string
		data  []byte
	}
	rc.mu.Lock()
	var blobs []blob
	for _, r := range rc.records {
		label := fmt.Sprintf("record %d (%s %s)", r.Seq, r.Service, r.Operation)
		for _, p := range []struct {
			part Part
			data []byte
		}{{PartRequest, r.RequestBody}, {PartResponse, r.ResponseBody}} {
			if allowed == nil || !allowed(r, p.part) {
				blobs = append(blobs, blob{label + " " + string(p.part), p.data})
			}
		}
	}
	names := make([]string, 0, len(rc.sinks))
	for n := range rc.sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		blobs = append(blobs, blob{"log " + n, bytes.Clone(rc.sinks[n].Bytes())})
	}
	srcs := make(map[string]func() []byte, len(rc.sources))
	for n, f := range rc.sources {
		srcs[n] = f
	}
	rc.mu.Unlock()
	names = names[:0]
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		blobs = append(blobs, blob{"source " + n, srcs[n]()})
	}

	type pattern struct {
		secret int
		enc    encoded
	}
	var patterns []pattern
	for i, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, enc := range encodings(s) {
			patterns = append(patterns, pattern{i, enc})
		}
	}
	forms := make([]string, len(patterns))
	for i, p := range patterns {
		forms[i] = p.enc.form
	}
	m := newMatcher(forms)
	found := make([][]bool, len(blobs)) // found[blob][pattern]
	for bi, b := range blobs {
		found[bi] = m.find(b.data)
	}
	var out []Finding
	for pi, p := range patterns {
		for bi, b := range blobs {
			if found[bi][pi] {
				out = append(out, Finding{Secret: p.secret, Where: b.where, Encoding: p.enc.name})
			}
		}
	}
	return out
}

// matcher finds which of many patterns (each at least 4 bytes) occur in a text in one pass over
// it, where a bytes.Contains per pattern would read the text once per pattern: a demo's records,
// logs and sources run to megabytes, and its secret values times their encodings to hundreds of
// patterns. Each text position is first checked against a bitmap of the patterns' first two
// bytes, then against the patterns that start with the position's four bytes.
type matcher struct {
	forms []string
	pair  [1 << 16 / 64]uint64 // first two bytes of some pattern
	quad  map[uint32][]int     // patterns by their first four bytes
}

func newMatcher(forms []string) *matcher {
	m := &matcher{forms: forms, quad: map[uint32][]int{}}
	for i, f := range forms {
		p := uint32(f[0])<<8 | uint32(f[1])
		m.pair[p/64] |= 1 << (p % 64)
		q := uint32(f[0])<<24 | uint32(f[1])<<16 | uint32(f[2])<<8 | uint32(f[3])
		m.quad[q] = append(m.quad[q], i)
	}
	return m
}

// find reports, for each pattern, whether it occurs in data.
func (m *matcher) find(data []byte) []bool {
	found := make([]bool, len(m.forms))
	for i := 0; i+4 <= len(data); i++ {
		p := uint32(data[i])<<8 | uint32(data[i+1])
		if m.pair[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		q := p<<16 | uint32(data[i+2])<<8 | uint32(data[i+3])
		for _, pi := range m.quad[q] {
			if !found[pi] && bytes.HasPrefix(data[i:], []byte(m.forms[pi])) {
				found[pi] = true
			}
		}
	}
	return found
}

type encoded struct{ name, form string }

// encodings lists the distinct wire forms of s.
func encodings(s string) []encoded {
	forms := []encoded{
		{"raw", s},
		{"json", jsonEscape(s)},
		// A JSON document inside a JSON string (an EventBridge Detail, a SecretString) escapes twice.
		{"json-in-json", jsonEscape(jsonEscape(s))},
		{"url", url.QueryEscape(s)},
		{"base64", strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(s)), "=")},
	}
	seen := map[string]bool{}
	var out []encoded
	for _, f := range forms {
		if !seen[f.form] {
			seen[f.form] = true
			out = append(out, f)
		}
	}
	return out
}

func jsonEscape(s string) string {
	j, _ := json.Marshal(s)
	return string(j[1 : len(j)-1])
}

func matches(pattern, v string) bool { return pattern == "" || pattern == "*" || pattern == v }
