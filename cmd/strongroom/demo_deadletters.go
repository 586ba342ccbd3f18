package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/events"
)

// deadLetter is one rule permission the demo takes away for a moment: the rule's target function
// and the AWS::Lambda::Permission that lets EventBridge invoke it for the rule.
type deadLetter struct {
	ruleARN, function, statement, queue string
}

// testDeadLetters shows, for each stack deployed so far (not shown yet) that has a dead-letter
// queue, one dead letter reaching it: it builds an event the stack's first such rule (by logical
// id) matches, removes the Lambda permission of every rule of the stack that matches it and
// dead-letters to a queue (so no function runs), publishes the event as the AWS service would,
// puts the permissions back, and receives the dead letters from the queue with the SDK, printing
// each one's ERROR_CODE and RULE_ARN. The function's policy refuses events.amazonaws.com
// (NO_PERMISSIONS, not retried), and EventBridge sends the event to the queue as
// events.amazonaws.com, judged on the queue's policy and, for an encrypted queue, its key's: a dead
// letter that is refused or lost is an error naming why.
func (d *demo) testDeadLetters(ctx context.Context) error {
	if d.deadLettersShown == nil {
		d.deadLettersShown = map[string]bool{}
	}
	for _, st := range d.stacks {
		if d.deadLettersShown[st.Name] {
			continue
		}
		d.deadLettersShown[st.Name] = true
		if err := d.testDeadLetter(ctx, st); err != nil {
			return fmt.Errorf("%s's dead letters: %w", st.Name, err)
		}

	}
	return nil
}

