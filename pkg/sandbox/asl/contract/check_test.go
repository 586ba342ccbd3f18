package contract_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/asl/contract"
)

// A made-up step for the hand-written workflows below.
type lookupIn struct {
	ID   string `json:"Id"`
	Note string `json:"Note,omitempty"`
}

type lookupOut struct {
	ID      string    `json:"Id"`
	State   string    `json:"State"`
	Message string    `json:"Message,omitempty"`
	Count   int       `json:"Count"`
	Items   []item    `json:"Items"`
	Parent  *lookupIn `json:"Parent,omitempty"`
}

type item struct {
	Name string `json:"Name"`
	Size int    `json:"Size,omitempty"`
}

type lookup struct{}

func (*lookup) Handle(context.Context, lookupIn) (lookupOut, error) { return lookupOut{}, nil }

type workflowInput struct {
	ID    string `json:"Id"`
	Extra string `json:"Extra,omitempty"`
}

// check runs the analysis on a hand-written workflow whose ${LookupFunctionArn} is lookup and
// whose input is a workflowInput.
func check(t *testing.T, definition string) []contract.Finding {
	t.Helper()
	step, err := contract.StepOf("lookup", (*lookup).Handle)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := contract.Check([]byte(definition), contract.Config{
		File:  "test.asl.json",
		Input: contract.OfType(reflect.TypeFor[workflowInput]()),
		Steps: map[string]contract.Step{"LookupFunctionArn": step},
	})
	if err != nil {
		t.Fatal(err)
	}
	return findings
}

