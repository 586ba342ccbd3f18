package deploy

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/sandbox"
	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
)

// PhysicalName is the name the sandbox gives a resource of stack with no name property:
// <stack>-<logical id>, cut to max characters (CloudFormation adds a random suffix the sandbox has
// no need for). A role's is 64.
func PhysicalName(stack, id string, max int) string {
	name := stack + "-" + id
	if len(name) > max {
		name = name[:max]
	}
	return name
}

func physicalName(st *Stack, id string, max int) string { return PhysicalName(st.Name, id, max) }

// document is a template's policy document (an object, or a string holding one) as JSON.
func document(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// InlinePolicy is a role's inline policy: its name and document (JSON).
type InlinePolicy struct{ Name, Document string }

// CreateRole creates the role in describes with its inline policies and attached managed policies,
// through IAM's API as CloudFormation does, and returns it. The test kits
// (pkg/sandbox/testkit/stacktest) create their roles with it too.
func CreateRole(ctx context.Context, c *iam.Client, in *iam.CreateRoleInput, inline []InlinePolicy, managed []string) (*iamtypes.Role, error) {
	out, err := c.CreateRole(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("create role %s: %w", aws.ToString(in.RoleName), err)
	}
	for _, pol := range inline {
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: in.RoleName, PolicyName: aws.String(pol.Name), PolicyDocument: aws.String(pol.Document)}); err != nil {
			return nil, fmt.Errorf("role %s: policy %s: %w", aws.ToString(in.RoleName), pol.Name, err)
		}
	}
	for _, a := range managed {
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: in.RoleName, PolicyArn: aws.String(a)}); err != nil {
			return nil, fmt.Errorf("role %s: attach %s: %w", aws.ToString(in.RoleName), a, err)
		}
	}
	return out.Role, nil
}

// role creates an AWS::IAM::Role with its inline Policies and ManagedPolicyArns. Ref is its name,
// Fn::GetAtt Arn and RoleId as IAM returns them.
func (d *Deployer) role(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	c := iam.NewFromConfig(d.Cfg)
	trust, err := document(p["AssumeRolePolicyDocument"])
	if err != nil {
		return err
	}
	name := str(p["RoleName"])
	if name == "" {
		name = physicalName(st, id, 64)
	}
	in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}
	if v := str(p["Path"]); v != "" {
		in.Path = aws.String(v)
	}
	if v := str(p["Description"]); v != "" {
		in.Description = aws.String(v)
	}
	var inline []InlinePolicy
	for _, pol := range list(p["Policies"]) {
		doc, err := document(pol["PolicyDocument"])
		if err != nil {
			return err
		}
		inline = append(inline, InlinePolicy{Name: str(pol["PolicyName"]), Document: doc})
	}
	var managed []string
	arns, _ := p["ManagedPolicyArns"].([]any)
	for _, a := range arns {
		managed = append(managed, fmt.Sprint(a))
	}
	out, err := CreateRole(ctx, c, in, inline, managed)
	if err != nil {
		return err
	}
	set(name, map[string]any{"Arn": aws.ToString(out.Arn), "RoleId": aws.ToString(out.RoleId)})
	d.progress("role %s", aws.ToString(out.Arn))
	return nil
}

// roleNames are the role names of a policy's Roles property.
func roleNames(p map[string]any) []string {
	var out []string
	roles, _ := p["Roles"].([]any)
	for _, r := range roles {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

// policy puts an AWS::IAM::Policy on each of its Roles.
func (d *Deployer) policy(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	doc, err := document(p["PolicyDocument"])
	if err != nil {
		return err
	}
	name := str(p["PolicyName"])
	c := iam.NewFromConfig(d.Cfg)
	for _, r := range roleNames(p) {
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(r), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			return fmt.Errorf("role %s: %w", r, err)
		}
	}
	set(physicalName(st, id, 128), nil)
	return nil
}

// managedPolicy creates an AWS::IAM::ManagedPolicy and attaches it to its Roles. Ref is its ARN.
func (d *Deployer) managedPolicy(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	doc, err := document(p["PolicyDocument"])
	if err != nil {
		return err
	}
	name := str(p["ManagedPolicyName"])
	if name == "" {
		name = physicalName(st, id, 128)
	}
	c := iam.NewFromConfig(d.Cfg)
	in := &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}
	if v := str(p["Path"]); v != "" {
		in.Path = aws.String(v)
	}
	out, err := c.CreatePolicy(ctx, in)
	if err != nil {
		return err
	}
	for _, r := range roleNames(p) {
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(r), PolicyArn: out.Policy.Arn}); err != nil {
			return fmt.Errorf("role %s: %w", r, err)
		}
	}
	set(aws.ToString(out.Policy.Arn), map[string]any{"PolicyArn": aws.ToString(out.Policy.Arn)})
	return nil
}

