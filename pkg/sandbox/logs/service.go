package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Principal returns the service principal CloudWatch Logs uses a log group's KMS key as.
func Principal(region string) string { return "logs." + region + ".amazonaws.com" }

// KeyAuthorizer judges CloudWatch Logs' use of the KMS key keyARN for the log group groupARN
// (Sandbox.EnforceIAM sets it); a non-nil error refuses the key.
type KeyAuthorizer func(ctx context.Context, groupARN, keyARN string) error

// Keys resolves a KMS key reference (id, ARN, alias) to its ARN, "" when there is none.
type Keys func(ref string) string

// Event is one log event as stored: its timestamp and ingestion time in milliseconds since the
// epoch, and its message.
type Event struct {
	Timestamp, Ingestion int64
	Message              string
}

// Service is the sandbox's CloudWatch Logs.
type Service struct {
	core.JSONProtocol
	core.Place
	clock core.Clock
	keys  Keys

	mu        sync.Mutex
	groups    map[string]*group
	authorize KeyAuthorizer
}

type group struct {
	name      string
	created   time.Time
	retention int
	kmsKey    string
	tags      map[string]string
	streams   map[string]*stream
}

type stream struct {
	name    string
	created time.Time
	events  []Event
	seq     int
}

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the Region the service answers as.
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account whose log groups these are.
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// New returns a CloudWatch Logs with no log groups; keys resolves CreateLogGroup's kmsKeyId.
func New(clock core.Clock, keys Keys, opts ...Option) *Service {
	s := &Service{JSONProtocol: core.NewJSONProtocol("logs", "Logs_20140328", "1.1"), Place: core.DefaultPlace,
		clock: clock, keys: keys, groups: map[string]*group{}}
	return core.Configure(s, opts)
}

// SetKeyAuthorizer makes CreateLogGroup with a kmsKeyId pass authorize (Sandbox.EnforceIAM).
func (s *Service) SetKeyAuthorizer(authorize KeyAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = authorize
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateLogGroup":     core.Handler(s.createLogGroup),
		"PutRetentionPolicy": core.Handler(s.putRetentionPolicy),
		"DescribeLogGroups":  core.Handler(s.describeLogGroups),
		"DeleteLogGroup":     core.Handler(s.deleteLogGroup),
		"CreateLogStream":    core.Handler(s.createLogStream),
		"DescribeLogStreams": core.Handler(s.describeLogStreams),
		"PutLogEvents":       core.Handler(s.putLogEvents),
		"GetLogEvents":       core.Handler(s.getLogEvents),
		"FilterLogEvents":    core.Handler(s.filterLogEvents),
	}
}

// GroupARN is the ARN of the log group named name (the Service Authorization Reference's
// log-group resource, without the ":*" of Fn::GetAtt Arn).
func (s *Service) GroupARN(name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.Region(), s.Account(), name)
}

// StreamARN is the ARN of the log stream named stream in the log group named group.
func (s *Service) StreamARN(group, stream string) string {
	return s.GroupARN(group) + ":log-stream:" + stream
}

// NameOf returns the log group name a log group ARN (with or without a trailing ":*") names, or
// name itself when it is no ARN.
func NameOf(ref string) string {
	i := strings.Index(ref, ":log-group:")
	if !strings.HasPrefix(ref, "arn:") || i < 0 {
		return ref
	}
	name := strings.TrimSuffix(ref[i+len(":log-group:"):], ":*")
	if j := strings.Index(name, ":log-stream:"); j >= 0 {
		name = name[:j]
	}
	return name
}

