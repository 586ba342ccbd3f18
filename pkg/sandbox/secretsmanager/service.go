package secretsmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Staging labels with meaning to the service.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the region used in ARNs (default us-east-1).
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account id used in ARNs (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// WithScheduledRotation makes the service start rotations itself when a secret's next rotation
// window opens (at the window's start, on the sandbox clock), as AWS does on a schedule. It is off
// by default so that a test with a fast clock rotates only when it calls RotateSecret.
func WithScheduledRotation() Option { return func(s *Service) { s.scheduled = true } }

// Service is the emulated Secrets Manager. It is safe for concurrent use.
type Service struct {
	core.JSONProtocol
	clock   core.Clock
	invoker core.LambdaInvoker
	core.Place
	scheduled bool

	ctx    context.Context // cancelled by Close; parent of rotation invocations
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	secrets map[string]*secret // by ARN, including secrets scheduled for deletion
	byName  map[string]*secret // live (not yet removed) secrets by name
	issued  []string           // every value stored or generated, for secret scans
	hooks   []func(RotationEvent)
	// queue holds service events not yet delivered to hooks; dispatching says a goroutine is
	// delivering them.
	queue       []RotationEvent
	dispatching bool
	// authorize, when set, judges each invocation of a rotation function (SetInvokeAuthorizer).
	authorize InvokeAuthorizer
}

// New returns an empty Secrets Manager on the sandbox clock. invoker runs rotation functions; it
// may be nil when no test rotates (a rotation then fails at its first step).
func New(clock core.Clock, invoker core.LambdaInvoker, opts ...Option) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		JSONProtocol: identity, clock: clock, invoker: invoker, Place: core.DefaultPlace,
		ctx: ctx, cancel: cancel,
		secrets: map[string]*secret{}, byName: map[string]*secret{},
	}
	return core.Configure(s, opts)
}

// Close cancels rotations in flight and waits for their goroutines to end.
func (s *Service) Close() {
	s.cancel()
	// Under the lock, so a scheduled rotation either started before (and is waited for) or sees
	// the cancelled context and does nothing.
	s.mu.Lock()
	for _, sec := range s.secrets {
		if sec.timerStop != nil {
			sec.timerStop()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// identity is how Secrets Manager is addressed on the wire.
var identity = core.NewJSONProtocol("secretsmanager", "secretsmanager", "1.1")

var _ core.JSONService = (*Service)(nil)

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateSecret":             core.Handler(s.createSecret),
		"DescribeSecret":           core.Handler(s.describeSecret),
		"GetSecretValue":           core.Handler(s.getSecretValue),
		"PutSecretValue":           core.Handler(s.putSecretValue),
		"UpdateSecret":             core.Handler(s.updateSecret),
		"UpdateSecretVersionStage": core.Handler(s.updateSecretVersionStage),
		"ListSecretVersionIds":     core.Handler(s.listSecretVersionIds),
		"ListSecrets":              core.Handler(s.listSecrets),
		"GetRandomPassword":        core.Handler(s.getRandomPassword),
		"RotateSecret":             core.Handler(s.rotateSecret),
		"CancelRotateSecret":       core.Handler(s.cancelRotateSecret),
		"DeleteSecret":             core.Handler(s.deleteSecret),
		"RestoreSecret":            core.Handler(s.restoreSecret),
		"TagResource":              core.Handler(s.tagResource),
		"UntagResource":            core.Handler(s.untagResource),
		"PutResourcePolicy":        core.Handler(s.putResourcePolicy),
		"GetResourcePolicy":        core.Handler(s.getResourcePolicy),
		"DeleteResourcePolicy":     core.Handler(s.deleteResourcePolicy),
	}
}

// secret is one secret with its versions. Guarded by Service.mu.
type secret struct {
	arn, name, description, kmsKeyID string
	created, lastChanged             time.Time
	lastAccessed                     *time.Time
	lastRotated                      *time.Time
	deletedDate                      *time.Time // when DeleteSecret was called
	deletionDate                     time.Time  // when a scheduled deletion takes effect
	tags                             []Tag
	policy                           string

	rotationEnabled bool
	rotationLambda  string
	rules           *RotationRules
	sched           *schedule
	rotating        bool        // a rotation goroutine is running
	scheduleFrom    time.Time   // the next scheduled rotation is the first window after this
	timerStop       func() bool // stops the pending scheduled rotation, if any
	lastRotationErr string      // the function error of the last failed rotation step

	versions map[string]*version
	order    []string // version ids in creation order
}

type version struct {
	id           string
	str          *string
	bin          []byte
	stages       []string
	created      time.Time
	lastAccessed *time.Time
	kmsKeyIDs    []string
}

func (v *version) hasValue() bool { return v.str != nil || v.bin != nil }

func (v *version) has(label string) bool { return slices.Contains(v.stages, label) }

// holder returns the version carrying label, or nil.
func (sec *secret) holder(label string) *version {
	for _, id := range sec.order {
		if v := sec.versions[id]; v.has(label) {
			return v
		}
	}
	return nil
}

// attach puts label on v, removing it from any other version. Moving AWSCURRENT gives the version
// that had it AWSPREVIOUS, as the service does.
func (sec *secret) attach(label string, v *version) {
	old := sec.holder(label)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(l string) bool { return l == label })
	}
	v.stages = append(v.stages, label)
	if label == StageCurrent && old != nil {
		sec.attach(StagePrevious, old)
	}
}

func (sec *secret) detach(label string, v *version) {
	v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == label })
}

