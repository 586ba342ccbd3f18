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

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/secretclient"
)

// databaseStack is the stack the rotation section deploys from cdk.out.
const databaseStack = "StrongroomDatabase"

// Rotation section settings.
const (
	// demoAppClients query the database in a loop through secretclient, each with its own cache and
	// a pool that opens a new connection (a new login) for every query: the worst case, since only
	// a login can meet changed credentials.
	demoAppClients = 4
	// rotationTimeout bounds one rotation in wall time.
	demoRotationTimeout = 60 * time.Second
)

// rotationDemo holds what the rotation section works with.
type rotationDemo struct {
	*demo
	db  *mariadbtest.Server
	smc *sm.Client
	tls dbsecret.TLS
	// superARN and userARN are the stack's secrets (its SuperuserSecretArn and UserSecretArn outputs).
	superARN, userARN string
}

// rotation deploys the database stack from cdk.out onto a real MariaDB server standing for its RDS
// instance, then rotates its superuser secret (single user) and its user secret (alternating
// users) with the stack's own rotation functions, invoked by Secrets Manager as the functions'
// policies allow, while an application keeps querying. Setup started the server.
func (d *demo) rotation(ctx context.Context) (string, error) {
	p := d.p
	p.heading("2. MariaDB credential rotation: " + databaseStack + " from cdk.out -> Secrets Manager -> rotation Lambdas -> MariaDB over TLS")
	if d.dbErr != nil {
		return "", d.dbErr
	}
	db := d.db
	defer func() {
		// Shutting the server down is no part of the workflow.
		d.clock.stop()
		db.Stop()
	}()
	p.line("MariaDB on %s stands for the stack's RDS instance: require_secure_transport=ON, server certificate from a throw-away CA that stands for Amazon RDS's CA bundle", db.Addr())
	d.deploy.DB = &deploy.Database{Host: db.Host, Port: db.Port, CAFile: db.CAFile, CreateMaster: db.CreateMaster}
	if err := d.alertsFirst(ctx, "the database stack's alarms publish to "+alertsStack+"'s alarm topic"); err != nil {
		return "", err
	}
	log, err := d.newDeployLog(databaseStack)
	if err != nil {
		return "", err
	}
	p.line("deploying %s from cdk.out", databaseStack)
	st, err := d.deployStack(ctx, log)
	d.clock.start()
	if err != nil {
		if st != nil {
			for _, o := range st.CustomResources {
				printOutcome(d, "application user Create (before the deploy failed)", o)
			}
		}
		return "", fmt.Errorf("deploy %s: %w", databaseStack, err)
	}
	for _, o := range st.CustomResources {
		printOutcome(d, "application user Create", o)
	}
	if err := d.testAlarms(ctx); err != nil {
		return "", err
	}
	tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, db.CAFile)
	if err != nil {
		return "", err
	}
	r := &rotationDemo{demo: d, db: db, smc: sm.NewFromConfig(d.aws), tls: tl}
	for name, into := range map[string]*string{"SuperuserSecretArn": &r.superARN, "UserSecretArn": &r.userARN} {
		v, err := st.Output(name)
		if err != nil {
			return "", err
		}
		*into = fmt.Sprint(v)
	}
	// The parts run in this order, each after its heading; an error names the part it came from.
	parts := []struct {
		name, heading string
		run           func(context.Context) (string, error)
	}{
		{"deployed", "what the deploy did: the superuser's generated password replaced at once, the user's rotation tested", r.deployed},
		{"single user", "single user: the superuser secret's user changes its own password", r.singleUser},
		{"alternating users", "alternating users: the superuser clones the application user; rotations alternate between the two", r.alternatingUsers},
		{"failed rotation", "a rotation that fails: the superuser's password changed outside Secrets Manager", r.failedRotation},
	}
	results := make([]string, len(parts))
	for i, part := range parts {
		p.plain("-- " + part.heading)
		if results[i], err = part.run(ctx); err != nil {
			return "", fmt.Errorf("%s: %w", part.name, err)
		}
	}
	return fmt.Sprintf("application failed queries: single user %s; alternating users %s; a failed rotation %s", results[1], results[2], results[3]), nil
}

