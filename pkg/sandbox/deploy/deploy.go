// Package deploy stands a synthesized CDK stack (cdk.out/<Stack>.template.json) up in the sandbox,
// so the demo and the end-to-end tests run exactly what `cdk deploy` would deploy: the same state
// machine definitions with their substitutions, the same function environments, the same SSM
// documents, rules and custom-resource properties.
//
// Resources are created in dependency order through real aws-sdk-go-v2 clients against the sandbox
// (CreateStateMachine, CreateDocument, CreateKey with its KeyPolicy, PutRule, CreateTopic and its
// TopicPolicy, CreateTable, IAM's CreateRole, PutRolePolicy, AttachRolePolicy, CreatePolicy,
// CreateInstanceProfile, Lambda's AddPermission...). Lambda functions are the exception: the template's asset (an arm64
// bootstrap) is matched byte for byte to build/<name>, and the same lambdas/<name> package is built
// for the host and registered with the sandbox's Lambda service; its calls are sessions of its Role
// (Server.BindRole), and the client instance's of its instance profile's role, so that with
// Sandbox.EnforceIAM every call is judged on the policies the template deploys. Resource types the
// sandbox does not emulate (dashboards, ...) are listed in Stack.NotEmulated
// with a placeholder id, so nothing is skipped silently.
// Alarms are created with CloudWatch's PutMetricAlarm (alarm.go), queues and their policies with
// SQS (queue.go); rules keep their targets' RetryPolicy and DeadLetterConfig. Buckets, their
// policies and the trail are created in S3 and CloudTrail (trail.go): CreateTrail checks the
// bucket's and key's policies as CloudTrail does. Log groups are created in CloudWatch Logs
// (logs.go), and a function's LoggingConfig.LogGroup is where its output goes.
// Secrets (generated as CloudFormation generates them), their target attachments and rotation
// schedules are created in Secrets Manager; an AWS::RDS::DBInstance stands on Deployer.DB, a real
// database server the caller brings (database.go).
// Network resources map onto the sandbox's default VPC: a VPC to the default VPC, subnets to its
// subnets in order, an instance to its SSM-managed client instance; flow logs are created with
// EC2's CreateFlowLogs on them (network.go), and deliver to their log groups with their roles.
package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cfntemplate"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
)

// Deployer deploys stacks into one sandbox.
type Deployer struct {
	SB  *sandbox.Sandbox
	Cfg aws.Config
	// CDKOut is the cloud assembly; BuildDir holds build/<name>/bootstrap (what `make build` wrote);
	// RepoRoot is the module root (for lambdas/<name>); BinDir caches host builds.
	CDKOut, BuildDir, RepoRoot, BinDir string
	// ReuseHostBuilds registers a function's host build already in BinDir instead of building it
	// again: for a BinDir that several Deployers of one process share (cmd/strongroom's mutation
	// matrix runs the demo once per grant over the same code).
	ReuseHostBuilds bool
	// FunctionLogs receives every function's stdout/stderr.
	FunctionLogs io.Writer
	// Progress, when set, is told about each resource.
	Progress func(format string, args ...any)
	// DB, when set, is the database server an AWS::RDS::DBInstance stands for.
	DB *Database
	// HoldClock registers every function with lambda.WithClockHeld: the sandbox clock stops while
	// a function runs, so its wall time is not scaled into sandbox time its state's timeout counts.
	HoldClock bool

	// exports are the Outputs with an Export name of the stacks deployed so far (Fn::ImportValue).
	exports map[string]any
	// deployed are the stacks deployed so far by name, whose outputs Fn::GetStackOutput reads.
	deployed map[string]*Stack
}

// Stack is a deployed stack.
type Stack struct {
	Name     string
	StackID  string
	Template *cfntemplate.Template
	eval     *cfntemplate.Evaluator
	physical map[string]string
	attrs    map[string]map[string]any
	// NotEmulated lists "<Type> <LogicalId>" of resources the sandbox does not emulate.
	NotEmulated []string
	// CustomResources holds the CloudFormation driver's outcome per custom resource.
	CustomResources map[string]*cloudformation.Outcome
	// Functions maps logical id to the sandbox function name; Machines to state machine ARNs.
	Functions map[string]string
	Machines  map[string]string
}

