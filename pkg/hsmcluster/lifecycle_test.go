package hsmcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmcluster/create"
	"github.com/strongroom/strongroom/pkg/hsmcluster/delete"
	"github.com/strongroom/strongroom/pkg/hsmcluster/describe"
	"github.com/strongroom/strongroom/pkg/hsmcluster/initialize"
	"github.com/strongroom/strongroom/pkg/hsmcluster/scale"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Describe reduces a cluster to what the state machines' Choice states test: counts per HSM state,
// HsmCount (existing or being created, DEGRADED included), AllHsmsActive (false while any live HSM
// is not ACTIVE, so a DEGRADED one is routed to a failure), and the ACTIVE HSMs' IPs in order.
func TestDescribeViews(t *testing.T) {
	type hsmRow struct {
		az    string
		state types.HsmState
	}
	cases := []struct {
		name  string
		state types.ClusterState
		hsms  []hsmRow
		csr   bool
		// want is filled in with ids and IPs of the HSMs (by index) by the test.
		want func(ids, ips []string) hsmcluster.ClusterView
	}{
		{"being created", types.ClusterStateCreateInProgress, nil, false, func(_, _ []string) hsmcluster.ClusterView {
			return hsmcluster.ClusterView{State: "CREATE_IN_PROGRESS", Hsms: []hsmcluster.HsmView{}, HsmIPs: []string{}}
		}},
		{"first HSM active, CSR ready", types.ClusterStateUninitialized, []hsmRow{{azA, types.HsmStateActive}}, true, func(ids, ips []string) hsmcluster.ClusterView {
			return hsmcluster.ClusterView{State: "UNINITIALIZED", HasCsr: true,
				Hsms:     []hsmcluster.HsmView{{HsmID: ids[0], AvailabilityZone: azA, SubnetID: subnetA, EniIP: ips[0], State: "ACTIVE"}},
				HsmCount: 1, ActiveHsms: 1, AllHsmsActive: true, FirstActiveHsmIP: ips[0], HsmIPs: []string{ips[0]}}
		}},
		{"every state at once", types.ClusterStateActive, []hsmRow{
			{azB, types.HsmStateActive}, {azA, types.HsmStateActive}, {azA, types.HsmStateCreateInProgress}, {azB, types.HsmStateDeleteInProgress}, {azB, types.HsmStateDegraded},
		}, false, func(ids, ips []string) hsmcluster.ClusterView {
			return hsmcluster.ClusterView{State: "ACTIVE",
				Hsms: []hsmcluster.HsmView{
					{HsmID: ids[0], AvailabilityZone: azB, SubnetID: subnetB, EniIP: ips[0], State: "ACTIVE"},
					{HsmID: ids[1], AvailabilityZone: azA, SubnetID: subnetA, EniIP: ips[1], State: "ACTIVE"},
					{HsmID: ids[2], AvailabilityZone: azA, SubnetID: subnetA, EniIP: ips[2], State: "CREATE_IN_PROGRESS"},
					{HsmID: ids[3], AvailabilityZone: azB, SubnetID: subnetB, EniIP: ips[3], State: "DELETE_IN_PROGRESS"},
					{HsmID: ids[4], AvailabilityZone: azB, SubnetID: subnetB, EniIP: ips[4], State: "DEGRADED"},
				},
				// 10.0.0.x sorts before 10.0.1.x: the zone-a HSM's address comes first.
				HsmCount: 4, ActiveHsms: 2, PendingHsms: 1, DeletingHsms: 1, DegradedHsms: 1, AllHsmsActive: false,
				FirstActiveHsmIP: ips[1], HsmIPs: []string{ips[1], ips[0]}}
		}},
		{"only a degraded HSM", types.ClusterStateDegraded, []hsmRow{{azA, types.HsmStateDegraded}}, false, func(ids, ips []string) hsmcluster.ClusterView {
			return hsmcluster.ClusterView{State: "DEGRADED",
				Hsms:     []hsmcluster.HsmView{{HsmID: ids[0], AvailabilityZone: azA, SubnetID: subnetA, EniIP: ips[0], State: "DEGRADED"}},
				HsmCount: 1, DegradedHsms: 1, HsmIPs: []string{}}
		}},
		{"active with one being removed", types.ClusterStateActive, []hsmRow{{azA, types.HsmStateActive}, {azB, types.HsmStateDeleteInProgress}}, false, func(ids, ips []string) hsmcluster.ClusterView {
			return hsmcluster.ClusterView{State: "ACTIVE",
				Hsms: []hsmcluster.HsmView{
					{HsmID: ids[0], AvailabilityZone: azA, SubnetID: subnetA, EniIP: ips[0], State: "ACTIVE"},
					{HsmID: ids[1], AvailabilityZone: azB, SubnetID: subnetB, EniIP: ips[1], State: "DELETE_IN_PROGRESS"},
				},
				HsmCount: 1, ActiveHsms: 1, DeletingHsms: 1, AllHsmsActive: true, FirstActiveHsmIP: ips[0], HsmIPs: []string{ips[0]}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hsm := newFakeCloudHSM()
			c := hsm.addCluster(tc.state, []string{subnetA, subnetB}, nil)
			var ids, ips []string
			for _, r := range tc.hsms {
				h := hsm.addHsm(c, r.az, r.state)
				ids, ips = append(ids, h.id), append(ips, h.ip)
			}
			if tc.csr {
				c.csr = clusterCSR()
			}
			got, err := (&describe.Describe{HSM: hsm}).Handle(context.Background(), hsmcluster.ClusterRef{ClusterID: c.id})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(ids, ips)
			want.ClusterID, want.Found, want.SecurityGroup, want.VpcID = c.id, true, c.securityGroup, vpcA
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("view =\n  %+v\nwant\n  %+v", got, want)
			}
		})
	}
}

