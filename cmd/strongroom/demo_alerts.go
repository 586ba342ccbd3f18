package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	ebsandbox "github.com/strongroom/strongroom/pkg/sandbox/events"
	snssvc "github.com/strongroom/strongroom/pkg/sandbox/sns"
)

// alertsStack is the alerts stack's name in cdk.out (infra/main.go's AlertsStackName).
const alertsStack = "StrongroomAlerts"

// alertFixtures are the recorded CloudTrail events the demo delivers, from pkg/trailalert's
// fixtures: one of each kind a security team is asked to watch.
var alertFixtures = []string{
	"01-signin-root-success",
	"06-cloudhsm-deletecluster",
	"07-kms-schedulekeydeletion-iamuser",
	"10-secretsmanager-getsecretvalue",
	"02-signin-iamuser-failure",
	"17-secretsmanager-accessdenied",
	"13-secretsmanager-rotationfailed",
}

// The demo's subscribers. The synthesized stack subscribes strongroom:alertEmail only when cdk.json
// sets it, so the demo subscribes these two itself: everyone gets every alert, on-call only the
// critical ones (an SNS filter policy on the severity message attribute).
const (
	alertsEveryone = "security-team@example.com"
	alertsOnCall   = "on-call@example.com"
)

// alerts deploys the alerts stack and relays recorded CloudTrail events through it.
func (d *demo) alerts(ctx context.Context) (string, error) {
	p := d.p
	p.heading("1. CloudTrail alerts: EventBridge -> relay Lambda -> SNS e-mail")
	template := d.template(alertsStack)
	if _, err := os.Stat(template); err != nil {
		return "", fmt.Errorf("%s not found: run `make build synth` first (make demo does)", template)
	}
	topicARN, err := d.deployAlerts(ctx)
	if err != nil {
		return "", err
	}
	d.clock.start()
	if err := d.subscribeAlerts(ctx, topicARN); err != nil {
		return "", err
	}

	// The fixtures are whole events as EventBridge delivers them, which is the sandbox's Envelope.
	events := make([]ebsandbox.Envelope, len(alertFixtures))
	for i, name := range alertFixtures {
		path := filepath.Join(d.cfg.root, "pkg", "trailalert", "testdata", "events", name+".json")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read recorded event: %w", err)
		}
		if err := json.Unmarshal(b, &events[i]); err != nil {
			return "", fmt.Errorf("read recorded event %s: %w", path, err)
		}
	}

	// Only AWS services may emit aws.* events: PutEvents refuses them, on AWS as here. CloudTrail
	// delivers them to the default bus itself, and the sandbox's equivalent of that is Publish.
	first := events[0]
	out, err := eventbridge.NewFromConfig(d.aws).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(first.Source), DetailType: aws.String(first.DetailType), Detail: aws.String(string(first.Detail)),
	}}})
	if err != nil {
		return "", fmt.Errorf("PutEvents: %w", err)
	}
	if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) == "" {
		return "", fmt.Errorf("PutEvents accepted an event with source %s; AWS refuses aws.* sources (NotAuthorizedForSourceException)", first.Source)
	}
	p.line("PutEvents(source %s) -> %s, as on AWS: only CloudTrail may put aws.* events, so the sandbox's CloudTrail delivers the recorded ones",
		first.Source, aws.ToString(out.Entries[0].ErrorCode))

	seen := 0
	subjects := 0
	for i, ev := range events {
		if _, err := d.sb.Events.Publish(ctx, ev.Source, ev.DetailType, ev.Detail, ev.Resources...); err != nil {
			return "", fmt.Errorf("deliver %s: %w", alertFixtures[i], err)
		}
		// EventBridge invokes the relay asynchronously; wait for it (and any retry) to finish.
		if err := d.sb.Lambda.WaitIdle(ctx); err != nil {
			return "", fmt.Errorf("wait for the relay: %w", err)
		}
		all := d.sb.SNS.Deliveries(topicARN)
		fresh := all[seen:]
		seen = len(all)
		p.line("CloudTrail event %s (%s, %s)", eventName(ev.Detail), ev.Source, ev.DetailType)
		if len(fresh) == 0 {
			return "", fmt.Errorf("event %s reached no subscriber: the relay published nothing (run with -v for its logs)", alertFixtures[i])
		}
		var others []string
		for _, m := range fresh {
			if m.Endpoint != alertsEveryone {
				others = append(others, m.Endpoint)
				continue
			}
			subjects++
			printEmail(d, m)
		}
		if len(others) > 0 {
			p.plain("      also to: %s", strings.Join(others, ", "))
		}
	}
	onCall := 0
	for _, m := range d.sb.SNS.Deliveries(topicARN) {
		if m.Endpoint == alertsOnCall {
			onCall++
		}
	}
	if err := d.testAlarms(ctx); err != nil {
		return "", err
	}
	if err := d.showTrail(ctx); err != nil {
		return "", err
	}
	for _, st := range d.stacks {
		if st.Name == alertsStack {
			if err := d.showFunctionDeadLetter(ctx, st); err != nil {
				return "", fmt.Errorf("%s's function dead letters: %w", st.Name, err)
			}
		}
	}
	return fmt.Sprintf("%d events -> %d e-mails to %s, %d to %s", len(events), subjects, alertsEveryone, onCall, alertsOnCall), nil
}

