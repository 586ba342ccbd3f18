package sns_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/strongroom/strongroom/pkg/sandbox/sns"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// newEnv starts a complete sandbox (package sandboxtest) and returns a real SDK client for its
// SNS and the service itself, for Deliveries.
func newEnv(t testing.TB) (*awssns.Client, *sns.Service) {
	t.Helper()
	sb := sandboxtest.New(t)
	return awssns.NewFromConfig(sb.NoRetryConfig()), sb.SNS
}

func createTopic(t testing.TB, c *awssns.Client, name string) string {
	t.Helper()
	out, err := c.CreateTopic(context.Background(), &awssns.CreateTopicInput{Name: aws.String(name), Attributes: map[string]string{"KmsMasterKeyId": "alias/aws/sns", "DisplayName": "Strongroom"}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return *out.TopicArn
}

func TestTopicsAndSubscriptions(t *testing.T) {
	c, _ := newEnv(t)
	ctx := context.Background()
	arn := createTopic(t, c, "alerts")
	if arn != "arn:aws:sns:us-east-1:123456789012:alerts" {
		t.Fatalf("topic ARN %s", arn)
	}
	if again := createTopic(t, c, "alerts"); again != arn {
		t.Fatalf("CreateTopic is not idempotent: %s", again)
	}
	_, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("alerts"), Attributes: map[string]string{"KmsMasterKeyId": "alias/other"}})
	sandboxtest.WantCode(t, err, "InvalidParameter")
	_, err = c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("bad name")})
	sandboxtest.WantCode(t, err, "InvalidParameter")
	attrs, err := c.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: &arn})
	if err != nil || attrs.Attributes["KmsMasterKeyId"] != "alias/aws/sns" || attrs.Attributes["TopicArn"] != arn || attrs.Attributes["DisplayName"] != "Strongroom" {
		t.Fatalf("topic attributes %v %v", err, attrs)
	}
	sub, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email"), Endpoint: aws.String("secops@example.com")})
	if err != nil || !strings.HasPrefix(*sub.SubscriptionArn, arn+":") {
		t.Fatalf("subscribe: %v %v", err, sub)
	}
	if again, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email"), Endpoint: aws.String("secops@example.com")}); err != nil || *again.SubscriptionArn != *sub.SubscriptionArn {
		t.Fatalf("Subscribe is not idempotent: %v", err)
	}
	_, err = c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email"), Endpoint: aws.String("secops@example.com"), Attributes: map[string]string{"FilterPolicy": `{"a":["b"]}`}})
	sandboxtest.WantCode(t, err, "InvalidParameter")
	if _, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("lambda"), Endpoint: aws.String("arn:aws:lambda:us-east-1:123456789012:function:pager")}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, topic, protocol, endpoint, code string
	}{
		{"bad email", arn, "email", "not-an-address", "InvalidParameter"},
		{"bad protocol", arn, "carrier-pigeon", "x", "InvalidParameter"},
		{"bad lambda arn", arn, "lambda", "pager", "InvalidParameter"},
		{"unknown topic", arn + "-nope", "email", "a@example.com", "NotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(tc.topic), Protocol: aws.String(tc.protocol), Endpoint: aws.String(tc.endpoint)})
			sandboxtest.WantCode(t, err, tc.code)
		})
	}
	subs, err := c.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: &arn})
	if err != nil || len(subs.Subscriptions) != 2 || *subs.Subscriptions[0].Endpoint != "secops@example.com" || *subs.Subscriptions[1].Protocol != "lambda" {
		t.Fatalf("list subscriptions %v %+v", err, subs)
	}
	topics, err := c.ListTopics(ctx, &awssns.ListTopicsInput{})
	if err != nil || len(topics.Topics) != 1 || *topics.Topics[0].TopicArn != arn {
		t.Fatalf("list topics %v %+v", err, topics)
	}
	if _, err := c.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("second unsubscribe: %v", err)
	}
	_, err = c.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn + "-nope")})
	if !errors.As(err, &nf) {
		t.Fatalf("unknown topic: %v", err)
	}
}