func (sec *secret) deleted() bool { return sec.deletedDate != nil }

// Tag is a secret's tag, as on the wire.
type Tag struct {
	Key   *string `json:"Key,omitempty"`
	Value *string `json:"Value,omitempty"`
}

// Error messages the service uses verbatim.
const (
	msgNotFound = "Secrets Manager can't find the specified secret."
	msgDeleted  = "You can't perform this operation on the secret because it was marked for deletion."
)

func errNotFound() error { return core.Errorf("ResourceNotFoundException", msgNotFound) }

func errInvalidParam(format string, args ...any) error {
	return core.Errorf("InvalidParameterException", format, args...)
}

func errInvalidRequest(format string, args ...any) error {
	return core.Errorf("InvalidRequestException", format, args...)
}

// purge removes secrets whose recovery window has ended. Caller holds s.mu.
func (s *Service) purge() {
	now := s.clock.Now()
	for arn, sec := range s.secrets {
		if sec.deleted() && !now.Before(sec.deletionDate) {
			delete(s.secrets, arn)
			if s.byName[sec.name] == sec {
				delete(s.byName, sec.name)
			}
		}
	}
}

// find resolves a SecretId: a name, a full ARN, or a partial ARN (an ARN without the six random
// characters the service appends). Caller holds s.mu.
func (s *Service) find(id string) (*secret, error) {
	s.purge()
	if id == "" {
		return nil, errInvalidParam("You must specify SecretId: the name or ARN of the secret.")
	}
	if sec, ok := s.secrets[id]; ok {
		return sec, nil
	}
	prefix := s.arnPrefix()
	if strings.HasPrefix(id, "arn:") {
		if !strings.HasPrefix(id, prefix) {
			return nil, errNotFound()
		}
		id = strings.TrimPrefix(id, prefix)
	}
	if sec, ok := s.byName[id]; ok {
		return sec, nil
	}
	return nil, errNotFound()
}

// findLive is find for operations that a secret scheduled for deletion refuses.
func (s *Service) findLive(id string) (*secret, error) {
	sec, err := s.find(id)
	if err != nil {
		return nil, err
	}
	if sec.deleted() {
		return nil, errInvalidRequest(msgDeleted)
	}
	return sec, nil
}

func (s *Service) arnPrefix() string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:", s.Region(), s.Account())
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[randIntn(len(alphabet))]
	}
	return string(b)
}

// secretField matches JSON keys whose string values are secrets in their own right; keys naming
// an ARN or an id (for example "masterarn", "KeySecretArn") are references, not secrets.
var secretField = regexp.MustCompile(`(?i)(password|passwd|secret|private|token|credential)`)
var referenceField = regexp.MustCompile(`(?i)(arn|id)$`)

// publicPEM reports whether v is nothing but PEM CERTIFICATE blocks: certificates are public
// (a trust anchor is meant to be handed out), so they are no secret to scan for.
func publicPEM(v string) bool {
	rest := []byte(strings.TrimSpace(v))
	if len(rest) == 0 {
		return false
	}
	for len(rest) > 0 {
		block, r := pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return false
		}
		rest = bytes.TrimSpace(r)
	}
	return true
}

// remember records a value for SecretValues. For a JSON object it also records the string fields
// whose key names a secret (password, secret, private key, token, credential), so scans find the
// password itself in a log that prints only it. Certificates are public and not recorded.
// Caller holds s.mu.
func (s *Service) remember(v string) {
	if v == "" || publicPEM(v) {
		return
	}
	s.issued = append(s.issued, v)
	var obj map[string]any
	if json.Unmarshal([]byte(v), &obj) != nil {
		return
	}
	for k, val := range obj {
		if str, ok := val.(string); ok && str != "" && secretField.MatchString(k) && !referenceField.MatchString(k) && !publicPEM(str) {
			s.issued = append(s.issued, str)
		}
	}
}

// SecretValues returns every secret value this service has stored (SecretString and SecretBinary
// of every version, and the secret fields of JSON secrets) and every password GetRandomPassword
// generated, without duplicates, so tests can scan logs, records and payloads for them. Values
// that are only PEM certificates are left out: certificates are public. It is never exposed on
// the wire.
func (s *Service) SecretValues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.issued)
	slices.Sort(out)
	return slices.Compact(out)
}

// SecretString returns the AWSCURRENT SecretString of the secret named by id (a name or an ARN),
// recording the access as GetSecretValue would. Go API for tests.
func (s *Service) SecretString(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(id)
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", id, err)
	}
	v := sec.holder(StageCurrent)
	if v == nil || v.str == nil {
		return "", fmt.Errorf("read secret %s: %w", id, core.Errorf("ResourceNotFoundException",
			"Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"))
	}
	now := s.clock.Now().UTC().Truncate(24 * time.Hour)
	sec.lastAccessed, v.lastAccessed = &now, &now
	return *v.str, nil
}

// LastRotationError returns the function error (errorType: errorMessage) of the secret's last
// failed rotation step, or "" when its last rotation succeeded or none ran. Go API for tests.
func (s *Service) LastRotationError(id string) (string, error) {
	return core.Locked(&s.mu, s.find, id, func(sec *secret) (string, error) { return sec.lastRotationErr, nil })
}

// Rotating reports whether a rotation of the secret is running now. Go API for tests, which poll
// it (or DescribeSecret) because RotateSecret is asynchronous, as on AWS.
func (s *Service) Rotating(id string) (bool, error) {
	return core.Locked(&s.mu, s.find, id, func(sec *secret) (bool, error) { return sec.rotating, nil })
}
