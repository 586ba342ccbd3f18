// Package keystore declares Custom::CloudHsmKeyStore (DESIGN.md 3.3, issue #6): a KMS custom key
// store on a CloudHSM cluster, made by Step Functions workflows of Go Lambda steps (create,
// update, delete, and a separate rotate-password workflow a schedule or an operator starts), the
// SSM documents that manage kmsuser on the client instance, the safety net that answers
// CloudFormation for a workflow that died, and the custom resource itself.
//
// Least privilege: one role per Lambda. KMS's custom key store actions and CloudHSM's
// DescribeClusters accept no resource ARNs, nor do GetRandomPassword and GetCommandInvocation:
// those are the only "*" resources, each suppressed with its reason. Secrets are scoped to the
// kmsuser password secret (by name) and the cluster's two secrets (by ARN), documents and
// instances to this construct's documents.
package keystore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/golambda"
	"github.com/strongroom/strongroom/infra/nagsuppress"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
)

// ServiceTimeoutSeconds is the custom resource's ServiceTimeout; the workflows time out earlier
// (TimeoutSeconds in the ASL files) so the safety net answers first.
const ServiceTimeoutSeconds = 3600

// Placeholders maps each ${Placeholder} of the key store workflows' ASL files to the
// lambdas/<name> step whose ARN fills it (through DefinitionSubstitutions).
var Placeholders = map[string]string{
	"AnswerFunctionArn":        "cfn-answer",
	"CommandStatusFunctionArn": "command-status",
	"ConnectionFunctionArn":    "keystore-connection",
	"CreateFunctionArn":        "keystore-create",
	"DeleteFunctionArn":        "keystore-delete",
	"DescribeFunctionArn":      "keystore-describe",
	"PasswordFunctionArn":      "keystore-password",
	"PlanFunctionArn":          "keystore-plan",
	"UpdateFunctionArn":        "keystore-update",
	"UserFunctionArn":          "keystore-user",
}

// Workflows are the state machine files, by kind (the request types, and Rotate).
var Workflows = map[string]string{
	"Create": "keystore-create.asl.json",
	"Update": "keystore-update.asl.json",
	"Delete": "keystore-delete.asl.json",
	"Rotate": "keystore-rotate-password.asl.json",
}

