package alerts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/health"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/alerts"
	"github.com/strongroom/strongroom/infra/golambda"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/alertrules"
	"github.com/strongroom/strongroom/pkg/alertstate"
)

// One synthesis serves every assertion: CDK synthesis is the slow part of these tests.
var (
	relayDir  string // build output holding a real linux/arm64 bootstrap
	plain     assertions.Template
	withEmail assertions.Template
	plainJSON map[string]any
	// withEmailJSON is withEmail decoded: its per-severity subscriptions and operator rules.
	withEmailJSON map[string]any
	plainStack    *alerts.AlertsStack
	// tmp holds the test apps' cloud assemblies; removed when the tests end.
	tmp string
)

const testEmail = "secops@example.com"

// The withEmail stack's per-severity addresses and operator rules.
var (
	testEmails = map[string][]string{"critical": {"oncall@example.com", "lead@example.com"}, "warning": {"team@example.com"}, "info": {"audit@example.com"}}
	testRules  = alertrules.Rules{
		Ignore:   []alertrules.Match{{EventSource: "kms.amazonaws.com", EventName: "Describe*"}},
		Severity: []alertrules.Override{{Match: alertrules.Match{ErrorCode: "Throttling*"}, Severity: "info"}},
	}
)

// The withEmail stack's chat channels: two want warning and above (one topic), one critical.
var testChat = []settings.ChatChannel{
	{Kind: "slack", Name: "security-alerts", WorkspaceID: "T0123ABCD", ChannelID: "C0123ABCD", MinSeverity: "warning"},
	{Kind: "slack", Name: "platform", WorkspaceID: "T0123ABCD", ChannelID: "C0456EFGH", MinSeverity: "warning"},
	{Kind: "teams", Name: "oncall", TeamID: "74361522-da01-538d-aa2e-ac7918c6bb92", TenantID: "0b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		ChannelID: "19%3ab6ef35dc342d4f2d9a3b2b8c1d0e1f2a%40thread.tacv2", MinSeverity: "critical"},
}

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		var err error
		tmp, err = os.MkdirTemp("", "alerts-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		// Bundled from this module's sources, as build/trailrelay would be (golambda.Bundle).
		if relayDir, err = golambda.Bundle("trailrelay"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}

		ctx, err := settings.ReadCDKJSON("../../cdk.json")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ctx["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] = true
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(tmp, "cdk.out"))})
		a, err := alerts.NewAlertsStack(app, "Alerts", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: settings.DefaultAlertEventSources})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, err := alerts.NewAlertsStack(app, "AlertsWithEmail", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"}, AlertEmail: testEmail, RedactFields: []string{"apiToken", "pin"},
			AlertEmails:   testEmails,
			ChatChannels:  testChat,
			Rules:         testRules,
			OwnStackNames: []string{"StrongroomAlerts", "StrongroomCluster"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		plainStack = a
		plain = assertions.Template_FromStack(a.Stack, nil)
		withEmail = assertions.Template_FromStack(b.Stack, nil)
		if plainJSON, err = templatetest.JSON(plain); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if withEmailJSON, err = templatetest.JSON(withEmail); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// id returns the logical id of the one resource of type typ whose Properties match props.
func id(t *testing.T, typ string, props map[string]any) string {
	t.Helper()
	var out string
	templatetest.Check(t, "find "+typ, func() {
		out = *plain.GetResourceId(jsii.String(typ), map[string]any{"Properties": assertions.Match_ObjectLike(&props)})
	})
	if out == "" {
		t.Fatalf("no single %s matching %v", typ, props)
	}
	return out
}

func arn(logicalID string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID, "Arn"}}
}
func ref(logicalID string) map[string]any { return map[string]any{"Ref": logicalID} }

// resource returns a resource's Properties from the synthesized JSON.
func resource(t *testing.T, logicalID string) map[string]any {
	t.Helper()
	return templatetest.Properties(t, plainJSON, logicalID)
}

func keyID(t *testing.T, descriptionWord string) string {
	return id(t, "AWS::KMS::Key", map[string]any{"Description": assertions.Match_StringLikeRegexp(jsii.String(descriptionWord))})
}

