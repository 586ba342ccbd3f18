package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Key states.
const (
	KeyEnabled         = "Enabled"
	KeyDisabled        = "Disabled"
	KeyPendingDeletion = "PendingDeletion"
	KeyUnavailable     = "Unavailable"
)

// key is one symmetric KMS key. material never leaves the service.
type key struct {
	id, arn, description, origin, storeID, clusterID string
	state                                            string // Enabled, Disabled or PendingDeletion
	created                                          time.Time
	deletion                                         time.Time
	window                                           int
	material                                         []byte
	// policy is the key policy (Policy on CreateKey, PutKeyPolicy; else defaultKeyPolicy).
	policy string
}

// effectiveState is the state DescribeKey reports: a key whose custom key store is not connected
// is Unavailable (unless PendingDeletion). Caller holds s.mu.
func (s *Service) effectiveState(k *key) string {
	if k.storeID != "" && k.state != KeyPendingDeletion {
		if ks, ok := s.stores[k.storeID]; !ok || ks.state != Connected {
			return KeyUnavailable
		}
	}
	return k.state
}

func (s *Service) metadata(k *key) map[string]any {
	m := map[string]any{
		"AWSAccountId": s.Account(), "KeyId": k.id, "Arn": k.arn, "CreationDate": core.EpochTime(k.created),
		"Enabled": k.state == KeyEnabled, "Description": k.description, "KeyUsage": "ENCRYPT_DECRYPT",
		"KeyState": s.effectiveState(k), "Origin": k.origin, "KeyManager": "CUSTOMER",
		"CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
		"EncryptionAlgorithms": []string{"SYMMETRIC_DEFAULT"}, "MultiRegion": false,
	}
	if k.storeID != "" {
		m["CustomKeyStoreId"], m["CloudHsmClusterId"] = k.storeID, k.clusterID
	}
	if k.state == KeyPendingDeletion {
		m["DeletionDate"] = core.EpochTime(k.deletion)
		m["PendingDeletionWindowInDays"] = k.window
	}
	return m
}

type createKeyInput struct {
	Description           string `json:"Description"`
	KeyUsage              string `json:"KeyUsage"`
	KeySpec               string `json:"KeySpec"`
	CustomerMasterKeySpec string `json:"CustomerMasterKeySpec"`
	Origin                string `json:"Origin"`
	CustomKeyStoreId      string `json:"CustomKeyStoreId"`
	MultiRegion           bool   `json:"MultiRegion"`
	Policy                string `json:"Policy"`
	// BypassPolicyLockoutSafetyCheck skips the lockout safety check (Service.SetLockoutCheck).
	BypassPolicyLockoutSafetyCheck bool `json:"BypassPolicyLockoutSafetyCheck"`
}

