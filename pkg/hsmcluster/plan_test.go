package hsmcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmcluster/check"
	"github.com/strongroom/strongroom/pkg/hsmcluster/plan"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// cfnEvent is a CloudFormation event for the test stack's "Cluster" resource.
func cfnEvent(t *testing.T, rt cfn.RequestType, physical, newProps, oldProps string) cfn.Event {
	t.Helper()
	ev := cfn.Event{RequestType: rt, RequestID: "0f4b6c2e-7d1a-4c3b-9e8f-5a6b7c8d9e0f", StackID: stackARN, LogicalResourceID: "Cluster",
		ResourceType: hsmcluster.ResourceType, PhysicalResourceID: physical, ResponseURL: "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x"}
	if newProps != "" {
		ev.ResourceProperties = props(t, newProps)
	}
	if oldProps != "" {
		ev.OldResourceProperties = props(t, oldProps)
	}
	return ev
}

func withProp(t *testing.T, js, key string, value any) string {
	t.Helper()
	m := props(t, js)
	m[key] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSecretPrefix(t *testing.T) {
	for stack, want := range map[string]string{
		stackARN:        "strongroom/MyStack/Cluster",
		"MyStack":       "strongroom/MyStack/Cluster",
		"arn:aws:x:y:z": "strongroom/arn:aws:x:y:z/Cluster",
	} {
		if got := hsmcluster.SecretPrefix(stack, "Cluster"); got != want {
			t.Errorf("SecretPrefix(%q) = %q; want %q", stack, got, want)
		}
	}
	if err := hsmcluster.ValidateRequest(&cfn.Event{StackID: stackARN, LogicalResourceID: "Cluster", ResourceProperties: props(t, valid)}); err != nil {
		t.Fatal(err)
	}
	err := hsmcluster.ValidateRequest(&cfn.Event{StackID: stackARN, LogicalResourceID: "Cluster", ResourceProperties: props(t, `{"ClientInstanceId":"i-0123456789abcdef0"}`)})
	if err == nil || err.Error() != "invalid Custom::CloudHsmCluster properties: SubnetIds: give at least two private subnets in different Availability Zones (got 0)" {
		t.Fatalf("err = %v", err)
	}
}

// CheckEnvironment checks the properties against the account and refuses, naming the property,
// subnets that share a zone, span VPCs or do not exist, and a client instance that is missing,
// not running or outside the subnets' VPC.
func TestCheckEnvironment(t *testing.T) {
	twoSubnets := func(a, b string) string {
		return withProp(t, valid, "SubnetIds", []any{a, b})
	}
	cases := []struct {
		name    string
		props   string
		edit    func(*fakeEC2)
		wantErr string // TerminalError text, "" for success
		wantAZs map[string]string
	}{
		{"subnets in two zones of one VPC", valid, nil, "", map[string]string{subnetA: azA, subnetB: azB}},
		{"subnets in one zone", twoSubnets(subnetA, subnetA2), nil,
			"SubnetIds: " + subnetA + " and " + subnetA2 + " are both in us-east-1a; give subnets in distinct Availability Zones", nil},
		{"subnets in two VPCs", twoSubnets(subnetA, subnetC), nil,
			"SubnetIds: " + subnetC + " is in " + vpcB + " but the others are in " + vpcA + "; give subnets of one VPC", nil},
		{"a subnet that does not exist", twoSubnets(subnetA, "subnet-0123456789abcdef9"), nil,
			"SubnetIds: The subnet ID 'subnet-0123456789abcdef9' does not exist (give existing private subnets of this account and region)", nil},
		{"no such instance", valid, func(f *fakeEC2) { f.instances = nil },
			"ClientInstanceId: The instance ID '" + instance + "' does not exist (give the SSM-managed instance with cloudhsm-cli)", nil},
		{"stopped instance", valid, func(f *fakeEC2) {
			f.instances[instance] = fakeInstance{state: ec2types.InstanceStateNameStopped, vpc: vpcA}
		},
			"ClientInstanceId: instance " + instance + " is stopped; it must be running", nil},
		{"instance in another VPC", valid, func(f *fakeEC2) {
			f.instances[instance] = fakeInstance{state: ec2types.InstanceStateNameRunning, vpc: vpcB}
		},
			"ClientInstanceId: instance " + instance + " is in " + vpcB + ", not in the cluster's VPC " + vpcA, nil},
		{"invalid properties", withProp(t, valid, "HsmCount", 0), nil,
			"invalid Custom::CloudHsmCluster properties: HsmCount: must be between 1 and 28 (the CloudHSM limit of HSMs per cluster), got 0", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ec2c := newFakeEC2()
			if tc.edit != nil {
				tc.edit(ec2c)
			}
			out, err := (&check.CheckEnvironment{EC2: ec2c}).Handle(context.Background(), check.CheckInput{Event: cfnEvent(t, cfn.RequestCreate, "", tc.props, "")})
			if tc.wantErr != "" {
				mustTerminal(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.SubnetAzs, tc.wantAZs) || out.VpcID != vpcA || !reflect.DeepEqual(out.Spec, specOf(t, tc.props)) {
				t.Fatalf("out = %+v", out)
			}
		})
	}
}

// An adopted cluster has no SubnetIds to check; a throttled EC2 read is left to be retried.
func TestCheckEnvironmentAdoptAndThrottle(t *testing.T) {
	ec2c := newFakeEC2()
	adopt := `{"ClusterId":"cluster-abcdefghijk","ClientInstanceId":"i-0123456789abcdef0"}`
	out, err := (&check.CheckEnvironment{EC2: ec2c}).Handle(context.Background(), check.CheckInput{Event: cfnEvent(t, cfn.RequestCreate, "", adopt, "")})
	if err != nil || out.Spec.ClusterID != "cluster-abcdefghijk" || len(out.SubnetAzs) != 0 || out.VpcID != "" {
		t.Fatalf("adopt: %+v %v", out, err)
	}
	if !reflect.DeepEqual(ec2c.calls, []string{"DescribeInstances"}) {
		t.Fatalf("calls = %v", ec2c.calls)
	}

	ec2c = newFakeEC2()
	ec2c.inject("DescribeSubnets", throttled("EC2", "DescribeSubnets"))
	_, err = (&check.CheckEnvironment{EC2: ec2c}).Handle(context.Background(), check.CheckInput{Event: cfnEvent(t, cfn.RequestCreate, "", valid, "")})
	if errType(err) != lambdaerr.NameRetryable || !strings.HasPrefix(err.Error(), "describe subnets [") {
		t.Fatalf("err = %v (%s)", err, errType(err))
	}
}

// PlanRequest for a Delete: a PhysicalResourceId naming no cluster has nothing to delete; an
// adopted cluster is recognised from the properties even when they no longer validate.
func TestPlanDelete(t *testing.T) {
	cases := []struct {
		physical, props string
		want            plan.Plan
	}{
		{"strongroom-none-0f4b6c2e", valid, plan.Plan{ClusterID: "strongroom-none-0f4b6c2e", NothingToDelete: true}},
		{"", valid, plan.Plan{NothingToDelete: true}},
		{"MyStack-Cluster-1ABCDEF", valid, plan.Plan{ClusterID: "MyStack-Cluster-1ABCDEF", NothingToDelete: true}},
		{"cluster-abcdefghijk", valid, plan.Plan{ClusterID: "cluster-abcdefghijk"}},
		{"cluster-abcdefghijk", `{"ClusterId":"cluster-abcdefghijk","Bogus":1}`, plan.Plan{ClusterID: "cluster-abcdefghijk", Adopted: true}},
	}
	for _, tc := range cases {
		hsm := newFakeCloudHSM()
		got, err := (&plan.PlanRequest{HSM: hsm}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestDelete, tc.physical, tc.props, "")})
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("delete of %q: %+v %v; want %+v", tc.physical, got, err, tc.want)
		}
	}
}

