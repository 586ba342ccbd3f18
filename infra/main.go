// Command infra is Strongroom's CDK app (cdk.json runs `go run ./infra`). It reads and validates the
// strongroom:* context values, declares every stack, and applies cdk-nag's AwsSolutions checks to all
// of them, so every `cdk synth` and `cdk deploy` is checked.
//
// Stacks are environment-agnostic unless an account and region are given (context strongroom:account and
// strongroom:region, or CDK_DEPLOY_*/CDK_DEFAULT_* variables), so synthesis works offline without
// credentials; with them, it still makes no context lookup (availabilityZoneContext), so it works
// offline with credentials too (`make synth` runs cdk synth --no-lookups). Lambda code is read from build/<name>/bootstrap, written by `make build`.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/alerts"
	"github.com/strongroom/strongroom/infra/database"
	"github.com/strongroom/strongroom/infra/forwarder"
	"github.com/strongroom/strongroom/infra/golambda"
	"github.com/strongroom/strongroom/infra/hsmcluster"
	"github.com/strongroom/strongroom/infra/keystore"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/pkg/alertrules"
)

// AlertsStackName is the id (and CloudFormation name) of the alerts stack.
const AlertsStackName = "StrongroomAlerts"

// DatabaseStackName is the id (and CloudFormation name) of the database stack.
const DatabaseStackName = "StrongroomDatabase"

// ClusterStackName is the id (and CloudFormation name) of the CloudHSM cluster stack. Deploying it
// starts HSM billing: deploy it by name when you mean to (see README).
const ClusterStackName = "StrongroomCluster"

// DefaultBuildDir is where `make build` writes one directory per Lambda, relative to the repository root
// (the working directory of `cdk synth`).
const DefaultBuildDir = "build"

// featureFlags are CDK feature flags the stacks rely on, as defaults that cdk.json may override.
var featureFlags = map[string]any{
	// Grant S3 server access log delivery through a bucket policy; the ACL CDK would otherwise set
	// cannot coexist with BucketOwnerEnforced object ownership.
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
}

// options are what differs between `cdk synth` and a test.
type options struct {
	// buildDir holds build/<lambda>/bootstrap; empty bundles every function from this module's
	// sources at synth (golambda.Bundle).
	buildDir string
	// context adds to (and overrides) the feature-flag defaults, as cdk.json and -c do.
	context map[string]any
	// outdir is the cloud assembly directory; empty means CDK's default (cdk.out, or CDK_OUTDIR from the CLI).
	outdir string
	// env looks up environment variables.
	env settings.Lookup
}

