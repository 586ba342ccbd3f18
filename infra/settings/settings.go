// Package settings reads and validates the Strongroom CDK app's configuration: the strongroom:* context
// values (cdk.json or `cdk -c key=value`) and the deployment environment.
//
// It imports no CDK module on purpose: validation is plain Go, so its tests build in a second and the
// errors can be checked exhaustively. Every error names the context key and says how to fix the value.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/alertrules"
	"github.com/strongroom/strongroom/pkg/rotationschedule"
)

// Context keys read by the app. cdk.json documents their defaults.
const (
	KeyAlertEmail        = "strongroom:alertEmail"
	KeyAlertEventSources = "strongroom:alertEventSources"
	KeyAlertRedactFields = "strongroom:alertRedactFields"
	// KeyAlertIgnore and KeyAlertSeverity are the operator's alert rules (pkg/alertrules): CloudTrail
	// events not to mail, and severity overrides, first match first.
	KeyAlertIgnore   = "strongroom:alertIgnore"
	KeyAlertSeverity = "strongroom:alertSeverity"
	// KeyAlertEmails maps a severity to the addresses that receive alerts of that severity and
	// above, through SNS subscription filter policies on the severity attribute.
	KeyAlertEmails = "strongroom:alertEmails"
	KeyAccount     = "strongroom:account"
	KeyRegion      = "strongroom:region"
	// KeyAvailabilityZones names the Availability Zones the database's and the cluster's VPCs span
	// (the first two), so that synthesizing stacks pinned to an account and region needs no
	// context lookup (AvailabilityZoneContext).
	KeyAvailabilityZones = "strongroom:availabilityZones"
	// KeyKmsUserRotationSchedule turns on the scheduled kmsuser password rotation of the key store:
	// a cron() expression (UTC) whose runs fall in a maintenance window. Off by default: each run
	// disconnects the key store, so every key in it is unusable for minutes.
	KeyKmsUserRotationSchedule = "strongroom:kmsUserRotationSchedule"
	// KeyCloudHsmCliVersion and KeyCloudHsmCliSha256 pin the cluster stack's client instance to a
	// cloudhsm-cli package other than the one infra/hsmcluster pins: a Client SDK 5 version (5.N.N)
	// and the SHA256 checksum AWS lists for its Amazon Linux 2023 x86_64 rpm. Both or neither: a
	// new version needs its own checksum.
	KeyCloudHsmCliVersion = "strongroom:cloudHsmCliVersion"
	KeyCloudHsmCliSha256  = "strongroom:cloudHsmCliSha256"
)

// DefaultAlertEventSources are the CloudTrail event sources relayed when the context does not name any:
// the services Strongroom manages plus the identity services an attacker would use to reach them.
var DefaultAlertEventSources = []string{
	"aws.cloudhsm", "aws.kms", "aws.secretsmanager", "aws.iam", "aws.sts", "aws.cloudtrail", "aws.signin",
}

// Settings is the validated configuration of one synthesis.
type Settings struct {
	// AlertEmail receives alert e-mails through an SNS e-mail subscription; empty means no subscription.
	AlertEmail string
	// AlertEventSources are the EventBridge "source" values (aws.<service>) whose CloudTrail events are relayed.
	AlertEventSources []string
	// AlertRedactFields are extra field-name markers the relay redacts, on top of its built-in list
	// (password, secret, token, API key, credential, private key and the like), matched inside
	// longer names case- and separator-insensitively, with each redacted value also blanked where
	// it is copied elsewhere in the message (pkg/trailalert/redact.go); passed as REDACT_FIELDS.
	AlertRedactFields []string
	// AlertIgnore and AlertSeverity are the operator's rules (KeyAlertIgnore, KeyAlertSeverity),
	// validated by pkg/alertrules, which the relay applies again at cold start (ALERT_RULES).
	AlertIgnore   []alertrules.Match
	AlertSeverity []alertrules.Override
	// AlertEmails are the addresses by severity (alertrules.Severities) that receive that severity
	// and above; each address appears once here and is not AlertEmail.
	AlertEmails map[string][]string
	// AlertChatChannels are the Slack and Teams channels alerts go to through AWS Chatbot (chat.go).
	AlertChatChannels []ChatChannel
	// Organization is the organization mode (organization.go); zero for a single account.
	Organization Organization
	// Account and Region pin every stack to one environment; both empty means environment-agnostic stacks.
	Account string
	Region  string
	// AvailabilityZones are the zone names the VPCs use, in order (the first two), all in one region
	// (Region when it is set); nil means CloudFormation's Fn::GetAZs chooses at deploy time.
	AvailabilityZones []string
	// KmsUserRotationSchedule is the cron() expression of the scheduled kmsuser password rotation, or
	// "" for none (the default: operators start the rotation when they choose).
	KmsUserRotationSchedule string
	// CloudHsmCliVersion and CloudHsmCliSha256 are the cloudhsm-cli version the client instance
	// installs and its rpm's SHA256 checksum; both "" means the pair pinned in infra/hsmcluster.
	CloudHsmCliVersion string
	CloudHsmCliSha256  string
	// ClusterProperties and KeyStoreProperties are the Custom::CloudHsmCluster and
	// Custom::CloudHsmKeyStore properties the context sets (resources.go), by property name, as
	// the templates carry them; nil when no key of the resource is set.
	ClusterProperties  map[string]any
	KeyStoreProperties map[string]any
}

