package iam_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func policy(actions ...string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["` + strings.Join(actions, `","`) + `"],"Resource":"*"}]}`
}

// TestRolesAndPolicies drives the emulated IAM with the SDK's IAM client as a deploy does: a role
// with an inline and an attached policy, read back as IAM returns them (documents URL-encoded), and
// the identity the sandbox judges the role's sessions with.
func TestRolesAndPolicies(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	c := iam.NewFromConfig(env.NoRetryConfig())

	out, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("step"), Path: aws.String("/strongroom/"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.Role.Arn)
	if want := "arn:aws:iam::" + env.Account + ":role/strongroom/step"; arn != want || !strings.HasPrefix(aws.ToString(out.Role.RoleId), "AROA") {
		t.Fatalf("role %s (id %s), want %s and an AROA id", arn, aws.ToString(out.Role.RoleId), want)
	}
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("step")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument)); doc != trust {
		t.Errorf("trust policy read back as %q", aws.ToString(got.Role.AssumeRolePolicyDocument))
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("step"), PolicyName: aws.String("inline"), PolicyDocument: aws.String(policy("kms:Decrypt"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("step"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")}); err != nil {
		t.Fatal(err)
	}
	pol, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("step"), PolicyName: aws.String("inline")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := url.QueryUnescape(aws.ToString(pol.PolicyDocument)); doc != policy("kms:Decrypt") {
		t.Errorf("inline policy read back as %q", doc)
	}
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("step")})
	if err != nil || len(names.PolicyNames) != 1 || names.PolicyNames[0] != "inline" {
		t.Errorf("ListRolePolicies: %v %v", names, err)
	}
	att, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("step")})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyName) != "AmazonSSMManagedInstanceCore" {
		t.Errorf("ListAttachedRolePolicies: %v %v", att, err)
	}
	id, err := env.IAM.RoleIdentity(arn)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Policies) != 2 || id.Policies[0].Name != "inline" || !strings.Contains(id.Policies[1].JSON, "ssm:UpdateInstanceInformation") {
		t.Errorf("identity %+v: want the inline policy, then the AWS managed policy's document", id)
	}

	// A customer managed policy, and an instance profile holding the role.
	mp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("logs"), PolicyDocument: aws.String(policy("logs:PutLogEvents"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("step"), PolicyArn: mp.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: mp.Policy.Arn, VersionId: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := url.QueryUnescape(aws.ToString(v.PolicyVersion.Document)); doc != policy("logs:PutLogEvents") {
		t.Errorf("policy version document %q", doc)
	}
	if _, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("client")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("client"), RoleName: aws.String("step")}); err != nil {
		t.Fatal(err)
	}
	if r, err := env.IAM.ProfileRole("client"); err != nil || r != arn {
		t.Errorf("ProfileRole = %q, %v; want %s", r, err, arn)
	}
	ip, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("client")})
	if err != nil || len(ip.InstanceProfile.Roles) != 1 || aws.ToString(ip.InstanceProfile.Roles[0].Arn) != arn {
		t.Errorf("GetInstanceProfile: %+v %v", ip, err)
	}
	gen := env.IAM.Generation()
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("step"), PolicyName: aws.String("inline")}); err != nil {
		t.Fatal(err)
	}
	if env.IAM.Generation() == gen {
		t.Error("a deleted role policy did not change IAM's generation: cached decisions would survive it")
	}
}

// TestRefusals: what IAM refuses, with IAM's error codes.
func TestRefusals(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	c := iam.NewFromConfig(env.NoRetryConfig())
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:us-east-1:123456789012:key/` + strings.Repeat("a", 10300) + `"}]}`
	for _, tc := range []struct {
		name, code string
		call       func() error
	}{
		{"role exists", "EntityAlreadyExists", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)})
			return err
		}},
		{"bad role name", "ValidationError", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("has space"), AssumeRolePolicyDocument: aws.String(trust)})
			return err
		}},
		{"not a policy", "MalformedPolicyDocument", func() error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17"}`)})
			return err
		}},
		{"inline policies over 10,240 characters", "LimitExceeded", func() error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("p"), PolicyDocument: aws.String(big)})
			return err
		}},
		{"unknown AWS managed policy", "NoSuchEntity", func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
			return err
		}},
		{"no such role", "NoSuchEntity", func() error {
			_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("missing")})
			return err
		}},
	} {
		sandboxtest.WantCode(t, tc.call(), tc.code)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("p"), PolicyDocument: aws.String(policy("kms:Decrypt"))}); err != nil {
		t.Fatal(err)
	}
	_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("r")})
	sandboxtest.WantCode(t, err, "DeleteConflict")
}
