package trailalert

import (
	"fmt"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// Severity orders how urgently a person should look at an event.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Warning
	Critical
)

// String is the severity's name as the relay's messages and the context spell it
// (alertrules.Severities).
func (s Severity) String() string {
	switch s {
	case Info:
		return alertrules.Info
	case Warning:
		return alertrules.Warning
	case Critical:
		return alertrules.Critical
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Rule raises matching events to Severity. Every non-empty criterion must match; an empty one
// matches anything. Patterns may use '*' for any run of characters and compare case-sensitively,
// as CloudTrail's names are.
type Rule struct {
	// Name identifies the rule in the message body and in tests.
	Name     string
	Severity Severity
	// Why is the one-line reason shown to the reader.
	Why string
	// Sources are eventSource values, for example "kms.amazonaws.com".
	Sources []string
	// Names are eventName patterns, for example "Put*Policy".
	Names []string
	// Identities are userIdentity.type values, for example "Root".
	Identities []string
	// ErrorCodes are errorCode patterns; when set, only failed calls match.
	ErrorCodes []string
	// SignInFailure matches console sign-ins whose responseElements.ConsoleLogin is "Failure".
	SignInFailure bool
}

// DefaultRules is Strongroom's severity table. An event takes the highest severity of the rules it
// matches (the first such rule names the reason); an event no rule matches is Info.
var DefaultRules = []Rule{
	{Name: "root-user-activity", Severity: Critical,
		Why:        "the account's root user signed in or made a call",
		Identities: []string{"Root"}},
	{Name: "audit-trail-stopped-or-deleted", Severity: Critical,
		Why:     "CloudTrail logging was stopped or a trail or event data store deleted",
		Sources: []string{"cloudtrail.amazonaws.com"},
		Names:   []string{"StopLogging", "DeleteTrail", "DeleteEventDataStore", "StopEventDataStoreIngestion"}},
	{Name: "cloudhsm-deleted", Severity: Critical,
		Why:     "a CloudHSM cluster, HSM or backup was deleted",
		Sources: []string{"cloudhsm.amazonaws.com"},
		Names:   []string{"DeleteCluster", "DeleteHsm", "DeleteBackup"}},
	{Name: "kms-key-disabled-or-deleted", Severity: Critical,
		Why:     "a KMS key was disabled or scheduled for deletion, or key material or a key store deleted",
		Sources: []string{"kms.amazonaws.com"},
		Names:   []string{"ScheduleKeyDeletion", "DisableKey", "DeleteCustomKeyStore", "DeleteImportedKeyMaterial"}},
	{Name: "secret-deleted", Severity: Critical,
		Why:     "a Secrets Manager secret was deleted",
		Sources: []string{"secretsmanager.amazonaws.com"},
		Names:   []string{"DeleteSecret"}},
	{Name: "secret-rotation-failed", Severity: Critical,
		Why:     "Secrets Manager could not rotate a secret; its credentials may be out of step",
		Sources: []string{"secretsmanager.amazonaws.com"},
		Names:   []string{"RotationFailed"}},
	{Name: "console-sign-in-failed", Severity: Warning,
		Why:           "a console sign-in failed",
		Sources:       []string{"signin.amazonaws.com"},
		Names:         []string{"ConsoleLogin"},
		SignInFailure: true},
	{Name: "access-denied", Severity: Warning,
		Why:        "a call was refused for lack of permission",
		ErrorCodes: []string{"*AccessDenied*", "*Unauthorized*", "*NotAuthorized*"}},
	{Name: "policy-changed", Severity: Warning,
		Why: "a permissions policy was changed",
		Names: []string{"Put*Policy", "Attach*Policy", "Detach*Policy", "Delete*Policy", "Create*Policy",
			"CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy",
			"Put*PermissionsBoundary", "Delete*PermissionsBoundary", "CreateGrant", "AddPermission"}},
	{Name: "audit-logging-changed", Severity: Warning,
		Why:     "what CloudTrail records, or where, was changed",
		Sources: []string{"cloudtrail.amazonaws.com"},
		Names:   []string{"UpdateTrail", "PutEventSelectors", "PutInsightSelectors", "UpdateEventDataStore"}},
	{Name: "kms-protection-changed", Severity: Warning,
		Why:     "key rotation was turned off or a custom key store disconnected or changed",
		Sources: []string{"kms.amazonaws.com"},
		Names:   []string{"DisableKeyRotation", "DisconnectCustomKeyStore", "UpdateCustomKeyStore"}},
	{Name: "cloudhsm-changed", Severity: Warning,
		Why:     "a CloudHSM cluster's settings or backups were changed",
		Sources: []string{"cloudhsm.amazonaws.com"},
		Names:   []string{"ModifyCluster", "ModifyBackupAttributes", "UntagResource"}},
	{Name: "secret-rotation-weakened", Severity: Warning,
		Why:     "secret rotation was cancelled, abandoned or failed its test, or replication removed",
		Sources: []string{"secretsmanager.amazonaws.com"},
		Names:   []string{"CancelRotateSecret", "RotationAbandoned", "TestRotationFailed", "RemoveRegionsFromReplication", "StopReplicationToReplica"}},
	{Name: "iam-credentials-changed", Severity: Warning,
		Why:     "IAM credentials or MFA were created, changed or removed",
		Sources: []string{"iam.amazonaws.com"},
		Names:   []string{"CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "DeactivateMFADevice", "DeleteVirtualMFADevice"}},
}

// Classification is the outcome of Classify.
type Classification struct {
	Severity Severity
	// Rule is the deciding rule's name, "" when none matched.
	Rule string
	// Why is the deciding rule's reason.
	Why string
}

// Classify rates ev by rules: the highest severity of the matching rules, Info if none match.
func Classify(ev *Event, rules []Rule) Classification {
	c := Classification{Severity: Info}
	for i := range rules {
		r := &rules[i]
		if (c.Rule == "" || r.Severity > c.Severity) && r.matches(ev) {
			c = Classification{Severity: r.Severity, Rule: r.Name, Why: r.Why}
		}
	}
	return c
}

func (r *Rule) matches(ev *Event) bool {
	rec := &ev.Record
	if len(r.Sources) > 0 && !anyEqual(r.Sources, rec.EventSource) {
		return false
	}
	if len(r.Names) > 0 && !anyMatch(r.Names, rec.EventName) {
		return false
	}
	if len(r.Identities) > 0 && !anyEqual(r.Identities, rec.UserIdentity.Type) {
		return false
	}
	if len(r.ErrorCodes) > 0 && (rec.ErrorCode == "" || !anyMatch(r.ErrorCodes, rec.ErrorCode)) {
		return false
	}
	if r.SignInFailure && signInResult(rec) != "Failure" {
		return false
	}
	return true
}

// signInResult is a console sign-in's responseElements.ConsoleLogin ("Success" or "Failure").
func signInResult(rec *Record) string {
	var re struct {
		ConsoleLogin string `json:"ConsoleLogin"`
	}
	decodeObject(rec.ResponseElements, &re)
	return re.ConsoleLogin
}

// Validate checks a rules table: names unique and non-empty, severities known, each rule with at
// least one criterion (a rule with none would match every event).
func Validate(rules []Rule) error {
	seen := map[string]bool{}
	for i, r := range rules {
		switch {
		case r.Name == "":
			return fmt.Errorf("rule %d: Name is empty: give every rule a unique name", i)
		case seen[r.Name]:
			return fmt.Errorf("rule %q: Name is used twice: rule names must be unique", r.Name)
		case r.Severity < Info || r.Severity > Critical:
			return fmt.Errorf("rule %q: Severity %d is not Info, Warning or Critical", r.Name, r.Severity)
		case len(r.Sources)+len(r.Names)+len(r.Identities)+len(r.ErrorCodes) == 0 && !r.SignInFailure:
			return fmt.Errorf("rule %q: no criteria: set Sources, Names, Identities, ErrorCodes or SignInFailure", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

func anyEqual(set []string, s string) bool {
	for _, v := range set {
		if v == s {
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// wildcard matches s against pattern, where '*' matches any run of characters (including none).
func wildcard(pattern, s string) bool { return alertrules.Glob(pattern, s) }
