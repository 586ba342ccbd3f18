package sandbox_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestAWSCLI points an AWS client nobody here wrote at the sandbox.
func TestAWSCLI(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 3*time.Minute)
	if _, err := os.Stat(sandboxtest.AWSCLIPath); err != nil && os.Getenv("CI") != "true" {
		t.Skipf("%s is missing (run `make deps` to install Debian's awscli); this test fails instead of skipping when CI=true", sandboxtest.AWSCLIPath)
	}
	aws := sandboxtest.NewCLI(t, ctx, env.URL)

	t.Run("sts get-caller-identity", func(t *testing.T) {
		out := aws.Run("sts", "get-caller-identity")
		if out["Account"] != env.Account || out["Arn"] != "arn:aws:iam::"+env.Account+":user/sandbox" {
			t.Errorf("output = %v", out)
		}
	})

	t.Run("service error code printed", func(t *testing.T) {
		_, stderr, err := aws.Exec("events", "put-rule", "--name", "r", "--event-pattern", `{"source":"x"}`)
		if err == nil || !strings.Contains(stderr, "(InvalidEventPatternException) when calling the PutRule operation") {
			t.Errorf("err %v, stderr %q: want the exception name printed", err, stderr)
		}
	})

	t.Run("lambda invoke", func(t *testing.T) {
		if _, err := env.Lambda.RegisterHandler("echo", func(_ context.Context, p []byte) ([]byte, error) { return p, nil }); err != nil {
			t.Fatal(err)
		}
		outFile := t.TempDir() + "/out.json"
		out := aws.Run("lambda", "invoke", "--function-name", "echo", "--cli-binary-format", "raw-in-base64-out", "--payload", `{"hello":"cli"}`, outFile)
		got, _ := os.ReadFile(outFile)
		if out["StatusCode"] != 200.0 || string(got) != `{"hello":"cli"}` {
			t.Errorf("output %v, payload %s", out, got)
		}
	})

	t.Run("events put-rule list-rules", func(t *testing.T) {
		aws.Run("events", "put-rule", "--name", "trail", "--event-pattern", `{"detail-type":["AWS API Call via CloudTrail"]}`)
		out := aws.Run("events", "list-rules")
		rules, _ := out["Rules"].([]any)
		if len(rules) != 1 || rules[0].(map[string]any)["Name"] != "trail" {
			t.Errorf("rules = %v", out)
		}
	})

	t.Run("secretsmanager create-secret get-secret-value", func(t *testing.T) {
		created := aws.Run("secretsmanager", "create-secret", "--name", "strongroom/cli", "--secret-string", `{"password":"cli-s3cret"}`)
		got := aws.Run("secretsmanager", "get-secret-value", "--secret-id", "strongroom/cli")
		if got["ARN"] != created["ARN"] || got["SecretString"] != `{"password":"cli-s3cret"}` {
			t.Errorf("get-secret-value = %v, created %v", got, created)
		}
		stages, _ := got["VersionStages"].([]any)
		if len(stages) != 1 || stages[0] != "AWSCURRENT" {
			t.Errorf("VersionStages = %v", got["VersionStages"])
		}
	})

	t.Run("cloudhsmv2 create-cluster describe-clusters", func(t *testing.T) {
		subnets := aws.Run("ec2", "describe-subnets")
		list, _ := subnets["Subnets"].([]any)
		if len(list) < 2 {
			t.Fatalf("describe-subnets = %v, want the default VPC's subnets", subnets)
		}
		ids := []string{list[0].(map[string]any)["SubnetId"].(string), list[1].(map[string]any)["SubnetId"].(string)}
		created := aws.Run("cloudhsmv2", "create-cluster", "--hsm-type", "hsm2m.medium", "--subnet-ids", ids[0], ids[1])
		cluster, _ := created["Cluster"].(map[string]any)
		id, _ := cluster["ClusterId"].(string)
		if !strings.HasPrefix(id, "cluster-") || cluster["State"] != "CREATE_IN_PROGRESS" {
			t.Fatalf("create-cluster = %v", created)
		}
		described := aws.Run("cloudhsmv2", "describe-clusters", "--filters", "clusterIds="+id)
		clusters, _ := described["Clusters"].([]any)
		if len(clusters) != 1 || clusters[0].(map[string]any)["ClusterId"] != id {
			t.Errorf("describe-clusters = %v", described)
		}
	})

	t.Run("sns create-topic publish", func(t *testing.T) {
		topic := aws.Run("sns", "create-topic", "--name", "strongroom-alerts")
		arn, _ := topic["TopicArn"].(string)
		if arn != "arn:aws:sns:us-east-1:"+env.Account+":strongroom-alerts" {
			t.Fatalf("create-topic = %v", topic)
		}
		aws.Run("sns", "subscribe", "--topic-arn", arn, "--protocol", "email", "--notification-endpoint", "secops@example.com")
		pub := aws.Run("sns", "publish", "--topic-arn", arn, "--subject", "DeleteSecret by alice", "--message", "a secret was deleted")
		if id, _ := pub["MessageId"].(string); id == "" {
			t.Errorf("publish = %v, want a MessageId", pub)
		}
		if d := env.SNS.Deliveries(arn); len(d) != 1 {
			t.Errorf("deliveries = %+v, want the message delivered to the e-mail subscriber", d)
		}
	})

	t.Run("kms describe-custom-key-stores", func(t *testing.T) {
		out := aws.Run("kms", "describe-custom-key-stores")
		if stores, ok := out["CustomKeyStores"].([]any); !ok || len(stores) != 0 {
			t.Errorf("describe-custom-key-stores = %v, want an empty list", out)
		}
		_, stderr, err := aws.Exec("kms", "describe-custom-key-stores", "--custom-key-store-id", "cks-1234567890abcdef0")
		if err == nil || !strings.Contains(stderr, "(CustomKeyStoreNotFoundException)") {
			t.Errorf("unknown key store: err %v, stderr %q", err, stderr)
		}
	})

	t.Run("cloudwatch put-metric-alarm set-alarm-state describe-alarms", func(t *testing.T) {
		topic := aws.Run("sns", "create-topic", "--name", "alarms")
		arn, _ := topic["TopicArn"].(string)
		aws.Run("sns", "subscribe", "--topic-arn", arn, "--protocol", "email", "--notification-endpoint", "ops@example.com")
		if _, stderr, err := aws.Exec("cloudwatch", "put-metric-alarm", "--alarm-name", "dlq", "--alarm-actions", arn,
			"--namespace", "AWS/SQS", "--metric-name", "ApproximateNumberOfMessagesVisible", "--dimensions", "Name=QueueName,Value=dlq",
			"--statistic", "Maximum", "--period", "300", "--evaluation-periods", "1", "--threshold", "0.5",
			"--comparison-operator", "GreaterThanOrEqualToThreshold"); err != nil {
			t.Fatalf("put-metric-alarm: %v %s", err, stderr)
		}
		if _, stderr, err := aws.Exec("cloudwatch", "set-alarm-state", "--alarm-name", "dlq", "--state-value", "ALARM", "--state-reason", "cli test"); err != nil {
			t.Fatalf("set-alarm-state: %v %s", err, stderr)
		}
		out := aws.Run("cloudwatch", "describe-alarms", "--alarm-names", "dlq")
		alarms, _ := out["MetricAlarms"].([]any)
		if len(alarms) != 1 {
			t.Fatalf("describe-alarms = %v", out)
		}
		a := alarms[0].(map[string]any)
		dims, _ := a["Dimensions"].([]any)
		if a["StateValue"] != "ALARM" || a["StateReason"] != "cli test" || a["Threshold"] != 0.5 || a["Period"] != 300.0 ||
			len(dims) != 1 || dims[0].(map[string]any)["Value"] != "dlq" || a["AlarmArn"] != "arn:aws:cloudwatch:us-east-1:"+env.Account+":alarm:dlq" {
			t.Errorf("describe-alarms = %v", a)
		}
		if d := env.SNS.Deliveries(arn); len(d) != 1 || !strings.HasPrefix(d[0].Subject, `ALARM: "dlq"`) {
			t.Errorf("deliveries = %+v, want the ALARM notification", d)
		}
		_, stderr, err := aws.Exec("cloudwatch", "set-alarm-state", "--alarm-name", "nope", "--state-value", "OK", "--state-reason", "x")
		if err == nil || !strings.Contains(stderr, "(ResourceNotFound) when calling the SetAlarmState operation") {
			t.Errorf("unknown alarm: err %v, stderr %q", err, stderr)
		}
		aws.Run("cloudwatch", "delete-alarms", "--alarm-names", "dlq")
		if out := aws.Run("cloudwatch", "describe-alarms"); len(out["MetricAlarms"].([]any)) != 0 {
			t.Errorf("after delete-alarms: %v", out)
		}
	})

	t.Run("sqs create-queue send-message receive-message (Query protocol)", func(t *testing.T) {
		created := aws.Run("sqs", "create-queue", "--queue-name", "dlq", "--attributes", "MessageRetentionPeriod=1209600,VisibilityTimeout=45")
		url, _ := created["QueueUrl"].(string)
		if url != env.URL+"/"+env.Account+"/dlq" {
			t.Fatalf("create-queue = %v", created)
		}
		sent := aws.Run("sqs", "send-message", "--queue-url", url, "--message-body", `{"detail":{}}`,
			"--message-attributes", `{"ERROR_CODE":{"DataType":"String","StringValue":"NO_PERMISSIONS"}}`)
		if sent["MD5OfMessageBody"] != "4d825f0935d38a85995d821c6902df72" || sent["MD5OfMessageAttributes"] == nil {
			t.Errorf("send-message = %v", sent)
		}
		attrs := aws.Run("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
		a, _ := attrs["Attributes"].(map[string]any)
		if a["QueueArn"] != "arn:aws:sqs:us-east-1:"+env.Account+":dlq" || a["ApproximateNumberOfMessages"] != "1" || a["VisibilityTimeout"] != "45" {
			t.Errorf("get-queue-attributes = %v", attrs)
		}
		got := aws.Run("sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All", "--attribute-names", "ApproximateReceiveCount")
		msgs, _ := got["Messages"].([]any)
		if len(msgs) != 1 {
			t.Fatalf("receive-message = %v", got)
		}
		m := msgs[0].(map[string]any)
		ma, _ := m["MessageAttributes"].(map[string]any)
		code, _ := ma["ERROR_CODE"].(map[string]any)
		if m["Body"] != `{"detail":{}}` || code["StringValue"] != "NO_PERMISSIONS" || m["Attributes"].(map[string]any)["ApproximateReceiveCount"] != "1" ||
			m["MD5OfMessageAttributes"] != sent["MD5OfMessageAttributes"] {
			t.Errorf("received %v (sent %v)", m, sent)
		}
		aws.Run("sqs", "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"].(string))
		if list := aws.Run("sqs", "list-queues"); len(list["QueueUrls"].([]any)) != 1 {
			t.Errorf("list-queues = %v", list)
		}
		_, stderr, err := aws.Exec("sqs", "get-queue-url", "--queue-name", "nope")
		if err == nil || !strings.Contains(stderr, "(AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation") {
			t.Errorf("unknown queue: err %v, stderr %q", err, stderr)
		}
	})

	t.Run("s3 and cloudtrail", func(t *testing.T) {
		aws.Run("s3api", "create-bucket", "--bucket", "cli-trail")
		src := t.TempDir() + "/note.txt"
		if err := os.WriteFile(src, []byte("written by the AWS CLI"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := aws.Exec("s3", "cp", src, "s3://cli-trail/notes/note.txt"); err != nil {
			t.Fatalf("s3 cp: %v %s", err, stderr)
		}
		listed := aws.Run("s3api", "list-objects-v2", "--bucket", "cli-trail", "--prefix", "notes/")
		if c, _ := listed["Contents"].([]any); len(c) != 1 || c[0].(map[string]any)["Key"] != "notes/note.txt" {
			t.Errorf("list-objects-v2 = %v", listed)
		}
		dst := t.TempDir() + "/back.txt"
		if _, stderr, err := aws.Exec("s3", "cp", "s3://cli-trail/notes/note.txt", dst); err != nil {
			t.Fatalf("s3 cp back: %v %s", err, stderr)
		}
		if got, _ := os.ReadFile(dst); string(got) != "written by the AWS CLI" {
			t.Errorf("object read back: %q", got)
		}
		_, stderr, err := aws.Exec("s3api", "get-bucket-policy", "--bucket", "cli-trail")
		if err == nil || !strings.Contains(stderr, "(NoSuchBucketPolicy) when calling the GetBucketPolicy operation") {
			t.Errorf("get-bucket-policy: err %v, stderr %q", err, stderr)
		}
		created := aws.Run("cloudtrail", "create-trail", "--name", "cli", "--s3-bucket-name", "cli-trail")
		aws.Run("cloudtrail", "start-logging", "--name", "cli")
		status := aws.Run("cloudtrail", "get-trail-status", "--name", "cli")
		if created["TrailARN"] != "arn:aws:cloudtrail:us-east-1:"+env.Account+":trail/cli" || status["IsLogging"] != true {
			t.Errorf("create-trail %v, status %v", created, status)
		}
		_, stderr, err = aws.Exec("cloudtrail", "create-trail", "--name", "other", "--s3-bucket-name", "no-such-bucket")
		if err == nil || !strings.Contains(stderr, "(S3BucketDoesNotExistException) when calling the CreateTrail operation") {
			t.Errorf("create-trail on a missing bucket: err %v, stderr %q", err, stderr)
		}
	})

	t.Run("logs", func(t *testing.T) {
		aws.Run("logs", "create-log-group", "--log-group-name", "/cli/relay", "--tags", "team=vault")
		aws.Run("logs", "put-retention-policy", "--log-group-name", "/cli/relay", "--retention-in-days", "30")
		aws.Run("logs", "create-log-stream", "--log-group-name", "/cli/relay", "--log-stream-name", "s1")
		now := strconv.FormatInt(env.Clock.Now().UnixMilli(), 10)
		aws.Run("logs", "put-log-events", "--log-group-name", "/cli/relay", "--log-stream-name", "s1",
			"--log-events", "timestamp="+now+",message=alert published", "timestamp="+now+",message=event skipped")
		got := aws.Run("logs", "get-log-events", "--log-group-name", "/cli/relay", "--log-stream-name", "s1", "--start-from-head")
		if ev, _ := got["events"].([]any); len(ev) != 2 || ev[0].(map[string]any)["message"] != "alert published" {
			t.Errorf("get-log-events = %v", got)
		}
		found := aws.Run("logs", "filter-log-events", "--log-group-name", "/cli/relay", "--filter-pattern", "skipped")
		if ev, _ := found["events"].([]any); len(ev) != 1 {
			t.Errorf("filter-log-events = %v", found)
		}
		groups := aws.Run("logs", "describe-log-groups", "--log-group-name-prefix", "/cli/")
		if g, _ := groups["logGroups"].([]any); len(g) != 1 || g[0].(map[string]any)["retentionInDays"] != float64(30) {
			t.Errorf("describe-log-groups = %v", groups)
		}
		_, stderr, err := aws.Exec("logs", "create-log-group", "--log-group-name", "/cli/relay")
		if err == nil || !strings.Contains(stderr, "(ResourceAlreadyExistsException) when calling the CreateLogGroup operation") {
			t.Errorf("create-log-group again: err %v, stderr %q", err, stderr)
		}
	})

	// Every call the CLI made was answered by a service (none fell through to an unknown route).
	for _, r := range env.Recorder.Records("", "") {
		if r.Service == "unknown" {
			t.Errorf("unrouted CLI call: %s %s %s", r.Method, r.Path, r.RequestBody)
		}
	}
}