var (
	groupName  = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]{1,512}$`)
	streamName = regexp.MustCompile(`^[^:*]{1,512}$`)
	// retentionDays are the values PutRetentionPolicy accepts (CloudWatch Logs API Reference).
	retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

func invalid(format string, args ...any) *core.Error {
	return core.Errorf("InvalidParameterException", format, args...)
}

func groupNotFound() *core.Error {
	return core.Errorf("ResourceNotFoundException", "The specified log group does not exist.")
}

type createGroupInput struct {
	LogGroupName string            `json:"logGroupName"`
	KmsKeyID     string            `json:"kmsKeyId"`
	Tags         map[string]string `json:"tags"`
}

func (s *Service) createLogGroup(ctx context.Context, in createGroupInput) (any, error) {
	if !groupName.MatchString(in.LogGroupName) {
		return nil, invalid("1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have length 1-512", in.LogGroupName)
	}
	s.mu.Lock()
	_, exists := s.groups[in.LogGroupName]
	authorize := s.authorize
	s.mu.Unlock()
	if exists {
		return nil, core.Errorf("ResourceAlreadyExistsException", "The specified log group already exists")
	}
	g := &group{name: in.LogGroupName, created: s.clock.Now(), tags: in.Tags, streams: map[string]*stream{}}
	if in.KmsKeyID != "" {
		arn := s.GroupARN(in.LogGroupName)
		key := s.keys(in.KmsKeyID)
		if key == "" {
			return nil, invalid("The specified KMS key does not exist or is not allowed to be used with LogGroup ARN %s", arn)
		}
		if authorize != nil {
			if err := authorize(ctx, arn, key); err != nil {
				return nil, invalid("The specified KMS key does not exist or is not allowed to be used with LogGroup ARN %s", arn)
			}
		}
		g.kmsKey = key
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[in.LogGroupName] != nil {
		return nil, core.Errorf("ResourceAlreadyExistsException", "The specified log group already exists")
	}
	s.groups[in.LogGroupName] = g
	return struct{}{}, nil
}

type retentionInput struct {
	LogGroupName    string `json:"logGroupName"`
	RetentionInDays int    `json:"retentionInDays"`
}

func (s *Service) putRetentionPolicy(_ context.Context, in retentionInput) (any, error) {
	if !slices.Contains(retentionDays, in.RetentionInDays) {
		return nil, invalid("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %v", in.RetentionInDays, retentionDays)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[in.LogGroupName]
	if g == nil {
		return nil, groupNotFound()
	}
	g.retention = in.RetentionInDays
	return struct{}{}, nil
}

type describeGroupsInput struct {
	LogGroupNamePrefix string `json:"logGroupNamePrefix"`
	Limit              int    `json:"limit"`
	NextToken          string `json:"nextToken"`
}

func (s *Service) describeLogGroups(_ context.Context, in describeGroupsInput) (any, error) {
	start, limit, err := window(in.NextToken, in.Limit, 50)
	if err != nil {
		return nil, err
	}
	page, end, total, _ := core.Page(&s.mu, func() ([]map[string]any, error) {
		var out []map[string]any
		for _, name := range sortedKeys(s.groups) {
			if !strings.HasPrefix(name, in.LogGroupNamePrefix) {
				continue
			}
			g := s.groups[name]
			d := map[string]any{
				"logGroupName": name, "creationTime": g.created.UnixMilli(), "metricFilterCount": 0,
				"arn": s.GroupARN(name) + ":*", "logGroupArn": s.GroupARN(name), "storedBytes": g.bytes(), "logGroupClass": "STANDARD",
			}
			if g.retention > 0 {
				d["retentionInDays"] = g.retention
			}
			if g.kmsKey != "" {
				d["kmsKeyId"] = g.kmsKey
			}
			out = append(out, d)
		}
		return out, nil
	}, start, limit)
	out := map[string]any{"logGroups": page}
	if end < total {
		out["nextToken"] = core.OffsetToken(end)
	}
	return out, nil
}

// window reads a list call's nextToken and limit (def when unset; limit must be 1 to max(def, 50)).
func window(token string, limit, def int) (start, n int, err error) {
	if token != "" {
		var ok bool
		if start, ok = core.ParseOffsetToken(token); !ok {
			return 0, 0, invalid("The specified nextToken is invalid.")
		}
	}
	switch {
	case limit == 0:
		limit = def
	case limit < 0 || limit > max(def, 50):
		return 0, 0, invalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", limit, max(def, 50))
	}
	return start, limit, nil
}

func (g *group) bytes() int {
	n := 0
	for _, st := range g.streams {
		for _, e := range st.events {
			n += len(e.Message)
		}
	}
	return n
}

type groupInput struct {
	LogGroupName string `json:"logGroupName"`
}

func (s *Service) deleteLogGroup(_ context.Context, in groupInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[in.LogGroupName] == nil {
		return nil, groupNotFound()
	}
	delete(s.groups, in.LogGroupName)
	return struct{}{}, nil
}

type streamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

func (s *Service) createLogStream(_ context.Context, in streamInput) (any, error) {
	return struct{}{}, s.CreateStream(in.LogGroupName, in.LogStreamName)
}

// CreateStream creates the log stream stream in the log group group, as CreateLogStream does.
func (s *Service) CreateStream(group, name string) error {
	if !streamName.MatchString(name) {
		return invalid("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]* and have length 1-512", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return groupNotFound()
	}
	if g.streams[name] != nil {
		return core.Errorf("ResourceAlreadyExistsException", "The specified log stream already exists")
	}
	g.streams[name] = &stream{name: name, created: s.clock.Now()}
	return nil
}

type describeStreamsInput struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	Limit               int    `json:"limit"`
	NextToken           string `json:"nextToken"`
}

func (s *Service) describeLogStreams(_ context.Context, in describeStreamsInput) (any, error) {
	name := in.LogGroupName
	if name == "" {
		name = NameOf(in.LogGroupIdentifier)
	}
	if in.OrderBy == "LastEventTime" && in.LogStreamNamePrefix != "" {
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	start, limit, err := window(in.NextToken, in.Limit, 50)
	if err != nil {
		return nil, err
	}
	page, end, total, err := core.Page(&s.mu, func() ([]map[string]any, error) {
		g := s.groups[name]
		if g == nil {
			return nil, groupNotFound()
		}
		var list []*stream
		for _, st := range g.streams {
			if strings.HasPrefix(st.name, in.LogStreamNamePrefix) {
				list = append(list, st)
			}
		}
		sort.Slice(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if in.OrderBy == "LastEventTime" && a.last() != b.last() {
				return (a.last() < b.last()) != in.Descending
			}
			return (a.name < b.name) != in.Descending
		})
		out := make([]map[string]any, 0, len(list))
		for _, st := range list {
			d := map[string]any{"logStreamName": st.name, "creationTime": st.created.UnixMilli(),
				"arn": s.StreamARN(name, st.name), "storedBytes": 0, "uploadSequenceToken": strconv.Itoa(st.seq)}
			if n := len(st.events); n > 0 {
				d["firstEventTimestamp"], d["lastEventTimestamp"], d["lastIngestionTime"] = st.events[0].Timestamp, st.last(), st.events[n-1].Ingestion
			}
			out = append(out, d)
		}
		return out, nil
	}, start, limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"logStreams": page}
	if end < total {
		out["nextToken"] = core.OffsetToken(end)
	}
	return out, nil
}

func (st *stream) last() int64 {
	if len(st.events) == 0 {
		return 0
	}
	return st.events[len(st.events)-1].Timestamp
}

type putEventsInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
	LogEvents     []struct {
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	} `json:"logEvents"`
	SequenceToken string `json:"sequenceToken"`
}

// PutLogEvents' limits (CloudWatch Logs API Reference, PutLogEvents).
const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1048576
	eventOverhead  = 26
	tooOld         = 14 * 24 * time.Hour
	tooNew         = 2 * time.Hour
)

func (s *Service) putLogEvents(_ context.Context, in putEventsInput) (any, error) {
	events := make([]Event, len(in.LogEvents))
	for i, e := range in.LogEvents {
		events[i] = Event{Timestamp: e.Timestamp, Message: e.Message}
	}
	return s.Put(in.LogGroupName, in.LogStreamName, events)
}

// Put adds events (their Timestamp and Message) to the stream as PutLogEvents does and returns its
// answer: events older than 14 days or more than 2 hours ahead of the clock are rejected (their
// indexes in rejectedLogEventsInfo), the rest stored with the clock's time as their ingestion time.
func (s *Service) Put(groupName, streamName string, events []Event) (map[string]any, error) {
	if len(events) == 0 {
		return nil, invalid("1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(events) > maxBatchEvents {
		return nil, invalid("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to %d", maxBatchEvents)
	}
	size := 0
	for i, e := range events {
		if e.Message == "" {
			return nil, invalid("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		if i > 0 && e.Timestamp < events[i-1].Timestamp {
			return nil, invalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
		size += len(e.Message) + eventOverhead
	}
	if size > maxBatchBytes {
		return nil, invalid("Upload too large: %d bytes exceeds limit of %d", size, maxBatchBytes)
	}
	now := s.clock.Now()
	oldest, newest := now.Add(-tooOld).UnixMilli(), now.Add(tooNew).UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g == nil {
		return nil, groupNotFound()
	}
	st := g.streams[streamName]
	if st == nil {
		return nil, core.Errorf("ResourceNotFoundException", "The specified log stream does not exist.")
	}
	rejected := map[string]any{}
	for i, e := range events {
		switch {
		case e.Timestamp < oldest:
			rejected["tooOldLogEventEndIndex"] = i + 1
			continue
		case e.Timestamp > newest:
			if _, set := rejected["tooNewLogEventStartIndex"]; !set {
				rejected["tooNewLogEventStartIndex"] = i
			}
			continue
		}
		e.Ingestion = now.UnixMilli()
		// Keep the stream in timestamp order across batches, as GetLogEvents reads it.
		at := sort.Search(len(st.events), func(j int) bool { return st.events[j].Timestamp > e.Timestamp })
		st.events = slices.Insert(st.events, at, e)
	}
	st.seq++
	out := map[string]any{"nextSequenceToken": strconv.Itoa(st.seq)}
	if len(rejected) > 0 {
		out["rejectedLogEventsInfo"] = rejected
	}
	return out, nil
}

// PutBatches puts events as a service writing its own logs does: in as many PutLogEvents batches
// as the limits require (10,000 events, 1 MiB counting 26 bytes an event).
func (s *Service) PutBatches(group, stream string, events []Event) error {
	for len(events) > 0 {
		n, size := 0, 0
		for n < min(len(events), maxBatchEvents) && (n == 0 || size+len(events[n].Message)+eventOverhead <= maxBatchBytes) {
			size += len(events[n].Message) + eventOverhead
			n++
		}
		if _, err := s.Put(group, stream, events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

type getEventsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime"`
	EndTime            *int64 `json:"endTime"`
	StartFromHead      bool   `json:"startFromHead"`
	Limit              int    `json:"limit"`
	NextToken          string `json:"nextToken"`
}

