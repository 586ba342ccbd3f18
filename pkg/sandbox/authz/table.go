package authz

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// table maps each sandbox service id and served operation to its own action(s), resource(s) and
// condition keys, as the Service Authorization Reference gives them. Additional permissions AWS
// documents beyond those are in Specials (specials.go), never here.
var table = map[string]map[string]operation{
	"kms":            kmsOps,
	"secretsmanager": secretsOps,
	"cloudhsmv2":     cloudhsmOps,
	"states":         statesOps,
	"events":         eventsOps,
	"ssm":            ssmOps,
	"sns":            snsOps,
	"dynamodb":       dynamodbOps,
	"ec2":            ec2Ops,
	"lambda":         lambdaOps,
	"iam":            iamOps,
	"cloudwatch":     cloudwatchOps,
	"sqs":            sqsOps,
	// STS GetCallerIdentity needs no permission: NoPermission. (A CloudFormation response URL is
	// an S3 PutObject pre-signed by CloudFormation, whose caller is no principal: never judged.)
	"sts": {"GetCallerIdentity": noPermission},
	"s3":  s3Ops,
	// CloudTrail's own calls on S3 and KMS are judged where it makes them (Sandbox.EnforceIAM).
	"cloudtrail": cloudtrailOps,
	"xray":       xrayOps,
	"logs":       logsOps,
}

func noPermission(Env, Request) ([]Need, error) { return nil, nil }

// ---- KMS

// kmsKey resolves a KeyId (a key id, a key ARN, an alias name or an alias ARN) to the key's ARN and
// the request's kms:CallerAccount, with kms:RequestAlias when the KeyId is an alias (dropped by
// kmsOnKey for the actions that do not take it).
func (e Env) kmsKey(ref string) (key string, ctx map[string][]string, err error) {
	ctx = map[string][]string{"kms:CallerAccount": {e.Account}}
	switch {
	case strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/"):
		key = e.lookup(KMSKey, ref)
		if key == "" {
			return "", nil, fmt.Errorf("KeyId %q is an alias the sandbox does not resolve (Env.Lookup(KMSKey)): create the alias first or name the key", ref)
		}
		ctx["kms:RequestAlias"] = []string{"alias/" + lastSegment(ref, "alias/")}
	case strings.HasPrefix(ref, "arn:"):
		key = ref
	default:
		key = e.arn("kms", "key/"+ref)
	}
	return key, ctx, nil
}

// kmsOnKey is a KMS operation on the key its KeyId names; extra adds the request's own keys.
func kmsOnKey(action string, extra func(r Request, ctx map[string][]string)) operation {
	return func(e Env, r Request) ([]Need, error) {
		ref := r.str("KeyId")
		if ref == "" && action == "kms:Decrypt" {
			ref = e.lookup(CiphertextKey, r.str("CiphertextBlob"))
		}
		if ref == "" {
			_, err := r.required("KeyId")
			return nil, err
		}
		key, ctx, err := e.kmsKey(ref)
		if err != nil {
			return nil, err
		}
		if !takesRequestAlias[action] {
			delete(ctx, "kms:RequestAlias")
		}
		if extra != nil {
			extra(r, ctx)
		}
		return one(action, key, ctx)
	}
}

// takesRequestAlias are the KMS actions whose condition keys include kms:RequestAlias.
var takesRequestAlias = map[string]bool{
	"kms:DescribeKey": true, "kms:Encrypt": true, "kms:Decrypt": true, "kms:GenerateDataKey": true,
	"kms:GenerateDataKeyWithoutPlaintext": true,
}

// kmsStore is a custom key store operation: wildcard-only, with kms:CallerAccount.
func kmsStore(action string) operation {
	return func(e Env, _ Request) ([]Need, error) {
		return one(action, "*", map[string][]string{"kms:CallerAccount": {e.Account}})
	}
}

// cryptoContext adds a cryptographic operation's encryption context and algorithm.
func cryptoContext(r Request, ctx map[string][]string) {
	ec, _ := r.JSON["EncryptionContext"].(map[string]any)
	for k, v := range ec {
		ctx["kms:EncryptionContext:"+k] = []string{fmt.Sprint(v)}
		ctx["kms:EncryptionContextKeys"] = append(ctx["kms:EncryptionContextKeys"], k)
	}
	if a := r.str("EncryptionAlgorithm"); a != "" {
		ctx["kms:EncryptionAlgorithm"] = []string{a}
	}
}

// kmsAlias is CreateAlias or DeleteAlias: the action on the alias and on the key it names.
func kmsAlias(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.required("AliasName")
		if err != nil {
			return nil, err
		}
		target := r.str("TargetKeyId")
		if target == "" { // DeleteAlias: the key the alias names now
			target = name
		}
		key, _, err := e.kmsKey(target)
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{"kms:CallerAccount": {e.Account}}
		return []Need{need(action, e.arn("kms", name), ctx), need(action, key, ctx)}, nil
	}
}