// PlanRequest for an Update: the HSM count may change; an immutable property may not, judged
// against the properties the cluster was created with (its TagImmutable), so CloudFormation's
// rollback of a refused update succeeds. The refusal names the property.
func TestPlanUpdate(t *testing.T) {
	created := specOf(t, valid)
	nonFIPS := withProp(t, valid, "Mode", "NON_FIPS")
	four := withProp(t, valid, "HsmCount", "4")
	cases := []struct {
		name          string
		newP, oldP    string
		tagged        bool   // the cluster carries TagImmutable of `valid`
		taggedWith    string // or of these properties
		want          func(id string) plan.Plan
		wantErrPrefix string
	}{
		{"scale up", four, valid, true, "", func(id string) plan.Plan {
			return plan.Plan{ClusterID: id, Spec: specOf(t, four), Target: 4, HsmDelta: 2}
		}, ""},
		{"immutable change refused", nonFIPS, valid, true, "", nil,
			"invalid Custom::CloudHsmCluster properties: Mode: cannot be changed by an update: a cluster's FIPS mode is fixed at creation"},
		{"rollback of the refused change", valid, nonFIPS, true, "", func(id string) plan.Plan {
			return plan.Plan{ClusterID: id, Spec: created, Target: 2, HsmDelta: 0}
		}, ""},
		{"same as old but not as created", nonFIPS, nonFIPS, true, "", nil,
			"the new properties differ from those cluster "},
		{"untagged cluster judged against the old properties", nonFIPS, valid, false, "", nil,
			"invalid Custom::CloudHsmCluster properties: Mode: cannot be changed by an update"},
		{"untagged cluster, old properties no longer parse", four, `{"ClientInstanceId":"i-0123456789abcdef0","Obsolete":true}`, false, "", func(id string) plan.Plan {
			return plan.Plan{ClusterID: id, Spec: specOf(t, four), Target: 4}
		}, ""},
		{"invalid new properties", withProp(t, valid, "HsmCount", 40), valid, true, "", nil,
			"invalid Custom::CloudHsmCluster properties: HsmCount: must be between 1 and 28"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hsm := newFakeCloudHSM()
			tags := map[string]string{}
			if tc.tagged {
				tags[hsmcluster.TagImmutable] = hsmcluster.ImmutableHash(created)
			}
			c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, tags)
			got, err := (&plan.PlanRequest{HSM: hsm}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestUpdate, c.id, tc.newP, tc.oldP)})
			if tc.wantErrPrefix != "" {
				var te *lambdaerr.TerminalError
				if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), tc.wantErrPrefix) {
					t.Fatalf("err = %v; want a TerminalError starting %q", err, tc.wantErrPrefix)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(c.id); !reflect.DeepEqual(got, want) {
				t.Fatalf("plan =\n  %+v\nwant\n  %+v", got, want)
			}
		})
	}
}