// Lookup returns the value stored under a key, or nil when there is none. It matches the shape of
// constructs.Node.TryGetContext (after dereferencing) and of os.Getenv (through EnvLookup).
type Lookup func(key string) any

// MapLookup is a Lookup over m: context values given without a CDK app (tests, tools).
func MapLookup(m map[string]any) Lookup {
	return func(key string) any { return m[key] }
}

// EnvLookup adapts os.LookupEnv to a Lookup: an unset variable is nil, a set one its string.
func EnvLookup(key string) any {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return nil
}

var (
	eventSourceRE = regexp.MustCompile(`^aws\.[a-z0-9][a-z0-9.-]*$`)
	fieldMarkerRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	accountRE     = regexp.MustCompile(`^[0-9]{12}$`)
	// regionRE accepts the shapes of every partition's region names: us-east-1, eu-central-2,
	// us-gov-west-1, cn-north-1, ap-southeast-5, eusc-de-east-1.
	regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]+$`)
	// zoneRE is an Availability Zone name: its region's name and a letter (eu-west-1a). Local and
	// Wavelength Zones (us-west-2-lax-1a) do not match: their names carry more after the region.
	zoneRE = regexp.MustCompile(`^([a-z]{2,4}(-[a-z]+)+-[0-9]+)[a-z]$`)
	// zoneIDRE is an Availability Zone id (euw1-az1), which names the same physical zone in every
	// account, unlike a zone name.
	zoneIDRE = regexp.MustCompile(`^[a-z]{2,5}[0-9]+-az[0-9]+$`)
	// cloudHsmCliVersionRE is a Client SDK 5 version, as in AWS's package names (cloudhsm-cli-5.17.0-1...).
	cloudHsmCliVersionRE = regexp.MustCompile(`^5\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	sha256RE             = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Read validates the context (ctx) and, for the environment, falls back to the environment variables