// instanceProfile creates an AWS::IAM::InstanceProfile holding its role. Ref is its name.
func (d *Deployer) instanceProfile(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	name := str(p["InstanceProfileName"])
	if name == "" {
		name = physicalName(st, id, 128)
	}
	c := iam.NewFromConfig(d.Cfg)
	in := &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name)}
	if v := str(p["Path"]); v != "" {
		in.Path = aws.String(v)
	}
	out, err := c.CreateInstanceProfile(ctx, in)
	if err != nil {
		return err
	}
	for _, r := range roleNames(p) {
		if _, err := c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(r)}); err != nil {
			return fmt.Errorf("role %s: %w", r, err)
		}
	}
	set(name, map[string]any{"Arn": aws.ToString(out.InstanceProfile.Arn)})
	return nil
}

// instance maps an AWS::EC2::Instance onto the sandbox's client instance, whose calls become
// sessions of its instance profile's role and whose network interface takes the SecurityGroupIds.
func (d *Deployer) instance(p map[string]any, set func(string, map[string]any)) error {
	if groups := strs(p["SecurityGroupIds"]); len(groups) > 0 {
		if err := d.SB.EC2.SetInstanceGroups(sbec2.DefaultInstanceID, groups); err != nil {
			return fmt.Errorf("SecurityGroupIds: %w", err)
		}
	}
	if profile := str(p["IamInstanceProfile"]); profile != "" {
		role, err := d.SB.IAM.ProfileRole(profile)
		if err != nil {
			return err
		}
		d.SB.BindRole(sandbox.InstancePrincipal(sbec2.DefaultInstanceID), role)
	}
	set(sbec2.DefaultInstanceID, map[string]any{"PrivateIp": "10.0.0.4", "InstanceId": sbec2.DefaultInstanceID})
	return nil
}

// topicPolicy sets an AWS::SNS::TopicPolicy's document as each of its Topics' Policy.
func (d *Deployer) topicPolicy(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	doc, err := document(p["PolicyDocument"])
	if err != nil {
		return err
	}
	topics, _ := p["Topics"].([]any)
	c := sns.NewFromConfig(d.Cfg)
	for _, t := range topics {
		if _, err := c.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(fmt.Sprint(t)), AttributeName: aws.String("Policy"), AttributeValue: aws.String(doc)}); err != nil {
			return fmt.Errorf("topic %v: %w", t, err)
		}
	}
	set(physicalName(st, id, 256), nil)
	return nil
}

// permission adds an AWS::Lambda::Permission's statement to its function's resource-based policy
// (AddPermission, with the logical id as the statement id).
func (d *Deployer) permission(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	in := &lambda.AddPermissionInput{FunctionName: aws.String(str(p["FunctionName"])), StatementId: aws.String(id),
		Action: aws.String(str(p["Action"])), Principal: aws.String(str(p["Principal"]))}
	if v := str(p["SourceArn"]); v != "" {
		in.SourceArn = aws.String(v)
	}
	if v := str(p["SourceAccount"]); v != "" {
		in.SourceAccount = aws.String(v)
	}
	if _, err := lambda.NewFromConfig(d.Cfg).AddPermission(ctx, in); err != nil {
		return err
	}
	set(physicalName(st, id, 256), nil)
	return nil
}

// eventInvokeConfig sets an AWS::Lambda::EventInvokeConfig's retries and maximum event age on its
// function (PutFunctionEventInvokeConfig), which the sandbox's Lambda applies to asynchronous
// events before it sends one that failed to the function's dead-letter queue.
func (d *Deployer) eventInvokeConfig(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	in := &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(str(p["FunctionName"]))}
	if q := str(p["Qualifier"]); q != "" {
		in.Qualifier = aws.String(q)
	}
	if v, ok := p["MaximumRetryAttempts"].(float64); ok {
		in.MaximumRetryAttempts = aws.Int32(int32(v))
	}
	if v, ok := p["MaximumEventAgeInSeconds"].(float64); ok {
		in.MaximumEventAgeInSeconds = aws.Int32(int32(v))
	}
	if p["DestinationConfig"] != nil {
		return fmt.Errorf("DestinationConfig: the sandbox's Lambda has no asynchronous invocation destinations")
	}
	if _, err := lambda.NewFromConfig(d.Cfg).PutFunctionEventInvokeConfig(ctx, in); err != nil {
		return err
	}
	set(physicalName(st, id, 256), nil)
	return nil
}
