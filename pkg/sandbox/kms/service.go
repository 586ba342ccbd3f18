// Package kms is the sandbox's AWS Key Management Service (API version 2014-11-01), spoken over
// JSON 1.1 with X-Amz-Target TrentService.<Operation>.
//
// Operations: CreateCustomKeyStore, ConnectCustomKeyStore, DisconnectCustomKeyStore,
// DeleteCustomKeyStore, UpdateCustomKeyStore, DescribeCustomKeyStores; CreateKey, DescribeKey,
// ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion; Encrypt, Decrypt,
// GenerateDataKey, GenerateDataKeyWithoutPlaintext; CreateAlias, DeleteAlias, ListAliases;
// GetKeyPolicy, PutKeyPolicy (a key created with no Policy gets KMS's default key policy, which
// lets the account's IAM policies decide).
//
// CloudHSM key stores (AWS_CLOUDHSM) sit on the emulated CloudHSM (Clusters). Creation checks the
// cluster as KMS documents it: ACTIVE, not used by another store (clusters restored from one
// another count as the same), the store's trust anchor equal to the cluster's, and two or more
// ACTIVE HSMs in different AZs. Connecting takes Durations.Connect on the sandbox clock
// (CONNECTING), then inspects the real cluster and ends CONNECTED or FAILED with the
// ConnectionErrorCode the condition gives: CLUSTER_NOT_FOUND (cluster deleted),
// INSUFFICIENT_CLOUDHSM_HSMS (no ACTIVE HSM), USER_NOT_FOUND (no kmsuser), USER_LOCKED_OUT,
// USER_LOGGED_IN (kmsuser has a session), INVALID_CREDENTIALS (KeyStorePassword is not kmsuser's
// password; the failed login counts towards the lock-out). FailNextConnect injects the codes the
// sandbox cannot produce from a real condition (NETWORK_ERRORS, INTERNAL_ERROR, SUBNET_NOT_FOUND,
// INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET). SetUnsupportedHsmTypes makes CreateCustomKeyStore refuse
// hsm2m.medium clusters, as KMS has in some Regions, so workflows can prove they fail clearly.
//
// Password rotation, as KMS does it: a successful connect logs in as kmsuser with the store's
// password, changes kmsuser's password on the cluster to a new random one that only KMS knows,
// and stays logged in (a session) until disconnected. KMS keeps the new password, so reconnecting
// works; the password the operator supplied no longer logs in. After an operator sets a new
// kmsuser password on the cluster (hsmdocs ChangeCryptoUserPassword), the store fails with
// INVALID_CREDENTIALS until UpdateCustomKeyStore gives it the same password.
//
// Keys are symmetric (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT). Encrypt seals with real AES-256-GCM
// under the key's own random material, binding the encryption context; the ciphertext blob names
// its key, so Decrypt needs no KeyId. A key in a store that is not CONNECTED is Unavailable and
// its cryptographic operations fail with KMSInvalidStateException.
//
// Key policies: CreateKey with a Policy and PutKeyPolicy make KMS's lockout safety check when the
// sandbox enforces IAM (SetLockoutCheck): a policy that would not let the caller make a later
// PutKeyPolicy call on the key is refused with MalformedPolicyDocumentException, unless the request
// sets BypassPolicyLockoutSafetyCheck.
//
// Known differences from AWS: no asymmetric or HMAC keys, grants, rotation,
// multi-Region keys, imported material or external (XKS) key stores; no security-group checks on
// the cluster; the ciphertext format is the sandbox's own; messages are the sandbox's own (KMS
// documents none).
package kms

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Clusters is the part of the emulated CloudHSM KMS reaches (*cloudhsm.Service satisfies it).
type Clusters interface {
	Cluster(id string) (cloudhsm.ClusterInfo, error)
	Users(clusterID string) ([]cloudhsm.User, error)
	SetOwnPassword(clusterID, userName, current, next string) error
	OpenSession(clusterID string, cr cloudhsm.Credentials) error
	CloseSession(clusterID, userName string)
	AdjustKeys(clusterID, owner string, delta int) error
}

var _ Clusters = (*cloudhsm.Service)(nil)

// Durations are the sandbox durations of the asynchronous key store steps.
type Durations struct {
	// Connect is CONNECTING -> CONNECTED/FAILED. KMS documents "up to 20 minutes".
	Connect time.Duration
	// Disconnect is DISCONNECTING -> DISCONNECTED.
	Disconnect time.Duration
}

// DefaultDurations are what New uses.
var DefaultDurations = Durations{Connect: 8 * time.Minute, Disconnect: 30 * time.Second}

// Limits KMS documents.
const (
	maxKeyStores  = 10 // per account and Region, not adjustable
	kmsUser       = "kmsuser"
	maxPlaintext  = 4096
	blobMagic     = "SBX1"
	defaultWindow = 30
)

// Option configures a Service.
type Option func(*Service)

// WithDurations replaces DefaultDurations.
func WithDurations(d Durations) Option { return func(s *Service) { s.dur = d } }

// WithRegion sets the region in ARNs (default us-east-1).
func WithRegion(r string) Option { return core.WithRegion[Service](r) }

// WithAccount sets the account in ARNs (default 123456789012).
func WithAccount(a string) Option { return core.WithAccount[Service](a) }

