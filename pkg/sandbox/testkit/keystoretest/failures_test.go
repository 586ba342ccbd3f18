package keystoretest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// afterStoreCreated runs f once KMS has created the store, while it is still connecting (the
// connect takes 8 sandbox minutes): the real condition then decides the connect's outcome.
func afterStoreCreated(t *testing.T, r *rig, f func(ctx context.Context) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(time.Minute)
		for r.env.Recorder.Count("kms", "CreateCustomKeyStore") == 0 {
			if time.Now().After(deadline) {
				done <- errors.New("the workflow never called CreateCustomKeyStore")
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		done <- f(r.ctx)
	}()
	return done
}

// TestCreateFailuresAnswerWhyAndLeaveNothing makes each real condition that stops a key store
// from connecting (and the refusals before it), and checks the Create answers FAILED with a
// reason naming the ConnectionErrorCode (or the condition) and the fix, and that the failed
// create removed what it made (store, kmsuser it created, password secret), so the rollback's
// Delete finds nothing.
func TestCreateFailuresAnswerWhyAndLeaveNothing(t *testing.T) {
	cases := []struct {
		name string
		hsms int
		// before runs before the Create; during runs once the store exists.
		before, during func(ctx context.Context, r *rig) error
		want           []string
		// foreignUser: a kmsuser exists after the failure (one this resource did not make, or one
		// it cannot reach to remove).
		foreignUser bool
		// storeCreated: the workflow gets as far as calling CreateCustomKeyStore.
		storeCreated bool
	}{
		{name: "one HSM only", hsms: 1, want: []string{"ClusterId", "1 ACTIVE HSM(s) in 1 Availability Zone(s)", "at least two ACTIVE HSMs"}},
		{name: "kmsuser already exists", hsms: 2, foreignUser: true, want: []string{"kmsuser", "already exists"},
			before: func(ctx context.Context, r *rig) error {
				arn, err := r.secret(ctx, keystoretest.OperatorSecretPrefix+"kmsuser", "Operat0rChosenPassw0rd")
				if err != nil {
					return err
				}
				return r.cluster.UserDocument(ctx, r.env.AWSConfig(), hsmdocs.CreateCryptoUser, arn)
			}},
		{name: "KMS refuses hsm2m.medium", hsms: 2, storeCreated: true, want: []string{"hsm2m.medium", "ClusterId"},
			before: func(_ context.Context, r *rig) error { r.env.KMS.SetUnsupportedHsmTypes("hsm2m.medium"); return nil }},
		{name: "kmsuser missing", hsms: 2, storeCreated: true, want: []string{"USER_NOT_FOUND", "Fix:", "kmsuser"},
			during: func(ctx context.Context, r *rig) error {
				return r.cluster.UserDocument(ctx, r.env.AWSConfig(), hsmdocs.DeleteCryptoUser, "")
			}},
		{name: "wrong kmsuser password", hsms: 2, storeCreated: true, want: []string{"INVALID_CREDENTIALS", "Fix:", "rotate-password"},
			during: func(ctx context.Context, r *rig) error {
				arn, err := r.secret(ctx, keystoretest.OperatorSecretPrefix+"other-password", "An0therPassw0rdEntirely")
				if err != nil {
					return err
				}
				return r.cluster.UserDocument(ctx, r.env.AWSConfig(), hsmdocs.ChangeCryptoUserPassword, arn)
			}},
		// With no HSM left, cloudhsm-cli cannot reach the cluster to remove kmsuser: it stays.
		{name: "HSMs lost", hsms: 2, storeCreated: true, foreignUser: true, want: []string{"INSUFFICIENT_CLOUDHSM_HSMS", "Fix:", "HsmCount"},
			during: func(ctx context.Context, r *rig) error {
				for _, h := range r.cluster.HsmIDs {
					if err := r.env.CloudHSM.DeleteHsmOutOfBand(r.cluster.ID, h); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "cluster deleted", hsms: 2, storeCreated: true, want: []string{"CLUSTER_NOT_FOUND", "Fix:", "ClusterId"},
			during: func(ctx context.Context, r *rig) error {
				for _, h := range r.cluster.HsmIDs {
					if err := r.env.CloudHSM.DeleteHsmOutOfBand(r.cluster.ID, h); err != nil {
						return err
					}
				}
				_, err := cloudhsmv2.NewFromConfig(r.env.AWSConfig()).DeleteCluster(ctx, &cloudhsmv2.DeleteClusterInput{ClusterId: aws.String(r.cluster.ID)})
				return err
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, keystoretest.Options{}, tc.hsms)
			if tc.before != nil {
				if err := tc.before(r.ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			var during <-chan error
			if tc.during != nil {
				during = afterStoreCreated(t, r, func(ctx context.Context) error { return tc.during(ctx, r) })
			}
			out, err := r.dep.Create(r.ctx, "KeyStore", r.dep.Properties(r.cluster, "KeyStore", "strongroom-fail", false))
			if err != nil {
				t.Fatal(err)
			}
			if during != nil {
				if err := <-during; err != nil {
					t.Fatalf("make the condition: %v", err)
				}
			}
			requireFailedSaying(t, out, tc.want)
			if out.Rollback == nil || out.Rollback.Status != cloudformation.StatusSuccess {
				t.Errorf("rollback delete = %+v; want SUCCESS", out.Rollback)
			}
			if n := r.stores(t); n != 0 {
				t.Errorf("%d key stores remain after the failed create", n)
			}
			if got := r.env.Recorder.Count("kms", "CreateCustomKeyStore") > 0; got != tc.storeCreated {
				t.Errorf("CreateCustomKeyStore called: %v; want %v", got, tc.storeCreated)
			}
			if tc.name != "cluster deleted" {
				if has := r.kmsUser(t); has != tc.foreignUser {
					t.Errorf("kmsuser on the cluster after the failed create: %v; want %v (only a kmsuser this resource did not make, or cannot reach, stays)", has, tc.foreignUser)
				}
			}
			_, err = secretsmanager.NewFromConfig(r.env.AWSConfig()).DescribeSecret(r.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.dep.SecretName("KeyStore"))})
			var nf *smtypes.ResourceNotFoundException
			if !errors.As(err, &nf) {
				t.Errorf("the kmsuser password secret outlived the failed create: %v", err)
			}
			r.env.CheckNoSecrets(t, "Operat0rChosenPassw0rd", "An0therPassw0rdEntirely")
		})
	}
}

func (r *rig) secret(ctx context.Context, name, value string) (string, error) {
	out, err := secretsmanager.NewFromConfig(r.env.AWSConfig()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ARN), nil
}
