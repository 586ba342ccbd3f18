package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

func TestNewUUIDIsVersion4(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if a, b := core.NewUUID(), core.NewUUID(); !form.MatchString(a) || a == b {
		t.Errorf("NewUUID = %s, %s: want two different version 4 UUIDs", a, b)
	}
	if h := core.RandomHex(17); !regexp.MustCompile(`^[0-9a-f]{17}$`).MatchString(h) {
		t.Errorf("RandomHex(17) = %q", h)
	}
}

func TestHandlerDecodesInput(t *testing.T) {
	op := core.Handler(func(_ context.Context, in struct{ Name string }) (any, error) { return in.Name, nil })
	for _, tc := range []struct {
		input, want, code string
	}{
		{`{"Name":"x"}`, "x", ""},
		{``, "", ""}, // an empty body is an empty object
		{`{"Name":`, "", "SerializationException"},
	} {
		out, err := op(context.Background(), json.RawMessage(tc.input))
		var ce *core.Error
		switch {
		case tc.code != "":
			if !errors.As(err, &ce) || ce.Code != tc.code {
				t.Errorf("%q: error %v, want %s", tc.input, err, tc.code)
			}
		case err != nil || out != tc.want:
			t.Errorf("%q: %v, %v; want %q", tc.input, out, err, tc.want)
		}
	}
}

func TestLockedHoldsTheLockAndPassesLookupErrors(t *testing.T) {
	var mu sync.Mutex
	notFound := errors.New("not found")
	find := func(id string) (string, error) {
		if id == "" {
			return "", notFound
		}
		return "resource " + id, nil
	}
	got, err := core.Locked(&mu, find, "a", func(r string) (string, error) {
		if mu.TryLock() {
			t.Error("op ran without the lock held")
		}
		return r, nil
	})
	if got != "resource a" || err != nil {
		t.Errorf("Locked = %q, %v", got, err)
	}
	if err := core.LockedDo(&mu, find, "", func(string) error { t.Error("op ran for a failed lookup"); return nil }); err != notFound {
		t.Errorf("LockedDo = %v, want the lookup's error", err)
	}
	if !mu.TryLock() {
		t.Error("the lock is still held")
	}
}

func TestPaging(t *testing.T) {
	all := []int{1, 2, 3, 4, 5}
	for _, tc := range []struct {
		start, limit int
		page         []int
		end          int
	}{
		{0, 2, []int{1, 2}, 2},
		{4, 2, []int{5}, 5},
		{5, 2, []int{}, 5},
		{9, 2, []int{}, 5}, // a start past the end is an empty last page
	} {
		page, end := core.Window(all, tc.start, tc.limit)
		if !reflect.DeepEqual(page, tc.page) || end != tc.end {
			t.Errorf("Window(%d, %d) = %v, %d; want %v, %d", tc.start, tc.limit, page, end, tc.page, tc.end)
		}
	}
	var mu sync.Mutex
	page, end, total, err := core.Page(&mu, func() ([]int, error) { return all, nil }, 1, 3)
	if !reflect.DeepEqual(page, []int{2, 3, 4}) || end != 4 || total != 5 || err != nil {
		t.Errorf("Page = %v, %d, %d, %v", page, end, total, err)
	}
	if n, ok := core.ParseOffsetToken(core.OffsetToken(42)); n != 42 || !ok {
		t.Errorf("offset token round trip = %d, %v", n, ok)
	}
	for _, bad := range []string{"42", "!", core.OffsetToken(-1)} {
		if _, ok := core.ParseOffsetToken(bad); ok {
			t.Errorf("ParseOffsetToken(%q) accepted", bad)
		}
	}
}

func TestQueryList(t *testing.T) {
	params := url.Values{
		"IpPermissions.2.FromPort":          {"443"},
		"IpPermissions.1.IpRanges.1.CidrIp": {"10.0.0.0/8"},
		"IpPermissions.0.FromPort":          {"1"}, // indexes start at 1
		"SubnetId.1":                        {"subnet-a"},
		"Attributes.entry.1.key":            {"DisplayName"},
		"Attributes.entry.1.value":          {"alerts"},
		"IpPermissionsOther.1.FromPort":     {"2"},
		"IpPermissions.x.FromPort":          {"3"},
	}
	for _, tc := range []struct {
		prefix string
		want   []url.Values
	}{
		{"IpPermissions", []url.Values{{"IpRanges.1.CidrIp": {"10.0.0.0/8"}}, {"FromPort": {"443"}}}},
		{"SubnetId", []url.Values{{"": {"subnet-a"}}}},
		{"Attributes.entry", []url.Values{{"key": {"DisplayName"}, "value": {"alerts"}}}},
		{"Tags.member", []url.Values{}},
	} {
		if got := core.QueryList(params, tc.prefix); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("QueryList(%s) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
}

func TestProtocolIdentity(t *testing.T) {
	j := core.NewJSONProtocol("kms", "TrentService", "1.1")
	q := core.NewQueryProtocol("sts", "sts", "https://sts.amazonaws.com/doc/2011-06-15/", core.QueryAWS)
	got := []any{j.ServiceID(), j.TargetPrefix(), j.JSONVersion(), q.ServiceID(), q.SigningName(), q.XMLNamespace(), q.Flavor()}
	want := []any{"kms", "TrentService", "1.1", "sts", "sts", "https://sts.amazonaws.com/doc/2011-06-15/", core.QueryAWS}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("identity = %v, want %v", got, want)
	}
}
