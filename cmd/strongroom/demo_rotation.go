package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
	sblambda "github.com/strongroom/strongroom/pkg/sandbox/lambda"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/secretclient"
)

// rotateFunction is the rotation function's name in the sandbox's Lambda.
const rotateFunction = "strongroom-demo-rotate"

// Rotation section settings.
const (
	// demoAppClients query the database in a loop through secretclient, each with its own cache and
	// a pool that opens a new connection (a new login) for every query: the worst case, since only
	// a login can meet changed credentials.
	demoAppClients = 4
	// demoSchedule is the rotation schedule set with RotateSecret (RDS's default is 7 days); the
	// demo rotates immediately and ends long before the next scheduled rotation.
	demoSchedule = "rate(7 days)"
	// rotationTimeout bounds one rotation in wall time.
	demoRotationTimeout = 60 * time.Second
)

// rotationDemo holds what the rotation section works with.
type rotationDemo struct {
	*demo
	db    *mariadbtest.Server
	smc   *sm.Client
	fnARN string
	tls   dbsecret.TLS
}

// rotation rotates a single-user and an alternating-users secret of a real MariaDB server while an
// application keeps querying it. Setup started the server and built the function.
func (d *demo) rotation(ctx context.Context) (string, error) {
	p := d.p
	p.heading("2. MariaDB credential rotation: Secrets Manager -> rotation Lambda -> MariaDB over TLS")
	if d.dbErr != nil {
		return "", d.dbErr
	}
	if d.rotateErr != nil {
		return "", d.rotateErr
	}
	db, bin := d.db, d.rotateBin
	defer func() {
		// Shutting the server down is no part of the workflow.
		d.clock.stop()
		db.Stop()
	}()
	p.line("MariaDB on %s: require_secure_transport=ON, server certificate from a throw-away CA", db.Addr())

	// The function verifies the database certificate against DB_CA_BUNDLE (the RDS bundle in
	// production, the throw-away CA here); the strategy follows each secret (masterarn or not).
	fnARN, err := d.sb.Lambda.RegisterBinary(rotateFunction, bin, d.logs,
		sblambda.WithEnv(map[string]string{rotation.EnvCABundle: db.CAFile, rotation.EnvTLS: "required"}),
		sblambda.WithTimeout(30*time.Second))
	if err != nil {
		return "", fmt.Errorf("register the rotation function: %w", err)
	}
	p.line("registered %s = lambdas/rotate (real binary, Lambda Runtime API), DB_TLS=required", rotateFunction)
	d.clock.start()
	tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, db.CAFile)
	if err != nil {
		return "", err
	}
	r := &rotationDemo{demo: d, db: db, smc: sm.NewFromConfig(d.aws), fnARN: fnARN, tls: tl}
	// The parts run in this order, each after its heading; an error names the part it came from.
	parts := []struct {
		name, heading string
		run           func(context.Context) (string, error)
	}{
		{"single user", "single user: the user changes its own password", r.singleUser},
		{"alternating users", "alternating users: the superuser secret clones the user; rotations alternate between the two", r.alternatingUsers},
		{"failed rotation", "a rotation that fails: the superuser secret holds a wrong password (changed outside Secrets Manager)", r.failedRotation},
	}
	results := make([]string, len(parts))
	for i, part := range parts {
		p.plain("-- " + part.heading)
		if results[i], err = part.run(ctx); err != nil {
			return "", fmt.Errorf("%s: %w", part.name, err)
		}
	}
	return fmt.Sprintf("application failed queries: single user %s; alternating users %s; a failed rotation %s", results[0], results[1], results[2]), nil
}

