package kms

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Connection states and error codes, as the API names them.
const (
	Connected     = "CONNECTED"
	Connecting    = "CONNECTING"
	Disconnected  = "DISCONNECTED"
	Disconnecting = "DISCONNECTING"
	Failed        = "FAILED"

	ErrCodeClusterNotFound       = "CLUSTER_NOT_FOUND"
	ErrCodeInsufficientHsms      = "INSUFFICIENT_CLOUDHSM_HSMS"
	ErrCodeInsufficientAddresses = "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET"
	ErrCodeInternal              = "INTERNAL_ERROR"
	ErrCodeInvalidCredentials    = "INVALID_CREDENTIALS"
	ErrCodeNetwork               = "NETWORK_ERRORS"
	ErrCodeSubnetNotFound        = "SUBNET_NOT_FOUND"
	ErrCodeUserLockedOut         = "USER_LOCKED_OUT"
	ErrCodeUserLoggedIn          = "USER_LOGGED_IN"
	ErrCodeUserNotFound          = "USER_NOT_FOUND"
)

// keyStore is one CloudHSM key store. password is what KMS believes kmsuser's password is; it is
// never written to any output.
type keyStore struct {
	id, name, clusterID, trustAnchor string
	password                         string
	state, errorCode                 string
	created                          time.Time
	session                          bool // KMS holds a kmsuser session on the cluster
	attempt                          int  // bumped by every connect and disconnect, to drop stale timers
}

func (ks *keyStore) wire() map[string]any {
	out := map[string]any{
		"CustomKeyStoreId": ks.id, "CustomKeyStoreName": ks.name, "CloudHsmClusterId": ks.clusterID,
		"TrustAnchorCertificate": ks.trustAnchor, "ConnectionState": ks.state,
		"CreationDate": core.EpochTime(ks.created), "CustomKeyStoreType": "AWS_CLOUDHSM",
	}
	if ks.state == Failed {
		out["ConnectionErrorCode"] = ks.errorCode
	}
	return out
}

func storeNotFound(id string) error {
	return core.Errorf("CustomKeyStoreNotFoundException", "Custom key store %s does not exist in this account and Region.", id)
}

func invalidState(ks *keyStore, op string) error {
	return core.Errorf("CustomKeyStoreInvalidStateException", "%s is not valid for custom key store %s in state %s.", op, ks.id, ks.state)
}

// sameCert compares two PEM certificates by their DER bytes (formatting aside).
func sameCert(a, b string) bool {
	ba, _ := pem.Decode([]byte(strings.TrimSpace(a)))
	bb, _ := pem.Decode([]byte(strings.TrimSpace(b)))
	if ba == nil || bb == nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return bytes.Equal(ba.Bytes, bb.Bytes)
}

// checkCluster applies the cluster requirements of CreateCustomKeyStore and of a cluster change
// in UpdateCustomKeyStore: found, ACTIVE, two or more ACTIVE HSMs in different AZs.
func (s *Service) checkCluster(id string) (cloudhsm.ClusterInfo, error) {
	ci, err := s.clusters.Cluster(id)
	if err != nil || ci.State == cloudhsm.StateDeleted || ci.State == cloudhsm.StateDeleteInProgress {
		return ci, core.Errorf("CloudHsmClusterNotFoundException", "AWS KMS cannot find the AWS CloudHSM cluster with the specified cluster ID %s.", id)
	}
	if ci.State != cloudhsm.StateActive {
		return ci, core.Errorf("CloudHsmClusterNotActiveException", "The AWS CloudHSM cluster %s is in state %s. It must be ACTIVE.", id, ci.State)
	}
	if azs := ci.ActiveHsmAZs(); len(azs) < 2 {
		return ci, core.Errorf("CloudHsmClusterInvalidConfigurationException",
			"The AWS CloudHSM cluster %s must contain at least two active HSMs, each in a different Availability Zone; it has active HSMs in %d Availability Zone(s).", id, len(azs))
	}
	if len(ci.Subnets) < 2 {
		return ci, core.Errorf("CloudHsmClusterInvalidConfigurationException", "The AWS CloudHSM cluster %s must have private subnets in at least two Availability Zones.", id)
	}
	return ci, nil
}