func TestTrail(t *testing.T) {
	trailKey := keyID(t, "CloudTrail log files")
	bucket := id(t, "AWS::S3::Bucket", map[string]any{"BucketEncryption": assertions.Match_AnyValue(), "LoggingConfiguration": assertions.Match_AnyValue()})
	templatetest.Count(t, plain, "AWS::CloudTrail::Trail", 1)
	templatetest.Has(t, plain, "AWS::CloudTrail::Trail", map[string]any{
		"IsMultiRegionTrail":         true,
		"IncludeGlobalServiceEvents": true,
		"EnableLogFileValidation":    true,
		"IsLogging":                  true,
		"EventSelectors":             []any{map[string]any{"IncludeManagementEvents": true, "ReadWriteType": "All"}},
		"KMSKeyId":                   arn(trailKey),
		"S3BucketName":               ref(bucket),
		"TrailName":                  "Alerts-trail",
	})
	// The key policy lets CloudTrail encrypt for this trail only.
	policy := resource(t, trailKey)["KeyPolicy"].(map[string]any)
	var sids []string
	for _, s := range policy["Statement"].([]any) {
		st := s.(map[string]any)
		if sid, ok := st["Sid"].(string); ok {
			sids = append(sids, sid)
			if p := st["Principal"].(map[string]any)["Service"]; p != "cloudtrail.amazonaws.com" {
				t.Errorf("statement %s: principal %v, want cloudtrail.amazonaws.com", sid, p)
			}
			src := fmt.Sprint(st["Condition"].(map[string]any)["StringEquals"].(map[string]any)["aws:SourceArn"])
			if !strings.Contains(src, ":trail/Alerts-trail") {
				t.Errorf("statement %s: aws:SourceArn %s does not name the trail", sid, src)
			}
		}
	}
	if want := []string{"AllowCloudTrailToEncryptLogs", "AllowCloudTrailToDescribeKey"}; !reflect.DeepEqual(sids, want) {
		t.Errorf("trail key statements %v, want %v", sids, want)
	}
}

func TestBuckets(t *testing.T) {
	trailKey := keyID(t, "CloudTrail log files")
	logs := id(t, "AWS::S3::Bucket", map[string]any{"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}}})
	templatetest.Count(t, plain, "AWS::S3::Bucket", 2)
	blockAll := map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
	templatetest.Has(t, plain, "AWS::S3::Bucket", map[string]any{
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"BucketKeyEnabled":              false,
			"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn(trailKey)},
		}}},
		"LoggingConfiguration":           map[string]any{"DestinationBucketName": ref(logs), "LogFilePrefix": "trail-bucket/"},
		"PublicAccessBlockConfiguration": blockAll,
		"VersioningConfiguration":        map[string]any{"Status": "Enabled"},
		"OwnershipControls":              map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
	})
	templatetest.Has(t, plain, "AWS::S3::Bucket", map[string]any{
		"PublicAccessBlockConfiguration": blockAll,
		"VersioningConfiguration":        map[string]any{"Status": "Enabled"},
		"LoggingConfiguration":           assertions.Match_Absent(),
	})
	// Both buckets are retained on stack deletion and deny every request without TLS 1.2.
	templatetest.Check(t, "buckets retained", func() {
		plain.AllResources(jsii.String("AWS::S3::Bucket"), map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
	})
	denyInsecure := map[string]any{
		"Effect": "Deny", "Action": "s3:*", "Principal": map[string]any{"AWS": "*"},
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	}
	denyOldTLS := map[string]any{
		"Effect": "Deny", "Action": "s3:*", "Principal": map[string]any{"AWS": "*"},
		"Condition": map[string]any{"NumericLessThan": map[string]any{"s3:TlsVersion": 1.2}},
	}
	templatetest.Check(t, "bucket policies", func() {
		plain.AllResourcesProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&denyInsecure), assertions.Match_ObjectLike(&denyOldTLS),
			})},
		})
	})
	templatetest.Count(t, plain, "AWS::S3::BucketPolicy", 2)
	// CloudTrail may write into the trail bucket for this trail only.
	templatetest.Has(t, plain, "AWS::S3::BucketPolicy", map[string]any{
		"Bucket": ref(id(t, "AWS::S3::Bucket", map[string]any{"LoggingConfiguration": assertions.Match_AnyValue()})),
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Sid": "DenyOtherTrails", "Effect": "Deny", "Principal": map[string]any{"Service": "cloudtrail.amazonaws.com"},
			"Action":    []any{"s3:GetBucketAcl", "s3:PutObject"},
			"Condition": map[string]any{"StringNotEquals": map[string]any{"aws:SourceArn": assertions.Match_AnyValue()}},
		})})},
	})
	stmts := resource(t, id(t, "AWS::S3::BucketPolicy", map[string]any{"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Sid": "DenyOtherTrails"})})}}))["PolicyDocument"].(map[string]any)["Statement"].([]any)
	for _, st := range stmts {
		if m := st.(map[string]any); m["Sid"] == "DenyOtherTrails" {
			if src := fmt.Sprint(m["Condition"]); !strings.Contains(src, ":trail/Alerts-trail") {
				t.Errorf("DenyOtherTrails condition %s does not name the trail", src)
			}
		}
	}
}