// Ref implements cfntemplate.Resolver.
func (s *Stack) Ref(id string) (any, error) {
	if v, ok := s.physical[id]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("Ref %s: not deployed (yet)", id)
}

// GetAtt implements cfntemplate.Resolver.
func (s *Stack) GetAtt(id, attr string) (any, error) {
	if v, ok := s.attrs[id][attr]; ok {
		return v, nil
	}
	if _, ok := s.physical[id]; ok {
		return "arn:aws:sandbox:::" + id + "/" + attr, nil
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s: not deployed (yet)", id, attr)
}

// Physical returns a resource's physical id.
func (s *Stack) Physical(id string) string { return s.physical[id] }

// Attr returns a resource attribute.
func (s *Stack) Attr(id, attr string) any { return s.attrs[id][attr] }

// Output evaluates the stack's output name (its Value), as DescribeStacks would show it.
func (s *Stack) Output(name string) (any, error) {
	o, _ := s.Template.Outputs[name].(map[string]any)
	if o == nil {
		return nil, fmt.Errorf("stack %s has no output %s", s.Name, name)
	}
	return s.eval.Resolve(o["Value"])
}

// Resolve evaluates a template value (for example a custom resource's properties) in this stack.
func (s *Stack) Resolve(v any) (any, error) { return s.eval.Resolve(v) }

// Deploy creates every resource of cdk.out/<name>.template.json. Custom resources are created with
// the CloudFormation driver (their workflows run); a failed custom resource fails the deploy.
func (d *Deployer) Deploy(ctx context.Context, name string) (*Stack, error) {
	t, err := cfntemplate.Load(filepath.Join(d.CDKOut, name+".template.json"))
	if err != nil {
		return nil, err
	}
	st := &Stack{Name: name, Template: t, physical: map[string]string{}, attrs: map[string]map[string]any{},
		CustomResources: map[string]*cloudformation.Outcome{}, Functions: map[string]string{}, Machines: map[string]string{},
		StackID: fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-4000-8000-000000000000", d.SB.Region, d.SB.Account, name)}
	st.eval = &cfntemplate.Evaluator{T: t, R: st, Env: cfntemplate.Env{
		Region: d.SB.Region, AccountID: d.SB.Account, Partition: "aws", StackName: name, StackID: st.StackID, URLSuffix: "amazonaws.com",
		Imports: d.exports, StackOutput: d.stackOutput,
	}}
	order, err := t.Order()
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", name, err)
	}
	for _, id := range order {
		r := t.Resources[id]
		if r.Condition != "" {
			ok, err := st.eval.Condition(r.Condition)
			if err != nil {
				return st, err
			}
			if !ok {
				continue
			}
		}
		if err := d.create(ctx, st, id, r); err != nil {
			return st, fmt.Errorf("stack %s: create %s (%s): %w", name, id, r.Type, err)
		}
	}
	sort.Strings(st.NotEmulated)
	if err := d.export(st); err != nil {
		return st, fmt.Errorf("stack %s: outputs: %w", name, err)
	}
	if d.deployed == nil {
		d.deployed = map[string]*Stack{}
	}
	d.deployed[name] = st
	return st, nil
}

// stackOutput is the output of a stack deployed already (cfntemplate.Env.StackOutput).
func (d *Deployer) stackOutput(stack, output string) (any, error) {
	st := d.deployed[stack]
	if st == nil {
		return nil, fmt.Errorf("Fn::GetStackOutput: stack %s is not deployed (deploy it first)", stack)
	}
	return st.Output(output)
}

// export evaluates the stack's exported outputs for the stacks deployed after it.
func (d *Deployer) export(st *Stack) error {
	if d.exports == nil {
		d.exports = map[string]any{}
	}
	for id, o := range st.Template.Outputs {
		out, _ := o.(map[string]any)
		exp, _ := out["Export"].(map[string]any)
		if exp == nil {
			continue
		}
		name, err := st.eval.Resolve(exp["Name"])
		if err != nil {
			return fmt.Errorf("%s export name: %w", id, err)
		}
		val, err := st.eval.Resolve(out["Value"])
		if err != nil {
			return fmt.Errorf("%s value: %w", id, err)
		}
		d.exports[fmt.Sprint(name)] = val
	}
	return nil
}

func (d *Deployer) progress(format string, args ...any) {
	if d.Progress != nil {
		d.Progress(format, args...)
	}
}

func (d *Deployer) props(st *Stack, r cfntemplate.Resource) (map[string]any, error) {
	v, err := st.eval.Resolve(r.Properties)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// fromProps creates a resource of its type from the resource's resolved properties.
var fromProps = map[string]func(d *Deployer, ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error{
	"AWS::IAM::Role":                              (*Deployer).role,
	"AWS::IAM::Policy":                            (*Deployer).policy,
	"AWS::IAM::ManagedPolicy":                     (*Deployer).managedPolicy,
	"AWS::IAM::InstanceProfile":                   (*Deployer).instanceProfile,
	"AWS::SNS::TopicPolicy":                       (*Deployer).topicPolicy,
	"AWS::SQS::Queue":                             (*Deployer).queue,
	"AWS::SQS::QueuePolicy":                       (*Deployer).queuePolicy,
	"AWS::Lambda::Permission":                     (*Deployer).permission,
	"AWS::Lambda::EventInvokeConfig":              (*Deployer).eventInvokeConfig,
	"AWS::SecretsManager::Secret":                 (*Deployer).secret,
	"AWS::SecretsManager::SecretTargetAttachment": (*Deployer).targetAttachment,
	"AWS::SecretsManager::RotationSchedule":       (*Deployer).rotationSchedule,
	"AWS::RDS::DBInstance":                        (*Deployer).dbInstance,
	"AWS::CloudWatch::Alarm":                      (*Deployer).alarm,
	"AWS::S3::Bucket":                             (*Deployer).bucket,
	"AWS::S3::BucketPolicy":                       (*Deployer).bucketPolicy,
	"AWS::CloudTrail::Trail":                      (*Deployer).trail,
	"AWS::Logs::LogGroup":                         (*Deployer).logGroup,
	"AWS::EC2::FlowLog":                           (*Deployer).flowLog,
	"AWS::EC2::Instance": func(d *Deployer, _ context.Context, _ *Stack, _ string, p map[string]any, set func(string, map[string]any)) error {
		return d.instance(p, set)
	},
	"AWS::EC2::SecurityGroupIngress": groupRule(false),
	"AWS::EC2::SecurityGroupEgress":  groupRule(true),
}

func (d *Deployer) create(ctx context.Context, st *Stack, id string, r cfntemplate.Resource) error {
	set := func(physical string, attrs map[string]any) {
		st.physical[id] = physical
		if attrs == nil {
			attrs = map[string]any{}
		}
		st.attrs[id] = attrs
	}
	if strings.HasPrefix(r.Type, "Custom::") || r.Type == "AWS::CloudFormation::CustomResource" {
		return d.customResource(ctx, st, id, r)
	}
	if create, ok := fromProps[r.Type]; ok {
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		return create(d, ctx, st, id, p, set)
	}
	switch r.Type {
	case "AWS::Lambda::Function":
		return d.function(ctx, st, id, r, set)
	case "AWS::StepFunctions::StateMachine":
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		def, _ := p["DefinitionString"].(string)
		if def == "" {
			return errors.New("no DefinitionString (the sandbox loads inline definitions; use DefinitionBody.fromString)")
		}
		if subs, ok := p["DefinitionSubstitutions"].(map[string]any); ok {
			for k, v := range subs {
				def = strings.ReplaceAll(def, "${"+k+"}", fmt.Sprint(v))
			}
		}
		name := id
		if n, ok := p["StateMachineName"].(string); ok && n != "" {
			name = n
		}
		role := str(p["RoleArn"])
		if role == "" {
			return errors.New("no RoleArn: a state machine needs an execution role")
		}
		in := &sfn.CreateStateMachineInput{Name: aws.String(st.Name + "-" + name), Definition: aws.String(def), RoleArn: aws.String(role)}
		if lc, ok := p["LoggingConfiguration"].(map[string]any); ok {
			// Step Functions judges the role's log delivery actions for it (CreateStateMachine).
			in.LoggingConfiguration = &sfntypes.LoggingConfiguration{Level: sfntypes.LogLevel(str(lc["Level"])), IncludeExecutionData: boolean(lc["IncludeExecutionData"])}
			for _, dst := range list(lc["Destinations"]) {
				g, _ := dst["CloudWatchLogsLogGroup"].(map[string]any)
				in.LoggingConfiguration.Destinations = append(in.LoggingConfiguration.Destinations,
					sfntypes.LogDestination{CloudWatchLogsLogGroup: &sfntypes.CloudWatchLogsLogGroup{LogGroupArn: optional(g["LogGroupArn"])}})
			}
		}
		out, err := sfn.NewFromConfig(d.Cfg).CreateStateMachine(ctx, in)
		if err != nil {
			return err
		}
		arn := aws.ToString(out.StateMachineArn)
		if tc, ok := p["TracingConfiguration"].(map[string]any); ok && boolean(tc["Enabled"]) {
			d.SB.SetActiveTracing(arn) // each execution's segment, sent with the state machine's role
		}
		st.Machines[id] = arn
		set(arn, map[string]any{"Arn": arn, "Name": st.Name + "-" + name})
		d.progress("state machine %s", arn)
	case "AWS::SSM::Document":
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		content, err := json.Marshal(p["Content"])
		if err != nil {
			return err
		}
		if s, ok := p["Content"].(string); ok {
			content = []byte(s)
		}
		name := fmt.Sprintf("%s-%s", st.Name, id)
		if n, ok := p["Name"].(string); ok && n != "" {
			name = n
		}
		_, err = ssm.NewFromConfig(d.Cfg).CreateDocument(ctx, &ssm.CreateDocumentInput{
			Name: aws.String(name), Content: aws.String(string(content)), DocumentType: ssmtypes.DocumentTypeCommand,
			DocumentFormat: ssmtypes.DocumentFormatJson,
		})
		if err != nil {
			return err
		}
		set(name, nil)
		d.progress("SSM document %s", name)
	case "AWS::KMS::Key":
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		desc, _ := p["Description"].(string)
		in := &kms.CreateKeyInput{Description: aws.String(desc)}
		if p["KeyPolicy"] != nil {
			doc, err := document(p["KeyPolicy"])
			if err != nil {
				return err
			}
			in.Policy = aws.String(doc)
		}
		out, err := kms.NewFromConfig(d.Cfg).CreateKey(ctx, in)
		if err != nil {
			return err
		}
		set(aws.ToString(out.KeyMetadata.KeyId), map[string]any{"Arn": aws.ToString(out.KeyMetadata.Arn), "KeyId": aws.ToString(out.KeyMetadata.KeyId)})
	case "AWS::SNS::Topic":
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		attrs := map[string]string{}
		if k, ok := p["KmsMasterKeyId"].(string); ok {
			attrs["KmsMasterKeyId"] = k
		}
		name := st.Name + "-" + id
		if n, ok := p["TopicName"].(string); ok && n != "" {
			name = n
		}
		out, err := sns.NewFromConfig(d.Cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs})
		if err != nil {
			return err
		}
		set(aws.ToString(out.TopicArn), map[string]any{"TopicArn": aws.ToString(out.TopicArn), "TopicName": name})
		d.progress("SNS topic %s", aws.ToString(out.TopicArn))
	case "AWS::SNS::Subscription":
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		out, err := sns.NewFromConfig(d.Cfg).Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(fmt.Sprint(p["TopicArn"])), Protocol: aws.String(fmt.Sprint(p["Protocol"])),
			Endpoint: aws.String(fmt.Sprint(p["Endpoint"])), ReturnSubscriptionArn: true,
		})
		if err != nil {
			return err
		}
		set(aws.ToString(out.SubscriptionArn), nil)
	case "AWS::Events::Rule":
		return d.rule(ctx, st, id, r, set)
	case "AWS::DynamoDB::Table":
		return d.table(ctx, st, id, r, set)
	case "AWS::EC2::SecurityGroup":
		return d.securityGroup(ctx, st, id, r, set)
	case "AWS::EC2::VPC":
		set(sbec2.DefaultVPCID, map[string]any{"CidrBlock": "10.0.0.0/16", "VpcId": sbec2.DefaultVPCID})
	case "AWS::EC2::Subnet":
		// Subnets map by Availability Zone: a stack's public and private subnets of one zone share
		// the sandbox subnet of that zone (the sandbox has one subnet per zone).
		p, err := d.props(st, r)
		if err != nil {
			return err
		}
		az, _ := p["AvailabilityZone"].(string)
		sn := ""
		for _, id := range sbec2.DefaultSubnetIDs {
			if got, err := d.SB.EC2.SubnetAZ(id); err == nil && (got == az || az == "") {
				sn = id
				break
			}
		}
		if sn == "" {
			return fmt.Errorf("the sandbox VPC has no subnet in %q", az)
		}
		set(sn, map[string]any{"SubnetId": sn, "AvailabilityZone": az})
	default:
		st.NotEmulated = append(st.NotEmulated, r.Type+" "+id)
		set(st.Name+"-"+id, map[string]any{"Arn": "arn:aws:sandbox:::" + st.Name + "/" + id})
	}
	return nil
}