// singleUser: the user changes its own password; the old one stops working.
func (r *rotationDemo) singleUser(ctx context.Context) (string, error) {
	p := r.p
	arn, err := r.userSecret(ctx, "app_single", "appdb_single", "strongroom/demo/app-single", "")
	if err != nil {
		return "", err
	}
	before, err := r.current(ctx, arn, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	app := r.startApp(arn)
	err = r.rotate(ctx, arn, true)
	res := app.stop()
	if err != nil {
		return "", err
	}
	after, err := r.current(ctx, arn, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	if after.Username != before.Username {
		return "", fmt.Errorf("after rotation AWSCURRENT is user %s; want user %s (single user rotation keeps the user)", after.Username, before.Username)
	}
	if after.Password == before.Password {
		return "", fmt.Errorf("after rotation AWSCURRENT of %s still has the old password", after.Username)
	}
	if err := r.db.Login(ctx, after.Username, after.Password, after.DBName); err != nil {
		return "", fmt.Errorf("the new AWSCURRENT password of %s does not log in: %w", after.Username, err)
	}
	p.line("new password (AWSCURRENT) of %s logs in", after.Username)
	err = r.db.Login(ctx, before.Username, before.Password, before.DBName)
	if err == nil {
		return "", fmt.Errorf("the old password (now AWSPREVIOUS) of %s should be refused; it logged in", before.Username)
	}
	if !dbsecret.IsAccessDenied(err) {
		return "", fmt.Errorf("the old password (now AWSPREVIOUS) of %s should be refused; login failed otherwise: %w", before.Username, err)
	}
	p.line("old password (AWSPREVIOUS) of %s is refused: %s", before.Username, firstLine(err.Error()))
	p.line("application: %s", res)
	return fmt.Sprintf("%d of %d", res.failed, res.total()), nil
}

// alternatingUsers: the superuser clones the user as <name>_clone and rotation alternates between
// the two, so the credentials an application holds keep working.
func (r *rotationDemo) alternatingUsers(ctx context.Context) (string, error) {
	p := r.p
	adminARN, err := r.userSecret(ctx, "admin_demo", "", "strongroom/demo/admin", "")
	if err != nil {
		return "", err
	}
	arn, err := r.userSecret(ctx, "app", "appdb", "strongroom/demo/app", adminARN)
	if err != nil {
		return "", err
	}
	app := r.startApp(arn)
	for i := 1; i <= 2; i++ {
		if err := r.rotate(ctx, arn, i == 1); err != nil {
			app.stop()
			return "", err
		}
		var users []string
		for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			s, err := r.current(ctx, arn, stage)
			if err != nil {
				app.stop()
				return "", err
			}
			if err := r.db.Login(ctx, s.Username, s.Password, s.DBName); err != nil {
				app.stop()
				return "", fmt.Errorf("rotation %d: %s credentials (user %s) do not log in: %w", i, stage, s.Username, err)
			}
			users = append(users, fmt.Sprintf("%s=%s", stage, s.Username))
		}
		p.line("rotation %d: both users log in: %s", i, strings.Join(users, ", "))
	}
	res := app.stop()
	p.line("application: %s", res)
	if res.failed > 0 {
		return "", fmt.Errorf("the application saw %d failed queries with alternating users (first: %s); want none", res.failed, res.firstErr)
	}
	return fmt.Sprintf("%d of %d", res.failed, res.total()), nil
}

// failedRotation rotates a secret whose superuser secret holds a wrong password: setSecret cannot
// log in, Secrets Manager records RotationFailed, and the alerts stack (section 1) e-mails it. The
// current credentials keep working.
func (r *rotationDemo) failedRotation(ctx context.Context) (string, error) {
	p := r.p
	admin, err := r.newUser(ctx, "admin_stale", "")
	if err != nil {
		return "", err
	}
	wrong, err := r.smc.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{PasswordLength: aws.Int64(32), ExcludeCharacters: aws.String(rotation.DefaultExcludeCharacters)})
	if err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	admin.Password = aws.ToString(wrong.RandomPassword)
	adminARN, err := r.createSecret(ctx, "strongroom/demo/admin-stale", admin)
	if err != nil {
		return "", err
	}
	arn, err := r.userSecret(ctx, "app_fail", "appdb_fail", "strongroom/demo/app-fail", adminARN)
	if err != nil {
		return "", err
	}
	seen := 0
	if r.alertTopic != "" {
		seen = len(r.sb.SNS.Deliveries(r.alertTopic))
	}
	msg, err := r.rotateOnce(ctx, arn, true)
	if err != nil {
		return "", err
	}
	if msg == "" {
		return "", fmt.Errorf("rotation of %s succeeded with a wrong superuser password", shortName(arn))
	}
	// The function error as Secrets Manager saw it: "invoke <function> for <step>: <type>: <message>".
	if i := strings.Index(msg, "Error: "); i >= 0 {
		msg = msg[i+len("Error: "):]
	}
	p.line("  rotation failed as it should: %s", firstLine(msg))
	cur, err := r.current(ctx, arn, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	if err := r.db.Login(ctx, cur.Username, cur.Password, cur.DBName); err != nil {
		return "", fmt.Errorf("after the failed rotation AWSCURRENT (user %s) no longer logs in: %w", cur.Username, err)
	}
	desc, err := r.smc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", arn, err)
	}
	pending := false
	for _, stages := range desc.VersionIdsToStages {
		pending = pending || slices.Contains(stages, "AWSPENDING")
	}
	if !pending {
		return "", fmt.Errorf("after the failed rotation %s has no AWSPENDING version for the retry", shortName(arn))
	}
	p.line("AWSCURRENT of %s still logs in; the AWSPENDING version stays for the next attempt", cur.Username)
	if r.alertTopic == "" {
		p.line("no alert e-mail: the alerts section did not run (run the demo without -only to see it)")
		return "left AWSCURRENT working", nil
	}
	// Secrets Manager's RotationFailed reaches EventBridge through CloudTrail; the alerts stack's
	// rule invokes the relay asynchronously.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := r.sb.Lambda.WaitIdle(ctx); err != nil {
			return "", err
		}
		for _, m := range r.sb.SNS.Deliveries(r.alertTopic)[seen:] {
			if m.Endpoint == alertsEveryone && strings.Contains(m.Subject, "RotationFailed") {
				p.line("the alerts stack e-mailed the real RotationFailed event:")
				printEmail(r.demo, m)
				return "left AWSCURRENT working and was e-mailed", nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no RotationFailed e-mail reached %s within 10 s", alertsEveryone)
}

// newUser creates a database user with a password from GetRandomPassword; dbName, when set, is
// created with a table the user may read and write, else the user is a superuser as the RDS master
// user is.
func (r *rotationDemo) newUser(ctx context.Context, name, dbName string) (*dbsecret.Secret, error) {
	pw, err := r.smc.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{PasswordLength: aws.Int64(32), ExcludeCharacters: aws.String(rotation.DefaultExcludeCharacters)})
	if err != nil {
		return nil, fmt.Errorf("generate a password for %s: %w", name, err)
	}
	grant := "ALL PRIVILEGES ON *.* WITH GRANT OPTION"
	if dbName != "" {
		if err := r.db.CreateDatabase(ctx, dbName); err != nil {
			return nil, err
		}
		grant = "SELECT, INSERT, UPDATE ON `" + dbName + "`.*"
	}
	if err := r.db.CreateUser(ctx, name, aws.ToString(pw.RandomPassword), grant); err != nil {
		return nil, err
	}
	return &dbsecret.Secret{Engine: dbsecret.EngineMariaDB, Host: r.db.Host, Port: r.db.Port, Username: name,
		Password: aws.ToString(pw.RandomPassword), DBName: dbName}, nil
}

