package secretclient_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/mariadbtest"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/rotationtest"
	"github.com/strongroom/strongroom/pkg/secretclient"
)

var db *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Run(m, &db) }

func testTLS(t testing.TB) dbsecret.TLS {
	tl, err := dbsecret.NewTLS(dbsecret.TLSRequired, db.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// fakeClock is a settable clock for the TTL.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestCacheTTLAndRefresh(t *testing.T) {
	env := rotationtest.New(t, db, rotation.Config{})
	ctx := context.Background()
	out, err := env.Client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("plain"), SecretString: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.ARN
	clock := &fakeClock{t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	c := secretclient.New(env.Client, secretclient.Options{TTL: time.Minute, Now: clock.Now})
	put := func(v string) {
		if _, err := env.Client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &id, SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(want string, reads int) {
		t.Helper()
		v, err := c.SecretString(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v != want || c.Stats(id).Reads != reads {
			t.Fatalf("SecretString = %q after %d reads, want %q after %d", v, c.Stats(id).Reads, want, reads)
		}
	}
	get("v1", 1)
	get("v1", 1)
	put("v2")
	clock.Add(59 * time.Second)
	get("v1", 1) // still fresh
	clock.Add(2 * time.Second)
	get("v2", 2) // expired: read again
	put("v3")
	if v, err := c.Refresh(ctx, id); err != nil || v != "v3" {
		t.Fatalf("Refresh = %q, %v", v, err)
	}
	get("v3", 3)
	if _, err := c.SecretString(ctx, id+"-missing"); !errors.Is(err, secretclient.ErrNotFound) {
		t.Fatalf("missing secret: %v, want ErrNotFound", err)
	}
}

func TestConcurrentMissesReadOnce(t *testing.T) {
	env := rotationtest.New(t, db, rotation.Config{})
	out, err := env.Client.CreateSecret(context.Background(), &sm.CreateSecretInput{Name: aws.String("shared"), SecretString: aws.String("v")})
	if err != nil {
		t.Fatal(err)
	}
	c := secretclient.New(env.Client, secretclient.Options{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.SecretString(context.Background(), *out.ARN); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := c.Stats(*out.ARN).Reads; n != 1 {
		t.Fatalf("16 concurrent misses made %d reads, want 1", n)
	}
}

// TestDoRecoversMidSingleUserRotation holds a single-user rotation between setSecret and
// finishSecret (the function fails after setSecret): the database has the new password while
// AWSCURRENT still has the old one. Do must find the AWSPENDING password.
func TestDoRecoversMidSingleUserRotation(t *testing.T) {
	env := rotationtest.New(t, db, rotation.Config{})
	u := env.NewUser(t)
	arn := env.CreateSecret(t, u.Secret(db, ""))
	ctx := context.Background()
	c := secretclient.New(env.Client, secretclient.Options{})
	login := func(ctx context.Context, s *dbsecret.Secret) error {
		return db.Login(ctx, s.Username, s.Password, s.DBName)
	}
	if err := c.Do(ctx, arn, login); err != nil {
		t.Fatal(err)
	}
	env.Wrap(func(ev rotation.Event, run func() error) error {
		if err := run(); err != nil {
			return err
		}
		if ev.Step == rotation.StepSet {
			return errors.New("stop after setSecret")
		}
		return nil
	})
	if err := env.Rotate(ctx, arn); err == nil {
		t.Fatal("the held rotation succeeded")
	}
	var used *dbsecret.Secret
	err := c.Do(ctx, arn, func(ctx context.Context, s *dbsecret.Secret) error {
		used = s
		return login(ctx, s)
	})
	if err != nil {
		t.Fatalf("Do during the rotation window: %v", err)
	}
	if used.Password == u.Password {
		t.Fatal("Do succeeded with the old password, so the window was not open")
	}
	st := c.Stats(arn)
	if st.Refusals != 1 || st.Recovered != 1 {
		t.Fatalf("stats %+v, want one refusal, recovered", st)
	}
	// The recovered credentials are cached: the next call needs no recovery.
	if err := c.Do(ctx, arn, login); err != nil || c.Stats(arn).Refusals != 1 {
		t.Fatalf("second Do: %v, stats %+v", err, c.Stats(arn))
	}
}

// TestConnectorThroughRotations runs queries through a pool that opens a connection per query,
// across real rotations of both strategies: every query succeeds, and refusals happen only where
// expected.
func TestConnectorThroughRotations(t *testing.T) {
	for _, alternating := range []bool{false, true} {
		name := map[bool]string{false: "single user", true: "alternating users"}[alternating]
		t.Run(name, func(t *testing.T) {
			env := rotationtest.New(t, db, rotation.Config{})
			master := ""
			if alternating {
				_, master = env.NewAdmin(t)
			}
			u := env.NewUser(t)
			arn := env.CreateSecret(t, u.Secret(db, master))
			ctx := context.Background()
			c := secretclient.New(env.Client, secretclient.Options{})
			pool := secretclient.OpenDB(c, arn, testTLS(t))
			defer pool.Close()
			pool.SetMaxIdleConns(0) // every query logs in: the worst case for a rotation
			query := func() {
				t.Helper()
				var v string
				if err := pool.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "one" {
					t.Fatalf("query: %q, %v", v, err)
				}
			}
			query()
			for i := 0; i < 4; i++ {
				if err := env.Rotate(ctx, arn); err != nil {
					t.Fatal(err)
				}
				query()
			}
			st := c.Stats(arn)
			if st.Refusals != st.Recovered {
				t.Fatalf("stats %+v: a refusal was not recovered", st)
			}
			if alternating && st.Refusals != 2 {
				// The client holds the original user; rotation 1 sets up the clone, rotation 2
				// changes the held user's password (refusal, switch), rotation 3 changes the clone,
				// rotation 4 the held user again.
				t.Fatalf("alternating: %d refusals, want 2 (rotations 2 and 4 change the held user)", st.Refusals)
			}
			if !alternating && st.Refusals != 4 {
				t.Fatalf("single user: %d refusals, want 4 (one per rotation)", st.Refusals)
			}
		})
	}
}

// TestConnectorGivesUp: credentials no version can fix are reported, not retried forever.
func TestConnectorGivesUp(t *testing.T) {
	env := rotationtest.New(t, db, rotation.Config{})
	u := env.NewUser(t)
	s := u.Secret(db, "")
	s.Password = "never-was-the-password-1"
	arn := env.CreateSecret(t, s)
	c := secretclient.New(env.Client, secretclient.Options{})
	pool := secretclient.OpenDB(c, arn, testTLS(t))
	defer pool.Close()
	err := pool.PingContext(context.Background())
	if !dbsecret.IsAccessDenied(err) {
		t.Fatalf("ping: %v, want access denied", err)
	}
	// One read to fill the cache, then two passes over AWSCURRENT, AWSPENDING and AWSPREVIOUS.
	if st := c.Stats(arn); st.Reads != 7 || st.Refusals != 1 || st.Recovered != 0 {
		t.Fatalf("stats %+v, want 7 reads, 1 refusal, nothing recovered", st)
	}
}

// interleave is the real Secrets Manager client with a hook that runs once, just before the first
// read of a given label: it lets a test change the secret in the middle of a recovery, as a
// rotation running at the same time does.
type interleave struct {
	*sm.Client
	stage string
	once  sync.Once
	hook  func()
}

func (i *interleave) GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, opts ...func(*sm.Options)) (*sm.GetSecretValueOutput, error) {
	if aws.ToString(in.VersionStage) == i.stage {
		i.once.Do(i.hook)
	}
	return i.Client.GetSecretValue(ctx, in, opts...)
}

// TestRecoveryMakesASecondPass: the database's password changes to a new AWSPENDING value while the
// client is in its first pass over the labels (after it read AWSPENDING, before AWSPREVIOUS). The
// second pass must pick the new value up.
func TestRecoveryMakesASecondPass(t *testing.T) {
	env := rotationtest.New(t, db, rotation.Config{})
	u := env.NewUser(t)
	arn := env.CreateSecret(t, u.Secret(db, ""))
	ctx := context.Background()
	const next = "Next-password-from-a-rotation-9xQ"
	// The database already has a password no label holds yet.
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := mariadbtest.SetPassword(ctx, root, "'"+u.Name+"'@'%'", next); err != nil {
		t.Fatal(err)
	}
	client := &interleave{Client: env.Client, stage: "AWSPREVIOUS", hook: func() {
		pending := u.Secret(db, "")
		pending.Password = next
		body, _ := pending.JSON()
		if _, err := env.Client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &arn, SecretString: &body,
			VersionStages: []string{"AWSPENDING"}}); err != nil {
			t.Error(err)
		}
	}}
	c := secretclient.New(client, secretclient.Options{})
	var used string
	err = c.Do(ctx, arn, func(ctx context.Context, s *dbsecret.Secret) error {
		used = s.Password
		return db.Login(ctx, s.Username, s.Password, s.DBName)
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if used != next {
		t.Fatal("Do did not end with the password that appeared during its first pass")
	}
	// Fill, pass 1 (CURRENT, PENDING: none yet, PREVIOUS: none), pass 2 (CURRENT, PENDING).
	if st := c.Stats(arn); st.Reads != 6 || st.Recovered != 1 {
		t.Fatalf("stats %+v, want 6 reads and one recovery", st)
	}
}
