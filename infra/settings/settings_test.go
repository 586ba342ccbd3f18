package settings

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/alertrules"
)

// testSum is a well-formed SHA256 checksum (of no particular package).
const testSum = "4f5a7e0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"

func TestRead(t *testing.T) {
	cases := []struct {
		name string
		ctx  map[string]any
		env  map[string]any
		want Settings
	}{
		{"defaults", nil, nil, Settings{AlertEventSources: DefaultAlertEventSources}},
		{"cdk.json values", map[string]any{
			KeyAlertEmail:        "secops@example.com",
			KeyAlertEventSources: []any{"aws.kms", "aws.signin"},
		}, nil, Settings{AlertEmail: "secops@example.com", AlertEventSources: []string{"aws.kms", "aws.signin"}}},
		{"extra redacted fields, list or string", map[string]any{KeyAlertRedactFields: []any{"apiToken", "db_pass"}}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, AlertRedactFields: []string{"apiToken", "db_pass"}}},
		{"extra redacted fields from -c", map[string]any{KeyAlertRedactFields: "apiToken, pin"}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, AlertRedactFields: []string{"apiToken", "pin"}}},
		{"empty e-mail means no subscription", map[string]any{KeyAlertEmail: ""}, nil, Settings{AlertEventSources: DefaultAlertEventSources}},
		{"-c sources as a comma-separated string", map[string]any{KeyAlertEventSources: "aws.kms, aws.iam"}, nil,
			Settings{AlertEventSources: []string{"aws.kms", "aws.iam"}}},
		{"-c sources as a JSON array string", map[string]any{KeyAlertEventSources: `["aws.cloudhsm","aws.kms"]`}, nil,
			Settings{AlertEventSources: []string{"aws.cloudhsm", "aws.kms"}}},
		{"environment from context", map[string]any{KeyAccount: "123456789012", KeyRegion: "eu-central-1"}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, Account: "123456789012", Region: "eu-central-1"}},
		{"CDK_DEPLOY_* before CDK_DEFAULT_*", nil, map[string]any{
			"CDK_DEPLOY_ACCOUNT": "111111111111", "CDK_DEPLOY_REGION": "us-gov-west-1",
			"CDK_DEFAULT_ACCOUNT": "222222222222", "CDK_DEFAULT_REGION": "us-east-1",
		}, Settings{AlertEventSources: DefaultAlertEventSources, Account: "111111111111", Region: "us-gov-west-1"}},
		{"CLI without credentials sets a region only: agnostic", nil, map[string]any{"CDK_DEFAULT_REGION": "us-east-1"},
			Settings{AlertEventSources: DefaultAlertEventSources}},
		{"zones from cdk.json, in the stacks' region", map[string]any{KeyAccount: "123456789012", KeyRegion: "eu-west-1", KeyAvailabilityZones: []any{"eu-west-1c", " eu-west-1a"}}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, Account: "123456789012", Region: "eu-west-1", AvailabilityZones: []string{"eu-west-1c", "eu-west-1a"}}},
		{"zones from -c, comma-separated, in the CLI's region", map[string]any{KeyAvailabilityZones: "us-gov-west-1a,us-gov-west-1b"},
			map[string]any{"CDK_DEFAULT_ACCOUNT": "111111111111", "CDK_DEFAULT_REGION": "us-gov-west-1"},
			Settings{AlertEventSources: DefaultAlertEventSources, Account: "111111111111", Region: "us-gov-west-1", AvailabilityZones: []string{"us-gov-west-1a", "us-gov-west-1b"}}},
		{"zones from -c as JSON, environment-agnostic", map[string]any{KeyAvailabilityZones: `["ap-southeast-5a","ap-southeast-5b","ap-southeast-5c"]`}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, AvailabilityZones: []string{"ap-southeast-5a", "ap-southeast-5b", "ap-southeast-5c"}}},
		{"no zones: cdk.json's empty list or string", map[string]any{KeyAvailabilityZones: []any{}}, nil, Settings{AlertEventSources: DefaultAlertEventSources}},
		{"no zones: an empty string", map[string]any{KeyAvailabilityZones: " "}, nil, Settings{AlertEventSources: DefaultAlertEventSources}},
		{"kmsuser rotation in a monthly window", map[string]any{KeyKmsUserRotationSchedule: " cron(0 3 ? * SUN#1 *) "}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, KmsUserRotationSchedule: "cron(0 3 ? * SUN#1 *)"}},
		{"kmsuser rotation off", map[string]any{KeyKmsUserRotationSchedule: ""}, nil, Settings{AlertEventSources: DefaultAlertEventSources}},
		{"cloudhsm-cli pinned by infra/hsmcluster", map[string]any{KeyCloudHsmCliVersion: "", KeyCloudHsmCliSha256: ""}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources}},
		{"cloudhsm-cli version and checksum", map[string]any{KeyCloudHsmCliVersion: " 5.17.2 ", KeyCloudHsmCliSha256: testSum}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, CloudHsmCliVersion: "5.17.2", CloudHsmCliSha256: testSum}},
		{"alert rules from cdk.json", map[string]any{
			KeyAlertIgnore:   []any{map[string]any{"eventSource": "kms.amazonaws.com", "eventName": "Describe*"}},
			KeyAlertSeverity: []any{map[string]any{"principalArn": "arn:aws:sts::*:assumed-role/BreakGlass/*", "severity": "critical"}},
		}, nil, Settings{AlertEventSources: DefaultAlertEventSources,
			AlertIgnore:   []alertrules.Match{{EventSource: "kms.amazonaws.com", EventName: "Describe*"}},
			AlertSeverity: []alertrules.Override{{Match: alertrules.Match{PrincipalARN: "arn:aws:sts::*:assumed-role/BreakGlass/*"}, Severity: "critical"}}}},
		{"alert rules from -c", map[string]any{KeyAlertIgnore: `[{"errorCode":"ThrottlingException"}]`, KeyAlertSeverity: ""}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, AlertIgnore: []alertrules.Match{{ErrorCode: "ThrottlingException"}}}},
		{"per-severity addresses", map[string]any{KeyAlertEmail: "team@example.com",
			KeyAlertEmails: map[string]any{"critical": []any{"oncall@example.com", "lead@example.com"}, "warning": []any{"secops@example.com"}}}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, AlertEmail: "team@example.com",
				AlertEmails: map[string][]string{"critical": {"oncall@example.com", "lead@example.com"}, "warning": {"secops@example.com"}}}},
		{"per-severity addresses from -c", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: `{"info":["audit@example.com"]}`}, nil,
			Settings{AlertEventSources: DefaultAlertEventSources, AlertEmail: "team@example.com", AlertEmails: map[string][]string{"info": {"audit@example.com"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Read(MapLookup(c.ctx), MapLookup(c.env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestReadRefuses(t *testing.T) {
	cases := []struct {
		name string
		ctx  map[string]any
		env  map[string]any
		want []string // every fragment must appear
	}{
		{"display name", map[string]any{KeyAlertEmail: "Sec Ops <secops@example.com>"}, nil, []string{KeyAlertEmail, "bare address"}},
		{"two addresses", map[string]any{KeyAlertEmail: "a@example.com,b@example.com"}, nil, []string{KeyAlertEmail, "not an e-mail address"}},
		{"no domain dot", map[string]any{KeyAlertEmail: "root@localhost"}, nil, []string{KeyAlertEmail, "no valid domain"}},
		{"e-mail not a string", map[string]any{KeyAlertEmail: 42.0}, nil, []string{KeyAlertEmail, "want a string"}},
		{"custom source", map[string]any{KeyAlertEventSources: []any{"aws.kms", "com.example"}}, nil, []string{KeyAlertEventSources, `"com.example" is not an AWS event source`}},
		{"upper-case source", map[string]any{KeyAlertEventSources: []any{"AWS.KMS"}}, nil, []string{`"AWS.KMS"`}},
		{"duplicate source", map[string]any{KeyAlertEventSources: []any{"aws.kms", "aws.kms"}}, nil, []string{"listed twice"}},
		{"empty list", map[string]any{KeyAlertEventSources: []any{}}, nil, []string{"the list is empty"}},
		{"non-string item", map[string]any{KeyAlertEventSources: []any{"aws.kms", 3.0}}, nil, []string{"item 1"}},
		{"broken JSON", map[string]any{KeyAlertEventSources: `["aws.kms"`}, nil, []string{"not a JSON array"}},
		{"redact field with a space", map[string]any{KeyAlertRedactFields: []any{"api token"}}, nil, []string{KeyAlertRedactFields, `"api token" is not a field name`}},
		{"redact fields not a list", map[string]any{KeyAlertRedactFields: 7.0}, nil, []string{KeyAlertRedactFields}},
		{"account alone", map[string]any{KeyAccount: "123456789012"}, nil, []string{"set both"}},
		{"short account", map[string]any{KeyAccount: "12345", KeyRegion: "us-east-1"}, nil, []string{KeyAccount, "12 digits"}},
		{"bad region", map[string]any{KeyAccount: "123456789012", KeyRegion: "Frankfurt"}, nil, []string{KeyRegion, "us-east-1"}},
		{"bad CDK_DEPLOY_ACCOUNT", nil, map[string]any{"CDK_DEPLOY_ACCOUNT": "x", "CDK_DEPLOY_REGION": "us-east-1"}, []string{"CDK_DEPLOY_ACCOUNT"}},
		{"one zone", map[string]any{KeyAvailabilityZones: []any{"eu-west-1a"}}, nil, []string{KeyAvailabilityZones, "1 zone", "at least 2", "distinct zones"}},
		{"zone listed twice", map[string]any{KeyAvailabilityZones: "eu-west-1a, eu-west-1a"}, nil, []string{KeyAvailabilityZones, `"eu-west-1a" is listed twice`}},
		{"zone ids", map[string]any{KeyAvailabilityZones: []any{"euw1-az1", "euw1-az2"}}, nil, []string{KeyAvailabilityZones, `"euw1-az1" is a zone id`, "zone names"}},
		{"a region, not a zone", map[string]any{KeyAvailabilityZones: []any{"eu-west-1", "eu-west-1b"}}, nil, []string{KeyAvailabilityZones, `"eu-west-1" is not an Availability Zone name`}},
		{"a Local Zone", map[string]any{KeyAvailabilityZones: []any{"us-west-2a", "us-west-2-lax-1a"}}, nil, []string{KeyAvailabilityZones, `"us-west-2-lax-1a" is not an Availability Zone name`, "Local Zones"}},
		{"zones of two regions", map[string]any{KeyAvailabilityZones: []any{"eu-west-1a", "eu-west-2b"}}, nil, []string{KeyAvailabilityZones, "different regions"}},
		{"zones outside the context region", map[string]any{KeyAccount: "123456789012", KeyRegion: "eu-west-1", KeyAvailabilityZones: []any{"us-east-1a", "us-east-1b"}}, nil,
			[]string{KeyAvailabilityZones, `"us-east-1a" is not in eu-west-1`, KeyRegion}},
		{"zones outside the CLI's region", map[string]any{KeyAvailabilityZones: []any{"eu-west-1a", "eu-west-1b"}},
			map[string]any{"CDK_DEFAULT_ACCOUNT": "111111111111", "CDK_DEFAULT_REGION": "us-east-1"}, []string{KeyAvailabilityZones, `"eu-west-1a" is not in us-east-1`}},
		{"zones not a list", map[string]any{KeyAvailabilityZones: 2.0}, nil, []string{KeyAvailabilityZones, "want a list of zone names"}},
		{"zone not a string", map[string]any{KeyAvailabilityZones: []any{"eu-west-1a", 2.0}}, nil, []string{KeyAvailabilityZones, "item 1"}},
		{"zones: broken JSON", map[string]any{KeyAvailabilityZones: `["eu-west-1a"`}, nil, []string{KeyAvailabilityZones, "not a JSON array"}},
		{"kmsuser rotation by rate", map[string]any{KeyKmsUserRotationSchedule: "rate(90 days)"}, nil,
			[]string{KeyKmsUserRotationSchedule, "not a cron() expression", "maintenance window"}},
		{"kmsuser rotation not on the hour", map[string]any{KeyKmsUserRotationSchedule: "cron(30 3 ? * SUN *)"}, nil,
			[]string{KeyKmsUserRotationSchedule, "Minutes"}},
		{"kmsuser rotation with both days", map[string]any{KeyKmsUserRotationSchedule: "cron(0 3 1 * MON *)"}, nil,
			[]string{KeyKmsUserRotationSchedule, "cron(0 3 ? * SUN#1 *)"}},
		{"kmsuser rotation not a string", map[string]any{KeyKmsUserRotationSchedule: 90.0}, nil, []string{KeyKmsUserRotationSchedule, "want a string"}},
		{"cloudhsm-cli version alone", map[string]any{KeyCloudHsmCliVersion: "5.17.2"}, nil,
			[]string{KeyCloudHsmCliVersion, KeyCloudHsmCliSha256, "a version without a checksum", "needs its own"}},
		{"cloudhsm-cli version with cdk.json's empty checksum", map[string]any{KeyCloudHsmCliVersion: "5.17.2", KeyCloudHsmCliSha256: ""}, nil,
			[]string{KeyCloudHsmCliSha256, "a version without a checksum"}},
		{"cloudhsm-cli checksum alone", map[string]any{KeyCloudHsmCliSha256: testSum}, nil,
			[]string{KeyCloudHsmCliVersion, "a checksum without a version"}},
		{"cloudhsm-cli latest", map[string]any{KeyCloudHsmCliVersion: "latest", KeyCloudHsmCliSha256: testSum}, nil,
			[]string{KeyCloudHsmCliVersion, `"latest" is not a Client SDK 5 version`, "5.17.0"}},
		{"cloudhsm-cli Client SDK 3", map[string]any{KeyCloudHsmCliVersion: "3.4.4", KeyCloudHsmCliSha256: testSum}, nil,
			[]string{KeyCloudHsmCliVersion, "not a Client SDK 5 version"}},
		{"cloudhsm-cli version with a release", map[string]any{KeyCloudHsmCliVersion: "5.17.0-1", KeyCloudHsmCliSha256: testSum}, nil,
			[]string{KeyCloudHsmCliVersion, "not a Client SDK 5 version"}},
		{"cloudhsm-cli checksum in upper case", map[string]any{KeyCloudHsmCliVersion: "5.17.2", KeyCloudHsmCliSha256: strings.ToUpper(testSum)}, nil,
			[]string{KeyCloudHsmCliSha256, "not a SHA256 checksum", "64 lowercase hex digits"}},
		{"cloudhsm-cli checksum too short", map[string]any{KeyCloudHsmCliVersion: "5.17.2", KeyCloudHsmCliSha256: testSum[:63]}, nil,
			[]string{KeyCloudHsmCliSha256, "not a SHA256 checksum"}},
		{"cloudhsm-cli version not a string", map[string]any{KeyCloudHsmCliVersion: 5.17, KeyCloudHsmCliSha256: testSum}, nil,
			[]string{KeyCloudHsmCliVersion, "want a string"}},
		{"ignore rule without a field", map[string]any{KeyAlertIgnore: []any{map[string]any{"eventName": "Describe*"}, map[string]any{}}}, nil,
			[]string{KeyAlertIgnore, "rule 1", "no match field"}},
		{"ignore rule with an unknown field", map[string]any{KeyAlertIgnore: []any{map[string]any{"userName": "bob"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "userName", "not a field"}},
		{"ignore rule with an EventBridge source", map[string]any{KeyAlertIgnore: []any{map[string]any{"eventSource": "aws.kms"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "eventSource", "kms.amazonaws.com"}},
		{"ignore rule with a bad event name", map[string]any{KeyAlertIgnore: []any{map[string]any{"eventName": "Get Secret"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "eventName"}},
		{"ignore rule with a bad principal", map[string]any{KeyAlertIgnore: []any{map[string]any{"principalArn": "bob"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "principalArn", "ARN"}},
		{"ignore rule with a bad account", map[string]any{KeyAlertIgnore: []any{map[string]any{"account": "1234"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "account", "12 digits"}},
		{"ignore rule with a numeric account", map[string]any{KeyAlertIgnore: []any{map[string]any{"account": 111122223333.0}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "account", "want a string"}},
		{"ignore rule with a bad error code", map[string]any{KeyAlertIgnore: []any{map[string]any{"errorCode": "Access Denied"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "errorCode"}},
		{"ignore rule of only wildcards", map[string]any{KeyAlertIgnore: []any{map[string]any{"eventName": "*"}}}, nil,
			[]string{KeyAlertIgnore, "rule 0", "only '*'"}},
		{"ignore rules not a list", map[string]any{KeyAlertIgnore: map[string]any{"eventName": "x"}}, nil, []string{KeyAlertIgnore, "want a list"}},
		{"ignore rules broken -c JSON", map[string]any{KeyAlertIgnore: `[{"eventName":}]`}, nil, []string{KeyAlertIgnore, "not JSON"}},
		{"override without severity", map[string]any{KeyAlertSeverity: []any{map[string]any{"eventName": "StopLogging"}}}, nil,
			[]string{KeyAlertSeverity, "rule 0", "severity", "missing"}},
		{"override with an unknown severity", map[string]any{KeyAlertSeverity: []any{map[string]any{"eventName": "x", "severity": "info"}, map[string]any{"eventName": "y", "severity": "high"}}}, nil,
			[]string{KeyAlertSeverity, "rule 1", "severity", `"high" is not a severity`}},
		{"override without a match field", map[string]any{KeyAlertSeverity: []any{map[string]any{"severity": "info"}}}, nil,
			[]string{KeyAlertSeverity, "rule 0", "no match field"}},
		{"rules too big for the relay's environment", map[string]any{KeyAlertIgnore: manyRules(100)}, nil,
			[]string{KeyAlertIgnore, KeyAlertSeverity, "4 KB"}},
		{"addresses by an unknown severity", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: map[string]any{"urgent": []any{"a@example.com"}}}, nil,
			[]string{KeyAlertEmails, `"urgent" is not a severity`}},
		{"addresses not a list", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: map[string]any{"critical": "a@example.com"}}, nil,
			[]string{KeyAlertEmails, "critical", "want a list"}},
		{"a bad address", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: map[string]any{"critical": []any{"a@example.com", "oncall"}}}, nil,
			[]string{KeyAlertEmails, "critical address 1", `"oncall" is not an e-mail address`}},
		{"an address twice", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: map[string]any{"critical": []any{"a@example.com"}, "warning": []any{"a@example.com"}}}, nil,
			[]string{KeyAlertEmails, "warning address 0", "also in " + KeyAlertEmails + " critical"}},
		{"an address also alertEmail", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: map[string]any{"critical": []any{"team@example.com"}}}, nil,
			[]string{KeyAlertEmails, "critical address 0", "also in " + KeyAlertEmail}},
		{"addresses without alertEmail", map[string]any{KeyAlertEmails: map[string]any{"critical": []any{"oncall@example.com"}}}, nil,
			[]string{KeyAlertEmails, "set " + KeyAlertEmail + " too", "alarm"}},
		{"addresses not an object", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: []any{"a@example.com"}}, nil,
			[]string{KeyAlertEmails, "want an object"}},
		{"addresses broken -c JSON", map[string]any{KeyAlertEmail: "team@example.com", KeyAlertEmails: `{"critical":`}, nil,
			[]string{KeyAlertEmails, "not JSON"}},
		{"all problems at once", map[string]any{KeyAlertEmail: "nope", KeyAlertEventSources: []any{"x"}}, nil, []string{KeyAlertEmail, KeyAlertEventSources}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(MapLookup(c.ctx), MapLookup(c.env))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// manyRules returns n distinct ignore rules, as cdk.json gives them.
func manyRules(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"principalArn": fmt.Sprintf("arn:aws:sts::111122223333:assumed-role/SomeRoleName%d/*", i)}
	}
	return out
}

func TestReadCDKJSON(t *testing.T) {
	ctx, err := ReadCDKJSON("../../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	// The repository's own cdk.json must pass validation.
	if _, err := Read(MapLookup(ctx), MapLookup(nil)); err != nil {
		t.Fatalf("cdk.json context is invalid: %v", err)
	}
	if _, err := ReadCDKJSON("testdata/missing.json"); err == nil {
		t.Fatal("missing file accepted")
	}
}