// deployed waits for the rotations the stack's schedules started (CloudFormation rotates the
// superuser secret at once and tests the user secret's function) and checks what they left: the
// superuser's generated password no longer logs in, its new one does, and so does the application
// user the stack's Custom::DatabaseUser created. It creates the application's table as a schema
// migration would.
func (r *rotationDemo) deployed(ctx context.Context) (string, error) {
	p := r.p
	for _, arn := range []string{r.superARN, r.userARN} {
		fn, err := r.rotationFunction(ctx, arn)
		if err != nil {
			return "", err
		}
		if _, err := r.waitRotation(ctx, arn, fn, 0, true); err != nil {
			return "", err
		}
	}
	super, err := r.current(ctx, r.superARN, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	generated, err := r.current(ctx, r.superARN, "AWSPREVIOUS")
	if err != nil {
		return "", fmt.Errorf("the superuser secret has no AWSPREVIOUS after the deploy's rotation: %w", err)
	}
	if err := r.db.Login(ctx, super.Username, super.Password, super.DBName); err != nil {
		return "", fmt.Errorf("the superuser's rotated password does not log in: %w", err)
	}
	if err := r.refused(ctx, generated, "CloudFormation's generated password (now AWSPREVIOUS)"); err != nil {
		return "", err
	}
	user, err := r.current(ctx, r.userARN, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	if err := r.db.Login(ctx, user.Username, user.Password, user.DBName); err != nil {
		return "", fmt.Errorf("the application user %s the stack created does not log in: %w", user.Username, err)
	}
	p.line("application user %s (created by the stack's Custom::DatabaseUser) logs in to database %s", user.Username, user.DBName)
	if err := r.db.Exec(ctx, "CREATE TABLE `"+user.DBName+"`.t (id INT PRIMARY KEY, v VARCHAR(64))", "INSERT INTO `"+user.DBName+"`.t VALUES (1, 'one')"); err != nil {
		return "", err
	}
	p.line("the application's table %s.t created (a schema migration's job)", user.DBName)
	return "", nil
}

// refused checks that s's credentials no longer log in, printing what the server said.
func (r *rotationDemo) refused(ctx context.Context, s *dbsecret.Secret, what string) error {
	err := r.db.Login(ctx, s.Username, s.Password, s.DBName)
	if err == nil {
		return fmt.Errorf("%s of %s should be refused; it logged in", what, s.Username)
	}
	if !dbsecret.IsAccessDenied(err) {
		return fmt.Errorf("%s of %s should be refused; login failed otherwise: %w", what, s.Username, err)
	}
	r.p.line("%s of %s is refused: %s", what, s.Username, firstLine(err.Error()))
	return nil
}

// singleUser: the superuser changes its own password while the application uses the secret; the
// old password stops working.
func (r *rotationDemo) singleUser(ctx context.Context) (string, error) {
	p := r.p
	arn := r.superARN
	before, err := r.current(ctx, arn, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	app := r.startApp(arn)
	err = r.rotate(ctx, arn)
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
	if err := r.refused(ctx, before, "old password (AWSPREVIOUS)"); err != nil {
		return "", err
	}
	p.line("application: %s", res)
	return fmt.Sprintf("%d of %d", res.failed, res.total()), nil
}

// alternatingUsers: the superuser clones the user as <name>_clone and rotation alternates between
// the two, so the credentials an application holds keep working.
func (r *rotationDemo) alternatingUsers(ctx context.Context) (string, error) {
	p := r.p
	arn := r.userARN
	app := r.startApp(arn)
	for i := 1; i <= 2; i++ {
		if err := r.rotate(ctx, arn); err != nil {
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

// failedRotation changes the superuser's password in the database outside Secrets Manager, so
// the user secret's setSecret cannot log in as the superuser: Secrets Manager records
// RotationFailed, and the alerts stack (section 1) e-mails it. The current credentials keep working.
func (r *rotationDemo) failedRotation(ctx context.Context) (string, error) {
	p := r.p
	super, err := r.current(ctx, r.superARN, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	other, err := r.smc.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{PasswordLength: aws.Int64(32), ExcludeCharacters: aws.String(rotation.DefaultExcludeCharacters)})
	if err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	root, err := r.db.Root()
	if err != nil {
		return "", err
	}
	err = mariadbtest.SetPassword(ctx, root, "'"+super.Username+"'@'%'", aws.ToString(other.RandomPassword))
	root.Close()
	if err != nil {
		return "", err
	}
	p.line("the password of %s changed in the database by hand: the superuser secret is stale", super.Username)
	arn := r.userARN
	seen := 0
	if r.alertTopic != "" {
		seen = len(r.sb.SNS.Deliveries(r.alertTopic))
	}
	msg, err := r.rotateOnce(ctx, arn)
	if err != nil {
		return "", err
	}
	if msg == "" {
		return "", fmt.Errorf("rotation of %s succeeded with a stale superuser secret", shortName(arn))
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

// current reads a version of the secret, as the application's SDK would.
func (r *rotationDemo) current(ctx context.Context, arn, stage string) (*dbsecret.Secret, error) {
	out, err := r.smc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", stage, shortName(arn), err)
	}
	return dbsecret.Parse(aws.ToString(out.SecretString))
}

// rotationFunction is the name of the rotation function the secret's schedule names.
func (r *rotationDemo) rotationFunction(ctx context.Context, arn string) (string, error) {
	desc, err := r.smc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", shortName(arn), err)
	}
	fn := aws.ToString(desc.RotationLambdaARN)
	if fn == "" {
		return "", fmt.Errorf("%s has no rotation function: the stack's rotation schedule did not configure one", shortName(arn))
	}
	return fn[strings.LastIndex(fn, ":")+1:], nil
}

// rotate runs RotateSecret and waits for the rotation to end, printing each step the function ran.
func (r *rotationDemo) rotate(ctx context.Context, arn string) error {
	msg, err := r.rotateOnce(ctx, arn)
	if err == nil && msg != "" {
		err = fmt.Errorf("rotation of %s failed: %s", shortName(arn), msg)
	}
	return err
}

// rotateOnce runs one rotation with the secret's configured function and schedule (as the stack's
// RotationSchedule set them) and returns why it failed ("" when it succeeded); err is for a
// rotation that could not be run or observed.
func (r *rotationDemo) rotateOnce(ctx context.Context, arn string) (string, error) {
	fn, err := r.rotationFunction(ctx, arn)
	if err != nil {
		return "", err
	}
	seen := len(r.sb.Lambda.History(fn))
	out, err := r.smc.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("RotateSecret: %w", err)
	}
	r.p.line("RotateSecret %s -> version %s", shortName(arn), shortID(aws.ToString(out.VersionId)))
	return r.waitRotation(ctx, arn, fn, seen, false)
}

// waitRotation waits for the secret's rotation to end, prints the steps fn ran since its seen-th
// invocation (and, with schedule, the secret's rotation schedule), and returns why the rotation
// failed ("" when it succeeded).
func (r *rotationDemo) waitRotation(ctx context.Context, arn, fn string, seen int, schedule bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, demoRotationTimeout)
	defer cancel()
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
			return "", fmt.Errorf("rotation of %s did not finish: %w", shortName(arn), ctx.Err())
		case <-tick.C:
		}
	}
	var steps []string
	for _, inv := range r.sb.Lambda.History(fn)[seen:] {
		var ev struct{ Step string }
		_ = json.Unmarshal(inv.Payload, &ev)
		s := ev.Step
		if inv.Error != nil {
			s += " FAILED (" + inv.Error.Type + ")"
		}
		steps = append(steps, s)
	}
	r.p.line("  %s: rotation function %s ran: %s", shortName(arn), fn, strings.Join(steps, " -> "))
	msg, err := r.sb.SecretsManager.LastRotationError(arn)
	if err != nil || msg != "" {
		return msg, err
	}
	desc, err := r.smc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", shortName(arn), err)
	}
	if schedule {
		next := "none"
		if desc.NextRotationDate != nil {
			next = desc.NextRotationDate.UTC().Format(time.RFC3339)
		}
		enabled := "rotation disabled"
		if aws.ToBool(desc.RotationEnabled) {
			enabled = "rotation enabled"
		}
		expr := "none"
		if desc.RotationRules != nil {
			expr = aws.ToString(desc.RotationRules.ScheduleExpression)
		}
		r.p.line("  %s, schedule %s, next rotation %s", enabled, expr, next)
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