type createStoreInput struct {
	CustomKeyStoreName     string `json:"CustomKeyStoreName"`
	CloudHsmClusterId      string `json:"CloudHsmClusterId"`
	TrustAnchorCertificate string `json:"TrustAnchorCertificate"`
	KeyStorePassword       string `json:"KeyStorePassword"`
	CustomKeyStoreType     string `json:"CustomKeyStoreType"`
}

func validatePassword(p string) error {
	if len(p) < 7 || len(p) > 32 {
		return core.Errorf("ValidationException", "1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must have length between 7 and 32")
	}
	return nil
}

func (s *Service) createCustomKeyStore(_ context.Context, in createStoreInput) (any, error) {
	if in.CustomKeyStoreType != "" && in.CustomKeyStoreType != "AWS_CLOUDHSM" {
		return nil, core.Errorf("UnsupportedOperationException", "The sandbox supports only AWS_CLOUDHSM custom key stores, not %s.", in.CustomKeyStoreType)
	}
	if in.CustomKeyStoreName == "" || len(in.CustomKeyStoreName) > 256 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'customKeyStoreName' failed to satisfy constraint: Member must have length between 1 and 256")
	}
	if in.CloudHsmClusterId == "" || in.TrustAnchorCertificate == "" || in.KeyStorePassword == "" {
		return nil, core.Errorf("ValidationException", "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for an AWS_CLOUDHSM key store.")
	}
	if len(in.TrustAnchorCertificate) > 5000 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'trustAnchorCertificate' failed to satisfy constraint: Member must have length less than or equal to 5000")
	}
	if err := validatePassword(in.KeyStorePassword); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.sorder {
		ks := s.stores[id]
		if ks.name != in.CustomKeyStoreName {
			continue
		}
		// Same properties as an existing disconnected store: KMS returns its id (idempotent).
		if ks.state == Disconnected && ks.clusterID == in.CloudHsmClusterId && sameCert(ks.trustAnchor, in.TrustAnchorCertificate) && ks.password == in.KeyStorePassword {
			return map[string]any{"CustomKeyStoreId": ks.id}, nil
		}
		return nil, core.Errorf("CustomKeyStoreNameInUseException", "The custom key store name %s is already used in this account and Region.", in.CustomKeyStoreName)
	}
	ci, err := s.checkCluster(in.CloudHsmClusterId)
	var ce *core.Error
	if err != nil && errors.As(err, &ce) && ce.Code != "CloudHsmClusterInvalidConfigurationException" {
		return nil, err
	}
	if slices.Contains(s.refusedHsm, ci.HsmType) {
		return nil, core.Errorf("CloudHsmClusterInvalidConfigurationException", "AWS KMS custom key stores do not support AWS CloudHSM clusters of HSM type %s in this Region.", ci.HsmType)
	}
	for _, id := range s.sorder {
		other, oerr := s.clusters.Cluster(s.stores[id].clusterID)
		if oerr == nil && other.Lineage == ci.Lineage {
			return nil, core.Errorf("CloudHsmClusterInUseException", "The AWS CloudHSM cluster %s (or one that shares its backup history) is already associated with custom key store %s.", in.CloudHsmClusterId, id)
		}
	}
	if !sameCert(ci.TrustAnchor, in.TrustAnchorCertificate) {
		return nil, core.Errorf("IncorrectTrustAnchorException", "The trust anchor certificate does not match the trust anchor of AWS CloudHSM cluster %s.", in.CloudHsmClusterId)
	}
	if err != nil {
		return nil, err
	}
	if len(s.stores) >= maxKeyStores {
		return nil, core.Errorf("LimitExceededException", "An account can have at most %d custom key stores in a Region.", maxKeyStores)
	}
	ks := &keyStore{
		id: "cks-" + core.RandomHex(17), name: in.CustomKeyStoreName, clusterID: in.CloudHsmClusterId,
		trustAnchor: in.TrustAnchorCertificate, password: in.KeyStorePassword, state: Disconnected, created: s.clock.Now(),
	}
	s.stores[ks.id] = ks
	s.sorder = append(s.sorder, ks.id)
	return map[string]any{"CustomKeyStoreId": ks.id}, nil
}

