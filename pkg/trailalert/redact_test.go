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
		{"non-string values", nil, `{"password":12345,"plaintext":true,"passphrase":[1]}`, `{"password":"[REDACTED]","plaintext":true,"passphrase":"[REDACTED]"}`, 2},
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
			checkRedact(t, fields, tc.in, tc.want, tc.n)
		})
	}
	r, _ := trailalert.NewRedactor(trailalert.DefaultSensitiveFields)
	if _, _, err := r.Redact([]byte(`{"password":"x"`)); !errors.Is(err, trailalert.ErrMalformed) {
		t.Errorf("invalid JSON: %v; want ErrMalformed", err)
	}
}

// TestRedactByContext covers values whose own field name says nothing ("value") but whose object
// does: a name/value pair naming a secret, EventBridge's isValueSecret flag, an SSM SecureString;
// and values copied from a redacted field into other fields (an ARN built from a name, a message).
func TestRedactByContext(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		in     string
		want   string
		n      int
	}{
		{"name/value pair naming a secret", nil,
			`{"environment":[{"name":"DB_PASSWORD","value":"pw-1"},{"name":"PORT","value":"8443"}]}`,
			`{"environment":[{"name":"DB_PASSWORD","value":"[REDACTED]"},{"name":"PORT","value":"8443"}]}`, 1},
		{"value before its name", nil, `{"Value":"s3cr3t-value","Key":"api_key"}`, `{"Value":"[REDACTED]","Key":"api_key"}`, 1},
		{"CloudFormation parameter", nil, `{"parameterKey":"MasterUserPassword","parameterValue":"pw-2"}`,
			`{"parameterKey":"MasterUserPassword","parameterValue":"[REDACTED]"}`, 1},
		{"isValueSecret", nil, `[{"key":"X-Tenant","value":"t-1","isValueSecret":true},{"key":"aud","value":"crm","isValueSecret":false}]`,
			`[{"key":"X-Tenant","value":"[REDACTED]","isValueSecret":true},{"key":"aud","value":"crm","isValueSecret":false}]`, 1},
		{"SSM SecureString", nil, `{"name":"/p/x","value":"whsec-1","type":"SecureString"}`, `{"name":"/p/x","value":"[REDACTED]","type":"SecureString"}`, 1},
		{"SSM String kept", nil, `{"name":"/p/x","value":"https://x","type":"String"}`, `{"name":"/p/x","value":"https://x","type":"String"}`, 0},
		{"booleans hold no secret", nil, `{"generateSecret":true,"isValueSecret":false,"password":"p"}`,
			`{"generateSecret":true,"isValueSecret":false,"password":"[REDACTED]"}`, 1},
		{"copies of a redacted value", []string{"customerRef"},
			`{"customerRef":"Cust-9981","arn":"arn:aws:x::1:thing/Cust-9981","name":"Cust-9981","msg":"no Cust-9981 \"here\""}`,
			`{"customerRef":"[REDACTED]","arn":"arn:aws:x::1:thing/[REDACTED]","name":"[REDACTED]","msg":"no [REDACTED] \"here\""}`, 1},
		{"copy behind escapes", nil, `{"password":"a\"b/c\\d","note":"was a\u0022b\/c\\d"}`,
			`{"password":"[REDACTED]","note":"was [REDACTED]"}`, 1},
		{"short values are not hunted", nil, `{"pwd":"abc","user":"abcdef"}`, `{"pwd":"[REDACTED]","user":"abcdef"}`, 1},
		{"CloudTrail's placeholder is not hunted", nil, `{"password":"HIDDEN_DUE_TO_SECURITY_REASONS","userName":"HIDDEN_DUE_TO_SECURITY_REASONS"}`,
			`{"password":"[REDACTED]","userName":"HIDDEN_DUE_TO_SECURITY_REASONS"}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := append(append([]string{}, trailalert.DefaultSensitiveFields...), tc.fields...)
			checkRedact(t, fields, tc.in, tc.want, tc.n)
		})
	}
}

// checkRedact redacts in with a redactor of fields and wants the output want with n redactions.
func checkRedact(t *testing.T, fields []string, in, want string, n int) {
	t.Helper()
	r, err := trailalert.NewRedactor(fields)
	if err != nil {
		t.Fatal(err)
	}
	got, count, err := r.Redact([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want || count != n {
		t.Errorf("Redact = %s (%d)\n   want %s (%d)", got, count, want, n)
	}
}
