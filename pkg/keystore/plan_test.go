package keystore_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/keystore/plan"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestPlanAgainstTheSandbox runs the plan step with a real CloudHSM client against the sandbox's
// CloudHSM: a cluster that is missing or not ACTIVE fails a Create with a reason naming ClusterId
// and the state; Update and Delete plans need no cluster call to decide.
func TestPlanAgainstTheSandbox(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	hsm := cloudhsmv2.NewFromConfig(env.AWSConfig())
	cc, err := hsm.CreateCluster(ctx, &cloudhsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:]})
	if err != nil {
		t.Fatal(err)
	}
	young := aws.ToString(cc.Cluster.ClusterId)
	step := &plan.PlanRequest{HSM: hsm}
	base := fixtureEvent(t)
	event := func(rt cfn.RequestType, change func(p map[string]any), physical string) *cfn.Event {
		ev := base
		ev.RequestType, ev.PhysicalResourceID = rt, physical
		ev.ResourceProperties = maps.Clone(base.ResourceProperties)
		if change != nil {
			change(ev.ResourceProperties)
		}
		ev.OldResourceProperties = base.ResourceProperties
		return &ev
	}
	cases := []struct {
		name    string
		in      plan.PlanInput
		wantErr []string
		check   func(t *testing.T, p plan.Plan)
	}{
		{name: "create on a missing cluster", in: plan.PlanInput{Event: event(cfn.RequestCreate, nil, "")},
			wantErr: []string{"ClusterId", "does not exist"}},
		{name: "create on a cluster still being created", in: plan.PlanInput{Event: event(cfn.RequestCreate, func(p map[string]any) { p["ClusterId"] = young }, "")},
			wantErr: []string{"ClusterId", "CREATE_IN_PROGRESS", "ACTIVE"}},
		{name: "rename", in: plan.PlanInput{Event: event(cfn.RequestUpdate, func(p map[string]any) { p["KeyStoreName"] = "other" }, "cks-1234567890abcdef0")},
			check: func(t *testing.T, p plan.Plan) {
				if !p.Rename || p.CustomKeyStoreID != "cks-1234567890abcdef0" || p.Spec.KeyStoreName != "other" {
					t.Errorf("plan %+v; want a rename of cks-1234567890abcdef0 to other", p)
				}
			}},
		{name: "update of an immutable property", in: plan.PlanInput{Event: event(cfn.RequestUpdate, func(p map[string]any) { p["ClientInstanceId"] = "i-0123456789abcdef0" }, "cks-1")},
			wantErr: []string{"ClientInstanceId: cannot change in place"}},
		{name: "delete of a create that made nothing", in: plan.PlanInput{Event: event(cfn.RequestDelete, nil, "strongroom-none-req")},
			check: func(t *testing.T, p plan.Plan) {
				if !p.NothingToDelete {
					t.Errorf("plan %+v; want NothingToDelete", p)
				}
			}},
		{name: "delete on a cluster that is gone keeps going", in: plan.PlanInput{Event: event(cfn.RequestDelete, func(p map[string]any) { p["DeleteKeyStoreOnStackDeletion"] = "true" }, "cks-1")},
			check: func(t *testing.T, p plan.Plan) {
				if !p.DeleteKeyStore || p.ClusterFound || p.HsmIP != "" {
					t.Errorf("plan %+v; want DeleteKeyStore, no cluster, no HSM", p)
				}
			}},
		{name: "the rollback of a failed create deletes its store whatever the property says", in: plan.PlanInput{Event: event(cfn.RequestDelete, nil, "cks-1"+keystore.FailedCreateSuffix)},
			check: func(t *testing.T, p plan.Plan) {
				if !p.DeleteKeyStore || p.CustomKeyStoreID != "cks-1" || p.NothingToDelete || p.Spec.DeleteKeyStoreOnStackDeletion {
					t.Errorf("plan %+v; want store cks-1 deleted although DeleteKeyStoreOnStackDeletion is false", p)
				}
			}},
		{name: "delete with properties that no longer parse keeps the store", in: plan.PlanInput{Event: event(cfn.RequestDelete, func(p map[string]any) { p["ClusterId"] = "nonsense"; p["DeleteKeyStoreOnStackDeletion"] = "true" }, "cks-1")},
			check: func(t *testing.T, p plan.Plan) {
				if p.DeleteKeyStore || !strings.Contains(p.Note, "ClusterId") || p.NothingToDelete {
					t.Errorf("plan %+v; want the store kept (disconnected), with a note naming ClusterId", p)
				}
			}},
		{name: "rotation without the secret name", in: plan.PlanInput{Rotation: &plan.RotationRequest{CustomKeyStoreID: "cks-1", Properties: base.ResourceProperties}},
			wantErr: []string{"KmsUserPasswordSecretName is required"}},
		{name: "neither event nor rotation", in: plan.PlanInput{}, wantErr: []string{"neither Event nor Rotation"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := step.Handle(context.Background(), tc.in)
			if tc.wantErr != nil {
				var term *lambdaerr.TerminalError
				if !errors.As(err, &term) {
					t.Fatalf("err = %v; want a TerminalError", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}