type storeIDInput struct {
	CustomKeyStoreId      string `json:"CustomKeyStoreId"`
	NewCustomKeyStoreName string `json:"NewCustomKeyStoreName"`
	KeyStorePassword      string `json:"KeyStorePassword"`
	CloudHsmClusterId     string `json:"CloudHsmClusterId"`
}

func (s *Service) storeLocked(id string) (*keyStore, error) {
	ks, ok := s.stores[id]
	if !ok {
		return nil, storeNotFound(id)
	}
	return ks, nil
}

func (s *Service) connectCustomKeyStore(_ context.Context, in storeIDInput) (any, error) {
	return core.Locked(&s.mu, s.storeLocked, in.CustomKeyStoreId, func(ks *keyStore) (any, error) {
		switch ks.state {
		case Disconnecting, Failed:
			// A FAILED store must be disconnected before it is connected again.
			return nil, invalidState(ks, "ConnectCustomKeyStore")
		case Connected, Connecting:
			return struct{}{}, nil
		}
		// Easily detected configuration errors fail at once and leave the store DISCONNECTED.
		ci, cerr := s.clusters.Cluster(ks.clusterID)
		if cerr == nil && ci.State != cloudhsm.StateActive && ci.State != cloudhsm.StateDegraded &&
			ci.State != cloudhsm.StateDeleted && ci.State != cloudhsm.StateDeleteInProgress {
			return nil, core.Errorf("CloudHsmClusterNotActiveException", "The AWS CloudHSM cluster %s is in state %s. It must be ACTIVE.", ks.clusterID, ci.State)
		}
		ks.state, ks.errorCode = Connecting, ""
		ks.attempt++
		attempt := ks.attempt
		s.timers.Later(s.dur.Connect, func() {
			if ks.attempt != attempt || ks.state != Connecting {
				return
			}
			if code := s.tryConnect(ks); code != "" {
				ks.state, ks.errorCode = Failed, code
				return
			}
			ks.state = Connected
		})
		return struct{}{}, nil
	})
}

// tryConnect does what KMS does when it connects, against the real emulated cluster, and
// returns the ConnectionErrorCode of the first problem ("" when connected). Caller holds s.mu.
func (s *Service) tryConnect(ks *keyStore) string {
	if code, ok := s.nextFailure[ks.id]; ok {
		delete(s.nextFailure, ks.id)
		return code
	}
	ci, err := s.clusters.Cluster(ks.clusterID)
	if err != nil || ci.State == cloudhsm.StateDeleted || ci.State == cloudhsm.StateDeleteInProgress {
		return ErrCodeClusterNotFound
	}
	if len(ci.ActiveHsmAZs()) == 0 {
		return ErrCodeInsufficientHsms
	}
	users, err := s.clusters.Users(ks.clusterID)
	if err != nil {
		return ErrCodeClusterNotFound
	}
	var ku *cloudhsm.User
	for i := range users {
		if users[i].Name == kmsUser && users[i].Role == cloudhsm.RoleCryptoUser {
			ku = &users[i]
		}
	}
	switch {
	case ku == nil:
		return ErrCodeUserNotFound
	case ku.LockedOut:
		return ErrCodeUserLockedOut
	case ku.LoggedIn:
		return ErrCodeUserLoggedIn
	}
	// Rotate kmsuser's password, then log in with the new one and stay logged in.
	next := randomPassword()
	s.issued = append(s.issued, next)
	if err := s.clusters.SetOwnPassword(ks.clusterID, kmsUser, ks.password, next); err != nil {
		return codeFor(err)
	}
	ks.password = next
	if err := s.clusters.OpenSession(ks.clusterID, cloudhsm.Credentials{Role: cloudhsm.RoleCryptoUser, User: kmsUser, Password: next}); err != nil {
		return codeFor(err)
	}
	ks.session = true
	return ""
}

