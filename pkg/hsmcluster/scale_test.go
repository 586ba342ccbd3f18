package hsmcluster_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmcluster/scale"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

type hsmSeed struct {
	az    string
	state types.HsmState
}

const (
	azA = "us-east-1a"
	azB = "us-east-1b"
	azC = "us-east-1c"
)

// Scale places a new HSM in the zone with the fewest (ties by zone name), removes from the zone
// with the most (a not-ACTIVE HSM first, else the highest id), counts DEGRADED HSMs as present and
// those being deleted as gone, and does nothing more when run again.
func TestScalePlacesAndConverges(t *testing.T) {
	cases := []struct {
		name    string
		state   types.ClusterState
		subnets []string
		seed    []hsmSeed
		target  int
		created []string // zones of the HSMs created, in order
		deleted []int    // seed indexes of the HSMs deleted, in order
	}{
		{"first HSM of a new cluster", types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil, 1, []string{azA}, nil},
		{"up to three over two zones", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateActive}}, 3, []string{azB, azA}, nil},
		{"up fills the emptiest zone first", types.ClusterStateActive, []string{subnetA, subnetB, subnetC},
			[]hsmSeed{{azA, types.HsmStateActive}, {azA, types.HsmStateActive}, {azB, types.HsmStateActive}}, 5, []string{azC, azB}, nil},
		{"an HSM being deleted is not counted", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateActive}, {azB, types.HsmStateDeleteInProgress}}, 2, []string{azB}, nil},
		{"down from the fullest zone, highest id first", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateActive}, {azA, types.HsmStateActive}, {azB, types.HsmStateActive}}, 1, nil, []int{1, 0}},
		{"a degraded HSM is removed before an active one", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateActive}, {azB, types.HsmStateActive}, {azB, types.HsmStateDegraded}}, 2, nil, []int{2}},
		{"a pending HSM is removed before an active one with a higher id", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateCreateInProgress}, {azA, types.HsmStateActive}, {azB, types.HsmStateActive}}, 2, nil, []int{0}},
		{"down to zero", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateActive}, {azB, types.HsmStateActive}}, 0, nil, []int{0, 1}},
		{"a degraded HSM counts toward the target", types.ClusterStateActive, []string{subnetA, subnetB},
			[]hsmSeed{{azA, types.HsmStateActive}, {azB, types.HsmStateDegraded}}, 2, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			hsm := newFakeCloudHSM()
			c := hsm.addCluster(tc.state, tc.subnets, nil)
			var seeded []string
			for _, s := range tc.seed {
				seeded = append(seeded, hsm.addHsm(c, s.az, s.state).id)
			}
			step := &scale.Scale{HSM: hsm}
			out, err := step.Handle(ctx, scale.ScaleInput{ClusterID: c.id, Target: tc.target})
			if err != nil {
				t.Fatal(err)
			}
			var wantCalls, wantDeleted []string
			for _, az := range tc.created {
				wantCalls = append(wantCalls, "CreateHsm "+az)
			}
			for _, i := range tc.deleted {
				wantCalls = append(wantCalls, "DeleteHsm "+seeded[i])
				wantDeleted = append(wantDeleted, seeded[i])
			}
			if !reflect.DeepEqual(hsm.calls, wantCalls) {
				t.Fatalf("calls = %v; want %v", hsm.calls, wantCalls)
			}
			var createdIDs []string
			for _, h := range c.hsms[len(tc.seed):] {
				createdIDs = append(createdIDs, h.id)
			}
			want := scale.ScaleOutput{ClusterID: c.id, Created: append([]string{}, createdIDs...), Deleted: append([]string{}, wantDeleted...), HsmCount: tc.target}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("out = %+v; want %+v", out, want)
			}
			// Run again before and after CloudHSM finishes: nothing more happens.
			for _, settle := range []bool{false, true} {
				if settle {
					hsm.settle()
				}
				again, err := step.Handle(ctx, scale.ScaleInput{ClusterID: c.id, Target: tc.target})
				if err != nil {
					t.Fatal(err)
				}
				if want := (scale.ScaleOutput{ClusterID: c.id, Created: []string{}, Deleted: []string{}, HsmCount: tc.target}); !reflect.DeepEqual(again, want) {
					t.Fatalf("re-run (settled %v) = %+v; want %+v", settle, again, want)
				}
			}
			if len(hsm.calls) != len(wantCalls) {
				t.Fatalf("re-runs called CloudHSM: %v", hsm.calls[len(wantCalls):])
			}
		})
	}
}

