// Package contract checks the contracts between a workflow's steps statically: every JSONPath a
// state of statemachines/*.asl.json reads must select something in what the workflow's input and
// the states before it can emit at that point, and every payload a Task sends must fit its step's
// input type. What a step emits and accepts is taken by reflection from its Go handler (Steps:
// lambdas/<function>/main.go's Handle(ctx, In) (Out, error)), a member that is omitempty or
// nullable counting as possibly absent, so a scripted scenario cannot hide a read of a member the
// real step omits (on AWS such a read fails the execution with States.Runtime). The same types
// validate the scenarios' scripted answers (Step.CheckResult).
//
// It lives in the emulator's tree because it reads definitions with pkg/sandbox/asl's parser.
package contract