// userSecret creates the database user name (see newUser for dbName) and stores its credentials
// as the secret secretName, naming masterARN, when set, as the superuser secret that rotates it
// (the alternating users strategy). It returns the secret's ARN.
func (r *rotationDemo) userSecret(ctx context.Context, name, dbName, secretName, masterARN string) (string, error) {
	u, err := r.newUser(ctx, name, dbName)
	if err != nil {
		return "", err
	}
	u.MasterARN = masterARN
	return r.createSecret(ctx, secretName, u)
}

// createSecret stores s in the RDS shape and prints it without its password.
func (r *rotationDemo) createSecret(ctx context.Context, name string, s *dbsecret.Secret) (string, error) {
	body, err := s.JSON()
	if err != nil {
		return "", err
	}
	out, err := r.smc.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(body)})
	if err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	var keys map[string]any
	_ = json.Unmarshal([]byte(body), &keys)
	members := make([]string, 0, len(keys))
	for _, k := range []string{"engine", "host", "port", "username", "password", "dbname", "masterarn"} {
		if _, ok := keys[k]; ok {
			members = append(members, k)
		}
	}
	p := r.p
	p.line("secret %s: user %s, members %s", name, s.Username, strings.Join(members, ","))
	return aws.ToString(out.ARN), nil
}

// current reads a version of the secret, as the application's SDK would.
func (r *rotationDemo) current(ctx context.Context, arn, stage string) (*dbsecret.Secret, error) {
	out, err := r.smc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", stage, arn, err)
	}
	return dbsecret.Parse(aws.ToString(out.SecretString))
}

// rotate runs RotateSecret (configuring the function and schedule the first time) and waits for the
// rotation to end, printing each step the function ran.
func (r *rotationDemo) rotate(ctx context.Context, arn string, configure bool) error {
	msg, err := r.rotateOnce(ctx, arn, configure)
	if err == nil && msg != "" {
		err = fmt.Errorf("rotation of %s failed: %s", shortName(arn), msg)
	}
	return err
}

