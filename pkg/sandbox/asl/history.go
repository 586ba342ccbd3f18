package asl

import "time"

// Event is one history event as GetExecutionHistory returns it: Type is the HistoryEventType and
// Details is the content of the member named DetailsKey (for example "stateEnteredEventDetails").
// Inputs and outputs in Details are JSON texts, as in the API.
type Event struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string
	DetailsKey      string
	Details         map[string]any
}

// thread tracks the last event of one line of execution (the machine, a Parallel branch, a Map
// iteration), so each event's PreviousEventID points at what led to it.
type thread struct{ last int64 }

func payloadDetails(key, text string) map[string]any {
	return map[string]any{key: text, key + "Details": map[string]any{"truncated": false}}
}

// detailsKey maps an event type to its details member (types without details map to "").
var detailsKey = map[string]string{
	"ExecutionStarted":        "executionStartedEventDetails",
	"ExecutionSucceeded":      "executionSucceededEventDetails",
	"ExecutionFailed":         "executionFailedEventDetails",
	"ExecutionTimedOut":       "executionTimedOutEventDetails",
	"ExecutionAborted":        "executionAbortedEventDetails",
	"LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
	"LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
	"LambdaFunctionFailed":    "lambdaFunctionFailedEventDetails",
	"LambdaFunctionTimedOut":  "lambdaFunctionTimedOutEventDetails",
	"TaskScheduled":           "taskScheduledEventDetails",
	"TaskStarted":             "taskStartedEventDetails",
	"TaskSucceeded":           "taskSucceededEventDetails",
	"TaskFailed":              "taskFailedEventDetails",
	"TaskTimedOut":            "taskTimedOutEventDetails",
	"MapStateStarted":         "mapStateStartedEventDetails",
	"MapIterationStarted":     "mapIterationStartedEventDetails",
	"MapIterationSucceeded":   "mapIterationSucceededEventDetails",
	"MapIterationFailed":      "mapIterationFailedEventDetails",
	"MapIterationAborted":     "mapIterationAbortedEventDetails",
}

// DetailsKeyFor returns the details member name for an event type.
func DetailsKeyFor(eventType string) string {
	if k, ok := detailsKey[eventType]; ok {
		return k
	}
	if len(eventType) > len("StateEntered") && eventType[len(eventType)-len("StateEntered"):] == "StateEntered" {
		return "stateEnteredEventDetails"
	}
	if len(eventType) > len("StateExited") && eventType[len(eventType)-len("StateExited"):] == "StateExited" {
		return "stateExitedEventDetails"
	}
	return ""
}
