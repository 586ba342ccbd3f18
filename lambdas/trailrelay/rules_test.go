package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/alertrules"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestOperatorRulesInSandbox runs the real bootstrap with ALERT_RULES as infra/alerts writes it,
// against the sandbox's SNS, whose subscriptions apply their filter policies: an ignored event and
// a Strongroom role's routine call reach no one, an event an override lowers to warning reaches
// the warning-and-above subscriber and not the critical-only one, and a critical event reaches
// every subscriber.
func TestOperatorRulesInSandbox(t *testing.T) {
	s := startSNS(t) // everyone@ (no filter), oncall@ (critical only)
	ctx := context.Background()
	// As infra/alerts subscribes a strongroom:alertEmails "warning" address.
	policy, _ := json.Marshal(map[string][]string{alertrules.SeverityAttribute: alertrules.AtLeast(alertrules.Warning)})
	if _, err := s.client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(s.topicARN), Protocol: aws.String("email"),
		Endpoint: aws.String("warning@example.com"), Attributes: map[string]string{"FilterPolicy": string(policy)}}); err != nil {
		t.Fatal(err)
	}
	rules := alertrules.Rules{
		Ignore:   []alertrules.Match{{EventSource: "iam.amazonaws.com"}, {PrincipalARN: "arn:aws:sts::*:assumed-role/OpsAutomation/*"}},
		Severity: []alertrules.Override{{Match: alertrules.Match{EventName: "ScheduleKeyDeletion"}, Severity: alertrules.Warning}},
		OwnRoles: []string{"StrongroomRotation-*", "StrongroomClusterSteps-*"},
	}
	text, err := rules.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr sandboxtest.Buffer
	f, err := lambdaruntime.NewFunction(lambdaruntime.Config{
		Path: binaries["trailrelay"], FunctionName: "strongroom-trailrelay", Timeout: 10 * time.Second, Stdout: &stdout, Stderr: &stderr,
		Env: []string{"TOPIC_ARN=" + s.topicARN, "ALERT_RULES=" + text, "AWS_ENDPOINT_URL=" + s.url,
			"AWS_ACCESS_KEY_ID=AKIASANDBOX000000000", "AWS_SECRET_ACCESS_KEY=not-a-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fx := fixtures(t)
	cases := []struct {
		fixture string
		skipped string   // the relay's reason, "" when published
		to      []string // who receives it
	}{
		{"08-kms-disablekey-assumedrole", "ignore rule 1", nil}, // critical, but ignored
		{"10-secretsmanager-getsecretvalue", "strongroom routine call", nil},
		{"07-kms-schedulekeydeletion-iamuser", "", []string{"everyone@example.com", "warning@example.com"}},          // critical, lowered to warning
		{"05-cloudhsm-deletehsm", "", []string{"everyone@example.com", "warning@example.com", "oncall@example.com"}}, // an own role's critical call
		{"01-signin-root-success", "", []string{"everyone@example.com", "warning@example.com", "oncall@example.com"}},
	}
	received := func() map[string]int {
		n := map[string]int{}
		for _, d := range s.svc.Deliveries(s.topicARN) {
			n[d.Endpoint]++
		}
		return n
	}
	for _, c := range cases {
		before := received()
		res, err := f.Invoke(ctx, fx[c.fixture])
		if err != nil || res.FunctionError != nil {
			t.Fatalf("%s: invoke: %v %+v\nstderr: %s", c.fixture, err, res.FunctionError, stderr.String())
		}
		var out struct {
			MessageID, Skipped string
		}
		if err := json.Unmarshal(res.Payload, &out); err != nil || out.Skipped != c.skipped || (out.MessageID == "") != (c.skipped != "") {
			t.Errorf("%s: response %s; want skipped %q", c.fixture, res.Payload, c.skipped)
		}
		after := received()
		got := map[string]bool{}
		for ep, n := range after {
			if n > before[ep] {
				got[ep] = true
			}
		}
		if len(got) != len(c.to) {
			t.Errorf("%s reached %v; want %v", c.fixture, got, c.to)
		}
		for _, ep := range c.to {
			if !got[ep] {
				t.Errorf("%s did not reach %s (reached %v)", c.fixture, ep, got)
			}
		}
	}
	for _, want := range []string{`"reason":"ignore rule 1","ignore_rule":1`, `"reason":"strongroom routine call","role":"StrongroomRotation-`} {
		for i := 0; i < 100 && !strings.Contains(stdout.String(), want); i++ {
			time.Sleep(20 * time.Millisecond) // stdout is copied from a pipe
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no skip log with %s:\n%s", want, stdout.String())
		}
	}
}

// TestTrailRelayLambdaRefusesBadRules: rules the context validation would refuse stop the cold
// start, naming the variable, the rule and the field.
func TestTrailRelayLambdaRefusesBadRules(t *testing.T) {
	var stdout sandboxtest.Buffer
	p, err := lambdaruntime.Start(context.Background(), lambdaruntime.Config{
		Path: binaries["trailrelay"], FunctionName: "strongroom-trailrelay", Stdout: &stdout,
		Env: []string{"TOPIC_ARN=arn:aws:sns:us-east-1:111122223333:alerts", `ALERT_RULES={"ignore":[{"eventName":"Describe*"},{"account":"12"}]}`,
			"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	res, err := p.Invoke(context.Background(), fixtures(t)["01-signin-root-success"])
	if err != nil || res.FunctionError == nil || res.FunctionError.Type != lambdaruntime.ErrorTypeExit {
		t.Fatalf("invoke with bad ALERT_RULES: %v %+v", err, res.FunctionError)
	}
	if !strings.Contains(stdout.String(), "ALERT_RULES: ignore: rule 1: account") {
		t.Errorf("init log does not name the variable, rule and field: %s", stdout.String())
	}
}