// A cluster CloudHSM does not list is reported as DELETED and not Found (the delete loop ends on
// it), with empty lists rather than nulls; an empty id is a broken payload.
func TestDescribeMissingCluster(t *testing.T) {
	step := &describe.Describe{HSM: newFakeCloudHSM()}
	got, err := step.Handle(context.Background(), hsmcluster.ClusterRef{ClusterID: "cluster-zzzzzzzzzzz"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if want := `{"ClusterId":"cluster-zzzzzzzzzzz","Found":false,"State":"DELETED","SecurityGroup":"","HasCsr":false,"Hsms":[],"HsmCount":0,"ActiveHsms":0,"PendingHsms":0,"DeletingHsms":0,"DegradedHsms":0,"AllHsmsActive":false,"FirstActiveHsmIp":"","HsmIps":[]}`; string(b) != want {
		t.Fatalf("view = %s\nwant   %s", b, want)
	}
	_, err = step.Handle(context.Background(), hsmcluster.ClusterRef{})
	mustTerminal(t, err, "describe: ClusterId is empty in the workflow payload")
}

// testCA is one customer CA for the tests that need a certificate CloudHSM accepts.
var testCA = sync.OnceValue(func() *customerca.CA {
	key, err := customerca.NewKey(customerca.RSA2048)
	if err != nil {
		panic(err)
	}
	ca, err := customerca.NewCA(key, customerca.Options{Now: testNow})
	if err != nil {
		panic(err)
	}
	return ca
})

func signedFor(t *testing.T) (cert, anchor string) {
	t.Helper()
	c, err := testCA().Issue([]byte(clusterCSR()), 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return string(c), string(testCA().CertificatePEM())
}

func initInput(id, cert, anchor string) *cloudhsmv2.InitializeClusterInput {
	return &cloudhsmv2.InitializeClusterInput{ClusterId: aws.String(id), SignedCert: aws.String(cert), TrustAnchor: aws.String(anchor)}
}

// Initialize calls InitializeCluster once: a cluster already past UNINITIALIZED is left alone, and
// one in any other state is refused naming it.
func TestInitialize(t *testing.T) {
	cert, anchor := signedFor(t)
	cases := []struct {
		state    types.ClusterState
		wantCall bool
		wantErr  string
	}{
		{types.ClusterStateUninitialized, true, ""},
		{types.ClusterStateInitializeInProgress, false, ""},
		{types.ClusterStateInitialized, false, ""},
		{types.ClusterStateActive, false, ""},
		{types.ClusterStateDegraded, false, "is DEGRADED, not UNINITIALIZED"},
		{types.ClusterStateDeleteInProgress, false, "is DELETE_IN_PROGRESS, not UNINITIALIZED"},
	}
	for _, tc := range cases {
		t.Run(string(tc.state), func(t *testing.T) {
			hsm := newFakeCloudHSM()
			c := hsm.addCluster(tc.state, []string{subnetA, subnetB}, nil)
			c.csr = clusterCSR()
			step := &initialize.Initialize{HSM: hsm}
			in := initialize.InitializeInput{ClusterID: c.id, SignedCert: cert, TrustAnchor: anchor}
			out, err := step.Handle(context.Background(), in)
			if tc.wantErr != "" {
				mustTerminal(t, err, "initialize: cluster "+c.id+" "+tc.wantErr)
				return
			}
			if err != nil || out != (hsmcluster.ClusterRef{ClusterID: c.id}) {
				t.Fatalf("out = %+v, err = %v", out, err)
			}
			if called := len(hsm.calls) == 1; called != tc.wantCall {
				t.Fatalf("calls = %v; want InitializeCluster called: %v", hsm.calls, tc.wantCall)
			}
			if tc.wantCall {
				if aws.ToString(c.initialized.SignedCert) != cert || aws.ToString(c.initialized.TrustAnchor) != anchor {
					t.Fatal("InitializeCluster did not get the signed certificate and trust anchor")
				}
				// A retry does not initialize twice.
				if _, err := step.Handle(context.Background(), in); err != nil || len(hsm.calls) != 1 {
					t.Fatalf("retry: err %v, calls %v", err, hsm.calls)
				}
			}
		})
	}
	_, err := (&initialize.Initialize{HSM: newFakeCloudHSM()}).Handle(context.Background(), initialize.InitializeInput{ClusterID: "cluster-zzzzzzzzzzz"})
	mustTerminal(t, err, "initialize: cluster cluster-zzzzzzzzzzz no longer exists")
}

// A retry that still reads UNINITIALIZED after the earlier attempt's call went through is refused
// by CloudHSM and then finds the cluster initializing: success. A refusal of the certificate
// itself leaves the cluster UNINITIALIZED and fails with CloudHSM's message.
func TestInitializeRefusals(t *testing.T) {
	cert, anchor := signedFor(t)
	ctx := context.Background()

	hsm := newFakeCloudHSM()
	c := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil)
	c.csr = clusterCSR()
	hsm.freeze(c.id, 1)
	if _, err := hsm.InitializeCluster(ctx, initInput(c.id, cert, anchor)); err != nil { // the earlier attempt
		t.Fatal(err)
	}
	out, err := (&initialize.Initialize{HSM: hsm}).Handle(ctx, initialize.InitializeInput{ClusterID: c.id, SignedCert: cert, TrustAnchor: anchor})
	if err != nil || out.ClusterID != c.id || len(hsm.calls) != 1 {
		t.Fatalf("out %+v, err %v, calls %v", out, err, hsm.calls)
	}

	hsm = newFakeCloudHSM()
	c = hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil)
	c.csr = clusterCSR()
	_, err = (&initialize.Initialize{HSM: hsm}).Handle(ctx, initialize.InitializeInput{ClusterID: c.id, SignedCert: anchor, TrustAnchor: anchor})
	var te *lambdaerr.TerminalError
	if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "initialize cluster "+c.id+": Failed to validate the signed certificate: ") {
		t.Fatalf("err = %v", err)
	}
	if c.state != types.ClusterStateUninitialized {
		t.Fatalf("state %s", c.state)
	}
}