// rotateOnce runs one rotation and returns why it failed ("" when it succeeded); err is for a
// rotation that could not be run or observed.
func (r *rotationDemo) rotateOnce(ctx context.Context, arn string, configure bool) (string, error) {
	p := r.p
	ctx, cancel := context.WithTimeout(ctx, demoRotationTimeout)
	defer cancel()
	in := &sm.RotateSecretInput{SecretId: aws.String(arn)}
	if configure {
		in.RotationLambdaARN = aws.String(r.fnARN)
		in.RotationRules = &smtypes.RotationRulesType{ScheduleExpression: aws.String(demoSchedule)}
	}
	seen := len(r.sb.Lambda.History(rotateFunction))
	out, err := r.smc.RotateSecret(ctx, in)
	if err != nil {
		return "", fmt.Errorf("RotateSecret: %w", err)
	}
	p.line("RotateSecret %s -> version %s", shortName(arn), shortID(aws.ToString(out.VersionId)))
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		busy, err := r.sb.SecretsManager.Rotating(arn)
		if err != nil {
			return "", err
		}
		if !busy {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("rotation of %s did not finish: %w", arn, ctx.Err())
		case <-tick.C:
		}
	}
	var steps []string
	for _, inv := range r.sb.Lambda.History(rotateFunction)[seen:] {
		var ev struct{ Step string }
		_ = json.Unmarshal(inv.Payload, &ev)
		s := ev.Step
		if inv.Error != nil {
			s += " FAILED (" + inv.Error.Type + ")"
		}
		steps = append(steps, s)
	}
	p.line("  rotation function ran: %s", strings.Join(steps, " -> "))
	msg, err := r.sb.SecretsManager.LastRotationError(arn)
	if err != nil || msg != "" {
		return msg, err
	}
	desc, err := r.smc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", arn, err)
	}
	if configure {
		next := "none"
		if desc.NextRotationDate != nil {
			next = desc.NextRotationDate.UTC().Format(time.RFC3339)
		}
		enabled := "rotation disabled"
		if aws.ToBool(desc.RotationEnabled) {
			enabled = "rotation enabled"
		}
		p.line("  %s, schedule %s, next rotation %s", enabled, demoSchedule, next)
	}
	return "", nil
}

// appLoad is the application: demoAppClients loops of queries through secretclient.
type appLoad struct {
	stopCh   chan struct{}
	wg       sync.WaitGroup
	ok       atomic.Int64
	failed   atomic.Int64
	refusals func() int
	mu       sync.Mutex
	firstErr string
}

// appResult is what the application saw.
type appResult struct {
	ok, failed, refusals int
	firstErr             string
}

func (a appResult) total() int { return a.ok + a.failed }

func (a appResult) String() string {
	s := fmt.Sprintf("%d queries by %d clients (a new login each), %d failed; logins refused and recovered by secretclient: %d", a.total(), demoAppClients, a.failed, a.refusals)
	if a.firstErr != "" {
		s += "; first failure: " + a.firstErr
	}
	return s
}

// startApp starts the application's query loops on secret arn.
func (r *rotationDemo) startApp(arn string) *appLoad {
	a := &appLoad{stopCh: make(chan struct{})}
	caches := make([]*secretclient.Cache, demoAppClients)
	pools := make([]*sql.DB, demoAppClients)
	for i := range pools {
		caches[i] = secretclient.New(r.smc, secretclient.Options{})
		pools[i] = secretclient.OpenDB(caches[i], arn, r.tls)
		pools[i].SetMaxIdleConns(0)
	}
	a.refusals = func() int {
		n := 0
		for _, c := range caches {
			n += c.Stats(arn).Refusals
		}
		return n
	}
	for _, pool := range pools {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer pool.Close()
			for {
				select {
				case <-a.stopCh:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var v string
				err := pool.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v)
				cancel()
				if err == nil && v != "one" {
					err = fmt.Errorf("query returned %q; want \"one\"", v)
				}
				if err != nil {
					a.failed.Add(1)
					a.mu.Lock()
					if a.firstErr == "" {
						a.firstErr = firstLine(err.Error())
					}
					a.mu.Unlock()
					continue
				}
				a.ok.Add(1)
			}
		}()
	}
	return a
}

// stop ends the loops and returns what they saw.
func (a *appLoad) stop() appResult {
	close(a.stopCh)
	a.wg.Wait()
	return appResult{ok: int(a.ok.Load()), failed: int(a.failed.Load()), refusals: a.refusals(), firstErr: a.firstErr}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// shortName is the secret name from its ARN (without the random suffix).
func shortName(arn string) string {
	i := strings.LastIndex(arn, ":secret:")
	if i < 0 {
		return arn
	}
	name := arn[i+len(":secret:"):]
	if j := strings.LastIndex(name, "-"); j > 0 && len(name)-j == 7 {
		name = name[:j]
	}
	return name
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
