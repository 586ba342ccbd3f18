package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// received collects the events a Lambda target got.
func received(t *testing.T, env *sandboxtest.Env, name string) (string, chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 10)
	arn, err := env.Lambda.RegisterHandler(name, func(_ context.Context, p []byte) ([]byte, error) {
		var ev map[string]any
		if err := json.Unmarshal(p, &ev); err != nil {
			return nil, err
		}
		ch <- ev
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return arn, ch
}

func TestRulesTargetsAndDelivery(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	client := eventbridge.NewFromConfig(env.AWSConfig())
	relayArn, relay := received(t, env, "relay")

	pattern := `{"source":[{"prefix":"strongroom."}],"detail":{"severity":["critical"]}}`
	rule, err := client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("critical"), EventPattern: aws.String(pattern)})
	if err != nil {
		t.Fatalf("PutRule: %v", err)
	}
	if got, want := aws.ToString(rule.RuleArn), "arn:aws:events:us-east-1:123456789012:rule/critical"; got != want {
		t.Errorf("RuleArn = %q, want %q", got, want)
	}
	pt, err := client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("critical"), Targets: []types.Target{{Id: aws.String("relay"), Arn: aws.String(relayArn)}}})
	if err != nil || pt.FailedEntryCount != 0 {
		t.Fatalf("PutTargets: %+v %v", pt, err)
	}
	rules, err := client.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("crit")})
	if err != nil || len(rules.Rules) != 1 || aws.ToString(rules.Rules[0].EventPattern) != pattern || rules.Rules[0].State != types.RuleStateEnabled {
		t.Fatalf("ListRules = %+v, %v", rules, err)
	}
	targets, err := client.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("critical")})
	if err != nil || len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != relayArn {
		t.Fatalf("ListTargetsByRule = %+v, %v", targets, err)
	}

	put, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("strongroom.test"), DetailType: aws.String("Alert"), Detail: aws.String(`{"severity":"critical","n":1}`), Resources: []string{"arn:x"}},
		{Source: aws.String("strongroom.test"), DetailType: aws.String("Alert"), Detail: aws.String(`{"severity":"info"}`)},
		{Source: aws.String("strongroom.test"), DetailType: aws.String("Alert"), Detail: aws.String(`not json`)},
		{Source: aws.String("aws.kms"), DetailType: aws.String("Alert"), Detail: aws.String(`{"severity":"critical"}`)},
		{DetailType: aws.String("Alert"), Detail: aws.String(`{}`)},
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if put.FailedEntryCount != 3 {
		t.Errorf("FailedEntryCount = %d, want 3", put.FailedEntryCount)
	}
	wantCodes := []string{"", "", "MalformedDetail", "NotAuthorizedForSourceException", "InvalidArgument"}
	for i, e := range put.Entries {
		if aws.ToString(e.ErrorCode) != wantCodes[i] || (wantCodes[i] == "") != (aws.ToString(e.EventId) != "") {
			t.Errorf("entry %d = code %q id %q, want code %q", i, aws.ToString(e.ErrorCode), aws.ToString(e.EventId), wantCodes[i])
		}
	}
	select {
	case ev := <-relay:
		if ev["id"] != aws.ToString(put.Entries[0].EventId) || ev["detail-type"] != "Alert" || ev["source"] != "strongroom.test" ||
			ev["account"] != env.Account || ev["region"] != env.Region || ev["version"] != "0" {
			t.Errorf("delivered envelope = %v", ev)
		}
		if _, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil {
			t.Errorf("time %v: %v", ev["time"], err)
		}
		if d, _ := ev["detail"].(map[string]any); d["n"] != 1.0 {
			t.Errorf("detail = %v", ev["detail"])
		}
		if r, _ := ev["resources"].([]any); len(r) != 1 || r[0] != "arn:x" {
			t.Errorf("resources = %v", ev["resources"])
		}
	case <-ctx.Done():
		t.Fatal("the matching event never reached the Lambda target")
	}
	if err := env.Lambda.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(env.Events.Deliveries()); n != 1 {
		t.Errorf("deliveries = %d, want 1 (only the critical strongroom event matches)", n)
	}

	// Publish is how AWS services' own events (aws.*) enter the bus.
	if _, err := client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("sfn"), EventPattern: aws.String(
		`{"source":["aws.states"],"detail-type":["Step Functions Execution Status Change"],"detail":{"status":["FAILED","TIMED_OUT","ABORTED"]}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sfn"), Targets: []types.Target{{Id: aws.String("r"), Arn: aws.String(relayArn), InputPath: aws.String("$.detail")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Events.Publish(ctx, "aws.states", "Step Functions Execution Status Change", map[string]string{"status": "SUCCEEDED"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Events.Publish(ctx, "aws.states", "Step Functions Execution Status Change", map[string]string{"status": "FAILED", "executionArn": "arn:e"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-relay:
		if ev["status"] != "FAILED" || ev["executionArn"] != "arn:e" {
			t.Errorf("InputPath $.detail delivered %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("the FAILED execution event never arrived")
	}
}

func TestRuleErrors(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	client := eventbridge.NewFromConfig(env.AWSConfig())

	_, err := client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"aws.kms"}`)})
	var invalid *types.InvalidEventPatternException
	if !errors.As(err, &invalid) {
		t.Errorf("invalid pattern: err = %v, want InvalidEventPatternException", err)
	}
	_, err = client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("missing"), Targets: []types.Target{{Id: aws.String("a"), Arn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")}}})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || aws.ToString(notFound.Message) != "Rule missing does not exist on EventBus default." {
		t.Errorf("missing rule: err = %v, want ResourceNotFoundException", err)
	}
	if _, err := client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["a"]}`)}); err != nil {
		t.Fatal(err)
	}
	var ts []types.Target
	for _, id := range []string{"1", "2", "3", "4", "5", "6"} {
		ts = append(ts, types.Target{Id: aws.String(id), Arn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
	}
	_, err = client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: ts})
	var limit *types.LimitExceededException
	if !errors.As(err, &limit) {
		t.Errorf("6 targets: err = %v, want LimitExceededException", err)
	}
}

func TestTestEventPattern(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	client := eventbridge.NewFromConfig(env.AWSConfig())
	event, err := os.ReadFile("testdata/cloudtrail-delete-secret.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pattern, event string
		want                 bool
		wantErr              string
	}{
		{"match", `{"detail":{"eventName":["DeleteSecret"]}}`, string(event), true, ""},
		{"no match", `{"detail":{"eventName":["CreateSecret"]}}`, string(event), false, ""},
		{"invalid pattern", `{"detail":"x"}`, string(event), false, "InvalidEventPatternException"},
		{"event without id", `{"source":["a"]}`, `{"source":"a"}`, false, "InvalidArgument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := client.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(tc.pattern), Event: aws.String(tc.event)})
			if tc.wantErr != "" {
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.wantErr {
					t.Errorf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || out.Result != tc.want {
				t.Errorf("Result = %v, %v; want %v", out, err, tc.want)
			}
		})
	}
}

// TestFireSchedule: a scheduled rule fired now gives each target what its schedule would: its
// Input verbatim, or else the "Scheduled Event" envelope naming the rule; the event reaches no
// other rule, and a rule whose schedule would not run is an error.
func TestFireSchedule(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 20*time.Second)
	client := eventbridge.NewFromConfig(env.AWSConfig())
	checkArn, check := received(t, env, "check")
	plainArn, plain := received(t, env, "plain")
	otherArn, other := received(t, env, "other")

	rule, err := client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("health"), ScheduleExpression: aws.String("rate(5 minutes)")})
	if err != nil {
		t.Fatal(err)
	}
	input := `{"ResourceId":"cks-1","Properties":{"KeyStoreName":"strongroom"}}`
	if _, err := client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("health"), Targets: []types.Target{
		{Id: aws.String("a-check"), Arn: aws.String(checkArn), Input: aws.String(input)},
		{Id: aws.String("b-plain"), Arn: aws.String(plainArn)},
		{Id: aws.String("c-queue"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:q")},
	}}); err != nil {
		t.Fatal(err)
	}
	// A pattern rule on aws.events: a scheduled event is its rule's alone and must not reach it.
	if _, err := client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all-aws-events"), EventPattern: aws.String(`{"source":["aws.events"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all-aws-events"), Targets: []types.Target{{Id: aws.String("o"), Arn: aws.String(otherArn)}}}); err != nil {
		t.Fatal(err)
	}

	got, err := env.Events.FireSchedule(ctx, "health")
	if err != nil {
		t.Fatalf("FireSchedule: %v", err)
	}
	if len(got) != 3 || got[0].TargetID != "a-check" || got[1].TargetID != "b-plain" || got[2].TargetID != "c-queue" {
		t.Fatalf("deliveries = %+v; want one per target in id order", got)
	}
	if string(got[0].Payload) != input || got[0].Err != "" {
		t.Errorf("target with Input got %s (err %q); want its Input %s", got[0].Payload, got[0].Err, input)
	}
	if got[2].Err == "" || len(got[2].Payload) == 0 {
		t.Errorf("the SQS target: %+v; want it skipped with its payload kept", got[2])
	}
	select {
	case ev := <-check:
		if ev["ResourceId"] != "cks-1" {
			t.Errorf("target with Input received %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("the target with Input was never invoked")
	}
	select {
	case ev := <-plain:
		if ev["source"] != "aws.events" || ev["detail-type"] != "Scheduled Event" || ev["account"] != env.Account || ev["region"] != env.Region {
			t.Errorf("scheduled event = %v", ev)
		}
		if r, _ := ev["resources"].([]any); len(r) != 1 || r[0] != aws.ToString(rule.RuleArn) {
			t.Errorf("resources = %v; want [%s]", ev["resources"], aws.ToString(rule.RuleArn))
		}
		if d, ok := ev["detail"].(map[string]any); !ok || len(d) != 0 {
			t.Errorf("detail = %v; want {}", ev["detail"])
		}
		if at, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil || at.Sub(env.Clock.Now()).Abs() > time.Minute {
			t.Errorf("time %v (%v); want the sandbox's now, %s", ev["time"], err, env.Clock.Now())
		}
	case <-ctx.Done():
		t.Fatal("the target without Input was never invoked")
	}
	if err := env.Lambda.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-other:
		t.Errorf("the scheduled event reached another rule's target: %v", ev)
	default:
	}
	if n := len(env.Events.Deliveries()); n != 3 {
		t.Errorf("%d deliveries recorded; want the 3 of the fired rule", n)
	}

	if _, err := client.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("health")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ rule, want string }{
		{"health", "it is DISABLED"},
		{"all-aws-events", "it has no ScheduleExpression"},
		{"missing", "Rule missing does not exist"},
	} {
		if _, err := env.Events.FireSchedule(ctx, tc.rule); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FireSchedule(%s) = %v; want an error containing %q", tc.rule, err, tc.want)
		}
	}
	if n := len(env.Events.Deliveries()); n != 3 {
		t.Errorf("%d deliveries after the refused fires; want still 3", n)
	}
	if _, err := client.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("health")}); err != nil {
		t.Fatal(err)
	}
	if again, err := env.Events.FireSchedule(ctx, "health"); err != nil || len(again) != 3 {
		t.Errorf("after EnableRule: %d deliveries, %v; want 3", len(again), err)
	}
}