// Service is the emulated KMS. It is safe for concurrent use.
type Service struct {
	core.JSONProtocol
	clock    core.Clock
	clusters Clusters
	dur      Durations
	core.Place

	mu          sync.Mutex
	stores      map[string]*keyStore
	sorder      []string
	keys        map[string]*key
	korder      []string
	aliases     map[string]string // alias name -> key id
	timers      *core.Timers
	nextFailure map[string]string // store id -> injected ConnectionErrorCode
	refusedHsm  []string          // HSM types CreateCustomKeyStore refuses (SetUnsupportedHsmTypes)
	issued      []string          // kmsuser passwords KMS generated, for secret scans
	lockout     LockoutCheck      // the key policy lockout safety check, nil when IAM is not enforced
}

// LockoutCheck decides KMS's key policy lockout safety check for op (CreateKey or PutKeyPolicy):
// whether policy, as the key keyARN's policy, lets the caller of ctx's request (core.Caller) make a
// later PutKeyPolicy call on the key. An error is a failure to decide, answered as it is.
// KMS makes the check unless the request sets BypassPolicyLockoutSafetyCheck (the KMS API
// reference, CreateKey's and PutKeyPolicy's Policy: "The key policy must allow the calling
// principal to make a subsequent PutKeyPolicy request on the KMS key").
type LockoutCheck func(ctx context.Context, op, keyARN, policy string) (allowed bool, err error)

// SetLockoutCheck makes CreateKey (with a Policy) and PutKeyPolicy make the lockout safety check
// with f; the sandbox sets it when it enforces IAM, since only its IAM judge can decide it.
func (s *Service) SetLockoutCheck(f LockoutCheck) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockout = f
}

// checkLockout runs the lockout safety check, if set, for a policy the request gave itself.
// Caller must not hold s.mu: the check asks the IAM judge, which may read other keys' policies
// through the service.
func (s *Service) checkLockout(ctx context.Context, op, keyARN, policy string, bypass bool) error {
	s.mu.Lock()
	f := s.lockout
	s.mu.Unlock()
	if f == nil || bypass {
		return nil
	}
	allowed, err := f(ctx, op, keyARN, policy)
	switch {
	case err != nil:
		return err
	case !allowed:
		return errLockedOut()
	}
	return nil
}

// SecretValues returns every kmsuser password this KMS generated when connecting, so a test can
// prove none of them ever left it (they are set on the cluster and kept, never returned).
func (s *Service) SecretValues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// SetUnsupportedHsmTypes makes CreateCustomKeyStore refuse clusters of these HSM types, as KMS did
// for hsm2m.medium clusters in Regions where key stores did not support them (AWS's hsm1-to-hsm2m
// migration guide). Workflows can then prove they fail with that reason instead of hanging.
func (s *Service) SetUnsupportedHsmTypes(types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusedHsm = append([]string(nil), types...)
}

// New returns an empty KMS whose CloudHSM key stores use clusters.
func New(clock core.Clock, clusters Clusters, opts ...Option) *Service {
	s := &Service{
		JSONProtocol: identity, clock: clock, clusters: clusters, dur: DefaultDurations, Place: core.DefaultPlace,
		stores: map[string]*keyStore{}, keys: map[string]*key{}, aliases: map[string]string{},
		nextFailure: map[string]string{},
	}
	s.timers = core.NewTimers(clock, &s.mu)
	return core.Configure(s, opts)
}

// Close stops pending state changes.
func (s *Service) Close() { s.timers.Close() }

// identity is how KMS is addressed on the wire.
var identity = core.NewJSONProtocol("kms", "TrentService", "1.1")

var (
	_ core.JSONService = (*Service)(nil)
	_ core.FaultCodes  = (*Service)(nil)
)

// InternalError implements core.FaultCodes.
func (s *Service) InternalError() *core.Error {
	return core.StatusErrorf(http.StatusInternalServerError, "KMSInternalException", "The request was rejected because an internal exception occurred. The request can be retried.")
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateCustomKeyStore":            core.Handler(s.createCustomKeyStore),
		"ConnectCustomKeyStore":           core.Handler(s.connectCustomKeyStore),
		"DisconnectCustomKeyStore":        core.Handler(s.disconnectCustomKeyStore),
		"DeleteCustomKeyStore":            core.Handler(s.deleteCustomKeyStore),
		"UpdateCustomKeyStore":            core.Handler(s.updateCustomKeyStore),
		"DescribeCustomKeyStores":         core.Handler(s.describeCustomKeyStores),
		"CreateKey":                       core.Handler(s.createKey),
		"DescribeKey":                     core.Handler(s.describeKey),
		"ListKeys":                        core.Handler(s.listKeys),
		"EnableKey":                       s.setEnabled(true),
		"DisableKey":                      s.setEnabled(false),
		"ScheduleKeyDeletion":             core.Handler(s.scheduleKeyDeletion),
		"CancelKeyDeletion":               core.Handler(s.cancelKeyDeletion),
		"Encrypt":                         core.Handler(s.encrypt),
		"Decrypt":                         core.Handler(s.decrypt),
		"GenerateDataKey":                 s.dataKey(true),
		"GenerateDataKeyWithoutPlaintext": s.dataKey(false),
		"CreateAlias":                     core.Handler(s.createAlias),
		"DeleteAlias":                     core.Handler(s.deleteAlias),
		"ListAliases":                     core.Handler(s.listAliases),
		"GetKeyPolicy":                    core.Handler(s.getKeyPolicy),
		"PutKeyPolicy":                    core.Handler(s.putKeyPolicy),
	}
}

// randomPassword makes the kmsuser password KMS sets on connect: 32 alphanumerics.
func randomPassword() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
