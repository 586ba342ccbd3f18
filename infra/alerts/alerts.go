// Package alerts declares the AlertsStack: a multi-region CloudTrail trail whose management events, console
// sign-ins and Secrets Manager rotation failures reach an EventBridge rule, a Go relay Lambda
// (lambdas/trailrelay) and an encrypted SNS topic that e-mails the operator (docs/architecture.md, "CloudTrail alerts").
// The relay also mails the cluster's and key store's failed workflow executions: their stacks route
// those to it and grant it the read of their histories (infra/workflowresource, Props.AlertRelay),
// so this stack references neither.
//
// Every event that does not become an e-mail lands in one encrypted dead-letter queue, whichever hop
// lost it (EventBridge could not invoke the relay, or the relay failed all its asynchronous retries).
// Alarms on relay errors, on the queue's depth and on any failure to write to the queue publish straight
// to the topic, bypassing the relay.
//
// The relay keeps its state (each health condition's last status, and counts of repeated alerts, so
// a condition alerts when it changes and duplicates go out once with a count) in a DynamoDB table
// (pkg/alertstate), encrypted with the topic's key.
package alerts

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/infra/alarmtopic"

	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/pkg/health"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/golambda"
	"github.com/strongroom/strongroom/infra/nagsuppress"
	"github.com/strongroom/strongroom/pkg/alertrules"
	"github.com/strongroom/strongroom/pkg/alertstate"
	"github.com/strongroom/strongroom/pkg/trailalert"
)

// Detail types EventBridge gives CloudTrail events. Secrets Manager's RotationFailed is a service event,
// not an API call, so a rule matching only API calls never sees it.
const (
	DetailTypeAPICall       = "AWS API Call via CloudTrail"
	DetailTypeConsoleSignIn = "AWS Console Sign In via CloudTrail"
	DetailTypeServiceEvent  = "AWS Service Event via CloudTrail"
)

// Delivery settings of the EventBridge target. EventBridge invokes the relay asynchronously, so its
// delivery fails only when Lambda refuses the invocation (throttling, a missing permission or
// function); an hour of retries rides out throttling, after which the event waits in the dead-letter
// queue, whose alarm e-mails the operator, rather than arriving a day late.
const (
	TargetMaxEventAgeHours = 1
	TargetRetryAttempts    = 10
	// RelayAsyncRetries is Lambda's own retry of a failed relay invocation before the event goes to the
	// dead-letter queue; a failure that survives two retries (a minute or more apart) is not transient.
	RelayAsyncRetries = 2
)

// AlertsStackProps configure the stack.
type AlertsStackProps struct {
	awscdk.StackProps
	// RelayAssetDir holds lambdas/trailrelay's prebuilt bootstrap (build/trailrelay after `make
	// build`); empty bundles it from this module's sources (golambda.Bundle).
	RelayAssetDir string
	// AlertEmail, when set, is subscribed to the topic (the address must confirm the subscription).
	AlertEmail string
	// EventSources are the "source" values whose API calls and console sign-ins are relayed.
	EventSources []string
	// RedactFields are extra field-name markers the relay redacts (its REDACT_FIELDS); may be empty.
	RedactFields []string
	// AlertEmails are further addresses by severity (alertrules.Severities): each is subscribed
	// with a filter policy on the severity attribute, so it receives that severity and above.
	// CloudWatch alarm notifications carry no attributes and reach AlertEmail only.
	AlertEmails map[string][]string
	// Rules are the operator's ignore rules and severity overrides (infra/settings validated them);
	// their OwnRoles are ignored, OwnStackNames sets them.
	Rules alertrules.Rules
	// OwnStackNames are the names of Strongroom's stacks. CloudFormation names the roles it
	// creates <stack name>-<logical id>-<suffix>, so a role whose name starts with one of them and
	// a hyphen is Strongroom's, and its successful calls of info severity are routine: the relay
	// does not mail them (pkg/trailalert). May be empty.
	OwnStackNames []string
	// ChatChannels receive alerts in Slack or Microsoft Teams through AWS Chatbot (chat.go).
	ChatChannels []settings.ChatChannel
	// OrganizationID, when set, is central organization mode (organization.go): the trail is an
	// organization trail, and the rules also watch a bus (settings.CentralBusName) on which every
	// account of this organization may put events (infra/forwarder forwards them). Empty is
	// single-account mode.
	OrganizationID string
	// ManagementAccountID (central mode only, optional) is the organization's management account,
	// set when the stack is deployed in a CloudTrail delegated administrator account: the
	// management account owns the organization trail even then, so the trail's ARN in every
	// policy that names it, and the log prefix CloudTrail writes as its owner, carry this id.
	// Empty: the deploying account owns the trail.
	ManagementAccountID string
}