func (s *Service) getLogEvents(_ context.Context, in getEventsInput) (any, error) {
	name := in.LogGroupName
	if name == "" {
		name = NameOf(in.LogGroupIdentifier)
	}
	limit := in.Limit
	if limit == 0 {
		limit = maxBatchEvents
	}
	if limit < 0 || limit > maxBatchEvents {
		return nil, invalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", limit, maxBatchEvents)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nil, groupNotFound()
	}
	st := g.streams[in.LogStreamName]
	if st == nil {
		return nil, core.Errorf("ResourceNotFoundException", "The specified log stream does not exist.")
	}
	var all []Event
	for _, e := range st.events {
		if inRange(e.Timestamp, in.StartTime, in.EndTime) {
			all = append(all, e)
		}
	}
	// Tokens are f/<offset> (read forward from offset) and b/<offset> (read backward to offset).
	from, to := 0, len(all)
	switch {
	case strings.HasPrefix(in.NextToken, "f/"):
		n, err := strconv.Atoi(in.NextToken[2:])
		if err != nil {
			return nil, invalid("The specified nextToken is invalid.")
		}
		from, to = min(n, len(all)), min(n+limit, len(all))
	case strings.HasPrefix(in.NextToken, "b/"):
		n, err := strconv.Atoi(in.NextToken[2:])
		if err != nil {
			return nil, invalid("The specified nextToken is invalid.")
		}
		to = min(n, len(all))
		from = max(0, to-limit)
	case in.NextToken != "":
		return nil, invalid("The specified nextToken is invalid.")
	case in.StartFromHead:
		to = min(limit, len(all))
	default:
		from = max(0, len(all)-limit)
	}
	out := make([]map[string]any, 0, to-from)
	for _, e := range all[from:to] {
		out = append(out, map[string]any{"timestamp": e.Timestamp, "message": e.Message, "ingestionTime": e.Ingestion})
	}
	return map[string]any{"events": out, "nextForwardToken": "f/" + strconv.Itoa(to), "nextBackwardToken": "b/" + strconv.Itoa(from)}, nil
}

