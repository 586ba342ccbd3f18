package dbuser_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/dbuser"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/rotationtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// db is the real MariaDB server the tests share (no require_secure_transport, so a login without
// TLS is refused only by the user's own REQUIRE SSL).
var db *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Run(m, &db) }

// syncBuffer is a log sink the tests read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a superuser and a user secret naming a user that does not exist yet, as the
// database stack has them after its instance is created.
type fixture struct {
	env                 *rotationtest.Env
	p                   *dbuser.Provisioner
	logs                *syncBuffer
	adminARN, userARN   string
	user, password, dbn string
	tls                 dbsecret.TLS
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := rotationtest.New(t, db, rotation.Config{})
	_, adminARN := e.NewAdmin(t)
	f := &fixture{env: e, adminARN: adminARN, user: db.UniqueName("app"), password: "Usr-" + db.UniqueName("pw") + "-Kx4mP8", dbn: db.UniqueName("appdb"), logs: &syncBuffer{}}
	if err := db.CreateDatabase(context.Background(), f.dbn); err != nil {
		t.Fatal(err)
	}
	f.userARN = e.CreateSecret(t, &dbsecret.Secret{Engine: dbsecret.EngineMariaDB, Host: db.Host, Port: db.Port,
		Username: f.user, Password: f.password, DBName: f.dbn, MasterARN: adminARN})
	tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, db.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	f.tls = tl
	f.p = &dbuser.Provisioner{SM: e.Client, TLS: tl, Log: slog.New(slog.NewJSONHandler(f.logs, nil))}
	return f
}

func (f *fixture) props(grants ...string) map[string]any {
	g := make([]any, len(grants))
	for i, s := range grants {
		g[i] = s
	}
	return map[string]any{"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:relay",
		dbuser.PropSuperuserSecretArn: f.adminARN, dbuser.PropUserSecretArn: f.userARN, dbuser.PropGrants: g}
}

func event(typ cfn.RequestType, props, old map[string]any, physical string) cfn.Event {
	return cfn.Event{RequestType: typ, RequestID: "req-" + string(typ), LogicalResourceID: "ApplicationUser", ResourceType: dbuser.ResourceType,
		StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/StrongroomDatabase/1", ResourceProperties: props,
		OldResourceProperties: old, PhysicalResourceID: physical}
}

func ctx(t *testing.T) context.Context { return sandboxtest.Context(t, 2*time.Minute) }

// plainLogin logs in without TLS.
func plainLogin(ctx context.Context, user, password string) error {
	s := &dbsecret.Secret{Host: db.Host, Port: db.Port, Username: user, Password: password}
	c, err := s.Connector(dbsecret.TLS{Mode: dbsecret.TLSDisabled})
	if err != nil {
		return err
	}
	h := sql.OpenDB(c)
	defer h.Close()
	return h.PingContext(ctx)
}

// privileges lists the user's privileges as "<privilege> ON <schema>.<table or *>", from
// information_schema as root, USAGE left out.
func privileges(t *testing.T, user string) []string {
	t.Helper()
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rows, err := root.QueryContext(ctx(t), `SELECT CONCAT(PRIVILEGE_TYPE, ' ON *.*') FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE <> 'USAGE'
		UNION ALL SELECT CONCAT(PRIVILEGE_TYPE, ' ON ', TABLE_SCHEMA, '.*') FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?
		UNION ALL SELECT CONCAT(PRIVILEGE_TYPE, ' ON ', TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ?`,
		"'"+user+"'@'%'", "'"+user+"'@'%'", "'"+user+"'@'%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func sslType(t *testing.T, user string) string {
	t.Helper()
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var v sql.NullString
	err = root.QueryRowContext(ctx(t), "SELECT JSON_VALUE(Priv, '$.ssl_type') FROM mysql.global_priv WHERE User = ? AND Host = '%'", user).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "no such user"
	}
	if err != nil {
		t.Fatal(err)
	}
	return v.String
}