// expect requires exactly one finding per want, each containing all of want's parts (state,
// path, words of the problem), and no other finding.
func expect(t *testing.T, findings []contract.Finding, want ...[]string) {
	t.Helper()
	used := make([]bool, len(findings))
	for _, w := range want {
		found := false
		for i, f := range findings {
			if used[i] {
				continue
			}
			ok := true
			for _, part := range w {
				ok = ok && strings.Contains(f.String(), part)
			}
			if ok {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no finding with %q", w)
		}
	}
	for i, f := range findings {
		if !used[i] {
			t.Errorf("unexpected finding: %s", f)
		}
	}
}

// lookupThen is a workflow that looks the input's id up (result at $.Found) and then runs the
// states given, starting with the first of them.
func lookupThen(first, states string) string {
	return `{"StartAt": "Lookup", "States": {
		"Lookup": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.Id"},
			"ResultPath": "$.Found", "Next": "` + first + `"},
		` + states + `}}`
}

func TestMissingFieldIsReported(t *testing.T) {
	findings := check(t, lookupThen("Report", `
		"Report": {"Type": "Pass", "Parameters": {"Text.$": "States.Format('{} is {}', $.Found.Id, $.Found.Status)"}, "End": true}`))
	expect(t, findings, []string{"state Report", "Parameters.Text.$", "$.Found.Status", "never present", "Count, Id, Items, Message, Parent, State"})
}

func TestOmitemptyFieldReadWithoutGuardIsReported(t *testing.T) {
	findings := check(t, lookupThen("Report", `
		"Report": {"Type": "Pass", "Parameters": {"Text.$": "States.Format('{}: {}', $.Found.State, $.Found.Message)"}, "End": true}`))
	expect(t, findings, []string{"state Report", "$.Found.Message", "may be absent", "lookupOut.Message is omitempty"})
}

func TestOmitemptyFieldReadBehindIsPresentPasses(t *testing.T) {
	for name, guard := range map[string]string{
		"IsPresent true":                `"Choices": [{"Variable": "$.Found.Message", "IsPresent": true, "Next": "Report"}], "Default": "Plain"`,
		"Not IsPresent false":           `"Choices": [{"Not": {"Variable": "$.Found.Message", "IsPresent": false}, "Next": "Report"}], "Default": "Plain"`,
		"Default after IsPresent false": `"Choices": [{"Variable": "$.Found.Message", "IsPresent": false, "Next": "Plain"}], "Default": "Report"`,
		"And, left to right": `"Choices": [{"And": [{"Variable": "$.Found.Message", "IsPresent": true},
			{"Variable": "$.Found.Message", "StringEquals": "x"}], "Next": "Report"}], "Default": "Plain"`,
		"a comparison evaluated before": `"Choices": [{"Variable": "$.Id", "StringEquals": "a", "Next": "Plain"},
			{"Variable": "$.Found.Message", "IsPresent": true, "Next": "Report"}], "Default": "Plain"`,
	} {
		t.Run(name, func(t *testing.T) {
			findings := check(t, lookupThen("Guard", `
				"Guard": {"Type": "Choice", `+guard+`},
				"Report": {"Type": "Pass", "Parameters": {"Text.$": "$.Found.Message"}, "End": true},
				"Plain": {"Type": "Pass", "Parameters": {"Text.$": "$.Found.State"}, "End": true}`))
			expect(t, findings)
		})
	}
}

func TestGuardOnTheOtherBranchDoesNotCount(t *testing.T) {
	for name, c := range map[string]struct {
		guard string
		want  []string
	}{
		"IsPresent false": {`"Choices": [{"Variable": "$.Found.Message", "IsPresent": false, "Next": "Report"}], "Default": "Plain"`,
			[]string{"state Report", "$.Found.Message", "never present"}},
		"Or": {`"Choices": [{"Or": [{"Variable": "$.Found.Message", "IsPresent": true}, {"Variable": "$.Id", "StringEquals": "a"}], "Next": "Report"}], "Default": "Plain"`,
			[]string{"state Report", "$.Found.Message", "may be absent"}},
		"And, right to left": {`"Choices": [{"And": [{"Variable": "$.Found.Message", "StringEquals": "x"}, {"Variable": "$.Found.Message", "IsPresent": true}], "Next": "Report"}], "Default": "Plain"`,
			[]string{"state Guard", "Choices[0].And[0].Variable", "$.Found.Message", "may be absent"}},
	} {
		t.Run(name, func(t *testing.T) {
			findings := check(t, lookupThen("Guard", `
				"Guard": {"Type": "Choice", `+c.guard+`},
				"Report": {"Type": "Pass", "Parameters": {"Text.$": "$.Found.Message"}, "End": true},
				"Plain": {"Type": "Pass", "Parameters": {"Text.$": "$.Found.State"}, "End": true}`))
			expect(t, findings, c.want)
		})
	}
}

func TestJoinMakesAOneSidedMemberOptional(t *testing.T) {
	findings := check(t, `{"StartAt": "Route", "States": {
		"Route": {"Type": "Choice", "Choices": [{"Variable": "$.Id", "StringEquals": "a", "Next": "Mark"}], "Default": "Join"},
		"Mark": {"Type": "Pass", "Result": "yes", "ResultPath": "$.Marked", "Next": "Join"},
		"Join": {"Type": "Pass", "Parameters": {"M.$": "$.Marked", "I.$": "$.Id"}, "End": true}}}`)
	expect(t, findings, []string{"state Join", "$.Marked", "may be absent", "set on the way from state Mark but not on every other way into state Join"})
}

func TestCatchAddsErrorAndCause(t *testing.T) {
	findings := check(t, `{"StartAt": "Lookup", "States": {
		"Lookup": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.Id"}, "ResultPath": "$.Found",
			"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.Failure", "Next": "Failed"}], "Next": "Done"},
		"Done": {"Type": "Pass", "Parameters": {"S.$": "$.Found.State"}, "End": true},
		"Failed": {"Type": "Pass", "Parameters": {"E.$": "$.Failure.Error", "C.$": "$.Failure.Cause", "S.$": "$.Found.State", "X.$": "$.Failure.Stack"}, "End": true}}}`)
	expect(t, findings,
		[]string{"state Failed", "$.Found", "never present"},
		[]string{"state Failed", "$.Failure.Stack", "never present"})
}

func TestResultPathNullDollarAndDeep(t *testing.T) {
	findings := check(t, `{"StartAt": "Keep", "States": {
		"Keep": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.Id"}, "ResultPath": null, "Next": "Deep"},
		"Deep": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.Id"}, "ResultPath": "$.A.B", "Next": "Replace"},
		"Replace": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.A.B.Id"}, "Next": "Read"},
		"Read": {"Type": "Pass", "Parameters": {"S.$": "$.State", "Old.$": "$.A"}, "End": true}}}`)
	expect(t, findings, []string{"state Read", "$.A", "never present"})
}

func TestPassResultAndOutputPath(t *testing.T) {
	findings := check(t, `{"StartAt": "Set", "States": {
		"Set": {"Type": "Pass", "Result": {"Flag": true, "Inner": {"N": 1}}, "ResultPath": "$.R", "OutputPath": "$.R", "Next": "Read"},
		"Read": {"Type": "Pass", "Parameters": {"N.$": "$.Inner.N", "F.$": "$.Flag", "Id.$": "$.Id"}, "End": true}}}`)
	expect(t, findings, []string{"state Read", "$.Id", "never present"})
}

func TestMapIterations(t *testing.T) {
	findings := check(t, lookupThen("Each", `
		"Each": {"Type": "Map", "ItemsPath": "$.Found.Items",
			"ItemSelector": {"Name.$": "$$.Map.Item.Value.Name", "Size.$": "$$.Map.Item.Value.Size", "Index.$": "$$.Map.Item.Index"},
			"ItemProcessor": {"StartAt": "Use", "States": {
				"Use": {"Type": "Pass", "Parameters": {"N.$": "$.Name", "I.$": "$.Index", "Id.$": "$.Id"}, "End": true}}},
			"ResultPath": "$.Each", "Next": "After"},
		"After": {"Type": "Pass", "Parameters": {"First.$": "$.Each[0].N"}, "End": true}`))
	expect(t, findings,
		[]string{"state Each", "ItemSelector.Size.$", "$$.Map.Item.Value.Size", "item.Size is omitempty"},
		[]string{"state Use", "$.Id", "never present"},
		[]string{"state After", "$.Each[0].N", "may be absent", "length is not known"})
}

func TestParallelBranches(t *testing.T) {
	findings := check(t, `{"StartAt": "Both", "States": {
		"Both": {"Type": "Parallel", "Branches": [
			{"StartAt": "One", "States": {"One": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.Id"}, "End": true}}},
			{"StartAt": "Two", "States": {"Two": {"Type": "Pass", "Parameters": {"State.$": "$.Extra"}, "End": true}}}],
			"ResultSelector": {"S.$": "$[0].State"}, "Next": "Read"},
		"Read": {"Type": "Pass", "Parameters": {"S.$": "$.S"}, "End": true}}}`)
	expect(t, findings,
		[]string{"state Two", "$.Extra", "workflowInput.Extra is omitempty"},
		[]string{"state Both", "ResultSelector.S.$", "$[0].State", "length is not known"})
}

func TestTaskPayloadMustFitTheStepsInput(t *testing.T) {
	findings := check(t, `{"StartAt": "Send", "States": {
		"Send": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"ID.$": "$.Id", "Note": 3}, "End": true}}}`)
	expect(t, findings,
		[]string{"state Send", "$.ID", "has no member ID", "never sees it"},
		[]string{"state Send", "$.Id", "always expects it"},
		[]string{"state Send", "$.Note", "wants string", "sends number"})
}

func TestChoiceComparesTheRightType(t *testing.T) {
	findings := check(t, lookupThen("Route", `
		"Route": {"Type": "Choice", "Choices": [{"Variable": "$.Found.Count", "StringEquals": "2", "Next": "Done"},
			{"Variable": "$.Found.Count", "NumericLessThanPath": "$.Found.State", "Next": "Done"}], "Default": "Done"},
		"Done": {"Type": "Succeed"}`))
	expect(t, findings,
		[]string{"state Route", "Choices[0].Variable", "$.Found.Count", "needs string"},
		[]string{"state Route", "Choices[1].NumericLessThanPath", "$.Found.State", "needs number"})
}

func TestWaitAndFailPaths(t *testing.T) {
	findings := check(t, lookupThen("Wait", `
		"Wait": {"Type": "Wait", "SecondsPath": "$.Found.Delay", "Next": "Stop"},
		"Stop": {"Type": "Fail", "ErrorPath": "$.Found.State", "CausePath": "States.Format('{}', $.Found.Message)"}`))
	expect(t, findings,
		[]string{"state Wait", "SecondsPath", "$.Found.Delay", "never present"})
	findings = check(t, lookupThen("Stop", `
		"Stop": {"Type": "Fail", "ErrorPath": "$.Found.State", "CausePath": "States.Format('{}', $.Found.Message)"}`))
	expect(t, findings, []string{"state Stop", "CausePath", "$.Found.Message", "may be absent"})
}

func TestLoopsConvergeAndKeepWhatEveryRoundSets(t *testing.T) {
	findings := check(t, `{"StartAt": "Lookup", "States": {
		"Lookup": {"Type": "Task", "Resource": "${LookupFunctionArn}", "Parameters": {"Id.$": "$.Id"}, "ResultPath": "$.Found", "Next": "Route"},
		"Route": {"Type": "Choice", "Choices": [{"Variable": "$.Found.State", "StringEquals": "BUSY", "Next": "Nest"}], "Default": "Done"},
		"Nest": {"Type": "Pass", "ResultPath": "$.Previous", "Next": "Wait"},
		"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Lookup"},
		"Done": {"Type": "Pass", "Parameters": {"S.$": "$.Found.State", "P.$": "$.Previous.Found.State"}, "End": true}}}`)
	expect(t, findings, []string{"state Done", "$.Previous.Found.State", "may be absent"})
}

func TestServiceIntegrations(t *testing.T) {
	findings := check(t, `{"StartAt": "Invoke", "States": {
		"Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			"Parameters": {"FunctionName": "${LookupFunctionArn}", "Payload": {"Id.$": "$.Id"}},
			"ResultSelector": {"State.$": "$.Payload.State", "Code.$": "$.StatusCode"}, "Next": "Sdk"},
		"Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:kms:describeKey", "Parameters": {"KeyId.$": "$.State"}, "End": true}}}`)
	expect(t, findings, []string{"state Sdk", "Resource", "no model of what arn:aws:states:::aws-sdk:kms:describeKey returns"})
}

func TestUnknownPlaceholderIsReported(t *testing.T) {
	findings := check(t, `{"StartAt": "Other", "States": {
		"Other": {"Type": "Task", "Resource": "${OtherFunctionArn}", "End": true}}}`)
	expect(t, findings, []string{"state Other", "${OtherFunctionArn} names no step"})
}
