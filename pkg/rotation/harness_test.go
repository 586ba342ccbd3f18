package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
	smsandbox "github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/rotationtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// db is the real MariaDB server all tests in this binary share; each test makes its own users.
var db *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Run(m, &db) }

// harness is rotationtest's environment (the sandbox's Secrets Manager and Lambda with the
// rotation function registered in-process, a real SDK client) under the names these tests use.
type harness struct {
	*rotationtest.Env
	env    *sandboxtest.Env
	svc    *smsandbox.Service
	client *sm.Client
	fnARN  string
}

type harnessOption func(*rotation.Config)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	var rc rotation.Config
	for _, o := range opts {
		o(&rc)
	}
	e := rotationtest.New(t, db, rc)
	return &harness{Env: e, env: e.Sandbox, svc: e.SM, client: e.Client, fnARN: e.FunctionARN}
}

// setWrap decides what the function does around the real step (see rotationtest.Env.Wrap).
func (h *harness) setWrap(f func(ev rotation.Event, run func() error) error) { h.Wrap(f) }

func ctx(t *testing.T) context.Context { return sandboxtest.Context(t, 2*time.Minute) }

// user is a database user made for one test.
type user struct {
	name, password, dbname string
}

// newUser creates a database, a user with a few grants on it, and returns both.
func newUser(t *testing.T) user {
	t.Helper()
	c := ctx(t)
	u := user{name: db.UniqueName("app"), password: "Init-" + db.UniqueName("pw") + "-aB3xY9", dbname: db.UniqueName("appdb")}
	if err := db.CreateDatabase(c, u.dbname); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(c, u.name, u.password, "SELECT, INSERT, UPDATE ON `"+u.dbname+"`.*", "PROCESS ON *.*"); err != nil {
		t.Fatal(err)
	}
	return u
}

// newAdmin creates a superuser as the RDS master user is: every privilege, with grant option.
func newAdmin(t *testing.T) user {
	t.Helper()
	u := user{name: db.UniqueName("admin"), password: "Adm-" + db.UniqueName("pw") + "-Qz7wE2"}
	if err := db.CreateUser(ctx(t), u.name, u.password, "ALL PRIVILEGES ON *.* WITH GRANT OPTION"); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u user) secret(masterARN string) *dbsecret.Secret {
	return &dbsecret.Secret{Engine: "mariadb", Host: db.Host, Port: db.Port, Username: u.name,
		Password: u.password, DBName: u.dbname, MasterARN: masterARN}
}

// newUserSecret creates a database user (newUser) and a secret for it, and returns both. With
// alternating, a new superuser's secret (newAdmin) is created first and named as the user's
// master secret, which selects the alternating-users strategy.
func (h *harness) newUserSecret(t *testing.T, alternating bool) (user, string) {
	t.Helper()
	master := ""
	if alternating {
		master = h.createSecret(t, newAdmin(t).secret(""))
	}
	u := newUser(t)
	return u, h.createSecret(t, u.secret(master))
}

// createSecret stores s under a unique name and returns its ARN.
func (h *harness) createSecret(t *testing.T, s *dbsecret.Secret) string {
	t.Helper()
	body, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return h.createRaw(t, body)
}