// subscribeAlerts subscribes the demo's two e-mail addresses to the alert topic and keeps it as
// d.alertTopic, for the sections that show the e-mails their workflows cause.
func (d *demo) subscribeAlerts(ctx context.Context, topicARN string) error {
	snsc := sns.NewFromConfig(d.aws)
	for _, s := range []struct{ endpoint, filter string }{{alertsEveryone, ""}, {alertsOnCall, `{"severity":["critical"]}`}} {
		in := &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("email"), Endpoint: aws.String(s.endpoint), ReturnSubscriptionArn: true}
		what := "every alert"
		if s.filter != "" {
			in.Attributes = map[string]string{"FilterPolicy": s.filter}
			what = "filter policy " + s.filter
		}
		if _, err := snsc.Subscribe(ctx, in); err != nil {
			return fmt.Errorf("subscribe %s to %s: %w", s.endpoint, topicARN, err)
		}
		d.p.line("subscribed %s (%s)", s.endpoint, what)
	}
	d.alertTopic = topicARN
	return nil
}

// alertsFirst deploys the alerts stack, subscribes the demo's addresses and tests one of its alarms
// when the alerts section does not run: the other stacks import its alarm topic and alert relay
// (Fn::ImportValue, Fn::GetStackOutput), so cdk deploy deploys it first. why says what needs it.
func (d *demo) alertsFirst(ctx context.Context, why string) error {
	if d.runs("alerts") {
		return nil
	}
	d.p.line("%s: deploying %s first", why, alertsStack)
	topic, err := d.deployAlerts(ctx)
	if err != nil {
		return err
	}
	if err := d.subscribeAlerts(ctx, topic); err != nil {
		return err
	}
	return d.testAlarms(ctx)
}

// deployAlerts stands the stack up, with the clock stopped, and returns its topic ARN.
func (d *demo) deployAlerts(ctx context.Context) (string, error) {
	p := d.p
	log, err := d.newDeployLog(alertsStack)
	if err != nil {
		return "", err
	}
	p.line("deploying %s from %s (its function is the real lambdas/trailrelay, built for this host)...", alertsStack, d.assembly())
	st, err := d.deployStack(ctx, log)
	d.deploy.Progress = nil
	if err != nil {
		return "", fmt.Errorf("deploy %s from %s: %w", alertsStack, d.assembly(), err)
	}
	if n := len(st.NotEmulated); n > 0 {
		kinds := map[string]bool{}
		for _, r := range st.NotEmulated {
			kinds[strings.TrimPrefix(strings.Fields(r)[0], "AWS::")] = true
		}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		slices.Sort(names)
		p.line("deploy: %d resources have no sandbox emulation and are placeholders: %s", n, strings.Join(names, ", "))
	}
	topic := topicOf(st)
	if topic == "" {
		return "", fmt.Errorf("stack %s has no AWS::SNS::Topic", alertsStack)
	}
	p.line("deployed %s: relay %s, topic %s", alertsStack, strings.Join(mapValues(st.Functions), ", "), topic)
	return topic, nil
}

func topicOf(st *deploy.Stack) string {
	for id, r := range st.Template.Resources {
		if r.Type == "AWS::SNS::Topic" {
			return st.Physical(id)
		}
	}
	return ""
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func eventName(detail json.RawMessage) string {
	var d struct {
		EventName string `json:"eventName"`
	}
	_ = json.Unmarshal(detail, &d)
	return d.EventName
}

// emailBodyLines are the body lines the demo shows after the headline: enough to triage from.
var emailBodyLines = []string{"Who:", "What:", "Result:"}

// printEmail prints an e-mail of a CloudTrail alert: its headline and emailBodyLines.
func printEmail(d *demo, m snssvc.Delivery) { printEmailLines(d, m, emailBodyLines) }

// printEmailLines prints an e-mail's recipient, subject and severity, the body's headline, and the
// body lines that start with one of bodyLines.
func printEmailLines(d *demo, m snssvc.Delivery, bodyLines []string) {
	p := d.p
	sev := m.Attributes["severity"].StringValue
	p.plain("   -> To: %s  Subject: %s  [severity=%s]", m.Endpoint, m.EmailSubject(), sev)
	lines := strings.Split(m.Message, "\n")
	if len(lines) > 0 {
		p.plain("      | %s", lines[0])
	}
	for _, l := range lines[1:] {
		for _, prefix := range bodyLines {
			if strings.HasPrefix(l, prefix) {
				p.plain("      | %s", l)
			}
		}
	}
}