var kmsOps = map[string]operation{
	"CreateCustomKeyStore":     kmsStore("kms:CreateCustomKeyStore"),
	"ConnectCustomKeyStore":    kmsStore("kms:ConnectCustomKeyStore"),
	"DisconnectCustomKeyStore": kmsStore("kms:DisconnectCustomKeyStore"),
	"DeleteCustomKeyStore":     kmsStore("kms:DeleteCustomKeyStore"),
	"UpdateCustomKeyStore":     kmsStore("kms:UpdateCustomKeyStore"),
	"DescribeCustomKeyStores":  kmsStore("kms:DescribeCustomKeyStores"),
	"CreateKey": func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{"kms:CallerAccount": {e.Account}}
		spec := r.str("KeySpec")
		if spec == "" {
			spec = r.str("CustomerMasterKeySpec")
		}
		if spec == "" {
			spec = "SYMMETRIC_DEFAULT"
		}
		usage, origin := r.str("KeyUsage"), r.str("Origin")
		if usage == "" {
			usage = "ENCRYPT_DECRYPT"
		}
		if origin == "" {
			origin = "AWS_KMS"
		}
		ctx["kms:KeySpec"], ctx["kms:KeyUsage"], ctx["kms:KeyOrigin"] = []string{spec}, []string{usage}, []string{origin}
		if b := r.scalar("BypassPolicyLockoutSafetyCheck"); b != "" {
			ctx["kms:BypassPolicyLockoutSafetyCheck"] = []string{b}
		}
		tags(r.JSON["Tags"], "TagKey", "TagValue", ctx)
		return one("kms:CreateKey", "*", ctx)
	},
	"DescribeKey": kmsOnKey("kms:DescribeKey", nil),
	"ListKeys":    wildcard("kms:ListKeys"),
	"EnableKey":   kmsOnKey("kms:EnableKey", nil),
	"DisableKey":  kmsOnKey("kms:DisableKey", nil),
	"ScheduleKeyDeletion": kmsOnKey("kms:ScheduleKeyDeletion", func(r Request, ctx map[string][]string) {
		if d := r.scalar("PendingWindowInDays"); d != "" {
			ctx["kms:ScheduleKeyDeletionPendingWindowInDays"] = []string{d}
		}
	}),
	"CancelKeyDeletion":               kmsOnKey("kms:CancelKeyDeletion", nil),
	"Encrypt":                         kmsOnKey("kms:Encrypt", cryptoContext),
	"Decrypt":                         kmsOnKey("kms:Decrypt", cryptoContext),
	"GenerateDataKey":                 kmsOnKey("kms:GenerateDataKey", cryptoContext),
	"GenerateDataKeyWithoutPlaintext": kmsOnKey("kms:GenerateDataKeyWithoutPlaintext", cryptoContext),
	"CreateAlias":                     kmsAlias("kms:CreateAlias"),
	"DeleteAlias":                     kmsAlias("kms:DeleteAlias"),
	"ListAliases":                     wildcard("kms:ListAliases"),
	"GetKeyPolicy":                    kmsOnKey("kms:GetKeyPolicy", nil),
	"PutKeyPolicy": kmsOnKey("kms:PutKeyPolicy", func(r Request, ctx map[string][]string) {
		if b := r.scalar("BypassPolicyLockoutSafetyCheck"); b != "" {
			ctx["kms:BypassPolicyLockoutSafetyCheck"] = []string{b}
		}
	}),
}

// ---- Secrets Manager

// secretARN resolves a SecretId (a name or an ARN) to the secret's ARN.
func (e Env) secretARN(ref string) string {
	if arn := e.lookup(Secret, ref); arn != "" {
		return arn
	}
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return e.arn("secretsmanager", "secret:"+ref)
}

// onSecret is a Secrets Manager operation on the secret its SecretId names; extra adds the
// request's own keys.
func onSecret(action string, extra func(r Request, ctx map[string][]string)) operation {
	return func(e Env, r Request) ([]Need, error) {
		ref, err := r.required("SecretId")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{"secretsmanager:SecretId": {e.secretARN(ref)}}
		if extra != nil {
			extra(r, ctx)
		}
		return one(action, e.secretARN(ref), ctx)
	}
}

// copyField copies the JSON field name, if present, to the context key.
func copyField(name, key string) func(r Request, ctx map[string][]string) {
	return func(r Request, ctx map[string][]string) {
		if v := r.scalar(name); v != "" {
			ctx[key] = []string{v}
		}
	}
}