// DeleteCluster deletes only a cluster whose HSMs are all gone, is done at once for a
// PhysicalResourceId that names no cluster, keeps an adopted cluster, and treats a cluster that is
// already gone as deleted.
func TestDeleteCluster(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fakeCloudHSM) delete.DeleteInput
		want  func(id string) delete.DeleteOutput
		// wantErr is the RetryableError text ("" for none); wantCall whether DeleteCluster reached CloudHSM.
		wantErr  func(id string) string
		wantCall bool
		wantRead bool
	}{
		{"no resource was created", func(*fakeCloudHSM) delete.DeleteInput {
			return delete.DeleteInput{ClusterID: "strongroom-none-0f4b6c2e-req"}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id, Gone: true} }, nil, false, false},
		{"an id that is not a cluster id", func(*fakeCloudHSM) delete.DeleteInput {
			return delete.DeleteInput{ClusterID: "MyStack-Cluster-1ABCDEF"}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id, Gone: true} }, nil, false, false},
		{"adopted", func(f *fakeCloudHSM) delete.DeleteInput {
			c := f.addCluster(types.ClusterStateActive, []string{subnetA}, nil)
			return delete.DeleteInput{ClusterID: c.id, Adopted: true}
		}, func(id string) delete.DeleteOutput {
			return delete.DeleteOutput{ClusterID: id, Gone: true, Kept: true}
		}, nil, false, false},
		{"unknown cluster", func(*fakeCloudHSM) delete.DeleteInput {
			return delete.DeleteInput{ClusterID: "cluster-zzzzzzzzzzz"}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id, Gone: true} }, nil, false, true},
		{"already deleted", func(f *fakeCloudHSM) delete.DeleteInput {
			return delete.DeleteInput{ClusterID: f.addCluster(types.ClusterStateDeleted, []string{subnetA}, nil).id}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id, Gone: true} }, nil, false, true},
		{"being deleted", func(f *fakeCloudHSM) delete.DeleteInput {
			return delete.DeleteInput{ClusterID: f.addCluster(types.ClusterStateDeleteInProgress, []string{subnetA}, nil).id}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id} }, nil, false, true},
		{"no HSMs left", func(f *fakeCloudHSM) delete.DeleteInput {
			return delete.DeleteInput{ClusterID: f.addCluster(types.ClusterStateActive, []string{subnetA}, nil).id}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id} }, nil, true, true},
		{"an HSM is still being deleted", func(f *fakeCloudHSM) delete.DeleteInput {
			c := f.addCluster(types.ClusterStateActive, []string{subnetA}, nil)
			f.addHsm(c, azA, types.HsmStateDeleteInProgress)
			return delete.DeleteInput{ClusterID: c.id}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id} },
			func(id string) string {
				return "delete cluster " + id + ": HSM hsm-abcdefgaaac is still DELETE_IN_PROGRESS"
			}, false, true},
		{"CloudHSM has not settled the HSM deletions", func(f *fakeCloudHSM) delete.DeleteInput {
			c := f.addCluster(types.ClusterStateActive, []string{subnetA}, nil)
			f.inject("DeleteCluster", hsmInvalid("DeleteCluster", "Cluster '%s' still contains 1 HSM(s). Delete all HSMs in the cluster before deleting the cluster.", c.id))
			return delete.DeleteInput{ClusterID: c.id}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id} },
			func(id string) string {
				return "delete cluster " + id + ": Cluster '" + id + "' still contains 1 HSM(s). Delete all HSMs in the cluster before deleting the cluster."
			}, false, true},
		{"deleted meanwhile", func(f *fakeCloudHSM) delete.DeleteInput {
			c := f.addCluster(types.ClusterStateActive, []string{subnetA}, nil)
			f.inject("DeleteCluster", hsmNotFound("DeleteCluster", "Cluster '%s' not found.", c.id))
			return delete.DeleteInput{ClusterID: c.id}
		}, func(id string) delete.DeleteOutput { return delete.DeleteOutput{ClusterID: id, Gone: true} }, nil, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hsm := newFakeCloudHSM()
			in := tc.setup(hsm)
			out, err := (&delete.DeleteCluster{HSM: hsm}).Handle(context.Background(), in)
			if tc.wantErr != nil {
				mustRetryable(t, err, tc.wantErr(in.ClusterID))
			} else if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(in.ClusterID); !reflect.DeepEqual(out, want) {
				t.Fatalf("out = %+v; want %+v", out, want)
			}
			if called := len(hsm.calls) > 0; called != tc.wantCall {
				t.Fatalf("calls %v; want DeleteCluster called: %v", hsm.calls, tc.wantCall)
			}
			if read := hsm.describes > 0; read != tc.wantRead {
				t.Fatalf("%d describes; want CloudHSM read: %v", hsm.describes, tc.wantRead)
			}
		})
	}
}

