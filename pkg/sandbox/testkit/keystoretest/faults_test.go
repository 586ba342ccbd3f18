package keystoretest_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/resourcedef"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// operations the create, update and delete workflows call, by service. (The password step
// describes the secret only when CreateSecret finds it exists, which a clean run never meets.)
var operations = []struct{ service, op string }{
	{"cloudhsmv2", "DescribeClusters"},
	{"secretsmanager", "GetRandomPassword"}, {"secretsmanager", "CreateSecret"},
	{"secretsmanager", "GetSecretValue"}, {"secretsmanager", "DeleteSecret"},
	{"ssm", "SendCommand"}, {"ssm", "GetCommandInvocation"},
	{"kms", "DescribeCustomKeyStores"}, {"kms", "CreateCustomKeyStore"}, {"kms", "ConnectCustomKeyStore"},
	{"kms", "UpdateCustomKeyStore"}, {"kms", "DisconnectCustomKeyStore"}, {"kms", "DeleteCustomKeyStore"},
	{"states", "StartExecution"},
}

// TestTransientFaultsEverywhere throttles every operation the workflows call twice and fails it
// once with a 5xx, then runs Create, a rename and a deleting Delete: each must still succeed,
// answering once, and every injected fault must have been met (so each call was retried).
func TestTransientFaultsEverywhere(t *testing.T) {
	r := newRig(t, keystoretest.Options{}, 2)
	for _, o := range operations {
		for _, f := range []sandbox.Fault{
			{Service: o.service, Operation: o.op, Kind: sandbox.FaultThrottle, Count: 2},
			{Service: o.service, Operation: o.op, Kind: sandbox.FaultInternal, Count: 1},
		} {
			if _, err := r.env.Faults.Add(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-faults", true)
	out, err := r.dep.Create(r.ctx, "KeyStore", props)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "create under faults", cloudformation.StatusSuccess, out)
	next := maps.Clone(props)
	next["KeyStoreName"] = "strongroom-faults-2"
	up, err := r.dep.Update(r.ctx, "KeyStore", out.PhysicalResourceID, props, next)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "rename under faults", cloudformation.StatusSuccess, up)
	del, err := r.dep.Delete(r.ctx, "KeyStore", out.PhysicalResourceID, next)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "delete under faults", cloudformation.StatusSuccess, del)
	if !strings.Contains(answerReason(del), "was deleted") || r.stores(t) != 0 || r.kmsUser(t) {
		t.Errorf("after delete: reason %q, %d stores, kmsuser %v; want the store and kmsuser gone", answerReason(del), r.stores(t), r.kmsUser(t))
	}
	met, injected := 0, 0
	for _, f := range r.env.Faults.List() {
		injected += f.Count
		met += f.Hits
		if f.Hits != f.Count {
			t.Errorf("%s %s %s: met %d of %d", f.Service, f.Operation, f.Kind, f.Hits, f.Count)
		}
	}
	r.env.CheckNoSecrets(t)
	t.Logf("transient faults: %d injected over %d operations, %d met; create, rename and delete succeeded", injected, len(operations), met)
}

