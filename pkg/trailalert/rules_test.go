package trailalert_test

import (
	"encoding/json"
	"testing"

	"github.com/strongroom/strongroom/pkg/trailalert"
)

type call struct {
	source, name, identity, errorCode, signIn string
}

func (c call) event() *trailalert.Event {
	ev := &trailalert.Event{}
	ev.Record.EventSource = c.source + ".amazonaws.com"
	ev.Record.EventName = c.name
	ev.Record.UserIdentity.Type = c.identity
	if ev.Record.UserIdentity.Type == "" {
		ev.Record.UserIdentity.Type = "IAMUser"
	}
	ev.Record.ErrorCode = c.errorCode
	if c.signIn != "" {
		ev.Record.ResponseElements = json.RawMessage(`{"ConsoleLogin":"` + c.signIn + `"}`)
	}
	return ev
}

// TestDefaultRules has, for every rule, events it must catch and near misses it must not.
func TestDefaultRules(t *testing.T) {
	type ruleCase struct {
		name     string
		call     call
		rule     string // "" = no rule
		severity trailalert.Severity
	}
	tests := []ruleCase{
		{"root console sign-in", call{source: "signin", name: "ConsoleLogin", identity: "Root", signIn: "Success"}, "root-user-activity", trailalert.Critical},
		{"root API call", call{source: "s3", name: "ListBuckets", identity: "Root"}, "root-user-activity", trailalert.Critical},
		{"StartLogging is fine", call{source: "cloudtrail", name: "StartLogging"}, "", trailalert.Info},
		{"DeleteCluster", call{source: "cloudhsm", name: "DeleteCluster", identity: "AssumedRole"}, "cloudhsm-deleted", trailalert.Critical},
		{"DeleteCluster of another service", call{source: "ecs", name: "DeleteCluster"}, "", trailalert.Info},
		{"EnableKey is fine", call{source: "kms", name: "EnableKey"}, "", trailalert.Info},
		{"RotationFailed", call{source: "secretsmanager", name: "RotationFailed", identity: "AWSService"}, "secret-rotation-failed", trailalert.Critical},
		{"RotationSucceeded is fine", call{source: "secretsmanager", name: "RotationSucceeded", identity: "AWSService"}, "", trailalert.Info},
		{"failed console sign-in", call{source: "signin", name: "ConsoleLogin", signIn: "Failure"}, "console-sign-in-failed", trailalert.Warning},
		{"successful IAM user sign-in is fine", call{source: "signin", name: "ConsoleLogin", signIn: "Success"}, "", trailalert.Info},
		{"AccessDenied", call{source: "secretsmanager", name: "GetSecretValue", errorCode: "AccessDenied"}, "access-denied", trailalert.Warning},
		{"AccessDeniedException", call{source: "kms", name: "Decrypt", errorCode: "AccessDeniedException"}, "access-denied", trailalert.Warning},
		{"EC2 UnauthorizedOperation", call{source: "ec2", name: "RunInstances", errorCode: "Client.UnauthorizedOperation"}, "access-denied", trailalert.Warning},
		{"other errors are info", call{source: "kms", name: "Decrypt", errorCode: "InvalidCiphertextException"}, "", trailalert.Info},
		{"PutResourcePolicy on a secret", call{source: "secretsmanager", name: "PutResourcePolicy"}, "policy-changed", trailalert.Warning},
		{"GetRolePolicy is fine", call{source: "iam", name: "GetRolePolicy"}, "", trailalert.Info},
		{"denied DeleteCluster stays critical", call{source: "cloudhsm", name: "DeleteCluster", errorCode: "AccessDeniedException"}, "cloudhsm-deleted", trailalert.Critical},
		{"root failed sign-in is critical", call{source: "signin", name: "ConsoleLogin", identity: "Root", signIn: "Failure"}, "root-user-activity", trailalert.Critical},
		{"ordinary read", call{source: "cloudhsm", name: "DescribeClusters"}, "", trailalert.Info},
	}
	// Calls that raise their rule by name alone (from an IAM user, without an error), each a case
	// named after the call.
	byName := []struct {
		rule     string
		severity trailalert.Severity
		source   string
		names    []string
	}{
		{"audit-trail-stopped-or-deleted", trailalert.Critical, "cloudtrail", []string{"StopLogging", "DeleteTrail"}},
		{"cloudhsm-deleted", trailalert.Critical, "cloudhsm", []string{"DeleteHsm", "DeleteBackup"}},
		{"kms-key-disabled-or-deleted", trailalert.Critical, "kms", []string{"ScheduleKeyDeletion", "DisableKey", "DeleteCustomKeyStore"}},
		{"secret-deleted", trailalert.Critical, "secretsmanager", []string{"DeleteSecret"}},
		{"policy-changed", trailalert.Warning, "iam", []string{"PutRolePolicy", "AttachUserPolicy"}},
		{"policy-changed", trailalert.Warning, "kms", []string{"PutKeyPolicy"}},
		{"audit-logging-changed", trailalert.Warning, "cloudtrail", []string{"UpdateTrail", "PutEventSelectors"}},
		{"kms-protection-changed", trailalert.Warning, "kms", []string{"DisableKeyRotation", "DisconnectCustomKeyStore"}},
		{"cloudhsm-changed", trailalert.Warning, "cloudhsm", []string{"ModifyCluster"}},
		{"secret-rotation-weakened", trailalert.Warning, "secretsmanager", []string{"CancelRotateSecret", "RotationAbandoned"}},
		{"iam-credentials-changed", trailalert.Warning, "iam", []string{"CreateAccessKey", "DeactivateMFADevice"}},
	}
	for _, g := range byName {
		for _, n := range g.names {
			tests = append(tests, ruleCase{n, call{source: g.source, name: n}, g.rule, g.severity})
		}
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := trailalert.Classify(tc.call.event(), trailalert.DefaultRules)
			if got.Rule != tc.rule || got.Severity != tc.severity {
				t.Errorf("Classify = %v %q; want %v %q", got.Severity, got.Rule, tc.severity, tc.rule)
			}
		})
		covered[tc.rule] = true
	}
	for _, r := range trailalert.DefaultRules {
		if !covered[r.Name] {
			t.Errorf("rule %q has no test case", r.Name)
		}
	}
	if err := trailalert.Validate(trailalert.DefaultRules); err != nil {
		t.Errorf("DefaultRules: %v", err)
	}
}

func TestCustomRulesReplaceDefaults(t *testing.T) {
	rules := []trailalert.Rule{{Name: "any-describe", Severity: trailalert.Warning, Why: "test", Names: []string{"Describe*"}}}
	if got := trailalert.Classify(call{source: "cloudhsm", name: "DescribeClusters"}.event(), rules); got.Rule != "any-describe" {
		t.Errorf("custom rule not applied: %+v", got)
	}
	if got := trailalert.Classify(call{source: "kms", name: "DisableKey"}.event(), rules); got.Severity != trailalert.Info {
		t.Errorf("defaults still applied: %+v", got)
	}
}
