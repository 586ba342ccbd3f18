// Package hsmcluster declares Custom::CloudHsmCluster: the Step Functions workflows of Go Lambda
// steps that carry a CloudHSM cluster from nothing to ACTIVE with HSMs in several zones and back
// (DESIGN.md 3.1, 3.2, 4), the SSM document that activates it on the client instance, the safety
// net that answers CloudFormation for a workflow that died, and the custom resource itself.
//
// Least privilege: one role per Lambda. CloudHSM's CreateCluster and DescribeClusters and
// Secrets Manager's GetRandomPassword accept no resource ARNs, so those (and the EC2 actions
// CloudHSM performs with the caller's permissions when it places HSM network interfaces) are the
// only "*" resources, each suppressed with its reason. Everything else is scoped to this stack's
// clusters, secrets (by name prefix), key, documents and state machines.
package hsmcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
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
)

// ServiceTimeoutSeconds is the custom resource's ServiceTimeout: CloudFormation gives up on an
// answer after this long instead of its default hour. The workflows time out earlier
// (WorkflowTimeoutSeconds in the ASL files) so the safety net answers first.
const ServiceTimeoutSeconds = 3600

// Placeholders maps each ${Placeholder} of the cluster workflows' ASL files to the lambdas/<name>
// step whose ARN fills it (through the state machines' DefinitionSubstitutions).
var Placeholders = map[string]string{
	"ActivateFunctionArn":      "cluster-activate",
	"AnswerFunctionArn":        "cfn-answer",
	"CheckFunctionArn":         "cluster-check",
	"CommandStatusFunctionArn": "command-status",
	"CreateFunctionArn":        "cluster-create",
	"DeleteFunctionArn":        "cluster-delete",
	"DescribeFunctionArn":      "cluster-describe",
	"InitializeFunctionArn":    "cluster-initialize",
	"PasswordFunctionArn":      "cluster-password",
	"PlanFunctionArn":          "cluster-plan",
	"ReportFunctionArn":        "cluster-report",
	"ScaleFunctionArn":         "cluster-scale",
	"SignFunctionArn":          "cluster-sign",
}