func TestScaleRefusesWhatItCannotDo(t *testing.T) {
	hsm := newFakeCloudHSM()
	noSubnets := hsm.addCluster(types.ClusterStateActive, nil, nil)
	step := &scale.Scale{HSM: hsm}

	_, err := step.Handle(context.Background(), scale.ScaleInput{ClusterID: noSubnets.id, Target: -1})
	mustTerminal(t, err, "scale: Target -1 is negative")
	if hsm.describes != 0 {
		t.Fatal("a negative target reached CloudHSM")
	}
	_, err = step.Handle(context.Background(), scale.ScaleInput{ClusterID: "cluster-zzzzzzzzzzz", Target: 1})
	mustTerminal(t, err, "scale: cluster cluster-zzzzzzzzzzz no longer exists")
	_, err = step.Handle(context.Background(), scale.ScaleInput{ClusterID: noSubnets.id, Target: 1})
	mustTerminal(t, err, "scale: cluster "+noSubnets.id+" has no subnets to place HSMs in")
}

// A retried scale step whose earlier attempt's CreateHsm went through may not see that HSM yet
// (CloudHSM reads are eventually consistent); CloudHSM then refuses a second HSM in the
// uninitialized cluster, and the step looks again instead of failing or adding another.
func TestScaleRetryAfterAnUnseenCreate(t *testing.T) {
	ctx := context.Background()
	hsm := newFakeCloudHSM()
	c := hsm.addCluster(types.ClusterStateUninitialized, []string{subnetA, subnetB}, nil)
	step := &scale.Scale{HSM: hsm}

	hsm.loseNext("CreateHsm")
	if _, err := step.Handle(ctx, scale.ScaleInput{ClusterID: c.id, Target: 1}); errType(err) != lambdaerr.NameRetryable {
		t.Fatalf("lost CreateHsm response: %v (%s)", err, errType(err))
	}
	// The retry's first describe still shows the cluster without the HSM.
	h := c.hsms[0]
	c.hsms = nil
	hsm.freeze(c.id, 1)
	c.hsms = []*fakeHsm{h}

	out, err := step.Handle(ctx, scale.ScaleInput{ClusterID: c.id, Target: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := (scale.ScaleOutput{ClusterID: c.id, Created: []string{}, Deleted: []string{}, HsmCount: 1}); !reflect.DeepEqual(out, want) {
		t.Fatalf("out = %+v; want %+v", out, want)
	}
	if len(c.hsms) != 1 {
		t.Fatalf("%d HSMs; want the one the first attempt made", len(c.hsms))
	}
}

// A delete of an HSM CloudHSM no longer has (a stale describe listed it) counts as done.
func TestScaleDeleteOfAnHsmAlreadyGone(t *testing.T) {
	hsm := newFakeCloudHSM()
	c := hsm.addCluster(types.ClusterStateActive, []string{subnetA, subnetB}, nil)
	h := hsm.addHsm(c, azA, types.HsmStateActive)
	hsm.freeze(c.id, 1)
	c.hsms = nil
	out, err := (&scale.Scale{HSM: hsm}).Handle(context.Background(), scale.ScaleInput{ClusterID: c.id, Target: 0})
	if err != nil {
		t.Fatal(err)
	}
	if want := (scale.ScaleOutput{ClusterID: c.id, Created: []string{}, Deleted: []string{h.id}, HsmCount: 0}); !reflect.DeepEqual(out, want) {
		t.Fatalf("out = %+v; want %+v", out, want)
	}
}

// CloudHSM's refusals are terminal with its message; its generic service exception is retried;
// throttling and quota errors are left to the boundary (throttling retryable, the quota not).
func TestScaleClassifiesCloudHSMErrors(t *testing.T) {
	svc := func(op string) error {
		return sdkError("CloudHSM V2", op, 400, &types.CloudHsmServiceException{Message: aws.String("The request was rejected because an error occurred.")})
	}
	cases := []struct {
		name   string
		state  types.ClusterState
		seed   []hsmSeed
		target int
		inject func(*fakeCloudHSM)
		check  func(t *testing.T, id string, out scale.ScaleOutput, err error)
	}{
		{"second HSM before activation", types.ClusterStateInitialized, []hsmSeed{{azA, types.HsmStateActive}}, 2, nil,
			func(t *testing.T, id string, out scale.ScaleOutput, err error) {
				mustTerminal(t, err, "create HSM in us-east-1b for cluster "+id+": Cluster '"+id+"' already contains an HSM but has not yet been fully activated")
				if len(out.Created) != 0 {
					t.Fatalf("out = %+v", out)
				}
			}},
		{"service exception on create", types.ClusterStateActive, nil, 1, func(f *fakeCloudHSM) { f.inject("CreateHsm", svc("CreateHsm")) },
			func(t *testing.T, id string, _ scale.ScaleOutput, err error) {
				mustRetryable(t, err, "create HSM in us-east-1a for cluster "+id+": The request was rejected because an error occurred.")
			}},
		{"throttled create", types.ClusterStateActive, nil, 1, func(f *fakeCloudHSM) { f.inject("CreateHsm", throttled("CloudHSM V2", "CreateHsm")) },
			func(t *testing.T, _ string, _ scale.ScaleOutput, err error) {
				if errType(err) != lambdaerr.NameRetryable {
					t.Fatalf("err = %v classified %s", err, errType(err))
				}
			}},
		{"HSM quota", types.ClusterStateActive, nil, 1, func(f *fakeCloudHSM) {
			f.inject("CreateHsm", sdkError("CloudHSM V2", "CreateHsm", 400, &types.CloudHsmResourceLimitExceededException{Message: aws.String("limit")}))
		}, func(t *testing.T, _ string, _ scale.ScaleOutput, err error) {
			if errType(err) != lambdaerr.NameTerminal {
				t.Fatalf("err = %v classified %s", err, errType(err))
			}
		}},
		{"service exception on delete", types.ClusterStateActive, []hsmSeed{{azA, types.HsmStateActive}}, 0, func(f *fakeCloudHSM) { f.inject("DeleteHsm", svc("DeleteHsm")) },
			func(t *testing.T, id string, out scale.ScaleOutput, err error) {
				var re *lambdaerr.RetryableError
				if !errors.As(err, &re) || len(out.Deleted) != 0 {
					t.Fatalf("err = %v, out = %+v", err, out)
				}
			}},
		{"service exception on describe", types.ClusterStateActive, nil, 1, func(f *fakeCloudHSM) { f.inject("DescribeClusters", svc("DescribeClusters")) },
			func(t *testing.T, id string, _ scale.ScaleOutput, err error) {
				mustRetryable(t, err, "describe cluster "+id+": The request was rejected because an error occurred.")
			}},
		{"access denied on describe", types.ClusterStateActive, nil, 1, func(f *fakeCloudHSM) {
			f.inject("DescribeClusters", sdkError("CloudHSM V2", "DescribeClusters", 400, &types.CloudHsmAccessDeniedException{Message: aws.String("not authorized")}))
		}, func(t *testing.T, id string, _ scale.ScaleOutput, err error) {
			mustTerminal(t, err, "describe cluster "+id+": not authorized")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hsm := newFakeCloudHSM()
			c := hsm.addCluster(tc.state, []string{subnetA, subnetB}, nil)
			for _, s := range tc.seed {
				hsm.addHsm(c, s.az, s.state)
			}
			if tc.inject != nil {
				tc.inject(hsm)
			}
			out, err := (&scale.Scale{HSM: hsm}).Handle(context.Background(), scale.ScaleInput{ClusterID: c.id, Target: tc.target})
			tc.check(t, c.id, out, err)
		})
	}
}