func TestPublishLimits(t *testing.T) {
	c, svc := newEnv(t)
	ctx := context.Background()
	arn := createTopic(t, c, "limits")
	if _, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email"), Endpoint: aws.String("secops@example.com")}); err != nil {
		t.Fatal(err)
	}
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	cases := []struct {
		name    string
		subject *string
		message string
		attrs   map[string]types.MessageAttributeValue
		code    string
	}{
		{name: "ok", subject: aws.String("[CRITICAL] DeleteCluster by alice in us-east-1"), message: "body", attrs: map[string]types.MessageAttributeValue{"severity": str("critical")}},
		{name: "subject of 100", subject: aws.String(strings.Repeat("s", 100)), message: "body"},
		{name: "message at the limit", message: strings.Repeat("m", 262144-len("severity")-len("String")-len("critical")), attrs: map[string]types.MessageAttributeValue{"severity": str("critical")}},
		{name: "subject of 101", subject: aws.String(strings.Repeat("s", 101)), message: "body", code: "InvalidParameter"},
		{name: "subject with newline", subject: aws.String("line\nbreak"), message: "body", code: "InvalidParameter"},
		{name: "subject not ASCII", subject: aws.String("café"), message: "body", code: "InvalidParameter"},
		{name: "subject starts with space", subject: aws.String(" padded"), message: "body", code: "InvalidParameter"},
		{name: "empty message", message: "", code: "InvalidParameter"},
		{name: "message over the limit with attributes", message: strings.Repeat("m", 262144-len("severity")-len("String")-len("critical")+1), attrs: map[string]types.MessageAttributeValue{"severity": str("critical")}, code: "InvalidParameter"},
		{name: "bad number attribute", message: "body", attrs: map[string]types.MessageAttributeValue{"count": {DataType: aws.String("Number"), StringValue: aws.String("ten")}}, code: "ParameterValueInvalid"},
		{name: "bad data type", message: "body", attrs: map[string]types.MessageAttributeValue{"x": {DataType: aws.String("Blob"), StringValue: aws.String("1")}}, code: "ParameterValueInvalid"},
		{name: "reserved attribute name", message: "body", attrs: map[string]types.MessageAttributeValue{"AWS.trace": str("1")}, code: "ParameterValueInvalid"},
		{name: "bad string array", message: "body", attrs: map[string]types.MessageAttributeValue{"regions": {DataType: aws.String("String.Array"), StringValue: aws.String("us-east-1")}}, code: "ParameterValueInvalid"},
	}
	delivered := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: &arn, Subject: tc.subject, Message: aws.String(tc.message), MessageAttributes: tc.attrs})
			if tc.code != "" {
				sandboxtest.WantCode(t, err, tc.code)
				return
			}
			if err != nil || out.MessageId == nil {
				t.Fatalf("publish: %v", err)
			}
			delivered++
		})
	}
	if got := len(svc.Deliveries(arn)); got != delivered {
		t.Fatalf("%d deliveries, want %d (refused messages must not be delivered)", got, delivered)
	}
	first := svc.Deliveries(arn)[0]
	if first.EmailSubject() != "[CRITICAL] DeleteCluster by alice in us-east-1" || first.Endpoint != "secops@example.com" ||
		first.Attributes["severity"].StringValue != "critical" || !strings.HasPrefix(first.Body, "body\n\n--\nIf you wish to stop receiving notifications") {
		t.Fatalf("delivery %+v", first)
	}
	if mail := first.Email(); !strings.HasPrefix(mail, "From: Strongroom <no-reply@sns.amazonaws.com>\nTo: secops@example.com\n") ||
		!strings.Contains(mail, "\nSubject: [CRITICAL] DeleteCluster by alice in us-east-1\n\nbody\n") {
		t.Fatalf("e-mail as the subscriber sees it:\n%s", mail)
	}
	_, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(arn + "-nope"), Message: aws.String("x")})
	sandboxtest.WantCode(t, err, "NotFound")
}