func inRange(ts int64, start, end *int64) bool {
	return (start == nil || ts >= *start) && (end == nil || ts < *end)
}

type filterInput struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	Limit               int      `json:"limit"`
	NextToken           string   `json:"nextToken"`
}

func (s *Service) filterLogEvents(_ context.Context, in filterInput) (any, error) {
	name := in.LogGroupName
	if name == "" {
		name = NameOf(in.LogGroupIdentifier)
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalid("logStreamNames and logStreamNamePrefix are mutually exclusive")
	}
	start, limit, err := window(in.NextToken, in.Limit, maxBatchEvents)
	if err != nil {
		return nil, err
	}
	pattern := strings.TrimSpace(in.FilterPattern)
	if len(pattern) >= 2 && pattern[0] == '"' && pattern[len(pattern)-1] == '"' {
		pattern = pattern[1 : len(pattern)-1]
	}
	var searched []map[string]any
	page, end, total, err := core.Page(&s.mu, func() ([]map[string]any, error) {
		g := s.groups[name]
		if g == nil {
			return nil, groupNotFound()
		}
		type hit struct {
			stream string
			i      int
			e      Event
		}
		var hits []hit
		for _, sn := range sortedKeys(g.streams) {
			if len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, sn) || !strings.HasPrefix(sn, in.LogStreamNamePrefix) {
				continue
			}
			searched = append(searched, map[string]any{"logStreamName": sn, "searchedCompletely": true})
			for i, e := range g.streams[sn].events {
				if inRange(e.Timestamp, in.StartTime, in.EndTime) && strings.Contains(e.Message, pattern) {
					hits = append(hits, hit{sn, i, e})
				}
			}
		}
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].e.Timestamp < hits[j].e.Timestamp })
		out := make([]map[string]any, len(hits))
		for i, h := range hits {
			out[i] = map[string]any{"logStreamName": h.stream, "timestamp": h.e.Timestamp, "message": h.e.Message,
				"ingestionTime": h.e.Ingestion, "eventId": fmt.Sprintf("%s-%d", h.stream, h.i)}
		}
		return out, nil
	}, start, limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"events": page, "searchedLogStreams": searched}
	if end < total {
		out["nextToken"] = core.OffsetToken(end)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Exists reports whether the log group named name exists.
func (s *Service) Exists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[name] != nil
}