var secretsOps = map[string]operation{
	"CreateSecret": func(e Env, r Request) ([]Need, error) {
		name, err := r.required("Name")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{"secretsmanager:Name": {name}}
		for field, key := range map[string]string{"Description": "secretsmanager:Description", "KmsKeyId": "secretsmanager:KmsKeyId"} {
			if v := r.str(field); v != "" {
				ctx[key] = []string{v}
			}
		}
		tags(r.JSON["Tags"], "Key", "Value", ctx)
		return one("secretsmanager:CreateSecret", e.newSecretARN(name), ctx)
	},
	"DescribeSecret": onSecret("secretsmanager:DescribeSecret", nil),
	"GetSecretValue": onSecret("secretsmanager:GetSecretValue", func(r Request, ctx map[string][]string) {
		copyField("VersionId", "secretsmanager:VersionId")(r, ctx)
		copyField("VersionStage", "secretsmanager:VersionStage")(r, ctx)
	}),
	"PutSecretValue": onSecret("secretsmanager:PutSecretValue", nil),
	"UpdateSecret": onSecret("secretsmanager:UpdateSecret", func(r Request, ctx map[string][]string) {
		copyField("Description", "secretsmanager:Description")(r, ctx)
		copyField("KmsKeyId", "secretsmanager:KmsKeyId")(r, ctx)
	}),
	"UpdateSecretVersionStage": onSecret("secretsmanager:UpdateSecretVersionStage", copyField("VersionStage", "secretsmanager:VersionStage")),
	"ListSecretVersionIds":     onSecret("secretsmanager:ListSecretVersionIds", nil),
	"ListSecrets":              wildcard("secretsmanager:ListSecrets"),
	"GetRandomPassword":        wildcard("secretsmanager:GetRandomPassword"),
	"RotateSecret": onSecret("secretsmanager:RotateSecret", func(r Request, ctx map[string][]string) {
		copyField("RotationLambdaARN", "secretsmanager:RotationLambdaARN")(r, ctx)
		copyField("RotateImmediately", "secretsmanager:RotateImmediately")(r, ctx)
		if r.has("RotationRules") {
			ctx["secretsmanager:ModifyRotationRules"] = []string{"true"}
		}
	}),
	"CancelRotateSecret": onSecret("secretsmanager:CancelRotateSecret", nil),
	"DeleteSecret": onSecret("secretsmanager:DeleteSecret", func(r Request, ctx map[string][]string) {
		copyField("RecoveryWindowInDays", "secretsmanager:RecoveryWindowInDays")(r, ctx)
		copyField("ForceDeleteWithoutRecovery", "secretsmanager:ForceDeleteWithoutRecovery")(r, ctx)
	}),
	"RestoreSecret": onSecret("secretsmanager:RestoreSecret", nil),
	"TagResource": onSecret("secretsmanager:TagResource", func(r Request, ctx map[string][]string) {
		tags(r.JSON["Tags"], "Key", "Value", ctx)
	}),
	"UntagResource": onSecret("secretsmanager:UntagResource", func(r Request, ctx map[string][]string) {
		if keys := r.strs("TagKeys"); len(keys) > 0 {
			ctx["aws:TagKeys"] = keys
		}
	}),
	"PutResourcePolicy":    onSecret("secretsmanager:PutResourcePolicy", copyField("BlockPublicPolicy", "secretsmanager:BlockPublicPolicy")),
	"GetResourcePolicy":    onSecret("secretsmanager:GetResourcePolicy", nil),
	"DeleteResourcePolicy": onSecret("secretsmanager:DeleteResourcePolicy", nil),
}

// newSecretARN is the ARN CreateSecret's Name will have: Env.Lookup's if it knows it, else the
// name followed by any suffix.
func (e Env) newSecretARN(name string) string {
	if arn := e.lookup(Secret, name); arn != "" {
		return arn
	}
	// The ARN the secret will have: its name, a hyphen and six characters Secrets Manager picks.
	return e.arn("secretsmanager", "secret:"+name+"-??????")
}

// ---- CloudHSM

// cloudhsmResource is the ARN of a cluster-... or backup-... id.
func (e Env) cloudhsmResource(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	kind, _, _ := strings.Cut(id, "-")
	return e.arn("cloudhsm", kind+"/"+id)
}

func onCluster(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		id, err := r.required("ClusterId")
		if err != nil {
			return nil, err
		}
		return one(action, e.cloudhsmResource(id), nil)
	}
}

func onTagged(action string, extra func(r Request, ctx map[string][]string)) operation {
	return func(e Env, r Request) ([]Need, error) {
		id, err := r.required("ResourceId")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		if extra != nil {
			extra(r, ctx)
		}
		return one(action, e.cloudhsmResource(id), ctx)
	}
}

var cloudhsmOps = map[string]operation{
	"CreateCluster": func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{}
		tags(r.JSON["TagList"], "Key", "Value", ctx)
		// The Service Authorization Reference names a backup only when the cluster is restored
		// from one; a new cluster takes no resource.
		resource := "*"
		if b := r.str("SourceBackupId"); b != "" {
			resource = e.cloudhsmResource(b)
		}
		return one("cloudhsm:CreateCluster", resource, ctx)
	},
	"DescribeClusters":  wildcard("cloudhsm:DescribeClusters"),
	"DeleteCluster":     onCluster("cloudhsm:DeleteCluster"),
	"ModifyCluster":     onCluster("cloudhsm:ModifyCluster"),
	"CreateHsm":         onCluster("cloudhsm:CreateHsm"),
	"DeleteHsm":         wildcard("cloudhsm:DeleteHsm"), // the reference lists no resource for it
	"InitializeCluster": onCluster("cloudhsm:InitializeCluster"),
	"DescribeBackups":   wildcard("cloudhsm:DescribeBackups"),
	"TagResource": onTagged("cloudhsm:TagResource", func(r Request, ctx map[string][]string) {
		tags(r.JSON["TagList"], "Key", "Value", ctx)
	}),
	"UntagResource": onTagged("cloudhsm:UntagResource", func(r Request, ctx map[string][]string) {
		if keys := r.strs("TagKeyList"); len(keys) > 0 {
			ctx["aws:TagKeys"] = keys
		}
	}),
	"ListTags": onTagged("cloudhsm:ListTags", nil),
}

// ---- Step Functions