// placeholderRE finds the ${Placeholder}s of an ASL file.
var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z]+)\}`)

// Workflows are the state machine files, by request type.
var Workflows = map[string]string{
	"Create": "cluster-create.asl.json",
	"Update": "cluster-update.asl.json",
	"Delete": "cluster-delete.asl.json",
}

// Props configure the construct.
type Props struct {
	// BuildDir holds build/<lambda>/bootstrap; StateMachinesDir holds the ASL files.
	BuildDir         string
	StateMachinesDir string
	// Vpc and Subnets place the cluster: two or more private subnets in distinct zones.
	Vpc     awsec2.IVpc
	Subnets []awsec2.ISubnet
	// HsmCount is the number of HSMs (default 2).
	HsmCount int
	// ClientInstance runs cloudhsm-cli; nil creates none (ClientInstanceId must then be given).
	ClientInstance   awsec2.IInstance
	ClientInstanceID string
	// ActivateDocument is the SSM Command document content (JSON) that activates the cluster.
	ActivateDocument map[string]any
	// ExtraProperties are passed through to the custom resource (HsmType, Mode, BackupRetentionDays, ...).
	ExtraProperties map[string]any
	// LogRetention of the state machines' and functions' logs; default three months.
	LogRetention awslogs.RetentionDays
}

// CloudHsmCluster is the declared resource and what other constructs may use.
type CloudHsmCluster struct {
	constructs.Construct
	Resource      awscdk.CustomResource
	SecretsKey    awskms.Key
	StateMachines map[string]awsstepfunctions.StateMachine
	Entry         *golambda.Function
	SafetyNet     *golambda.Function
	Steps         map[string]*golambda.Function
	Document      awsssm.CfnDocument
	// SecretPrefix is the name prefix of the secrets the workflow creates.
	SecretPrefix string
}

// New declares the construct.
func New(scope constructs.Construct, id string, p Props) (*CloudHsmCluster, error) {
	if len(p.Subnets) < 2 {
		return nil, fmt.Errorf("cluster %s: give at least two subnets in distinct Availability Zones (got %d)", id, len(p.Subnets))
	}
	if p.ClientInstanceID == "" && p.ClientInstance == nil {
		return nil, fmt.Errorf("cluster %s: a client instance (or its id) is required to activate the cluster", id)
	}
	if p.HsmCount == 0 {
		p.HsmCount = 2
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if p.ActivateDocument == nil {
		return nil, fmt.Errorf("cluster %s: ActivateDocument is required", id)
	}
	c := &CloudHsmCluster{Construct: constructs.NewConstruct(scope, jsii.String(id)), Steps: map[string]*golambda.Function{},
		StateMachines: map[string]awsstepfunctions.StateMachine{}}
	stack := awscdk.Stack_Of(c.Construct)
	c.SecretPrefix = "strongroom/" + *stack.StackName() + "/" + id

	c.SecretsKey = awskms.NewKey(c.Construct, jsii.String("SecretsKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the CloudHSM admin password and the customer CA secrets (Strongroom)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	c.Document = awsssm.NewCfnDocument(c.Construct, jsii.String("ActivateDocument"), &awsssm.CfnDocumentProps{
		DocumentType:   jsii.String("Command"),
		DocumentFormat: jsii.String("JSON"),
		Content:        p.ActivateDocument,
		UpdateMethod:   jsii.String("NewVersion"),
	})

	region, account, partition := stack.Region(), stack.Account(), stack.Partition()
	clusterArn := fmt.Sprintf("arn:%s:cloudhsm:%s:%s:cluster/*", *partition, *region, *account)
	secretArn := func(suffix string) string {
		return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s/%s-??????", *partition, *region, *account, c.SecretPrefix, suffix)
	}

	names := make([]string, 0, len(Placeholders))
	for _, n := range Placeholders {
		names = append(names, n)
	}
	sort.Strings(names)
	env := map[string]map[string]*string{
		"cluster-sign":     {"CA_KMS_KEY_ID": c.SecretsKey.KeyArn()},
		"cluster-password": {"SECRET_KMS_KEY_ID": c.SecretsKey.KeyArn()},
		"cluster-activate": {"ACTIVATE_DOCUMENT": c.Document.Ref()},
	}
	for _, n := range names {
		fn, err := golambda.New(c.Construct, stepID(n), golambda.Props{
			AssetDir:     filepath.Join(p.BuildDir, n),
			Description:  "Strongroom Custom::CloudHsmCluster step " + n,
			Environment:  env[n],
			Timeout:      awscdk.Duration_Seconds(jsii.Number(60)),
			MemorySize:   256,
			LogRetention: p.LogRetention,
		})
		if err != nil {
			return nil, err
		}
		c.Steps[n] = fn
	}
	instanceID := p.ClientInstanceID
	if p.ClientInstance != nil {
		instanceID = *p.ClientInstance.InstanceId()
	}
	grantSteps(c, clusterArn, secretArn, instanceID)

	subs := map[string]*string{}
	for placeholder, n := range Placeholders {
		subs[placeholder] = c.Steps[n].Function.FunctionArn()
	}
	for _, kind := range []string{"Create", "Update", "Delete"} {
		logs := awslogs.NewLogGroup(c.Construct, jsii.String(kind+"WorkflowLogs"), &awslogs.LogGroupProps{Retention: p.LogRetention})
		// The ASL file is inlined (not uploaded as an asset) so the template shows exactly what runs
		// and the sandbox can load it from cdk.out.
		asl, err := os.ReadFile(filepath.Join(p.StateMachinesDir, Workflows[kind]))
		if err != nil {
			return nil, fmt.Errorf("cluster %s: read the %s workflow: %w", id, kind, err)
		}
		sm := awsstepfunctions.NewStateMachine(c.Construct, jsii.String(kind+"Workflow"), &awsstepfunctions.StateMachineProps{
			Comment:                 jsii.String("Strongroom Custom::CloudHsmCluster " + kind),
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
		for _, m := range placeholderRE.FindAllStringSubmatch(string(asl), -1) {
			fn, ok := c.Steps[Placeholders[m[1]]]
			if !ok {
				return nil, fmt.Errorf("cluster %s: the %s workflow uses ${%s}, which names no step", id, kind, m[1])
			}
			if fn.Function.GrantInvoke(sm) != nil {
				logical := awscdk.Stack_Of(c.Construct).GetLogicalId(fn.Function.Node().DefaultChild().(awscdk.CfnElement))
				invokes = append(invokes, fmt.Sprintf("Resource::<%s.Arn>:*", *logical))
			}
		}
		nagsuppress.Add(sm, true, nagsuppress.Rule{
			ID: "AwsSolutions-IAM5", AppliesTo: invokes,
			Reason: "lambda:InvokeFunction on a function's versions and aliases (ARN:*) is how CDK grants invoke; the functions are the steps this workflow's ASL names.",
		}, nagsuppress.Rule{
			ID: "AwsSolutions-IAM5", AppliesTo: []string{"Resource::*"},
			Reason: "X-Ray and CloudWatch Logs delivery actions of a state machine accept no resource ARNs.",
		})
		c.StateMachines[kind] = sm
	}

	entry, err := golambda.New(c.Construct, "Entry", golambda.Props{
		AssetDir:    filepath.Join(p.BuildDir, "cluster-entry"),
		Description: "Strongroom Custom::CloudHsmCluster service token: validates and starts the workflow",
		Environment: map[string]*string{
			"CREATE_STATE_MACHINE_ARN": c.StateMachines["Create"].StateMachineArn(),
			"UPDATE_STATE_MACHINE_ARN": c.StateMachines["Update"].StateMachineArn(),
			"DELETE_STATE_MACHINE_ARN": c.StateMachines["Delete"].StateMachineArn(),
		},
		LogRetention: p.LogRetention,
	})
	if err != nil {
		return nil, err
	}
	for _, sm := range c.StateMachines {
		sm.GrantStartExecution(entry.Role)
	}
	c.Entry = entry

	if err := c.safetyNet(p); err != nil {
		return nil, err
	}

	subnetIDs := make([]*string, 0, len(p.Subnets))
	for _, s := range p.Subnets {
		subnetIDs = append(subnetIDs, s.SubnetId())
	}
	instanceRef := jsii.String(p.ClientInstanceID)
	if p.ClientInstance != nil {
		instanceRef = p.ClientInstance.InstanceId()
	}
	// The secret names are passed explicitly: the IAM policies above are scoped to them, and the
	// workflow's default names derive from the CloudFormation logical id, which differs from the
	// construct id they are built from here.
	props := map[string]any{
		"SubnetIds":                       subnetIDs,
		"HsmCount":                        strconv.Itoa(p.HsmCount),
		"ClientInstanceId":                instanceRef,
		"AdminPasswordSecretName":         c.SecretPrefix + "/admin-password",
		"CustomerCaKeySecretName":         c.SecretPrefix + "/customer-ca/private-key",
		"CustomerCaCertificateSecretName": c.SecretPrefix + "/customer-ca/certificate",
	}
	for k, v := range p.ExtraProperties {
		props[k] = v
	}
	c.Resource = awscdk.NewCustomResource(c.Construct, jsii.String("Resource"), &awscdk.CustomResourceProps{
		ServiceToken:   entry.Function.FunctionArn(),
		ResourceType:   jsii.String("Custom::CloudHsmCluster"),
		Properties:     &props,
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(ServiceTimeoutSeconds)),
	})
	// The workflows must exist, with their permissions, before CloudFormation sends the first request.
	c.Resource.Node().AddDependency(c.Entry.Function, c.Entry.Role)
	return c, nil
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
func grantSteps(c *CloudHsmCluster, clusterArn string, secretArn func(string) string, instanceID string) {
	stack := awscdk.Stack_Of(c.Construct)
	stmt := func(actions []string, resources ...string) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)})
	}
	star := func(fn *golambda.Function, reason string, actions ...string) {
		fn.Role.AddToPolicy(stmt(actions, "*"))
		applies := []string{"Resource::*"}
		nagsuppress.Add(fn.Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5", AppliesTo: applies, Reason: reason})
	}
	describeReason := "cloudhsm:DescribeClusters accepts no resource ARN (the service authorization reference lists none)."
	for _, n := range []string{"cluster-create", "cluster-describe", "cluster-scale", "cluster-sign", "cluster-initialize", "cluster-report", "cluster-delete", "cluster-plan"} {
		star(c.Steps[n], describeReason+" Other actions of this role are scoped.", "cloudhsm:DescribeClusters")
	}
	// CloudHSM creates the cluster's security group and the HSMs' network interfaces with the caller's
	// EC2 permissions (AWSCloudHSMRole lists them); EC2 cannot scope these to resources that do not
	// exist yet.
	netReason := "CreateCluster/CreateHsm/DeleteHsm make CloudHSM create and delete the cluster security group and HSM network interfaces with the caller's EC2 permissions; their ids do not exist before the call."
	star(c.Steps["cluster-create"], netReason, "cloudhsm:CreateCluster", "cloudhsm:TagResource",
		"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress",
		"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:CreateTags")
	// CloudHSM creates its service-linked role on the account's first cluster: only that role.
	c.Steps["cluster-create"].Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("iam:CreateServiceLinkedRole"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM",
			*stack.Partition(), *stack.Account())),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:AWSServiceName": "cloudhsm.amazonaws.com"}},
	}))
	star(c.Steps["cluster-scale"], netReason, "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
		"ec2:DetachNetworkInterface", "ec2:DescribeSubnets", "ec2:CreateTags")
	c.Steps["cluster-scale"].Role.AddToPolicy(stmt([]string{"cloudhsm:CreateHsm", "cloudhsm:DeleteHsm"}, clusterArn))
	c.Steps["cluster-initialize"].Role.AddToPolicy(stmt([]string{"cloudhsm:InitializeCluster"}, clusterArn))
	star(c.Steps["cluster-delete"], netReason, "ec2:DeleteSecurityGroup", "ec2:DescribeSecurityGroups")
	c.Steps["cluster-delete"].Role.AddToPolicy(stmt([]string{"cloudhsm:DeleteCluster"}, clusterArn))
	for _, n := range []string{"cluster-scale", "cluster-initialize", "cluster-delete"} {
		nagsuppress.Add(c.Steps[n].Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
			AppliesTo: []string{"Resource::" + nagsuppress.ARN(stack, "cloudhsm", "cluster/*")},
			Reason:    "cluster ids are generated by CloudHSM when the workflow creates the cluster; the ARN is scoped to this account and region's clusters."})
	}
	star(c.Steps["cluster-check"], "ec2:DescribeSubnets and ec2:DescribeInstances accept no resource ARNs.", "ec2:DescribeSubnets", "ec2:DescribeInstances")

	// Secrets: names under this resource's prefix; the random suffix Secrets Manager appends is six characters.
	c.Steps["cluster-sign"].Role.AddToPolicy(stmt([]string{"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:TagResource"},
		secretArn("customer-ca/private-key"), secretArn("customer-ca/certificate")))
	c.Steps["cluster-password"].Role.AddToPolicy(stmt([]string{"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret", "secretsmanager:TagResource"}, secretArn("admin-password")))
	star(c.Steps["cluster-password"], "secretsmanager:GetRandomPassword accepts no resource ARN.", "secretsmanager:GetRandomPassword")
	c.Steps["cluster-report"].Role.AddToPolicy(stmt([]string{"secretsmanager:DescribeSecret"}, secretArn("admin-password"), secretArn("customer-ca/certificate")))
	for n, suffixes := range map[string][]string{
		"cluster-sign":     {"customer-ca/private-key", "customer-ca/certificate"},
		"cluster-password": {"admin-password"},
		"cluster-report":   {"admin-password", "customer-ca/certificate"},
		"cluster-activate": {"customer-ca/certificate"},
	} {
		nagsuppress.Add(c.Steps[n].Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5", AppliesTo: secretFindings(stack, c.SecretPrefix, suffixes...),
			Reason: "secret ARNs end in a random six-character suffix chosen at creation; the pattern names exactly this resource's secrets."})
	}
	// Secrets Manager encrypts a new secret with GenerateDataKey and reads it back with Decrypt
	// under the caller's permissions; nothing here calls Encrypt or ReEncrypt.
	for _, n := range []string{"cluster-sign", "cluster-password"} {
		c.SecretsKey.Grant(c.Steps[n].Role, jsii.String("kms:GenerateDataKey"), jsii.String("kms:Decrypt"))
	}

	docArn := fmt.Sprintf("arn:%s:ssm:%s:%s:document/%s", *awscdk.Stack_Of(c.Construct).Partition(), *awscdk.Stack_Of(c.Construct).Region(), *awscdk.Stack_Of(c.Construct).Account(), *c.Document.Ref())
	// SendCommand needs both the document and the instance; the instance is this stack's client when
	// the construct made it, else any instance (ClientInstanceId may name one in another stack).
	instance := instanceID
	if instance == "" {
		instance = "*"
		nagsuppress.Add(c.Steps["cluster-activate"].Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
			AppliesTo: []string{"Resource::" + nagsuppress.ARN(stack, "ec2", "instance/*")},
			Reason:    "the client instance is a property of the custom resource (it may live in another stack); SendCommand is limited to this construct's document."})
	}
	instArn := fmt.Sprintf("arn:%s:ec2:%s:%s:instance/%s", *stack.Partition(), *stack.Region(), *stack.Account(), instance)
	c.Steps["cluster-activate"].Role.AddToPolicy(stmt([]string{"ssm:SendCommand"}, docArn, instArn))
	c.Steps["cluster-activate"].Role.AddToPolicy(stmt([]string{"secretsmanager:DescribeSecret"}, secretArn("customer-ca/certificate")))
	star(c.Steps["command-status"], "ssm:GetCommandInvocation accepts no resource ARN.", "ssm:GetCommandInvocation")
}

// safetyNet wires EventBridge's execution status changes of the three workflows to the Lambda
// that answers FAILED for an execution that ended without answering.
func (c *CloudHsmCluster) safetyNet(p Props) error {
	dlq := awssqs.NewQueue(c.Construct, jsii.String("SafetyNetDLQ"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_KMS_MANAGED, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nagsuppress.Add(dlq, true, nagsuppress.Rule{ID: "AwsSolutions-SQS3", Reason: "this queue is itself the dead-letter queue of the safety net's deliveries."})
	fn, err := golambda.New(c.Construct, "SafetyNet", golambda.Props{
		AssetDir:     filepath.Join(p.BuildDir, "cfn-safetynet"),
		Description:  "Strongroom: answers CloudFormation FAILED for a cluster workflow that ended without answering",
		LogRetention: p.LogRetention,
	})
	if err != nil {
		return err
	}
	arns := make([]*string, 0, len(c.StateMachines))
	kinds := []string{"Create", "Update", "Delete"}
	for _, k := range kinds {
		sm := c.StateMachines[k]
		arns = append(arns, sm.StateMachineArn())
		// Only what the safety net calls, on these machines' executions.
		sm.GrantExecution(fn.Role, jsii.String("states:DescribeExecution"), jsii.String("states:GetExecutionHistory"))
	}
	nagsuppress.Add(fn.Role, true, nagsuppress.Rule{ID: "AwsSolutions-IAM5",
		Reason: "states:DescribeExecution and GetExecutionHistory are granted on this construct's three state machines' executions, whose ARNs end in a per-run name (execution:<machine>:*)."})
	rule := awsevents.NewRule(c.Construct, jsii.String("SafetyNetRule"), &awsevents.RuleProps{
		Description: jsii.String("Strongroom cluster workflows that ended FAILED, TIMED_OUT or ABORTED"),
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
	c.SafetyNet = fn
	return nil
}

// secretFindings are cdk-nag's IAM5 finding strings for this resource's secret ARN patterns, so a
// suppression covers exactly them and nothing added to the role later.
func secretFindings(stack awscdk.Stack, prefix string, suffixes ...string) []string {
	out := make([]string, 0, len(suffixes))
	for _, sfx := range suffixes {
		out = append(out, "Resource::"+nagsuppress.ARN(stack, "secretsmanager", fmt.Sprintf("secret:%s/%s-??????", prefix, sfx)))
	}
	return out
}