// StreamExists reports whether the log stream exists in the log group.
func (s *Service) StreamExists(group, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	return g != nil && g.streams[name] != nil
}

// Summary is what one log group holds.
type Summary struct {
	Group   string
	Streams int // streams that hold events
	Events  int
}

// Summaries lists the log groups that hold events, by name.
func (s *Service) Summaries() []Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Summary
	for _, name := range sortedKeys(s.groups) {
		sum := Summary{Group: name}
		for _, st := range s.groups[name].streams {
			if len(st.events) > 0 {
				sum.Streams++
				sum.Events += len(st.events)
			}
		}
		if sum.Events > 0 {
			out = append(out, sum)
		}
	}
	return out
}

// Messages returns every message of the log group named name, stream by stream, in order.
func (s *Service) Messages(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nil
	}
	var out []string
	for _, sn := range sortedKeys(g.streams) {
		for _, e := range g.streams[sn].events {
			out = append(out, e.Message)
		}
	}
	return out
}

// Contents returns every stored event as JSON lines (group, stream, message), for the recorder's
// secret scans: what a function prints lands here.
func (s *Service) Contents() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, gn := range sortedKeys(s.groups) {
		g := s.groups[gn]
		for _, sn := range sortedKeys(g.streams) {
			for _, e := range g.streams[sn].events {
				_ = enc.Encode(map[string]string{"group": gn, "stream": sn, "message": e.Message})
			}
		}
	}
	return b.Bytes()
}
