package xray

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the region of the sampling rule's ARN (default us-east-1).
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account of the sampling rule's ARN (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Segment is a segment X-Ray stored: the document as sent and the fields it was checked for.
type Segment struct {
	TraceID, ID, Name string
	Error, Fault      bool
	Start, End        float64 // seconds since the epoch, as the document has them
	Document          string
	// Received is when it arrived, on the sandbox clock.
	Received time.Time
}

// Service is the emulated X-Ray. It is safe for concurrent use.
type Service struct {
	clock core.Clock
	core.Place
	created time.Time

	mu        sync.Mutex
	segments  []Segment
	telemetry int
}

// New returns an empty X-Ray.
func New(clock core.Clock, opts ...Option) *Service {
	s := &Service{clock: clock, Place: core.DefaultPlace, created: clock.Now()}
	return core.Configure(s, opts)
}

var _ core.RESTService = (*Service)(nil)

// ServiceID implements core.RESTService.
func (s *Service) ServiceID() string { return "xray" }

// paths are the operations by their POST path (aws-sdk-go-v2 service/xray's serializers).
var paths = map[string]string{
	"/TraceSegments":    "PutTraceSegments",
	"/TelemetryRecords": "PutTelemetryRecords",
	"/GetSamplingRules": "GetSamplingRules",
	"/SamplingTargets":  "GetSamplingTargets",
	"/Traces":           "BatchGetTraces",
}

// scopeService is the service of a SigV4 Authorization header's credential scope.
var scopeService = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

// MatchREST implements core.RESTService: a POST to one of paths signed for xray.
func (s *Service) MatchREST(r *http.Request) string {
	if m := scopeService.FindStringSubmatch(r.Header.Get("Authorization")); m == nil || m[1] != "xray" || r.Method != http.MethodPost {
		return ""
	}
	return paths[r.URL.Path]
}