func TestKeysRotate(t *testing.T) {
	templatetest.Count(t, plain, "AWS::KMS::Key", 2)
	templatetest.Check(t, "key rotation", func() {
		plain.AllResourcesProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
	templatetest.Check(t, "keys retained", func() {
		plain.AllResources(jsii.String("AWS::KMS::Key"), map[string]any{"DeletionPolicy": "Retain"})
	})
}

func TestRules(t *testing.T) {
	relay := id(t, "AWS::Lambda::Function", map[string]any{"Handler": "bootstrap"})
	dlq := id(t, "AWS::SQS::Queue", map[string]any{})
	sources := make([]any, 0, len(settings.DefaultAlertEventSources))
	for _, s := range settings.DefaultAlertEventSources {
		sources = append(sources, s)
	}
	target := []any{map[string]any{
		"Arn":              arn(relay),
		"DeadLetterConfig": map[string]any{"Arn": arn(dlq)},
		"RetryPolicy":      map[string]any{"MaximumEventAgeInSeconds": float64(alerts.TargetMaxEventAgeHours * 3600), "MaximumRetryAttempts": float64(alerts.TargetRetryAttempts)},
	}}
	cases := []struct {
		name    string
		rule    string
		pattern map[string]any
	}{
		{"API calls and console sign-ins of the configured sources", "Alerts-CloudTrailEvents", map[string]any{
			"source":      sources,
			"detail-type": []any{"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"},
		}},
		{"Secrets Manager RotationFailed service event", "Alerts-RotationFailed", map[string]any{
			"source":      []any{"aws.secretsmanager"},
			"detail-type": []any{"AWS Service Event via CloudTrail"},
			"detail":      map[string]any{"eventName": []any{"RotationFailed"}},
		}},
		{"cluster and key store health findings", "Alerts-HealthFindings", map[string]any{
			"source":      []any{health.Source},
			"detail-type": []any{health.DetailType},
		}},
	}
	templatetest.Count(t, plain, "AWS::Events::Rule", float64(len(cases)))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			templatetest.Has(t, plain, "AWS::Events::Rule", map[string]any{
				"Name":         c.rule,
				"State":        "ENABLED",
				"EventPattern": assertions.Match_ObjectEquals(&c.pattern),
				"Targets":      target,
			})
			// EventBridge may invoke the relay only for this rule.
			templatetest.Has(t, plain, "AWS::Lambda::Permission", map[string]any{
				"Action": "lambda:InvokeFunction", "FunctionName": arn(relay), "Principal": "events.amazonaws.com",
				"SourceArn": arn(id(t, "AWS::Events::Rule", map[string]any{"Name": c.rule})),
			})
		})
	}
	templatetest.Has(t, withEmail, "AWS::Events::Rule", map[string]any{
		"Name": "AlertsWithEmail-CloudTrailEvents", "EventPattern": map[string]any{"source": []any{"aws.kms"}},
	})
}

