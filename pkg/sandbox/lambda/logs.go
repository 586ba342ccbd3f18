package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// LogLine is one line a function printed, with the sandbox time it was printed at.
type LogLine struct {
	Time    time.Time
	Message string
}

// LogDeliverer delivers the lines one execution environment of function printed to the log
// stream stream of the log group group, as Lambda does with the function's execution role
// (CreateLogStream on the environment's first delivery, then PutLogEvents). It returns why the
// lines were dropped, nil when they were delivered.
type LogDeliverer func(ctx context.Context, function, group, stream string, lines []LogLine) error

// LogDelivery is one delivery of a function's lines, and what became of it.
type LogDelivery struct {
	Function, Group, Stream string
	Lines                   int
	// Err is why the lines were dropped ("" when they were delivered).
	Err string
}

// WithLogGroup sends the function's output to the log group named group (its
// LoggingConfig.LogGroup) instead of Lambda's default /aws/lambda/<name>.
func WithLogGroup(group string) FunctionOption {
	return func(f *function) { f.logGroup = group }
}

// Log formats of a function's LoggingConfig.LogFormat.
const (
	LogFormatText = "Text"
	LogFormatJSON = "JSON"
)

// WithLogFormat sets the format of the platform lines Lambda adds to the function's log stream
// around each invocation (LogFormatText, the default, or LogFormatJSON): see platformLines.
func WithLogFormat(format string) FunctionOption {
	return func(f *function) { f.logFormat = format }
}

// SetLogDeliverer sets how the lines a bootstrap executable prints reach its log group; without one
// they only go to RegisterBinary's writer.
func (s *Service) SetLogDeliverer(deliver LogDeliverer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliverLogs = deliver
}

// LogDeliveries returns the deliveries made so far, in order.
func (s *Service) LogDeliveries() []LogDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogDelivery(nil), s.logDeliveries...)
}

// LogGroup returns the log group the function named name logs to ("" for no such function).
func (s *Service) LogGroup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[name]
	if f == nil {
		return ""
	}
	return f.logGroupName()
}

func (f *function) logGroupName() string {
	if f.logGroup != "" {
		return f.logGroup
	}
	return "/aws/lambda/" + f.name
}

// envLog collects the complete lines one execution environment prints, for its log stream
// (YYYY/MM/DD/[$LATEST]<32 hex characters>, the date the environment started, as Lambda names it).
type envLog struct {
	clock   core.Clock
	stream  string
	mu      sync.Mutex
	partial []byte
	lines   []LogLine
}

func newEnvLog(clock core.Clock) *envLog {
	return &envLog{clock: clock, stream: clock.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + core.RandomHex(16)}
}

// Write implements io.Writer: each complete line becomes a LogLine.
func (l *envLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if line := string(bytes.TrimRight(l.partial[:i], "\r")); line != "" {
			l.lines = append(l.lines, LogLine{Time: l.clock.Now(), Message: line})
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// mark returns where the next line printed will go, for addPlatform.
func (l *envLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// addPlatform puts the platform lines of one invocation around what it printed: first at mark
// (which no take has passed: an environment's lines are taken only between its invocations),
// the others at the end.
func (l *envLog) addPlatform(mark int, first LogLine, last []LogLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = slices.Insert(l.lines, min(mark, len(l.lines)), first)
	l.lines = append(l.lines, last...)
}

// invocationReport is what platformLines reports of one invocation.
type invocationReport struct {
	requestID string
	// start and end are on the sandbox clock (the lines' times); duration is the handler's wall
	// time (lambdaruntime.Result.Duration), as the sandbox clock may run faster than the handler.
	start, end time.Time
	duration   time.Duration
	// status is the platform.report status: "success", "error" (a function error) or "timeout".
	status string
}

// platformLines returns the lines Lambda writes to a function's log stream for one invocation
// (Lambda developer guide, "Sending Lambda function logs to CloudWatch Logs" and "Configuring
// JSON and plain text log formats"): in the Text format START before the function's lines, END
// and REPORT after; in the JSON format the platform.start and platform.report events, which the
// default system log level (INFO) keeps. Every invocation writes them, so a function that prints
// nothing still needs logs:CreateLogStream and logs:PutLogEvents. The REPORT's figures are the
// sandbox's: the handler's wall time, billed rounded up to the millisecond; memory
// figures are left out (the sandbox does not measure them).
func platformLines(format string, r invocationReport) (first LogLine, last []LogLine) {
	ms := float64(r.duration.Microseconds()) / 1000
	billed := int64(math.Ceil(ms))
	if format == LogFormatJSON {
		event := func(at time.Time, typ string, record map[string]any) LogLine {
			b, err := json.Marshal(map[string]any{"time": at.UTC().Format("2006-01-02T15:04:05.000Z"), "type": typ, "record": record})
			if err != nil {
				panic(err) // maps of strings and numbers always marshal
			}
			return LogLine{Time: at, Message: string(b)}
		}
		return event(r.start, "platform.start", map[string]any{"requestId": r.requestID, "version": "$LATEST"}),
			[]LogLine{event(r.end, "platform.report", map[string]any{
				"requestId": r.requestID, "status": r.status,
				"metrics": map[string]any{"durationMs": ms, "billedDurationMs": billed},
			})}
	}
	return LogLine{Time: r.start, Message: fmt.Sprintf("START RequestId: %s Version: $LATEST", r.requestID)},
		[]LogLine{
			{Time: r.end, Message: "END RequestId: " + r.requestID},
			{Time: r.end, Message: fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms", r.requestID, ms, billed)},
		}
}

// take returns the lines printed since the last take.
func (l *envLog) take() []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	l.lines = nil
	return lines
}

// deliver hands what env printed since its last delivery to the deliverer. The process's output
// is copied from its pipes as it comes, so a line printed just before an invocation ended can
// reach the next invocation's delivery, as Lambda's own delivery is asynchronous too.
func (s *Service) deliver(ctx context.Context, f *function, env *envLog) {
	s.mu.Lock()
	deliver := s.deliverLogs
	s.mu.Unlock()
	if deliver == nil {
		return
	}
	lines := env.take()
	if len(lines) == 0 {
		return
	}
	d := LogDelivery{Function: f.name, Group: f.logGroupName(), Stream: env.stream, Lines: len(lines)}
	if err := deliver(ctx, f.name, d.Group, d.Stream, lines); err != nil {
		d.Err = err.Error()
	}
	s.mu.Lock()
	s.logDeliveries = append(s.logDeliveries, d)
	s.mu.Unlock()
}
