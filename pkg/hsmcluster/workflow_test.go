package hsmcluster_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmcluster/activate"
	"github.com/strongroom/strongroom/pkg/hsmcluster/check"
	"github.com/strongroom/strongroom/pkg/hsmcluster/create"
	"github.com/strongroom/strongroom/pkg/hsmcluster/delete"
	"github.com/strongroom/strongroom/pkg/hsmcluster/describe"
	"github.com/strongroom/strongroom/pkg/hsmcluster/initialize"
	"github.com/strongroom/strongroom/pkg/hsmcluster/password"
	"github.com/strongroom/strongroom/pkg/hsmcluster/plan"
	"github.com/strongroom/strongroom/pkg/hsmcluster/report"
	"github.com/strongroom/strongroom/pkg/hsmcluster/scale"
	"github.com/strongroom/strongroom/pkg/hsmcluster/sign"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
)

// viaJSON passes a step's output to the next step's input the way Step Functions does: as JSON.
func viaJSON[T any](t *testing.T, v any) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWorkflows runs the steps in the order of statemachines/cluster-create.asl.json,
// cluster-update.asl.json and cluster-delete.asl.json against the fakes, with payloads passed as
// JSON, and checks the states the Choice states branch on along the way.
func TestWorkflows(t *testing.T) {
	ctx := context.Background()
	hsm, ec2c, sm, ssmc := newFakeCloudHSM(), newFakeEC2(), newFakeSecrets(), newFakeSSM()
	describe := func(id string) hsmcluster.ClusterView {
		t.Helper()
		v, err := (&describe.Describe{HSM: hsm}).Handle(ctx, hsmcluster.ClusterRef{ClusterID: id})
		if err != nil {
			t.Fatal(err)
		}
		return viaJSON[hsmcluster.ClusterView](t, v)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Create.
	ev := cfnEvent(t, cfn.RequestCreate, "", withProp(t, valid, "HsmCount", "3"), "")
	checked, err := (&check.CheckEnvironment{EC2: ec2c}).Handle(ctx, check.CheckInput{Event: ev})
	must(err)
	check := viaJSON[check.CheckOutput](t, checked)
	created, err := (&create.CreateCluster{HSM: hsm}).Handle(ctx, create.CreateInput{
		Event: hsmcluster.EventRef{RequestType: ev.RequestType, RequestID: ev.RequestID, StackID: ev.StackID, LogicalResourceID: ev.LogicalResourceID},
		Spec:  check.Spec,
	})
	must(err)
	id := created.ClusterID
	if v := describe(id); v.State != "CREATE_IN_PROGRESS" {
		t.Fatalf("after create: %s", v.State)
	}
	hsm.settle()
	if v := describe(id); v.State != "UNINITIALIZED" || v.HsmCount != 0 {
		t.Fatalf("created: %+v", v)
	}
	_, err = (&scale.Scale{HSM: hsm}).Handle(ctx, scale.ScaleInput{ClusterID: id, Target: 1})
	must(err)
	if v := describe(id); v.AllHsmsActive || v.PendingHsms != 1 || v.HasCsr {
		t.Fatalf("first HSM pending: %+v", v)
	}
	hsm.settle()
	if v := describe(id); !v.AllHsmsActive || !v.HasCsr {
		t.Fatalf("first HSM active: %+v", v)
	}
	signed, err := signStep(hsm, sm).Handle(ctx, sign.SignInput{ClusterID: id, CAKeySecretName: check.Spec.CAKeySecretName,
		CACertSecretName: check.Spec.CACertSecretName, CAKeyType: check.Spec.CAKeyType, CAValidityDays: check.Spec.CAValidityDays})
	must(err)
	_, err = (&initialize.Initialize{HSM: hsm}).Handle(ctx, initialize.InitializeInput{ClusterID: id, SignedCert: signed.SignedCert, TrustAnchor: signed.TrustAnchor})
	must(err)
	hsm.settle()
	cluster := describe(id)
	if cluster.State != "INITIALIZED" {
		t.Fatalf("initialized: %+v", cluster)
	}
	admin, err := passwordStep(sm).Handle(ctx, password.PasswordInput{SecretName: check.Spec.AdminSecretName})
	must(err)
	_, err = activateStep(ssmc, sm).Handle(ctx, activate.ActivateInput{ClusterID: id, InstanceID: check.Spec.ClientInstanceID,
		HsmIP: cluster.FirstActiveHsmIP, AdminPasswordSecretARN: admin.SecretARN, CACertSecretName: check.Spec.CACertSecretName})
	must(err)
	if got := ssmc.sent[0].Parameters["AdminPasswordSecretArn"]; !reflect.DeepEqual(got, []string{sm.byName(adminName).arn}) {
		t.Fatalf("activation reads the password from %v", got)
	}
	hsm.clusters[0].state = types.ClusterStateActive // the document activated the cluster on the instance
	_, err = (&scale.Scale{HSM: hsm}).Handle(ctx, scale.ScaleInput{ClusterID: id, Target: check.Spec.HsmCount})
	must(err)
	hsm.settle()
	if v := describe(id); !v.AllHsmsActive || v.HsmCount != 3 || len(v.HsmIPs) != 3 {
		t.Fatalf("all HSMs: %+v", v)
	}
	outcome, err := (&report.Report{HSM: hsm, Secrets: sm}).Handle(ctx, report.ReportInput{ClusterID: id, Spec: check.Spec, ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:c:x"})
	must(err)
	if outcome.PhysicalResourceID != id || outcome.Data["AdminPasswordSecretArn"] != admin.SecretARN || outcome.Data["CustomerCaCertificateSecretArn"] != signed.CACertSecretARN {
		t.Fatalf("outcome %+v", outcome)
	}

	// Update: scale down to two.
	upd := cfnEvent(t, cfn.RequestUpdate, id, withProp(t, valid, "HsmCount", "2"), withProp(t, valid, "HsmCount", "3"))
	upPlan, err := (&plan.PlanRequest{HSM: hsm}).Handle(ctx, plan.PlanInput{Event: upd})
	must(err)
	upPlan = viaJSON[plan.Plan](t, upPlan)
	if upPlan.Target != 2 || upPlan.HsmDelta != -1 {
		t.Fatalf("plan %+v", upPlan)
	}
	_, err = (&scale.Scale{HSM: hsm}).Handle(ctx, scale.ScaleInput{ClusterID: upPlan.ClusterID, Target: upPlan.Target})
	must(err)
	hsm.settle()
	if v := describe(id); v.HsmCount != 2 || !v.AllHsmsActive {
		t.Fatalf("scaled down: %+v", v)
	}

	// Delete.
	del := cfnEvent(t, cfn.RequestDelete, id, withProp(t, valid, "HsmCount", "2"), "")
	dplan, err := (&plan.PlanRequest{HSM: hsm}).Handle(ctx, plan.PlanInput{Event: del})
	must(err)
	if dplan.NothingToDelete || dplan.Adopted {
		t.Fatalf("delete plan %+v", dplan)
	}
	_, err = (&scale.Scale{HSM: hsm}).Handle(ctx, scale.ScaleInput{ClusterID: id, Target: 0})
	must(err)
	if v := describe(id); v.DeletingHsms != 2 || v.HsmCount != 0 {
		t.Fatalf("removing HSMs: %+v", v)
	}
	hsm.settle()
	_, err = (&delete.DeleteCluster{HSM: hsm}).Handle(ctx, delete.DeleteInput{ClusterID: id})
	must(err)
	hsm.settle()
	if v := describe(id); v.State != "DELETED" {
		t.Fatalf("deleted: %+v", v)
	}
}