// Two attempts of the create step that ran at once (a timed-out invocation whose CreateCluster
// landed after its retry had looked) made two clusters for one request. The create step answers
// with the oldest, every time; the delete step removes the other: alone in the create workflow
// (DuplicatesOnly, waiting while it is still being created), and before the cluster itself in the
// delete workflow. A duplicate with HSMs is refused, naming them; clusters of other requests and
// clusters without a request tag are never touched.
func TestDuplicateClustersOfARequest(t *testing.T) {
	ctx := context.Background()
	hsm := newFakeCloudHSM()
	hsm.pageSize = 1
	req := map[string]string{hsmcluster.TagRequest: "req-1"}
	first := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, req)
	other := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagRequest: "req-2"})
	untagged := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil)
	second := hsm.addCluster(types.ClusterStateCreateInProgress, []string{subnetA, subnetB}, req)

	for range 2 {
		out, err := (&create.CreateCluster{HSM: hsm}).Handle(ctx, create.CreateInput{Event: eventRef("req-1"), Spec: specOf(t, valid)})
		if err != nil || out.ClusterID != first.id {
			t.Fatalf("create retried: %+v %v; want the oldest cluster of the request, %s", out, err, first.id)
		}
	}
	del := &delete.DeleteCluster{HSM: hsm}
	// The create workflow, once its cluster is UNINITIALIZED, removes the duplicate.
	// While the duplicate is still being created, the step says so and the workflow waits (the
	// delete workflow's step, which does not wait itself, is retried instead).
	if out, err := del.Handle(ctx, delete.DeleteInput{ClusterID: first.id, DuplicatesOnly: true}); err != nil ||
		!reflect.DeepEqual(out, delete.DeleteOutput{ClusterID: first.id, Waiting: true}) {
		t.Fatalf("duplicates only, duplicate CREATE_IN_PROGRESS: %+v %v; want Waiting", out, err)
	}
	_, err := del.Handle(ctx, delete.DeleteInput{ClusterID: first.id})
	mustRetryable(t, err, "delete duplicate cluster "+second.id+" of "+first.id+": it is still CREATE_IN_PROGRESS")
	if len(hsm.calls) != 0 {
		t.Fatalf("calls = %v before the duplicate is deletable; want none", hsm.calls)
	}
	hsm.settle()
	out, err := del.Handle(ctx, delete.DeleteInput{ClusterID: first.id, DuplicatesOnly: true})
	if err != nil || !reflect.DeepEqual(out, delete.DeleteOutput{ClusterID: first.id, Duplicates: []string{second.id}}) {
		t.Fatalf("duplicates only: %+v %v", out, err)
	}
	if want := []string{"DeleteCluster " + second.id}; !reflect.DeepEqual(hsm.calls, want) {
		t.Fatalf("calls = %v; want %v (the cluster itself, other requests' and untagged clusters kept)", hsm.calls, want)
	}
	hsm.settle()
	if out, err := del.Handle(ctx, delete.DeleteInput{ClusterID: first.id, DuplicatesOnly: true}); err != nil || len(out.Duplicates) != 0 {
		t.Fatalf("duplicates only, again: %+v %v; want nothing left to do", out, err)
	}

	// The delete workflow: a duplicate that appeared later goes first, then the cluster.
	third := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, req)
	out, err = del.Handle(ctx, delete.DeleteInput{ClusterID: first.id})
	if err != nil || !reflect.DeepEqual(out, delete.DeleteOutput{ClusterID: first.id, Duplicates: []string{third.id}}) {
		t.Fatalf("delete: %+v %v", out, err)
	}
	if want := []string{"DeleteCluster " + second.id, "DeleteCluster " + third.id, "DeleteCluster " + first.id}; !reflect.DeepEqual(hsm.calls, want) {
		t.Fatalf("calls = %v; want %v", hsm.calls, want)
	}
	for _, c := range []*fakeCluster{other, untagged} {
		if c.state != types.ClusterStateUninitialized {
			t.Fatalf("cluster %s of another request (or none) is %s", c.id, c.state)
		}
	}

	// A duplicate holding an HSM is refused with what to do.
	withHsm := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagRequest: "req-3"})
	dup := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, map[string]string{hsmcluster.TagRequest: "req-3"})
	h := hsm.addHsm(dup, azA, types.HsmStateActive)
	_, err = del.Handle(ctx, delete.DeleteInput{ClusterID: withHsm.id})
	if errType(err) != lambdaerr.NameTerminal || !strings.Contains(err.Error(), "delete duplicate cluster "+dup.id) ||
		!strings.Contains(err.Error(), h.id) || !strings.Contains(err.Error(), "aws cloudhsmv2 delete-hsm") {
		t.Fatalf("duplicate with an HSM: %v (%s); want a terminal error naming it, its HSM and the fix", err, errType(err))
	}
}

