// Package secretclient is the consumer side of rotated secrets: it reads secrets from Secrets
// Manager with a time-to-live cache, and keeps database clients working through rotations by
// re-reading the secret when the database refuses the credentials it has.
//
// The AWS client library for this (aws/aws-secretsmanager-caching-go) is not used: its v2 module
// is not served by the Go module proxy reachable here (403), and its cache has no hook for "these
// credentials were refused", which is the part that matters during a rotation.
//
// On a refusal (MariaDB error 1045) the client tries, once each and only if they differ from what
// was refused: AWSCURRENT read afresh (the rotation finished since the cache was filled), then
// AWSPENDING (single-user rotation between setSecret and finishSecret, when the database already
// has the new password), then AWSPREVIOUS; if a label changed meanwhile, one more pass tries the
// new values. The first that works is cached. With alternating users
// the credentials a client holds keep working until the rotation after next changes them, so the
// fresh AWSCURRENT is all it ever needs.
package secretclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/dbsecret"
)

// SecretsManager is the part of the Secrets Manager client the cache uses; *secretsmanager.Client
// satisfies it.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManager = (*secretsmanager.Client)(nil)

// DefaultTTL is how long a cached AWSCURRENT value is used before it is read again, as in AWS's
// caching clients. Rotations do not depend on it: a refusal triggers a fresh read at once.
const DefaultTTL = time.Hour

// Options configure a Cache.
type Options struct {
	// TTL is how long a value is served from the cache; 0 means DefaultTTL.
	TTL time.Duration
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
	// Logger receives a line for each refresh after a refusal; nil discards them.
	Logger *slog.Logger
}

// Cache reads secrets through a TTL cache. It is safe for concurrent use; concurrent misses for
// one secret cause one read.
type Cache struct {
	sm   SecretsManager
	ttl  time.Duration
	now  func() time.Time
	log  *slog.Logger
	mu   sync.Mutex
	byID map[string]*entry
}

type entry struct {
	mu      sync.Mutex // held while reading from Secrets Manager
	value   string
	version string
	expires time.Time
	stats   *Stats
}

// Stats counts what the cache did, for tests and benchmarks.
type Stats struct {
	Reads     int // GetSecretValue calls
	Refusals  int // credentials refused by the database
	Recovered int // refusals followed by credentials that worked
}

// New returns a Cache over sm.
func New(sm SecretsManager, opts Options) *Cache {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{sm: sm, ttl: opts.TTL, now: opts.Now, log: opts.Logger, byID: map[string]*entry{}}
}

func (c *Cache) entry(id string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		e = &entry{stats: &Stats{}}
		c.byID[id] = e
	}
	return e
}

// Stats returns a copy of the counters for secret id.
func (c *Cache) Stats(id string) Stats {
	e := c.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	return *e.stats
}

// ErrNotFound is returned for a label that has no version (for example AWSPENDING outside a
// rotation).
var ErrNotFound = errors.New("secret version not found")

// read calls GetSecretValue for a label. It never caches.
func (c *Cache) read(ctx context.Context, id, stage string) (value, version string, err error) {
	out, err := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return "", "", fmt.Errorf("read %s of secret %s: %w", stage, id, ErrNotFound)
	case err != nil:
		return "", "", fmt.Errorf("read %s of secret %s: %w", stage, id, err)
	case out.SecretString == nil:
		return "", "", fmt.Errorf("read %s of secret %s: the version has no SecretString (binary secrets are not supported)", stage, id)
	}
	return *out.SecretString, aws.ToString(out.VersionId), nil
}

// SecretString returns the AWSCURRENT value of secret id, from the cache while it is fresh.
func (c *Cache) SecretString(ctx context.Context, id string) (string, error) {
	e := c.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.value != "" && c.now().Before(e.expires) {
		return e.value, nil
	}
	return c.fill(ctx, id, e)
}

// Refresh reads AWSCURRENT of secret id now and caches it.
func (c *Cache) Refresh(ctx context.Context, id string) (string, error) {
	e := c.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	return c.fill(ctx, id, e)
}