// newApp declares the whole app: validated settings, every stack, cdk-nag on everything.
func newApp(o options) (awscdk.App, error) {
	ctx := map[string]any{}
	for k, v := range featureFlags {
		ctx[k] = v
	}
	for k, v := range o.context {
		ctx[k] = v
	}
	props := &awscdk.AppProps{Context: &ctx}
	if o.outdir != "" {
		props.Outdir = jsii.String(o.outdir)
	}
	app := awscdk.NewApp(props)

	cfg, err := settings.Read(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }, o.env)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	var env *awscdk.Environment
	if cfg.Account != "" {
		env = &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.Region)}
	}
	// Before any stack: context can be set on the app only while it has no children.
	for k, v := range availabilityZoneContext(cfg, app.Node().TryGetContext) {
		app.Node().SetContext(jsii.String(k), v)
	}

	alertsStack, err := alerts.NewAlertsStack(app, AlertsStackName, &alerts.AlertsStackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("Strongroom CloudTrail alerts: trail, EventBridge rule, relay Lambda, encrypted SNS topic"),
		},
		RelayAssetDir: golambda.Prebuilt(o.buildDir, "trailrelay"),
		AlertEmail:    cfg.AlertEmail,
		EventSources:  cfg.AlertEventSources,
		RedactFields:  cfg.AlertRedactFields,
		AlertEmails:   cfg.AlertEmails,
		ChatChannels:  cfg.AlertChatChannels,
		Rules:         alertrules.Rules{Ignore: cfg.AlertIgnore, Severity: cfg.AlertSeverity},
		// Every stack's roles are named after it, so the relay can tell Strongroom's own routine
		// calls from the calls it exists to report.
		OwnStackNames: []string{AlertsStackName, DatabaseStackName, ClusterStackName, keystore.StackName},
		// Central organization mode: an organization trail and the organization's bus; "" otherwise.
		OrganizationID: cfg.Organization.OrganizationID,
		// Central mode in a CloudTrail delegated administrator: the management account, which owns
		// the organization trail; "" otherwise.
		ManagementAccountID: cfg.Organization.ManagementAccountID,
	})
	if err != nil {
		return nil, err
	}
	// Member organization mode: the account forwards its events to the central bus. The other
	// stacks stay declared, for a member that runs Strongroom itself; a member that only forwards
	// deploys this stack alone (README, "Organization mode").
	if cfg.Organization.Mode == settings.OrgModeMember {
		if _, err := forwarder.New(app, forwarder.StackName, &forwarder.Props{
			StackProps: awscdk.StackProps{
				Env:         env,
				Description: jsii.String("Strongroom alert forwarder: this member account's alert events, to the central account's organization bus"),
			},
			CentralBusArn: cfg.Organization.CentralBusArn,
			EventSources:  cfg.AlertEventSources,
			AlertEmail:    cfg.AlertEmail,
		}); err != nil {
			return nil, err
		}
	}

	dbCfg, err := database.ReadConfig(app)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if _, err := database.NewDatabaseStack(app, DatabaseStackName, &database.DatabaseStackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("Strongroom database: RDS for MariaDB in isolated subnets, its secrets and their rotation"),
		},
		RotationAssetDir: golambda.Prebuilt(o.buildDir, "rotate"),
		UserAssetDir:     golambda.Prebuilt(o.buildDir, "dbuser"),
		RelayAssetDir:    golambda.Prebuilt(o.buildDir, "cfn-relay"),
		Config:           dbCfg,
		// The instance's alarms (CPU, free storage) notify the alert topic, as the other stacks' do.
		AlarmTopic: alertsStack.Topic,
	}); err != nil {
		return nil, err
	}

	if _, err := hsmcluster.NewClusterStack(app, ClusterStackName, &hsmcluster.StackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("Strongroom CloudHSM cluster: VPC, SSM-managed cloudhsm-cli client and Custom::CloudHsmCluster (billed per HSM hour)"),
		},
		BuildDir: o.buildDir,
		// The cluster's and the key store's alarms (failed workflows, safety-net dead letters)
		// notify the alert topic, as the alerts stack's own alarms do.
		AlarmTopic: alertsStack.Topic,
		// Their failed workflow executions are mailed by the alerts stack's relay, which may read
		// those executions' histories (the grant is the cluster's and key store's stacks' own).
		AlertRelay: alertsStack.Relay.Function,
		// The cloudhsm-cli package of the client instance; both "" keep the one hsmcluster pins.
		CloudHsmCliVersion: cfg.CloudHsmCliVersion,
		CloudHsmCliSha256:  cfg.CloudHsmCliSha256,
		// The cluster resource's properties the context sets (strongroom:hsmCount, ...).
		Properties: cfg.ClusterProperties,
	}); err != nil {
		return nil, err
	}

	// The KMS custom key store on the cluster stack's cluster.
	if _, err := keystore.NewKeyStoreStack(app, keystore.StackName, &keystore.StackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("Strongroom KMS custom key store on the CloudHSM cluster: Custom::CloudHsmKeyStore and its kmsuser password rotation"),
		},
		BuildDir:         o.buildDir,
		ClusterStackName: ClusterStackName,
		AlarmTopic:       alertsStack.Topic,
		AlertRelay:       alertsStack.Relay.Function,
		RotationSchedule: kmsUserRotation(cfg.KmsUserRotationSchedule),
		// strongroom:keyStoreName and strongroom:deleteKeyStoreOnStackDeletion; "" and false
		// (the defaults) when unset.
		KeyStoreName:                  stringProperty(cfg.KeyStoreProperties, "KeyStoreName"),
		DeleteKeyStoreOnStackDeletion: stringProperty(cfg.KeyStoreProperties, "DeleteKeyStoreOnStackDeletion") == "true",
	}); err != nil {
		return nil, err
	}

	applyNag(app)
	return app, nil
}