func TestTopic(t *testing.T) {
	topicKey := keyID(t, "alert topic")
	topic := id(t, "AWS::SNS::Topic", map[string]any{})
	templatetest.Has(t, plain, "AWS::SNS::Topic", map[string]any{"KmsMasterKeyId": arn(topicKey)})
	templatetest.Has(t, plain, "AWS::SNS::TopicPolicy", map[string]any{
		"Topics": []any{ref(topic)},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Effect": "Deny", "Action": "sns:Publish", "Principal": "*", "Resource": ref(topic),
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		}), assertions.Match_ObjectLike(&map[string]any{
			"Effect": "Allow", "Action": "sns:Publish", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}},
		})})},
	})
	// The topic key lets CloudWatch (alarms to the topic) and EventBridge (dead letters) use it.
	stmts := resource(t, topicKey)["KeyPolicy"].(map[string]any)["Statement"].([]any)
	services := map[string][]any{}
	for _, s := range stmts {
		st := s.(map[string]any)
		if svc, ok := st["Principal"].(map[string]any)["Service"].(string); ok {
			services[svc] = st["Action"].([]any)
			if svc == "events.amazonaws.com" {
				// Only this stack's rules may dead-letter through the key.
				src := fmt.Sprint(st["Condition"].(map[string]any)["ArnEquals"].(map[string]any)["aws:SourceArn"])
				for _, rule := range []string{":rule/Alerts-CloudTrailEvents", ":rule/Alerts-RotationFailed", ":rule/Alerts-HealthFindings"} {
					if !strings.Contains(src, rule) {
						t.Errorf("events key statement aws:SourceArn %s does not name %s", src, rule)
					}
				}
			}
		}
	}
	want := map[string][]any{
		"cloudwatch.amazonaws.com": {"kms:Decrypt", "kms:GenerateDataKey"},
		"events.amazonaws.com":     {"kms:Decrypt", "kms:GenerateDataKey"},
	}
	if !reflect.DeepEqual(services, want) {
		t.Errorf("topic key service statements %v, want %v", services, want)
	}

	t.Run("no subscription without an address", func(t *testing.T) { templatetest.Count(t, plain, "AWS::SNS::Subscription", 0) })
	t.Run("e-mail subscription when configured", func(t *testing.T) {
		templatetest.Has(t, withEmail, "AWS::SNS::Subscription", map[string]any{"Protocol": "email", "Endpoint": testEmail})
	})
	t.Run("per-severity subscriptions filter on severity and above", func(t *testing.T) {
		subs := templatetest.Resources(withEmailJSON, "AWS::SNS::Subscription")
		got := map[string]any{}
		for _, props := range subs {
			got[props["Endpoint"].(string)] = props["FilterPolicy"]
		}
		want := map[string]any{
			// strongroom:alertEmail: unfiltered, so it also receives the alarms (no attributes).
			testEmail:            nil,
			"oncall@example.com": map[string]any{"severity": []any{"critical"}},
			"lead@example.com":   map[string]any{"severity": []any{"critical"}},
			"team@example.com":   map[string]any{"severity": []any{"warning", "critical"}},
			"audit@example.com":  map[string]any{"severity": []any{"info", "warning", "critical"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("subscriptions' filter policies by endpoint:\n%v\nwant\n%v", got, want)
		}
		for _, props := range subs {
			if scope, ok := props["FilterPolicyScope"]; ok && scope != "MessageAttributes" {
				t.Errorf("%s: FilterPolicyScope %v; the severity is a message attribute", props["Endpoint"], scope)
			}
		}
	})
}

func TestRelayFunction(t *testing.T) {
	topic := id(t, "AWS::SNS::Topic", map[string]any{})
	dlq := id(t, "AWS::SQS::Queue", map[string]any{})
	logs := id(t, "AWS::Logs::LogGroup", map[string]any{})
	role := id(t, "AWS::IAM::Role", map[string]any{})
	relay := id(t, "AWS::Lambda::Function", map[string]any{"Handler": "bootstrap"})
	table := id(t, "AWS::DynamoDB::Table", map[string]any{})
	templatetest.Count(t, plain, "AWS::Lambda::Function", 1)
	env := map[string]any{"TOPIC_ARN": ref(topic), "ALERT_STATE_TABLE": ref(table)}
	templatetest.Has(t, plain, "AWS::Lambda::Function", map[string]any{
		"Runtime":          "provided.al2023",
		"Architectures":    []any{"arm64"},
		"Handler":          "bootstrap",
		"Role":             arn(role),
		"Environment":      map[string]any{"Variables": assertions.Match_ObjectEquals(&env)},
		"TracingConfig":    map[string]any{"Mode": "Active"},
		"LoggingConfig":    map[string]any{"LogFormat": "JSON", "LogGroup": ref(logs)},
		"DeadLetterConfig": map[string]any{"TargetArn": arn(dlq)},
		// No reserved concurrency: see NewAlertsStack.
		"ReservedConcurrentExecutions": assertions.Match_Absent(),
	})
	templatetest.Has(t, plain, "AWS::Lambda::EventInvokeConfig", map[string]any{
		"FunctionName": ref(relay), "MaximumRetryAttempts": float64(alerts.RelayAsyncRetries), "MaximumEventAgeInSeconds": float64(6 * 3600),
	})
	templatetest.Has(t, plain, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": float64(90)})
	// Extra redaction markers reach the relay as REDACT_FIELDS (names only, never values).
	templatetest.Has(t, withEmail, "AWS::Lambda::Function", map[string]any{"Environment": map[string]any{"Variables": map[string]any{"REDACT_FIELDS": "apiToken,pin"}}})
	// The operator's rules and the stacks' role names reach it as ALERT_RULES, which the relay
	// parses back to the same rules.
	fns := templatetest.Resources(withEmailJSON, "AWS::Lambda::Function")
	if len(fns) != 1 {
		t.Fatalf("%d functions in the withEmail stack", len(fns))
	}
	for _, fn := range fns {
		text, _ := fn["Environment"].(map[string]any)["Variables"].(map[string]any)["ALERT_RULES"].(string)
		got, err := alertrules.Parse(text)
		if err != nil {
			t.Fatalf("ALERT_RULES %q: %v", text, err)
		}
		want := testRules
		want.OwnRoles = []string{"StrongroomAlerts-*", "StrongroomCluster-*"}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("ALERT_RULES = %s, parsed %+v; want %+v", text, *got, want)
		}
	}

	// Its own role: assumable by Lambda only, no managed policy.
	templatetest.Has(t, plain, "AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"},
		}}},
		"ManagedPolicyArns": assertions.Match_Absent(),
		"Policies":          assertions.Match_Absent(),
	})
	templatetest.Count(t, plain, "AWS::IAM::Policy", 2)
	templatetest.Count(t, plain, "AWS::IAM::ManagedPolicy", 0)

	// The policies, statement by statement and nothing else. X-Ray, the one "*" resource, has a
	// policy of its own so its cdk-nag suppression covers nothing else.
	policies := []struct {
		name string
		id   string
		want []any
	}{
		{"default policy", id(t, "AWS::IAM::Policy", map[string]any{"PolicyName": assertions.Match_StringLikeRegexp(jsii.String("DefaultPolicy"))}), []any{
			map[string]any{"Effect": "Allow", "Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": arn(logs)},
			map[string]any{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn(dlq)},
			map[string]any{"Effect": "Allow", "Action": "sns:Publish", "Resource": ref(topic)},
			map[string]any{"Effect": "Allow", "Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Resource": arn(keyID(t, "alert topic"))},
			// The state table: single-item reads and writes, no Query, Scan, DeleteItem or batch.
			map[string]any{"Effect": "Allow", "Action": []any{"dynamodb:PutItem", "dynamodb:UpdateItem"}, "Resource": arn(table)},
		}},
		{"tracing policy", id(t, "AWS::IAM::Policy", map[string]any{"PolicyName": assertions.Match_StringLikeRegexp(jsii.String("TracingPolicy"))}), []any{
			map[string]any{"Effect": "Allow", "Action": []any{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, "Resource": "*"},
		}},
	}
	for _, p := range policies {
		props := resource(t, p.id)
		if roles := normalize(props["Roles"]); !reflect.DeepEqual(roles, normalize([]any{ref(role)})) {
			t.Errorf("%s attached to %v, want the relay role only", p.name, roles)
		}
		got := props["PolicyDocument"].(map[string]any)["Statement"].([]any)
		if !reflect.DeepEqual(normalize(got), normalize(p.want)) {
			g, _ := json.MarshalIndent(got, "", " ")
			w, _ := json.MarshalIndent(p.want, "", " ")
			t.Errorf("relay role %s:\n%s\nwant exactly:\n%s", p.name, g, w)
		}
	}
	// The function waits for its tracing permission.
	deps := fmt.Sprint(plainJSON["Resources"].(map[string]any)[relay].(map[string]any)["DependsOn"])
	if !strings.Contains(deps, policies[1].id) {
		t.Errorf("relay DependsOn %s, want it to include %s", deps, policies[1].id)
	}
}