func onJSONARN(action, field string) operation {
	return func(_ Env, r Request) ([]Need, error) {
		arn, err := r.required(field)
		if err != nil {
			return nil, err
		}
		return one(action, arn, nil)
	}
}

var statesOps = map[string]operation{
	"CreateStateMachine": func(e Env, r Request) ([]Need, error) {
		name, err := r.required("name")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		tags(r.JSON["tags"], "key", "value", ctx)
		return one("states:CreateStateMachine", e.arn("states", "stateMachine:"+name), ctx)
	},
	"DescribeStateMachine":           onJSONARN("states:DescribeStateMachine", "stateMachineArn"),
	"DeleteStateMachine":             onJSONARN("states:DeleteStateMachine", "stateMachineArn"),
	"ListStateMachines":              wildcard("states:ListStateMachines"),
	"StartExecution":                 onJSONARN("states:StartExecution", "stateMachineArn"),
	"DescribeExecution":              onJSONARN("states:DescribeExecution", "executionArn"),
	"StopExecution":                  onJSONARN("states:StopExecution", "executionArn"),
	"ListExecutions":                 onJSONARN("states:ListExecutions", "stateMachineArn"),
	"GetExecutionHistory":            onJSONARN("states:GetExecutionHistory", "executionArn"),
	"ValidateStateMachineDefinition": wildcard("states:ValidateStateMachineDefinition"),
}

// ---- EventBridge

// busName is the name of an EventBusName (a name or an ARN), "default" when empty.
func busName(bus string) string {
	if bus == "" {
		return "default"
	}
	return lastSegment(bus, ":event-bus/")
}

// ruleARN is the ARN of rule name on bus: rule/<name> on the default bus, rule/<bus>/<name> on
// another.
func (e Env) ruleARN(name, bus string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	if b := busName(bus); b != "default" {
		return e.arn("events", "rule/"+b+"/"+name)
	}
	return e.arn("events", "rule/"+name)
}

// onRule is an EventBridge operation on the rule named by the field ruleField and EventBusName.
func onRule(action, ruleField string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.required(ruleField)
		if err != nil {
			return nil, err
		}
		return one(action, e.ruleARN(name, r.str("EventBusName")), nil)
	}
}

// patternValues returns the string values an event pattern (JSON text) matches for field.
func patternValues(pattern, field string) []string {
	var p map[string]any
	if json.Unmarshal([]byte(pattern), &p) != nil {
		return nil
	}
	list, _ := p[field].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var eventsOps = map[string]operation{
	"PutRule": func(e Env, r Request) ([]Need, error) {
		name, err := r.required("Name")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{
			"events:source":      patternValues(r.str("EventPattern"), "source"),
			"events:detail-type": patternValues(r.str("EventPattern"), "detail-type"),
		}
		tags(r.JSON["Tags"], "Key", "Value", ctx)
		return one("events:PutRule", e.ruleARN(name, r.str("EventBusName")), ctx)
	},
	"DescribeRule": onRule("events:DescribeRule", "Name"),
	"DeleteRule":   onRule("events:DeleteRule", "Name"),
	"EnableRule":   onRule("events:EnableRule", "Name"),
	"DisableRule":  onRule("events:DisableRule", "Name"),
	"ListRules":    wildcard("events:ListRules"),
	"PutTargets": func(e Env, r Request) ([]Need, error) {
		name, err := r.required("Rule")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		for _, t := range r.targets() {
			if t.Arn != "" {
				ctx["events:TargetArn"] = append(ctx["events:TargetArn"], t.Arn)
			}
		}
		return one("events:PutTargets", e.ruleARN(name, r.str("EventBusName")), ctx)
	},
	"RemoveTargets":     onRule("events:RemoveTargets", "Rule"),
	"ListTargetsByRule": onRule("events:ListTargetsByRule", "Rule"),
	// Each entry is authorized on its own bus, with its own source and detail type.
	"PutEvents": func(e Env, r Request) ([]Need, error) {
		entries, _ := r.JSON["Entries"].([]any)
		if len(entries) == 0 {
			return nil, fmt.Errorf("the request has no Entries: the table cannot name the event bus without them")
		}
		var needs []Need
		for _, it := range entries {
			m, _ := it.(map[string]any)
			bus, _ := m["EventBusName"].(string)
			source, _ := m["Source"].(string)
			detailType, _ := m["DetailType"].(string)
			arn := bus
			if !strings.HasPrefix(bus, "arn:") {
				arn = e.arn("events", "event-bus/"+busName(bus))
			}
			ctx := map[string][]string{}
			if source != "" {
				ctx["events:source"] = []string{source}
			}
			if detailType != "" {
				ctx["events:detail-type"] = []string{detailType}
			}
			needs = append(needs, need("events:PutEvents", arn, ctx))
		}
		return needs, nil
	},
	"TestEventPattern": wildcard("events:TestEventPattern"),
}

// target is one of PutTargets' targets.
type target struct {
	Arn, RoleArn string
}

func (r Request) targets() []target {
	list, _ := r.JSON["Targets"].([]any)
	var out []target
	for _, it := range list {
		m, _ := it.(map[string]any)
		arn, _ := m["Arn"].(string)
		role, _ := m["RoleArn"].(string)
		out = append(out, target{Arn: arn, RoleArn: role})
	}
	return out
}

// ---- Systems Manager

// documentARN is a document's ARN; AWS-owned documents (AWS-*) have no account.
func (e Env) documentARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	if strings.HasPrefix(name, "AWS-") || strings.HasPrefix(name, "AWSSupport-") || strings.HasPrefix(name, "Amazon") {
		return fmt.Sprintf("arn:%s:ssm:%s::document/%s", e.Partition, e.Region, name)
	}
	return e.arn("ssm", "document/"+name)
}

