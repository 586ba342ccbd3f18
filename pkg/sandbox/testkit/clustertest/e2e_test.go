package clustertest_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestClusterLifecycle drives Create (2 HSMs), Update to 3 and back to 2, and Delete through the
// CloudFormation driver, checking the cluster in the emulated CloudHSM after each answer, and
// finally scans everything recorded for every secret value issued.
func TestClusterLifecycle(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	props := clustertest.Properties(2)
	out, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "create", out)
	id := out.PhysicalResourceID
	if !strings.HasPrefix(id, "cluster-") {
		t.Fatalf("PhysicalResourceId = %q; want the cluster id", id)
	}
	for _, k := range []string{"ClusterId", "SecurityGroupId", "HsmIps", "CustomerCaCertificateSecretArn", "AdminPasswordSecretArn", "WorkflowExecutionArn"} {
		if s, _ := out.Data[k].(string); s == "" {
			t.Errorf("Data.%s is empty; Data = %v", k, out.Data)
		}
	}
	if out.Data["ClusterId"] != id {
		t.Errorf("Data.ClusterId = %v; want %s", out.Data["ClusterId"], id)
	}
	c := r.cluster(t, id)
	if string(c.State) != "ACTIVE" {
		t.Errorf("cluster state after create = %s; want ACTIVE", c.State)
	}
	active, zones := hsmZones(c)
	if active != 2 || len(zones) != 2 {
		t.Errorf("after create: %d ACTIVE HSMs in zones %v; want 2 in 2 distinct zones", active, zones)
	}
	if got := strings.Split(out.Data["HsmIps"].(string), ","); len(got) != 2 {
		t.Errorf("Data.HsmIps = %v; want 2 addresses", got)
	}
	if sg := aws.ToString(c.SecurityGroup); out.Data["SecurityGroupId"] != sg {
		t.Errorf("Data.SecurityGroupId = %v; want %s", out.Data["SecurityGroupId"], sg)
	}
	if n := len(out.Duplicates); n != 0 {
		t.Errorf("create answered %d extra times", n)
	}

	for _, step := range []struct{ from, to int }{{2, 3}, {3, 2}} {
		old := props
		props = clustertest.Properties(step.to)
		up, err := r.dep.Update(r.ctx, "Cluster", id, old, props)
		if err != nil {
			t.Fatal(err)
		}
		requireSuccess(t, "update", up)
		if up.PhysicalResourceID != id {
			t.Errorf("update %d->%d changed PhysicalResourceId to %s", step.from, step.to, up.PhysicalResourceID)
		}
		c := r.cluster(t, id)
		active, zones := hsmZones(c)
		wantZones := min(step.to, 3)
		if active != step.to || len(c.Hsms) != step.to || len(zones) != wantZones {
			t.Errorf("after update %d->%d: %d ACTIVE of %d HSMs in zones %v; want %d ACTIVE in %d zones", step.from, step.to, active, len(c.Hsms), zones, step.to, wantZones)
		}
	}

	// An immutable property cannot change in place: FAILED naming it, and the cluster untouched.
	// CloudFormation then rolls the update back (the refused properties as old, the original ones
	// as new): that Update matches the deployed cluster (its immutable-properties tag) and must
	// succeed, or a real stack would end UPDATE_ROLLBACK_FAILED.
	changed := clustertest.Properties(2)
	changed["Mode"] = "NON_FIPS"
	spec := r.dep.Spec("Cluster", changed)
	spec.PhysicalResourceID, spec.OldProperties = id, props
	up, err := r.env.CloudFormation.Update(r.ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if up.Status != cloudformation.StatusFailed || !strings.Contains(up.Reason, "Mode") {
		t.Errorf("update of Mode answered %s %q; want FAILED naming Mode", up.Status, up.Reason)
	}
	if up.Rollback == nil || up.Rollback.Status != cloudformation.StatusSuccess || up.Rollback.PhysicalResourceID != id {
		t.Errorf("rollback of the refused update = %+v; want SUCCESS keeping %s", up.Rollback, id)
	}
	if c := r.cluster(t, id); string(c.State) != "ACTIVE" || len(c.Hsms) != 2 {
		t.Errorf("after the refused update the cluster is %s with %d HSMs; want ACTIVE with 2", c.State, len(c.Hsms))
	}

	del, err := r.dep.Delete(r.ctx, "Cluster", id, props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete", del)
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("after delete %d clusters remain: %v", len(live), aws.ToString(live[0].ClusterId))
	}
	// The customer CA is kept: a backup can only be restored with it.
	sm := secretsmanager.NewFromConfig(r.env.AWSConfig())
	for _, k := range []string{"CustomerCaCertificateSecretArn", "AdminPasswordSecretArn"} {
		d, err := sm.DescribeSecret(r.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(out.Data[k].(string))})
		if err != nil || d.DeletedDate != nil {
			t.Errorf("secret %s after delete: %v (deleted %v); want it kept", k, err, d != nil && d.DeletedDate != nil)
		}
	}
	// Every secret value issued: the admin password and the CA private key, read back here (a
	// GetSecretValue response is a channel for secrets, not a leak) and scanned for explicitly,
	// on top of every value the sandbox's Secrets Manager stored or generated.
	var issued []string
	for _, name := range []string{out.Data["AdminPasswordSecretArn"].(string), "strongroom/" + r.dep.StackName + "/Cluster/customer-ca/private-key"} {
		v, err := sm.GetSecretValue(r.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		issued = append(issued, aws.ToString(v.SecretString))
	}
	if !strings.Contains(issued[1], "PRIVATE KEY") || len(issued[0]) != 32 {
		t.Errorf("issued secrets are not a 32-character password and a PEM private key")
	}
	r.env.CheckNoSecrets(t, issued...)
}

