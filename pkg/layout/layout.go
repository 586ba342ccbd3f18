// Package layout states the rules that keep Strongroom's tree readable, as data its test checks
// against the code (go list): the emulator apart from the product, and every Lambda's dependency
// closure free of the CDK, jsii and the emulator.
package layout

// Module is this repository's module path.
const Module = "github.com/strongroom/strongroom"

// Emulator is the tree that emulates AWS: the sandbox's services, the ASL interpreter, the Lambda
// runtime emulator, the template resolver and the test kits that stand workflows up in it.
const Emulator = Module + "/pkg/sandbox"

// MayImportEmulator are the only places whose non-test files may import the emulator: the
// emulator itself and the command-line tool (which serves the sandbox and runs the demo).
var MayImportEmulator = []string{Emulator, Module + "/cmd/"}

// Lambdas are the functions' main packages; each is deployed as its own bootstrap.
const Lambdas = Module + "/lambdas/"

// NotInALambda are import-path prefixes no Lambda may link: the CDK and its runtime (heavy, and
// meaningless at run time), the CDK app, and the emulator.
var NotInALambda = []string{
	"github.com/aws/aws-cdk-go/",
	"github.com/aws/jsii-runtime-go",
	"github.com/aws/constructs-go/",
	"github.com/cdklabs/",
	Module + "/infra",
	Emulator,
}

// SDKService is the import-path prefix of the AWS SDK's service clients: a Lambda that links
// github.com/aws/aws-sdk-go-v2/service/<name> pays that package's init (its endpoint rules and
// schemas) on every cold start, so each Lambda links only the services its step calls.
const SDKService = "github.com/aws/aws-sdk-go-v2/service/"

// SDKPackageOfIAMPrefix names the SDK package for IAM service prefixes whose names differ.
var SDKPackageOfIAMPrefix = map[string]string{"cloudhsm": "cloudhsmv2", "states": "sfn", "events": "eventbridge"}

// LambdaServices is, for every Lambda (by its directory under lambdas/), exactly the SDK service
// packages it links, each with the calls its step makes that need it; a Lambda that calls no AWS
// API links none. Linking a service costs its init on every cold start whether or not the step
// calls it (about 7 ms for SSM, 3.5 ms for Lambda, 2-3 ms each for KMS, DynamoDB and EventBridge,
// under 2 ms for the rest, measured with GODEBUG=inittrace=1), so no Lambda links more than this;
// and a row that lists a service the Lambda no longer links is stale. Calls that a service makes
// with the caller's credentials (CloudHSM's EC2 security group, KMS's CloudHSM calls, Secrets
// Manager's KMS calls) need grants but no client, so the grants (pkg/resourcedef, and the
// actions the standalone Lambdas' packages declare) are a superset of this table.
var LambdaServices = map[string]map[string]string{
	"cfn-answer":    {}, // answers with an HTTPS PUT to the pre-signed ResponseURL
	"cfn-relay":     {"lambda": "Invoke of the function it answers for"},
	"cfn-safetynet": {"sfn": "DescribeExecution, GetExecutionHistory (did an Answer state answer?)"},
	"cluster-activate": {
		"ssm":            "SendCommand of the activation document",
		"secretsmanager": "DescribeSecret of the secrets the document reads on the instance",
	},
	"cluster-check":    {"ec2": "DescribeSubnets, DescribeInstances"},
	"cluster-create":   {"cloudhsmv2": "CreateCluster, DescribeClusters, TagResource"},
	"cluster-delete":   {"cloudhsmv2": "DeleteCluster, DescribeClusters"},
	"cluster-describe": {"cloudhsmv2": "DescribeClusters"},
	"cluster-entry":    {"sfn": "StartExecution, DescribeExecution"},
	"cluster-ingress":  {"ec2": "DescribeInstances, AuthorizeSecurityGroupIngress (the client's groups into the cluster's)"},
	"cluster-health": {
		"cloudhsmv2":     "DescribeClusters, DescribeBackups",
		"secretsmanager": "GetSecretValue of the customer CA certificate",
		"eventbridge":    "PutEvents of the findings",
	},
	"cluster-initialize": {"cloudhsmv2": "InitializeCluster, DescribeClusters"},
	"cluster-password":   {"secretsmanager": "GetRandomPassword, CreateSecret, DescribeSecret, TagResource"},
	"cluster-plan": {
		"cloudhsmv2": "DescribeClusters",
		"kms":        "DescribeCustomKeyStores (a key store on the cluster blocks its deletion)",
	},
	"cluster-report": {"cloudhsmv2": "DescribeClusters", "secretsmanager": "DescribeSecret"},
	"cluster-scale":  {"cloudhsmv2": "CreateHsm, DeleteHsm, DescribeClusters"},
	"cluster-settings": {
		"cloudhsmv2": "ModifyCluster, TagResource, UntagResource, DescribeClusters",
	},
	"cluster-sign": {
		"cloudhsmv2":     "DescribeClusters (the CSR)",
		"secretsmanager": "CreateSecret, GetSecretValue, TagResource of the customer CA's key and certificate",
	},
	"command-status":      {"ssm": "GetCommandInvocation"},
	"dbuser":              {"secretsmanager": "GetSecretValue of the superuser's and the user's secrets"},
	"keystore-connection": {"kms": "ConnectCustomKeyStore, DisconnectCustomKeyStore, DescribeCustomKeyStores"},
	"keystore-create": {
		"kms":            "CreateCustomKeyStore, DescribeCustomKeyStores",
		"secretsmanager": "GetSecretValue of the kmsuser password",
	},
	"keystore-delete":   {"kms": "DeleteCustomKeyStore", "secretsmanager": "DeleteSecret of the kmsuser password"},
	"keystore-describe": {"kms": "DescribeCustomKeyStores"},
	"keystore-entry":    {"sfn": "StartExecution, DescribeExecution"},
	"keystore-health":   {"kms": "DescribeCustomKeyStores", "eventbridge": "PutEvents of the findings"},
	"keystore-password": {"secretsmanager": "GetRandomPassword, CreateSecret, DescribeSecret, PutSecretValue"},
	"keystore-plan":     {"cloudhsmv2": "DescribeClusters"},
	"keystore-update": {
		"kms":            "UpdateCustomKeyStore, DescribeCustomKeyStores",
		"secretsmanager": "GetSecretValue of the kmsuser password",
	},
	"keystore-user": {"ssm": "SendCommand of the kmsuser documents"},
	"rotate": {
		"secretsmanager": "the rotation protocol: DescribeSecret, GetSecretValue, GetRandomPassword, PutSecretValue, UpdateSecretVersionStage, ListSecretVersionIds",
	},
	"trailrelay": {
		"sns":      "Publish of the alerts",
		"sfn":      "GetExecutionHistory of a failed workflow (the state that failed)",
		"dynamodb": "PutItem, UpdateItem of the relay's state (pkg/alertstate)",
	},
}