func onDocument(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.required("Name")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		copyField("DocumentType", "ssm:DocumentType")(r, ctx)
		if action == "ssm:CreateDocument" {
			tags(r.JSON["Tags"], "Key", "Value", ctx)
		}
		return one(action, e.documentARN(name), ctx)
	}
}

var ssmOps = map[string]operation{
	// SendCommand is authorized on the document and on every instance it runs on.
	"SendCommand": func(e Env, r Request) ([]Need, error) {
		doc, err := r.required("DocumentName")
		if err != nil {
			return nil, err
		}
		ids := r.strs("InstanceIds")
		if len(ids) == 0 {
			return nil, fmt.Errorf("the request has no InstanceIds: the table names each instance the command runs on")
		}
		needs := []Need{need("ssm:SendCommand", e.documentARN(doc), nil)}
		for _, id := range ids {
			needs = append(needs, need("ssm:SendCommand", e.arn("ec2", "instance/"+id), nil))
		}
		return needs, nil
	},
	"CancelCommand":          wildcard("ssm:CancelCommand"),
	"GetCommandInvocation":   wildcard("ssm:GetCommandInvocation"),
	"ListCommandInvocations": wildcard("ssm:ListCommandInvocations"),
	"ListCommands":           wildcard("ssm:ListCommands"),
	"CreateDocument":         onDocument("ssm:CreateDocument"),
	"DescribeDocument":       onDocument("ssm:DescribeDocument"),
	"GetDocument":            onDocument("ssm:GetDocument"),
}

// ---- SNS (Query protocol)

func onTopic(action, param string) operation {
	return func(_ Env, r Request) ([]Need, error) {
		arn, err := r.queryRequired(param)
		if err != nil {
			return nil, err
		}
		if param == "SubscriptionArn" {
			// A subscription's ARN is its topic's followed by :<id>; the reference authorizes
			// subscription operations on the topic.
			arn = arn[:strings.LastIndex(arn, ":")]
		}
		return one(action, arn, nil)
	}
}

// queryTags adds the aws:RequestTag and aws:TagKeys of a Query Tags.member.N.Key/Value list.
func (r Request) queryTags(ctx map[string][]string) {
	for i := 1; ; i++ {
		k := r.Query.Get(fmt.Sprintf("Tags.member.%d.Key", i))
		if k == "" {
			return
		}
		ctx["aws:RequestTag/"+k] = []string{r.Query.Get(fmt.Sprintf("Tags.member.%d.Value", i))}
		ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
	}
}

var snsOps = map[string]operation{
	"CreateTopic": func(e Env, r Request) ([]Need, error) {
		name, err := r.queryRequired("Name")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		r.queryTags(ctx)
		return one("sns:CreateTopic", e.arn("sns", name), ctx)
	},
	"DeleteTopic":        onTopic("sns:DeleteTopic", "TopicArn"),
	"GetTopicAttributes": onTopic("sns:GetTopicAttributes", "TopicArn"),
	"SetTopicAttributes": onTopic("sns:SetTopicAttributes", "TopicArn"),
	"ListTopics":         wildcard("sns:ListTopics"),
	"Subscribe": func(_ Env, r Request) ([]Need, error) {
		arn, err := r.queryRequired("TopicArn")
		if err != nil {
			return nil, err
		}
		return one("sns:Subscribe", arn, map[string][]string{
			"sns:Protocol": nonEmpty(r.Query.Get("Protocol")), "sns:Endpoint": nonEmpty(r.Query.Get("Endpoint")),
		})
	},
	"Unsubscribe":               onTopic("sns:Unsubscribe", "SubscriptionArn"),
	"GetSubscriptionAttributes": onTopic("sns:GetSubscriptionAttributes", "SubscriptionArn"),
	"SetSubscriptionAttributes": onTopic("sns:SetSubscriptionAttributes", "SubscriptionArn"),
	"ListSubscriptionsByTopic":  onTopic("sns:ListSubscriptionsByTopic", "TopicArn"),
	"ListSubscriptions":         wildcard("sns:ListSubscriptions"),
	"Publish": func(_ Env, r Request) ([]Need, error) {
		arn := r.Query.Get("TopicArn")
		if arn == "" {
			arn = r.Query.Get("TargetArn")
		}
		if arn == "" {
			return nil, fmt.Errorf("the request has no TopicArn or TargetArn parameter: the table cannot name the topic without it")
		}
		return one("sns:Publish", arn, nil)
	},
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// ---- DynamoDB

func onTable(action string, extra func(r Request, ctx map[string][]string)) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.required("TableName")
		if err != nil {
			return nil, err
		}
		arn := name
		if !strings.HasPrefix(name, "arn:") {
			arn = e.arn("dynamodb", "table/"+name)
		}
		ctx := map[string][]string{}
		if extra != nil {
			extra(r, ctx)
		}
		return one(action, arn, ctx)
	}
}