// noSecretIn fails when text holds one of the passwords.
func noSecretIn(t *testing.T, what, text string, passwords ...string) {
	t.Helper()
	for _, p := range passwords {
		if p != "" && strings.Contains(text, p) {
			t.Errorf("%s contains a password", what)
		}
	}
}

// TestCreateThenRotate is the database stack's first deploy: the user secret names a user that
// does not exist; the Create makes it with REQUIRE SSL and the grants, a repeated Create changes
// nothing, an Update applies changed grants, and the secret's first rotation then succeeds.
func TestCreateThenRotate(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	if err := db.Login(c, f.user, f.password, ""); !dbsecret.IsAccessDenied(err) {
		t.Fatalf("before the Create the user logs in or fails otherwise: %v", err)
	}
	grants := "SELECT, INSERT, UPDATE, DELETE ON " + f.dbn + ".*"
	out, err := f.p.Handle(c, event(cfn.RequestCreate, f.props(grants), nil, ""))
	if err != nil {
		t.Fatalf("Create: %v\nlogs:\n%s", err, f.logs)
	}
	if out.Status != cfn.StatusSuccess || out.PhysicalResourceID != f.user+"@"+db.Addr() {
		t.Errorf("Create answered %+v", out)
	}
	if err := db.Login(c, f.user, f.password, f.dbn); err != nil {
		t.Fatalf("the user secret does not log in over TLS: %v", err)
	}
	if got := sslType(t, f.user); got != "1" {
		t.Errorf("ssl_type %q, want 1 (REQUIRE SSL)", got)
	}
	// REQUIRE SSL refuses a login without TLS; the superuser (made without it) shows the server
	// itself takes plain logins.
	if err := plainLogin(c, f.user, f.password); !dbsecret.IsAccessDenied(err) {
		t.Errorf("a login without TLS: %v, want access denied", err)
	}
	want := []string{"DELETE ON " + f.dbn + ".*", "INSERT ON " + f.dbn + ".*", "SELECT ON " + f.dbn + ".*", "UPDATE ON " + f.dbn + ".*"}
	if got := privileges(t, f.user); !slices.Equal(got, want) {
		t.Errorf("privileges %q, want %q", got, want)
	}

	// A retried Create, and a second run of the same properties, change nothing.
	if _, err := f.p.Handle(c, event(cfn.RequestCreate, f.props(grants), nil, "")); err != nil {
		t.Fatalf("retried Create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	type logged struct {
		Created bool     `json:"created"`
		Changes []string `json:"changes"`
	}
	var first, last logged
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Created || len(last.Changes) != 0 {
		t.Errorf("the retried Create changed %v (created %v); want nothing", last.Changes, last.Created)
	}
	// Created with REQUIRE SSL in the one statement: the user never exists without it.
	wantFirst := []string{"CREATE USER '" + f.user + "'@'%' IDENTIFIED BY <the user secret's password> REQUIRE SSL",
		"GRANT DELETE, INSERT, SELECT, UPDATE ON `" + f.dbn + "`.* TO '" + f.user + "'@'%'"}
	if !first.Created || !slices.Equal(first.Changes, wantFirst) {
		t.Errorf("the first Create made %q (created %v), want %q", first.Changes, first.Created, wantFirst)
	}

	// An Update to other grants revokes what the old ones gave and the new ones do not.
	newGrants := []string{"SELECT ON " + f.dbn + ".*", "INSERT, UPDATE ON " + f.dbn + ".t"}
	if _, err := f.p.Handle(c, event(cfn.RequestUpdate, f.props(newGrants...), f.props(grants), out.PhysicalResourceID)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want = []string{"INSERT ON " + f.dbn + ".t", "SELECT ON " + f.dbn + ".*", "UPDATE ON " + f.dbn + ".t"}
	if got := privileges(t, f.user); !slices.Equal(got, want) {
		t.Errorf("after the Update: privileges %q, want %q", got, want)
	}

	// The first rotation of the user secret (alternating users) now succeeds: the clone copies the
	// user, REQUIRE SSL and grants included.
	if _, err := f.env.Client.RotateSecret(c, &sm.RotateSecretInput{SecretId: aws.String(f.userARN), RotationLambdaARN: aws.String(f.env.FunctionARN)}); err != nil {
		t.Fatal(err)
	}
	for busy := true; busy; {
		if busy, err = f.env.SM.Rotating(f.userARN); err != nil {
			t.Fatal(err)
		}
		if c.Err() != nil {
			t.Fatal("rotation did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if msg, _ := f.env.SM.LastRotationError(f.userARN); msg != "" {
		t.Fatalf("the first rotation failed: %s", msg)
	}
	val, err := f.env.Client.GetSecretValue(c, &sm.GetSecretValueInput{SecretId: aws.String(f.userARN)})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := dbsecret.Parse(*val.SecretString)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Username != f.user+"_clone" {
		t.Errorf("after the first rotation AWSCURRENT is %s, want %s_clone", cur.Username, f.user)
	}
	if err := db.Login(c, cur.Username, cur.Password, f.dbn); err != nil {
		t.Errorf("the rotated credentials do not log in: %v", err)
	}
	if got := sslType(t, cur.Username); got != "1" {
		t.Errorf("the clone's ssl_type %q, want 1", got)
	}
	noSecretIn(t, "the function's logs", f.logs.String(), f.password, cur.Password)
}

// TestExistingUserConverges: a user made by hand (the old manual step) without REQUIRE SSL, with
// another password and a grant of its own is given REQUIRE SSL, the secret's password and the
// grants; its own grant stays.
func TestExistingUserConverges(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	if err := db.CreateUser(c, f.user, "Other-pw-"+db.UniqueName("x")+"-Zz9", "SELECT ON `"+f.dbn+"`.*", "PROCESS ON *.*"); err != nil {
		t.Fatal(err)
	}
	if err := plainLogin(c, f.user, f.password); !dbsecret.IsAccessDenied(err) {
		t.Fatalf("before: %v", err)
	}
	out, err := f.p.Handle(c, event(cfn.RequestCreate, f.props("SELECT, INSERT ON "+f.dbn+".*"), nil, ""))
	if err != nil || out.Status != cfn.StatusSuccess {
		t.Fatalf("Create: %+v, %v", out, err)
	}
	if err := db.Login(c, f.user, f.password, f.dbn); err != nil {
		t.Errorf("the secret's password does not log in: %v", err)
	}
	if err := plainLogin(c, f.user, f.password); !dbsecret.IsAccessDenied(err) {
		t.Errorf("a login without TLS: %v, want access denied", err)
	}
	want := []string{"INSERT ON " + f.dbn + ".*", "PROCESS ON *.*", "SELECT ON " + f.dbn + ".*"}
	if got := privileges(t, f.user); !slices.Equal(got, want) {
		t.Errorf("privileges %q, want %q", got, want)
	}
}

// TestRefusedCreate: requests that cannot succeed fail with a reason naming the fix and no
// password, and Delete leaves the user.
func TestRefusedCreate(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	// The superuser secret holds a password the database does not take.
	wrong := "Wrong-" + db.UniqueName("pw") + "-Hq2"
	wrongARN := f.env.CreateSecret(t, &dbsecret.Secret{Engine: dbsecret.EngineMariaDB, Host: db.Host, Port: db.Port, Username: "nobody_here", Password: wrong})
	props := f.props("SELECT ON " + f.dbn + ".*")
	props[dbuser.PropSuperuserSecretArn] = wrongARN
	_, err := f.p.Handle(c, event(cfn.RequestCreate, props, nil, ""))
	var term *lambdaerr.TerminalError
	if err == nil || !strings.Contains(err.Error(), "login refused") || !strings.Contains(err.Error(), "nobody_here") ||
		!strings.Contains(err.Error(), "--master-user-password") {
		t.Errorf("wrong superuser password: %v", err)
	} else if !errors.As(err, &term) {
		t.Errorf("wrong superuser password: %T, want a TerminalError", err)
	}
	noSecretIn(t, "the error", err.Error(), wrong, f.password)

	cases := []struct {
		name string
		edit func(map[string]any)
		want []string
	}{
		{"global grant", func(p map[string]any) { p[dbuser.PropGrants] = []any{"SELECT ON *.*"} }, []string{"Grants:", "global privileges"}},
		{"grants not strings", func(p map[string]any) { p[dbuser.PropGrants] = []any{1.0} }, []string{"Grants: must be a list of strings"}},
		{"no user secret", func(p map[string]any) { delete(p, dbuser.PropUserSecretArn) }, []string{"UserSecretArn: must be a Secrets Manager secret ARN"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.props("SELECT ON " + f.dbn + ".*")
			tc.edit(p)
			_, err := f.p.Handle(c, event(cfn.RequestCreate, p, nil, ""))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
	// Nothing was created by the refused requests.
	if got := sslType(t, f.user); got != "no such user" {
		t.Errorf("a refused Create left user %s (ssl_type %q)", f.user, got)
	}

	// Delete keeps the user and needs no database.
	if _, err := f.p.Handle(c, event(cfn.RequestCreate, f.props("SELECT ON "+f.dbn+".*"), nil, "")); err != nil {
		t.Fatal(err)
	}
	out, err := f.p.Handle(c, event(cfn.RequestDelete, f.props("SELECT ON "+f.dbn+".*"), nil, f.user+"@"+db.Addr()))
	if err != nil || out.Status != cfn.StatusSuccess {
		t.Fatalf("Delete: %+v, %v", out, err)
	}
	if err := db.Login(c, f.user, f.password, f.dbn); err != nil {
		t.Errorf("after Delete the user no longer logs in: %v", err)
	}
	var answer customresource.Outcome = out
	b, _ := json.Marshal(answer)
	noSecretIn(t, "the Delete outcome", string(b), f.password)
}

// TestSuperuserMidRotation: the superuser secret's single-user rotation has set its new password
// on the database (AWSPENDING) but not yet made it AWSCURRENT; the user is still created, with the
// AWSPENDING password, as the rotation's clients would log in.
func TestSuperuserMidRotation(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	val, err := f.env.Client.GetSecretValue(c, &sm.GetSecretValueInput{SecretId: aws.String(f.adminARN)})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dbsecret.Parse(*val.SecretString)
	if err != nil {
		t.Fatal(err)
	}
	pending := admin.Clone()
	pending.Password = "Pend-" + db.UniqueName("pw") + "-Wv8"
	body, err := pending.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Client.PutSecretValue(c, &sm.PutSecretValueInput{SecretId: aws.String(f.adminARN), SecretString: aws.String(body),
		ClientRequestToken: aws.String("0a1b2c3d-0000-4000-8000-000000000001"), VersionStages: []string{"AWSPENDING"}}); err != nil {
		t.Fatal(err)
	}
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := mariadbtest.SetPassword(c, root, "'"+admin.Username+"'@'%'", pending.Password); err != nil {
		t.Fatal(err)
	}
	out, err := f.p.Handle(c, event(cfn.RequestCreate, f.props("SELECT ON "+f.dbn+".*"), nil, ""))
	if err != nil || out.Status != cfn.StatusSuccess {
		t.Fatalf("Create during the superuser's rotation: %+v, %v", out, err)
	}
	if err := db.Login(c, f.user, f.password, f.dbn); err != nil {
		t.Errorf("the user secret does not log in: %v", err)
	}
	if !strings.Contains(f.logs.String(), "trying AWSPENDING") {
		t.Errorf("the logs do not say AWSPENDING was used:\n%s", f.logs)
	}
	noSecretIn(t, "the function's logs", f.logs.String(), admin.Password, pending.Password, f.password)
}