func (d *demo) testDeadLetter(ctx context.Context, st *deploy.Stack) error {
	ids := slices.Sorted(maps.Keys(st.Template.Resources))
	type rule struct {
		id, arn, queue string
		pattern        *events.Pattern
		src            map[string]any
	}
	var rules []rule
	for _, id := range ids {
		r := st.Template.Resources[id]
		if r.Type != "AWS::Events::Rule" || r.Properties["EventPattern"] == nil {
			continue
		}
		props, err := st.Resolve(r.Properties)
		if err != nil {
			return err
		}
		p := props.(map[string]any)
		queue := ""
		for _, t := range list(p["Targets"]) {
			if dl, ok := t["DeadLetterConfig"].(map[string]any); ok {
				queue, _ = dl["Arn"].(string)
			}
		}
		if queue == "" {
			continue
		}
		src, _ := json.Marshal(p["EventPattern"])
		pattern, err := events.CompilePattern(string(src))
		if err != nil {
			return err
		}
		arn, _ := st.GetAtt(id, "Arn")
		rules = append(rules, rule{id: id, arn: fmt.Sprint(arn), queue: queue, pattern: pattern, src: p["EventPattern"].(map[string]any)})
	}
	if len(rules) == 0 {
		return nil
	}
	source, detailType, detail := eventFor(rules[0].src)
	envelope, _ := json.Marshal(map[string]any{"source": source, "detail-type": detailType, "detail": detail})
	var taken []deadLetter
	for _, id := range ids {
		r := st.Template.Resources[id]
		if r.Type != "AWS::Lambda::Permission" {
			continue
		}
		props, err := st.Resolve(r.Properties)
		if err != nil {
			return err
		}
		p := props.(map[string]any)
		for _, ru := range rules {
			if p["SourceArn"] == ru.arn && ru.pattern.Match(envelope) {
				taken = append(taken, deadLetter{ruleARN: ru.arn, function: fmt.Sprint(p["FunctionName"]), statement: id, queue: ru.queue})
			}
		}
	}
	p := d.p
	lc := lambda.NewFromConfig(d.aws)
	var removed []deadLetter
	for _, t := range taken {
		p.line("%s: dead letters: RemovePermission(%s) for a moment, so EventBridge may not invoke the target of %s", st.Name, t.statement, t.ruleARN)
		_, err := lc.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String(t.function), StatementId: aws.String(t.statement)})
		var missing *lambdatypes.ResourceNotFoundException
		switch {
		case errors.As(err, &missing):
			// A template without this permission (the mutation proof removes it): nothing to take.
		case err != nil:
			return fmt.Errorf("remove the permission %s of %s: %w", t.statement, t.function, err)
		default:
			removed = append(removed, t)
		}
	}
	seen, judged := len(d.sb.Events.Deliveries()), len(d.sb.Decisions())
	_, perr := d.sb.Events.Publish(ctx, source, detailType, detail)
	if d.refusedOnPurpose == nil {
		d.refusedOnPurpose = map[int]bool{}
	}
	for i, x := range d.sb.Decisions()[judged:] {
		for _, t := range taken {
			if !x.Allowed && x.Role == "events.amazonaws.com" && x.Action == "lambda:InvokeFunction" && x.Resource == t.function {
				d.refusedOnPurpose[judged+i] = true
			}
		}
	}
	for _, t := range removed {
		if _, err := lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(t.function), StatementId: aws.String(t.statement),
			Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("events.amazonaws.com"), SourceArn: aws.String(t.ruleARN)}); err != nil {
			return fmt.Errorf("put back the permission %s of %s: %w", t.statement, t.function, err)
		}
	}
	if perr != nil {
		return perr
	}
	ruleNames := map[string]bool{}
	for _, t := range taken {
		ruleNames[t.ruleARN[strings.LastIndex(t.ruleARN, "/")+1:]] = true
	}
	queues := map[string]bool{}
	for _, dl := range d.sb.Events.Deliveries()[seen:] {
		switch {
		case !ruleNames[dl.Rule]:
			continue // another event's delivery, made meanwhile
		case dl.DeadLetter == "":
			return fmt.Errorf("the %s event reached rule %s's target %s (%q) instead of its dead-letter queue", detailType, dl.Rule, dl.Arn, dl.Err)
		case dl.DeadLetterErr != "":
			return fmt.Errorf("the dead letter of rule %s was lost: %s", dl.Rule, dl.DeadLetterErr)
		}
		queues[dl.DeadLetter] = true
	}
	qc := sqs.NewFromConfig(d.aws)
	for _, q := range slices.Sorted(maps.Keys(queues)) {
		url := d.sb.SQS.URL(d.sb.SQS.NameOf(q))
		out, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return fmt.Errorf("receive the dead letters of %s: %w", q, err)
		}
		if len(out.Messages) == 0 {
			return fmt.Errorf("queue %s holds no dead letter", q)
		}
		for _, m := range out.Messages {
			attr := func(n string) string { return aws.ToString(m.MessageAttributes[n].StringValue) }
			p.line("%s: dead letter in %s: ERROR_CODE %s, RULE_ARN %s (sent as events.amazonaws.com, allowed by the queue's policy%s)",
				st.Name, d.sb.SQS.NameOf(q), attr("ERROR_CODE"), attr("RULE_ARN"), keyNote(d.sb.SQS.Attribute(q, "KmsMasterKeyId")))
			if _, err := qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return err
			}
		}
	}
	return nil
}

func keyNote(key string) string {
	if key == "" {
		return ""
	}
	return " and its KMS key's"
}

// eventFor builds an event an EventBridge pattern matches: the first value of each list, nested
// fields as nested objects.
func eventFor(pattern map[string]any) (source, detailType string, detail map[string]any) {
	first := func(v any) string {
		if l, ok := v.([]any); ok && len(l) > 0 {
			return fmt.Sprint(l[0])
		}
		return ""
	}
	var fill func(m map[string]any) map[string]any
	fill = func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				out[k] = fill(sub)
			} else {
				out[k] = first(v)
			}
		}
		return out
	}
	detail = map[string]any{}
	if m, ok := pattern["detail"].(map[string]any); ok {
		detail = fill(m)
	}
	return first(pattern["source"]), first(pattern["detail-type"]), detail
}

