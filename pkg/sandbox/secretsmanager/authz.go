package secretsmanager

// SecretRef is what an authorization decision needs of a secret: its full ARN, the KMS key it is
// encrypted with ("" for aws/secretsmanager) and its resource policy ("" for none).
type SecretRef struct {
	ARN, KMSKeyID, Policy string
}

// Ref resolves a SecretId (a name, a partial or full ARN) to the secret's SecretRef; ok is false
// when no secret matches.
func (s *Service) Ref(id string) (ref SecretRef, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(id)
	if err != nil {
		return SecretRef{}, false
	}
	return SecretRef{ARN: sec.arn, KMSKeyID: sec.kmsKeyID, Policy: sec.policy}, true
}
