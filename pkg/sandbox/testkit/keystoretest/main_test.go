package keystoretest_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, "keystoretest-bin-", "the key store functions", keystoretest.Functions(), &binaries))
}

// setupScale runs the cluster runbook (about 20 sandbox minutes) in a few wall seconds; scale is
// the speed of the workflows afterwards. A function's own wall time counts scale times against
// its state's TimeoutSeconds (120 s of sandbox time, 1.2 s of wall time at 100), so scale cannot
// be much higher on a loaded 2-core machine (`make test` runs packages in parallel); a connect
// (8 sandbox minutes) takes 4.8 s of wall time.
const (
	setupScale = 3000
	scale      = 100
)

type rig struct {
	env     *sandboxtest.Env
	dep     *keystoretest.Deployment
	cluster *keystoretest.Cluster
	kms     *kms.Client
	ctx     context.Context
	logs    *sandboxtest.Buffer
}

// newRig starts a sandbox with an ACTIVE cluster of hsms HSMs and the construct deployed.
func newRig(t testing.TB, o keystoretest.Options, hsms int) *rig {
	t.Helper()
	env := sandboxtest.New(t, sandboxtest.Scale(setupScale))
	ctx := sandboxtest.Context(t, 3*time.Minute)
	c, err := keystoretest.ActiveCluster(ctx, env.AWSConfig(), "e2e/cluster", hsms)
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.SetScale(scale)
	logs := &sandboxtest.Buffer{}
	dep, err := keystoretest.Deploy(ctx, env.Sandbox, env.AWSConfig(), c, binaries, io.MultiWriter(env.Recorder.Writer("function logs"), logs), o)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{env: env, dep: dep, cluster: c, kms: kms.NewFromConfig(env.AWSConfig()), ctx: ctx, logs: logs}
	r.dep.LogOnFailure(t, env.Sandbox, logs, 30, "Create", "Update", "Delete", "Rotate")
	r.dep.CheckIAM(t)
	return r
}

// store returns the store's entry, or nil when KMS has none with that id.
func (r *rig) store(t *testing.T, id string) *kmstypes.CustomKeyStoresListEntry {
	t.Helper()
	out, err := r.kms.DescribeCustomKeyStores(r.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	var nf *kmstypes.CustomKeyStoreNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil || len(out.CustomKeyStores) != 1 {
		t.Fatalf("describe key store %s: %v", id, err)
	}
	return &out.CustomKeyStores[0]
}

// stores counts every key store KMS holds.
func (r *rig) stores(t *testing.T) int {
	t.Helper()
	out, err := r.kms.DescribeCustomKeyStores(r.ctx, &kms.DescribeCustomKeyStoresInput{})
	if err != nil {
		t.Fatalf("describe key stores: %v", err)
	}
	return len(out.CustomKeyStores)
}

// kmsUser reports whether the cluster has the crypto user kmsuser.
func (r *rig) kmsUser(t *testing.T) bool {
	t.Helper()
	has, err := r.findKmsUser()
	if err != nil {
		t.Fatalf("users of %s: %v", r.cluster.ID, err)
	}
	return has
}

// hasKmsUser is kmsUser for a goroutine: false when the users cannot be read.
func (r *rig) hasKmsUser() bool {
	has, _ := r.findKmsUser()
	return has
}

func (r *rig) findKmsUser() (bool, error) {
	users, err := r.env.CloudHSM.Users(r.cluster.ID)
	for _, u := range users {
		if u.Name == "kmsuser" && u.Role == cloudhsm.RoleCryptoUser {
			return true, err
		}
	}
	return false, err
}

// waitStore polls (wall clock, bounded) until the store reaches state.
func (r *rig) waitStore(t *testing.T, id string, state kmstypes.ConnectionStateType) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := r.store(t, id)
		if s != nil && s.ConnectionState == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key store %s never reached %s (last %+v)", id, state, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func requireStatus(t *testing.T, what, want string, o *cloudformation.Outcome) {
	t.Helper()
	if o.Status != want {
		t.Fatalf("%s answered %s (want %s): %s (timed out %v)", what, o.Status, want, o.Reason, o.TimedOut)
	}
	if n := len(o.Duplicates); n != 0 {
		t.Errorf("%s answered %d extra times", what, n)
	}
}

// requireFailedSaying fails t unless o answered FAILED, not timed out, with a Reason carrying
// every one of want; it logs the reason.
func requireFailedSaying(t *testing.T, o *cloudformation.Outcome, want []string) {
	t.Helper()
	if o.Status != cloudformation.StatusFailed || o.TimedOut {
		t.Fatalf("answered %s (timed out %v); want FAILED", o.Status, o.TimedOut)
	}
	for _, w := range want {
		if !strings.Contains(o.Reason, w) {
			t.Errorf("reason does not carry %q: %s", w, o.Reason)
		}
	}
	t.Logf("reason: %s", o.Reason)
}

// answerReason is the Reason of the first answer (CloudFormation keeps a SUCCESS answer's too).
func answerReason(o *cloudformation.Outcome) string {
	if o.Answer == nil || o.Answer.Response == nil {
		return ""
	}
	return o.Answer.Response.Reason
}