// itemContext adds an item operation's ReturnValues and ReturnConsumedCapacity.
func itemContext(r Request, ctx map[string][]string) {
	copyField("ReturnValues", "dynamodb:ReturnValues")(r, ctx)
	copyField("ReturnConsumedCapacity", "dynamodb:ReturnConsumedCapacity")(r, ctx)
}

var dynamodbOps = map[string]operation{
	"CreateTable": onTable("dynamodb:CreateTable", func(r Request, ctx map[string][]string) {
		tags(r.JSON["Tags"], "Key", "Value", ctx)
	}),
	"DescribeTable":      onTable("dynamodb:DescribeTable", nil),
	"DeleteTable":        onTable("dynamodb:DeleteTable", nil),
	"UpdateTimeToLive":   onTable("dynamodb:UpdateTimeToLive", nil),
	"DescribeTimeToLive": onTable("dynamodb:DescribeTimeToLive", nil),
	"GetItem": onTable("dynamodb:GetItem", func(r Request, ctx map[string][]string) {
		copyField("ReturnConsumedCapacity", "dynamodb:ReturnConsumedCapacity")(r, ctx)
	}),
	"PutItem":    onTable("dynamodb:PutItem", itemContext),
	"UpdateItem": onTable("dynamodb:UpdateItem", itemContext),
	"DeleteItem": onTable("dynamodb:DeleteItem", itemContext),
}

// ---- EC2 (Query protocol)

// ec2Describe is a Describe* action: EC2 takes no resource for it.
func ec2Describe(action string) operation {
	return func(e Env, _ Request) ([]Need, error) {
		return one(action, "*", map[string][]string{"ec2:Region": {e.Region}})
	}
}

// onGroup is a security-group rule change, authorized on the group.
func onGroup(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		id, err := r.queryRequired("GroupId")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		// The Service Authorization Reference gives the security-group resource the ec2:Vpc key:
		// the ARN of the group's VPC.
		if vpc := e.lookup(GroupVPC, id); vpc != "" {
			ctx["ec2:Vpc"] = []string{e.arn("ec2", "vpc/"+vpc)}
		}
		return one(action, e.arn("ec2", "security-group/"+id), ctx)
	}
}

var ec2Ops = map[string]operation{
	"DescribeVpcs":              ec2Describe("ec2:DescribeVpcs"),
	"DescribeSubnets":           ec2Describe("ec2:DescribeSubnets"),
	"DescribeSecurityGroups":    ec2Describe("ec2:DescribeSecurityGroups"),
	"DescribeInstances":         ec2Describe("ec2:DescribeInstances"),
	"DescribeNetworkInterfaces": ec2Describe("ec2:DescribeNetworkInterfaces"),
	// CreateSecurityGroup is authorized on the new group (its id unknown yet) and on its VPC.
	"CreateSecurityGroup": func(e Env, r Request) ([]Need, error) {
		vpc := r.Query.Get("VpcId")
		if vpc == "" {
			vpc = "*" // the default VPC, whose id the request does not carry
		}
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		return []Need{
			need("ec2:CreateSecurityGroup", e.arn("ec2", "security-group/*"), ctx),
			need("ec2:CreateSecurityGroup", e.arn("ec2", "vpc/"+vpc), ctx),
		}, nil
	},
	"DeleteSecurityGroup":           onGroup("ec2:DeleteSecurityGroup"),
	"AuthorizeSecurityGroupIngress": onGroup("ec2:AuthorizeSecurityGroupIngress"),
	"AuthorizeSecurityGroupEgress":  onGroup("ec2:AuthorizeSecurityGroupEgress"),
	"RevokeSecurityGroupIngress":    onGroup("ec2:RevokeSecurityGroupIngress"),
	"RevokeSecurityGroupEgress":     onGroup("ec2:RevokeSecurityGroupEgress"),
	// CreateNetworkInterface is authorized on the new interface, its subnet and its groups.
	"CreateNetworkInterface": func(e Env, r Request) ([]Need, error) {
		subnet, err := r.queryRequired("SubnetId")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		needs := []Need{
			need("ec2:CreateNetworkInterface", e.arn("ec2", "network-interface/*"), ctx),
			need("ec2:CreateNetworkInterface", e.arn("ec2", "subnet/"+subnet), ctx),
		}
		for _, g := range r.members("SecurityGroupId") {
			needs = append(needs, need("ec2:CreateNetworkInterface", e.arn("ec2", "security-group/"+g), ctx))
		}
		return needs, nil
	},
	// CreateFlowLogs is authorized on the new flow log (with its tags) and on each resource it
	// captures; iam:PassRole of its role is a special case (specials.go).
	"CreateFlowLogs": func(e Env, r Request) ([]Need, error) {
		ids := r.members("ResourceId")
		if len(ids) == 0 {
			return nil, fmt.Errorf("the request has no ResourceId.1 parameter: the table cannot name the resource without it")
		}
		prefix, ok := map[string]string{"VPC": "vpc/", "Subnet": "subnet/", "NetworkInterface": "network-interface/"}[r.Query.Get("ResourceType")]
		if !ok {
			return nil, fmt.Errorf("ResourceType %q is not VPC, Subnet or NetworkInterface", r.Query.Get("ResourceType"))
		}
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		flowCtx := map[string][]string{"ec2:Region": {e.Region}}
		for i := 1; ; i++ {
			spec := fmt.Sprintf("TagSpecification.%d.", i)
			if !r.Query.Has(spec + "ResourceType") {
				break
			}
			for j := 1; ; j++ {
				k := r.Query.Get(fmt.Sprintf("%sTag.%d.Key", spec, j))
				if k == "" {
					break
				}
				flowCtx["aws:RequestTag/"+k] = []string{r.Query.Get(fmt.Sprintf("%sTag.%d.Value", spec, j))}
				flowCtx["aws:TagKeys"] = append(flowCtx["aws:TagKeys"], k)
			}
		}
		needs := []Need{need("ec2:CreateFlowLogs", e.arn("ec2", "vpc-flow-log/*"), flowCtx)}
		for _, id := range ids {
			needs = append(needs, need("ec2:CreateFlowLogs", e.arn("ec2", prefix+id), ctx))
		}
		return needs, nil
	},
	"DescribeFlowLogs": ec2Describe("ec2:DescribeFlowLogs"),
	"DeleteFlowLogs": func(e Env, r Request) ([]Need, error) {
		ids := r.members("FlowLogId")
		if len(ids) == 0 {
			return nil, fmt.Errorf("the request has no FlowLogId.1 parameter: the table cannot name the resource without it")
		}
		var needs []Need
		for _, id := range ids {
			needs = append(needs, need("ec2:DeleteFlowLogs", e.arn("ec2", "vpc-flow-log/"+id), map[string][]string{"ec2:Region": {e.Region}}))
		}
		return needs, nil
	},
	"DeleteNetworkInterface": func(e Env, r Request) ([]Need, error) {
		id, err := r.queryRequired("NetworkInterfaceId")
		if err != nil {
			return nil, err
		}
		return one("ec2:DeleteNetworkInterface", e.arn("ec2", "network-interface/"+id), map[string][]string{"ec2:Region": {e.Region}})
	},
}

