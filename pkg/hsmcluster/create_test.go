package hsmcluster_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmcluster/create"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// eventRef is the event part the create step receives (statemachines/cluster-create.asl.json
// passes RequestType, RequestId, StackId and LogicalResourceId).
func eventRef(requestID string) hsmcluster.EventRef {
	return hsmcluster.EventRef{RequestType: cfn.RequestCreate, RequestID: requestID, StackID: stackARN, LogicalResourceID: "Cluster"}
}

// specOf parses props (JSON) as the check step does for the test stack.
func specOf(t *testing.T, js string) hsmcluster.Spec {
	t.Helper()
	s, err := hsmcluster.SpecOf(eventRef("r"), props(t, js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const tagged = `{"SubnetIds":["subnet-0123456789abcdef1","subnet-0123456789abcdef0"],"ClientInstanceId":"i-0123456789abcdef0","Tags":{"team":"hsm","owner":"sec"}}`

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// CreateCluster creates one cluster with the spec's settings, tagged with the stack, the logical
// id, the request id (to find it again) and the immutable-properties hash (to judge updates
// against), followed by the user's tags in key order.
func TestCreateClusterCreatesOnceWithTags(t *testing.T) {
	ctx := context.Background()
	hsm := newFakeCloudHSM()
	spec := specOf(t, tagged)
	step := &create.CreateCluster{HSM: hsm}
	out, err := step.Handle(ctx, create.CreateInput{Event: eventRef("req-1"), Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if len(hsm.clusters) != 1 {
		t.Fatalf("%d clusters; want 1", len(hsm.clusters))
	}
	c := hsm.clusters[0]
	if want := (create.CreateOutput{ClusterID: c.id}); out != want {
		t.Fatalf("out = %+v; want %+v", out, want)
	}
	in := c.created
	if !reflect.DeepEqual(in.SubnetIds, []string{subnetB, subnetA}) || aws.ToString(in.HsmType) != "hsm2m.medium" || in.Mode != types.ClusterModeFips ||
		in.NetworkType != types.NetworkTypeIpv4 || in.SourceBackupId != nil ||
		in.BackupRetentionPolicy == nil || in.BackupRetentionPolicy.Type != types.BackupRetentionTypeDays || aws.ToString(in.BackupRetentionPolicy.Value) != "90" {
		t.Fatalf("CreateCluster input: %+v", in)
	}
	wantTags := []types.Tag{
		tag(hsmcluster.TagStack, stackARN), tag(hsmcluster.TagLogical, "Cluster"), tag(hsmcluster.TagRequest, "req-1"),
		tag(hsmcluster.TagImmutable, hsmcluster.ImmutableHash(spec)), tag("owner", "sec"), tag("team", "hsm"),
	}
	if !reflect.DeepEqual(in.TagList, wantTags) {
		t.Fatalf("tags = %v; want %v", in.TagList, wantTags)
	}
	// Another request (a second resource, or a replacement) gets its own cluster.
	if out2, err := step.Handle(ctx, create.CreateInput{Event: eventRef("req-2"), Spec: spec}); err != nil || out2.ClusterID == out.ClusterID || len(hsm.clusters) != 2 {
		t.Fatalf("second request: %+v %v (%d clusters)", out2, err, len(hsm.clusters))
	}
}

// A create step retried after its CreateCluster went through (the response was lost) finds the
// cluster by the request tag, even pages into the account's cluster list, instead of making a
// second one.
func TestCreateClusterRetryFindsTheClusterByRequestTag(t *testing.T) {
	ctx := context.Background()
	hsm := newFakeCloudHSM()
	hsm.pageSize = 1
	hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagRequest: "other-request"})
	hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, nil)
	step := &create.CreateCluster{HSM: hsm}
	in := create.CreateInput{Event: eventRef("req-1"), Spec: specOf(t, valid)}

	hsm.loseNext("CreateCluster")
	_, err := step.Handle(ctx, in)
	if err == nil || errType(err) != lambdaerr.NameRetryable {
		t.Fatalf("lost response: err = %v (%s); want one the state machine retries", err, errType(err))
	}
	out, err := step.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(hsm.clusters) != 3 || out.ClusterID != hsm.clusters[2].id {
		t.Fatalf("retry made %d clusters, answered %q; want the one made by the first attempt, %q", len(hsm.clusters), out.ClusterID, hsm.clusters[2].id)
	}
	if want := []string{"CreateCluster " + out.ClusterID}; !reflect.DeepEqual(hsm.calls, want) {
		t.Fatalf("calls = %v; want %v", hsm.calls, want)
	}
}

// Only a cluster that is not being deleted counts as this request's cluster.
func TestCreateClusterIgnoresDeletedClustersOfTheRequest(t *testing.T) {
	for _, tc := range []struct {
		state   types.ClusterState
		reuse   bool
		restore bool
	}{
		{types.ClusterStateCreateInProgress, true, false},
		{types.ClusterStateUninitialized, true, false},
		{types.ClusterStateActive, true, true},
		{types.ClusterStateDeleteInProgress, false, false},
		{types.ClusterStateDeleted, false, false},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			hsm := newFakeCloudHSM()
			old := hsm.addCluster(tc.state, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagRequest: "req-1"})
			spec := specOf(t, valid)
			if tc.restore {
				spec.SourceBackupID = "backup-abcdefghijk"
			}
			out, err := (&create.CreateCluster{HSM: hsm}).Handle(context.Background(), create.CreateInput{Event: eventRef("req-1"), Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			if reused := out.ClusterID == old.id; reused != tc.reuse || out.Restored != tc.restore {
				t.Fatalf("out = %+v (old %s); want reuse=%v restored=%v", out, old.id, tc.reuse, tc.restore)
			}
			if wantClusters := map[bool]int{true: 1, false: 2}[tc.reuse]; len(hsm.clusters) != wantClusters {
				t.Fatalf("%d clusters; want %d", len(hsm.clusters), wantClusters)
			}
		})
	}
}

func TestCreateClusterRestoresABackup(t *testing.T) {
	hsm := newFakeCloudHSM()
	spec := specOf(t, valid)
	spec.SourceBackupID = "backup-abcdefghijk"
	out, err := (&create.CreateCluster{HSM: hsm}).Handle(context.Background(), create.CreateInput{Event: eventRef("req-1"), Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Restored || out.Adopted || aws.ToString(hsm.clusters[0].created.SourceBackupId) != "backup-abcdefghijk" {
		t.Fatalf("out = %+v, SourceBackupId %v", out, hsm.clusters[0].created.SourceBackupId)
	}
}

// The ClusterId property adopts an existing cluster: nothing is created, and a cluster that is
// gone is refused naming the property.
func TestCreateClusterAdopts(t *testing.T) {
	hsm := newFakeCloudHSM()
	active := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, nil)
	deleting := hsm.addCluster(types.ClusterStateDeleteInProgress, []string{subnetA, subnetB}, nil)
	deleted := hsm.addCluster(types.ClusterStateDeleted, []string{subnetA, subnetB}, nil)
	step := &create.CreateCluster{HSM: hsm}
	adopt := func(id string) (create.CreateOutput, error) {
		return step.Handle(context.Background(), create.CreateInput{Event: eventRef("req-1"), Spec: hsmcluster.Spec{ClusterID: id}})
	}
	if out, err := adopt(active.id); err != nil || out != (create.CreateOutput{ClusterID: active.id, Adopted: true}) {
		t.Fatalf("adopt: %+v %v", out, err)
	}
	for _, id := range []string{deleting.id, deleted.id, "cluster-zzzzzzzzzzz"} {
		_, err := adopt(id)
		mustTerminal(t, err, "ClusterId: cluster "+id+" does not exist (or is being deleted) in this account and region")
	}
	if len(hsm.calls) != 0 || len(hsm.clusters) != 3 {
		t.Fatalf("adoption changed the account: %v", hsm.calls)
	}
}

// CloudHSM's refusals of CreateCluster are terminal with CloudHSM's message; throttling is left
// for the boundary, which makes it retryable.
func TestCreateClusterRefusals(t *testing.T) {
	const denied = "User is not authorized to perform cloudhsm:CreateCluster"
	cases := []struct {
		name     string
		mutate   func(*hsmcluster.Spec, *fakeCloudHSM)
		wantType string
		wantText string
	}{
		{"subnet CloudHSM cannot use", func(s *hsmcluster.Spec, _ *fakeCloudHSM) { s.SubnetIDs = []string{subnetA, "subnet-0123456789abcdef9"} },
			lambdaerr.NameTerminal, "create cluster: Subnet 'subnet-0123456789abcdef9' not found."},
		{"two subnets in one zone", func(s *hsmcluster.Spec, _ *fakeCloudHSM) { s.SubnetIDs = []string{subnetA, subnetA2} },
			lambdaerr.NameTerminal, "create cluster: Only one subnet per Availability Zone is allowed (us-east-1a)."},
		{"access denied", func(_ *hsmcluster.Spec, f *fakeCloudHSM) {
			f.inject("CreateCluster", sdkError("CloudHSM V2", "CreateCluster", 400, &types.CloudHsmAccessDeniedException{Message: aws.String(denied)}))
		}, lambdaerr.NameTerminal, "create cluster: " + denied},
		{"tag refused", func(_ *hsmcluster.Spec, f *fakeCloudHSM) {
			f.inject("CreateCluster", sdkError("CloudHSM V2", "CreateCluster", 400, &types.CloudHsmTagException{Message: aws.String("Tag key is invalid")}))
		}, lambdaerr.NameTerminal, "create cluster: Tag key is invalid"},
		{"throttled", func(_ *hsmcluster.Spec, f *fakeCloudHSM) {
			f.inject("CreateCluster", throttled("CloudHSM V2", "CreateCluster"))
		},
			lambdaerr.NameRetryable, ""},
		{"service exception", func(_ *hsmcluster.Spec, f *fakeCloudHSM) {
			// CloudHSM names no cause the caller could fix; a retry finds the cluster by its tag.
			f.inject("CreateCluster", sdkError("CloudHSM V2", "CreateCluster", 400, &types.CloudHsmServiceException{Message: aws.String("The request was rejected because an error occurred.")}))
		}, lambdaerr.NameRetryable, ""},
		{"internal failure", func(_ *hsmcluster.Spec, f *fakeCloudHSM) {
			f.inject("CreateCluster", sdkError("CloudHSM V2", "CreateCluster", 500, &types.CloudHsmInternalFailureException{Message: aws.String("internal failure")}))
		}, lambdaerr.NameRetryable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hsm := newFakeCloudHSM()
			spec := specOf(t, valid)
			tc.mutate(&spec, hsm)
			_, err := (&create.CreateCluster{HSM: hsm}).Handle(context.Background(), create.CreateInput{Event: eventRef("req-1"), Spec: spec})
			if errType(err) != tc.wantType {
				t.Fatalf("err = %v classified %s; want %s", err, errType(err), tc.wantType)
			}
			if tc.wantType == lambdaerr.NameTerminal {
				mustTerminal(t, err, tc.wantText)
			}
			if len(hsm.clusters) != 0 {
				t.Fatalf("a refused create left %d clusters", len(hsm.clusters))
			}
		})
	}
}

func TestCreateClusterNeedsTheRequestID(t *testing.T) {
	hsm := newFakeCloudHSM()
	_, err := (&create.CreateCluster{HSM: hsm}).Handle(context.Background(), create.CreateInput{Event: eventRef(""), Spec: specOf(t, valid)})
	mustTerminal(t, err, "create cluster: the workflow payload has no Event.RequestId")
	if hsm.describes != 0 || len(hsm.clusters) != 0 {
		t.Fatal("called CloudHSM without a request id to tag with")
	}
}

// Listing the account's clusters to find the request's cluster is classified like any read.
func TestCreateClusterListFailure(t *testing.T) {
	hsm := newFakeCloudHSM()
	hsm.inject("DescribeClusters", sdkError("CloudHSM V2", "DescribeClusters", 400, &types.CloudHsmServiceException{Message: aws.String("The request was rejected because an error occurred.")}))
	_, err := (&create.CreateCluster{HSM: hsm}).Handle(context.Background(), create.CreateInput{Event: eventRef("req-1"), Spec: specOf(t, valid)})
	mustRetryable(t, err, "list clusters to find those of create request req-1: The request was rejected because an error occurred.")
	if len(hsm.clusters) != 0 {
		t.Fatal("created a cluster without knowing whether the request already had one")
	}
}