// function registers the host build of the lambdas/<name> whose bootstrap is the template's asset.
func (d *Deployer) function(ctx context.Context, st *Stack, id string, r cfntemplate.Resource, set func(string, map[string]any)) error {
	assetPath, _ := r.Metadata["aws:asset:path"].(string)
	if assetPath == "" {
		return errors.New("no aws:asset:path metadata: only asset-based Go functions are deployable")
	}
	pkg, err := MatchAsset(d.BuildDir, filepath.Join(d.CDKOut, assetPath, "bootstrap"))
	if err != nil {
		return err
	}
	// BuildHost writes <out dir>/<package>/bootstrap.
	bin := filepath.Join(d.BinDir, pkg, pkg, "bootstrap")
	if _, statErr := os.Stat(bin); !d.ReuseHostBuilds || statErr != nil {
		if bin, err = lambdaruntime.BuildHost(ctx, filepath.Join(d.RepoRoot, "lambdas", pkg), filepath.Join(d.BinDir, pkg)); err != nil {
			return err
		}
	}
	p, err := d.props(st, r)
	if err != nil {
		return err
	}
	env := map[string]string{}
	if e, ok := p["Environment"].(map[string]any); ok {
		if vars, ok := e["Variables"].(map[string]any); ok {
			for k, v := range vars {
				env[k] = fmt.Sprint(v)
				if strings.HasPrefix(env[k], taskRoot) {
					// A file of the function's asset, which Lambda unpacks under /var/task.
					if env[k], err = d.taskFile(filepath.Join(d.CDKOut, assetPath), env[k]); err != nil {
						return fmt.Errorf("environment %s: %w", k, err)
					}
				}
			}
		}
	}
	name := st.Name + "-" + id
	if n, ok := p["FunctionName"].(string); ok && n != "" {
		name = n
	}
	if len(name) > 64 {
		name = name[:64]
	}
	opts := []sblambda.FunctionOption{sblambda.WithEnv(env)}
	if d.HoldClock {
		opts = append(opts, sblambda.WithClockHeld())
	}
	if to, ok := p["Timeout"].(float64); ok {
		opts = append(opts, sblambda.WithTimeout(time.Duration(to)*time.Second))
	}
	if lc, ok := p["LoggingConfig"].(map[string]any); ok && str(lc["LogGroup"]) != "" {
		// Lambda writes the function's output there (else to /aws/lambda/<name>), with its role.
		opts = append(opts, sblambda.WithLogGroup(str(lc["LogGroup"])))
	}
	if lc, ok := p["LoggingConfig"].(map[string]any); ok && str(lc["LogFormat"]) != "" {
		opts = append(opts, sblambda.WithLogFormat(str(lc["LogFormat"])))
	}
	if dlq, ok := p["DeadLetterConfig"].(map[string]any); ok && str(dlq["TargetArn"]) != "" {
		// Lambda sends an asynchronous event that failed every attempt there, with this role.
		opts = append(opts, sblambda.WithDeadLetterQueue(str(dlq["TargetArn"])))
	}
	// The function's calls are sessions of its execution role, as Lambda gives it the role's.
	role := str(p["Role"])
	if role == "" {
		return errors.New("no Role: a function needs an execution role")
	}
	d.SB.BindRole(name, role)
	if vpc, ok := p["VpcConfig"].(map[string]any); ok && len(strs(vpc["SubnetIds"])) > 0 {
		// CreateFunction makes the function's network interfaces with its role first, and fails
		// with nothing created when the role may not (Sandbox.AttachFunctionVPC).
		if _, err := d.SB.AttachFunctionVPC(ctx, name, strs(vpc["SubnetIds"]), strs(vpc["SecurityGroupIds"])); err != nil {
			return fmt.Errorf("create function %s in its VPC: %w", name, err)
		}
	}
	arn, err := d.SB.Lambda.RegisterBinary(name, bin, d.FunctionLogs, opts...)
	if err != nil {
		return err
	}
	if tc, ok := p["TracingConfig"].(map[string]any); ok && str(tc["Mode"]) == "Active" {
		d.SB.SetActiveTracing(name) // each invocation's segment, sent with the function's role
	}
	st.Functions[id] = name
	set(name, map[string]any{"Arn": arn})
	d.progress("function %s = lambdas/%s", name, pkg)
	return nil
}