// ---- Lambda (REST)

// functionARN is the ARN of a FunctionName (a name, a partial ARN 123456789012:function:name or
// a full ARN) with its qualifier, if any: a qualified call is authorized on the qualified ARN.
func (e Env) functionARN(ref, qualifier string) string {
	var arn string
	switch {
	case strings.HasPrefix(ref, "arn:"):
		arn = ref
	case strings.Contains(ref, ":function:"):
		arn = fmt.Sprintf("arn:%s:lambda:%s:%s", e.Partition, e.Region, ref)
	default:
		arn = e.arn("lambda", "function:"+ref)
	}
	if qualifier != "" && strings.Count(arn, ":") == 6 {
		arn += ":" + qualifier
	}
	return arn
}

func onFunction(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name := r.Path["FunctionName"]
		if name == "" {
			return nil, fmt.Errorf("the request has no FunctionName path parameter: the table cannot name the function without it")
		}
		return one(action, e.functionARN(name, r.Query.Get("Qualifier")), nil)
	}
}

var lambdaOps = map[string]operation{
	"Invoke":                   onFunction("lambda:InvokeFunction"),
	"ListFunctions":            wildcard("lambda:ListFunctions"),
	"GetFunction":              onFunction("lambda:GetFunction"),
	"GetFunctionConfiguration": onFunction("lambda:GetFunctionConfiguration"),
	"AddPermission": func(e Env, r Request) ([]Need, error) {
		needs, err := onFunction("lambda:AddPermission")(e, r)
		if err == nil && r.str("Principal") != "" {
			needs[0].Context = map[string][]string{"lambda:Principal": {r.str("Principal")}}
		}
		return needs, err
	},
	"GetPolicy":                    onFunction("lambda:GetPolicy"),
	"RemovePermission":             onFunction("lambda:RemovePermission"),
	"PutFunctionEventInvokeConfig": onFunction("lambda:PutFunctionEventInvokeConfig"),
	"GetFunctionEventInvokeConfig": onFunction("lambda:GetFunctionEventInvokeConfig"),
}

// ---- CloudWatch (alarms). The table reads a request's members from its CBOR body (decoded as
// JSON is) or, for the Query protocol, from its parameters.

// listOf returns a list member: a JSON list, or Query's name.member.N.
func (r Request) listOf(name string) []string {
	if r.Query != nil {
		return r.members(name)
	}
	return r.strs(name)
}

// strOf returns a string member of a JSON body or Query parameters.
func (r Request) strOf(name string) string {
	if r.Query != nil {
		return r.Query.Get(name)
	}
	return r.str(name)
}

func (e Env) alarmARN(name string) string { return e.arn("cloudwatch", "alarm:"+name) }

// onAlarm is an operation on the alarm its AlarmName names.
func onAlarm(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name := r.strOf("AlarmName")
		if name == "" {
			return nil, fmt.Errorf("the request has no AlarmName: the table cannot name the alarm without it")
		}
		return one(action, e.alarmARN(name), nil)
	}
}

