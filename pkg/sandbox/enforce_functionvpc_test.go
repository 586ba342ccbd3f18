package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// grantRole creates the role name whose one inline policy allows actions on "*", as the database
// stack grants its VPC functions' roles (AWSLambdaVPCAccessExecutionRole's actions), and returns
// its ARN.
func grantRole(ctx context.Context, t *testing.T, ic *iam.Client, name string, actions ...string) string {
	t.Helper()
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}}})
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("grants"), PolicyDocument: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(role.Role.Arn)
}

// TestEnforceIAMFunctionVPC: a function created with a VpcConfig gets its network interfaces
// (one per subnet, with its security group, requester-managed) made in EC2 with its execution
// role, as Lambda makes them; a role without one of the EC2 actions Lambda calls is refused with
// CreateFunction's InvalidParameterValueException text naming the call, a denied Decision, and no
// interface; deleting the function's interfaces needs ec2:DeleteNetworkInterface.
func TestEnforceIAMFunctionVPC(t *testing.T) {
	ctx := sandboxtest.Context(t, 2*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	ic, ec := iam.NewFromConfig(op), awsec2.NewFromConfig(op)
	group, err := env.EC2.CreateGroup(ec2.DefaultVPCID, "rotation", "rotation functions")
	if err != nil {
		t.Fatal(err)
	}
	subnets := ec2.DefaultSubnetIDs[:2]
	all := []string{"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface"}
	enisOf := func(fn string) []string {
		out, err := ec.DescribeNetworkInterfaces(ctx, &awsec2.DescribeNetworkInterfacesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range out.NetworkInterfaces {
			if aws.ToString(n.Description) == "AWS Lambda VPC ENI-"+fn {
				got = append(got, aws.ToString(n.SubnetId)+" "+aws.ToString(n.Groups[0].GroupId)+fmt.Sprint(aws.ToBool(n.RequesterManaged)))
			}
		}
		slices.Sort(got)
		return got
	}
	for _, missing := range []string{"", "ec2:CreateNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces"} {
		name := "granted"
		if missing != "" {
			name = "without " + missing
		}
		t.Run(name, func(t *testing.T) {
			fn := "vpcfn-" + strings.TrimPrefix(missing, "ec2:")
			env.BindRole(fn, grantRole(ctx, t, ic, fn+"-role", slices.DeleteFunc(slices.Clone(all), func(a string) bool { return a == missing })...))
			before := len(env.Decisions())
			enis, err := env.AttachFunctionVPC(ctx, fn, subnets, []string{group})
			if missing != "" {
				want := fmt.Sprintf("InvalidParameterValueException: The provided execution role does not have permissions to call %s on EC2", strings.TrimPrefix(missing, "ec2:"))
				if err == nil || err.Error() != want {
					t.Fatalf("AttachFunctionVPC = %v, want %q", err, want)
				}
				d := env.Decisions()[before:]
				if last := d[len(d)-1]; last.Allowed || last.Action != missing || !strings.Contains(last.Session, "assumed-role/"+fn+"-role/"+fn) {
					t.Errorf("last decision %+v, want %s denied to the function's session", last, missing)
				}
				if got := enisOf(fn); len(got) != 0 || len(env.FunctionENIs(fn)) != 0 {
					t.Errorf("interfaces %v after a refusal, want none", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{subnets[0] + " " + group + "true", subnets[1] + " " + group + "true"}
			if got := enisOf(fn); !slices.Equal(got, want) || len(enis) != 2 || !slices.Equal(env.FunctionENIs(fn), enis) {
				t.Fatalf("interfaces in EC2 %v (made %+v), want %v", got, enis, want)
			}
			var judged []string
			for _, d := range env.Decisions()[before:] {
				if !d.Allowed {
					t.Errorf("denied %+v", d)
				}
				judged = append(judged, d.Action)
			}
			if !slices.Equal(judged, []string{"ec2:DescribeSubnets", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterface",
				"ec2:CreateNetworkInterface", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"}) {
				t.Errorf("judged %v, want DescribeSubnets, CreateNetworkInterface on each interface, subnet and group, DescribeNetworkInterfaces", judged)
			}
			if err := env.DetachFunctionVPC(ctx, fn); err != nil || len(enisOf(fn)) != 0 {
				t.Fatalf("DetachFunctionVPC = %v, interfaces left %v", err, enisOf(fn))
			}
		})
	}

	// Without ec2:DeleteNetworkInterface the interfaces stay.
	fn := "vpcfn-nodelete"
	env.BindRole(fn, grantRole(ctx, t, ic, fn+"-role", all[:3]...))
	if _, err := env.AttachFunctionVPC(ctx, fn, subnets[:1], []string{group}); err != nil {
		t.Fatal(err)
	}
	if err := env.DetachFunctionVPC(ctx, fn); err == nil || !strings.Contains(err.Error(), "is not authorized to perform: ec2:DeleteNetworkInterface") ||
		len(enisOf(fn)) != 1 || len(env.FunctionENIs(fn)) != 1 {
		t.Errorf("DetachFunctionVPC without the grant = %v, interfaces %v; want UnauthorizedOperation and the interface kept", err, enisOf(fn))
	}
}
