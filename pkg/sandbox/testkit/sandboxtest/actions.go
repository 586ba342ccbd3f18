package sandboxtest

import (
	"reflect"
	"slices"
	"testing"
)

// WantMethodActions fails t unless actions are exactly the IAM actions of the methods of the
// interface type I (a package's narrow client interface), each named <prefix>:<method> unless
// rename names the method's action (Lambda's Invoke is lambda:InvokeFunction): a package's
// declared IAM actions then grow and shrink with the calls it can make.
func WantMethodActions[I any](t testing.TB, prefix string, actions []string, rename map[string]string) {
	t.Helper()
	typ := reflect.TypeFor[I]()
	var want []string
	for i := range typ.NumMethod() {
		m := typ.Method(i).Name
		if a, ok := rename[m]; ok {
			want = append(want, a)
			continue
		}
		want = append(want, prefix+":"+m)
	}
	got := slices.Clone(actions)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(slices.Compact(got), want) || len(got) != len(actions) {
		t.Errorf("%s's methods need %v; the declared actions are %v", typ, want, actions)
	}
}
