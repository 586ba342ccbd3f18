package keystore_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/keystore"
	sbkms "github.com/strongroom/strongroom/pkg/sandbox/kms"
)

// TestExplainEveryCode checks the fix of each ConnectionErrorCode a CloudHSM key store can report
// (the KMS API reference's list): the reason names the code, says what it means, and points at
// the action that fixes it.
func TestExplainEveryCode(t *testing.T) {
	cases := []struct {
		code string
		fix  []string // words the action must contain
	}{
		{sbkms.ErrCodeClusterNotFound, []string{"ClusterId", "backup"}},
		{sbkms.ErrCodeInsufficientHsms, []string{"HsmCount", "ACTIVE"}},
		{sbkms.ErrCodeInsufficientAddresses, []string{"free", "IP address"}},
		{sbkms.ErrCodeInternal, []string{"retry", "AWS Support"}},
		{sbkms.ErrCodeInvalidCredentials, []string{"rotate-password", "KeyStorePassword"}},
		{sbkms.ErrCodeNetwork, []string{"2223-2225", "security group"}},
		{sbkms.ErrCodeSubnetNotFound, []string{"subnet", "Availability Zone"}},
		{sbkms.ErrCodeUserLockedOut, []string{"unlocks", "rotate-password"}},
		{sbkms.ErrCodeUserLoggedIn, []string{"log kmsuser out"}},
		{sbkms.ErrCodeUserNotFound, []string{"create the crypto user kmsuser", "rotate-password"}},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			got := keystore.Explain(tc.code)
			if !strings.HasPrefix(got, "ConnectionErrorCode "+tc.code+": ") || !strings.Contains(got, ". Fix: ") {
				t.Fatalf("Explain(%s) = %q; want the code, its meaning and a fix", tc.code, got)
			}
			for _, w := range tc.fix {
				if !strings.Contains(got, w) {
					t.Errorf("Explain(%s) does not say %q: %s", tc.code, w, got)
				}
			}
		})
	}
	var tested []string
	for _, tc := range cases {
		tested = append(tested, tc.code)
	}
	codes := keystore.Codes()
	slices.Sort(codes)
	slices.Sort(tested)
	if !slices.Equal(codes, tested) {
		t.Errorf("Codes() = %v; the table tests %v", codes, tested)
	}
}

func TestExplainUnknownCodeStillNamesIt(t *testing.T) {
	got := keystore.Explain("XKS_PROXY_TIMED_OUT")
	if !strings.Contains(got, "XKS_PROXY_TIMED_OUT") || !strings.Contains(got, "Fix:") {
		t.Errorf("Explain(unknown) = %q", got)
	}
}
