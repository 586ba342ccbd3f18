package statemachines_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/statemachines"
)

// transientRetry is the Retry every Lambda task state has: Strongroom's RetryableError, Lambda's
// own transient invoke errors (a throttle included), a crashed or timed-out invocation, and the
// task's own timeout.
var transientRetry = []string{"RetryableError", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Runtime.ExitError", "Sandbox.Timedout", "States.Timeout"}

type state struct {
	Type     string
	Resource string
	Retry    []struct{ ErrorEquals []string }
	Catch    []struct {
		ErrorEquals []string
		Next        string
	}
}

// TestEveryLambdaTaskRetriesAndCatches holds every workflow's Lambda task states to one shape: the
// same Retry of the transient errors, and a Catch of States.ALL, except in the AnswerFailure state,
// which is where every Catch leads. The fault matrices (pkg/sandbox/testkit) rely on it: by
// default they inject a Lambda invoke throttle and 5xx at a sample of the task states, and a
// refused invocation only where the step has no fault of its own to fail on, since the outcome at
// any other state follows from this shape; STRONGROOM_FULL_FAULT_MATRIX=1 tries every state.
func TestEveryLambdaTaskRetriesAndCatches(t *testing.T) {
	tasks := 0
	for _, name := range statemachines.Names() {
		text, err := statemachines.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		var def struct{ States map[string]state }
		if err := json.Unmarshal([]byte(text), &def); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for id, s := range def.States {
			if s.Type != "Task" || !strings.HasPrefix(s.Resource, "${") {
				continue
			}
			tasks++
			if len(s.Retry) != 1 || !reflect.DeepEqual(s.Retry[0].ErrorEquals, transientRetry) {
				t.Errorf("%s %s: Retry %+v; want one retrier of %v", name, id, s.Retry, transientRetry)
			}
			catchAll := slices.ContainsFunc(s.Catch, func(c struct {
				ErrorEquals []string
				Next        string
			}) bool {
				return slices.Equal(c.ErrorEquals, []string{"States.ALL"}) && c.Next != ""
			})
			if catchAll == (id == "AnswerFailure") {
				t.Errorf("%s %s: catch-all %v; want one in every Lambda task but AnswerFailure", name, id, catchAll)
			}
		}
	}
	if tasks < 50 {
		t.Fatalf("found %d Lambda task states; the workflows have more than 50", tasks)
	}
}