// fill reads AWSCURRENT into e. Caller holds e.mu.
func (c *Cache) fill(ctx context.Context, id string, e *entry) (string, error) {
	e.stats.Reads++
	v, ver, err := c.read(ctx, id, "AWSCURRENT")
	if err != nil {
		return "", err
	}
	e.value, e.version, e.expires = v, ver, c.now().Add(c.ttl)
	return v, nil
}

// DBSecret returns the parsed AWSCURRENT database secret of id, from the cache while it is fresh.
func (c *Cache) DBSecret(ctx context.Context, id string) (*dbsecret.Secret, error) {
	v, err := c.SecretString(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err := dbsecret.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", id, err)
	}
	return s, nil
}

// Do runs op with the database credentials of secret id. If the database refuses them (MariaDB
// error 1045), Do looks for credentials that work (see the package comment) and runs op again
// with each candidate once; op must therefore be safe to repeat after a refused login. The error
// of the last attempt is returned when none works.
func (c *Cache) Do(ctx context.Context, id string, op func(ctx context.Context, s *dbsecret.Secret) error) error {
	s, err := c.DBSecret(ctx, id)
	if err != nil {
		return err
	}
	err = op(ctx, s)
	if !dbsecret.IsAccessDenied(err) {
		return err
	}
	return c.recover(ctx, id, s, err, func(s *dbsecret.Secret) error { return op(ctx, s) })
}

// recover handles a refusal of refused: it tries fresh AWSCURRENT, AWSPENDING and AWSPREVIOUS
// (each once, skipping credentials already tried) and caches the first that try accepts.
func (c *Cache) recover(ctx context.Context, id string, refused *dbsecret.Secret, cause error, try func(*dbsecret.Secret) error) error {
	e := c.entry(id)
	tried := map[string]bool{key(refused): true}
	last := cause

	e.mu.Lock()
	e.stats.Refusals++
	// Another goroutine may have refreshed the cache since refused was read: use that first.
	cached, _ := dbsecret.Parse(e.value)
	e.mu.Unlock()

	attempt := func(stage string, s *dbsecret.Secret, version string) bool {
		if s == nil || tried[key(s)] {
			return false
		}
		tried[key(s)] = true
		err := try(s)
		if err == nil {
			body, jerr := s.JSON()
			e.mu.Lock()
			e.stats.Recovered++
			if jerr == nil {
				e.value, e.version, e.expires = body, version, c.now().Add(c.ttl)
			}
			e.mu.Unlock()
			c.log.Info("database refused cached credentials; switched", "secret", id, "stage", stage, "username", s.Username)
			return true
		}
		last = err
		return false
	}
	if cached != nil && attempt("AWSCURRENT (cached)", cached, "") {
		return nil
	}
	// A rotation can move on while this runs (back-to-back rotations: the next createSecret has
	// already replaced AWSPENDING, or a label appeared after it was read). A second pass tries
	// only credentials that were not tried in the first.
	for pass := 0; pass < maxPasses; pass++ {
		for _, stage := range []string{"AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"} {
			e.mu.Lock()
			e.stats.Reads++
			e.mu.Unlock()
			v, ver, err := c.read(ctx, id, stage)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return errors.Join(last, err)
			}
			s, err := dbsecret.Parse(v)
			if err != nil {
				continue // an empty AWSPENDING placeholder or a foreign value: not usable credentials
			}
			if stage == "AWSCURRENT" {
				e.mu.Lock()
				e.value, e.version, e.expires = v, ver, c.now().Add(c.ttl)
				e.mu.Unlock()
			}
			if attempt(stage, s, ver) {
				return nil
			}
			if !dbsecret.IsAccessDenied(last) {
				return last
			}
		}
	}
	return fmt.Errorf("secret %s: the database refused every version (AWSCURRENT, AWSPENDING, AWSPREVIOUS): %w", id, last)
}

// maxPasses bounds the reads after one refusal: two passes over the three labels, so credentials
// nothing can fix cost six GetSecretValue calls per login attempt.
const maxPasses = 2

// key identifies credentials without keeping the password in a readable form in error paths.
func key(s *dbsecret.Secret) string { return s.Username + "\x00" + s.Password + "\x00" + s.Endpoint() }
