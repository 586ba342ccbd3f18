// Package rotation is Strongroom's Secrets Manager rotation function for MariaDB: the four steps
// Secrets Manager invokes (createSecret, setSecret, testSecret, finishSecret) for the two strategies
// of the AWS rotation templates.
//
//   - Single user: the user changes its own password. Between setSecret and finishSecret the
//     database already has the new password while AWSCURRENT still holds the old one, so clients
//     that log in during that window need the refresh of package secretclient.
//   - Alternating users: the secret names a superuser secret in "masterarn"; the superuser clones
//     the user as <username>_clone, and each rotation sets a new password on the user that is not
//     current, so the current credentials keep working throughout. Each setSecret makes that user
//     an exact copy of the AWSCURRENT one: its grants (privileges the current user lacks are
//     revoked), TLS requirement (REQUIRE), resource limits and password expiry policy; only the
//     password and the account lock are its own. Change grants on the AWSCURRENT user: the next
//     rotation copies them, and undoes changes made only to the other one. A locked AWSCURRENT
//     user is not rotated, and users that require a client certificate cannot pass testSecret
//     (the function presents none).
//
// The strategy follows the secret: a secret with masterarn alternates, one without rotates its
// single user (Config.Strategy can insist on one).
//
// Every step checks "already done?" first, so Secrets Manager can retry any step or the whole
// rotation. The new password is stored as AWSPENDING (createSecret) before any database is touched
// (setSecret). No password reaches a log line or an error: errors name the step, the secret, the
// user and the cause, and every password the step handled is redacted from the message as a last
// guard.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Steps as Secrets Manager sends them in the event's Step.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// Staging labels.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// Event is the rotation function's input, as Secrets Manager sends it. SecretId is the secret's
// ARN; ClientRequestToken is the VersionId of the version being rotated in. RotationToken is used
// by Secrets Manager for assumed-role and cross-account rotation; this function does not need it.
type Event struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken,omitempty"`
}

// Output is the function's (empty) response; Secrets Manager only looks at success or failure.
type Output struct{}

// Strategy selects how passwords change.
type Strategy string

const (
	// StrategyAuto alternates users when the secret has masterarn, else rotates the single user.
	StrategyAuto Strategy = ""
	// StrategySingleUser: the user sets its own new password.
	StrategySingleUser Strategy = "single-user"
	// StrategyAlternating: the superuser in masterarn clones the user and alternates between them.
	StrategyAlternating Strategy = "alternating-users"
)

// ParseStrategy reads a setting such as ROTATION_STRATEGY.
func ParseStrategy(v string) (Strategy, error) {
	switch s := Strategy(strings.ToLower(strings.TrimSpace(v))); s {
	case StrategyAuto, StrategySingleUser, StrategyAlternating:
		return s, nil
	case "auto":
		return StrategyAuto, nil
	default:
		return "", fmt.Errorf("strategy %q: must be %q, %q or empty (follow the secret: masterarn means alternating)",
			v, StrategySingleUser, StrategyAlternating)
	}
}