// (env): CDK_DEPLOY_ACCOUNT/CDK_DEPLOY_REGION first, then CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION, which the
// cdk CLI sets when it finds credentials. Offline, none are set and the stacks stay environment-agnostic.
// All problems are reported together.
func Read(ctx, env Lookup) (Settings, error) {
	var s Settings
	var errs []error

	email, err := String(ctx, KeyAlertEmail)
	if err != nil {
		errs = append(errs, err)
	} else if email != "" {
		if err := checkEmail(KeyAlertEmail, email); err != nil {
			errs = append(errs, err)
		} else {
			s.AlertEmail = email
		}
	}

	sources, err := eventSources(ctx(KeyAlertEventSources))
	if err != nil {
		errs = append(errs, err)
	}
	s.AlertEventSources = sources

	fields, err := redactFields(ctx(KeyAlertRedactFields))
	if err != nil {
		errs = append(errs, err)
	}
	s.AlertRedactFields = fields

	if err := s.readAlertRules(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.readAlertEmails(ctx, email); err != nil {
		errs = append(errs, err)
	}
	if err := s.readChatChannels(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.readOrganization(ctx); err != nil {
		errs = append(errs, err)
	}

	if err := s.readEnvironment(ctx, env); err != nil {
		errs = append(errs, err)
	} else if err := s.readAvailabilityZones(ctx); err != nil {
		errs = append(errs, err)
	}

	schedule, err := kmsUserRotationSchedule(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	s.KmsUserRotationSchedule = schedule

	if err := s.readCloudHsmCli(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.readResources(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Settings{}, errors.Join(errs...)
	}
	return s, nil
}

// kmsUserRotationSchedule reads KeyKmsUserRotationSchedule: "" (off) or a cron() expression that
// opens on the hour, checked by pkg/rotationschedule's cron rules (EventBridge's fields and
// wildcards). A rate() is refused: its runs have no fixed time, so none would fall in a window.
func kmsUserRotationSchedule(ctx Lookup) (string, error) {
	expr, err := String(ctx, KeyKmsUserRotationSchedule)
	if err != nil || expr == "" {
		return "", err
	}
	const fix = "set a cron() that starts in your maintenance window, such as cron(0 3 ? * SUN#1 *) (03:00 UTC on the first Sunday of each month), or \"\" for no schedule"
	if !strings.HasPrefix(expr, "cron(") {
		return "", fmt.Errorf("context %s: %q is not a cron() expression: each run disconnects the key store (its keys are unusable for minutes), so it must run at a fixed time; %s", KeyKmsUserRotationSchedule, expr, fix)
	}
	if _, err := rotationschedule.Parse(expr, ""); err != nil {
		return "", fmt.Errorf("context %s: %w; %s", KeyKmsUserRotationSchedule, err, fix)
	}
	return expr, nil
}

// IsCloudHsmCliVersion reports whether v is a Client SDK 5 version (5.N.N), the form of the
// cloudhsm-cli package names this app builds URLs from. infra/hsmcluster checks its props with it.
func IsCloudHsmCliVersion(v string) bool { return cloudHsmCliVersionRE.MatchString(v) }

// IsSHA256 reports whether s is a SHA256 checksum as AWS lists them: 64 lowercase hex digits.
func IsSHA256(s string) bool { return sha256RE.MatchString(s) }

// readCloudHsmCli reads KeyCloudHsmCliVersion and KeyCloudHsmCliSha256: both "" (the pinned
// package) or a Client SDK 5 version with the SHA256 checksum of its package. One without the
// other is refused: a new version needs its own checksum, and an old checksum would fail the install.
func (s *Settings) readCloudHsmCli(ctx Lookup) error {
	version, err := String(ctx, KeyCloudHsmCliVersion)
	if err != nil {
		return err
	}
	sum, err := String(ctx, KeyCloudHsmCliSha256)
	if err != nil {
		return err
	}
	const source = "AWS lists it next to the CloudHSM CLI rpm for Amazon Linux 2023 x86_64 on its Client SDK release pages, latest-releases.html and client-version-previous.html"
	var errs []error
	if version == "" && sum != "" {
		errs = append(errs, fmt.Errorf("context %s and %s: a checksum without a version; set %s to the version the checksum belongs to, or leave both \"\" for the pinned version", KeyCloudHsmCliVersion, KeyCloudHsmCliSha256, KeyCloudHsmCliVersion))
	}
	if version != "" && sum == "" {
		errs = append(errs, fmt.Errorf("context %s and %s: a version without a checksum; a new version needs its own: set %s to its SHA256 checksum (%s), or leave both \"\" for the pinned version", KeyCloudHsmCliVersion, KeyCloudHsmCliSha256, KeyCloudHsmCliSha256, source))
	}
	if version != "" && !IsCloudHsmCliVersion(version) {
		errs = append(errs, fmt.Errorf("context %s: %q is not a Client SDK 5 version; set one such as 5.17.0 (three numbers, starting with 5), or leave both keys \"\" for the pinned version", KeyCloudHsmCliVersion, version))
	}
	if sum != "" && !IsSHA256(sum) {
		errs = append(errs, fmt.Errorf("context %s: %q is not a SHA256 checksum; set the 64 lowercase hex digits of the package's checksum (%s), or leave both keys \"\" for the pinned version", KeyCloudHsmCliSha256, sum, source))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.CloudHsmCliVersion, s.CloudHsmCliSha256 = version, sum
	return nil
}

// String returns the string stored under key with surrounding spaces removed, or "" when there is
// none; a value of another type is an error that names the key and how to set it.
func String(ctx Lookup, key string) (string, error) {
	v, err := RawString(ctx, key)
	return strings.TrimSpace(v), err
}

// RawString is String with the spaces kept, for values in which a space means something.
func RawString(ctx Lookup, key string) (string, error) {
	switch v := ctx(key).(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("context %s: got %T %v, want a string (set it in cdk.json or with -c %s=VALUE)", key, v, v, key)
	}
}

// checkEmail accepts one bare address (local@domain with a dot in the domain); SNS e-mail subscriptions
// take exactly that, and a display name or a list would fail only at deploy time. where names the
// value in the error (the context key, and the item).
func checkEmail(where, v string) error {
	or := ""
	if where == KeyAlertEmail {
		or = `, or "" for no subscription`
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || addr.Name != "" {
		return fmt.Errorf("context %s: %q is not an e-mail address; set one bare address such as alerts@example.com%s", where, v, or)
	}
	at := strings.LastIndexByte(v, '@')
	if domain := v[at+1:]; !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return fmt.Errorf("context %s: %q has no valid domain; set one bare address such as alerts@example.com%s", where, v, or)
	}
	return nil
}

// readAlertRules reads KeyAlertIgnore and KeyAlertSeverity with pkg/alertrules, the validator the
// relay runs on ALERT_RULES, and checks that together they fit the relay's environment.
func (s *Settings) readAlertRules(ctx Lookup) error {
	var errs []error
	ignore, err := alertrules.DecodeIgnore(ctx(KeyAlertIgnore))
	if err != nil {
		errs = append(errs, fmt.Errorf("context %s: %w (each rule: an object of eventSource, eventName, principalArn, account, errorCode, at least one)", KeyAlertIgnore, err))
	}
	severity, err := alertrules.DecodeSeverity(ctx(KeyAlertSeverity))
	if err != nil {
		errs = append(errs, fmt.Errorf("context %s: %w (each rule: match fields as in %s and a severity)", KeyAlertSeverity, err, KeyAlertIgnore))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := (&alertrules.Rules{Ignore: ignore, Severity: severity}).Encode(); err != nil {
		return fmt.Errorf("context %s and %s: %w", KeyAlertIgnore, KeyAlertSeverity, err)
	}
	s.AlertIgnore, s.AlertSeverity = ignore, severity
	return nil
}

// readAlertEmails reads KeyAlertEmails: an object whose keys are severities and whose values are
// lists of addresses (from cdk.json, or its JSON text from -c). An address may appear once, and
// not as alertEmail too, or it would receive every alert twice. CloudWatch alarm notifications
// carry no message attributes, and SNS delivers no message without attributes to a subscription
// with a filter policy, so the alarms reach only alertEmail: these addresses need it set.
func (s *Settings) readAlertEmails(ctx Lookup, alertEmail string) error {
	v := ctx(KeyAlertEmails)
	const example = `{"critical": ["oncall@example.com"], "warning": ["secops@example.com"]}`
	if text, ok := v.(string); ok {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return fmt.Errorf("context %s: %q is not JSON (%v); give an object such as %s", KeyAlertEmails, text, err, example)
		}
	}
	if v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("context %s: got %T, want an object of severities to addresses such as %s", KeyAlertEmails, v, example)
	}
	seen := map[string]string{}
	if alertEmail != "" {
		seen[alertEmail] = KeyAlertEmail
	}
	out := map[string][]string{}
	var errs []error
	for _, sev := range sortedKeys(obj) {
		if alertrules.AtLeast(sev) == nil {
			errs = append(errs, fmt.Errorf("context %s: %q is not a severity; use %s", KeyAlertEmails, sev, strings.Join(alertrules.Severities, ", ")))
			continue
		}
		items, ok := obj[sev].([]any)
		if !ok {
			errs = append(errs, fmt.Errorf("context %s: %s: got %T, want a list of addresses such as [\"oncall@example.com\"]", KeyAlertEmails, sev, obj[sev]))
			continue
		}
		for i, item := range items {
			where := fmt.Sprintf("%s: %s address %d", KeyAlertEmails, sev, i)
			addr, ok := item.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("context %s: got %T %v, want a string", where, item, item))
				continue
			}
			if err := checkEmail(where, addr); err != nil {
				errs = append(errs, err)
				continue
			}
			if prev, dup := seen[addr]; dup {
				errs = append(errs, fmt.Errorf("context %s: %q is also in %s; list each address once (it receives its severity and above)", where, addr, prev))
				continue
			}
			seen[addr] = fmt.Sprintf("%s %s", KeyAlertEmails, sev)
			out[sev] = append(out[sev], addr)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(out) > 0 && alertEmail == "" {
		return fmt.Errorf("context %s: set %s too: CloudWatch alarm notifications (the relay failing, undelivered alerts) carry no severity, and SNS delivers them only to subscriptions without a filter policy, so without %s no one would receive them", KeyAlertEmails, KeyAlertEmail, KeyAlertEmail)
	}
	if len(out) > 0 {
		s.AlertEmails = out
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// eventSources accepts the list from cdk.json (a JSON array) or from the command line, where
// `-c key=value` always yields a string: a JSON array or a comma-separated list.
func eventSources(v any) ([]string, error) {
	var raw []string
	switch t := v.(type) {
	case nil:
		return append([]string(nil), DefaultAlertEventSources...), nil
	case []string:
		raw = t
	case []any:
		var err error
		if raw, err = stringItems(KeyAlertEventSources, t, `a string such as "aws.kms"`); err != nil {
			return nil, err
		}
	case string:
		if strings.HasPrefix(strings.TrimSpace(t), "[") {
			if err := json.Unmarshal([]byte(t), &raw); err != nil {
				return nil, fmt.Errorf("context %s: %q is not a JSON array of strings: %v", KeyAlertEventSources, t, err)
			}
		} else {
			raw = strings.Split(t, ",")
		}
	default:
		return nil, fmt.Errorf("context %s: got %T, want a list of event sources such as [\"aws.kms\", \"aws.iam\"]", KeyAlertEventSources, v)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range raw {
		s = strings.TrimSpace(s)
		if !eventSourceRE.MatchString(s) {
			return nil, fmt.Errorf("context %s: %q is not an AWS event source; use names such as \"aws.kms\" or \"aws.signin\" (CloudTrail events only come from aws.* sources)", KeyAlertEventSources, s)
		}
		if seen[s] {
			return nil, fmt.Errorf("context %s: %q is listed twice; list each source once", KeyAlertEventSources, s)
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("context %s: the list is empty; name at least one source such as \"aws.kms\", or remove the key for the defaults", KeyAlertEventSources)
	}
	return out, nil
}

// stringItems returns the items of a list from cdk.json (a JSON array), which must all be strings;
// want describes one in the error that names the first that is not.
func stringItems(key string, items []any, want string) ([]string, error) {
	out := make([]string, 0, len(items))
	for i, e := range items {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("context %s: item %d is %T %v, want %s", key, i, e, e, want)
		}
		out = append(out, s)
	}
	return out, nil
}

// redactFields accepts a list (cdk.json) or a comma-separated string (-c); absent means none.
func redactFields(v any) ([]string, error) {
	var raw []string
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		raw = strings.Split(t, ",")
	case []any:
		var err error
		if raw, err = stringItems(KeyAlertRedactFields, t, `a field name such as "apiToken"`); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("context %s: got %T, want a list of field names such as [\"apiToken\"]", KeyAlertRedactFields, v)
	}
	var out []string
	for _, f := range raw {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !fieldMarkerRE.MatchString(f) {
			return nil, fmt.Errorf("context %s: %q is not a field name; use letters, digits, '_' or '-' (at most 64)", KeyAlertRedactFields, f)
		}
		out = append(out, f)
	}
	return out, nil
}

func (s *Settings) readEnvironment(ctx, env Lookup) error {
	account, err := String(ctx, KeyAccount)
	if err != nil {
		return err
	}
	region, err := String(ctx, KeyRegion)
	if err != nil {
		return err
	}
	if account != "" || region != "" {
		if account == "" || region == "" {
			return fmt.Errorf("context %s and %s: set both to pin the stacks to one environment, or neither for environment-agnostic stacks", KeyAccount, KeyRegion)
		}
		if err := checkEnvironment(account, region, "context "+KeyAccount, "context "+KeyRegion); err != nil {
			return err
		}
		s.Account, s.Region = account, region
		return nil
	}
	for _, pair := range [][2]string{{"CDK_DEPLOY_ACCOUNT", "CDK_DEPLOY_REGION"}, {"CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"}} {
		a, _ := env(pair[0]).(string)
		r, _ := env(pair[1]).(string)
		if a == "" || r == "" {
			// The cdk CLI sets CDK_DEFAULT_REGION without an account when it finds no credentials:
			// that is the offline case, and it stays environment-agnostic.
			continue
		}
		if err := checkEnvironment(a, r, pair[0], pair[1]); err != nil {
			return err
		}
		s.Account, s.Region = a, r
		return nil
	}
	return nil
}

// MinAvailabilityZones is how many zones KeyAvailabilityZones must name: the cluster stack puts its
// HSMs in distinct zones, and an RDS subnet group spans at least two.
const MinAvailabilityZones = 2

// readAvailabilityZones reads KeyAvailabilityZones: absent, "" or [] (none), a list (cdk.json), or
// from -c a JSON array or a comma-separated string. Each is a zone name, listed once, all in one
// region, Region when the stacks are pinned to one.
func (s *Settings) readAvailabilityZones(ctx Lookup) error {
	const example = `["eu-west-1a", "eu-west-1b"]`
	v := ctx(KeyAvailabilityZones)
	var raw []string
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		var err error
		if raw, err = stringItems(KeyAvailabilityZones, t, `a zone name such as "eu-west-1a"`); err != nil {
			return err
		}
	case string:
		if strings.HasPrefix(strings.TrimSpace(t), "[") {
			if err := json.Unmarshal([]byte(t), &raw); err != nil {
				return fmt.Errorf("context %s: %q is not a JSON array of strings (%v); give zone names such as %s", KeyAvailabilityZones, t, err, example)
			}
		} else if strings.TrimSpace(t) != "" {
			raw = strings.Split(t, ",")
		}
	default:
		return fmt.Errorf("context %s: got %T, want a list of zone names such as %s", KeyAvailabilityZones, v, example)
	}
	if len(raw) == 0 {
		return nil
	}
	// Environment-agnostic stacks have no region to check against: the zones must share one.
	region := s.Region
	seen := map[string]bool{}
	var zones []string
	for _, z := range raw {
		z = strings.TrimSpace(z)
		m := zoneRE.FindStringSubmatch(z)
		switch {
		case zoneIDRE.MatchString(z):
			return fmt.Errorf("context %s: %q is a zone id; give zone names such as %s (aws ec2 describe-availability-zones lists both for your account)", KeyAvailabilityZones, z, example)
		case m == nil:
			return fmt.Errorf("context %s: %q is not an Availability Zone name; give names such as %s, a region and a letter (Local Zones are not supported)", KeyAvailabilityZones, z, example)
		case seen[z]:
			return fmt.Errorf("context %s: %q is listed twice; list each zone once", KeyAvailabilityZones, z)
		case region == "" && len(zones) > 0 && m[1] != zoneRE.FindStringSubmatch(zones[0])[1]:
			return fmt.Errorf("context %s: %q and %q are in different regions; list zones of the one region the stacks deploy to", KeyAvailabilityZones, zones[0], z)
		case region != "" && m[1] != region:
			return fmt.Errorf("context %s: %q is not in %s, the stacks' region (%s, or the CLI's credentials); list zones of %s, or remove the key to let CloudFormation choose", KeyAvailabilityZones, z, region, KeyRegion, region)
		}
		seen[z] = true
		zones = append(zones, z)
	}
	if len(zones) < MinAvailabilityZones {
		return fmt.Errorf("context %s: %d zone; name at least %d (the cluster's HSMs go to distinct zones, and the database's subnet group spans two), such as %s, or remove the key", KeyAvailabilityZones, len(zones), MinAvailabilityZones, example)
	}
	s.AvailabilityZones = zones
	return nil
}

func checkEnvironment(account, region, accountName, regionName string) error {
	if !accountRE.MatchString(account) {
		return fmt.Errorf("%s: %q is not an AWS account id; use the 12 digits of the target account", accountName, account)
	}
	if !regionRE.MatchString(region) {
		return fmt.Errorf("%s: %q is not an AWS region name; use a name such as us-east-1", regionName, region)
	}
	return nil
}

// ReadCDKJSON returns the "context" object of a cdk.json file, so tests synthesize with the same feature
// flags and defaults as `cdk synth`.
func ReadCDKJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cdk.json: %w", err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return doc.Context, nil
}
