package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// maxKeyPolicy is KMS's key policy size limit (32 KB).
const maxKeyPolicy = 32768

// defaultKeyPolicy is the policy KMS gives a key created with no Policy: the account's IAM
// policies decide who may use it ("Default key policy" in the KMS developer guide).
func (s *Service) defaultKeyPolicy() string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`, s.Account())
}

// checkKeyPolicy refuses what KMS refuses as MalformedPolicyDocumentException: not a JSON object
// with a Statement, or larger than 32 KB.
func checkKeyPolicy(doc string) error {
	var m map[string]any
	if len(doc) > maxKeyPolicy {
		return core.Errorf("LimitExceededException", "The key policy is larger than %d bytes.", maxKeyPolicy)
	}
	if err := json.Unmarshal([]byte(doc), &m); err != nil || m["Statement"] == nil {
		return errLockedOut()
	}
	return nil
}

// errLockedOut is KMS's answer to a key policy it refuses, the one message it gives for a policy
// that fails the lockout safety check.
func errLockedOut() error {
	return core.Errorf("MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
}

type keyPolicyInput struct {
	KeyId                          string `json:"KeyId"`
	PolicyName                     string `json:"PolicyName"`
	Policy                         string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck bool   `json:"BypassPolicyLockoutSafetyCheck"`
}

func checkPolicyName(name string) error {
	if name != "" && name != "default" {
		return core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: the only valid policy name is default", name)
	}
	return nil
}

func (s *Service) getKeyPolicy(_ context.Context, in keyPolicyInput) (any, error) {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyLocked(in.KeyId)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Policy": k.policy, "PolicyName": "default"}, nil
}

func (s *Service) putKeyPolicy(ctx context.Context, in keyPolicyInput) (any, error) {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	if err := checkKeyPolicy(in.Policy); err != nil {
		return nil, err
	}
	s.mu.Lock()
	k, err := s.keyLocked(in.KeyId)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.checkLockout(ctx, "PutKeyPolicy", k.arn, in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k.policy = in.Policy
	return map[string]any{}, nil
}

// KeyPolicy returns the key policy of the key a key id, key ARN, alias name or alias ARN names.
func (s *Service) KeyPolicy(ref string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyLocked(ref)
	if err != nil {
		return "", false
	}
	return k.policy, true
}

// KeyARN returns the ARN of the key a key id, key ARN, alias name or alias ARN names, "" for none.
func (s *Service) KeyARN(ref string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyLocked(ref)
	if err != nil {
		return ""
	}
	return k.arn
}

// CiphertextKeyARN returns the ARN of the key a ciphertext blob of this KMS names, "" for a blob
// that names none: Decrypt is authorized on that key, whether or not the request names it.
func (s *Service) CiphertextKeyARN(blob []byte) string {
	if len(blob) < len(blobMagic)+36 || !strings.HasPrefix(string(blob), blobMagic) {
		return ""
	}
	return s.KeyARN(string(blob[len(blobMagic) : len(blobMagic)+36]))
}
