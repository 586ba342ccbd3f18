package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMFunctionLogs: what a function prints reaches its log group (its LoggingConfig's),
// in a stream named as Lambda names an execution environment's, with the function's execution role
// granted logs:CreateLogStream and logs:PutLogEvents on the group as CDK grants them
// (<group ARN>:*). Without logs:PutLogEvents the function still runs, its lines are dropped and
// the refusal is a denied Decision with AWS's message.
func TestEnforceIAMFunctionLogs(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	bin, err := lambdaruntime.BuildHost(ctx, "./lambda/testdata/whoami", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	lc, ic, logc := awslambda.NewFromConfig(op), iam.NewFromConfig(op), cwl.NewFromConfig(op)

	for i, c := range []struct {
		name    string
		actions []string
		denied  string // the action refused, "" for lines delivered
		// say is what the function prints ("" for nothing: Lambda's platform lines still need the
		// grants); format its LoggingConfig.LogFormat.
		say, format string
	}{
		{"both granted", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, "", "alert mailed", sblambda.LogFormatText},
		{"no PutLogEvents", []string{"logs:CreateLogStream"}, "logs:PutLogEvents", "alert mailed", sblambda.LogFormatText},
		{"quiet, JSON", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, "", "", sblambda.LogFormatJSON},
		{"quiet, no CreateLogStream", []string{"logs:PutLogEvents"}, "logs:CreateLogStream", "", sblambda.LogFormatJSON},
	} {
		t.Run(c.name, func(t *testing.T) {
			fn, group := fmt.Sprintf("relay-%d", i), fmt.Sprintf("/strongroom/relay-%d", i)
			if _, err := logc.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
				t.Fatal(err)
			}
			groupARN := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", env.Region, env.Account, group)
			roleARN := createRole(ctx, t, ic, fn+"-role", "lambda.amazonaws.com",
				map[string]any{"Effect": "Allow", "Action": c.actions, "Resource": groupARN + ":*"},
				map[string]any{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"})
			if _, err := env.Lambda.RegisterBinary(fn, bin, nil, sblambda.WithLogGroup(group), sblambda.WithLogFormat(c.format)); err != nil {
				t.Fatal(err)
			}
			env.BindRole(fn, roleARN)
			// Two invocations in one environment: the first one's line is surely read from the
			// process's pipe by the time the second has ended.
			for _, say := range []string{c.say, ""} {
				out, err := lc.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"say":"` + say + `"}`)})
				if err != nil || out.FunctionError != nil {
					t.Fatalf("invoke: %v %s", err, out.Payload)
				}
			}
			deliveries := env.Lambda.LogDeliveries()
			deliveries = slices.DeleteFunc(deliveries, func(d sblambda.LogDelivery) bool { return d.Function != fn })
			if len(deliveries) == 0 {
				t.Fatal("no delivery of the function's lines")
			}
			if d := deliveries[0]; d.Group != group || !strings.Contains(d.Stream, "/[$LATEST]") || !strings.HasPrefix(d.Stream, env.Clock.Now().UTC().Format("2006/01/02/")) {
				t.Errorf("delivery %+v, want group %s and a stream YYYY/MM/DD/[$LATEST]<id>", d, group)
			}
			got := env.Logs.Messages(group)
			if c.denied == "" {
				if (c.say != "" && !slices.Contains(got, c.say)) || deliveries[0].Err != "" {
					t.Fatalf("log group holds %q (delivery %+v), want the function's line", got, deliveries[0])
				}
				checkPlatformLines(t, c.format, c.say, got)
				streams, err := logc.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
				if err != nil || len(streams.LogStreams) != 1 || aws.ToString(streams.LogStreams[0].LogStreamName) != deliveries[0].Stream {
					t.Errorf("DescribeLogStreams: %+v %v", streams, err)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("log group holds %q, want nothing: the lines are dropped", got)
			}
			want := fmt.Sprintf("is not authorized to perform: %s on resource: %s:log-stream:%s", c.denied, groupARN, deliveries[0].Stream)
			if !strings.Contains(deliveries[0].Err, want) || !strings.Contains(deliveries[0].Err, "assumed-role/"+fn+"-role/"+fn) {
				t.Errorf("delivery error %q, want the role session refused: %s", deliveries[0].Err, want)
			}
			var denied int
			for _, d := range env.Decisions() {
				if !d.Allowed && d.Action == c.denied && strings.HasPrefix(d.Resource, groupARN+":log-stream:") {
					denied++
				}
			}
			if denied == 0 {
				t.Errorf("no denied Decision for %s", c.denied)
			}
		})
	}
}

// checkPlatformLines checks got, a log group's messages after two invocations of which the first
// printed say ("" for nothing), for Lambda's platform lines around each invocation in format:
// START, the function's lines, END, REPORT (Text); platform.start, the lines, platform.report with
// status success (JSON); each pair naming one request id.
func checkPlatformLines(t *testing.T, format, say string, got []string) {
	t.Helper()
	type line struct{ kind, requestID string }
	var seen []line
	for _, m := range got {
		if format == sblambda.LogFormatJSON {
			var e struct {
				Type   string `json:"type"`
				Record struct {
					RequestID string `json:"requestId"`
					Status    string `json:"status"`
				} `json:"record"`
			}
			if err := json.Unmarshal([]byte(m), &e); err != nil || !strings.HasPrefix(e.Type, "platform.") {
				seen = append(seen, line{"say", m})
				continue
			}
			if e.Type == "platform.report" && e.Record.Status != "success" {
				t.Errorf("platform.report %s, want status success", m)
			}
			seen = append(seen, line{e.Type, e.Record.RequestID})
			continue
		}
		kind, rest, _ := strings.Cut(m, " RequestId: ")
		if kind != "START" && kind != "END" && kind != "REPORT" {
			seen = append(seen, line{"say", m})
			continue
		}
		id, _, _ := strings.Cut(rest, " ")
		id, _, _ = strings.Cut(id, "\t")
		seen = append(seen, line{kind, id})
	}
	kinds := []string{"START", "END", "REPORT"}
	if format == sblambda.LogFormatJSON {
		kinds = []string{"platform.start", "platform.report"}
	}
	var want []string
	for i := range 2 {
		want = append(want, kinds[0])
		if i == 0 && say != "" {
			want = append(want, "say")
		}
		want = append(want, kinds[1:]...)
	}
	var kindsSeen []string
	for _, l := range seen {
		kindsSeen = append(kindsSeen, l.kind)
	}
	if !slices.Equal(kindsSeen, want) {
		t.Fatalf("log group holds %q, want lines of kinds %v", got, want)
	}
	n := slices.Index(want[1:], kinds[0]) + 1 // where the second invocation's lines start
	for _, inv := range [][]line{seen[:n], seen[n:]} {
		var ids []string
		for _, l := range inv {
			if l.kind != "say" {
				ids = append(ids, l.requestID)
			}
		}
		if len(ids[0]) != 36 || slices.ContainsFunc(ids, func(id string) bool { return id != ids[0] }) {
			t.Errorf("an invocation's platform lines name request ids %q, want one UUID", ids)
		}
	}
}

// createRole creates the role name, which service may assume, with one inline policy of statements,
// and returns its ARN.
func createRole(ctx context.Context, t *testing.T, ic *iam.Client, name, service string, statements ...map[string]any) string {
	t.Helper()
	trust, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{
		{"Effect": "Allow", "Principal": map[string]any{"Service": service}, "Action": "sts:AssumeRole"}}})
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(trust))})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("grants"), PolicyDocument: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(role.Role.Arn)
}
