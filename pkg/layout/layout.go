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

// StandaloneLambdaServices are the SDK services of the Lambdas that pkg/resourcedef does not
// describe (their grants are written in infra/database and infra/alerts): the rotation function
// calls Secrets Manager only, the relay SNS, Step Functions (GetExecutionHistory, to name a
// failed workflow's state) and DynamoDB (its state, pkg/alertstate); the database user's function
// reads its two secrets, and the relay that answers CloudFormation for it invokes it.
var StandaloneLambdaServices = map[string][]string{
	"rotate":     {"secretsmanager"},
	"trailrelay": {"sns", "sfn", "dynamodb"},
	"dbuser":     {"secretsmanager"},
	"cfn-relay":  {"lambda"},
}