// AlertsStack exposes what other stacks may reuse, for example the topic for their own alarms.
type AlertsStack struct {
	awscdk.Stack
	Topic           awssns.Topic
	TopicKey        awskms.Key
	DeadLetterQueue awssqs.Queue
	Relay           *golambda.Function
	Trail           awscloudtrail.Trail
	// StateTable is the relay's state (pkg/alertstate), named to it by ALERT_STATE_TABLE.
	StateTable awsdynamodb.Table
	// Alarms watch the relay (errors, dead-letter errors), the dead-letter queue's depth and the
	// rules' dead-letter errors; each notifies Topic directly.
	Alarms []awscloudwatch.Alarm
	// Dashboard shows the alarms, the relay's invocations, errors, throttles and durations, the
	// dead-letter queue's depth and the topic's deliveries.
	Dashboard awscloudwatch.Dashboard
	// OrganizationBus is the organization-wide bus of central mode; nil in single-account mode.
	OrganizationBus awsevents.EventBus
}

var ruleNameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// NewAlertsStack declares the stack. It fails, before declaring anything, on props that could only fail
// later at deploy time.
func NewAlertsStack(scope constructs.Construct, id string, props *AlertsStackProps) (*AlertsStack, error) {
	if props == nil {
		return nil, fmt.Errorf("alerts stack %s: props are required (EventSources)", id)
	}
	if len(props.EventSources) == 0 {
		return nil, fmt.Errorf("alerts stack %s: EventSources is empty; name at least one source such as aws.kms", id)
	}
	rulesEnv, err := relayRules(props)
	if err != nil {
		return nil, fmt.Errorf("alerts stack %s: %w", id, err)
	}
	if err := checkAlertEmails(props); err != nil {
		return nil, fmt.Errorf("alerts stack %s: %w", id, err)
	}
	if props.OrganizationID != "" && !settings.IsOrganizationID(props.OrganizationID) {
		return nil, fmt.Errorf("alerts stack %s: OrganizationID %q is not an organization id (o- and 10 to 32 lowercase letters or digits)", id, props.OrganizationID)
	}
	if props.ManagementAccountID != "" && (props.OrganizationID == "" || !settings.IsAccountID(props.ManagementAccountID)) {
		return nil, fmt.Errorf("alerts stack %s: ManagementAccountID %q: want the 12-digit id of the organization's management account, and only with OrganizationID (central mode in a CloudTrail delegated administrator)", id, props.ManagementAccountID)
	}
	copied := *props // the defaults below must not change the caller's props
	props = &copied
	if props.RelayAssetDir == "" {
		dir, err := golambda.Bundle("trailrelay")
		if err != nil {
			return nil, fmt.Errorf("alerts stack %s: relay: %w", id, err)
		}
		props.RelayAssetDir = dir
	}
	if err := golambda.CheckBootstrap(props.RelayAssetDir); err != nil {
		return nil, fmt.Errorf("alerts stack %s: relay: %w", id, err)
	}
	// Rule and trail names are fixed (stack name + suffix) so the KMS key policies can name their ARNs
	// without a reference cycle (key -> rule -> queue -> key, key -> trail -> key).
	stackName := id
	if props.StackName != nil {
		stackName = *props.StackName
	}
	callsRuleName := stackName + "-CloudTrailEvents"
	rotationRuleName := stackName + "-RotationFailed"
	healthRuleName := stackName + "-HealthFindings"
	org := newOrgRules(stackName, props.OrganizationID)
	for _, n := range append([]string{callsRuleName, rotationRuleName, healthRuleName}, org.names()...) {
		if !ruleNameRE.MatchString(n) {
			return nil, fmt.Errorf("alerts stack %s: rule name %q must be 1-64 of [.-_A-Za-z0-9]; use a shorter stack name", id, n)
		}
	}

	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &AlertsStack{Stack: stack}
	account, partition := stack.Account(), stack.Partition()

	// --- CloudTrail: trail, its key and its buckets ---
	// The trail's owner: this account, or in central mode in a delegated administrator the
	// management account, which owns every organization trail. CloudTrail uses the key and writes
	// the logs as the trail of its owner, so every policy names the owner's trail ARN.
	trailOwner := account
	if props.ManagementAccountID != "" {
		trailOwner = jsii.String(props.ManagementAccountID)
	}
	trailName := stackName + "-trail"
	trailArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cloudtrail"), Resource: jsii.String("trail"), ResourceName: jsii.String(trailName), Account: trailOwner})

	trailKey := awskms.NewKey(stack, jsii.String("TrailKey"), &awskms.KeyProps{
		Description:       jsii.String("Strongroom: encrypts the CloudTrail log files and their bucket"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	// CloudTrail's documented key policy: encrypt only for the owner's trails, describe the key, both
	// only on behalf of this trail. The Trail construct sets the key on the trail but not these.
	trailKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudTrailToEncryptLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudtrail.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceArn": trailArn},
			"StringLike":   map[string]any{"kms:EncryptionContext:aws:cloudtrail:arn": fmt.Sprintf("arn:%s:cloudtrail:*:%s:trail/*", *partition, *trailOwner)},
		},
	}), jsii.Bool(false))
	trailKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudTrailToDescribeKey"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudtrail.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceArn": trailArn}},
	}), jsii.Bool(false))

	accessLogs := awss3.NewBucket(stack, jsii.String("AccessLogsBucket"), &awss3.BucketProps{
		// S3 server access logging delivers only to buckets with SSE-S3 default encryption, not SSE-KMS.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	trailBucket := awss3.NewBucket(stack, jsii.String("TrailBucket"), &awss3.BucketProps{
		Encryption:    awss3.BucketEncryption_KMS,
		EncryptionKey: trailKey,
		// No S3 Bucket Key: CloudTrail's own use of the key is free of KMS charges, and with a Bucket Key
		// CloudTrail needs kms:Decrypt too and the encryption context its key policy names changes.
		BucketKeyEnabled:       jsii.Bool(false),
		EnforceSSL:             jsii.Bool(true),
		MinimumTLSVersion:      jsii.Number(1.2),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:              jsii.Bool(true),
		ServerAccessLogsBucket: accessLogs,
		ServerAccessLogsPrefix: jsii.String("trail-bucket/"),
		// Audit evidence outlives the stack.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	// CloudTrail's documented bucket statements, each for this trail only (aws:SourceArn): read
	// the bucket's ACL, and write under AWSLogs/<owner>/ (and, for an organization trail,
	// AWSLogs/<organization id>/, orgRules.bucket). The Trail construct would write its own, and
	// cannot be told the owner: it names this account in the log prefix and in aws:SourceArn, which
	// refuses the trail a delegated administrator creates (owned by the management account). So
	// it gets a reference to the bucket, through which it adds no statements, and these replace
	// them in every mode.
	cloudtrail := awsiam.NewServicePrincipal(jsii.String("cloudtrail.amazonaws.com"), nil)
	trailBucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudTrailAclCheck"),
		Principals: &[]awsiam.IPrincipal{cloudtrail},
		Actions:    jsii.Strings("s3:GetBucketAcl"),
		Resources:  &[]*string{trailBucket.BucketArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceArn": trailArn}},
	}))
	trailWrite := func(sid, prefix string) {
		trailBucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(sid),
			Principals: &[]awsiam.IPrincipal{cloudtrail},
			Actions:    jsii.Strings("s3:PutObject"),
			Resources:  &[]*string{trailBucket.ArnForObjects(jsii.String("AWSLogs/" + prefix + "/*"))},
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceArn": trailArn, "s3:x-amz-acl": "bucket-owner-full-control"}},
		}))
	}
	// The owner's prefix: a single-account trail's logs; for an organization trail, AWS's policy
	// keeps it so that logging goes on if the owner turns it into a trail of its account only.
	trailWrite("AllowCloudTrailWrite", *trailOwner)
	org.bucket(trailWrite)
	// A Deny of every other source, so that no Allow of CloudTrail added later (by hand or by a
	// construct) can let another account's trail write here with a crafted key prefix.
	trailBucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyOtherTrails"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{cloudtrail},
		Actions:    jsii.Strings("s3:GetBucketAcl", "s3:PutObject"),
		Resources:  &[]*string{trailBucket.BucketArn(), trailBucket.ArnForObjects(jsii.String("*"))},
		Conditions: &map[string]any{"StringNotEquals": map[string]any{"aws:SourceArn": trailArn}},
	}))

	trailProps := &awscloudtrail.TrailProps{
		TrailName: jsii.String(trailName),
		// A reference: the construct adds its bucket statements through it to nothing (above).
		Bucket: awss3.Bucket_FromBucketAttributes(stack, jsii.String("TrailBucketReference"), &awss3.BucketAttributes{
			BucketArn: trailBucket.BucketArn(), BucketName: trailBucket.BucketName(),
		}),
		EncryptionKey:              trailKey,
		IsMultiRegionTrail:         jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(true),
		EnableFileValidation:       jsii.Bool(true),
		ManagementEvents:           awscloudtrail.ReadWriteType_ALL,
	}
	org.trail(trailProps)
	s.Trail = awscloudtrail.NewTrail(stack, jsii.String("Trail"), trailProps)
	// CloudTrail checks the bucket policy when it creates the trail; the construct orders this
	// itself only for a bucket it adds statements to.
	s.Trail.Node().AddDependency(trailBucket.Policy())

	// --- Alert delivery: key, topic, dead-letter queue ---
	callsRuleArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(callsRuleName)})
	rotationRuleArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(rotationRuleName)})
	healthRuleArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(healthRuleName)})
	// Every rule that dead-letters to the queue below: the default bus's three, and the organization
	// bus's in central mode. The queue's and its key's policies admit EventBridge for these only.
	deadLetterRules := append([]*string{callsRuleArn, rotationRuleArn, healthRuleArn}, org.arns(stack)...)

	topicKey := awskms.NewKey(stack, jsii.String("AlertsKey"), &awskms.KeyProps{
		Description:       jsii.String("Strongroom: encrypts the alert topic, the undelivered-alert queue and the alert state table"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	s.TopicKey = topicKey
	// CloudWatch publishes alarm notifications to the encrypted topic (SNS then calls KMS for it),
	// only for this account's alarms: without the conditions any account's alarm could use the key
	// through CloudWatch (the confused-deputy problem).
	alarmtopic.AllowOnKey(topicKey)
	// EventBridge sends events it could not deliver to the encrypted dead-letter queue, only for our rules.
	topicKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowEventBridgeDeadLetters"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": deadLetterRules}},
	}), jsii.Bool(false))

	topic := awssns.NewTopic(stack, jsii.String("AlertTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Strongroom alerts"),
		MasterKey:   topicKey,
		EnforceSSL:  jsii.Bool(true),
	})
	s.Topic = topic
	// A topic policy replaces SNS's default one, which is what lets CloudWatch alarms publish; restore
	// that for this account's alarms only.
	alarmtopic.AllowOnTopic(topic)
	if props.AlertEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlertEmail), nil))
	}
	// Per-severity addresses: "and above", so an on-call address of critical misses no critical
	// alert and an address of warning is not spared the critical ones.
	for _, sev := range alertrules.Severities {
		for _, addr := range props.AlertEmails[sev] {
			topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(addr), &awssnssubscriptions.EmailSubscriptionProps{
				FilterPolicy: &map[string]awssns.SubscriptionFilter{
					alertrules.SeverityAttribute: awssns.SubscriptionFilter_StringFilter(&awssns.StringConditions{
						Allowlist: jsii.Strings(alertrules.AtLeast(sev)...),
					}),
				},
			}))
		}
	}

	dlq := awssqs.NewQueue(stack, jsii.String("UndeliveredAlerts"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: topicKey,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	s.DeadLetterQueue = dlq
	// EventBridge sends the rules' undeliverable events here, for our rules only: one statement, as
	// on the key. Given the queue itself, CDK's events targets add one statement per rule differing
	// only in aws:SourceArn, the same permission three times over (six in central mode); the
	// mutation proof could only exercise the CloudTrail rule's. So the targets get a reference to the
	// queue (deadLetters, through which they add nothing) and this statement grants what theirs did.
	// A new rule with target() belongs in deadLetterRules (the tests check every rule whose dead
	// letters come here is listed).
	dlq.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowEventBridgeDeadLetters"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{dlq.QueueArn()},
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": deadLetterRules}},
	}))
	deadLetters := awssqs.Queue_FromQueueAttributes(stack, jsii.String("UndeliveredAlertsReference"), &awssqs.QueueAttributes{
		QueueArn: dlq.QueueArn(), QueueUrl: dlq.QueueUrl(), QueueName: dlq.QueueName(), KeyArn: topicKey.KeyArn(), Fifo: jsii.Bool(false),
	})

	// The relay's state. Disposable by design (pkg/alertstate): every item expires 30 days after its
	// last write, and losing them all costs at most one repeated alert per condition. So the table
	// is destroyed with the stack rather than left behind as an orphan no stack owns, and it has
	// no point-in-time recovery (nothing in it is worth restoring).
	stateTable := awsdynamodb.NewTable(stack, jsii.String("AlertStateTable"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(alertstate.KeyAttribute), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(alertstate.TTLAttribute),
		// The relay already holds kms:Decrypt and kms:GenerateDataKey on this key (for SNS and SQS),
		// which is what DynamoDB checks when the relay reads and writes the table.
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: topicKey,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	nagsuppress.Add(stateTable, true, nagsuppress.Rule{
		ID: "AwsSolutions-DDB3",
		Reason: "The alert state table holds only disposable relay state that expires within 30 days; losing it costs at most one " +
			"repeated alert per condition, so point-in-time recovery would restore nothing worth its cost.",
	})
	s.StateTable = stateTable

	// --- The relay ---
	env := map[string]*string{"TOPIC_ARN": topic.TopicArn(), "ALERT_STATE_TABLE": stateTable.TableName()}
	if len(props.RedactFields) > 0 {
		env["REDACT_FIELDS"] = jsii.String(strings.Join(props.RedactFields, ","))
	}
	if rulesEnv != "" {
		env["ALERT_RULES"] = jsii.String(rulesEnv)
	}
	chatTopics, chatEnv := s.chatTopics(topicKey, props.ChatChannels)
	if chatEnv != nil {
		env["CHAT_TOPICS"] = chatEnv
	}
	relay, err := golambda.New(stack, "TrailRelay", golambda.Props{
		AssetDir:    props.RelayAssetDir,
		Description: "Strongroom: relays CloudTrail events and failed workflow executions to the alert topic as e-mails",
		Environment: env,
		// No reserved concurrency: new accounts have a concurrency quota of 10 and Lambda refuses any
		// reservation that leaves under 10 unreserved, so a reservation would fail the deploy there.
		// Throttled invocations are retried by Lambda's async queue and, after that, dead-lettered.
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(RelayAsyncRetries),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(6)),
	})
	if err != nil {
		return nil, fmt.Errorf("alerts stack %s: %w", id, err)
	}
	s.Relay = relay
	// Least privilege: publish to this topic, use its key for that and for the dead-letter queue and
	// state table it shares (SNS, SQS and DynamoDB server-side encryption call GenerateDataKey and
	// Decrypt as the caller).
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      relay.Role,
		Actions:      jsii.Strings(trailalert.TopicActions...),
		ResourceArns: &[]*string{topic.TopicArn()},
	})
	topicKey.Grant(relay.Role, *jsii.Strings(trailalert.TopicKeyActions...)...)
	// Publish to the chat topics too (their key is topicKey, granted above). Not GrantPublish, whose
	// kms:GenerateDataKey* is a wildcard the relay does not need.
	for _, sev := range alertrules.Severities {
		if t, ok := chatTopics[sev]; ok {
			awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
				Grantee: relay.Role, Actions: jsii.Strings(trailalert.TopicActions...), ResourceArns: &[]*string{t.TopicArn()},
			})
		}
	}
	s.chatChannels(props.ChatChannels, chatTopics)
	// The state: single-item reads and conditional writes (pkg/alertstate), on this table only.
	stateTable.Grant(relay.Role, *jsii.Strings(alertstate.TableActions...)...)

	// --- Rules ---
	target := func() awsevents.IRuleTarget {
		return awseventstargets.NewLambdaFunction(relay.Function, &awseventstargets.LambdaFunctionProps{
			DeadLetterQueue: deadLetters,
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(TargetMaxEventAgeHours)),
			RetryAttempts:   jsii.Number(TargetRetryAttempts),
		})
	}
	sources := make([]*string, 0, len(props.EventSources))
	for _, src := range props.EventSources {
		sources = append(sources, jsii.String(src))
	}
	awsevents.NewRule(stack, jsii.String("CloudTrailEventsRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(callsRuleName),
		Description: jsii.String("Strongroom: API calls and console sign-ins recorded by CloudTrail, to the alert relay"),
		EventPattern: &awsevents.EventPattern{
			Source:     &sources,
			DetailType: jsii.Strings(DetailTypeAPICall, DetailTypeConsoleSignIn),
		},
		Targets: &[]awsevents.IRuleTarget{target()},
	})
	awsevents.NewRule(stack, jsii.String("RotationFailedRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(rotationRuleName),
		Description: jsii.String("Strongroom: Secrets Manager rotation failures (a CloudTrail service event), to the alert relay"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.secretsmanager"),
			DetailType: jsii.Strings(DetailTypeServiceEvent),
			Detail:     &map[string]any{"eventName": []string{"RotationFailed"}},
		},
		Targets: &[]awsevents.IRuleTarget{target()},
	})

	// The findings of the cluster and key store health checks (pkg/health): the relay mails a
	// condition when it changes.
	awsevents.NewRule(stack, jsii.String("HealthFindingsRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(healthRuleName),
		Description: jsii.String("Strongroom: cluster and key store health check findings, to the alert relay"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(health.Source),
			DetailType: jsii.Strings(health.DetailType),
		},
		Targets: &[]awsevents.IRuleTarget{target()},
	})

	org.declare(s, target, sources)

	// --- Alarms, straight to the topic so they arrive even when the relay is broken ---
	alarmAction := awscloudwatchactions.NewSnsAction(topic)
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	alarm := func(id, description string, metric awscloudwatch.Metric) {
		a := metric.CreateAlarm(stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String("Strongroom: " + description),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(alarmAction)
		a.AddOkAction(alarmAction)
		s.Alarms = append(s.Alarms, a)
	}
	sum := &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}
	alarm("RelayErrorsAlarm", "the CloudTrail alert relay failed; events may be waiting in the dead-letter queue",
		relay.Function.MetricErrors(sum))
	alarm("UndeliveredAlertsAlarm", "CloudTrail events that never became an alert e-mail are waiting in the dead-letter queue",
		dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}))
	// The dead-letter path itself can fail (a key or queue policy that refuses the sender); then the
	// event is gone and only these metrics know. Neither can be tried offline, so both are watched.
	alarm("RelayDeadLetterErrorsAlarm", "the relay could not write a failed event to the dead-letter queue; the event is lost",
		relay.Function.Metric(jsii.String("DeadLetterErrors"), sum))
	for _, r := range []struct{ id, name string }{{"CloudTrailEventsDeadLetterErrorsAlarm", callsRuleName}, {"RotationFailedDeadLetterErrorsAlarm", rotationRuleName},
		{"HealthFindingsDeadLetterErrorsAlarm", healthRuleName}} {
		alarm(r.id, "EventBridge could not write an undeliverable event of rule "+r.name+" to the dead-letter queue; the event is lost",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String("AWS/Events"),
				MetricName:    jsii.String("InvocationsFailedToBeSentToDLQ"),
				DimensionsMap: &map[string]*string{"RuleName": jsii.String(r.name)},
				Period:        fiveMinutes,
				Statistic:     jsii.String("Sum"),
			}))
	}

	org.alarms(alarm, fiveMinutes)

	s.dashboard(callsRuleName, rotationRuleName, healthRuleName)

	awscdk.NewCfnOutput(stack, jsii.String("AlertTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn(), Description: jsii.String("Subscribe further endpoints here; filter on the message attributes")})
	awscdk.NewCfnOutput(stack, jsii.String("UndeliveredAlertsQueueUrl"), &awscdk.CfnOutputProps{Value: dlq.QueueUrl(), Description: jsii.String("Events that never became an alert e-mail")})
	awscdk.NewCfnOutput(stack, jsii.String("TrailBucketName"), &awscdk.CfnOutputProps{Value: trailBucket.BucketName()})
	return s, nil
}

// relayRules returns the relay's ALERT_RULES: the operator's rules and the role-name patterns of
// OwnStackNames, checked by the parser the relay runs at cold start, so a value the relay would
// refuse fails synthesis instead. "" when there are none.
func relayRules(props *AlertsStackProps) (string, error) {
	r := alertrules.Rules{Ignore: props.Rules.Ignore, Severity: props.Rules.Severity}
	for _, name := range props.OwnStackNames {
		r.OwnRoles = append(r.OwnRoles, name+"-*")
	}
	if r.Empty() {
		return "", nil
	}
	text, err := r.Encode()
	if err != nil {
		return "", fmt.Errorf("relay rules: %w", err)
	}
	if _, err := alertrules.Parse(text); err != nil {
		return "", fmt.Errorf("relay rules: %w", err)
	}
	return text, nil
}

// checkAlertEmails refuses what infra/settings refuses and the CDK would only fail on later: a
// severity that is none, and an address subscribed twice.
func checkAlertEmails(props *AlertsStackProps) error {
	seen := map[string]bool{props.AlertEmail: props.AlertEmail != ""}
	for sev, addrs := range props.AlertEmails {
		if alertrules.AtLeast(sev) == nil {
			return fmt.Errorf("AlertEmails: %q is not a severity; use %s", sev, strings.Join(alertrules.Severities, ", "))
		}
		for _, a := range addrs {
			if a == "" || seen[a] {
				return fmt.Errorf("AlertEmails %s: %q is empty or subscribed twice; list each address once", sev, a)
			}
			seen[a] = true
		}
	}
	return nil
}