// MatchAsset names the lambdas/<name> package of a function's asset (a cdk.out asset's bootstrap):
// the <name> of the buildDir/<name>/bootstrap whose bytes equal the asset's.
func MatchAsset(buildDir, asset string) (string, error) {
	want, err := fileHash(asset)
	if err != nil {
		return "", fmt.Errorf("read asset: %w", err)
	}
	dirs, err := os.ReadDir(buildDir)
	if err != nil {
		return "", fmt.Errorf("read %s (run make build): %w", buildDir, err)
	}
	for _, e := range dirs {
		h, err := fileHash(filepath.Join(buildDir, e.Name(), "bootstrap"))
		if err == nil && h == want {
			return e.Name(), nil
		}
	}
	return "", fmt.Errorf("asset %s matches no build/*/bootstrap: run make build and make synth again", asset)
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func (d *Deployer) rule(ctx context.Context, st *Stack, id string, r cfntemplate.Resource, set func(string, map[string]any)) error {
	p, err := d.props(st, r)
	if err != nil {
		return err
	}
	// A rule's Name is its name, as CloudFormation gives it (a key or queue policy may name the
	// rule's ARN by it); without one, <stack>-<logical id>.
	name := str(p["Name"])
	if name == "" {
		name = st.Name + "-" + id
	}
	if len(name) > 64 {
		name = name[:64]
	}
	// A rule has an EventPattern, a ScheduleExpression (for example the key store's rotation
	// schedule) or both; PutRule is sent only what the template declares.
	put := &eventbridge.PutRuleInput{Name: aws.String(name)}
	if p["EventPattern"] != nil {
		pattern, err := json.Marshal(p["EventPattern"])
		if err != nil {
			return err
		}
		put.EventPattern = aws.String(string(pattern))
	}
	if s, ok := p["ScheduleExpression"].(string); ok && s != "" {
		put.ScheduleExpression = aws.String(s)
	}
	eb := eventbridge.NewFromConfig(d.Cfg)
	out, err := eb.PutRule(ctx, put)
	if err != nil {
		return err
	}
	targets, _ := p["Targets"].([]any)
	var in eventbridge.PutTargetsInput
	in.Rule = aws.String(name)
	for _, t := range targets {
		tm, _ := t.(map[string]any)
		target := ebTarget(tm)
		if target.Arn != nil {
			in.Targets = append(in.Targets, target)
		}
	}
	if len(in.Targets) > 0 {
		if _, err := eb.PutTargets(ctx, &in); err != nil {
			return err
		}
	}
	set(name, map[string]any{"Arn": aws.ToString(out.RuleArn)})
	d.progress("rule %s (%d targets)", name, len(in.Targets))
	return nil
}

// tableProperties are the AWS::DynamoDB::Table properties the sandbox stands up; the ones it
// records nowhere (point-in-time recovery, deletion protection, tags) are accepted because they
// change nothing a test could see. Any other property fails the deploy, naming it.
var tableProperties = map[string]bool{
	"TableName": true, "KeySchema": true, "AttributeDefinitions": true, "BillingMode": true, "ProvisionedThroughput": true,
	"TimeToLiveSpecification": true, "SSESpecification": true,
	"PointInTimeRecoverySpecification": true, "DeletionProtectionEnabled": true, "Tags": true,
}

// table creates a DynamoDB table (CreateTable, then UpdateTimeToLive for its
// TimeToLiveSpecification). Ref is its name and Fn::GetAtt Arn its ARN, as CloudFormation gives
// them; without a TableName, the name is <stack>-<logical id> (CloudFormation adds a random
// suffix the sandbox has no need for).
func (d *Deployer) table(ctx context.Context, st *Stack, id string, r cfntemplate.Resource, set func(string, map[string]any)) error {
	p, err := d.props(st, r)
	if err != nil {
		return err
	}
	var unknown []string
	for k := range p {
		if !tableProperties[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("the sandbox does not emulate AWS::DynamoDB::Table properties %s", strings.Join(unknown, ", "))
	}
	name := st.Name + "-" + id
	if n, ok := p["TableName"].(string); ok && n != "" {
		name = n
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingMode(str(p["BillingMode"]))}
	for _, k := range list(p["KeySchema"]) {
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(str(k["AttributeName"])), KeyType: ddbtypes.KeyType(str(k["KeyType"]))})
	}
	for _, a := range list(p["AttributeDefinitions"]) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(str(a["AttributeName"])), AttributeType: ddbtypes.ScalarAttributeType(str(a["AttributeType"]))})
	}
	if tp, ok := p["ProvisionedThroughput"].(map[string]any); ok {
		in.ProvisionedThroughput = &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(integer(tp["ReadCapacityUnits"])), WriteCapacityUnits: aws.Int64(integer(tp["WriteCapacityUnits"]))}
	}
	if sse, ok := p["SSESpecification"].(map[string]any); ok && boolean(sse["SSEEnabled"]) {
		in.SSESpecification = &ddbtypes.SSESpecification{Enabled: aws.Bool(true), SSEType: ddbtypes.SSEType(str(sse["SSEType"]))}
		if k := str(sse["KMSMasterKeyId"]); k != "" {
			in.SSESpecification.KMSMasterKeyId = aws.String(k)
		}
	}
	client := dynamodb.NewFromConfig(d.Cfg)
	out, err := client.CreateTable(ctx, in)
	if err != nil {
		return err
	}
	if ttl, ok := p["TimeToLiveSpecification"].(map[string]any); ok && boolean(ttl["Enabled"]) {
		if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(str(ttl["AttributeName"])), Enabled: aws.Bool(true)}}); err != nil {
			return err
		}
	}
	arn := aws.ToString(out.TableDescription.TableArn)
	set(name, map[string]any{"Arn": arn})
	d.progress("DynamoDB table %s", name)
	return nil
}