func codeFor(err error) string {
	switch {
	case errors.Is(err, cloudhsm.ErrInvalidCredentials):
		return ErrCodeInvalidCredentials
	case errors.Is(err, cloudhsm.ErrUserLockedOut):
		return ErrCodeUserLockedOut
	case errors.Is(err, cloudhsm.ErrUserLoggedIn):
		return ErrCodeUserLoggedIn
	case errors.Is(err, cloudhsm.ErrUserNotFound):
		return ErrCodeUserNotFound
	case errors.Is(err, cloudhsm.ErrClusterNotFound):
		return ErrCodeClusterNotFound
	case errors.Is(err, cloudhsm.ErrNoActiveHsm):
		return ErrCodeInsufficientHsms
	}
	return ErrCodeInternal
}

// FailNextConnect makes the next connect attempt of a store end FAILED with code, for the
// ConnectionErrorCodes no real sandbox condition produces (NETWORK_ERRORS, INTERNAL_ERROR,
// SUBNET_NOT_FOUND, INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET).
func (s *Service) FailNextConnect(storeID, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.stores[storeID]; !ok {
		return fmt.Errorf("no custom key store %s", storeID)
	}
	s.nextFailure[storeID] = code
	return nil
}

func (s *Service) disconnectCustomKeyStore(_ context.Context, in storeIDInput) (any, error) {
	return core.Locked(&s.mu, s.storeLocked, in.CustomKeyStoreId, func(ks *keyStore) (any, error) {
		switch ks.state {
		case Disconnecting, Disconnected:
			return nil, invalidState(ks, "DisconnectCustomKeyStore")
		case Failed:
			ks.state, ks.errorCode = Disconnected, ""
			return struct{}{}, nil
		}
		ks.state = Disconnecting
		ks.attempt++
		attempt := ks.attempt
		s.timers.Later(s.dur.Disconnect, func() {
			if ks.attempt != attempt {
				return
			}
			if ks.session {
				s.clusters.CloseSession(ks.clusterID, kmsUser)
				ks.session = false
			}
			ks.state = Disconnected
		})
		return struct{}{}, nil
	})
}

func (s *Service) deleteCustomKeyStore(_ context.Context, in storeIDInput) (any, error) {
	return core.Locked(&s.mu, s.storeLocked, in.CustomKeyStoreId, func(ks *keyStore) (any, error) {
		if ks.state != Disconnected {
			return nil, invalidState(ks, "DeleteCustomKeyStore")
		}
		for _, k := range s.keys {
			if k.storeID == ks.id {
				return nil, core.Errorf("CustomKeyStoreHasCMKsException", "Custom key store %s still holds KMS keys. Schedule their deletion and wait until they are deleted.", ks.id)
			}
		}
		delete(s.stores, ks.id)
		for i, id := range s.sorder {
			if id == ks.id {
				s.sorder = append(s.sorder[:i], s.sorder[i+1:]...)
				break
			}
		}
		return struct{}{}, nil
	})
}

