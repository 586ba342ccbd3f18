// Package rotationtest sets up what a test of rotated MariaDB credentials needs: the sandbox's
// Secrets Manager (driven over HTTP by a real SDK client) with Strongroom's rotation function
// registered in the sandbox's Lambda, and users and secrets on a real MariaDB server from package
// mariadbtest. RotateSecret then runs the real four steps against the real database.
package rotationtest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/rotation"
	smsandbox "github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// FunctionName is the rotation function's name in the sandbox's Lambda.
const FunctionName = "strongroom-rotate"

// Env is a sandbox with Secrets Manager and the rotation function, and the database.
type Env struct {
	Sandbox *sandboxtest.Env
	SM      *smsandbox.Service
	// Client is a real Secrets Manager client on the sandbox, for the test's own calls.
	Client      *sm.Client
	FunctionARN string
	DB          *mariadbtest.Server
	// KeyARN, when set, is the KMS key CreateSecret encrypts secrets with (as the database stack's
	// customer managed key), instead of Secrets Manager's AWS managed key.
	KeyARN string

	mu   sync.Mutex
	wrap func(ev rotation.Event, run func() error) error
}

// New starts a sandbox for tb and registers the rotation function built with cfg (cfg.TLS defaults
// to TLS verified against the database's test CA; cfg.Logger to the sandbox recorder's
// "rotate function" sink, so secret scans cover its logs).
func New(tb testing.TB, db *mariadbtest.Server, cfg rotation.Config) *Env {
	tb.Helper()
	env := sandboxtest.New(tb)
	svc := env.SecretsManager
	awsCfg := env.AWSConfig()
	awsCfg.RetryMaxAttempts = 1
	e := &Env{Sandbox: env, SM: svc, Client: sm.NewFromConfig(awsCfg), DB: db}

	if cfg.TLS.Mode == "" {
		tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, db.CAFile)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.TLS = tl
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(env.Recorder.Writer("rotate function"), nil))
	}
	rot, err := rotation.New(sm.NewFromConfig(env.AWSConfig()), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	handle := lambdaerr.Wrap(cfg.Logger.With("step", "rotate"), func(ctx context.Context, ev rotation.Event) (rotation.Output, error) {
		e.mu.Lock()
		wrap := e.wrap
		e.mu.Unlock()
		if wrap == nil {
			return rot.Handle(ctx, ev)
		}
		err := wrap(ev, func() error { _, err := rot.Handle(ctx, ev); return err })
		return rotation.Output{}, err
	})
	if e.FunctionARN, err = env.Lambda.RegisterHandler(FunctionName, lambda.NewHandler(handle).Invoke); err != nil {
		tb.Fatal(err)
	}
	return e
}

// Wrap sets what the function does around each real step (nil: just the step). run executes the
// step; the returned error is the invocation's.
func (e *Env) Wrap(f func(ev rotation.Event, run func() error) error) {
	e.mu.Lock()
	e.wrap = f
	e.mu.Unlock()
}

// User is a database user made for a test.
type User struct {
	Name, Password, DBName string
}

// Secret is the user's secret document; masterARN is empty for single-user rotation.
func (u User) Secret(db *mariadbtest.Server, masterARN string) *dbsecret.Secret {
	return &dbsecret.Secret{Engine: dbsecret.EngineMariaDB, Host: db.Host, Port: db.Port, Username: u.Name,
		Password: u.Password, DBName: u.DBName, MasterARN: masterARN}
}

// NewUser creates a database with table t and a user with SELECT, INSERT, UPDATE on it.
func (e *Env) NewUser(tb testing.TB) User {
	tb.Helper()
	ctx := context.Background()
	u := User{Name: e.DB.UniqueName("app"), Password: "Init-" + e.DB.UniqueName("pw") + "-aB3xY9", DBName: e.DB.UniqueName("appdb")}
	if err := e.DB.CreateDatabase(ctx, u.DBName); err != nil {
		tb.Fatal(err)
	}
	if err := e.DB.CreateUser(ctx, u.Name, u.Password, "SELECT, INSERT, UPDATE ON `"+u.DBName+"`.*"); err != nil {
		tb.Fatal(err)
	}
	return u
}

// NewAdmin creates a superuser as the RDS master user is and stores its secret; it returns the
// secret's ARN.
func (e *Env) NewAdmin(tb testing.TB) (User, string) {
	tb.Helper()
	u := User{Name: e.DB.UniqueName("admin"), Password: "Adm-" + e.DB.UniqueName("pw") + "-Qz7wE2"}
	if err := e.DB.CreateUser(context.Background(), u.Name, u.Password, "ALL PRIVILEGES ON *.* WITH GRANT OPTION"); err != nil {
		tb.Fatal(err)
	}
	return u, e.CreateSecret(tb, u.Secret(e.DB, ""))
}

// CreateSecret stores s under a unique name and returns its ARN.
func (e *Env) CreateSecret(tb testing.TB, s *dbsecret.Secret) string {
	tb.Helper()
	body, err := s.JSON()
	if err != nil {
		tb.Fatal(err)
	}
	in := &sm.CreateSecretInput{Name: aws.String(e.DB.UniqueName("strongroom/db/")), SecretString: aws.String(body)}
	if e.KeyARN != "" {
		in.KmsKeyId = aws.String(e.KeyARN)
	}
	out, err := e.Client.CreateSecret(context.Background(), in)
	if err != nil {
		tb.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// Rotate runs one rotation of arn to its end and returns why it failed, or nil.
func (e *Env) Rotate(ctx context.Context, arn string) error {
	if _, err := e.Client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(e.FunctionARN)}); err != nil {
		return fmt.Errorf("RotateSecret: %w", err)
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		busy, err := e.SM.Rotating(arn)
		if err != nil {
			return err
		}
		if !busy {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rotation of %s: %w", arn, ctx.Err())
		case <-tick.C:
		}
	}
	if msg, err := e.SM.LastRotationError(arn); err != nil || msg != "" {
		return fmt.Errorf("rotation of %s failed: %q %v", arn, msg, err)
	}
	return nil
}
