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
	tests := []struct {
		name     string
		call     call
		rule     string // "" = no rule
		severity trailalert.Severity
	}{
		{"root console sign-in", call{source: "signin", name: "ConsoleLogin", identity: "Root", signIn: "Success"}, "root-user-activity", trailalert.Critical},
		{"root API call", call{source: "s3", name: "ListBuckets", identity: "Root"}, "root-user-activity", trailalert.Critical},
		{"StopLogging", call{source: "cloudtrail", name: "StopLogging"}, "audit-trail-stopped-or-deleted", trailalert.Critical},
		{"DeleteTrail", call{source: "cloudtrail", name: "DeleteTrail"}, "audit-trail-stopped-or-deleted", trailalert.Critical},
		{"StartLogging is fine", call{source: "cloudtrail", name: "StartLogging"}, "", trailalert.Info},
		{"DeleteCluster", call{source: "cloudhsm", name: "DeleteCluster", identity: "AssumedRole"}, "cloudhsm-deleted", trailalert.Critical},
		{"DeleteHsm", call{source: "cloudhsm", name: "DeleteHsm"}, "cloudhsm-deleted", trailalert.Critical},
		{"DeleteBackup", call{source: "cloudhsm", name: "DeleteBackup"}, "cloudhsm-deleted", trailalert.Critical},
		{"DeleteCluster of another service", call{source: "ecs", name: "DeleteCluster"}, "", trailalert.Info},
		{"ScheduleKeyDeletion", call{source: "kms", name: "ScheduleKeyDeletion"}, "kms-key-disabled-or-deleted", trailalert.Critical},
		{"DisableKey", call{source: "kms", name: "DisableKey"}, "kms-key-disabled-or-deleted", trailalert.Critical},
		{"DeleteCustomKeyStore", call{source: "kms", name: "DeleteCustomKeyStore"}, "kms-key-disabled-or-deleted", trailalert.Critical},
		{"EnableKey is fine", call{source: "kms", name: "EnableKey"}, "", trailalert.Info},
		{"DeleteSecret", call{source: "secretsmanager", name: "DeleteSecret"}, "secret-deleted", trailalert.Critical},
		{"RotationFailed", call{source: "secretsmanager", name: "RotationFailed", identity: "AWSService"}, "secret-rotation-failed", trailalert.Critical},
		{"RotationSucceeded is fine", call{source: "secretsmanager", name: "RotationSucceeded", identity: "AWSService"}, "", trailalert.Info},
		{"failed console sign-in", call{source: "signin", name: "ConsoleLogin", signIn: "Failure"}, "console-sign-in-failed", trailalert.Warning},
		{"successful IAM user sign-in is fine", call{source: "signin", name: "ConsoleLogin", signIn: "Success"}, "", trailalert.Info},
		{"AccessDenied", call{source: "secretsmanager", name: "GetSecretValue", errorCode: "AccessDenied"}, "access-denied", trailalert.Warning},
		{"AccessDeniedException", call{source: "kms", name: "Decrypt", errorCode: "AccessDeniedException"}, "access-denied", trailalert.Warning},
		{"EC2 UnauthorizedOperation", call{source: "ec2", name: "RunInstances", errorCode: "Client.UnauthorizedOperation"}, "access-denied", trailalert.Warning},
		{"other errors are info", call{source: "kms", name: "Decrypt", errorCode: "InvalidCiphertextException"}, "", trailalert.Info},
		{"PutRolePolicy", call{source: "iam", name: "PutRolePolicy"}, "policy-changed", trailalert.Warning},
		{"AttachUserPolicy", call{source: "iam", name: "AttachUserPolicy"}, "policy-changed", trailalert.Warning},
		{"PutKeyPolicy", call{source: "kms", name: "PutKeyPolicy"}, "policy-changed", trailalert.Warning},
		{"PutResourcePolicy on a secret", call{source: "secretsmanager", name: "PutResourcePolicy"}, "policy-changed", trailalert.Warning},
		{"GetRolePolicy is fine", call{source: "iam", name: "GetRolePolicy"}, "", trailalert.Info},
		{"UpdateTrail", call{source: "cloudtrail", name: "UpdateTrail"}, "audit-logging-changed", trailalert.Warning},
		{"PutEventSelectors", call{source: "cloudtrail", name: "PutEventSelectors"}, "audit-logging-changed", trailalert.Warning},
		{"DisableKeyRotation", call{source: "kms", name: "DisableKeyRotation"}, "kms-protection-changed", trailalert.Warning},
		{"DisconnectCustomKeyStore", call{source: "kms", name: "DisconnectCustomKeyStore"}, "kms-protection-changed", trailalert.Warning},
		{"ModifyCluster", call{source: "cloudhsm", name: "ModifyCluster"}, "cloudhsm-changed", trailalert.Warning},
		{"CancelRotateSecret", call{source: "secretsmanager", name: "CancelRotateSecret"}, "secret-rotation-weakened", trailalert.Warning},
		{"RotationAbandoned", call{source: "secretsmanager", name: "RotationAbandoned"}, "secret-rotation-weakened", trailalert.Warning},
		{"CreateAccessKey", call{source: "iam", name: "CreateAccessKey"}, "iam-credentials-changed", trailalert.Warning},
		{"DeactivateMFADevice", call{source: "iam", name: "DeactivateMFADevice"}, "iam-credentials-changed", trailalert.Warning},
		{"denied DeleteCluster stays critical", call{source: "cloudhsm", name: "DeleteCluster", errorCode: "AccessDeniedException"}, "cloudhsm-deleted", trailalert.Critical},
		{"root failed sign-in is critical", call{source: "signin", name: "ConsoleLogin", identity: "Root", signIn: "Failure"}, "root-user-activity", trailalert.Critical},
		{"ordinary read", call{source: "cloudhsm", name: "DescribeClusters"}, "", trailalert.Info},
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
