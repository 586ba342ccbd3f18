package clustertest_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestNonFipsDualStack runs a NON_FIPS, DUALSTACK cluster end to end, in one lifecycle to keep
// make test short: a Create in subnets without IPv6 blocks is refused by the check step before
// anything exists, naming NetworkType; once the subnets have IPv6 blocks (as the cluster stack's
// VPC has with strongroom:clusterNetworkType DUALSTACK), the Create reaches ACTIVE with two HSMs,
// each with an IPv4 and an IPv6 address, in a NON_FIPS cluster whose backups are NON_FIPS too
// (a backup restores only into a cluster of its mode); the Delete removes it.
func TestNonFipsDualStack(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	props := clustertest.Properties(2)
	props["Mode"] = "NON_FIPS"
	props["NetworkType"] = "DUALSTACK"

	refused, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Status != cloudformation.StatusFailed || !strings.Contains(refused.Reason, "NetworkType: DUALSTACK needs subnets with an IPv6 CIDR block") {
		t.Fatalf("DUALSTACK in IPv4-only subnets answered %s %q; want FAILED naming NetworkType and IPv6", refused.Status, refused.Reason)
	}
	if live := r.liveClusters(t); len(live) != 0 {
		t.Fatalf("the refused create left %d clusters", len(live))
	}

	for _, id := range ec2.DefaultSubnetIDs {
		if _, err := r.env.Sandbox.EC2.AddSubnetIPv6(id); err != nil {
			t.Fatal(err)
		}
	}
	out, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "create", out)
	id := out.PhysicalResourceID
	c := r.cluster(t, id)
	if c.State != types.ClusterStateActive || c.Mode != types.ClusterModeNonFips || c.NetworkType != types.NetworkTypeDualstack {
		t.Errorf("cluster %s is %s, Mode %s, NetworkType %s; want ACTIVE, NON_FIPS, DUALSTACK", id, c.State, c.Mode, c.NetworkType)
	}
	if active, zones := hsmZones(c); active != 2 || len(zones) != 2 {
		t.Errorf("%d ACTIVE HSMs in zones %v; want 2 in 2 zones", active, zones)
	}
	for _, h := range c.Hsms {
		if aws.ToString(h.EniIp) == "" || !strings.Contains(aws.ToString(h.EniIpV6), ":") {
			t.Errorf("HSM %s: EniIp %q, EniIpV6 %q; want an IPv4 and an IPv6 address", aws.ToString(h.HsmId), aws.ToString(h.EniIp), aws.ToString(h.EniIpV6))
		}
	}
	backups, err := r.hsm.DescribeBackups(r.ctx, &cloudhsmv2.DescribeBackupsInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(backups.Backups) == 0 {
		t.Errorf("no backup of the activated cluster %s", id)
	}
	for _, b := range backups.Backups {
		if b.Mode != types.ClusterModeNonFips {
			t.Errorf("backup %s of the NON_FIPS cluster is %s", aws.ToString(b.BackupId), b.Mode)
		}
	}

	del, err := r.dep.Delete(r.ctx, "Cluster", id, props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete", del)
	if live := r.liveClusters(t); len(live) != 0 {
		t.Errorf("after delete %d clusters remain", len(live))
	}
}