// onAlarms is an operation on each alarm AlarmNames lists; with none, on every alarm whose name
// begins with AlarmNamePrefix (every alarm without one).
func onAlarms(action string, required bool) operation {
	return func(e Env, r Request) ([]Need, error) {
		names := r.listOf("AlarmNames")
		if len(names) == 0 {
			if required {
				return nil, fmt.Errorf("the request has no AlarmNames: the table cannot name the alarms without them")
			}
			return one(action, e.alarmARN(r.strOf("AlarmNamePrefix")+"*"), nil)
		}
		var needs []Need
		for _, n := range names {
			needs = append(needs, need(action, e.alarmARN(n), nil))
		}
		return needs, nil
	}
}

var cloudwatchOps = map[string]operation{
	"PutMetricAlarm": func(e Env, r Request) ([]Need, error) {
		needs, err := onAlarm("cloudwatch:PutMetricAlarm")(e, r)
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{"cloudwatch:AlarmActions": slices.Concat(r.listOf("AlarmActions"), r.listOf("OKActions"), r.listOf("InsufficientDataActions"))}
		if r.Query != nil {
			r.queryTags(ctx)
		} else {
			tags(r.JSON["Tags"], "Key", "Value", ctx)
		}
		needs[0] = need(needs[0].Action, needs[0].Resource, ctx)
		return needs, nil
	},
	"DescribeAlarms": onAlarms("cloudwatch:DescribeAlarms", false),
	"SetAlarmState":  onAlarm("cloudwatch:SetAlarmState"),
	"DeleteAlarms":   onAlarms("cloudwatch:DeleteAlarms", true),
}

// ---- SQS (JSON 1.0, and Query for the AWS CLI: strOf reads either). A queue is named by its URL,
// whose path ends in /<account>/<name>, or by name (CreateQueue, GetQueueUrl).

// queueARN is the ARN of the queue a queue URL names.
func (e Env) queueARN(queueURL string) (string, error) {
	u, err := url.Parse(queueURL)
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if queueURL == "" || err != nil || len(segs) < 2 {
		return "", fmt.Errorf("the request's QueueUrl %q does not end in /<account>/<queue name>: the table cannot name the queue without it", queueURL)
	}
	return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", e.Partition, e.Region, segs[len(segs)-2], segs[len(segs)-1]), nil
}

// onQueue is an operation on the queue its QueueUrl names.
func onQueue(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		arn, err := e.queueARN(r.strOf("QueueUrl"))
		if err != nil {
			return nil, err
		}
		return one(action, arn, nil)
	}
}

// byQueueName is an operation on the queue its QueueName names.
func byQueueName(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name := r.strOf("QueueName")
		if name == "" {
			return nil, fmt.Errorf("the request has no QueueName: the table cannot name the queue without it")
		}
		return one(action, e.arn("sqs", name), nil)
	}
}

var sqsOps = map[string]operation{
	"CreateQueue": func(e Env, r Request) ([]Need, error) {
		needs, err := byQueueName("sqs:CreateQueue")(e, r)
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		if r.Query != nil {
			for _, t := range queryPairs(r.Query, "Tag") {
				ctx["aws:RequestTag/"+t[0]] = []string{t[1]}
				ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], t[0])
			}
		} else if m, ok := r.JSON["tags"].(map[string]any); ok {
			for k, v := range m {
				ctx["aws:RequestTag/"+k] = []string{fmt.Sprint(v)}
				ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
			}
		}
		slices.Sort(ctx["aws:TagKeys"])
		needs[0] = need(needs[0].Action, needs[0].Resource, ctx)
		return needs, nil
	},
	"GetQueueUrl":             byQueueName("sqs:GetQueueUrl"),
	"GetQueueAttributes":      onQueue("sqs:GetQueueAttributes"),
	"SetQueueAttributes":      onQueue("sqs:SetQueueAttributes"),
	"ListQueues":              wildcard("sqs:ListQueues"),
	"DeleteQueue":             onQueue("sqs:DeleteQueue"),
	"SendMessage":             onQueue("sqs:SendMessage"),
	"ReceiveMessage":          onQueue("sqs:ReceiveMessage"),
	"DeleteMessage":           onQueue("sqs:DeleteMessage"),
	"ChangeMessageVisibility": onQueue("sqs:ChangeMessageVisibility"),
	"PurgeQueue":              onQueue("sqs:PurgeQueue"),
}

// queryPairs returns the Key and Value of each element of a Query list prefix.N.Key/Value.
func queryPairs(q url.Values, prefix string) [][2]string {
	var out [][2]string
	for i := 1; ; i++ {
		k := q.Get(fmt.Sprintf("%s.%d.Key", prefix, i))
		if k == "" {
			return out
		}
		out = append(out, [2]string{k, q.Get(fmt.Sprintf("%s.%d.Value", prefix, i))})
	}
}

// ---- X-Ray (REST-JSON). None of these actions has a resource type: each is authorized on "*".
var xrayOps = map[string]operation{
	"PutTraceSegments":    wildcard("xray:PutTraceSegments"),
	"PutTelemetryRecords": wildcard("xray:PutTelemetryRecords"),
	"GetSamplingRules":    wildcard("xray:GetSamplingRules"),
	"GetSamplingTargets":  wildcard("xray:GetSamplingTargets"),
	"BatchGetTraces":      wildcard("xray:BatchGetTraces"),
}
