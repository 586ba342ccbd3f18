package keystoretest_test

import (
	"strings"
	"testing"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// TestRotationFailuresEndConnected fails the kmsuser password rotation at each of its points,
// once, with a named exception no retry absorbs. Whatever failed, the execution must end with the
// store CONNECTED (checked the moment it ends, not eventually) and its password shared by KMS and
// the HSM: either rotated (SUCCEEDED; a failure after the HSM took the new password is rolled
// forward) or undone (FAILED, which the Rotate workflow's alarm reports, naming the cause).
// Before, a failure after the HSM change left the store FAILED with INVALID_CREDENTIALS, and one
// in Connect left it DISCONNECTED: every key in it unusable.
func TestRotationFailuresEndConnected(t *testing.T) {
	cases := []struct {
		service, op, code string
		// rotated: the failure came after the HSM took the new password, so the rotation completes.
		rotated bool
		why     string
	}{
		{"kms", "DisconnectCustomKeyStore", "AccessDeniedException", false, "the store was never disconnected"},
		{"kms", "DescribeCustomKeyStores", "AccessDeniedException", false, "the disconnect went through; the step failed reading the state"},
		{"secretsmanager", "PutSecretValue", "AccessDeniedException", false, "no new password was stored"},
		{"ssm", "SendCommand", "InvalidInstanceId", false, "the HSM never got the new password"},
		{"ssm", "GetCommandInvocation", "AccessDeniedException", true, "the HSM has the new password; its status is unknown"},
		{"kms", "UpdateCustomKeyStore", "CustomKeyStoreInvalidStateException", true, "the HSM has the new password, KMS the old one"},
		{"kms", "ConnectCustomKeyStore", "CloudHsmClusterNotActiveException", true, "both sides have the new password; the connect was refused, the recovery's connects it"},
	}
	for _, tc := range cases {
		t.Run(tc.service+"."+tc.op, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, keystoretest.Options{}, 2)
			props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-rotate", true)
			out, err := r.dep.Create(r.ctx, "KeyStore", props)
			if err != nil {
				t.Fatal(err)
			}
			requireStatus(t, "create", cloudformation.StatusSuccess, out)
			id := out.PhysicalResourceID
			if _, err := r.env.Faults.Add(sandbox.Fault{Service: tc.service, Operation: tc.op, Kind: sandbox.FaultError,
				Code: tc.code, Message: "injected " + tc.code, Count: 1}); err != nil {
				t.Fatal(err)
			}
			status, output, cause, err := r.dep.Rotate(r.ctx, id, props)
			if err != nil {
				t.Fatal(err)
			}
			state := r.store(t, id).ConnectionState
			hits := 0
			for _, f := range r.env.Faults.List() {
				hits += f.Hits
			}
			if hits != 1 {
				t.Fatalf("the fault was hit %d times; want once (the case proves nothing otherwise)", hits)
			}
			if state != kmstypes.ConnectionStateTypeConnected {
				t.Errorf("%s: the rotation ended %s with the store %s; want CONNECTED (cause %s)", tc.why, status, state, cause)
			}
			switch {
			case tc.rotated && (status != "SUCCEEDED" || !strings.Contains(output, `"State":"CONNECTED"`)):
				t.Errorf("%s: the rotation ended %s (%s %s); want it rolled forward to SUCCEEDED", tc.why, status, output, cause)
			case !tc.rotated && (status != "FAILED" || !strings.Contains(cause, tc.code)):
				t.Errorf("%s: the rotation ended %s (%s); want FAILED naming %s", tc.why, status, cause, tc.code)
			}
			r.env.CheckNoSecrets(t)
			t.Logf("%s.%s %s: %s, store %s", tc.service, tc.op, tc.code, status, state)
		})
	}
}
