package clustertest_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/clustertest"
)

// TestUpdateAppliesBackupRetentionAndTags: an Update that changes BackupRetentionDays and Tags
// (and no HSM count) reaches the cluster: the retention policy is the new one, a changed tag has
// its new value, a tag the old properties set and the new ones drop is removed, and tags the
// properties never set (Strongroom's own, one added outside the stack) are kept. Before the
// cluster-settings step, such an update answered SUCCESS and changed nothing.
func TestUpdateAppliesBackupRetentionAndTags(t *testing.T) {
	t.Parallel()
	r := newRig(t, clustertest.Options{})
	props := clustertest.Properties(2)
	props["BackupRetentionDays"] = "90"
	props["Tags"] = map[string]any{"team": "hsm", "owner": "security"}
	out, err := r.dep.Create(r.ctx, "Cluster", props)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "create", out)
	id := out.PhysicalResourceID
	// A tag someone else put on the cluster.
	if _, err := r.hsm.TagResource(r.ctx, &cloudhsmv2.TagResourceInput{ResourceId: aws.String(id),
		TagList: []types.Tag{{Key: aws.String("org:cost-center"), Value: aws.String("42")}}}); err != nil {
		t.Fatal(err)
	}

	next := maps.Clone(props)
	next["BackupRetentionDays"] = "30"
	next["Tags"] = []any{map[string]any{"Key": "team", "Value": "keys"}, map[string]any{"Key": "env", "Value": "prod"}}
	up, err := r.dep.Update(r.ctx, "Cluster", id, props, next)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "update", up)
	c := r.cluster(t, id)
	if p := c.BackupRetentionPolicy; p == nil || aws.ToString(p.Value) != "30" || p.Type != types.BackupRetentionTypeDays {
		t.Errorf("backup retention after the update = %+v; want 30 DAYS", p)
	}
	tags := map[string]string{}
	for _, tg := range c.TagList {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	for k, want := range map[string]string{"team": "keys", "env": "prod", "org:cost-center": "42"} {
		if tags[k] != want {
			t.Errorf("tag %s = %q; want %q (tags %v)", k, tags[k], want, tags)
		}
	}
	if _, ok := tags["owner"]; ok {
		t.Errorf("tag owner, dropped from the properties, is still on the cluster: %v", tags)
	}
	if tags[hsmcluster.TagImmutable] == "" || tags[hsmcluster.TagRequest] == "" {
		t.Errorf("Strongroom's own tags were touched: %v", tags)
	}
	if len(c.Hsms) != 2 {
		t.Errorf("%d HSMs after a settings-only update; want 2", len(c.Hsms))
	}

	// A reserved tag key is refused at the entry, naming the property.
	bad := maps.Clone(next)
	bad["Tags"] = map[string]any{hsmcluster.TagImmutable: "forged"}
	refused, err := r.dep.Update(r.ctx, "Cluster", id, next, bad)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Status != cloudformation.StatusFailed || !strings.Contains(refused.Reason, "Tags."+hsmcluster.TagImmutable) {
		t.Errorf("update with a strongroom: tag answered %s %q; want FAILED naming the tag", refused.Status, refused.Reason)
	}

	del, err := r.dep.Delete(r.ctx, "Cluster", id, next)
	if err != nil {
		t.Fatal(err)
	}
	requireSuccess(t, "delete", del)
}