// Functions are every Lambda the construct deploys: the steps, the entry and the safety net.
func Functions() []string {
	names := []string{"keystore-entry", "cfn-safetynet"}
	for _, n := range Placeholders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Documents maps each kmsuser document to the keystore-user environment variable naming it.
var Documents = map[string]string{
	hsmdocs.CreateCryptoUser:         "CREATE_USER_DOCUMENT",
	hsmdocs.DeleteCryptoUser:         "DELETE_USER_DOCUMENT",
	hsmdocs.ChangeCryptoUserPassword: "CHANGE_PASSWORD_DOCUMENT",
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z]+)\}`)

// Props configure the construct. The cluster values are usually a Custom::CloudHsmCluster's
// attributes (tokens).
type Props struct {
	BuildDir                       string
	StateMachinesDir               string
	ClusterID                      *string
	AdminPasswordSecretArn         *string
	CustomerCaCertificateSecretArn *string
	ClientInstanceID               *string
	// ClientRole is the client instance's role: it is granted read of the kmsuser password secret.
	// Without it, grant that yourself (the documents read the secret on the instance).
	ClientRole awsiam.IRole
	// ClusterSecretsKeys encrypt the admin password and CA certificate secrets; the steps that
	// read them are granted kms:Decrypt.
	ClusterSecretsKeys []awskms.IKey
	KeyStoreName       string
	// DeleteKeyStoreOnStackDeletion deletes the store (when it holds no keys) with the stack;
	// by default it is only disconnected.
	DeleteKeyStoreOnStackDeletion bool
	// RotationSchedule starts the rotate-password workflow; nil means operators start it.
	RotationSchedule awsevents.Schedule
	LogRetention     awslogs.RetentionDays
}

// CloudHsmKeyStore is the declared resource and what other constructs may use.
type CloudHsmKeyStore struct {
	constructs.Construct
	Resource      awscdk.CustomResource
	SecretsKey    awskms.Key
	StateMachines map[string]awsstepfunctions.StateMachine
	Entry         *golambda.Function
	SafetyNet     *golambda.Function
	Steps         map[string]*golambda.Function
	Documents     map[string]awsssm.CfnDocument
	// KmsUserPasswordSecretName names the kmsuser password secret.
	KmsUserPasswordSecretName string
	// RotationInput is the input that starts the rotate-password workflow for this store.
	RotationInput map[string]any
}

// New declares the construct.
func New(scope constructs.Construct, id string, p Props) (*CloudHsmKeyStore, error) {
	for name, v := range map[string]*string{"ClusterID": p.ClusterID, "AdminPasswordSecretArn": p.AdminPasswordSecretArn,
		"CustomerCaCertificateSecretArn": p.CustomerCaCertificateSecretArn, "ClientInstanceID": p.ClientInstanceID} {
		if v == nil || *v == "" {
			return nil, fmt.Errorf("key store %s: %s is required (for example the Custom::CloudHsmCluster's attribute)", id, name)
		}
	}
	if p.KeyStoreName == "" || len(p.KeyStoreName) > 256 {
		return nil, fmt.Errorf("key store %s: KeyStoreName must be 1-256 characters, got %d", id, len(p.KeyStoreName))
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	k := &CloudHsmKeyStore{Construct: constructs.NewConstruct(scope, jsii.String(id)), Steps: map[string]*golambda.Function{},
		StateMachines: map[string]awsstepfunctions.StateMachine{}, Documents: map[string]awsssm.CfnDocument{}}
	stack := awscdk.Stack_Of(k.Construct)
	region, account, partition := *stack.Region(), *stack.Account(), *stack.Partition()
	k.KmsUserPasswordSecretName = "strongroom/" + *stack.StackName() + "/" + id + "/kmsuser-password"
	kmsUserSecretArn := fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", partition, region, account, k.KmsUserPasswordSecretName)

	k.SecretsKey = awskms.NewKey(k.Construct, jsii.String("SecretsKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the KMS key store's kmsuser password secret (Strongroom)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	docNames := make([]string, 0, len(Documents))
	for n := range Documents {
		docNames = append(docNames, n)
	}
	sort.Strings(docNames)
	userEnv := map[string]*string{}
	var docArns []string
	for _, n := range docNames {
		text, err := hsmdocs.Content(n)
		if err != nil {
			return nil, err
		}
		var content map[string]any
		if err := json.Unmarshal([]byte(text), &content); err != nil {
			return nil, fmt.Errorf("key store %s: document %s: %w", id, n, err)
		}
		d := awsssm.NewCfnDocument(k.Construct, jsii.String(stepID(n[len("Strongroom-"):])+"Document"), &awsssm.CfnDocumentProps{
			DocumentType: jsii.String("Command"), DocumentFormat: jsii.String("JSON"), Content: content,
			UpdateMethod: jsii.String("NewVersion"),
		})
		k.Documents[n] = d
		userEnv[Documents[n]] = d.Ref()
		docArns = append(docArns, fmt.Sprintf("arn:%s:ssm:%s:%s:document/%s", partition, region, account, *d.Ref()))
	}

	env := map[string]map[string]*string{
		"keystore-password": {"SECRET_KMS_KEY_ID": k.SecretsKey.KeyArn()},
		"keystore-user":     userEnv,
	}
	names := make([]string, 0, len(Placeholders))
	for _, n := range Placeholders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fn, err := golambda.New(k.Construct, stepID(n), golambda.Props{
			AssetDir:     filepath.Join(p.BuildDir, n),
			Description:  "Strongroom Custom::CloudHsmKeyStore step " + n,
			Environment:  env[n],
			Timeout:      awscdk.Duration_Seconds(jsii.Number(60)),
			MemorySize:   256,
			LogRetention: p.LogRetention,
		})
		if err != nil {
			return nil, err
		}
		k.Steps[n] = fn
	}
	k.grantSteps(p, kmsUserSecretArn, docArns)

	subs := map[string]*string{}
	for placeholder, n := range Placeholders {
		subs[placeholder] = k.Steps[n].Function.FunctionArn()
	}
	for _, kind := range []string{"Create", "Update", "Delete", "Rotate"} {
		logs := awslogs.NewLogGroup(k.Construct, jsii.String(kind+"WorkflowLogs"), &awslogs.LogGroupProps{Retention: p.LogRetention})
		// Inlined, so the template shows exactly what runs and the sandbox can load it from cdk.out.
		asl, err := os.ReadFile(filepath.Join(p.StateMachinesDir, Workflows[kind]))
		if err != nil {
			return nil, fmt.Errorf("key store %s: read the %s workflow: %w", id, kind, err)
		}
		sm := awsstepfunctions.NewStateMachine(k.Construct, jsii.String(kind+"Workflow"), &awsstepfunctions.StateMachineProps{
			Comment:                 jsii.String("Strongroom Custom::CloudHsmKeyStore " + kind),
			DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(asl))),
			DefinitionSubstitutions: &subs,
			TracingEnabled:          jsii.Bool(true),
			Logs: &awsstepfunctions.LogOptions{
				Destination: logs,
				Level:       awsstepfunctions.LogLevel_ALL,
				// Payloads carry ids and secret ARNs only (DESIGN.md 5), so they may be logged.
				IncludeExecutionData: jsii.Bool(true),
			},
		})
		// Each workflow may invoke only the steps its ASL file names.
		var invokes []string
		seen := map[string]bool{}
		for _, m := range placeholderRE.FindAllStringSubmatch(string(asl), -1) {
			fn, ok := k.Steps[Placeholders[m[1]]]
			if !ok {
				return nil, fmt.Errorf("key store %s: the %s workflow uses ${%s}, which names no step", id, kind, m[1])
			}
			if seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			fn.Function.GrantInvoke(sm)
			logical := stack.GetLogicalId(fn.Function.Node().DefaultChild().(awscdk.CfnElement))
			invokes = append(invokes, fmt.Sprintf("Resource::<%s.Arn>:*", *logical))
		}
		nagsuppress.Add(sm, true, nagsuppress.Rule{
			ID: "AwsSolutions-IAM5", AppliesTo: invokes,
			Reason: "lambda:InvokeFunction on a function's versions and aliases (ARN:*) is how CDK grants invoke; the functions are the steps this workflow's ASL names.",
		}, nagsuppress.Rule{
			ID: "AwsSolutions-IAM5", AppliesTo: []string{"Resource::*"},
			Reason: "X-Ray and CloudWatch Logs delivery actions of a state machine accept no resource ARNs.",
		})
		k.StateMachines[kind] = sm
	}

	entry, err := golambda.New(k.Construct, "Entry", golambda.Props{
		AssetDir:    filepath.Join(p.BuildDir, "keystore-entry"),
		Description: "Strongroom Custom::CloudHsmKeyStore service token: validates and starts the workflow",
		Environment: map[string]*string{
			"CREATE_STATE_MACHINE_ARN": k.StateMachines["Create"].StateMachineArn(),
			"UPDATE_STATE_MACHINE_ARN": k.StateMachines["Update"].StateMachineArn(),
			"DELETE_STATE_MACHINE_ARN": k.StateMachines["Delete"].StateMachineArn(),
		},
		LogRetention: p.LogRetention,
	})
	if err != nil {
		return nil, err
	}
	for _, kind := range []string{"Create", "Update", "Delete"} {
		k.StateMachines[kind].GrantStartExecution(entry.Role)
	}
	k.Entry = entry
	if err := k.safetyNet(p); err != nil {
		return nil, err
	}

	props := map[string]any{
		"ClusterId":                      p.ClusterID,
		"KeyStoreName":                   p.KeyStoreName,
		"AdminPasswordSecretArn":         p.AdminPasswordSecretArn,
		"CustomerCaCertificateSecretArn": p.CustomerCaCertificateSecretArn,
		"ClientInstanceId":               p.ClientInstanceID,
		"KmsUserPasswordSecretName":      k.KmsUserPasswordSecretName,
		"DeleteKeyStoreOnStackDeletion":  fmt.Sprint(p.DeleteKeyStoreOnStackDeletion),
	}
	k.Resource = awscdk.NewCustomResource(k.Construct, jsii.String("Resource"), &awscdk.CustomResourceProps{
		ServiceToken:   entry.Function.FunctionArn(),
		ResourceType:   jsii.String("Custom::CloudHsmKeyStore"),
		Properties:     &props,
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(ServiceTimeoutSeconds)),
	})
	k.Resource.Node().AddDependency(k.Entry.Function, k.Entry.Role)

	k.RotationInput = map[string]any{"Rotation": map[string]any{"CustomKeyStoreId": k.Resource.Ref(), "Properties": props}}
	if p.RotationSchedule != nil {
		rule := awsevents.NewRule(k.Construct, jsii.String("RotationSchedule"), &awsevents.RuleProps{
			Description: jsii.String("Strongroom: rotate the kmsuser password of the key store"),
			Schedule:    p.RotationSchedule,
		})
		rule.AddTarget(awseventstargets.NewSfnStateMachine(k.StateMachines["Rotate"], &awseventstargets.SfnStateMachineProps{
			Input: awsevents.RuleTargetInput_FromObject(k.RotationInput),
		}))
	}
	return k, nil
}

func stepID(name string) string {
	out := []rune{}
	up := true
	for _, r := range name {
		if r == '-' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		out = append(out, r)
	}
	return string(out)
}

// grantSteps gives each step exactly the actions it calls.
func (k *CloudHsmKeyStore) grantSteps(p Props, kmsUserSecretArn string, docArns []string) {
	stmt := func(actions []string, resources ...*string) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: &resources})
	}
	star := func(n, reason string, actions ...string) {
		fn := k.Steps[n]
		fn.Role.AddToPolicy(stmt(actions, jsii.String("*")))
		nagsuppress.Add(fn.Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5", AppliesTo: []string{"Resource::*"}, Reason: reason})
	}
	kmsReason := "KMS custom key store actions (Create/Connect/Disconnect/Update/Delete/DescribeCustomKeyStores) accept no resource ARN; cloudhsm:DescribeClusters neither (KMS also requires it of the caller of CreateCustomKeyStore)."
	star("keystore-plan", kmsReason, "cloudhsm:DescribeClusters")
	star("keystore-create", kmsReason, "kms:CreateCustomKeyStore", "kms:DescribeCustomKeyStores", "cloudhsm:DescribeClusters")
	star("keystore-connection", kmsReason, "kms:ConnectCustomKeyStore", "kms:DisconnectCustomKeyStore", "kms:DescribeCustomKeyStores")
	star("keystore-describe", kmsReason, "kms:DescribeCustomKeyStores")
	star("keystore-update", kmsReason, "kms:UpdateCustomKeyStore", "kms:DescribeCustomKeyStores", "cloudhsm:DescribeClusters")
	star("keystore-delete", kmsReason, "kms:DeleteCustomKeyStore")
	star("keystore-password", "secretsmanager:GetRandomPassword accepts no resource ARN.", "secretsmanager:GetRandomPassword")
	star("command-status", "ssm:GetCommandInvocation accepts no resource ARN.", "ssm:GetCommandInvocation")

	secret := jsii.String(kmsUserSecretArn)
	k.Steps["keystore-password"].Role.AddToPolicy(stmt([]string{"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret",
		"secretsmanager:TagResource", "secretsmanager:PutSecretValue"}, secret))
	k.SecretsKey.Grant(k.Steps["keystore-password"].Role, jsii.String("kms:GenerateDataKey"), jsii.String("kms:Encrypt"))
	k.Steps["keystore-create"].Role.AddToPolicy(stmt([]string{"secretsmanager:GetSecretValue"}, secret, p.CustomerCaCertificateSecretArn))
	k.Steps["keystore-update"].Role.AddToPolicy(stmt([]string{"secretsmanager:GetSecretValue"}, secret))
	k.Steps["keystore-delete"].Role.AddToPolicy(stmt([]string{"secretsmanager:DeleteSecret"}, secret))
	for _, n := range []string{"keystore-create", "keystore-update"} {
		k.SecretsKey.GrantDecrypt(k.Steps[n].Role)
	}
	for _, key := range p.ClusterSecretsKeys {
		key.GrantDecrypt(k.Steps["keystore-create"].Role)
	}
	if p.ClientRole != nil {
		// A policy of this construct's own (not the role's default policy), so a role from the
		// cluster's stack does not make that stack depend on this one.
		awsiam.NewPolicy(k.Construct, jsii.String("ClientReadsKmsUserPassword"), &awsiam.PolicyProps{
			Roles: &[]awsiam.IRole{p.ClientRole},
			Statements: &[]awsiam.PolicyStatement{
				stmt([]string{"secretsmanager:GetSecretValue"}, secret),
				stmt([]string{"kms:Decrypt"}, k.SecretsKey.KeyArn()),
			},
		})
	}
	if p.ClientRole != nil {
		nagsuppress.Add(k.Construct.Node().FindChild(jsii.String("ClientReadsKmsUserPassword")), true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
			Reason: "secret ARNs end in a random six-character suffix chosen at creation; the pattern names exactly the kmsuser password secret the documents read on the instance."})
	}
	for _, n := range []string{"keystore-password", "keystore-create", "keystore-update", "keystore-delete"} {
		nagsuppress.Add(k.Steps[n].Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
			Reason: "secret ARNs end in a random six-character suffix chosen at creation; the pattern names exactly the kmsuser password secret."})
	}
	region, account, partition := *awscdk.Stack_Of(k.Construct).Region(), *awscdk.Stack_Of(k.Construct).Account(), *awscdk.Stack_Of(k.Construct).Partition()
	targets := []*string{jsii.String(fmt.Sprintf("arn:%s:ec2:%s:%s:instance/*", partition, region, account))}
	for _, d := range docArns {
		targets = append(targets, jsii.String(d))
	}
	k.Steps["keystore-user"].Role.AddToPolicy(stmt([]string{"ssm:SendCommand"}, targets...))
	nagsuppress.Add(k.Steps["keystore-user"].Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
		AppliesTo: []string{"Resource::" + nagsuppress.ARN(awscdk.Stack_Of(k.Construct), "ec2", "instance/*")},
		Reason:    "the client instance is a property of the custom resource (it may live in another stack); SendCommand is limited to this construct's three kmsuser documents."})
}

// safetyNet wires EventBridge's execution status changes of the three request workflows to the
// Lambda that answers FAILED for an execution that ended without answering.
func (k *CloudHsmKeyStore) safetyNet(p Props) error {
	dlq := awssqs.NewQueue(k.Construct, jsii.String("SafetyNetDLQ"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_KMS_MANAGED, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nagsuppress.Add(dlq, true, nagsuppress.Rule{ID: "AwsSolutions-SQS3", Reason: "this queue is itself the dead-letter queue of the safety net's deliveries."})
	fn, err := golambda.New(k.Construct, "SafetyNet", golambda.Props{
		AssetDir:     filepath.Join(p.BuildDir, "cfn-safetynet"),
		Description:  "Strongroom: answers CloudFormation FAILED for a key store workflow that ended without answering",
		LogRetention: p.LogRetention,
	})
	if err != nil {
		return err
	}
	var arns []*string
	for _, kind := range []string{"Create", "Update", "Delete"} {
		sm := k.StateMachines[kind]
		arns = append(arns, sm.StateMachineArn())
		sm.GrantRead(fn.Role)
	}
	nagsuppress.Add(fn.Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
		Reason: "states:DescribeExecution and GetExecutionHistory are granted on this construct's state machines' executions (execution ARNs are generated per run)."})
	rule := awsevents.NewRule(k.Construct, jsii.String("SafetyNetRule"), &awsevents.RuleProps{
		Description: jsii.String("Strongroom key store workflows that ended FAILED, TIMED_OUT or ABORTED"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings("Step Functions Execution Status Change"),
			Detail: &map[string]any{
				"status":          []string{"FAILED", "TIMED_OUT", "ABORTED"},
				"stateMachineArn": arns,
			},
		},
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		RetryAttempts:   jsii.Number(20),
	}))
	k.SafetyNet = fn
	return nil
}
