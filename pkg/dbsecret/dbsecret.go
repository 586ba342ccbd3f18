// Package dbsecret is the JSON document that RDS and Secrets Manager keep for a MariaDB database
// user, and how to connect with it.
//
// The shape is the one RDS-managed and rotation-template secrets use:
//
//	{"engine":"mariadb","host":"db.example.eu-west-1.rds.amazonaws.com","port":3306,
//	 "username":"app","password":"...","dbname":"app","masterarn":"arn:aws:secretsmanager:..."}
//
// masterarn (the superuser's secret) is present only for the alternating-users strategy. Members
// this package does not know are kept when a secret is rewritten, as the AWS templates do.
//
// A Secret never prints its password: String, GoString and LogValue redact it, so a secret that
// reaches fmt or log/slog by mistake leaks nothing.
package dbsecret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// EngineMariaDB is the only engine value this package accepts.
const EngineMariaDB = "mariadb"

// DefaultPort is used when a secret has no port.
const DefaultPort = 3306

// Secret is one version of a MariaDB user secret.
type Secret struct {
	Engine    string
	Host      string
	Port      int
	Username  string
	Password  string
	DBName    string
	MasterARN string

	// extra holds members other than the ones above, written back unchanged.
	extra map[string]json.RawMessage
}

// FieldError says which member of a secret is wrong and how to fix it. It never holds a value
// that could be a password.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "secret: " + e.Problem
	}
	return fmt.Sprintf("secret field %q: %s", e.Field, e.Problem)
}

// ErrInvalid is wrapped by every error Parse returns, for callers that branch on a bad secret.
var ErrInvalid = errors.New("invalid database secret")

func invalid(field, problem string) error {
	return fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: field, Problem: problem})
}

var known = map[string]bool{"engine": true, "host": true, "port": true, "username": true,
	"password": true, "dbname": true, "masterarn": true}

// Parse reads a SecretString. It requires engine "mariadb", host, username and password; port
// defaults to 3306 and may be a JSON number or a numeric string; dbname and masterarn are
// optional. Errors name the member and the fix, never a value.
func Parse(secretString string) (*Secret, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(secretString))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		// The decoder's message can quote the input; it is dropped on purpose.
		return nil, invalid("", "SecretString is not a JSON object; store the database user as "+
			`{"engine":"mariadb","host":...,"port":3306,"username":...,"password":...,"dbname":...}`)
	}
	s := &Secret{extra: map[string]json.RawMessage{}}
	for k, v := range raw {
		if !known[k] {
			s.extra[k] = v
		}
	}
	var err error
	if s.Engine, err = str(raw, "engine", true); err != nil {
		return nil, err
	}
	if s.Engine != EngineMariaDB {
		return nil, invalid("engine", fmt.Sprintf("must be %q for this rotation function (got %q)", EngineMariaDB, s.Engine))
	}
	if s.Host, err = str(raw, "host", true); err != nil {
		return nil, err
	}
	if s.Username, err = str(raw, "username", true); err != nil {
		return nil, err
	}
	if s.Password, err = str(raw, "password", true); err != nil {
		return nil, err
	}
	if s.DBName, err = str(raw, "dbname", false); err != nil {
		return nil, err
	}
	if s.MasterARN, err = str(raw, "masterarn", false); err != nil {
		return nil, err
	}
	if s.Port, err = port(raw["port"]); err != nil {
		return nil, err
	}
	return s, nil
}

func str(raw map[string]json.RawMessage, field string, required bool) (string, error) {
	v, ok := raw[field]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		if required {
			return "", invalid(field, "missing; add it to the secret")
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", invalid(field, "must be a JSON string")
	}
	if required && s == "" {
		return "", invalid(field, "is empty; set it in the secret")
	}
	return s, nil
}

func port(v json.RawMessage) (int, error) {
	if len(v) == 0 || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return DefaultPort, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, invalid("port", "must be a number from 1 to 65535")
		}
		n = json.Number(s)
	}
	p, err := strconv.Atoi(n.String())
	if err != nil || p < 1 || p > 65535 {
		return 0, invalid("port", "must be a number from 1 to 65535")
	}
	return p, nil
}

// JSON encodes the secret, password included, for PutSecretValue. Unknown members are kept.
func (s *Secret) JSON() (string, error) {
	m := make(map[string]any, len(s.extra)+7)
	for k, v := range s.extra {
		m[k] = v
	}
	m["engine"], m["host"], m["port"], m["username"], m["password"] = s.Engine, s.Host, s.Port, s.Username, s.Password
	if s.DBName != "" {
		m["dbname"] = s.DBName
	}
	if s.MasterARN != "" {
		m["masterarn"] = s.MasterARN
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode secret for %s: %w", s.Username, err)
	}
	return string(b), nil
}

// Clone returns a deep copy.
func (s *Secret) Clone() *Secret {
	c := *s
	c.extra = make(map[string]json.RawMessage, len(s.extra))
	for k, v := range s.extra {
		c.extra[k] = append(json.RawMessage(nil), v...)
	}
	return &c
}

// Endpoint is host:port.
func (s *Secret) Endpoint() string {
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(s.Host, "["), "]"), strconv.Itoa(s.Port))
}

// String describes the secret without its password.
func (s *Secret) String() string {
	return fmt.Sprintf("mariadb://%s@%s/%s (password redacted)", s.Username, s.Endpoint(), s.DBName)
}

// GoString implements fmt.GoStringer so %#v redacts too.
func (s *Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer: the secret logs as its non-secret members.
func (s *Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", s.Username), slog.String("host", s.Host),
		slog.Int("port", s.Port), slog.String("dbname", s.DBName))
}