// AvailabilityZoneContextKey is the context key under which CDK's Stack.availabilityZones finds
// the zones of a stack pinned to account and region, and which, when it is missing, it asks the
// CDK CLI to look up (into cdk.context.json): a lookup `cdk synth --no-lookups` refuses.
func AvailabilityZoneContextKey(account, region string) string {
	return "availability-zones:account=" + account + ":region=" + region
}

// availabilityZoneFallbackKey is where Stack.availabilityZones of an environment-agnostic stack
// finds its zones; without it, it uses the first two of CloudFormation's Fn::GetAZs.
const availabilityZoneFallbackKey = "aws:cdk:availability-zones:fallback"

// availabilityZoneContext is the context that gives every stack its zones without a lookup, so
// synthesis stays offline whatever the environment (the VPCs of the database's and the cluster's
// stacks take the first two):
//   - strongroom:availabilityZones when set, for pinned and environment-agnostic stacks alike;
//   - else, for pinned stacks, a zone list already in the context under AvailabilityZoneContextKey
//     (cdk.context.json from an earlier `cdk deploy` with lookups) is kept: the subnets deployed in
//     those zones stay there;
//   - else the first two zones of Fn::GetAZs, chosen by CloudFormation at deploy time, as CDK gives
//     environment-agnostic stacks.
func availabilityZoneContext(cfg settings.Settings, get func(*string) any) map[string]any {
	zones := cfg.AvailabilityZones
	if cfg.Account == "" {
		if len(zones) == 0 {
			return nil
		}
		return map[string]any{availabilityZoneFallbackKey: zones}
	}
	key := AvailabilityZoneContextKey(cfg.Account, cfg.Region)
	if len(zones) == 0 {
		if _, ok := get(jsii.String(key)).([]any); ok {
			return nil
		}
		getAZs := awscdk.Fn_GetAzs(nil)
		zones = []string{*awscdk.Fn_Select(jsii.Number(0), getAZs), *awscdk.Fn_Select(jsii.Number(1), getAZs)}
	}
	return map[string]any{key: zones}
}

// stringProperty is props[name] when it is a string, else "".
func stringProperty(props map[string]any, name string) string {
	s, _ := props[name].(string)
	return s
}

// kmsUserRotation is the key store's rotation schedule from the validated context: none unless
// strongroom:kmsUserRotationSchedule names a cron() window.
func kmsUserRotation(expr string) awsevents.Schedule {
	if expr == "" {
		return nil
	}
	return awsevents.Schedule_Expression(jsii.String(expr))
}

// applyNag runs cdk-nag's AwsSolutions pack over every construct of scope. Verbose findings carry the
// rule's explanation; reports write cdk.out/AwsSolutions-<stack>-NagReport.csv, which
// `strongroom nag-report` checks. Error-level findings are error annotations, which make `cdk synth`
// and `cdk deploy` exit non-zero by themselves.
func applyNag(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(true),
	}), nil)
}

func main() {
	os.Exit(run())
}

// run is main without os.Exit, so the deferred jsii.Close stops the jsii kernel process.
func run() int {
	defer jsii.Close()
	app, err := newApp(options{buildDir: DefaultBuildDir, env: settings.EnvLookup})
	if err != nil {
		fmt.Fprintf(os.Stderr, "strongroom infra: %v\n", err)
		return 1
	}
	app.Synth(nil)
	return 0
}