func (h *harness) createRaw(t *testing.T, body string) string {
	t.Helper()
	out, err := h.client.CreateSecret(ctx(t), &sm.CreateSecretInput{Name: aws.String(db.UniqueName("strongroom/db/secret-")), SecretString: aws.String(body)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// rotate starts a rotation and waits for it to end. It returns the rotation function's last error
// message ("" when it succeeded) and RotateSecret's error (nil when the rotation started).
func (h *harness) rotate(t *testing.T, arn string) (fnErr string, startErr error) {
	t.Helper()
	before := len(h.env.Lambda.History(rotationtest.FunctionName))
	_, startErr = h.client.RotateSecret(ctx(t), &sm.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(h.fnARN)})
	h.waitIdle(t, arn)
	hist := h.env.Lambda.History(rotationtest.FunctionName)
	for _, inv := range hist[before:] {
		if inv.Error != nil {
			fnErr = inv.Error.Message
		}
	}
	return fnErr, startErr
}

func (h *harness) waitIdle(t *testing.T, arn string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		busy, err := h.svc.Rotating(arn)
		if err != nil {
			t.Fatal(err)
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotation of %s still running after a minute", arn)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustRotate rotates and fails the test unless the rotation succeeded.
func (h *harness) mustRotate(t *testing.T, arn string) {
	t.Helper()
	fnErr, startErr := h.rotate(t, arn)
	if startErr != nil || fnErr != "" {
		t.Fatalf("rotation of %s: RotateSecret error %v, function error %q", arn, startErr, fnErr)
	}
	if msg, _ := h.svc.LastRotationError(arn); msg != "" {
		t.Fatalf("rotation of %s failed: %s", arn, msg)
	}
}

// value reads one labelled version.
func (h *harness) value(t *testing.T, arn, stage string) (*dbsecret.Secret, string) {
	t.Helper()
	out, err := h.client.GetSecretValue(ctx(t), &sm.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("read %s of %s: %v", stage, arn, err)
	}
	s, err := dbsecret.Parse(aws.ToString(out.SecretString))
	if err != nil {
		t.Fatal(err)
	}
	return s, aws.ToString(out.VersionId)
}

// stages returns the secret's VersionIdsToStages.
func (h *harness) stages(t *testing.T, arn string) map[string][]string {
	t.Helper()
	out, err := h.client.DescribeSecret(ctx(t), &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return out.VersionIdsToStages
}

// pendingVersion returns the id of a version labelled AWSPENDING but not AWSCURRENT, or "".
func (h *harness) pendingVersion(t *testing.T, arn string) string {
	for id, st := range h.stages(t, arn) {
		pending, current := false, false
		for _, s := range st {
			pending = pending || s == "AWSPENDING"
			current = current || s == "AWSCURRENT"
		}
		if pending && !current {
			return id
		}
	}
	return ""
}

// logsIn asserts the secret's credentials open a session to its database over TLS.
func logsIn(t *testing.T, s *dbsecret.Secret, what string) {
	t.Helper()
	if err := db.Login(ctx(t), s.Username, s.Password, s.DBName); err != nil {
		t.Fatalf("%s (%s) does not log in: %v", what, s.Username, err)
	}
}

// refused asserts the credentials are refused with MariaDB's access-denied error.
func refused(t *testing.T, s *dbsecret.Secret, what string) {
	t.Helper()
	err := db.Login(ctx(t), s.Username, s.Password, s.DBName)
	if !dbsecret.IsAccessDenied(err) {
		t.Fatalf("%s (%s): got %v, want access denied", what, s.Username, err)
	}
}

// grants returns the user's grants with its own name replaced by USER and any password hash cut.
func grants(t *testing.T, name string) []string {
	t.Helper()
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rows, err := root.QueryContext(ctx(t), "SHOW GRANTS FOR '"+name+"'@'%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		g = strings.ReplaceAll(g, "`"+name+"`", "USER")
		if i := strings.Index(g, " IDENTIFIED BY"); i >= 0 {
			g = g[:i]
		}
		out = append(out, g)
	}
	return out
}

// scanForSecrets fails the test if any value Secrets Manager issued (the passwords, and every
// secret JSON) appears anywhere the sandbox recorded except where it must travel: the Secrets
// Manager calls that carry secret values by design.
func (h *harness) scanForSecrets(t *testing.T, extra ...string) {
	t.Helper()
	values := append(h.env.SecretValues(), extra...)
	var passwords []string
	for _, v := range values {
		passwords = append(passwords, v)
		if s, err := dbsecret.Parse(v); err == nil {
			passwords = append(passwords, s.Password)
		}
	}
	carriers := []string{"GetSecretValue", "PutSecretValue", "CreateSecret", "GetRandomPassword", "UpdateSecret"}
	var bad []string
	for _, f := range h.env.Recorder.Scan(passwords...) {
		ok := false
		for _, c := range carriers {
			if strings.Contains(f.Where, "(secretsmanager "+c+")") {
				ok = true
			}
		}
		if !ok {
			bad = append(bad, f.String())
		}
	}
	if len(bad) > 0 {
		t.Fatalf("secret values found outside Secrets Manager's own calls:\n%s", strings.Join(bad, "\n"))
	}
	if len(passwords) == 0 {
		t.Fatal("the scan had no values to look for")
	}
}

// errStep is what a wrapped function returns to simulate a crash after a step did its work.
var errCrash = errors.New("simulated crash after the step")

func crashAfter(step string, times int) func(ev rotation.Event, run func() error) error {
	var mu sync.Mutex
	left := times
	return func(ev rotation.Event, run func() error) error {
		if err := run(); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if ev.Step == step && left > 0 {
			left--
			return fmt.Errorf("%s: %w", step, errCrash)
		}
		return nil
	}
}
