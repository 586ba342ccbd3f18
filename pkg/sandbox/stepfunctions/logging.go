package stepfunctions

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/asl"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// LoggingConfiguration is a state machine's loggingConfiguration (CreateStateMachine).
type LoggingConfiguration struct {
	Level                string           `json:"level"`
	IncludeExecutionData bool             `json:"includeExecutionData"`
	Destinations         []LogDestination `json:"destinations"`
}

// LogDestination is one of a LoggingConfiguration's destinations.
type LogDestination struct {
	CloudWatchLogsLogGroup struct {
		LogGroupArn string `json:"logGroupArn"`
	} `json:"cloudWatchLogsLogGroup"`
}

// LoggingAuthorizer judges whether the role roleARN may set up log delivery for the state machine
// named machine (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs");
// a non-nil error refuses the logging configuration.
type LoggingAuthorizer func(ctx context.Context, roleARN, machine string) error

// LogWriter writes an execution's log events (JSON lines) to the log stream stream of the log group
// groupARN names; a non-nil error is why they were lost.
type LogWriter func(groupARN, stream string, events []LogEvent) error

// LogEvent is one history event as Step Functions logs it, with its time.
type LogEvent struct {
	Timestamp int64 // milliseconds since the epoch
	Message   string
}

// SetLogging sets the judge of a logging configuration's role on CreateStateMachine, and where
// executions' events go; nil for either skips it.
func (s *Service) SetLogging(authorize LoggingAuthorizer, write LogWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorizeLogging, s.writeLogs = authorize, write
}

// checkLogging validates a logging configuration as CreateStateMachine does and judges the role for
// it when the level is not OFF.
func (s *Service) checkLogging(ctx context.Context, name, roleARN string, lc *LoggingConfiguration) error {
	if lc == nil {
		return nil
	}
	switch lc.Level {
	case "":
		lc.Level = "OFF"
	case "ALL", "ERROR", "FATAL", "OFF":
	default:
		return core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]", lc.Level)
	}
	if lc.Level == "OFF" && len(lc.Destinations) == 0 {
		return nil
	}
	if len(lc.Destinations) != 1 {
		return core.Errorf("InvalidLoggingConfiguration", "Invalid Logging Configuration: Must specify exactly one Log Destination.")
	}
	arn := lc.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn
	if !strings.HasPrefix(arn, "arn:aws:logs:") || !strings.Contains(arn, ":log-group:") || !strings.HasSuffix(arn, ":*") {
		return core.Errorf("InvalidLoggingConfiguration", "Invalid Logging Configuration: The CloudWatch Logs Destination ARN is invalid: '%s'. It must be a log group ARN ending in ':*'.", arn)
	}
	s.mu.Lock()
	authorize := s.authorizeLogging
	s.mu.Unlock()
	if authorize != nil {
		if err := authorize(ctx, roleARN, name); err != nil {
			return core.Errorf("AccessDeniedException", "The state machine IAM Role is not authorized to access the Log Destination")
		}
	}
	return nil
}

// logLevels are the history event types each level logs; ALL logs every event. (Step Functions
// developer guide, "Log levels": ERROR logs the error events, FATAL the execution's end in failure.)
func logged(level, typ string) bool {
	switch level {
	case "ALL":
		return true
	case "ERROR":
		return strings.HasSuffix(typ, "Failed") || strings.HasSuffix(typ, "TimedOut") || strings.HasSuffix(typ, "Aborted")
	case "FATAL":
		return typ == "ExecutionFailed" || typ == "ExecutionTimedOut" || typ == "ExecutionAborted"
	}
	return false
}

// logExecution writes a finished execution's history to its machine's log group, as Step Functions
// logs a Standard workflow's events: one JSON event each ({"id","type","details",
// "previous_event_id","event_timestamp","execution_arn"}), the details' input and output left out
// unless includeExecutionData.
func (s *Service) logExecution(ex *execution) {
	s.mu.Lock()
	lc, write := ex.machine.logging, s.writeLogs
	s.mu.Unlock()
	if write == nil || lc == nil || lc.Level == "OFF" || len(lc.Destinations) == 0 {
		return
	}
	var events []LogEvent
	for _, e := range ex.run.Events() {
		if !logged(lc.Level, e.Type) {
			continue
		}
		events = append(events, LogEvent{Timestamp: e.Timestamp.UnixMilli(), Message: logLine(ex.arn, e, lc.IncludeExecutionData)})
	}
	if len(events) == 0 {
		return
	}
	stream := "states/" + ex.machine.name + "/" + ex.run.StartDate().UTC().Format("2006-01-02-15-04") + "/" + core.RandomHex(4)
	if err := write(lc.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn, stream, events); err != nil {
		slog.Warn("write execution log events", "execution", ex.arn, "error", err.Error())
	}
}

func logLine(executionARN string, e asl.Event, includeData bool) string {
	details := map[string]any{}
	for k, v := range e.Details {
		if !includeData && (k == "input" || k == "output" || k == "inputDetails" || k == "outputDetails") {
			continue
		}
		details[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"id": strconv.FormatInt(e.ID, 10), "type": e.Type, "details": details,
		"previous_event_id": strconv.FormatInt(e.PreviousEventID, 10), "event_timestamp": strconv.FormatInt(e.Timestamp.UnixMilli(), 10),
		"execution_arn": executionARN,
	})
	return string(b)
}