// When the deployed cluster's hash differs but the old and new properties agree, the refusal
// cannot name one property, so it lists every immutable one.
func TestPlanUpdateNamesAllImmutableWhenOnlyTheClusterDiffers(t *testing.T) {
	hsm := newFakeCloudHSM()
	c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagImmutable: hsmcluster.ImmutableHash(specOf(t, valid))})
	nonFIPS := withProp(t, valid, "Mode", "NON_FIPS")
	_, err := (&plan.PlanRequest{HSM: hsm}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestUpdate, c.id, nonFIPS, nonFIPS)})
	mustTerminal(t, err, "the new properties differ from those cluster "+c.id+" was created with in properties that cannot change "+
		"(AdminPasswordSecretName, ClusterId, CustomerCaCertificateSecretName, CustomerCaKeySecretName, CustomerCaKeyType, CustomerCaValidityDays, HsmType, Mode, NetworkType, SourceBackupId, SubnetIds); restore them or create a new resource")
}

// An adopted cluster may carry the immutable-properties tag of the resource that created it; this
// resource's properties never hash to it, so it must not block a plain scale.
func TestPlanUpdateAdoptedClusterTaggedByAnotherResource(t *testing.T) {
	hsm := newFakeCloudHSM()
	c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagImmutable: hsmcluster.ImmutableHash(specOf(t, valid))})
	oldP := withProp(t, valid, "ClusterId", c.id)
	newP := withProp(t, oldP, "HsmCount", "3")
	got, err := (&plan.PlanRequest{HSM: hsm}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestUpdate, c.id, newP, oldP)})
	if err != nil {
		t.Fatalf("scale of an adopted cluster refused: %v", err)
	}
	if got.Target != 3 || got.HsmDelta != 1 || !got.Adopted || got.ClusterID != c.id {
		t.Fatalf("plan = %+v; want target 3, delta 1, adopted, cluster %s", got, c.id)
	}
	// A change to an immutable property is still refused, judged against the old properties.
	_, err = (&plan.PlanRequest{HSM: hsm}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestUpdate, c.id, withProp(t, oldP, "Mode", "NON_FIPS"), oldP)})
	mustTerminal(t, err, "invalid Custom::CloudHsmCluster properties: Mode: cannot be changed by an update: a cluster's FIPS mode is fixed at creation")
}

func TestPlanOtherRequests(t *testing.T) {
	_, err := (&plan.PlanRequest{HSM: newFakeCloudHSM()}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestCreate, "", valid, "")})
	mustTerminal(t, err, `plan: RequestType "Create" has no plan`)

	hsm := newFakeCloudHSM()
	hsm.inject("DescribeClusters", sdkError("CloudHSM V2", "DescribeClusters", 400, &types.CloudHsmAccessDeniedException{Message: aws.String("not authorized")}))
	_, err = (&plan.PlanRequest{HSM: hsm}).Handle(context.Background(), plan.PlanInput{Event: cfnEvent(t, cfn.RequestUpdate, "cluster-abcdefghijk", valid, valid)})
	mustTerminal(t, err, "describe cluster cluster-abcdefghijk: not authorized")
}
