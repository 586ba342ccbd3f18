package sandboxtest

import (
	"strings"
	"testing"
)

// ErrorCase is one input that a validating function must reject, and the word (usually the
// offending field) its error has to name.
type ErrorCase[T any] struct {
	Name string
	In   T
	Want string
}

// WantErrors runs each case as a subtest named Name: check gets the subtest and the input, may
// make its own assertions (such as the error's type), and returns the error, which fails the
// subtest unless it is non-nil and its text contains Want.
func WantErrors[T any](t *testing.T, cases []ErrorCase[T], check func(t *testing.T, in T) error) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			if err := check(t, tc.In); err == nil || !strings.Contains(err.Error(), tc.Want) {
				t.Errorf("%s: got %v, want an error naming %q", tc.Name, err, tc.Want)
			}
		})
	}
}