func requireSuccess(t *testing.T, what string, o *cloudformation.Outcome) {
	t.Helper()
	if o.Status != cloudformation.StatusSuccess {
		t.Fatalf("%s answered %s: %s (timed out %v)", what, o.Status, o.Reason, o.TimedOut)
	}
}

// TestBadPropertiesFailAndCreateNothing sends Creates whose properties cannot work; each must
// answer FAILED with a reason naming the property, and leave no cluster and no secret behind.
func TestBadPropertiesFailAndCreateNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	with := func(k string, v any) map[string]any {
		p := clustertest.Properties(2)
		p[k] = v
		return p
	}
	cases := []struct {
		name  string
		props map[string]any
		field string
	}{
		{"one subnet", with("SubnetIds", []any{ec2.DefaultSubnetIDs[0]}), "SubnetIds"},
		{"subnets in one zone", with("SubnetIds", []any{ec2.DefaultSubnetIDs[0], ec2.DefaultSubnetIDs[0]}), "SubnetIds"},
		{"unknown subnet", with("SubnetIds", []any{ec2.DefaultSubnetIDs[0], "subnet-0fff000000000000f"}), "SubnetIds"},
		{"HsmCount 0", with("HsmCount", "0"), "HsmCount"},
		{"HsmCount 29", with("HsmCount", "29"), "HsmCount"},
		{"HsmCount not a number", with("HsmCount", "two"), "HsmCount"},
		{"unknown client instance", with("ClientInstanceId", "i-0123456789abcdef0"), "ClientInstanceId"},
		{"malformed secret name", with("AdminPasswordSecretName", "bad name!"), "AdminPasswordSecretName"},
		{"hsm1.medium", with("HsmType", "hsm1.medium"), "HsmType"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.env.Recorder.Records("cloudhsmv2", "CreateCluster"))
			out, err := r.dep.Create(r.ctx, "Bad", tc.props)
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != cloudformation.StatusFailed {
				t.Fatalf("answered %s; want FAILED", out.Status)
			}
			if !strings.Contains(out.Reason, tc.field) {
				t.Errorf("reason %q does not name %s", out.Reason, tc.field)
			}
			if out.Rollback == nil || out.Rollback.Status != cloudformation.StatusSuccess {
				t.Errorf("rollback delete = %+v; want SUCCESS", out.Rollback)
			}
			if n := len(r.env.Recorder.Records("cloudhsmv2", "CreateCluster")) - before; n != 0 {
				t.Errorf("%d CreateCluster calls; want none", n)
			}
			t.Logf("reason: %s", out.Reason)
		})
	}
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("%d clusters exist after bad creates", len(live))
	}
	if n := r.env.Recorder.Count("secretsmanager", "CreateSecret"); n != 0 {
		t.Errorf("%d secrets were created by bad creates", n)
	}
}
