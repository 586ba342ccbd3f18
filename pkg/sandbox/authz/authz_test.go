package authz_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
)

// judge is the one judge process of this test binary (TestMain).
var judge *iamjudge.Judge

func TestMain(m *testing.M) { os.Exit(iamjudge.RunTests(m, &judge)) }

const (
	account   = "111122223333"
	region    = "us-east-1"
	session   = "arn:aws:sts::" + account + ":assumed-role/StrongroomStep/step"
	role      = "arn:aws:iam::" + account + ":role/StrongroomEvents"
	keyID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
	key       = "arn:aws:kms:" + region + ":" + account + ":key/" + keyID
	otherKey  = "arn:aws:kms:" + region + ":" + account + ":key/0000abcd-12ab-34cd-56ef-1234567890ab"
	secretARN = "arn:aws:secretsmanager:" + region + ":" + account + ":secret:db-AbCdEf"
	fn        = "arn:aws:lambda:" + region + ":" + account + ":function:rotate"
	topic     = "arn:aws:sns:" + region + ":" + account + ":alerts"
	machine   = "arn:aws:states:" + region + ":" + account + ":stateMachine:create"
	execution = "arn:aws:states:" + region + ":" + account + ":execution:create:Create-1"
	queueURL  = "http://127.0.0.1:4580/" + account + "/undelivered"
	queue     = "arn:aws:sqs:" + region + ":" + account + ":undelivered"
)

// env resolves what the samples name as the sandbox would: alias/app names key, the secret db is
// secretARN encrypted with otherKey, the topic is encrypted with alias/app.
var env = authz.Env{Region: region, Account: account, Lookup: func(kind authz.Kind, ref string) string {
	switch {
	case kind == authz.KMSKey && strings.HasSuffix(ref, "alias/app"):
		return key
	case kind == authz.Secret && (ref == "db" || ref == secretARN):
		return secretARN
	case kind == authz.SecretKMSKey && ref == secretARN:
		return otherKey
	case kind == authz.TopicKMSKey && ref == topic:
		return "alias/app"
	case kind == authz.QueueKMSKey && ref == queue, kind == authz.BucketKMSKey && ref == "sse", kind == authz.ObjectKMSKey && ref == "sse/k":
		return key
	}
	return ""
}}

func body(s string) authz.Request {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return authz.Request{JSON: m}
}

func query(s string) authz.Request {
	v, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return authz.Request{Query: v}
}