// SecretsManager is the part of the Secrets Manager client the steps use; *secretsmanager.Client
// satisfies it.
type SecretsManager interface {
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, params *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, params *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	GetRandomPassword(ctx context.Context, params *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
	ListSecretVersionIds(ctx context.Context, params *secretsmanager.ListSecretVersionIdsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error)
}

var _ SecretsManager = (*secretsmanager.Client)(nil)

// Config holds the function's settings.
type Config struct {
	// Strategy forces a strategy; empty follows the secret.
	Strategy Strategy
	// PasswordLength is the length of new passwords; 0 means DefaultPasswordLength.
	PasswordLength int
	// ExcludeCharacters is passed to GetRandomPassword; nil means DefaultExcludeCharacters. An empty
	// string excludes nothing.
	ExcludeCharacters *string
	// TLS protects database connections (dbsecret.TLS{} requires TLS with the system roots).
	TLS dbsecret.TLS
	// Logger receives progress lines with fixed keys; nil discards them.
	Logger *slog.Logger
}

// Rotator runs rotation steps. It is safe for concurrent use.
type Rotator struct {
	sm      SecretsManager
	cfg     Config
	exclude string
	log     *slog.Logger
}

// New checks cfg and returns a Rotator.
func New(sm SecretsManager, cfg Config) (*Rotator, error) {
	if sm == nil {
		return nil, errors.New("rotation: a Secrets Manager client is required")
	}
	if cfg.PasswordLength == 0 {
		cfg.PasswordLength = DefaultPasswordLength
	}
	if cfg.PasswordLength < MinPasswordLength || cfg.PasswordLength > MaxPasswordLength {
		return nil, fmt.Errorf("rotation: password length %d: must be from %d to %d", cfg.PasswordLength, MinPasswordLength, MaxPasswordLength)
	}
	exclude := DefaultExcludeCharacters
	if cfg.ExcludeCharacters != nil {
		exclude = *cfg.ExcludeCharacters
	}
	if err := checkExclusions(exclude); err != nil {
		return nil, fmt.Errorf("rotation: %w", err)
	}
	if _, err := ParseStrategy(string(cfg.Strategy)); err != nil {
		return nil, fmt.Errorf("rotation: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TLS.Mode == dbsecret.TLSDisabled {
		log.Warn("TLS to the database is disabled by configuration: passwords travel in plain text", "tls", string(cfg.TLS.Mode))
	}
	return &Rotator{sm: sm, cfg: cfg, exclude: exclude, log: log}, nil
}

// run is one invocation's state: the event, a logger with its ids, and every password seen, so
// that an error can be scrubbed of them before it leaves.
type run struct {
	ev     Event
	log    *slog.Logger
	secret []string
	desc   *secretsmanager.DescribeSecretOutput
}

func (r *run) saw(passwords ...string) {
	for _, p := range passwords {
		if p != "" && !slices.Contains(r.secret, p) {
			r.secret = append(r.secret, p)
		}
	}
}

// Handle runs one step. Its error is a *lambdaerr.TerminalError or *lambdaerr.RetryableError whose
// message starts with the step and holds no password.
func (rt *Rotator) Handle(ctx context.Context, ev Event) (Output, error) {
	r := &run{ev: ev, log: rt.log.With("rotation_step", ev.Step, "secret", ev.SecretID, "token", ev.ClientRequestToken)}
	err := rt.handle(ctx, r)
	if err == nil {
		return Output{}, nil
	}
	return Output{}, r.scrub(err)
}

// scrub classifies err, prefixes the step and removes every password the run saw.
func (r *run) scrub(err error) error {
	cerr := lambdaerr.Classify(err)
	msg := cerr.Error()
	if !strings.HasPrefix(msg, r.ev.Step+":") {
		msg = r.ev.Step + ": " + msg
	}
	if !strings.Contains(msg, r.ev.SecretID) {
		msg += " [secret " + r.ev.SecretID + "]"
	}
	for _, p := range r.secret {
		msg = strings.ReplaceAll(msg, p, "[REDACTED]")
	}
	if _, ok := cerr.(*lambdaerr.RetryableError); ok {
		return lambdaerr.Retryable(msg, nil)
	}
	return lambdaerr.Terminal(msg, nil)
}

func (rt *Rotator) handle(ctx context.Context, r *run) error {
	ev := r.ev
	switch {
	case ev.SecretID == "":
		return lambdaerr.Terminal("event: SecretId is empty; Secrets Manager sends the secret's ARN", nil)
	case ev.ClientRequestToken == "":
		return lambdaerr.Terminal("event: ClientRequestToken is empty; Secrets Manager sends the VersionId being rotated in", nil)
	}
	var step func(context.Context, *run) error
	switch ev.Step {
	case StepCreate:
		step = rt.createSecret
	case StepSet:
		step = rt.setSecret
	case StepTest:
		step = rt.testSecret
	case StepFinish:
		step = rt.finishSecret
	default:
		return lambdaerr.Terminal(fmt.Sprintf("event: Step %q is not one of %s, %s, %s, %s", ev.Step, StepCreate, StepSet, StepTest, StepFinish), nil)
	}

	// The checks of the AWS templates: rotation is on, the token is a version of this secret, and
	// it is the pending version (a version already current means the rotation is done).
	desc, err := rt.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &ev.SecretID})
	if err != nil {
		return fmt.Errorf("%s: describe secret %s: %w", ev.Step, ev.SecretID, err)
	}
	if desc.RotationEnabled != nil && !*desc.RotationEnabled {
		return lambdaerr.Terminal(fmt.Sprintf("%s: secret %s is not enabled for rotation", ev.Step, ev.SecretID), nil)
	}
	stages, ok := desc.VersionIdsToStages[ev.ClientRequestToken]
	switch {
	case !ok:
		return lambdaerr.Terminal(fmt.Sprintf("%s: secret version %s has no stage for rotation of secret %s", ev.Step, ev.ClientRequestToken, ev.SecretID), nil)
	case slices.Contains(stages, StageCurrent):
		r.log.Info("version is already AWSCURRENT; nothing to do")
		return nil
	case !slices.Contains(stages, StagePending):
		return lambdaerr.Terminal(fmt.Sprintf("%s: secret version %s is not set as AWSPENDING for rotation of secret %s", ev.Step, ev.ClientRequestToken, ev.SecretID), nil)
	}
	r.desc = desc
	return step(ctx, r)
}