// normalize round-trips through JSON so Go literals and decoded template values compare equal.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// TestStateTable: the relay's state (pkg/alertstate) in one on-demand table keyed by pk, whose items
// expire by expiresAt, encrypted with the alerts key and destroyed with the stack; point-in-time
// recovery is off, with cdk-nag's finding suppressed for a stated reason.
func TestStateTable(t *testing.T) {
	templatetest.Count(t, plain, "AWS::DynamoDB::Table", 1)
	table := id(t, "AWS::DynamoDB::Table", map[string]any{})
	props := map[string]any{
		"KeySchema":                        []any{map[string]any{"AttributeName": alertstate.KeyAttribute, "KeyType": "HASH"}},
		"AttributeDefinitions":             []any{map[string]any{"AttributeName": alertstate.KeyAttribute, "AttributeType": "S"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"TimeToLiveSpecification":          map[string]any{"AttributeName": alertstate.TTLAttribute, "Enabled": true},
		"SSESpecification":                 map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": arn(keyID(t, "alert topic"))},
		"PointInTimeRecoverySpecification": assertions.Match_Absent(),
		"ProvisionedThroughput":            assertions.Match_Absent(),
	}
	templatetest.Has(t, plain, "AWS::DynamoDB::Table", props)
	r := plainJSON["Resources"].(map[string]any)[table].(map[string]any)
	if r["DeletionPolicy"] != "Delete" || r["UpdateReplacePolicy"] != "Delete" {
		t.Errorf("state table DeletionPolicy %v, UpdateReplacePolicy %v; want Delete (the state is disposable)", r["DeletionPolicy"], r["UpdateReplacePolicy"])
	}
	rules := fmt.Sprint(r["Metadata"].(map[string]any)["cdk_nag"])
	if !strings.Contains(rules, "AwsSolutions-DDB3") || !strings.Contains(rules, "disposable") {
		t.Errorf("state table cdk-nag suppressions %s; want AwsSolutions-DDB3 with its reason", rules)
	}
}

func TestDeadLetterQueue(t *testing.T) {
	topicKey := keyID(t, "alert topic")
	templatetest.Count(t, plain, "AWS::SQS::Queue", 1)
	templatetest.Has(t, plain, "AWS::SQS::Queue", map[string]any{"KmsMasterKeyId": arn(topicKey), "MessageRetentionPeriod": float64(14 * 24 * 3600)})
	checkDeadLetterPolicy(t, plainJSON, "Alerts-CloudTrailEvents", "Alerts-RotationFailed", "Alerts-HealthFindings")
}

// checkDeadLetterPolicy checks the dead-letter queue's policy in the decoded template doc: exactly
// the Deny of requests without TLS and one Allow of sqs:SendMessage for EventBridge whose
// aws:SourceArn lists the rules (rule/<name> or rule/<bus>/<name>), in that order, the same list as
// the queue key's AllowEventBridgeDeadLetters statement; and that these are every rule that
// dead-letters to the queue.
func checkDeadLetterPolicy(t *testing.T, doc map[string]any, rules ...string) {
	t.Helper()
	dlq, _ := templatetest.Only(t, doc, "AWS::SQS::Queue", "UndeliveredAlerts")
	_, policy := templatetest.Only(t, doc, "AWS::SQS::QueuePolicy", "UndeliveredAlertsPolicy")
	if !reflect.DeepEqual(policy["Queues"], []any{ref(dlq)}) {
		t.Errorf("queue policy Queues %v, want [%s]", policy["Queues"], dlq)
	}
	statements := policy["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(statements) != 2 {
		t.Fatalf("%d queue policy statements, want the Deny and one Allow: %v", len(statements), statements)
	}
	deny := map[string]any{
		"Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Action": "sqs:*", "Resource": arn(dlq),
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	}
	if !reflect.DeepEqual(statements[0], deny) {
		t.Errorf("queue policy statement 0 %v, want %v", statements[0], deny)
	}
	allow, _ := statements[1].(map[string]any)
	sources, _ := allow["Condition"].(map[string]any)["ArnEquals"].(map[string]any)["aws:SourceArn"].([]any)
	delete(allow, "Condition")
	wantAllow := map[string]any{
		"Sid": "AllowEventBridgeDeadLetters", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"},
		"Action": "sqs:SendMessage", "Resource": arn(dlq),
	}
	if !reflect.DeepEqual(allow, wantAllow) || len(statements[1].(map[string]any)) != len(wantAllow) {
		t.Errorf("queue policy statement 1 %v (without its Condition), want %v", allow, wantAllow)
	}
	var got []string
	for _, s := range sources {
		got = append(got, templatetest.Text(t, s))
	}
	var want []string
	for _, r := range rules {
		want = append(want, "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"+r)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("queue policy aws:SourceArn\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The queue key admits the same rules.
	_, key := templatetest.Only(t, doc, "AWS::KMS::Key", "AlertsKey")
	found := false
	for _, s := range key["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		if st["Sid"] != "AllowEventBridgeDeadLetters" {
			continue
		}
		found = true
		if !reflect.DeepEqual(st["Condition"], map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": sources}}) {
			t.Errorf("key statement AllowEventBridgeDeadLetters condition %v, want the queue policy's aws:SourceArn %v", st["Condition"], sources)
		}
	}
	if !found {
		t.Error("the queue key has no AllowEventBridgeDeadLetters statement")
	}

	// Every rule with the queue as its dead-letter queue is listed, and no other.
	var deadLettering []string
	for _, p := range templatetest.Resources(doc, "AWS::Events::Rule") {
		for _, tg := range p["Targets"].([]any) {
			if dl, ok := tg.(map[string]any)["DeadLetterConfig"].(map[string]any); ok && reflect.DeepEqual(dl["Arn"], arn(dlq)) {
				deadLettering = append(deadLettering, p["Name"].(string))
			}
		}
	}
	if len(deadLettering) != len(rules) {
		t.Errorf("rules dead-lettering to the queue %v; the policy lists %v", deadLettering, rules)
	}
	for _, name := range deadLettering {
		if !slices.ContainsFunc(rules, func(r string) bool { return r == name || strings.HasSuffix(r, "/"+name) }) {
			t.Errorf("rule %s dead-letters to the queue; the policy does not list it", name)
		}
	}
}

func TestAlarms(t *testing.T) {
	topic := id(t, "AWS::SNS::Topic", map[string]any{})
	relay := id(t, "AWS::Lambda::Function", map[string]any{"Handler": "bootstrap"})
	dlq := id(t, "AWS::SQS::Queue", map[string]any{})
	templatetest.Count(t, plain, "AWS::CloudWatch::Alarm", 6)
	cases := []struct {
		name       string
		namespace  string
		metric     string
		statistic  string
		dimensions []any
	}{
		{"relay errors", "AWS/Lambda", "Errors", "Sum", []any{map[string]any{"Name": "FunctionName", "Value": ref(relay)}}},
		{"dead-letter queue depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{dlq, "QueueName"}}}}},
		{"relay could not dead-letter", "AWS/Lambda", "DeadLetterErrors", "Sum", []any{map[string]any{"Name": "FunctionName", "Value": ref(relay)}}},
		{"API-call rule could not dead-letter", "AWS/Events", "InvocationsFailedToBeSentToDLQ", "Sum", []any{map[string]any{"Name": "RuleName", "Value": "Alerts-CloudTrailEvents"}}},
		{"RotationFailed rule could not dead-letter", "AWS/Events", "InvocationsFailedToBeSentToDLQ", "Sum", []any{map[string]any{"Name": "RuleName", "Value": "Alerts-RotationFailed"}}},
		{"health findings rule could not dead-letter", "AWS/Events", "InvocationsFailedToBeSentToDLQ", "Sum", []any{map[string]any{"Name": "RuleName", "Value": "Alerts-HealthFindings"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			templatetest.Has(t, plain, "AWS::CloudWatch::Alarm", map[string]any{
				"Namespace": c.namespace, "MetricName": c.metric, "Statistic": c.statistic, "Dimensions": c.dimensions,
				"Threshold": float64(1), "EvaluationPeriods": float64(1), "Period": float64(300),
				"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
				"AlarmActions": []any{ref(topic)}, "OKActions": []any{ref(topic)},
			})
		})
	}
}

func TestNoSuppressionsWithoutReason(t *testing.T) {
	// Every cdk-nag suppression in the template names a rule and gives a reason.
	for lid, r := range plainJSON["Resources"].(map[string]any) {
		md, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nag, _ := md["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, s := range rules {
			sup := s.(map[string]any)
			if id, _ := sup["id"].(string); !strings.HasPrefix(id, "AwsSolutions-") {
				t.Errorf("%s: suppression without a rule id: %v", lid, sup)
			}
			if reason, _ := sup["reason"].(string); len(reason) < 40 {
				t.Errorf("%s: suppression of %v has no real reason: %q", lid, sup["id"], reason)
			}
		}
	}
}

func TestInvalidProps(t *testing.T) {
	amd64Dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(amd64Dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		props *alerts.AlertsStackProps
		want  string
	}{
		{"nil props", nil, "props are required"},
		{"no sources", &alerts.AlertsStackProps{RelayAssetDir: relayDir}, "EventSources is empty"},
		{"asset never built", &alerts.AlertsStackProps{RelayAssetDir: t.TempDir(), EventSources: []string{"aws.kms"}}, "run `make build`"},
		{"stack name too long for the rule names", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"},
			StackProps: awscdk.StackProps{StackName: jsii.String(strings.Repeat("x", 50))}}, "use a shorter stack name"},
		{"asset is not an arm64 executable", &alerts.AlertsStackProps{RelayAssetDir: amd64Dir, EventSources: []string{"aws.kms"}}, "GOARCH=arm64"},
		{"unknown severity of addresses", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"},
			AlertEmails: map[string][]string{"high": {"a@example.com"}}}, `AlertEmails: "high" is not a severity`},
		{"an address subscribed twice", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"}, AlertEmail: "a@example.com",
			AlertEmails: map[string][]string{"critical": {"a@example.com"}}}, "subscribed twice"},
		{"an ignore rule the relay would refuse", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"},
			Rules: alertrules.Rules{Ignore: []alertrules.Match{{Account: "12"}}}}, "relay rules: ignore: rule 0: account"},
		{"a stack name that is no role-name prefix", &alerts.AlertsStackProps{RelayAssetDir: relayDir, EventSources: []string{"aws.kms"},
			OwnStackNames: []string{"Strongroom Alerts"}}, "relay rules: ownRoles: role pattern 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := awscdk.NewApp(nil)
			_, err := alerts.NewAlertsStack(app, "Bad", c.props)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	t.Run("bootstrap errors are ErrBootstrap", func(t *testing.T) {
		if err := golambda.CheckBootstrap(amd64Dir); err == nil {
			t.Fatal("a shell script passed as an arm64 bootstrap")
		}
		if err := golambda.CheckBootstrap(relayDir); err != nil {
			t.Fatalf("real arm64 bootstrap refused: %v", err)
		}
	})
}

// TestDashboard: the dashboard shows every alarm, the relay's invocations, errors, throttles and p99
// duration, the dead-letter queue's depth, the topic's deliveries and failures, and the failed
// dead-letter writes of the relay and of each rule.
func TestDashboard(t *testing.T) {
	body := templatetest.DashboardBody(t, plainJSON)
	if len(plainStack.Alarms) != 6 {
		t.Errorf("%d alarms in AlertsStack.Alarms; want the stack's 6", len(plainStack.Alarms))
	}
	templatetest.DashboardShowsAlarms(t, body, plainStack.Alarms)
	relay := "${" + templatetest.LogicalID(plainStack.Relay.Function) + "}"
	topic := "${" + templatetest.LogicalID(plainStack.Topic) + ".TopicName}"
	queue := "${" + templatetest.LogicalID(plainStack.DeadLetterQueue) + ".QueueName}"
	for _, m := range []string{
		`"AWS/Lambda","Invocations","FunctionName","` + relay + `"`,
		`"AWS/Lambda","Errors","FunctionName","` + relay + `"`,
		`"AWS/Lambda","Throttles","FunctionName","` + relay + `"`,
		`"AWS/Lambda","Duration","FunctionName","` + relay + `",{"label":"relay","stat":"p99"}`,
		`"AWS/Lambda","DeadLetterErrors","FunctionName","` + relay + `"`,
		`"AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","` + queue + `"`,
		`"AWS/SNS","NumberOfNotificationsDelivered","TopicName","` + topic + `"`,
		`"AWS/SNS","NumberOfNotificationsFailed","TopicName","` + topic + `"`,
		`"AWS/Events","InvocationsFailedToBeSentToDLQ","RuleName","Alerts-CloudTrailEvents"`,
		`"AWS/Events","InvocationsFailedToBeSentToDLQ","RuleName","Alerts-RotationFailed"`,
		`"AWS/Events","InvocationsFailedToBeSentToDLQ","RuleName","Alerts-HealthFindings"`,
	} {
		if !strings.Contains(body, m) {
			t.Errorf("the dashboard has no %s", m)
		}
	}
}

// TestChatChannels: one encrypted topic per least severity, named to the relay by CHAT_TOPICS and
// published to by it only; each channel's Chatbot configuration reads its severity's topic, with
// the AWSDenyAll guardrail (the channels only read alerts); the Teams role has no policy.
func TestChatChannels(t *testing.T) {
	res := withEmailJSON["Resources"].(map[string]any)
	topics := map[string]string{}
	for lid, r := range res {
		r := r.(map[string]any)
		if r["Type"] == "AWS::SNS::Topic" && strings.HasPrefix(lid, "ChatAlerts") {
			p := r["Properties"].(map[string]any)
			if p["KmsMasterKeyId"] == nil {
				t.Errorf("%s is not encrypted", lid)
			}
			topics[fmt.Sprint(p["DisplayName"])] = lid
		}
	}
	warning, critical := topics["Strongroom alerts for chat, warning and above"], topics["Strongroom alerts for chat, critical and above"]
	if len(topics) != 2 || warning == "" || critical == "" {
		t.Fatalf("chat topics %v; want one for warning and one for critical", topics)
	}
	var relayEnv, publish string
	configs := map[string]map[string]any{}
	for _, r := range res {
		r := r.(map[string]any)
		p, _ := r["Properties"].(map[string]any)
		b, _ := json.Marshal(p)
		switch r["Type"] {
		case "AWS::Lambda::Function":
			relayEnv = fmt.Sprint(p["Environment"])
		case "AWS::IAM::Policy":
			if strings.Contains(string(b), "sns:Publish") {
				publish += string(b)
			}
		case "AWS::Chatbot::SlackChannelConfiguration", "AWS::Chatbot::MicrosoftTeamsChannelConfiguration":
			configs[fmt.Sprint(p["ConfigurationName"])] = p
		}
	}
	for _, want := range []string{"CHAT_TOPICS", warning, critical, `"warning":"`, `"critical":"`} {
		if !strings.Contains(relayEnv, want) {
			t.Errorf("relay environment lacks %s: %s", want, relayEnv)
		}
	}
	for _, lid := range []string{warning, critical} {
		if !strings.Contains(publish, `{"Ref":"`+lid+`"}`) {
			t.Errorf("the relay may not publish to %s: %s", lid, publish)
		}
	}
	for name, lid := range map[string]string{"security-alerts": warning, "platform": warning, "oncall": critical} {
		p := configs[name]
		b, _ := json.Marshal(p)
		if p == nil || !strings.Contains(string(b), `"SnsTopicArns":[{"Ref":"`+lid+`"}]`) || !strings.Contains(string(b), "policy/AWSDenyAll") {
			t.Errorf("channel %s: %s; want its severity's topic %s and the AWSDenyAll guardrail", name, b, lid)
		}
	}
	if p := configs["oncall"]; p == nil || p["TeamId"] != testChat[2].TeamID || p["TeamsChannelId"] != testChat[2].ChannelID {
		t.Errorf("teams channel: %v", p)
	}
	if s := configs["security-alerts"]; s == nil || s["SlackWorkspaceId"] != "T0123ABCD" || s["SlackChannelId"] != "C0123ABCD" {
		t.Errorf("slack channel: %v", s)
	}
	if _, ok := plainJSON["Resources"].(map[string]any)["ChatAlertsWarning"]; ok {
		t.Error("a stack without chat channels has a chat topic")
	}
}
