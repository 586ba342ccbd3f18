// Package golambda declares Strongroom's Go Lambda functions the one way they are deployed: a
// lambdas/<name> main built for linux/arm64 (bundled from this module's sources at synth by Bundle,
// or the `bootstrap` that `make build` wrote to build/<name>/), on the provided.al2023 runtime, with
// its own role (no managed policies), its own log group with a retention period, JSON logs and active
// X-Ray tracing. Callers add exactly the permissions their function needs to Function.Role; its
// default policy carries no cdk-nag suppression, so any wildcard added there must be justified by
// the caller.
package golambda

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/strongroom/strongroom/infra/nagsuppress"
)

// Props describe one function. AssetDir or Bundle is required; everything else has a default.
type Props struct {
	// AssetDir holds the function's prebuilt `bootstrap` executable (linux/arm64), such as
	// build/<name>. When it is empty the function is bundled: lambdas/<Bundle> is built from this
	// module's sources (see Bundle).
	AssetDir    string
	Bundle      string
	Description string
	// Environment never carries secrets (docs/architecture.md, "Secrets"): only names, ARNs and settings.
	Environment map[string]*string
	// MemorySize in MB; default 128.
	MemorySize float64
	// Timeout; default 30 seconds.
	Timeout awscdk.Duration
	// LogRetention of the function's log group; default three months.
	LogRetention awslogs.RetentionDays
	// DeadLetterQueue receives asynchronous invocations that still fail after RetryAttempts.
	// The role gets sqs:SendMessage on it; a KMS key that encrypts it must be granted by the caller.
	DeadLetterQueue awssqs.IQueue
	// RetryAttempts of asynchronous invocations (0-2); nil keeps Lambda's default of 2.
	RetryAttempts *float64
	// MaxEventAge of asynchronous invocations (60 s - 6 h); nil keeps Lambda's default of 6 hours.
	MaxEventAge awscdk.Duration
}

// Function is a declared function and the parts callers grant on.
type Function struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

// ErrBootstrap marks an asset directory that holds no usable bootstrap.
var ErrBootstrap = errors.New("no usable Lambda bootstrap")

// CheckBootstrap verifies that dir/bootstrap is an executable 64-bit ELF file for arm64, the only
// thing the provided.al2023 arm64 runtime can start. Checking at synth turns a forgotten `make build`
// or a bootstrap built for the host architecture into a clear error instead of a function that
// fails at its first invocation.
func CheckBootstrap(dir string) error {
	path := filepath.Join(dir, "bootstrap")
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s does not exist; run `make build` (or set the asset directory to one holding a bootstrap)", ErrBootstrap, path)
		}
		return fmt.Errorf("%w: stat %s: %v", ErrBootstrap, path, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not an executable file; rebuild it with `make build`", ErrBootstrap, path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s is not an ELF executable (%v); build it with GOOS=linux GOARCH=arm64 (`make build`)", ErrBootstrap, path, err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("%w: %s is built for %s, want EM_AARCH64; build it with GOOS=linux GOARCH=arm64 (`make build`)", ErrBootstrap, path, f.Machine)
	}
	return nil
}

// Prebuilt is buildDir/name when buildDir is set (a `make build` output directory), else "" so
// the function is bundled from sources.
func Prebuilt(buildDir, name string) string {
	if buildDir == "" {
		return ""
	}
	return filepath.Join(buildDir, name)
}

// New declares the function, its role and its log group under scope, named from id.
func New(scope constructs.Construct, id string, p Props) (*Function, error) {
	if p.AssetDir == "" {
		if p.Bundle == "" {
			return nil, fmt.Errorf("function %s: neither AssetDir (a directory holding its bootstrap) nor Bundle (its lambdas/<name>) is set", id)
		}
		dir, err := Bundle(p.Bundle)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		p.AssetDir = dir
	}
	if err := CheckBootstrap(p.AssetDir); err != nil {
		return nil, fmt.Errorf("function %s: %w", id, err)
	}
	if p.MemorySize == 0 {
		p.MemorySize = 128
	}
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Seconds(jsii.Number(30))
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}

	logGroup := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: p.LogRetention,
		// Function logs are operational evidence; they outlive a stack deletion like the trail's bucket.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of " + id + " (Strongroom): only what this function needs"),
	})
	// Without a managed policy the role can write only to this log group.
	logGroup.GrantWrite(role)

	fn := awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Description:     jsii.String(p.Description),
		Runtime:         awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:    awslambda.Architecture_ARM_64(),
		Handler:         jsii.String("bootstrap"),
		Code:            awslambda.Code_FromAsset(jsii.String(p.AssetDir), nil),
		Role:            role,
		LogGroup:        logGroup,
		LoggingFormat:   awslambda.LoggingFormat_JSON,
		MemorySize:      jsii.Number(p.MemorySize),
		Timeout:         p.Timeout,
		Environment:     &p.Environment,
		DeadLetterQueue: p.DeadLetterQueue,
		RetryAttempts:   p.RetryAttempts,
		MaxEventAge:     p.MaxEventAge,
	})
	// Active X-Ray tracing, set on the CfnFunction rather than through FunctionProps.Tracing: that
	// would put xray:* on "*" into the role's default policy, and the IAM5 suppression it needs would
	// then also hide any other wildcard later added there. In a policy of their own, the two X-Ray
	// actions are the only thing the suppression covers.
	fn.Node().DefaultChild().(awslambda.CfnFunction).SetTracingConfig(&awslambda.CfnFunction_TracingConfigProperty{Mode: jsii.String("Active")})
	tracing := awsiam.NewPolicy(scope, jsii.String(id+"TracingPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
			Resources: jsii.Strings("*"),
		})},
	})
	fn.Node().AddDependency(tracing)
	nagsuppress.Add(tracing, true, nagsuppress.Rule{
		ID:        "AwsSolutions-IAM5",
		AppliesTo: []string{"Resource::*"},
		Reason:    "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; \"*\" is the only resource they accept.",
	})
	return &Function{Function: fn, Role: role, LogGroup: logGroup}, nil
}