// list reads a resolved template list of objects.
func list(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// relayDeadLetterFixture is the recorded CloudTrail event the relay fails to relay on purpose (not
// one of alertFixtures, which the relay has already alerted on and would hold back as a repeat).
const relayDeadLetterFixture = "05-cloudhsm-deletehsm"

// showFunctionDeadLetter shows the alert relay's own dead letter: with SNS refusing every Publish of
// the relay (an injected InternalError, for its calls only), the relay fails a CloudTrail event on
// its first attempt and on both of Lambda's retries (its EventInvokeConfig), and Lambda sends the
// event to the relay's DeadLetterConfig queue with the relay's execution role: the role's
// sqs:SendMessage and, for the encrypted queue, kms:GenerateDataKey and kms:Decrypt on its key are
// judged. It receives the dead letter with the SDK and prints its attributes; a dead letter that
// does not arrive is an error naming why. Lambda's retries wait minutes of sandbox time: only once
// the demo's clock runs (the alerts section, after the stack is deployed; a section that deploys the
// alerts stack first holds the clock).
func (d *demo) showFunctionDeadLetter(ctx context.Context, st *deploy.Stack) error {
	var fn, queue string
	for _, id := range slices.Sorted(maps.Keys(st.Template.Resources)) {
		r := st.Template.Resources[id]
		if r.Type != "AWS::Lambda::Function" || r.Properties["DeadLetterConfig"] == nil {
			continue
		}
		props, err := st.Resolve(r.Properties)
		if err != nil {
			return err
		}
		dl, _ := props.(map[string]any)["DeadLetterConfig"].(map[string]any)
		fn, queue = st.Functions[id], fmt.Sprint(dl["TargetArn"])
		break
	}
	if fn == "" {
		return nil
	}
	p := d.p
	raw, err := os.ReadFile(filepath.Join(d.cfg.root, "pkg", "trailalert", "testdata", "events", relayDeadLetterFixture+".json"))
	if err != nil {
		return fmt.Errorf("read recorded event: %w", err)
	}
	var ev events.Envelope
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("read recorded event %s: %w", relayDeadLetterFixture, err)
	}
	fault, err := d.sb.Faults.Add(sandbox.Fault{Service: "sns", Operation: "Publish", Caller: fn, Kind: sandbox.FaultInternal})
	if err != nil {
		return err
	}
	p.line("%s: dead letter of the relay: SNS refuses every Publish of %s for a moment (an injected InternalError)", st.Name, fn)
	before := len(d.sb.Lambda.DeadLetters())
	_, perr := d.sb.Events.Publish(ctx, ev.Source, ev.DetailType, ev.Detail, ev.Resources...)
	werr := d.sb.Lambda.WaitIdle(ctx)
	d.sb.Faults.Remove(fault)
	if err := errors.Join(perr, werr); err != nil {
		return err
	}
	dls := d.sb.Lambda.DeadLetters()[before:]
	if len(dls) != 1 {
		return fmt.Errorf("the relay's failed event made %d dead letters, want 1 (Lambda's retries exhausted)", len(dls))
	}
	if dls[0].Err != "" {
		return fmt.Errorf("the relay's dead letter was lost: %s", dls[0].Err)
	}
	url := d.sb.SQS.URL(d.sb.SQS.NameOf(queue))
	qc := sqs.NewFromConfig(d.aws)
	out, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		return fmt.Errorf("receive the relay's dead letter: %w", err)
	}
	found := false
	for _, m := range out.Messages {
		attr := func(n string) string { return aws.ToString(m.MessageAttributes[n].StringValue) }
		if attr("RequestID") != dls[0].RequestID {
			continue
		}
		found = true
		msg := attr("ErrorMessage")
		if len(msg) > 100 {
			msg = msg[:100] + "..."
		}
		grants := "sqs:SendMessage"
		if d.sb.SQS.Attribute(queue, "KmsMasterKeyId") != "" {
			grants += " and kms:GenerateDataKey on the queue's key"
		}
		p.line("%s: dead letter of %s in %s after 3 attempts: RequestID %s, ErrorCode %s, ErrorMessage %q (sent by Lambda with the function's role, allowed by its %s)",
			st.Name, fn, d.sb.SQS.NameOf(queue), attr("RequestID"), attr("ErrorCode"), msg, grants)
		if _, err := qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("queue %s does not hold the relay's dead letter %s", queue, dls[0].RequestID)
	}
	return nil
}