// str, list, integer and boolean read resolved template values, in which CloudFormation accepts
// numbers and booleans also as strings.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64) // a JSON number such as 1209600, never 1.2096e+06
	}
	return fmt.Sprint(v)
}

func list(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

func integer(v any) int64 {
	var n int64
	fmt.Sscan(fmt.Sprint(v), &n)
	return n
}

func boolean(v any) bool { return v == true || v == "true" }

// customResource sends the Create request and waits for the answer.
func (d *Deployer) customResource(ctx context.Context, st *Stack, id string, r cfntemplate.Resource) error {
	p, err := d.props(st, r)
	if err != nil {
		return err
	}
	token := fmt.Sprint(p["ServiceToken"])
	timeout := time.Hour
	if s, ok := p["ServiceTimeout"]; ok {
		var secs int
		fmt.Sscan(fmt.Sprint(s), &secs)
		if secs > 0 {
			timeout = time.Duration(secs) * time.Second
		}
	}
	props := map[string]any{}
	for k, v := range p {
		if k != "ServiceToken" && k != "ServiceTimeout" {
			props[k] = stringify(v)
		}
	}
	d.progress("custom resource %s (%s): Create", id, r.Type)
	out, err := d.SB.CloudFormation.Create(ctx, cloudformation.ResourceSpec{
		StackName: st.Name, LogicalResourceID: id, ResourceType: r.Type, ServiceToken: token,
		Properties: props, ServiceTimeout: timeout,
	})
	if err != nil {
		return err
	}
	st.CustomResources[id] = out
	if out.Status != "SUCCESS" {
		return fmt.Errorf("custom resource %s answered %s: %s", id, out.Status, out.Reason)
	}
	st.physical[id] = out.PhysicalResourceID
	st.attrs[id] = out.Data
	return nil
}

// stringify turns scalars into strings as CloudFormation does for custom resource properties.
func stringify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, val := range x {
			m[k] = stringify(val)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = stringify(val)
		}
		return out
	case float64, bool:
		return fmt.Sprint(x)
	}
	return v
}

