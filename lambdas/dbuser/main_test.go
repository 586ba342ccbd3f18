package main

import (
	"context"
	"database/sql"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/customresource/relay"
	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/dbuser"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/rotationtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

var db *mariadbtest.Server

// TestMain runs the tests with a real MariaDB server and the IAM judge (stacktest.WithJudge).
func TestMain(m *testing.M) {
	os.Exit(stacktest.WithJudge("", "dbuser", func() int { return mariadbtest.Main(m, mariadbtest.Options{}, &db) }))
}

// TestThroughTheRelay builds this command and lambdas/cfn-relay as `make build` does (for the
// host), registers both with the sandbox's Lambda as the stack wires them (the relay invokes
// TARGET_FUNCTION), and lets the sandbox's CloudFormation drive Custom::DatabaseUser through the
// relay: a Create makes the user, an Update changes its grants, a Create with a superuser secret
// the database refuses answers FAILED naming the cause (never hanging), and no password appears in
// anything the sandbox recorded. IAM is enforced as on AWS: each function runs under a role of
// exactly the actions its package declares (pkg/dbuser, pkg/customresource/relay; what
// infra/database grants), on the test's secrets, their customer managed key and the function.
func TestThroughTheRelay(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	bins := t.TempDir()
	userBin, err := lambdaruntime.BuildHost(ctx, ".", bins)
	if err != nil {
		t.Fatal(err)
	}
	relayBin, err := lambdaruntime.BuildHost(ctx, filepath.Join("..", "cfn-relay"), bins)
	if err != nil {
		t.Fatal(err)
	}
	e := rotationtest.New(t, db, rotation.Config{})
	env := e.Sandbox
	stacktest.EnforceIAM(t, env.Sandbox, false)
	if e.KeyARN, err = stacktest.CreateKey(ctx, env.AWSConfig(), "the database secrets' key"); err != nil {
		t.Fatal(err)
	}
	userFn, err := env.Lambda.RegisterBinary("strongroom-dbuser", userBin, env.Recorder.Writer("dbuser function"),
		lambda.WithEnv(map[string]string{rotation.EnvCABundle: db.CAFile}), lambda.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	relayFn, err := env.Lambda.RegisterBinary("strongroom-cfn-relay", relayBin, env.Recorder.Writer("cfn-relay function"),
		lambda.WithEnv(map[string]string{"TARGET_FUNCTION": userFn}), lambda.WithTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}

	admin, adminARN := e.NewAdmin(t)
	user, password, dbname := db.UniqueName("app"), "Usr-"+db.UniqueName("pw")+"-Lm3nQ7", db.UniqueName("appdb")
	if err := db.CreateDatabase(ctx, dbname); err != nil {
		t.Fatal(err)
	}
	userARN := e.CreateSecret(t, &dbsecret.Secret{Engine: dbsecret.EngineMariaDB, Host: db.Host, Port: db.Port,
		Username: user, Password: password, DBName: dbname, MasterARN: adminARN})
	wrong := "Wrong-" + db.UniqueName("pw") + "-Tq5"
	wrongARN := e.CreateSecret(t, &dbsecret.Secret{Engine: dbsecret.EngineMariaDB, Host: db.Host, Port: db.Port, Username: admin.Name, Password: wrong})
	// As infra/database grants them; the refused superuser's secret stands for a superuser secret
	// whose password was changed outside Secrets Manager.
	stacktest.FunctionRole(ctx, t, env.Sandbox, env.AWSConfig(), "strongroom-dbuser",
		stacktest.Statement{Actions: dbuser.SecretActions, Resources: []string{adminARN, userARN, wrongARN}},
		stacktest.Statement{Actions: dbuser.KeyActions, Resources: []string{e.KeyARN}})
	stacktest.FunctionRole(ctx, t, env.Sandbox, env.AWSConfig(), "strongroom-cfn-relay",
		stacktest.Statement{Actions: relay.InvokeActions, Resources: []string{userFn}})
	props := func(superARN string, grants ...any) map[string]any {
		return map[string]any{dbuser.PropSuperuserSecretArn: superARN, dbuser.PropUserSecretArn: userARN, dbuser.PropGrants: grants}
	}
	spec := cloudformation.ResourceSpec{StackName: "StrongroomDatabase", LogicalResourceID: "ApplicationUser", ResourceType: dbuser.ResourceType,
		ServiceToken: relayFn, ServiceTimeout: 2 * time.Minute, Properties: props(adminARN, "SELECT, INSERT ON "+dbname+".*")}

	created, err := env.CloudFormation.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != "SUCCESS" || created.PhysicalResourceID != user+"@"+db.Addr() || created.Data["Username"] != user {
		t.Fatalf("Create: %s %s %v (%s)", created.Status, created.PhysicalResourceID, created.Data, created.Reason)
	}
	if err := db.Login(ctx, user, password, dbname); err != nil {
		t.Fatalf("the user secret does not log in: %v", err)
	}

	spec.OldProperties, spec.Properties, spec.PhysicalResourceID = spec.Properties, props(adminARN, "SELECT ON "+dbname+".*"), created.PhysicalResourceID
	updated, err := env.CloudFormation.Update(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Status != "SUCCESS" || updated.PhysicalResourceID != created.PhysicalResourceID {
		t.Fatalf("Update: %s %s (%s)", updated.Status, updated.PhysicalResourceID, updated.Reason)
	}
	if err := db.Exec(ctx, "CREATE TABLE IF NOT EXISTS `"+dbname+"`.probe (id INT)"); err != nil {
		t.Fatal(err)
	}
	if err := insertAs(ctx, user, password, dbname); err == nil || !strings.Contains(err.Error(), "INSERT command denied") {
		t.Errorf("after the Update revoked INSERT: %v, want INSERT denied", err)
	}

	// A superuser secret the database refuses: FAILED with the cause, and the rollback's Delete
	// (of a resource never made) succeeds.
	failed, err := env.CloudFormation.Create(ctx, cloudformation.ResourceSpec{StackName: "StrongroomDatabase", LogicalResourceID: "ApplicationUser2",
		ResourceType: dbuser.ResourceType, ServiceToken: relayFn, ServiceTimeout: 2 * time.Minute, Properties: props(wrongARN, "SELECT ON "+dbname+".*")})
	if err != nil {
		t.Fatal(err)
	}
	if failed.TimedOut || failed.Status != "FAILED" || !strings.Contains(failed.Reason, "login refused") || !strings.Contains(failed.Reason, "strongroom-dbuser") {
		t.Errorf("Create with a refused superuser: timed out %v, %s: %s", failed.TimedOut, failed.Status, failed.Reason)
	}
	if failed.Rollback == nil || failed.Rollback.Status != "SUCCESS" {
		t.Errorf("the rollback Delete: %+v", failed.Rollback)
	}
	env.CheckNoSecrets(t, password, wrong, admin.Password)

	// Least privilege, measured: each function called exactly what the stack grants it
	// (infra/database's TestRotationPermissions): the user function GetSecretValue of its two
	// secrets (here also the refused superuser's), the relay Invoke of the user function.
	calls := map[string]map[string]bool{}
	for _, r := range env.Recorder.Records("", "") {
		if r.Caller == "strongroom-dbuser" || r.Caller == "strongroom-cfn-relay" {
			if calls[r.Caller] == nil {
				calls[r.Caller] = map[string]bool{}
			}
			calls[r.Caller][r.Service+" "+r.Operation] = true
			if r.Operation == "GetSecretValue" {
				for _, arn := range []string{adminARN, userARN, wrongARN} {
					if strings.Contains(string(r.RequestBody), arn) {
						calls[r.Caller]["secret "+arn] = true
					}
				}
			}
		}
	}
	want := map[string][]string{
		"strongroom-dbuser":    {"secretsmanager GetSecretValue", "secret " + adminARN, "secret " + userARN, "secret " + wrongARN},
		"strongroom-cfn-relay": {"lambda Invoke"},
	}
	for caller, w := range want {
		got := slices.Sorted(maps.Keys(calls[caller]))
		if !slices.Equal(got, slices.Sorted(slices.Values(w))) {
			t.Errorf("%s called %q, want %q", caller, got, slices.Sorted(slices.Values(w)))
		}
	}
}

// insertAs inserts a row as user over TLS.
func insertAs(ctx context.Context, user, password, dbname string) error {
	tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, db.CAFile)
	if err != nil {
		return err
	}
	s := &dbsecret.Secret{Host: db.Host, Port: db.Port, Username: user, Password: password, DBName: dbname}
	c, err := s.Connector(tl)
	if err != nil {
		return err
	}
	h := sql.OpenDB(c)
	defer h.Close()
	_, err = h.ExecContext(ctx, "INSERT INTO probe VALUES (1)")
	return err
}
