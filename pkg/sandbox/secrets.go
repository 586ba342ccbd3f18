package sandbox

import (
	"encoding/json"
	"strings"
)

// secretChannels are the operations whose purpose is to carry a secret value, per part: a secret
// found there is not a leak. Everything else the sandbox records is scanned: Lambda events and
// answers, Step Functions payloads, SSM command parameters, SNS messages, CloudFormation
// responses, logs and function environments.
var secretChannels = map[string]map[string]Part{
	"secretsmanager": {
		"CreateSecret": PartRequest, "PutSecretValue": PartRequest, "UpdateSecret": PartRequest,
		"GetSecretValue": PartResponse, "BatchGetSecretValue": PartResponse, "GetRandomPassword": PartResponse,
	},
	"kms": {
		"Encrypt": PartRequest, "Decrypt": PartResponse, "GenerateDataKey": PartResponse,
		"GenerateRandom": PartResponse, "CreateCustomKeyStore": PartRequest, "UpdateCustomKeyStore": PartRequest,
	},
}

// SecretChannels reports whether part of r is a channel built to carry secrets (for example a
// GetSecretValue response), for Recorder.ScanExcept. Internal records are never channels.
func SecretChannels(r Record, p Part) bool {
	if r.Internal {
		return false
	}
	ops, ok := secretChannels[r.Service]
	if !ok {
		return false
	}
	want, ok := ops[r.Operation]
	return ok && want == p
}

// SecretLeaks scans everything recorded, outside SecretChannels, for every secret value the
// sandbox's services issued or stored plus extra. A secret that is a JSON object (a database
// credential) is also searched member by member for members whose name says they are secret
// (password, secret, key, token, private), so a leaked password is found on its own.
func (sb *Sandbox) SecretLeaks(extra ...string) []Finding {
	values := append(sb.SecretValues(), extra...)
	var secrets []string
	for _, v := range values {
		secrets = append(secrets, v)
		var obj map[string]any
		if json.Unmarshal([]byte(v), &obj) != nil {
			continue
		}
		for k, m := range obj {
			s, ok := m.(string)
			if ok && len(s) >= 6 && secretMember(k) {
				secrets = append(secrets, s)
			}
		}
	}
	return sb.Recorder.ScanExcept(SecretChannels, secrets...)
}

func secretMember(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "secret", "key", "token", "private", "pin"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
