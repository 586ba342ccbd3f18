package keystoretest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// TestFailedCreateCleanupLeavesNothingUnsaid fails a Create after its store exists (the connect
// is refused) and then fails its own clean-up at one point, with DeleteKeyStoreOnStackDeletion
// false. The FAILED answer must say what the clean-up could not do, and CloudFormation's
// rollback Delete must remove what is left (store, kmsuser, password secret), because nothing
// in a store a failed Create made is anyone's. Before, the reason named only the first error,
// and the rollback Delete kept the store, kmsuser and secret (DeleteKeyStoreOnStackDeletion).
// When the status of the kmsuser command is unknown, the Create does not delete kmsuser (it may
// be someone else's) and the reason says it may remain.
func TestFailedCreateCleanupLeavesNothingUnsaid(t *testing.T) {
	refuseConnect := sandbox.Fault{Service: "kms", Operation: "ConnectCustomKeyStore", Kind: sandbox.FaultError,
		Code: "CloudHsmClusterNotActiveException", Message: "injected CloudHsmClusterNotActiveException", Count: 1}
	cases := []struct {
		name   string
		faults []sandbox.Fault
		// reason fragments the FAILED answer must hold; left: what stays after the rollback.
		reason      []string
		userUnknown bool
	}{
		{name: "disconnect fails in the clean-up", faults: []sandbox.Fault{refuseConnect,
			{Service: "kms", Operation: "DisconnectCustomKeyStore", Kind: sandbox.FaultError, Code: "AccessDeniedException", Message: "injected AccessDeniedException", Count: 1}},
			reason: []string{"not ACTIVE", "clean-up:", "AccessDeniedException"}},
		{name: "store deletion fails in the clean-up", faults: []sandbox.Fault{refuseConnect,
			{Service: "kms", Operation: "DeleteCustomKeyStore", Kind: sandbox.FaultError, Code: "AccessDeniedException", Message: "injected AccessDeniedException", Count: 1}},
			reason: []string{"not ACTIVE", "clean-up:", "AccessDeniedException"}},
		// The status check fails once the command has made kmsuser (armed by the test when the
		// cluster has it), so the workflow cannot know the user was made.
		{name: "kmsuser command status unknown",
			reason: []string{"clean-up:", "kmsuser may remain", "cloudhsm-cli user delete"}, userUnknown: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, keystoretest.Options{}, 2)
			for _, f := range tc.faults {
				if _, err := r.env.Faults.Add(f); err != nil {
					t.Fatal(err)
				}
			}
			armed := make(chan error, 1)
			if tc.userUnknown {
				go func() {
					for deadline := time.Now().Add(time.Minute); !r.hasKmsUser(); time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							armed <- errors.New("kmsuser never appeared")
							return
						}
					}
					_, err := r.env.Faults.Add(sandbox.Fault{Service: "ssm", Operation: "GetCommandInvocation", Kind: sandbox.FaultError,
						Code: "AccessDeniedException", Message: "injected AccessDeniedException", Count: 1})
					armed <- err
				}()
			} else {
				armed <- nil
			}
			out, err := r.dep.Create(r.ctx, "KeyStore", r.dep.Properties(r.cluster, "KeyStore", "strongroom-cleanup", false))
			if err != nil {
				t.Fatal(err)
			}
			if err := <-armed; err != nil {
				t.Fatal(err)
			}
			for _, f := range r.env.Faults.List() {
				if f.Hits != f.Count {
					t.Fatalf("%s %s was hit %d times; want %d (the case proves nothing otherwise)", f.Service, f.Operation, f.Hits, f.Count)
				}
			}
			if out.Status != cloudformation.StatusFailed || out.TimedOut {
				t.Fatalf("answered %s (timed out %v); want FAILED", out.Status, out.TimedOut)
			}
			for _, w := range tc.reason {
				if !strings.Contains(out.Reason, w) {
					t.Errorf("reason does not say %q: %s", w, out.Reason)
				}
			}
			if store, failed := keystore.StoreOf(out.PhysicalResourceID); !tc.userUnknown && (!failed || !strings.HasPrefix(store, "cks-")) {
				t.Errorf("PhysicalResourceId %q; want the store left behind, marked %s", out.PhysicalResourceID, keystore.FailedCreateSuffix)
			}
			if out.Rollback == nil || out.Rollback.Status != cloudformation.StatusSuccess {
				t.Fatalf("rollback delete = %+v; want SUCCESS", out.Rollback)
			}
			if n := r.stores(t); n != 0 {
				t.Errorf("%d key stores remain after the rollback (DeleteKeyStoreOnStackDeletion false must not keep what a failed Create made)", n)
			}
			if has := r.kmsUser(t); has != tc.userUnknown {
				t.Errorf("kmsuser after the rollback: %v; want %v", has, tc.userUnknown)
			}
			_, err = secretsmanager.NewFromConfig(r.env.AWSConfig()).DescribeSecret(r.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.dep.SecretName("KeyStore"))})
			var nf *smtypes.ResourceNotFoundException
			if !errors.As(err, &nf) {
				t.Errorf("the kmsuser password secret outlived the failed create and its rollback: %v", err)
			}
			r.env.CheckNoSecrets(t)
			t.Logf("reason: %s; rollback: %s", out.Reason, out.Rollback.Reason)
		})
	}
}