func (s *Service) createKey(ctx context.Context, in createKeyInput) (any, error) {
	if in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT" {
		return nil, core.Errorf("UnsupportedOperationException", "The sandbox supports only ENCRYPT_DECRYPT keys, not %s.", in.KeyUsage)
	}
	for _, spec := range []string{in.KeySpec, in.CustomerMasterKeySpec} {
		if spec != "" && spec != "SYMMETRIC_DEFAULT" {
			return nil, core.Errorf("UnsupportedOperationException", "The sandbox supports only SYMMETRIC_DEFAULT keys, not %s.", spec)
		}
	}
	if in.MultiRegion {
		return nil, core.Errorf("UnsupportedOperationException", "The sandbox does not support multi-Region keys.")
	}
	if len(in.Description) > 8192 {
		return nil, core.Errorf("ValidationException", "Description must be at most 8192 characters.")
	}
	origin := in.Origin
	if origin == "" {
		origin = "AWS_KMS"
		if in.CustomKeyStoreId != "" {
			origin = "AWS_CLOUDHSM"
		}
	}
	switch {
	case origin == "AWS_CLOUDHSM" && in.CustomKeyStoreId == "":
		return nil, core.Errorf("ValidationException", "CustomKeyStoreId is required when Origin is AWS_CLOUDHSM.")
	case origin == "AWS_KMS" && in.CustomKeyStoreId != "":
		return nil, core.Errorf("ValidationException", "Origin must be AWS_CLOUDHSM to create a key in custom key store %s.", in.CustomKeyStoreId)
	case origin != "AWS_KMS" && origin != "AWS_CLOUDHSM":
		return nil, core.Errorf("UnsupportedOperationException", "The sandbox does not support Origin %s.", origin)
	}
	policy := in.Policy
	if policy == "" {
		policy = s.defaultKeyPolicy()
	}
	if err := checkKeyPolicy(policy); err != nil {
		return nil, err
	}
	material := make([]byte, 32)
	if _, err := rand.Read(material); err != nil {
		return nil, fmt.Errorf("generate key material: %w", err)
	}
	id := core.NewUUID()
	arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.Region(), s.Account(), id)
	// A store that does not exist or is not connected answers before the lockout check (checked
	// again below, locked).
	if in.CustomKeyStoreId != "" {
		s.mu.Lock()
		_, err := s.connectedStoreLocked(in.CustomKeyStoreId, "CreateKey")
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	// Only a policy the caller gave: the default policy lets the account's IAM policies decide.
	if in.Policy != "" {
		if err := s.checkLockout(ctx, "CreateKey", arn, policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &key{
		id: id, arn: arn, description: in.Description, origin: origin, state: KeyEnabled,
		created: s.clock.Now(), material: material, policy: policy,
	}
	if in.CustomKeyStoreId != "" {
		ks, err := s.connectedStoreLocked(in.CustomKeyStoreId, "CreateKey")
		if err != nil {
			return nil, err
		}
		if _, err := s.checkCluster(ks.clusterID); err != nil {
			if ce, ok := err.(*core.Error); ok && ce.Code != "CloudHsmClusterInvalidConfigurationException" {
				return nil, core.Errorf("CloudHsmClusterInvalidConfigurationException", "%s", ce.Message)
			}
			return nil, err
		}
		// The key material is generated in the HSMs and owned by kmsuser.
		if err := s.clusters.AdjustKeys(ks.clusterID, kmsUser, 1); err != nil {
			return nil, core.StatusErrorf(500, "KMSInternalException", "create the key in the AWS CloudHSM cluster %s: %v", ks.clusterID, err)
		}
		k.storeID, k.clusterID = ks.id, ks.clusterID
	}
	s.keys[k.id] = k
	s.korder = append(s.korder, k.id)
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

// connectedStoreLocked returns the key store id names when it is CONNECTED, else the error KMS
// answers op with (not found, or KMSInvalidStateException). Caller holds s.mu.
func (s *Service) connectedStoreLocked(id, op string) (*keyStore, error) {
	ks, err := s.storeLocked(id)
	if err != nil {
		return nil, err
	}
	if ks.state != Connected {
		return nil, invalidState(ks, op)
	}
	return ks, nil
}

var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

// keyLocked resolves a key id, key ARN, alias name or alias ARN. Caller holds s.mu.
func (s *Service) keyLocked(ref string) (*key, error) {
	if ref == "" {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	id := ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 {
			return nil, core.Errorf("NotFoundException", "Invalid arn %s", ref)
		}
		id = parts[5]
		id = strings.TrimPrefix(id, "key/")
	}
	if strings.HasPrefix(id, "alias/") {
		target, ok := s.aliases[id]
		if !ok {
			return nil, core.Errorf("NotFoundException", "Alias %s is not found.", ref)
		}
		id = target
	}
	k, ok := s.keys[id]
	if !ok {
		return nil, core.Errorf("NotFoundException", "Key '%s' does not exist", fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.Region(), s.Account(), id))
	}
	return k, nil
}

// usableLocked resolves a key for a cryptographic operation.
func (s *Service) usableLocked(ref string) (*key, error) {
	k, err := s.keyLocked(ref)
	if err != nil {
		return nil, err
	}
	switch s.effectiveState(k) {
	case KeyDisabled:
		return nil, core.Errorf("DisabledException", "%s is disabled.", k.arn)
	case KeyPendingDeletion:
		return nil, core.Errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
	case KeyUnavailable:
		return nil, core.Errorf("KMSInvalidStateException", "%s is unavailable because its custom key store %s is not connected.", k.arn, k.storeID)
	}
	return k, nil
}

type keyIDInput struct {
	KeyId               string `json:"KeyId"`
	PendingWindowInDays *int   `json:"PendingWindowInDays"`
	Limit               *int   `json:"Limit"`
	Marker              string `json:"Marker"`
}

func (s *Service) describeKey(_ context.Context, in keyIDInput) (any, error) {
	return core.Locked(&s.mu, s.keyLocked, in.KeyId, func(k *key) (any, error) {
		return map[string]any{"KeyMetadata": s.metadata(k)}, nil
	})
}

func (s *Service) listKeys(_ context.Context, in keyIDInput) (any, error) {
	return s.list(in.Limit, in.Marker, "Keys", func() ([]map[string]any, error) {
		var all []map[string]any
		for _, id := range s.korder {
			all = append(all, map[string]any{"KeyId": id, "KeyArn": s.keys[id].arn})
		}
		return all, nil
	})
}

// setEnabled answers EnableKey (enabled) and DisableKey.
func (s *Service) setEnabled(enabled bool) core.JSONOperation {
	return core.Handler(func(_ context.Context, in keyIDInput) (any, error) {
		return core.Locked(&s.mu, s.keyLocked, in.KeyId, func(k *key) (any, error) {
			if st := s.effectiveState(k); st == KeyPendingDeletion || st == KeyUnavailable {
				return nil, core.Errorf("KMSInvalidStateException", "%s is %s.", k.arn, st)
			}
			k.state = KeyDisabled
			if enabled {
				k.state = KeyEnabled
			}
			return struct{}{}, nil
		})
	})
}

func (s *Service) scheduleKeyDeletion(_ context.Context, in keyIDInput) (any, error) {
	window := defaultWindow
	if in.PendingWindowInDays != nil {
		window = *in.PendingWindowInDays
		if window < 7 || window > 30 {
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", window)
		}
	}
	return core.Locked(&s.mu, s.keyLocked, in.KeyId, func(k *key) (any, error) {
		if k.state == KeyPendingDeletion {
			return nil, core.Errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
		}
		k.state, k.window = KeyPendingDeletion, window
		k.deletion = s.clock.Now().Add(time.Duration(window) * 24 * time.Hour)
		s.timers.Later(time.Duration(window)*24*time.Hour, func() {
			if k.state != KeyPendingDeletion || s.keys[k.id] != k {
				return
			}
			delete(s.keys, k.id)
			s.korder = slices.DeleteFunc(s.korder, func(id string) bool { return id == k.id })
			for a, target := range s.aliases {
				if target == k.id {
					delete(s.aliases, a)
				}
			}
			if k.storeID != "" {
				_ = s.clusters.AdjustKeys(k.clusterID, kmsUser, -1)
			}
		})
		return map[string]any{"KeyId": k.arn, "DeletionDate": core.EpochTime(k.deletion), "KeyState": KeyPendingDeletion, "PendingWindowInDays": window}, nil
	})
}

func (s *Service) cancelKeyDeletion(_ context.Context, in keyIDInput) (any, error) {
	return core.Locked(&s.mu, s.keyLocked, in.KeyId, func(k *key) (any, error) {
		if k.state != KeyPendingDeletion {
			return nil, core.Errorf("KMSInvalidStateException", "%s is not pending deletion.", k.arn)
		}
		// A cancelled deletion leaves the key disabled, as KMS does.
		k.state, k.deletion, k.window = KeyDisabled, time.Time{}, 0
		return map[string]any{"KeyId": k.arn}, nil
	})
}

// Aliases.

type aliasInput struct {
	AliasName   string `json:"AliasName"`
	TargetKeyId string `json:"TargetKeyId"`
	KeyId       string `json:"KeyId"`
	Limit       *int   `json:"Limit"`
	Marker      string `json:"Marker"`
}

func (s *Service) createAlias(_ context.Context, in aliasInput) (any, error) {
	if !aliasPattern.MatchString(in.AliasName) || strings.HasPrefix(in.AliasName, "alias/aws/") {
		return nil, core.Errorf("InvalidAliasNameException", "Alias %s must begin with alias/ followed by letters, digits, /, _ or -, and must not begin with alias/aws/.", in.AliasName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.aliases[in.AliasName]; ok {
		return nil, core.Errorf("AlreadyExistsException", "An alias with the name %s already exists", fmt.Sprintf("arn:aws:kms:%s:%s:%s", s.Region(), s.Account(), in.AliasName))
	}
	k, err := s.keyLocked(in.TargetKeyId)
	if err != nil {
		return nil, err
	}
	s.aliases[in.AliasName] = k.id
	return struct{}{}, nil
}

func (s *Service) deleteAlias(_ context.Context, in aliasInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.aliases[in.AliasName]; !ok {
		return nil, core.Errorf("NotFoundException", "Alias %s is not found.", in.AliasName)
	}
	delete(s.aliases, in.AliasName)
	return struct{}{}, nil
}

func (s *Service) listAliases(_ context.Context, in aliasInput) (any, error) {
	return s.list(in.Limit, in.Marker, "Aliases", func() ([]map[string]any, error) {
		filter := ""
		if in.KeyId != "" {
			k, err := s.keyLocked(in.KeyId)
			if err != nil {
				return nil, err
			}
			filter = k.id
		}
		names := make([]string, 0, len(s.aliases))
		for n := range s.aliases {
			names = append(names, n)
		}
		slices.Sort(names)
		var all []map[string]any
		for _, n := range names {
			if filter != "" && s.aliases[n] != filter {
				continue
			}
			all = append(all, map[string]any{
				"AliasName": n, "AliasArn": fmt.Sprintf("arn:aws:kms:%s:%s:%s", s.Region(), s.Account(), n), "TargetKeyId": s.aliases[n],
			})
		}
		return all, nil
	})
}

// Cryptography. A ciphertext blob is magic "SBX1" | key id (36 bytes) | 12-byte nonce |
// AES-256-GCM(plaintext) with the magic, key id and canonical encryption context as additional
// data, so a changed context or blob fails to open.

type cryptoInput struct {
	KeyId               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	KeySpec             string            `json:"KeySpec"`
	NumberOfBytes       *int              `json:"NumberOfBytes"`
}

func aad(keyID string, ctx map[string]string) []byte {
	c, _ := json.Marshal(ctx) // map keys are sorted: a canonical form
	return append([]byte(blobMagic+keyID), c...)
}

func seal(k *key, plaintext []byte, ctx map[string]string) ([]byte, error) {
	block, err := aes.NewCipher(k.material)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(blobMagic+k.id), nonce...)
	return gcm.Seal(out, nonce, plaintext, aad(k.id, ctx)), nil
}

func checkAlgorithm(a string) error {
	if a != "" && a != "SYMMETRIC_DEFAULT" {
		return core.Errorf("InvalidKeyUsageException", "Encryption algorithm %s is not valid for a SYMMETRIC_DEFAULT key.", a)
	}
	return nil
}

func (s *Service) encrypt(_ context.Context, in cryptoInput) (any, error) {
	if len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintext {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096")
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.usableLocked, in.KeyId, func(k *key) (any, error) {
		blob, err := seal(k, in.Plaintext, in.EncryptionContext)
		if err != nil {
			return nil, fmt.Errorf("encrypt with %s: %w", k.id, err)
		}
		return map[string]any{"CiphertextBlob": blob, "KeyId": k.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
	})
}

func (s *Service) decrypt(_ context.Context, in cryptoInput) (any, error) {
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	invalidBlob := core.Errorf("InvalidCiphertextException", "The ciphertext is invalid, or was encrypted with a different encryption context.")
	if len(in.CiphertextBlob) < len(blobMagic)+36+12+16 || string(in.CiphertextBlob[:len(blobMagic)]) != blobMagic {
		return nil, invalidBlob
	}
	keyID := string(in.CiphertextBlob[len(blobMagic) : len(blobMagic)+36])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[keyID]; !ok {
		return nil, invalidBlob
	}
	if in.KeyId != "" {
		named, err := s.keyLocked(in.KeyId)
		if err != nil {
			return nil, err
		}
		if named.id != keyID {
			return nil, core.Errorf("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.")
		}
	}
	k, err := s.usableLocked(keyID)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(k.material)
	gcm, _ := cipher.NewGCM(block)
	body := in.CiphertextBlob[len(blobMagic)+36:]
	plain, err := gcm.Open(nil, body[:12], body[12:], aad(k.id, in.EncryptionContext))
	if err != nil {
		return nil, invalidBlob
	}
	return map[string]any{"KeyId": k.arn, "Plaintext": plain, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

// dataKey answers GenerateDataKey (withPlaintext) and GenerateDataKeyWithoutPlaintext.
func (s *Service) dataKey(withPlaintext bool) core.JSONOperation {
	return core.Handler(func(_ context.Context, in cryptoInput) (any, error) {
		n := 0
		switch {
		case in.KeySpec != "" && in.NumberOfBytes != nil:
			return nil, core.Errorf("ValidationException", "Specify either KeySpec or NumberOfBytes, not both.")
		case in.KeySpec == "AES_256":
			n = 32
		case in.KeySpec == "AES_128":
			n = 16
		case in.KeySpec != "":
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
		case in.NumberOfBytes != nil:
			n = *in.NumberOfBytes
			if n < 1 || n > 1024 {
				return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", n)
			}
		default:
			return nil, core.Errorf("ValidationException", "Specify KeySpec or NumberOfBytes.")
		}
		dk := make([]byte, n)
		if _, err := rand.Read(dk); err != nil {
			return nil, fmt.Errorf("generate data key: %w", err)
		}
		return core.Locked(&s.mu, s.usableLocked, in.KeyId, func(k *key) (any, error) {
			blob, err := seal(k, dk, in.EncryptionContext)
			if err != nil {
				return nil, fmt.Errorf("encrypt data key with %s: %w", k.id, err)
			}
			out := map[string]any{"CiphertextBlob": blob, "KeyId": k.arn}
			if withPlaintext {
				out["Plaintext"] = dk
			}
			return out, nil
		})
	})
}