// samples are requests carrying every field the operations of each service read, each sample a
// different way of naming the resources (ids, names, ARNs, aliases, with and without optional
// fields), so every operation of a service is run against each.
var samples = map[string][]authz.Request{
	"kms": {
		body(`{"KeyId":"` + keyID + `","AliasName":"alias/app","TargetKeyId":"` + keyID + `","EncryptionContext":{"SecretARN":"` + secretARN + `"},
			"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","Tags":[{"TagKey":"team","TagValue":"vault"}],"PendingWindowInDays":7,
			"CustomKeyStoreId":"cks-1234567890abcdef0","CloudHsmClusterId":"cluster-234567abcde","KeySpec":"SYMMETRIC_DEFAULT",
			"KeyUsage":"ENCRYPT_DECRYPT","Origin":"AWS_CLOUDHSM","BypassPolicyLockoutSafetyCheck":false}`),
		body(`{"KeyId":"alias/app","AliasName":"alias/app"}`),
		body(`{"KeyId":"arn:aws:kms:` + region + `:` + account + `:alias/app","AliasName":"alias/app","TargetKeyId":"` + key + `"}`),
	},
	"secretsmanager": {
		body(`{"SecretId":"db","Name":"db","KmsKeyId":"alias/app","SecretString":"not-a-secret","Tags":[{"Key":"team","Value":"vault"}],
			"TagKeys":["team"],"VersionStage":"AWSCURRENT","VersionId":"EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE","RotationLambdaARN":"` + fn + `",
			"RotationRules":{"AutomaticallyAfterDays":30},"RotateImmediately":true,"RecoveryWindowInDays":7,"BlockPublicPolicy":true,"Description":"d"}`),
		body(`{"SecretId":"` + secretARN + `","Name":"other"}`),
		body(`{"SecretId":"unknown","Name":"unknown","SecretString":"not-a-secret","ForceDeleteWithoutRecovery":true}`),
	},
	"cloudhsmv2": {
		body(`{"ClusterId":"cluster-234567abcde","ResourceId":"cluster-234567abcde","TagList":[{"Key":"team","Value":"vault"}],"TagKeyList":["team"],
			"HsmId":"hsm-234567abcde","SourceBackupId":"backup-234567abcde","SubnetIds":["subnet-0123456789abcdef0"]}`),
		body(`{"ClusterId":"cluster-234567abcde","ResourceId":"backup-234567abcde"}`),
	},
	"states": {
		body(`{"name":"create","roleArn":"` + role + `","stateMachineArn":"` + machine + `","executionArn":"` + execution + `","tags":[{"key":"team","value":"vault"}]}`),
	},
	"events": {
		body(`{"Name":"relay","Rule":"relay","EventPattern":"{\"source\":[\"aws.states\"],\"detail-type\":[\"Step Functions Execution Status Change\"]}",
			"Targets":[{"Id":"1","Arn":"` + fn + `"},{"Id":"2","Arn":"` + topic + `"},{"Id":"3","Arn":"` + machine + `","RoleArn":"` + role + `"}],
			"Entries":[{"Source":"strongroom","DetailType":"Alert"},{"Source":"strongroom","DetailType":"Alert","EventBusName":"custom"}],
			"Tags":[{"Key":"team","Value":"vault"}]}`),
		body(`{"Name":"relay","Rule":"relay","EventBusName":"arn:aws:events:` + region + `:` + account + `:event-bus/custom","Entries":[{"Source":"a","EventBusName":"arn:aws:events:` + region + `:` + account + `:event-bus/custom"}]}`),
	},
	"ssm": {
		body(`{"DocumentName":"Strongroom-InitializeCluster","InstanceIds":["i-0123456789abcdef0","i-0fedcba9876543210"],"Name":"Strongroom-InitializeCluster",
			"DocumentType":"Command","ServiceRoleArn":"` + role + `","Tags":[{"Key":"team","Value":"vault"}]}`),
		body(`{"DocumentName":"AWS-RunShellScript","InstanceIds":["i-0123456789abcdef0"],"Name":"AWS-RunShellScript"}`),
	},
	"sns": {
		query("Name=alerts&TopicArn=" + url.QueryEscape(topic) + "&SubscriptionArn=" + url.QueryEscape(topic+":6f5e4d3c-2b1a-4f0e-9d8c-7b6a5f4e3d2c") +
			"&Protocol=lambda&Endpoint=" + url.QueryEscape(fn) + "&Tags.member.1.Key=team&Tags.member.1.Value=vault"),
		query("Name=plain&TargetArn=" + url.QueryEscape("arn:aws:sns:"+region+":"+account+":plain") + "&TopicArn=" + url.QueryEscape("arn:aws:sns:"+region+":"+account+":plain") +
			"&SubscriptionArn=" + url.QueryEscape("arn:aws:sns:"+region+":"+account+":plain:6f5e4d3c-2b1a-4f0e-9d8c-7b6a5f4e3d2c")),
	},
	"sqs": {
		body(`{"QueueName":"undelivered","QueueUrl":"` + queueURL + `","tags":{"team":"vault"},"MessageBody":"{}","ReceiptHandle":"r"}`),
		body(`{"QueueName":"plain","QueueUrl":"https://sqs.` + region + `.amazonaws.com/` + account + `/plain"}`),
		query("QueueName=undelivered&QueueUrl=" + url.QueryEscape(queueURL) + "&Tag.1.Key=team&Tag.1.Value=vault"),
	},
	"cloudwatch": {
		body(`{"AlarmName":"Strongroom-Dlq","AlarmActions":["` + topic + `"],"OKActions":["` + topic + `"],"Tags":[{"Key":"team","Value":"vault"}],
			"AlarmNames":["Strongroom-Dlq","Strongroom-Relay"]}`),
		body(`{"AlarmName":"Strongroom-Dlq","AlarmNamePrefix":"Strongroom-","AlarmNames":["Strongroom-Dlq"]}`),
		body(`{"AlarmName":"Strongroom-Dlq","AlarmNames":["Strongroom-Dlq"]}`),
	},
	"dynamodb": {
		body(`{"TableName":"locks","Tags":[{"Key":"team","Value":"vault"}],"ReturnValues":"ALL_OLD","ReturnConsumedCapacity":"TOTAL"}`),
		body(`{"TableName":"arn:aws:dynamodb:` + region + `:` + account + `:table/locks"}`),
	},
	"ec2": {
		query("GroupId=sg-0123456789abcdef0&VpcId=vpc-0123456789abcdef0&SubnetId=subnet-0123456789abcdef0&SecurityGroupId.1=sg-0123456789abcdef0&NetworkInterfaceId=eni-0123456789abcdef0" +
			"&ResourceType=VPC&ResourceId.1=vpc-0123456789abcdef0&FlowLogId.1=fl-0123456789abcdef0&DeliverLogsPermissionArn=" + url.QueryEscape("arn:aws:iam::"+account+":role/flow") +
			"&TagSpecification.1.ResourceType=vpc-flow-log&TagSpecification.1.Tag.1.Key=team&TagSpecification.1.Tag.1.Value=vault"),
		query("GroupId=sg-0123456789abcdef0&SubnetId=subnet-0123456789abcdef0&NetworkInterfaceId=eni-0123456789abcdef0" +
			"&ResourceType=NetworkInterface&ResourceId.1=eni-0123456789abcdef0&FlowLogId.1=fl-0123456789abcdef0&FlowLogId.2=fl-0123456789abcdef1"),
	},
	"lambda": {
		{Path: map[string]string{"FunctionName": "rotate"}},
		{Path: map[string]string{"FunctionName": fn}, Query: url.Values{"Qualifier": {"live"}}},
		{Path: map[string]string{"FunctionName": account + ":function:rotate"}, JSON: map[string]any{"StatementId": "events", "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com"}},
	},
	"sts":  {{}},
	"xray": {body(`{"TraceSegmentDocuments":["{}"],"TraceIds":["1-5f84c7a1-0123456789abcdef01234567"]}`)},
	"cloudtrail": {
		body(`{"Name":"main","TrailName":"main","S3BucketName":"trail","KmsKeyId":"` + key + `"}`),
		body(`{"Name":"arn:aws:cloudtrail:` + region + `:` + account + `:trail/main","TrailName":"arn:aws:cloudtrail:` + region + `:` + account + `:trail/main"}`),
	},
	"logs": {
		body(`{"logGroupName":"/aws/lambda/relay","logStreamName":"2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef","tags":{"team":"vault"}}`),
		body(`{"logGroupIdentifier":"arn:aws:logs:` + region + `:` + account + `:log-group:/aws/lambda/relay:*","logStreamName":"s"}`),
	},
	"s3": {
		{Path: map[string]string{"Bucket": "trail", "Key": "AWSLogs/" + account + "/x.json.gz", "SecureTransport": "true", "ACL": "bucket-owner-full-control",
			"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key, "SSEKMSEncryptionContext": `{"aws:cloudtrail:arn":"arn:aws:cloudtrail:` + region + `:` + account + `:trail/t"}`}},
		{Path: map[string]string{"Bucket": "logs", "Key": "a/b", "SecureTransport": "false", "Prefix": "a/", "Delimiter": "/"}},
		{Path: map[string]string{"Bucket": "sse", "Key": "k"}},
	},
	"iam": {
		query("RoleName=StrongroomStep&PolicyName=inline&PolicyArn=" + url.QueryEscape("arn:aws:iam::"+account+":policy/managed") +
			"&InstanceProfileName=client&VersionId=v1&Tags.member.1.Key=team&Tags.member.1.Value=vault"),
		query("RoleName=flow&Path=%2Fservice-role%2F&PolicyName=p&PolicyArn=" + url.QueryEscape("arn:aws:iam::"+account+":policy/service-role/flow-logs") + "&InstanceProfileName=client"),
	},
}

// Every operation each sandbox service serves has an entry, and every entry is served: a new
// operation cannot be added without saying what IAM authorizes it on.
func TestEveryServedOperationHasAnEntry(t *testing.T) {
	sb := sandbox.New(sandbox.Options{})
	defer func() { _ = sb.Close() }()
	served := sb.ServedOperations()
	if len(served) < 10 {
		t.Fatalf("the sandbox serves %d services: %v", len(served), served)
	}
	for svc, ops := range served {
		for _, op := range ops {
			if !authz.Covered(svc, op) {
				t.Errorf("the sandbox serves %s %s, which has no entry in pkg/sandbox/authz's table: add what IAM authorizes it on", svc, op)
			}
		}
	}
	for svc, ops := range authz.Operations() {
		for _, op := range ops {
			if !slices.Contains(served[svc], op) {
				t.Errorf("the table has an entry for %s %s, which the sandbox does not serve: remove it", svc, op)
			}
		}
		if len(samples[svc]) == 0 {
			t.Errorf("no sample request for %s in this test", svc)
		}
	}
}

// actions caches Judge.Action.
var actions sync.Map

func describe(t *testing.T, action string) (iamjudge.Action, bool) {
	t.Helper()
	if a, ok := actions.Load(action); ok {
		return a.(iamjudge.Action), true
	}
	a, err := judge.Action(context.Background(), action)
	if err != nil {
		t.Error(err)
		return iamjudge.Action{}, false
	}
	actions.Store(action, a)
	return a, true
}

var placeholder = regexp.MustCompile(`\$\{[^}]+\}`)

// arnPattern turns a Service Authorization Reference ARN pattern into a regular expression: the
// partition, region and account take their shapes (region empty for global resources, account
// empty for AWS-owned ones such as AWS-* documents), any other ${...} one or more characters.
func arnPattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range placeholder.FindAllStringIndex(p, -1) {
		b.WriteString(regexp.QuoteMeta(p[last:m[0]]))
		switch p[m[0]:m[1]] {
		case "${Partition}":
			b.WriteString(`aws(-[a-z]+)*`)
		case "${Region}":
			b.WriteString(`([a-z]{2}(-[a-z]+)+-\d)?`)
		case "${Account}":
			b.WriteString(`(\d{12})?`)
		default:
			b.WriteString(`.+`)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(p[last:]) + "$")
	return regexp.MustCompile(b.String())
}

// keyAllowed reports whether context key k is one iam-data lists for the action (or for the
// resource type the need matched) or a global aws: key; listed keys may be patterns
// (aws:RequestTag/${TagKey}, kms:EncryptionContext:${EncryptionContextKey}).
func keyAllowed(k string, a iamjudge.Action, rt *iamjudge.ResourceType) bool {
	if strings.HasPrefix(k, "aws:") {
		return true
	}
	listed := slices.Clone(a.ConditionKeys)
	if rt != nil {
		listed = append(append(listed, rt.ConditionKeys...), rt.ResourceConditionKeys...)
	}
	for _, l := range listed {
		if strings.EqualFold(l, k) || arnPattern(l).MatchString(k) {
			return true
		}
	}
	return false
}

// check checks one need against iam-data and asks the judge to decide it under a policy that
// grants exactly it: the action exists, the resource matches one of its resource types' ARN
// patterns (or is "*" where no resource type is required), every context key applies, and
// iam-simulate accepts the request and uses every context key it is given.
func check(t *testing.T, where string, n authz.Need) {
	t.Helper()
	a, ok := describe(t, n.Action)
	if !ok {
		return
	}
	var matched *iamjudge.ResourceType
	if n.Resource == "*" {
		for _, rt := range a.ResourceTypes {
			if rt.Required {
				t.Errorf("%s: %s on \"*\", but it requires a %s resource (%s)", where, n.Action, rt.Name, rt.ARN)
			}
		}
	} else {
		for i, rt := range a.ResourceTypes {
			if rt.ARN != "" && arnPattern(rt.ARN).MatchString(n.Resource) {
				matched = &a.ResourceTypes[i]
				break
			}
		}
		if matched == nil {
			var pats []string
			for _, rt := range a.ResourceTypes {
				pats = append(pats, rt.ARN)
			}
			t.Errorf("%s: %s on %s, which matches none of its resource types' ARN patterns %v", where, n.Action, n.Resource, pats)
			return
		}
	}
	for k := range n.Context {
		if !keyAllowed(k, a, matched) {
			t.Errorf("%s: %s names the context key %s, which iam-data does not list for it (%v)", where, n.Action, k, a.ConditionKeys)
		}
	}

	req := iamjudge.Request{Principal: session, Action: n.Action, Resource: n.Resource, ResourceAccount: account, Context: n.Context}
	grant := `{"Effect":"Allow","Action":"` + n.Action + `","Resource":"*"}`
	if n.Principal != "" {
		req.Principal = n.Principal
		req.ResourcePolicy = json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + n.Principal + `"},"Action":"` + n.Action + `","Resource":"*"}]}`)
	} else {
		req.IdentityPolicies = []iamjudge.Policy{{Name: "grant", Document: json.RawMessage(`{"Version":"2012-10-17","Statement":[` + grant + `]}`)}}
		if strings.HasPrefix(n.Action, "kms:") && n.Resource != "*" {
			// A key's policy must let IAM policies grant access to it (the account's root).
			req.ResourcePolicy = json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`)
		}
	}
	res, err := judge.Decide(context.Background(), req)
	if strings.Contains(n.Resource, "::document/") {
		// An AWS-owned document's ARN has no account (arn:aws:ssm:<region>::document/AWS-...), as
		// AWS names it; iam-simulate matches no resource type to it. Its table entry is right; the
		// judge cannot decide it, which enforcement must handle (the sandbox serves only the
		// account's own documents today).
		if err == nil || !strings.Contains(err.Error(), "no.resource.types") {
			t.Errorf("%s: the judge on an AWS-owned document: %+v %v, want its no.resource.types refusal (if iam-simulate now decides it, drop this exception)", where, res, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if !res.Allowed() {
		t.Errorf("%s: a policy granting %s on * does not allow %s on %s: %s %+v", where, n.Action, n.Principal, n.Resource, res.Decision, res.Denials)
	}
	for _, k := range res.IgnoredContextKeys {
		// iam-simulate matches a context key with a variable part only when the variable follows a
		// "/" (aws:RequestTag/<key>), so it drops kms:EncryptionContext:<key>, which iam-data lists
		// for the action (checked above): a policy condition on it cannot be judged yet.
		if !strings.HasPrefix(k, "aws:") && !strings.HasPrefix(k, "kms:EncryptionContext:") {
			t.Errorf("%s: iam-simulate ignored the context key %s for %s on %s (resource type %q)", where, k, n.Action, n.Resource, res.ResourceType)
		}
	}
}

// Every entry, for every sample request of its service, names actions iam-data has, resources
// their ARN patterns match and context keys they take; special cases cite their source.
func TestTableAgreesWithIAMData(t *testing.T) {
	total := 0
	for svc, ops := range authz.Operations() {
		for _, op := range ops {
			for i, r := range samples[svc] {
				where := fmt.Sprintf("%s %s (sample %d)", svc, op, i)
				needs, err := authz.Needs(env, svc, op, r)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if len(needs) == 0 {
					if authz.NoPermission[[2]string{svc, op}] == "" {
						t.Errorf("%s: no needs, and authz.NoPermission does not say why", where)
					}
					continue
				}
				if needs[0].Source != "" {
					t.Errorf("%s: the first need is a special case (%s), not the operation's own action", where, needs[0].Source)
				}
				for _, n := range needs {
					check(t, where, n)
					total++
				}
			}
		}
	}
	t.Logf("%d needs checked against iam-data through the judge", total)
}

func find(needs []authz.Need, action string) []authz.Need {
	var out []authz.Need
	for _, n := range needs {
		if n.Action == action {
			out = append(out, n)
		}
	}
	return out
}

func needs(t *testing.T, svc, op string, r authz.Request) []authz.Need {
	t.Helper()
	ns, err := authz.Needs(env, svc, op, r)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// The additional permissions AWS documents appear with their source, and only when the request
// calls for them.
func TestSpecialCases(t *testing.T) {
	// EC2: a flow log's creator passes its role to vpc-flow-logs.amazonaws.com; it is authorized on the
	// new flow log (with its tags) and on each resource it captures.
	flowRole := "arn:aws:iam::" + account + ":role/flow"
	flow := needs(t, "ec2", "CreateFlowLogs", query("ResourceType=Subnet&ResourceId.1=subnet-a&ResourceId.2=subnet-b&DeliverLogsPermissionArn="+url.QueryEscape(flowRole)))
	if got := find(flow, "iam:PassRole"); len(got) != 1 || got[0].Resource != flowRole || got[0].Context["iam:PassedToService"][0] != "vpc-flow-logs.amazonaws.com" || !strings.Contains(got[0].Source, "VPC User Guide") {
		t.Errorf("CreateFlowLogs: iam:PassRole needs %+v", got)
	}
	if got := find(flow, "ec2:CreateFlowLogs"); len(got) != 3 || !strings.HasSuffix(got[0].Resource, ":vpc-flow-log/*") || !strings.HasSuffix(got[2].Resource, ":subnet/subnet-b") {
		t.Errorf("CreateFlowLogs: ec2:CreateFlowLogs needs %+v", got)
	}
	for _, op := range []string{"CreateCustomKeyStore", "ConnectCustomKeyStore"} {
		got := find(needs(t, "kms", op, body(`{}`)), "cloudhsm:DescribeClusters")
		if len(got) != 1 || got[0].Resource != "*" || !strings.Contains(got[0].Source, "KMS Developer Guide") {
			t.Errorf("kms %s: cloudhsm:DescribeClusters needs %+v, want one on * citing the KMS Developer Guide", op, got)
		}
	}
	if got := find(needs(t, "kms", "UpdateCustomKeyStore", body(`{"CustomKeyStoreId":"cks-1"}`)), "cloudhsm:DescribeClusters"); len(got) != 0 {
		t.Errorf("UpdateCustomKeyStore without a new cluster: %+v, want no cloudhsm:DescribeClusters", got)
	}

	// CreateSecret with a customer managed key: the caller's GenerateDataKey and Decrypt on the
	// key, via Secrets Manager; with the AWS managed key, none.
	create := needs(t, "secretsmanager", "CreateSecret", body(`{"Name":"db","KmsKeyId":"alias/app","SecretString":"x"}`))
	for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
		got := find(create, action)
		if len(got) != 1 || got[0].Resource != key || got[0].Principal != "" ||
			!slices.Equal(got[0].Context["kms:ViaService"], []string{"secretsmanager." + region + ".amazonaws.com"}) {
			t.Errorf("CreateSecret with alias/app: %s needs %+v, want the caller's on %s via secretsmanager", action, got, key)
		}
	}
	if got := find(needs(t, "secretsmanager", "CreateSecret", body(`{"Name":"db","SecretString":"x"}`)), "kms:GenerateDataKey"); len(got) != 0 {
		t.Errorf("CreateSecret with the AWS managed key: %+v, want no KMS need", got)
	}
	if got := find(needs(t, "secretsmanager", "GetSecretValue", body(`{"SecretId":"db"}`)), "kms:Decrypt"); len(got) != 1 || got[0].Resource != otherKey {
		t.Errorf("GetSecretValue of a secret under %s: %+v, want kms:Decrypt on it", otherKey, got)
	}

	// SQS on a queue with a customer managed key: a producer's GenerateDataKey and Decrypt, a
	// consumer's Decrypt, via SQS; on a queue without one, none.
	send := needs(t, "sqs", "SendMessage", body(`{"QueueUrl":"`+queueURL+`","MessageBody":"x"}`))
	for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
		if got := find(send, action); len(got) != 1 || got[0].Resource != key || !slices.Equal(got[0].Context["kms:ViaService"], []string{"sqs." + region + ".amazonaws.com"}) {
			t.Errorf("SendMessage to an encrypted queue: %s needs %+v, want the caller's on %s via sqs", action, got, key)
		}
	}
	if got := needs(t, "sqs", "ReceiveMessage", body(`{"QueueUrl":"`+queueURL+`"}`)); len(find(got, "kms:Decrypt")) != 1 || len(find(got, "kms:GenerateDataKey")) != 0 {
		t.Errorf("ReceiveMessage from an encrypted queue: %+v, want kms:Decrypt only", got)
	}
	if got := find(needs(t, "sqs", "SendMessage", samples["sqs"][1]), "kms:GenerateDataKey"); len(got) != 0 {
		t.Errorf("SendMessage to a queue without a customer managed key: %+v, want no KMS need", got)
	}

	// Rotation: Secrets Manager invokes the function as its service principal, allowed by the
	// function's resource policy alone.
	rot := find(needs(t, "secretsmanager", "RotateSecret", body(`{"SecretId":"db","RotationLambdaARN":"`+fn+`"}`)), "lambda:InvokeFunction")
	if len(rot) != 1 || rot[0].Principal != "secretsmanager.amazonaws.com" || rot[0].Resource != fn {
		t.Fatalf("RotateSecret: lambda:InvokeFunction needs %+v, want secretsmanager.amazonaws.com's on %s", rot, fn)
	}
	invoke := iamjudge.Request{Principal: rot[0].Principal, Action: rot[0].Action, Resource: rot[0].Resource, Context: rot[0].Context,
		ResourcePolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`)}
	if res, err := judge.Decide(context.Background(), invoke); err != nil || !res.Allowed() {
		t.Errorf("the rotation function's permission for Secrets Manager: %+v %v, want Allowed", res, err)
	}

	// EventBridge: PassRole for a target with a role; delivery to a Lambda or SNS target as
	// events.amazonaws.com from the rule.
	put := needs(t, "events", "PutTargets", samples["events"][0])
	if got := find(put, "iam:PassRole"); len(got) != 1 || got[0].Resource != role || got[0].Context["iam:PassedToService"][0] != "events.amazonaws.com" {
		t.Errorf("PutTargets: iam:PassRole needs %+v", got)
	}
	for _, action := range []string{"lambda:InvokeFunction", "sns:Publish"} {
		got := find(put, action)
		if len(got) != 1 || got[0].Principal != "events.amazonaws.com" || got[0].Context["aws:SourceArn"][0] != "arn:aws:events:"+region+":"+account+":rule/relay" {
			t.Errorf("PutTargets: %s needs %+v, want events.amazonaws.com's from the rule", action, got)
		}
	}

	// A missing field is an error naming it.
	if _, err := authz.Needs(env, "kms", "Encrypt", body(`{}`)); err == nil || !strings.Contains(err.Error(), "KeyId") {
		t.Errorf("Encrypt without KeyId: %v, want an error naming KeyId", err)
	}
	if _, err := authz.Needs(env, "kms", "Encrypt", body(`{"KeyId":"alias/none"}`)); err == nil || !strings.Contains(err.Error(), "alias/none") {
		t.Errorf("Encrypt with an unknown alias: %v, want an error naming it", err)
	}
	if _, err := authz.Needs(env, "kms", "NoSuchOperation", body(`{}`)); err == nil || !strings.Contains(err.Error(), "no entry") {
		t.Errorf("an operation without an entry: %v, want an error saying so", err)
	}
}