// RESTOperations implements core.RESTService.
func (s *Service) RESTOperations() []string {
	var ops []string
	for _, op := range paths {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

// ServeREST implements core.RESTService.
func (s *Service) ServeREST(_ context.Context, op string, _ *http.Request, body []byte) (*core.RESTResponse, error) {
	var in map[string]json.RawMessage
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, core.Errorf("InvalidRequestException", "the %s request body is not a JSON object: %v", op, err)
		}
	}
	var out any
	switch op {
	case "PutTraceSegments":
		var docs []string
		if err := unmarshalMember(in, "TraceSegmentDocuments", &docs); err != nil {
			return nil, err
		}
		if len(docs) == 0 {
			return nil, core.Errorf("InvalidRequestException", "TraceSegmentDocuments must name at least one segment document")
		}
		out = map[string]any{"UnprocessedTraceSegments": s.Put(docs)}
	case "PutTelemetryRecords":
		var records []json.RawMessage
		if err := unmarshalMember(in, "TelemetryRecords", &records); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.telemetry += len(records)
		s.mu.Unlock()
		out = map[string]any{}
	case "GetSamplingRules":
		out = map[string]any{"SamplingRuleRecords": []any{map[string]any{
			"SamplingRule": s.defaultRule(), "CreatedAt": core.EpochTime(s.created), "ModifiedAt": core.EpochTime(s.created),
		}}}
	case "GetSamplingTargets":
		var docs []struct{ RuleName string }
		if err := unmarshalMember(in, "SamplingStatisticsDocuments", &docs); err != nil {
			return nil, err
		}
		targets, unprocessed := []any{}, []any{}
		for _, d := range docs {
			if d.RuleName != defaultRuleName {
				unprocessed = append(unprocessed, map[string]any{"RuleName": d.RuleName, "ErrorCode": "400", "Message": "no sampling rule named " + d.RuleName})
				continue
			}
			targets = append(targets, map[string]any{"RuleName": defaultRuleName, "FixedRate": defaultFixedRate, "ReservoirQuota": 1,
				"ReservoirQuotaTTL": core.EpochTime(s.clock.Now().Add(10 * time.Second)), "Interval": 10})
		}
		out = map[string]any{"SamplingTargetDocuments": targets, "LastRuleModification": core.EpochTime(s.created), "UnprocessedStatistics": unprocessed}
	case "BatchGetTraces":
		var ids []string
		if err := unmarshalMember(in, "TraceIds", &ids); err != nil {
			return nil, err
		}
		out = s.batchGetTraces(ids)
	default:
		return nil, core.Errorf("InvalidRequestException", "the sandbox's X-Ray does not serve %s", op)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode the %s answer: %w", op, err)
	}
	return &core.RESTResponse{Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, nil
}

func unmarshalMember(in map[string]json.RawMessage, name string, v any) error {
	raw, ok := in[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return core.Errorf("InvalidRequestException", "%s has the wrong shape: %v", name, err)
	}
	return nil
}

// X-Ray's default sampling rule: one request a second, then 5% (the X-Ray developer guide,
// "Configuring sampling rules").
const (
	defaultRuleName  = "Default"
	defaultFixedRate = 0.05
)

func (s *Service) defaultRule() map[string]any {
	return map[string]any{
		"RuleName": defaultRuleName, "RuleARN": fmt.Sprintf("arn:aws:xray:%s:%s:sampling-rule/%s", s.Region(), s.Account(), defaultRuleName),
		"ResourceARN": "*", "Priority": 10000, "FixedRate": defaultFixedRate, "ReservoirSize": 1, "ServiceName": "*", "ServiceType": "*",
		"Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1, "Attributes": map[string]string{},
	}
}

var (
	segmentID = regexp.MustCompile(`^[0-9a-f]{16}$`)
	traceID   = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
)

// Unprocessed is a segment PutTraceSegments refused, as UnprocessedTraceSegments lists it.
type Unprocessed struct {
	ID        string `json:"Id,omitempty"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// Put stores each valid segment document and returns the refused ones (never nil, so the answer
// lists an empty array as X-Ray's does).
func (s *Service) Put(docs []string) []Unprocessed {
	out := []Unprocessed{}
	now := s.clock.Now()
	for _, d := range docs {
		seg, err := parse(d)
		if err != nil {
			out = append(out, Unprocessed{ID: seg.ID, ErrorCode: "InvalidSegment", Message: err.Error()})
			continue
		}
		seg.Received = now
		s.mu.Lock()
		s.segments = append(s.segments, seg)
		s.mu.Unlock()
	}
	return out
}

// parse checks a segment document's required fields (the X-Ray developer guide, "AWS X-Ray
// segment documents": name, id, trace_id, start_time, and end_time unless in_progress).
func parse(doc string) (Segment, error) {
	var m struct {
		Name       string   `json:"name"`
		ID         string   `json:"id"`
		TraceID    string   `json:"trace_id"`
		StartTime  *float64 `json:"start_time"`
		EndTime    *float64 `json:"end_time"`
		InProgress bool     `json:"in_progress"`
		Error      bool     `json:"error"`
		Fault      bool     `json:"fault"`
	}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return Segment{}, fmt.Errorf("the segment document is not a JSON object: %v", err)
	}
	seg := Segment{TraceID: m.TraceID, ID: m.ID, Name: m.Name, Error: m.Error, Fault: m.Fault, Document: doc}
	switch {
	case m.Name == "" || len(m.Name) > 200:
		return seg, fmt.Errorf("name must be 1 to 200 characters")
	case !segmentID.MatchString(m.ID):
		return seg, fmt.Errorf("id %q must be 16 hexadecimal digits", m.ID)
	case !traceID.MatchString(m.TraceID):
		return seg, fmt.Errorf("trace_id %q must be 1-<8 hexadecimal digits>-<24 hexadecimal digits>", m.TraceID)
	case m.StartTime == nil:
		return seg, fmt.Errorf("start_time is required")
	case m.EndTime == nil && !m.InProgress:
		return seg, fmt.Errorf("end_time is required unless in_progress is true")
	}
	seg.Start = *m.StartTime
	if m.EndTime != nil {
		seg.End = *m.EndTime
	}
	return seg, nil
}

func (s *Service) batchGetTraces(ids []string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	traces, unprocessed := []any{}, []string{}
	for _, id := range ids {
		var segs []any
		start, end := 0.0, 0.0
		for _, seg := range s.segments {
			if seg.TraceID != id {
				continue
			}
			segs = append(segs, map[string]string{"Id": seg.ID, "Document": seg.Document})
			if start == 0 || seg.Start < start {
				start = seg.Start
			}
			end = max(end, seg.End)
		}
		if segs == nil {
			unprocessed = append(unprocessed, id)
			continue
		}
		traces = append(traces, map[string]any{"Id": id, "Duration": end - start, "LimitExceeded": false, "Segments": segs})
	}
	return map[string]any{"Traces": traces, "UnprocessedTraceIds": unprocessed}
}

// Segments returns every stored segment, in arrival order.
func (s *Service) Segments() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.segments)
}

// TelemetryRecords returns how many telemetry records PutTelemetryRecords accepted.
func (s *Service) TelemetryRecords() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.telemetry
}
