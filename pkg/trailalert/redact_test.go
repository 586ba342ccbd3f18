package trailalert_test

import (
	"errors"
	"testing"

	"github.com/strongroom/strongroom/pkg/trailalert"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		in     string
		want   string
		n      int
	}{
		{"top level", nil, `{"password":"hunter2","user":"app"}`, `{"password":"[REDACTED]","user":"app"}`, 1},
		{"case and separators", nil, `{"SecretString":"a","secret_string":"b","Secret-Binary":"c","PRIVATEKEY":"d"}`,
			`{"SecretString":"[REDACTED]","secret_string":"[REDACTED]","Secret-Binary":"[REDACTED]","PRIVATEKEY":"[REDACTED]"}`, 4},
		{"name contains a marker", nil, `{"keyStorePassword":"p","newPasswordHint":"q"}`, `{"keyStorePassword":"[REDACTED]","newPasswordHint":"[REDACTED]"}`, 2},
		{"nested in arrays and objects", nil, `{"a":[{"b":{"plaintext":"x"}},{"c":[1,{"sessionToken":"t"}]}]}`,
			`{"a":[{"b":{"plaintext":"[REDACTED]"}},{"c":[1,{"sessionToken":"[REDACTED]"}]}]}`, 2},
		{"whole object value", nil, `{"privateKey":{"pem":"-----BEGIN","n":[1,2,"}"]},"x":1}`, `{"privateKey":"[REDACTED]","x":1}`, 1},
		{"non-string values", nil, `{"password":12345,"plaintext":true,"passphrase":[1]}`, `{"password":"[REDACTED]","plaintext":"[REDACTED]","passphrase":"[REDACTED]"}`, 3},
		{"null stays null", nil, `{"password":null}`, `{"password":null}`, 0},
		{"escaped key", nil, `{"pass\u0077ord":"x","a\"b":"y"}`, `{"pass\u0077ord":"[REDACTED]","a\"b":"y"}`, 1},
		{"strings with braces and escapes", nil, `{"msg":"a \"password\": {\"x\"}","password":"q\"}"}`, `{"msg":"a \"password\": {\"x\"}","password":"[REDACTED]"}`, 1},
		{"whitespace compacted", nil, "{ \"password\" :\n \"x\" , \"n\" : [ 1 , 2 ] }", `{"password":"[REDACTED]","n":[1,2]}`, 1},
		{"scalar document", nil, `"password"`, `"password"`, 0},
		{"custom list only", []string{"dbHost"}, `{"db_host":"h","password":"p"}`, `{"db_host":"[REDACTED]","password":"p"}`, 1},
		{"unicode kept", nil, `{"name":"zoë ✓","password":"ü"}`, `{"name":"zoë ✓","password":"[REDACTED]"}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := tc.fields
			if fields == nil {
				fields = trailalert.DefaultSensitiveFields
			}
			r, err := trailalert.NewRedactor(fields)
			if err != nil {
				t.Fatal(err)
			}
			got, n, err := r.Redact([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || n != tc.n {
				t.Errorf("Redact = %s (%d)\n   want %s (%d)", got, n, tc.want, tc.n)
			}
		})
	}
	r, _ := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	if _, _, err := r.Redact([]byte(`{"password":"x"`)); !errors.Is(err, trailalert.ErrMalformed) {
		t.Errorf("invalid JSON: %v; want ErrMalformed", err)
	}
}
