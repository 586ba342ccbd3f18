package asl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// BenchmarkThousandTransitionsSimulatedHour runs a polling loop of Wait, Pass (States.MathAdd)
// and Choice: 1,000 state transitions whose Waits add up to a simulated hour, on a sandbox clock
// scaled a million times. The target is well under a second of wall time per execution.
func BenchmarkThousandTransitionsSimulatedHour(b *testing.B) {
	const loops = 333 // 3 transitions each, plus Init
	def, err := Parse([]byte(fmt.Sprintf(`{
	  "StartAt": "Init",
	  "States": {
	    "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Wait"},
	    "Wait": {"Type": "Wait", "Seconds": 11, "Next": "Inc"},
	    "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
	    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": %d, "Next": "Done"}], "Default": "Wait"},
	    "Done": {"Type": "Succeed"}
	  }}`, loops)))
	if err != nil {
		b.Fatal(err)
	}
	clock := core.NewScaledClock(1e6)
	opts := Options{Clock: clock, ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:bench:e", StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:bench"}
	var transitions int
	b.ResetTimer()
	for b.Loop() {
		res, evs := Run(context.Background(), def, NewObject(), opts)
		if res.Status != StatusSucceeded {
			b.Fatalf("%s: %s %s", res.Status, res.Error, res.Cause)
		}
		transitions = 0
		for _, e := range evs {
			if len(e.Type) > 12 && e.Type[len(e.Type)-12:] == "StateEntered" {
				transitions++
			}
		}
	}
	b.ReportMetric(float64(transitions), "transitions/op")
	// The Waits alone take loops x 11 s of sandbox time (1.02 h).
	b.ReportMetric((time.Duration(loops) * 11 * time.Second).Hours(), "waited-h/op")
}
