package dbsecret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Secret
	}{
		{"RDS-managed single user", "rds-mariadb.json", Secret{Engine: "mariadb",
			Host: "strongroom-db.c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", Port: 3306, Username: "app",
			Password: "Sx7-sample-not-real-9Qa", DBName: "app"}},
		{"alternating user, port as string", "alternating.json", Secret{Engine: "mariadb",
			Host: "strongroom-db.c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", Port: 3307, Username: "app_clone",
			Password: "Qq1-sample-not-real-7Zz", DBName: "app",
			MasterARN: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongroom/db/master-AbCdEf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got.extra = nil
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("Parse = %#v\nwant %#v", *got, tc.want)
			}
		})
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	const pw = "Zx9-do-not-print-me"
	tests := []struct {
		name      string
		in        string
		wantField string
	}{
		{"not JSON", `engine=mariadb password=` + pw, ""},
		{"JSON array", `["` + pw + `"]`, ""},
		{"empty", ``, ""},
		{"engine missing", `{"host":"h","username":"u","password":"` + pw + `"}`, "engine"},
		{"wrong engine", `{"engine":"mysql","host":"h","username":"u","password":"` + pw + `"}`, "engine"},
		{"host missing", `{"engine":"mariadb","username":"u","password":"` + pw + `"}`, "host"},
		{"host empty", `{"engine":"mariadb","host":"","username":"u","password":"` + pw + `"}`, "host"},
		{"username missing", `{"engine":"mariadb","host":"h","password":"` + pw + `"}`, "username"},
		{"password missing", `{"engine":"mariadb","host":"h","username":"u"}`, "password"},
		{"password not a string", `{"engine":"mariadb","host":"h","username":"u","password":12345678}`, "password"},
		{"port out of range", `{"engine":"mariadb","host":"h","username":"u","password":"` + pw + `","port":70000}`, "port"},
		{"port not a number", `{"engine":"mariadb","host":"h","username":"u","password":"` + pw + `","port":"abc"}`, "port"},
		{"masterarn not a string", `{"engine":"mariadb","host":"h","username":"u","password":"` + pw + `","masterarn":1}`, "masterarn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error = %v, want ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("Parse error = %v, want a FieldError for %q", err, tc.wantField)
			}
			if tc.wantField != "" && !strings.Contains(err.Error(), `"`+tc.wantField+`"`) {
				t.Fatalf("error %q does not name the field %q", err, tc.wantField)
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "12345678") {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

func TestJSONKeepsUnknownMembers(t *testing.T) {
	s, err := Parse(fixture(t, "rds-mariadb.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	c.Password, c.Username = "new-password-1", "app_clone"
	out, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m["dbInstanceIdentifier"] != "strongroom-db" || m["password"] != "new-password-1" ||
		m["username"] != "app_clone" || m["port"] != float64(3306) || m["engine"] != "mariadb" {
		t.Fatalf("JSON() = %s", out)
	}
	if _, ok := m["masterarn"]; ok {
		t.Fatalf("JSON() added an empty masterarn: %s", out)
	}
	if s.Password != "Sx7-sample-not-real-9Qa" {
		t.Fatal("Clone shares state with the original")
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(JSON()) = %v", err)
	}
	if back.Password != "new-password-1" {
		t.Fatal("round trip lost the password")
	}
}

func TestSecretNeverPrintsItsPassword(t *testing.T) {
	s, err := Parse(fixture(t, "alternating.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("secret", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), buf.String()} {
		if strings.Contains(out, s.Password) {
			t.Fatalf("output contains the password: %s", out)
		}
		if !strings.Contains(out, "app_clone") {
			t.Fatalf("output lost the user name: %s", out)
		}
	}
}

func TestParseTLSMode(t *testing.T) {
	tests := []struct {
		in      string
		want    TLSMode
		wantErr bool
	}{
		{"", TLSRequired, false},
		{"required", TLSRequired, false},
		{" Disabled ", TLSDisabled, false},
		{"skip-verify", "", true},
		{"true", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTLSMode(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseTLSMode(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

func TestNewTLSErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"no path", "", "no path given"},
		{"missing file", filepath.Join(dir, "absent.pem"), "absent.pem"},
		{"not PEM", notPEM, "no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTLS(TLSRequired, tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewTLS error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := NewTLS(TLSDisabled, ""); err != nil {
		t.Fatalf("disabled TLS needs no bundle: %v", err)
	}
}