func TestFilterPoliciesOverTheWire(t *testing.T) {
	c, svc := newEnv(t)
	ctx := context.Background()
	arn := createTopic(t, c, "filtered")
	subscribe := func(endpoint, policy, scope string) string {
		out, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email-json"), Endpoint: aws.String(endpoint)})
		if err != nil {
			t.Fatal(err)
		}
		if scope != "" {
			if _, err := c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: out.SubscriptionArn, AttributeName: aws.String("FilterPolicyScope"), AttributeValue: aws.String(scope)}); err != nil {
				t.Fatal(err)
			}
		}
		if policy != "" {
			if _, err := c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: out.SubscriptionArn, AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(policy)}); err != nil {
				t.Fatalf("set policy %s: %v", policy, err)
			}
		}
		return *out.SubscriptionArn
	}
	subscribe("all@example.com", "", "")
	subscribe("critical@example.com", `{"severity":["critical"]}`, "")
	subscribe("not-signin@example.com", `{"event_source":[{"anything-but":["signin.amazonaws.com"]}],"severity":[{"exists":true}]}`, "")
	subscribe("hsm@example.com", `{"event_source":[{"prefix":"cloudhsm"}],"score":[{"numeric":[">=",5]}]}`, "")
	subscribe("body@example.com", `{"detail":{"eventName":["DeleteSecret"]}}`, "MessageBody")
	arr, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: &arn, Protocol: aws.String("email"), Endpoint: aws.String("bad@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: arr.SubscriptionArn, AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(`{"a":"not-an-array"}`)})
	sandboxtest.WantCode(t, err, "InvalidParameter")
	_, err = c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: arr.SubscriptionArn, AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(`{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`)})
	sandboxtest.WantCode(t, err, "InvalidParameter")
	if _, err := c.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: arr.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	publish := func(message string, attrs map[string]types.MessageAttributeValue) []string {
		out, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: &arn, Message: aws.String(message), MessageAttributes: attrs, Subject: aws.String("test")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range svc.Deliveries(arn) {
			if d.MessageID == *out.MessageId {
				got = append(got, d.Endpoint)
			}
		}
		return got
	}
	s := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	n := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(v)}
	}
	cases := []struct {
		name    string
		message string
		attrs   map[string]types.MessageAttributeValue
		want    []string
	}{
		{"critical cloudhsm", "m", map[string]types.MessageAttributeValue{"severity": s("critical"), "event_source": s("cloudhsm.amazonaws.com"), "score": n("7")},
			[]string{"all@example.com", "critical@example.com", "not-signin@example.com", "hsm@example.com"}},
		{"sign-in low", "m", map[string]types.MessageAttributeValue{"severity": s("low"), "event_source": s("signin.amazonaws.com")},
			[]string{"all@example.com"}},
		{"cloudhsm low score", "m", map[string]types.MessageAttributeValue{"severity": s("info"), "event_source": s("cloudhsm.amazonaws.com"), "score": n("4.5")},
			[]string{"all@example.com", "not-signin@example.com"}},
		{"no attributes, body match", `{"detail":{"eventName":"DeleteSecret"}}`, nil,
			[]string{"all@example.com", "body@example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := publish(tc.message, tc.attrs)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("delivered to %v, want %v", got, tc.want)
			}
		})
	}
	// email-json subscribers get the JSON notification envelope.
	d := svc.Deliveries(arn)[0]
	var env map[string]any
	if err := json.Unmarshal([]byte(d.Body), &env); err != nil || env["Type"] != "Notification" || env["TopicArn"] != arn || env["Message"] != "m" || env["Subject"] != "test" {
		t.Fatalf("email-json body %s: %v", d.Body, err)
	}
}