// TestNamedExceptionPerOperation fails each operation of the workflows once with a named,
// non-retryable exception: the request answers FAILED naming it (or its meaning), promptly, a
// failed create leaves no key store behind, and no secret leaks into what was recorded.
func TestNamedExceptionPerOperation(t *testing.T) {
	cases := []struct {
		service, op, code string
		// phase is the request that meets the fault: Create (default), Update or Delete (after a
		// clean Create).
		phase string
	}{
		{"cloudhsmv2", "DescribeClusters", "CloudHsmAccessDeniedException", ""},
		{"secretsmanager", "GetRandomPassword", "InvalidParameterException", ""},
		{"secretsmanager", "CreateSecret", "EncryptionFailure", ""},
		{"secretsmanager", "GetSecretValue", "DecryptionFailure", ""},
		{"ssm", "SendCommand", "InvalidDocument", ""},
		{"kms", "DescribeCustomKeyStores", "AccessDeniedException", ""},
		{"kms", "CreateCustomKeyStore", "CloudHsmClusterInUseException", ""},
		{"kms", "ConnectCustomKeyStore", "CloudHsmClusterNotActiveException", ""},
		{"kms", "UpdateCustomKeyStore", "CustomKeyStoreNameInUseException", "Update"},
		{"kms", "DisconnectCustomKeyStore", "AccessDeniedException", "Delete"},
		{"kms", "DeleteCustomKeyStore", "AccessDeniedException", "Delete"},
		{"secretsmanager", "DeleteSecret", "AccessDeniedException", "Delete"},
	}
	for _, tc := range cases {
		t.Run(tc.service+"."+tc.op, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, keystoretest.Options{}, 2)
			props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-named", tc.phase == "Delete")
			inject := func() {
				if _, err := r.env.Faults.Add(sandbox.Fault{Service: tc.service, Operation: tc.op, Kind: sandbox.FaultError, Code: tc.code, Message: "injected " + tc.code, Count: 1}); err != nil {
					t.Fatal(err)
				}
			}
			var out *cloudformation.Outcome
			var err error
			if tc.phase == "" {
				inject()
				out, err = r.dep.Create(r.ctx, "KeyStore", props)
			} else {
				created, cerr := r.dep.Create(r.ctx, "KeyStore", props)
				if cerr != nil {
					t.Fatal(cerr)
				}
				requireStatus(t, "create", cloudformation.StatusSuccess, created)
				inject()
				if tc.phase == "Update" {
					next := maps.Clone(props)
					next["KeyStoreName"] = "strongroom-named-2"
					out, err = r.dep.Update(r.ctx, "KeyStore", created.PhysicalResourceID, props, next)
				} else {
					out, err = r.dep.Delete(r.ctx, "KeyStore", created.PhysicalResourceID, props)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != cloudformation.StatusFailed || out.TimedOut {
				t.Fatalf("answered %s (timed out %v); want FAILED", out.Status, out.TimedOut)
			}
			named := strings.Contains(out.Reason, tc.code) || strings.Contains(out.Reason, "injected "+tc.code)
			// Errors a step maps to a property-naming reason say what to fix instead.
			mapped := map[string]string{"CloudHsmClusterInUseException": "already backs another key store", "CloudHsmClusterNotActiveException": "not ACTIVE",
				"InvalidDocument": "does not exist", "CustomKeyStoreNameInUseException": "KeyStoreName"}
			if m, ok := mapped[tc.code]; ok {
				named = named || strings.Contains(out.Reason, m)
			}
			if !named {
				t.Errorf("reason does not name %s: %s", tc.code, out.Reason)
			}
			if n := r.stores(t); tc.phase == "" && n != 0 {
				t.Errorf("%d key stores remain after the failed create", n)
			}
			r.env.CheckNoSecrets(t)
			t.Logf("%s.%s %s -> %s", tc.service, tc.op, tc.code, stacktest.Reason(out.Reason, 160))
		})
	}
}

// TestCrashAfterEveryStep kills each step's process once, right after its side effect and before
// it answers (Runtime.ExitError), through a whole create, rename, rotation and delete: the retried
// steps must converge, with one answer per request.
func TestCrashAfterEveryStep(t *testing.T) {
	dir := t.TempDir()
	env := map[string]map[string]string{}
	var markers []string
	for _, n := range keystoretest.Functions() {
		if n == "cfn-answer" || n == "cfn-safetynet" || n == "keystore-entry" || n == resourcedef.KeyStore.Health.Name {
			continue // the answer, the safety net and the entry are the custom-resource package's; the health check runs in no workflow
		}
		m := filepath.Join(dir, n)
		if err := os.WriteFile(m, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		markers = append(markers, m)
		env[n] = map[string]string{lambdaenv.SandboxCrashOnceVar: m}
	}
	r := newRig(t, keystoretest.Options{Env: env}, 2)
	props := r.dep.Properties(r.cluster, "KeyStore", "strongroom-crash", true)
	out, err := r.dep.Create(r.ctx, "KeyStore", props)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "create with crashes", cloudformation.StatusSuccess, out)
	id := out.PhysicalResourceID
	if s := r.store(t, id); s.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		t.Fatalf("store %s after create", s.ConnectionState)
	}
	next := maps.Clone(props)
	next["KeyStoreName"] = "strongroom-crash-2"
	up, err := r.dep.Update(r.ctx, "KeyStore", id, props, next)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "rename with crashes", cloudformation.StatusSuccess, up)
	status, output, cause, err := r.dep.Rotate(r.ctx, id, next)
	if err != nil || status != "SUCCEEDED" {
		t.Fatalf("rotation with crashes: %s %s %s %v", status, output, cause, err)
	}
	del, err := r.dep.Delete(r.ctx, "KeyStore", id, next)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "delete with crashes", cloudformation.StatusSuccess, del)
	if r.stores(t) != 0 || r.kmsUser(t) {
		t.Errorf("after delete: %d stores, kmsuser %v", r.stores(t), r.kmsUser(t))
	}
	crashed := 0
	for _, m := range markers {
		if _, err := os.Stat(m); os.IsNotExist(err) {
			crashed++
		} else {
			t.Errorf("%s never crashed (its step never ran?)", filepath.Base(m))
		}
	}
	if n := r.env.Recorder.Count("kms", "CreateCustomKeyStore"); n != 1 {
		t.Errorf("%d CreateCustomKeyStore calls; want 1 (the retried step finds its store)", n)
	}
	r.env.CheckNoSecrets(t)
	t.Logf("%d of %d steps crashed once each; create, rename, rotation and delete converged", crashed, len(markers))
}
