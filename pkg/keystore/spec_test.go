package keystore_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/keystore"
)

func fixtureEvent(t *testing.T) cfn.Event {
	t.Helper()
	b, err := os.ReadFile("testdata/create-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev cfn.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestSpecOfFixture(t *testing.T) {
	ev := fixtureEvent(t)
	s, err := keystore.SpecOf(&ev, false)
	if err != nil {
		t.Fatal(err)
	}
	want := keystore.Spec{
		ClusterID: "cluster-igklspoyj5v", KeyStoreName: "strongroom",
		AdminPasswordSecretARN:         ev.ResourceProperties["AdminPasswordSecretArn"].(string),
		CustomerCaCertificateSecretARN: ev.ResourceProperties["CustomerCaCertificateSecretArn"].(string),
		ClientInstanceID:               "i-0a5b0c1d2e3f40001",
		KmsUserPasswordSecretName:      "strongroom/StrongroomKeyStore/KeyStore/kmsuser-password",
	}
	if s != want {
		t.Errorf("spec = %+v\nwant   %+v", s, want)
	}
	if err := keystore.ValidateRequest(&ev); err != nil {
		t.Errorf("ValidateRequest: %v", err)
	}
}

func TestParseRefusesNamingTheField(t *testing.T) {
	ev := fixtureEvent(t)
	with := func(k string, v any) map[string]any {
		p := maps.Clone(ev.ResourceProperties)
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	cases := []struct {
		name  string
		props map[string]any
		field string
	}{
		{"no cluster", with("ClusterId", nil), "ClusterId"},
		{"malformed cluster", with("ClusterId", "cluster-1"), "ClusterId"},
		{"no name", with("KeyStoreName", ""), "KeyStoreName"},
		{"name too long", with("KeyStoreName", strings.Repeat("n", 257)), "KeyStoreName"},
		{"admin secret is a name", with("AdminPasswordSecretArn", "strongroom/admin"), "AdminPasswordSecretArn"},
		{"no CA secret", with("CustomerCaCertificateSecretArn", nil), "CustomerCaCertificateSecretArn"},
		{"instance malformed", with("ClientInstanceId", "instance-1"), "ClientInstanceId"},
		{"bool not a bool", with("DeleteKeyStoreOnStackDeletion", "yes please"), "DeleteKeyStoreOnStackDeletion"},
		{"bool wrong type", with("DeleteKeyStoreOnStackDeletion", 3.0), "DeleteKeyStoreOnStackDeletion"},
		{"secret name with a space", with("KmsUserPasswordSecretName", "a b"), "KmsUserPasswordSecretName"},
		{"unknown property", with("KeyStorePassword", "x"), "KeyStorePassword"},
		{"number for a string", with("KeyStoreName", 7.0), "KeyStoreName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keystore.Parse(tc.props, "strongroom/s/KeyStore")
			if !errors.Is(err, customresource.ErrInvalidProperties) {
				t.Fatalf("err = %v; want ErrInvalidProperties", err)
			}
			if !strings.Contains(err.Error(), tc.field+": ") {
				t.Errorf("%q does not name %s", err, tc.field)
			}
		})
	}
}

func TestParseBooleans(t *testing.T) {
	ev := fixtureEvent(t)
	for _, v := range []any{"true", "True", true} {
		p := maps.Clone(ev.ResourceProperties)
		p["DeleteKeyStoreOnStackDeletion"] = v
		s, err := keystore.Parse(p, "x")
		if err != nil || !s.DeleteKeyStoreOnStackDeletion {
			t.Errorf("DeleteKeyStoreOnStackDeletion %#v: %v %v", v, s.DeleteKeyStoreOnStackDeletion, err)
		}
	}
}

func TestDiff(t *testing.T) {
	ev := fixtureEvent(t)
	old, err := keystore.SpecOf(&ev, false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(*keystore.Spec)
		rename bool
		field  string
	}{
		{"nothing", func(*keystore.Spec) {}, false, ""},
		{"rename", func(s *keystore.Spec) { s.KeyStoreName = "other" }, true, ""},
		{"deletion setting", func(s *keystore.Spec) { s.DeleteKeyStoreOnStackDeletion = true }, false, ""},
		{"cluster", func(s *keystore.Spec) { s.ClusterID = "cluster-abcdefghijk" }, false, "ClusterId"},
		{"instance", func(s *keystore.Spec) { s.ClientInstanceID = "i-0123456789abcdef0" }, false, "ClientInstanceId"},
		{"password secret", func(s *keystore.Spec) { s.KmsUserPasswordSecretName = "x" }, false, "KmsUserPasswordSecretName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := old
			tc.change(&next)
			rename, err := keystore.Diff(old, next)
			if tc.field == "" {
				if err != nil || rename != tc.rename {
					t.Fatalf("rename %v err %v; want %v, nil", rename, err, tc.rename)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field+": cannot change in place") {
				t.Fatalf("err = %v; want a refusal naming %s", err, tc.field)
			}
		})
	}
}