func ebTarget(m map[string]any) ebtypes.Target {
	t := ebtypes.Target{}
	if v, ok := m["Arn"].(string); ok {
		t.Arn = aws.String(v)
	}
	if v, ok := m["Id"].(string); ok {
		t.Id = aws.String(v)
	}
	if v, ok := m["Input"].(string); ok {
		t.Input = aws.String(v)
	}
	if rp, ok := m["RetryPolicy"].(map[string]any); ok {
		t.RetryPolicy = &ebtypes.RetryPolicy{}
		if n, ok := rp["MaximumRetryAttempts"].(float64); ok {
			t.RetryPolicy.MaximumRetryAttempts = aws.Int32(int32(n))
		}
		if n, ok := rp["MaximumEventAgeInSeconds"].(float64); ok {
			t.RetryPolicy.MaximumEventAgeInSeconds = aws.Int32(int32(n))
		}
	}
	if dl, ok := m["DeadLetterConfig"].(map[string]any); ok {
		if a, ok := dl["Arn"].(string); ok {
			t.DeadLetterConfig = &ebtypes.DeadLetterConfig{Arn: aws.String(a)}
		}
	}
	return t
}

// Update sends an Update request for custom resource id with its properties changed by set (for
// example {"HsmCount": "3"}), as a stack update that changed those properties would.
func (d *Deployer) Update(ctx context.Context, st *Stack, id string, set map[string]any) (*cloudformation.Outcome, error) {
	prev, ok := st.CustomResources[id]
	if !ok {
		return nil, fmt.Errorf("update %s: not a deployed custom resource", id)
	}
	props := map[string]any{}
	for k, v := range prev.Event.ResourceProperties {
		props[k] = v
	}
	for k, v := range set {
		props[k] = stringify(v)
	}
	r := st.Template.Resources[id]
	token := prev.Event.ServiceToken
	d.progress("custom resource %s (%s): Update %v", id, r.Type, set)
	out, err := d.SB.CloudFormation.Update(ctx, cloudformation.ResourceSpec{
		StackName: st.Name, LogicalResourceID: id, ResourceType: r.Type, ServiceToken: token,
		Properties: props, OldProperties: prev.Event.ResourceProperties, PhysicalResourceID: st.physical[id],
		ServiceTimeout: time.Hour,
	})
	if err != nil {
		return nil, err
	}
	if out.Status == "SUCCESS" {
		out.Event.ResourceProperties = props
		st.CustomResources[id] = out
		st.physical[id] = out.PhysicalResourceID
		st.attrs[id] = out.Data
	}
	return out, nil
}

// Destroy sends Delete to every custom resource, in reverse dependency order, as a stack deletion
// does. It returns each outcome and the first error.
func (d *Deployer) Destroy(ctx context.Context, st *Stack) (map[string]*cloudformation.Outcome, error) {
	order, err := st.Template.Order()
	if err != nil {
		return nil, err
	}
	outs := map[string]*cloudformation.Outcome{}
	for i := len(order) - 1; i >= 0; i-- {
		id := order[i]
		prev, ok := st.CustomResources[id]
		if !ok {
			continue
		}
		d.progress("custom resource %s: Delete", id)
		out, err := d.SB.CloudFormation.Delete(ctx, cloudformation.ResourceSpec{
			StackName: st.Name, LogicalResourceID: id, ResourceType: st.Template.Resources[id].Type,
			ServiceToken: prev.Event.ServiceToken, Properties: prev.Event.ResourceProperties,
			PhysicalResourceID: st.physical[id], ServiceTimeout: time.Hour,
		})
		if err != nil {
			return outs, err
		}
		outs[id] = out
		if out.Status != "SUCCESS" {
			return outs, fmt.Errorf("delete %s answered %s: %s", id, out.Status, out.Reason)
		}
	}
	return outs, nil
}