func (s *Service) updateCustomKeyStore(_ context.Context, in storeIDInput) (any, error) {
	if in.KeyStorePassword != "" {
		if err := validatePassword(in.KeyStorePassword); err != nil {
			return nil, err
		}
	}
	return core.Locked(&s.mu, s.storeLocked, in.CustomKeyStoreId, func(ks *keyStore) (any, error) {
		if in.NewCustomKeyStoreName != "" && ks.state != Connected && ks.state != Disconnected {
			return nil, invalidState(ks, "UpdateCustomKeyStore (name)")
		}
		if (in.KeyStorePassword != "" || in.CloudHsmClusterId != "") && ks.state != Disconnected {
			return nil, invalidState(ks, "UpdateCustomKeyStore (KeyStorePassword or CloudHsmClusterId)")
		}
		if in.NewCustomKeyStoreName != "" && in.NewCustomKeyStoreName != ks.name {
			for _, other := range s.stores {
				if other.name == in.NewCustomKeyStoreName {
					return nil, core.Errorf("CustomKeyStoreNameInUseException", "The custom key store name %s is already used in this account and Region.", in.NewCustomKeyStoreName)
				}
			}
		}
		if in.CloudHsmClusterId != "" && in.CloudHsmClusterId != ks.clusterID {
			ci, err := s.clusters.Cluster(in.CloudHsmClusterId)
			if err != nil || ci.State == cloudhsm.StateDeleted {
				return nil, core.Errorf("CloudHsmClusterNotFoundException", "AWS KMS cannot find the AWS CloudHSM cluster with the specified cluster ID %s.", in.CloudHsmClusterId)
			}
			cur, cerr := s.clusters.Cluster(ks.clusterID)
			if cerr == nil && cur.Lineage != ci.Lineage {
				return nil, core.Errorf("CloudHsmClusterNotRelatedException", "The AWS CloudHSM cluster %s does not share a backup history with cluster %s.", in.CloudHsmClusterId, ks.clusterID)
			}
			if _, err := s.checkCluster(in.CloudHsmClusterId); err != nil {
				return nil, err
			}
			ks.clusterID = in.CloudHsmClusterId
		}
		if in.NewCustomKeyStoreName != "" {
			ks.name = in.NewCustomKeyStoreName
		}
		if in.KeyStorePassword != "" {
			ks.password = in.KeyStorePassword
		}
		return struct{}{}, nil
	})
}

type describeStoresInput struct {
	CustomKeyStoreId   string `json:"CustomKeyStoreId"`
	CustomKeyStoreName string `json:"CustomKeyStoreName"`
	Limit              *int   `json:"Limit"`
	Marker             string `json:"Marker"`
}

func (s *Service) describeCustomKeyStores(_ context.Context, in describeStoresInput) (any, error) {
	return s.list(in.Limit, in.Marker, "CustomKeyStores", func() ([]map[string]any, error) {
		var all []map[string]any
		for _, id := range s.sorder {
			ks := s.stores[id]
			if (in.CustomKeyStoreId != "" && ks.id != in.CustomKeyStoreId) || (in.CustomKeyStoreName != "" && ks.name != in.CustomKeyStoreName) {
				continue
			}
			all = append(all, ks.wire())
		}
		if len(all) == 0 && (in.CustomKeyStoreId != "" || in.CustomKeyStoreName != "") {
			return nil, storeNotFound(in.CustomKeyStoreId + in.CustomKeyStoreName)
		}
		return all, nil
	})
}

// page reads KMS's Limit (1-1000) and Marker.
func page(limit *int, marker string) (int, int, error) {
	n := 100
	if limit != nil {
		if *limit < 1 || *limit > 1000 {
			return 0, 0, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", *limit)
		}
		n = *limit
	}
	start := 0
	if marker != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(marker, "m"))
		if err != nil || v < 0 || !strings.HasPrefix(marker, "m") {
			return 0, 0, core.Errorf("InvalidMarkerException", "The marker %q is not valid.", marker)
		}
		start = v
	}
	return start, n, nil
}

// list answers a KMS list operation: Limit and Marker select the page of the entries collect
// returns under the lock, named key; Truncated and NextMarker say whether another page follows.
func (s *Service) list(limit *int, marker, key string, collect func() ([]map[string]any, error)) (any, error) {
	start, n, err := page(limit, marker)
	if err != nil {
		return nil, err
	}
	items, end, total, err := core.Page(&s.mu, collect, start, n)
	if err != nil {
		return nil, err
	}
	out := map[string]any{key: items, "Truncated": end < total}
	if end < total {
		out["NextMarker"] = "m" + strconv.Itoa(end)
	}
	return out, nil
}