// The delete workflow's order (statemachines/cluster-delete.asl.json): remove every HSM with
// Scale{Target: 0}, poll until they are gone, then delete the cluster, then poll until DELETED.
// DeleteCluster refuses (retryably) while an HSM remains, so the cluster is never deleted first.
func TestDeleteRemovesHsmsBeforeTheCluster(t *testing.T) {
	ctx := context.Background()
	hsm := newFakeCloudHSM()
	c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, nil)
	a, b := hsm.addHsm(c, azA, types.HsmStateActive), hsm.addHsm(c, azB, types.HsmStateActive)
	del := &delete.DeleteCluster{HSM: hsm}

	if _, err := del.Handle(ctx, delete.DeleteInput{ClusterID: c.id}); errType(err) != lambdaerr.NameRetryable {
		t.Fatalf("delete with active HSMs: %v", err)
	}
	if _, err := (&scale.Scale{HSM: hsm}).Handle(ctx, scale.ScaleInput{ClusterID: c.id, Target: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := del.Handle(ctx, delete.DeleteInput{ClusterID: c.id}); errType(err) != lambdaerr.NameRetryable {
		t.Fatalf("delete while HSMs are being deleted: %v", err)
	}
	hsm.settle()
	out, err := del.Handle(ctx, delete.DeleteInput{ClusterID: c.id})
	if err != nil || out.Gone {
		t.Fatalf("delete of an empty cluster: %+v %v", out, err)
	}
	hsm.settle()
	out, err = del.Handle(ctx, delete.DeleteInput{ClusterID: c.id})
	if err != nil || !out.Gone {
		t.Fatalf("after CloudHSM finished: %+v %v", out, err)
	}
	if want := []string{"DeleteHsm " + a.id, "DeleteHsm " + b.id, "DeleteCluster " + c.id}; !reflect.DeepEqual(hsm.calls, want) {
		t.Fatalf("calls = %v; want %v", hsm.calls, want)
	}
}
