package database_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/database"
	"github.com/strongroom/strongroom/infra/database/dbconfig"
	"github.com/strongroom/strongroom/infra/golambda"
	"github.com/strongroom/strongroom/infra/settings"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/customresource/relay"
	"github.com/strongroom/strongroom/pkg/dbuser"
	"github.com/strongroom/strongroom/pkg/nagreport"
	"github.com/strongroom/strongroom/pkg/rotation"
)

// One synthesis serves every assertion: CDK synthesis is the slow part of these tests. The app holds
// two stacks: Default (context from cdk.json only: rate(30 days), 4h, single-AZ, deletion
// protection) and Custom (a cron schedule and every non-default switch).
var (
	rotateDir   string // holds a real linux/arm64 bootstrap of lambdas/rotate
	report      nagreport.Report
	def, custom assertions.Template
	defJSON     map[string]any
	defStack    awscdk.Stack
	customStack awscdk.Stack
	defDB       *database.DatabaseStack
)

const (
	customSchedule       = "cron(0 4 ? * SUN *)"
	customWindow         = "3h"
	customMaxConnections = 250.0
	customGrants         = "SELECT ON app.*; INSERT, UPDATE ON app.orders"
)

func cdkContext() (map[string]any, error) {
	ctx, err := settings.ReadCDKJSON("../../cdk.json")
	if err != nil {
		return nil, err
	}
	return ctx, nil
}

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
		tmp, err := os.MkdirTemp("", "database-test-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		// Bundled from this module's sources, as a build/rotate would be (golambda.Bundle).
		if rotateDir, err = golambda.Bundle("rotate"); err != nil {
			return fail(err)
		}

		ctx, err := cdkContext()
		if err != nil {
			return fail(err)
		}
		out := filepath.Join(tmp, "cdk.out")
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
		defCfg, err := database.ReadConfig(app)
		if err != nil {
			return fail(err)
		}
		d, err := database.NewDatabaseStack(app, "Default", &database.DatabaseStackProps{RotationAssetDir: rotateDir, Config: defCfg})
		if err != nil {
			return fail(err)
		}
		customCfg, err := dbconfig.Read(settings.MapLookup(map[string]any{
			dbconfig.KeyRotationSchedule:    customSchedule,
			dbconfig.KeyRotationWindow:      customWindow,
			dbconfig.KeyMultiAZ:             true,
			dbconfig.KeyDeletionProtection:  false,
			dbconfig.KeyBackupRetentionDays: 14.0,
			dbconfig.KeyIAMAuthentication:   true,
			dbconfig.KeyPasswordLength:      40.0,
			dbconfig.KeyMaxConnections:      customMaxConnections,
			dbconfig.KeyAppGrants:           customGrants,
		}))
		if err != nil {
			return fail(err)
		}
		c, err := database.NewDatabaseStack(app, "Custom", &database.DatabaseStackProps{RotationAssetDir: rotateDir, Config: customCfg})
		if err != nil {
			return fail(err)
		}
		// An application granted access in the Custom stack (TestAllowApplication).
		appSG := awsec2.NewSecurityGroup(c.Stack, jsii.String("AppSecurityGroup"), &awsec2.SecurityGroupProps{Vpc: c.Vpc, AllowAllOutbound: jsii.Bool(false), Description: jsii.String("test application")})
		appRole := awsiam.NewRole(c.Stack, jsii.String("AppRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
		c.AllowApplication(appSG, appRole)
		// A statement added to the key's policy after the stack is built is kept (TestKeyPolicy).
		c.Key.AddToResourcePolicy(otherAccountStatement(), jsii.Bool(false))
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(true)}), nil)
		app.Synth(nil)
		// Read the report before the assertions synthesize again (cdk-nag would append its rows twice).
		if report, err = nagreport.Read(out); err != nil {
			return fail(err)
		}
		defStack, customStack, defDB = d.Stack, c.Stack, d
		def = assertions.Template_FromStack(d.Stack, nil)
		custom = assertions.Template_FromStack(c.Stack, nil)
		if defJSON, err = templatetest.JSON(def); err != nil {
			return fail(err)
		}
		return m.Run()
	}()
	os.Exit(code)
}

// resources returns the logical ids and Properties of every resource of a type in the Default stack.
func resources(typ string) map[string]map[string]any { return templatetest.Resources(defJSON, typ) }

// only returns the logical id and Properties of the single resource of typ in the Default stack
// whose logical id starts with prefix.
func only(t *testing.T, typ, prefix string) (string, map[string]any) {
	t.Helper()
	return templatetest.Only(t, defJSON, typ, prefix)
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }
func arn(id string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }
func groupID(id string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, "GroupId"}}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prop returns the Properties of one resource of the Default stack.
func prop(t *testing.T, logicalID string) map[string]any {
	t.Helper()
	return templatetest.Properties(t, defJSON, logicalID)
}

func TestNagClean(t *testing.T) {
	if err := report.Err(); err != nil {
		t.Errorf("unsuppressed cdk-nag findings:\n%v", err)
	}
	if len(report.Files) != 2 {
		t.Errorf("reports %v, want one per stack", report.Files)
	}
	// The report is only evidence if cdk-nag really evaluated the resources.
	if n := report.Count(nagreport.Compliant); n < 40 {
		t.Errorf("only %d compliant checks: did cdk-nag run?", n)
	}
	// Exactly these findings are suppressed, each for a stated reason; anything else suppressed
	// would hide a real finding.
	want := map[string][]string{
		"Default": {"AwsSolutions-IAM4 Database/MonitoringRole", "AwsSolutions-RDS3 Database", "AwsSolutions-RDS11 Database",
			"AwsSolutions-IAM5 UserRotationRole/DefaultPolicy", "AwsSolutions-IAM5 UserRotationTracingPolicy",
			"AwsSolutions-IAM5 SuperuserRotationRole/DefaultPolicy", "AwsSolutions-IAM5 SuperuserRotationTracingPolicy",
			"AwsSolutions-IAM5 ApplicationUserFunctionRole/DefaultPolicy", "AwsSolutions-IAM5 ApplicationUserFunctionTracingPolicy",
			"AwsSolutions-IAM5 ApplicationUserRelayTracingPolicy"},
		// Multi-AZ is on (no RDS3); deletion protection is off on purpose (RDS10).
		"Custom": {"AwsSolutions-IAM4 Database/MonitoringRole", "AwsSolutions-RDS10 Database", "AwsSolutions-RDS11 Database",
			"AwsSolutions-IAM5 UserRotationRole/DefaultPolicy", "AwsSolutions-IAM5 UserRotationTracingPolicy",
			"AwsSolutions-IAM5 SuperuserRotationRole/DefaultPolicy", "AwsSolutions-IAM5 SuperuserRotationTracingPolicy",
			"AwsSolutions-IAM5 ApplicationUserFunctionRole/DefaultPolicy", "AwsSolutions-IAM5 ApplicationUserFunctionTracingPolicy",
			"AwsSolutions-IAM5 ApplicationUserRelayTracingPolicy"},
	}
	got := map[string][]string{}
	for _, r := range report.Rows {
		if r.Compliance != nagreport.Suppressed {
			continue
		}
		stack, path, _ := strings.Cut(r.ResourceID, "/")
		got[stack] = append(got[stack], r.RuleID+" "+strings.TrimSuffix(path, "/Resource"))
		if len(r.Reason) < 60 {
			t.Errorf("%s: suppression without a real reason: %q", r, r.Reason)
		}
	}
	for stack, w := range want {
		g := got[stack]
		if strings.Join(sorted(g), "\n") != strings.Join(sorted(w), "\n") {
			t.Errorf("%s: suppressed\n  %s\nwant\n  %s", stack, strings.Join(sorted(g), "\n  "), strings.Join(sorted(w), "\n  "))
		}
	}
	// cdk-nag's error and warning annotations, as the cdk CLI sees them.
	for _, st := range []awscdk.Stack{defStack, customStack} {
		ann := assertions.Annotations_FromStack(st)
		nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
		if msgs := append(*ann.FindError(jsii.String("*"), nag), *ann.FindWarning(jsii.String("*"), nag)...); len(msgs) > 0 {
			t.Errorf("%s: cdk-nag annotations: %s", *st.StackName(), jsonString(t, msgs))
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestEncryption(t *testing.T) {
	key, keyProps := only(t, "AWS::KMS::Key", "DatabaseKey")
	if keyProps["EnableKeyRotation"] != true {
		t.Errorf("key rotation off: %v", keyProps)
	}
	templatetest.Check(t, "key retained", func() {
		def.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
	})
	templatetest.Has(t, def, "AWS::RDS::DBInstance", map[string]any{"StorageEncrypted": true, "KmsKeyId": arn(key)})
	templatetest.Count(t, def, "AWS::SecretsManager::Secret", 2)
	templatetest.Check(t, "both secrets under the key", func() {
		def.AllResourcesProperties(jsii.String("AWS::SecretsManager::Secret"), map[string]any{"KmsKeyId": arn(key)})
	})
}

// otherAccountStatement is a key policy statement added to the Custom stack's key after the stack
// is built.
func otherAccountStatement() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("TestOtherAccountDecrypt"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(jsii.String("arn:aws:iam::111122223333:role/reader"))},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"),
	})
}

// TestKeyPolicy: the key's policy is the account statement (the account root allowed kms:*, which
// delegates the key's use to IAM policies) and nothing else: the statement CDK's Secret adds for
// the account root through Secrets Manager is subsumed by it and left out. A statement added
// later (Custom: another account's role) is kept.
func TestKeyPolicy(t *testing.T) {
	account := map[string]any{
		"Action": "kms:*", "Effect": "Allow", "Resource": "*",
		"Principal": map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{
			"arn:", ref("AWS::Partition"), ":iam::", ref("AWS::AccountId"), ":root",
		}}}},
	}
	other := map[string]any{
		"Sid": "TestOtherAccountDecrypt", "Action": "kms:Decrypt", "Effect": "Allow", "Resource": "*",
		"Principal": map[string]any{"AWS": "arn:aws:iam::111122223333:role/reader"},
	}
	customJSON, err := templatetest.JSON(custom)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		doc  map[string]any
		want []any
	}{{"Default", defJSON, []any{account}}, {"Custom", customJSON, []any{account, other}}} {
		t.Run(c.name, func(t *testing.T) {
			_, key := templatetest.Only(t, c.doc, "AWS::KMS::Key", "DatabaseKey")
			want := map[string]any{"Version": "2012-10-17", "Statement": c.want}
			if got := jsonString(t, key["KeyPolicy"]); got != jsonString(t, want) {
				t.Errorf("key policy\n%s\nwant\n%s", got, jsonString(t, want))
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	for _, typ := range []string{"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::Route", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::EgressOnlyInternetGateway"} {
		templatetest.Count(t, def, typ, 0)
	}
	subnets := resources("AWS::EC2::Subnet")
	if len(subnets) != 2 {
		t.Fatalf("%d subnets, want 2 isolated ones", len(subnets))
	}
	var subnetRefs []any
	azs := map[string]bool{}
	for id, p := range subnets {
		subnetRefs = append(subnetRefs, ref(id))
		if p["MapPublicIpOnLaunch"] != false {
			t.Errorf("subnet %s maps public IPs", id)
		}
		azs[jsonString(t, p["AvailabilityZone"])] = true
		if !strings.Contains(jsonString(t, p["Tags"]), `"Value":"Isolated"`) {
			t.Errorf("subnet %s is not tagged isolated: %v", id, p["Tags"])
		}
	}
	if len(azs) != 2 {
		t.Errorf("subnets in %d AZs, want 2: %v", len(azs), azs)
	}
	if len(subnetRefs) == 2 && jsonString(t, subnetRefs[0]) > jsonString(t, subnetRefs[1]) {
		subnetRefs[0], subnetRefs[1] = subnetRefs[1], subnetRefs[0]
	}
	subnetsMatch := assertions.Match_ArrayEquals(&subnetRefs)
	templatetest.Has(t, def, "AWS::RDS::DBSubnetGroup", map[string]any{"SubnetIds": subnetsMatch})
	templatetest.Has(t, def, "AWS::RDS::DBInstance", map[string]any{"PubliclyAccessible": false})
	rotationSG, _ := only(t, "AWS::EC2::SecurityGroup", "RotationSecurityGroup")
	// Every function that reaches the database is in the isolated subnets with the rotation
	// functions' group; the relay, which reaches only Lambda and CloudFormation's response URL,
	// is outside the VPC and can read no secret (TestApplicationUser).
	fns := resources("AWS::Lambda::Function")
	if len(fns) != 4 {
		t.Errorf("%d functions, want the two rotation functions, the application user function and its relay", len(fns))
	}
	vpcConfig := jsonString(t, map[string]any{"SecurityGroupIds": []any{groupID(rotationSG)}, "SubnetIds": subnetRefs})
	for _, name := range []string{"UserRotation", "SuperuserRotation", "ApplicationUserFunction"} {
		id, p := only(t, "AWS::Lambda::Function", name)
		if got := jsonString(t, p["VpcConfig"]); got != vpcConfig {
			t.Errorf("%s: VpcConfig %s, want %s", id, got, vpcConfig)
		}
	}
	if relay, p := only(t, "AWS::Lambda::Function", "ApplicationUserRelay"); p["VpcConfig"] != nil {
		t.Errorf("%s is in the VPC: it must reach CloudFormation's S3 response URL, which the isolated subnets cannot", relay)
	}
	templatetest.Has(t, def, "AWS::EC2::VPCEndpoint", map[string]any{"SubnetIds": subnetsMatch})
	// Flow logs of all traffic, kept for three months.
	templatetest.Has(t, def, "AWS::EC2::FlowLog", map[string]any{"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs", "ResourceType": "VPC"})
}

func TestSecurityGroupRules(t *testing.T) {
	rotation, _ := only(t, "AWS::EC2::SecurityGroup", "RotationSecurityGroup")
	db, _ := only(t, "AWS::EC2::SecurityGroup", "DatabaseSecurityGroup")
	endpoint, _ := only(t, "AWS::EC2::SecurityGroup", "SecretsManagerEndpointSecurityGroup")
	noTraffic := []any{map[string]any{"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "IpProtocol": "icmp", "FromPort": float64(252), "ToPort": float64(86)}}
	for _, sg := range []string{rotation, db, endpoint} {
		p := prop(t, sg)
		// No inline ingress, and an inline egress that matches nothing, which makes CloudFormation
		// remove EC2's default allow-all egress rule.
		if p["SecurityGroupIngress"] != nil {
			t.Errorf("%s: inline ingress %v", sg, p["SecurityGroupIngress"])
		}
		if got := jsonString(t, p["SecurityGroupEgress"]); got != jsonString(t, noTraffic) {
			t.Errorf("%s: inline egress %s, want only the no-traffic placeholder", sg, got)
		}
	}
	// Every rule in the stack, exactly.
	type rule struct{ group, peer, port string }
	want := map[rule]bool{
		{"in " + db, rotation, "tcp 3306"}:       true,
		{"in " + endpoint, rotation, "tcp 443"}:  true,
		{"out " + rotation, db, "tcp 3306"}:      true,
		{"out " + rotation, endpoint, "tcp 443"}: true,
	}
	got := map[rule]bool{}
	peerOf := func(v any) string {
		m, _ := v.(map[string]any)
		g, _ := m["Fn::GetAtt"].([]any)
		if len(g) != 2 || g[1] != "GroupId" {
			return fmt.Sprintf("not a group of this stack: %v", v)
		}
		return g[0].(string)
	}
	for dir, typ := range map[string]string{"in": "AWS::EC2::SecurityGroupIngress", "out": "AWS::EC2::SecurityGroupEgress"} {
		for id, p := range resources(typ) {
			if p["CidrIp"] != nil || p["CidrIpv6"] != nil {
				t.Errorf("%s admits an address range: %v", id, p)
			}
			peer := p["SourceSecurityGroupId"]
			if dir == "out" {
				peer = p["DestinationSecurityGroupId"]
			}
			port := fmt.Sprintf("%v %v", p["IpProtocol"], p["FromPort"])
			if p["FromPort"] != p["ToPort"] {
				port += fmt.Sprintf("-%v", p["ToPort"])
			}
			got[rule{dir + " " + peerOf(p["GroupId"]), peerOf(peer), port}] = true
		}
	}
	if jsonString(t, fmt.Sprint(sortedRules(got))) != jsonString(t, fmt.Sprint(sortedRules(want))) {
		t.Errorf("security group rules\n  %v\nwant\n  %v", sortedRules(got), sortedRules(want))
	}
}

func sortedRules[K comparable](m map[K]bool) []string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprint(k))
	}
	return sorted(out)
}

func TestSecretsManagerEndpoint(t *testing.T) {
	endpointSG, _ := only(t, "AWS::EC2::SecurityGroup", "SecretsManagerEndpointSecurityGroup")
	templatetest.Count(t, def, "AWS::EC2::VPCEndpoint", 1)
	templatetest.Has(t, def, "AWS::EC2::VPCEndpoint", map[string]any{
		"VpcEndpointType":   "Interface",
		"PrivateDnsEnabled": true,
		"ServiceName":       map[string]any{"Fn::Join": []any{"", []any{"com.amazonaws.", map[string]any{"Ref": "AWS::Region"}, ".secretsmanager"}}},
		"SecurityGroupIds":  []any{groupID(endpointSG)},
	})
}

func TestRotationSchedules(t *testing.T) {
	userFn, _ := only(t, "AWS::Lambda::Function", "UserRotation")
	superFn, _ := only(t, "AWS::Lambda::Function", "SuperuserRotation")
	userAttach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", "UserSecret")
	superAttach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", "SuperuserSecret")
	cases := []struct {
		name       string
		tmpl       assertions.Template
		expression string
		window     string
	}{
		{"rate from cdk.json defaults", def, dbconfig.DefaultRotationSchedule, dbconfig.DefaultRotationWindow},
		{"cron from context", custom, customSchedule, customWindow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			templatetest.Count(t, c.tmpl, "AWS::SecretsManager::RotationSchedule", 2)
			rules := map[string]any{"ScheduleExpression": c.expression, "Duration": c.window, "AutomaticallyAfterDays": assertions.Match_Absent()}
			// The user secret's first rotation waits until the application user exists; the
			// superuser's generated password is replaced at once.
			templatetest.Has(t, c.tmpl, "AWS::SecretsManager::RotationSchedule", map[string]any{
				"SecretId": ref(userAttach), "RotationLambdaARN": arn(userFn), "RotationRules": rules, "RotateImmediatelyOnUpdate": false,
			})
			templatetest.Has(t, c.tmpl, "AWS::SecretsManager::RotationSchedule", map[string]any{
				"SecretId": ref(superAttach), "RotationLambdaARN": arn(superFn), "RotationRules": rules, "RotateImmediatelyOnUpdate": true,
			})
		})
	}
	// Each schedule waits for what its first rotation needs: the invoke permission, the role's
	// policy and the endpoint.
	// Both wait for the application user: the user secret's first rotation clones it, and the
	// user function reads the superuser secret before its first rotation changes the password.
	for _, id := range []string{"UserRotationSchedule", "SuperuserRotationSchedule"} {
		deps := jsonString(t, defJSON["Resources"].(map[string]any)[id].(map[string]any)["DependsOn"])
		for _, want := range []string{id + "Invoke", "RoleDefaultPolicy", "SecretsManagerEndpoint", `"ApplicationUser"`} {
			if !strings.Contains(deps, want) {
				t.Errorf("%s DependsOn %s lacks %s", id, deps, want)
			}
		}
	}
}

func TestInvokePermissions(t *testing.T) {
	templatetest.Count(t, def, "AWS::Lambda::Permission", 2)
	for fn, secret := range map[string]string{"UserRotation": "UserSecret", "SuperuserRotation": "SuperuserSecret"} {
		fnID, _ := only(t, "AWS::Lambda::Function", fn)
		attach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", secret)
		templatetest.Has(t, def, "AWS::Lambda::Permission", map[string]any{
			"Action": "lambda:InvokeFunction", "FunctionName": arn(fnID), "Principal": "secretsmanager.amazonaws.com",
			"SourceArn": ref(attach), "SourceAccount": map[string]any{"Ref": "AWS::AccountId"},
		})
	}
}

func TestSecretShapes(t *testing.T) {
	superID, superProps := only(t, "AWS::SecretsManager::Secret", "SuperuserSecret")
	_, userProps := only(t, "AWS::SecretsManager::Secret", "UserSecret")
	instance, _ := only(t, "AWS::RDS::DBInstance", "Database")

	gen := superProps["GenerateSecretString"].(map[string]any)
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(gen["SecretStringTemplate"].(string)), &tmpl); err != nil {
		t.Fatalf("superuser template: %v", err)
	}
	if jsonString(t, tmpl) != `{"dbname":"app","username":"strongroom_admin"}` || gen["GenerateStringKey"] != "password" {
		t.Errorf("superuser secret generates %v from %v", gen["GenerateStringKey"], tmpl)
	}
	if gen["ExcludeCharacters"] != defaultExclude(t) {
		t.Errorf("superuser password excludes %q, want the rotation function's default %q", gen["ExcludeCharacters"], defaultExclude(t))
	}
	// The user secret names the superuser secret in masterarn: alternating users.
	ugen := userProps["GenerateSecretString"].(map[string]any)
	wantUser := map[string]any{"Fn::Join": []any{"", []any{`{"username":"app","dbname":"app","masterarn":"`, ref(superID), `"}`}}}
	if jsonString(t, ugen["SecretStringTemplate"]) != jsonString(t, wantUser) || ugen["GenerateStringKey"] != "password" {
		t.Errorf("user secret template %s, want %s", jsonString(t, ugen["SecretStringTemplate"]), jsonString(t, wantUser))
	}
	// Attaching each secret to the instance adds engine, host, port and dbInstanceIdentifier.
	templatetest.Count(t, def, "AWS::SecretsManager::SecretTargetAttachment", 2)
	templatetest.Check(t, "attachments", func() {
		def.AllResourcesProperties(jsii.String("AWS::SecretsManager::SecretTargetAttachment"), map[string]any{"TargetType": "AWS::RDS::DBInstance", "TargetId": ref(instance)})
	})
	// The superuser secret is the instance's master credential.
	templatetest.Has(t, def, "AWS::RDS::DBInstance", map[string]any{
		"MasterUsername":     map[string]any{"Fn::Join": []any{"", []any{"{{resolve:secretsmanager:", ref(superID), ":SecretString:username::}}"}}},
		"MasterUserPassword": map[string]any{"Fn::Join": []any{"", []any{"{{resolve:secretsmanager:", ref(superID), ":SecretString:password::}}"}}},
		"DBName":             "app",
	})
}

func defaultExclude(t *testing.T) string {
	c, err := dbconfig.Read(func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return c.ExcludeCharacters
}

// statements returns the statements of the identity policies attached to the role of a function.
func statements(t *testing.T, fn string) []map[string]any {
	t.Helper()
	role, _ := only(t, "AWS::IAM::Role", fn+"Role")
	var out []map[string]any
	for _, p := range resources("AWS::IAM::Policy") {
		if jsonString(t, p["Roles"]) != jsonString(t, []any{ref(role)}) {
			continue
		}
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no policy statements for %s", role)
	}
	return out
}

func TestRotationPermissions(t *testing.T) {
	userAttach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", "UserSecret")
	superAttach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", "SuperuserSecret")
	key, _ := only(t, "AWS::KMS::Key", "DatabaseKey")
	// The granted actions are exactly what the functions' packages declare (each package's test
	// holds its list to its client interface's methods, and lambdas/rotate's and lambdas/dbuser's
	// tests run the functions under roles of these lists with IAM enforced), so the grants cannot
	// drift from the code.
	anys := func(actions ...[]string) []any {
		var out []any
		for _, a := range slices.Concat(actions...) {
			out = append(out, a)
		}
		return out
	}
	one := func(actions []string) any {
		if len(actions) == 1 {
			return actions[0]
		}
		return anys(actions)
	}
	rotationActions := anys(rotation.SecretActions)
	eni := []any{"ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
		"ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses"}
	star := append(slices.Clone(eni), anys(rotation.AccountActions)...)
	xray := []any{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	userFn, _ := only(t, "AWS::Lambda::Function", "ApplicationUserFunction")
	cases := []struct {
		fn   string
		want map[string]any // resource (JSON) -> actions
	}{
		{"UserRotation", map[string]any{
			jsonString(t, ref(userAttach)):  rotationActions,
			jsonString(t, ref(superAttach)): one(rotation.MasterSecretActions),
			jsonString(t, arn(key)):         one(rotation.KeyActions),
			`"*"`:                           []any{star, xray},
		}},
		{"SuperuserRotation", map[string]any{
			jsonString(t, ref(superAttach)): rotationActions,
			jsonString(t, arn(key)):         one(rotation.KeyActions),
			`"*"`:                           []any{star, xray},
		}},
		// The application user function reads both secrets and decrypts them: nothing else but
		// its network interfaces (and X-Ray, as every function).
		{"ApplicationUserFunction", map[string]any{
			jsonString(t, []any{ref(superAttach), ref(userAttach)}): one(dbuser.SecretActions),
			jsonString(t, arn(key)):                                 one(dbuser.KeyActions),
			`"*"`:                                                   []any{eni, xray},
		}},
		// Its relay invokes it, and can touch no secret or key.
		{"ApplicationUserRelay", map[string]any{
			jsonString(t, arn(userFn)): one(relay.InvokeActions),
			`"*"`:                      []any{xray},
		}},
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			logs, _ := only(t, "AWS::Logs::LogGroup", c.fn+"Logs")
			got := map[string][]any{}
			for _, s := range statements(t, c.fn) {
				if s["Effect"] != "Allow" || s["Condition"] != nil {
					t.Errorf("unexpected statement %s", jsonString(t, s))
				}
				res := jsonString(t, s["Resource"])
				if res == jsonString(t, arn(logs)) {
					continue // its own log group, from golambda
				}
				got[res] = append(got[res], s["Action"])
			}
			for res, actions := range got {
				w, ok := c.want[res]
				if !ok {
					t.Errorf("grants %v on %s, which it must not touch", actions, res)
					continue
				}
				if res == `"*"` {
					if jsonString(t, sortedJSON(t, actions)) != jsonString(t, sortedJSON(t, w.([]any))) {
						t.Errorf("on *: %s, want %s", jsonString(t, actions), jsonString(t, w))
					}
					continue
				}
				if len(actions) != 1 || jsonString(t, actions[0]) != jsonString(t, w) {
					t.Errorf("on %s: %s, want %s", res, jsonString(t, actions), jsonString(t, w))
				}
			}
			for res := range c.want {
				if _, ok := got[res]; !ok {
					t.Errorf("no grant on %s", res)
				}
			}
			templatetest.Has(t, def, "AWS::IAM::Role", map[string]any{
				"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": []any{map[string]any{
					"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"},
				}}}),
				"ManagedPolicyArns": assertions.Match_Absent(),
			})
		})
	}
}

func sortedJSON(t *testing.T, vs []any) []string {
	var out []string
	for _, v := range vs {
		out = append(out, jsonString(t, v))
	}
	return sorted(out)
}

func TestInstance(t *testing.T) {
	params, _ := only(t, "AWS::RDS::DBParameterGroup", "Parameters")
	options, _ := only(t, "AWS::RDS::OptionGroup", "Options")
	templatetest.Has(t, def, "AWS::RDS::DBParameterGroup", map[string]any{
		"Family":     "mariadb10.11",
		"Parameters": assertions.Match_ObjectLike(&map[string]any{"require_secure_transport": "ON", "slow_query_log": "1"}),
	})
	templatetest.Has(t, def, "AWS::RDS::OptionGroup", map[string]any{
		"EngineName": "mariadb", "MajorEngineVersion": "10.11",
		"OptionConfigurations": []any{map[string]any{"OptionName": "MARIADB_AUDIT_PLUGIN", "OptionSettings": []any{map[string]any{"Name": "SERVER_AUDIT_EVENTS", "Value": "CONNECT"}}}},
	})
	common := map[string]any{
		"Engine": "mariadb", "EngineVersion": "10.11.16", "DBInstanceClass": "db.t4g.micro",
		"Port": "3306", "DBParameterGroupName": ref(params), "OptionGroupName": ref(options),
		"EnableCloudwatchLogsExports": []any{"error", "slowquery", "audit"},
		"MonitoringInterval":          float64(60), "CACertificateIdentifier": "rds-ca-rsa2048-g1",
		"AutoMinorVersionUpgrade": true, "CopyTagsToSnapshot": true,
	}
	cases := []struct {
		name  string
		tmpl  assertions.Template
		extra map[string]any
	}{
		{"defaults", def, map[string]any{"DeletionProtection": true, "BackupRetentionPeriod": float64(7), "MultiAZ": false, "EnableIAMDatabaseAuthentication": false, "DBInstanceIdentifier": "default-mariadb"}},
		{"from context", custom, map[string]any{"DeletionProtection": false, "BackupRetentionPeriod": float64(14), "MultiAZ": true, "EnableIAMDatabaseAuthentication": true, "DBInstanceIdentifier": "custom-mariadb"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := map[string]any{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range c.extra {
				want[k] = v
			}
			if c.tmpl == custom {
				// The custom stack's groups have their own logical ids, which are the same.
				want["DBParameterGroupName"], want["OptionGroupName"] = ref(params), ref(options)
			}
			templatetest.Has(t, c.tmpl, "AWS::RDS::DBInstance", want)
			templatetest.Check(t, "snapshot on delete", func() {
				c.tmpl.HasResource(jsii.String("AWS::RDS::DBInstance"), map[string]any{"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"})
			})
		})
	}
	// The exported logs land in log groups with a retention period, created before the instance.
	for _, log := range []string{"error", "slowquery", "audit"} {
		templatetest.Has(t, def, "AWS::Logs::LogGroup", map[string]any{"LogGroupName": "/aws/rds/instance/default-mariadb/" + log, "RetentionInDays": float64(90)})
	}
	deps := jsonString(t, defJSON["Resources"].(map[string]any)[func() string { id, _ := only(t, "AWS::RDS::DBInstance", "Database"); return id }()].(map[string]any)["DependsOn"])
	if strings.Count(deps, "DatabaseLog") != 3 {
		t.Errorf("instance DependsOn %s, want its three log groups", deps)
	}
}

func TestRotationFunctions(t *testing.T) {
	cases := []struct {
		name     string
		tmpl     assertions.Template
		strategy string
		length   string
	}{
		{"user, defaults", def, "alternating-users", "32"},
		{"superuser, defaults", def, "single-user", "32"},
		{"user, password length from context", custom, "alternating-users", "40"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			templatetest.Has(t, c.tmpl, "AWS::Lambda::Function", map[string]any{
				"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap", "Timeout": float64(60),
				// Exactly these settings: names and paths, never a secret.
				"Environment": map[string]any{"Variables": map[string]any{
					"DB_TLS": "required", "DB_CA_BUNDLE": "/var/task/rds-global-bundle.pem",
					"PASSWORD_LENGTH": c.length, "EXCLUDE_CHARACTERS": defaultExclude(t), "ROTATION_STRATEGY": c.strategy,
				}},
			})
		})
	}
}

// TestInvalidContextFailsSynthesis reads the context the way the CDK app does (through the app's
// context, as cdk.json and -c set it): a bad value fails with an error naming its key and the rule.
func TestInvalidContextFailsSynthesis(t *testing.T) {
	cases := []struct {
		name string
		ctx  map[string]any
		want []string
	}{
		{"rate under four hours", map[string]any{dbconfig.KeyRotationSchedule: "rate(3 hours)"}, []string{"context strongroom:rotationSchedule", "more often than every 4 hours"}},
		{"rate in minutes", map[string]any{dbconfig.KeyRotationSchedule: "rate(240 minutes)"}, []string{"context strongroom:rotationSchedule", "hour, hours, day or days"}},
		{"cron minutes not 0", map[string]any{dbconfig.KeyRotationSchedule: "cron(15 4 ? * SUN *)"}, []string{"context strongroom:rotationSchedule", "Minutes", "must be 0"}},
		{"cron year not *", map[string]any{dbconfig.KeyRotationSchedule: "cron(0 4 ? * SUN 2027)"}, []string{"context strongroom:rotationSchedule", "Year", "must be *"}},
		{"cron without ?", map[string]any{dbconfig.KeyRotationSchedule: "cron(0 4 1 * SUN *)"}, []string{"context strongroom:rotationSchedule", "exactly one of them must be ?"}},
		{"cron bad month", map[string]any{dbconfig.KeyRotationSchedule: "cron(0 4 1 13 ? *)"}, []string{"context strongroom:rotationSchedule", "Month"}},
		{"cron windows two hours apart", map[string]any{dbconfig.KeyRotationSchedule: "cron(0 1,3 * * ? *)", dbconfig.KeyRotationWindow: "1h"}, []string{"context strongroom:rotationSchedule", "at most every 4 hours"}},
		{"window in minutes", map[string]any{dbconfig.KeyRotationWindow: "30m"}, []string{"context strongroom:rotationWindow", "[0-9]+h"}},
		{"window past midnight", map[string]any{dbconfig.KeyRotationSchedule: "cron(0 23 ? * SAT *)", dbconfig.KeyRotationWindow: "2h"}, []string{"context strongroom:rotationWindow", "next UTC day"}},
		{"window longer than the interval", map[string]any{dbconfig.KeyRotationSchedule: "rate(6 hours)", dbconfig.KeyRotationWindow: "8h"}, []string{"context strongroom:rotationWindow", "at most 6h"}},
		{"backups off", map[string]any{dbconfig.KeyBackupRetentionDays: "0"}, []string{"context strongroom:dbBackupRetentionDays", "1-35"}},
		{"deletion protection not a boolean", map[string]any{dbconfig.KeyDeletionProtection: "no"}, []string{"context strongroom:dbDeletionProtection", "true or false"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, err := cdkContext()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.ctx {
				ctx[k] = v
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
			_, err = database.ReadConfig(app)
			if err == nil {
				t.Fatalf("context %v accepted", c.ctx)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestInvalidProps(t *testing.T) {
	cfg, err := dbconfig.Read(func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	amd64Dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(amd64Dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	withVpc := cfg
	withVpc.VpcID = "vpc-0a1b2c3d4e5f67890"
	cases := []struct {
		name    string
		stackID string
		props   *database.DatabaseStackProps
		want    string
	}{
		{"nil props", "Db", nil, "props are required"},
		{"config not read", "Db", &database.DatabaseStackProps{RotationAssetDir: rotateDir}, "build Config with dbconfig.Read"},
		{"no bootstrap", "Db", &database.DatabaseStackProps{RotationAssetDir: t.TempDir(), Config: cfg}, "make build"},
		{"bootstrap not arm64", "Db", &database.DatabaseStackProps{RotationAssetDir: amd64Dir, Config: cfg}, "GOARCH=arm64"},
		{"stack id makes a bad instance identifier", "Strongroom_Db", &database.DatabaseStackProps{RotationAssetDir: rotateDir, Config: cfg}, "DB instance identifier"},
		{"stack id too long", strings.Repeat("D", 60), &database.DatabaseStackProps{RotationAssetDir: rotateDir, Config: cfg}, "at most 63 characters"},
		{"VPC import without an environment", "Db", &database.DatabaseStackProps{RotationAssetDir: rotateDir, Config: withVpc}, "needs a concrete account and region"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			_, err := database.NewDatabaseStack(app, c.stackID, c.props)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestImportedVpc uses a VPC found by the cdk CLI's lookup (given here as the context value the
// lookup stores in cdk.context.json): its isolated subnets, and no VPC of the stack's own.
func TestImportedVpc(t *testing.T) {
	const (
		account = "111122223333"
		region  = "eu-west-1"
		vpcID   = "vpc-0a1b2c3d4e5f67890"
	)
	cfg, err := dbconfig.Read(func(k string) any { return map[string]any{dbconfig.KeyVpcID: vpcID}[k] })
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("vpc-provider:account=%s:filter.vpc-id=%s:region=%s:returnAsymmetricSubnets=true", account, vpcID, region)
	subnet := func(id, az string) map[string]any {
		return map[string]any{"subnetId": id, "cidr": "10.1.0.0/24", "availabilityZone": az, "routeTableId": "rtb-" + id[7:]}
	}
	lookup := map[string]any{
		"vpcId": vpcID, "vpcCidrBlock": "10.1.0.0/16", "availabilityZones": []any{},
		"subnetGroups": []any{
			map[string]any{"name": "Public", "type": "Public", "subnets": []any{subnet("subnet-0000000000000000a", "eu-west-1a"), subnet("subnet-0000000000000000b", "eu-west-1b")}},
			map[string]any{"name": "Data", "type": "Isolated", "subnets": []any{subnet("subnet-1111111111111111a", "eu-west-1a"), subnet("subnet-1111111111111111b", "eu-west-1b")}},
		},
	}
	env := &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	t.Run("lookup pending", func(t *testing.T) {
		out := t.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
		s, err := database.NewDatabaseStack(app, "Pending", &database.DatabaseStackProps{StackProps: awscdk.StackProps{Env: env}, RotationAssetDir: rotateDir, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if s.Instance != nil {
			t.Error("declared an instance before the VPC lookup")
		}
		// The cdk CLI reads the lookups it must perform from the assembly's manifest.
		app.Synth(nil)
		raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		var manifest struct {
			Missing []struct{ Key, Provider string } `json:"missing"`
		}
		if err := json.Unmarshal(raw, &manifest); err != nil {
			t.Fatal(err)
		}
		if len(manifest.Missing) != 1 || manifest.Missing[0].Key != key || manifest.Missing[0].Provider != "vpc-provider" {
			t.Errorf("missing context %+v, want the lookup %s", manifest.Missing, key)
		}
	})
	t.Run("no isolated subnets", func(t *testing.T) {
		noIsolated := map[string]any{"vpcId": vpcID, "vpcCidrBlock": "10.1.0.0/16", "availabilityZones": []any{}, "subnetGroups": lookup["subnetGroups"].([]any)[:1]}
		app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{key: noIsolated}, Outdir: jsii.String(t.TempDir())})
		_, err := database.NewDatabaseStack(app, "NoIsolated", &database.DatabaseStackProps{StackProps: awscdk.StackProps{Env: env}, RotationAssetDir: rotateDir, Config: cfg})
		if err == nil || !strings.Contains(err.Error(), "has no isolated subnets") || !strings.Contains(err.Error(), dbconfig.KeyVpcID) {
			t.Fatalf("err = %v, want one saying the VPC has no isolated subnets", err)
		}
	})
	t.Run("found", func(t *testing.T) {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{key: lookup}, Outdir: jsii.String(t.TempDir())})
		s, err := database.NewDatabaseStack(app, "Imported", &database.DatabaseStackProps{StackProps: awscdk.StackProps{Env: env}, RotationAssetDir: rotateDir, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		tmpl := assertions.Template_FromStack(s.Stack, nil)
		templatetest.Count(t, tmpl, "AWS::EC2::VPC", 0)
		templatetest.Count(t, tmpl, "AWS::EC2::Subnet", 0)
		isolated := []any{"subnet-1111111111111111a", "subnet-1111111111111111b"}
		templatetest.Has(t, tmpl, "AWS::RDS::DBSubnetGroup", map[string]any{"SubnetIds": isolated})
		templatetest.Has(t, tmpl, "AWS::EC2::VPCEndpoint", map[string]any{"VpcId": vpcID, "SubnetIds": isolated})
		// Every function but the relay, which answers CloudFormation from outside the VPC.
		templatetest.Count(t, tmpl, "AWS::Lambda::Function", 4)
		if n := len(*tmpl.FindResources(jsii.String("AWS::Lambda::Function"), map[string]any{"Properties": map[string]any{
			"VpcConfig": assertions.Match_ObjectLike(&map[string]any{"SubnetIds": isolated}),
		}})); n != 3 {
			t.Errorf("%d functions in the isolated subnets, want 3", n)
		}
		templatetest.Has(t, tmpl, "AWS::EC2::SecurityGroup", map[string]any{"VpcId": vpcID})
	})
}

// TestCABundleNotice: synthesis says when the asset directory lacks the RDS CA bundle that
// DB_CA_BUNDLE names, and is silent when it is there.
func TestCABundleNotice(t *testing.T) {
	notice := assertions.Match_StringLikeRegexp(jsii.String("rds-global-bundle.pem is missing"))
	if n := len(*assertions.Annotations_FromStack(defStack).FindInfo(jsii.String("*"), notice)); n != 2 {
		t.Errorf("%d notices about the missing CA bundle, want 2 (the rotation functions' asset, the application user function's)", n)
	}
	withBundle := t.TempDir()
	b, err := os.ReadFile(filepath.Join(rotateDir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withBundle, "bootstrap"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withBundle, database.CABundleFile), []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := dbconfig.Read(func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	s, err := database.NewDatabaseStack(app, "WithBundle", &database.DatabaseStackProps{RotationAssetDir: withBundle, UserAssetDir: withBundle, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(*assertions.Annotations_FromStack(s.Stack).FindInfo(jsii.String("*"), notice)); n != 0 {
		t.Errorf("%d notices about a CA bundle that is there", n)
	}
}

func TestAllowApplication(t *testing.T) {
	tmpl, err := templatetest.JSON(custom)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := templatetest.Only(t, tmpl, "AWS::EC2::SecurityGroup", "AppSecurityGroup")
	db, _ := templatetest.Only(t, tmpl, "AWS::EC2::SecurityGroup", "DatabaseSecurityGroup")
	endpoint, _ := templatetest.Only(t, tmpl, "AWS::EC2::SecurityGroup", "SecretsManagerEndpointSecurityGroup")
	role, _ := templatetest.Only(t, tmpl, "AWS::IAM::Role", "AppRole")
	userAttach, _ := templatetest.Only(t, tmpl, "AWS::SecretsManager::SecretTargetAttachment", "UserSecret")
	key, _ := templatetest.Only(t, tmpl, "AWS::KMS::Key", "DatabaseKey")
	for _, r := range []struct{ group, port string }{{db, "3306"}, {endpoint, "443"}} {
		port := map[string]any{"IpProtocol": "tcp", "FromPort": jsonNumber(r.port), "ToPort": jsonNumber(r.port)}
		in := map[string]any{"GroupId": groupID(r.group), "SourceSecurityGroupId": groupID(app)}
		out := map[string]any{"GroupId": groupID(app), "DestinationSecurityGroupId": groupID(r.group)}
		for k, v := range port {
			in[k], out[k] = v, v
		}
		templatetest.Has(t, custom, "AWS::EC2::SecurityGroupIngress", in)
		templatetest.Has(t, custom, "AWS::EC2::SecurityGroupEgress", out)
	}
	templatetest.Has(t, custom, "AWS::IAM::Policy", map[string]any{
		"Roles": []any{ref(role)},
		"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": ref(userAttach)},
			map[string]any{"Action": "kms:Decrypt", "Effect": "Allow", "Resource": arn(key)},
		}},
	})
}

func jsonNumber(s string) float64 {
	var f float64
	fmt.Sscan(s, &f)
	return f
}

// TestAlarms: the instance's CPU alarm (average at or above AlarmCPUPercent for three 5-minute
// periods), free-storage alarm (minimum at or below AlarmFreeStorageBytes) and connections alarm
// (maximum at or above 80% of max_connections: t4g.micro's estimate by default, the context's
// value when given); without an AlarmTopic they notify nothing (infra's checkAlarmsNotify covers
// the app, where they notify the alert topic).
func TestAlarms(t *testing.T) {
	id, _ := only(t, "AWS::RDS::DBInstance", "Database")
	dims := []any{map[string]any{"Name": "DBInstanceIdentifier", "Value": ref(id)}}
	templatetest.Count(t, def, "AWS::CloudWatch::Alarm", 3)
	templatetest.Has(t, def, "AWS::CloudWatch::Alarm", map[string]any{
		"Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Statistic": "Average", "Period": float64(300), "Dimensions": dims,
		"Threshold": float64(database.AlarmCPUPercent), "EvaluationPeriods": float64(3), "ComparisonOperator": "GreaterThanOrEqualToThreshold",
	})
	templatetest.Has(t, def, "AWS::CloudWatch::Alarm", map[string]any{
		"Namespace": "AWS/RDS", "MetricName": "FreeStorageSpace", "Statistic": "Minimum", "Period": float64(300), "Dimensions": dims,
		"Threshold": float64(database.AlarmFreeStorageBytes), "EvaluationPeriods": float64(1), "ComparisonOperator": "LessThanOrEqualToThreshold",
	})
	if database.AlarmFreeStorageBytes*10 != 20<<30 {
		t.Errorf("AlarmFreeStorageBytes %d; want a tenth of the 20 GiB allocated", database.AlarmFreeStorageBytes)
	}
	// t4g.micro: 64 estimated (dbconfig.EstimatedMaxConnections), 80% of it rounded down.
	connections := func(tmpl assertions.Template, dims []any, threshold float64, description string) {
		t.Helper()
		templatetest.Has(t, tmpl, "AWS::CloudWatch::Alarm", map[string]any{
			"Namespace": "AWS/RDS", "MetricName": "DatabaseConnections", "Statistic": "Maximum", "Period": float64(300), "Dimensions": dims,
			"Threshold": threshold, "EvaluationPeriods": float64(1), "ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"AlarmDescription": assertions.Match_StringLikeRegexp(jsii.String(description)),
		})
	}
	connections(def, dims, 51, `51 or more connections, 80% of its max_connections of about 64 \(estimated from db.t4g.micro's 1 GiB; set strongroom:dbMaxConnections`)
	customTmpl, err := templatetest.JSON(custom)
	if err != nil {
		t.Fatal(err)
	}
	customID, _ := templatetest.Only(t, customTmpl, "AWS::RDS::DBInstance", "Database")
	connections(custom, []any{map[string]any{"Name": "DBInstanceIdentifier", "Value": ref(customID)}}, 200,
		`200 or more connections, 80% of its max_connections of 250 \(strongroom:dbMaxConnections\)`)
	if got := database.ConnectionsThreshold(int(customMaxConnections)); got != 200 {
		t.Errorf("ConnectionsThreshold(%v) = %d; want 200", customMaxConnections, got)
	}
	for _, p := range templatetest.Resources(defJSON, "AWS::CloudWatch::Alarm") {
		if p["AlarmActions"] != nil || p["OKActions"] != nil {
			t.Errorf("alarm without a topic has actions: %v", p)
		}
	}
}

// TestConfigWithoutMaxConnections: a Config not built by dbconfig.Read (MaxConnections 0) is
// refused before anything is declared, instead of an alarm whose threshold is 0.
func TestConfigWithoutMaxConnections(t *testing.T) {
	cfg, err := dbconfig.Read(func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConnections = 0
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err = database.NewDatabaseStack(app, "NoMax", &database.DatabaseStackProps{RotationAssetDir: rotateDir, Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "MaxConnections") || !strings.Contains(err.Error(), "dbconfig.Read") {
		t.Fatalf("err = %v; want one naming Config.MaxConnections and dbconfig.Read", err)
	}
}

// TestDashboard: the dashboard shows every alarm, the instance's CPU, free storage, connections
// (with lines at the alarm's threshold and max_connections) and latencies, and both rotation
// functions' errors.
func TestDashboard(t *testing.T) {
	body := templatetest.DashboardBody(t, defJSON)
	if len(defDB.Alarms) != 3 {
		t.Errorf("%d alarms; want CPU, free storage and connections", len(defDB.Alarms))
	}
	templatetest.DashboardShowsAlarms(t, body, defDB.Alarms)
	if defDB.ConnectionsAlarm == nil || !slices.Contains(defDB.Alarms, defDB.ConnectionsAlarm) {
		t.Error("ConnectionsAlarm is not one of Alarms")
	}
	instance := "${" + templatetest.LogicalID(defDB.Instance) + "}"
	for _, m := range []string{"CPUUtilization", "FreeStorageSpace", "DatabaseConnections", "ReadLatency", "WriteLatency"} {
		if !strings.Contains(body, `"`+m+`","DBInstanceIdentifier","`+instance+`"`) {
			t.Errorf("the dashboard has no %s of the instance", m)
		}
	}
	for _, line := range []string{`{"label":"alarm: 51 (80%)","value":51,`, `{"label":"max_connections (estimate): 64","value":64,`,
		fmt.Sprintf(`"value":%d,`, database.AlarmFreeStorageBytes), fmt.Sprintf(`"value":%d,`, database.AlarmCPUPercent)} {
		if !strings.Contains(body, line) {
			t.Errorf("the dashboard has no line %s", line)
		}
	}
	for _, fn := range []*golambda.Function{defDB.UserRotation, defDB.SuperuserRotation, defDB.UserFunction, defDB.UserRelay} {
		if !strings.Contains(body, `"Errors","FunctionName","${`+templatetest.LogicalID(fn.Function)+`}"`) {
			t.Errorf("the dashboard has no errors of %s", templatetest.LogicalID(fn.Function))
		}
	}
}

// TestApplicationUser: the stack creates the application user with Custom::DatabaseUser, served by
// the relay (outside the VPC) with the grants from context, and the user secret's schedule waits
// for it (TestRotationSchedules); the functions' grants are in TestRotationPermissions.
func TestApplicationUser(t *testing.T) {
	relay, relayProps := only(t, "AWS::Lambda::Function", "ApplicationUserRelay")
	userFn, userProps := only(t, "AWS::Lambda::Function", "ApplicationUserFunction")
	userAttach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", "UserSecret")
	superAttach, _ := only(t, "AWS::SecretsManager::SecretTargetAttachment", "SuperuserSecret")
	cases := []struct {
		name   string
		tmpl   assertions.Template
		grants []any
	}{
		{"default grants", def, []any{"DELETE, INSERT, SELECT, UPDATE ON app.*"}},
		{"grants from context", custom, []any{"SELECT ON app.*", "INSERT, UPDATE ON app.orders"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			templatetest.Count(t, c.tmpl, "Custom::DatabaseUser", 1)
			templatetest.Has(t, c.tmpl, "Custom::DatabaseUser", map[string]any{
				"ServiceToken": arn(relay), "ServiceTimeout": fmt.Sprint(database.UserServiceTimeoutSeconds),
				"SuperuserSecretArn": ref(superAttach), "UserSecretArn": ref(userAttach), "Grants": c.grants,
			})
		})
	}
	res := defJSON["Resources"].(map[string]any)["ApplicationUser"].(map[string]any)
	if res["Type"] != "Custom::DatabaseUser" {
		t.Fatalf("ApplicationUser is %v", res["Type"])
	}
	deps := jsonString(t, res["DependsOn"])
	for _, want := range []string{"ApplicationUserFunctionRoleDefaultPolicy", "ApplicationUserRelayRoleDefaultPolicy", "SecretsManagerEndpoint", "Database"} {
		if !strings.Contains(deps, want) {
			t.Errorf("ApplicationUser DependsOn %s lacks %s", deps, want)
		}
	}
	// The relay knows only which function to invoke; the function only how to verify the
	// database. Neither holds a secret.
	if got := jsonString(t, relayProps["Environment"]); got != jsonString(t, map[string]any{"Variables": map[string]any{"TARGET_FUNCTION": ref(userFn)}}) {
		t.Errorf("relay environment %s", got)
	}
	if got := jsonString(t, userProps["Environment"]); got != jsonString(t, map[string]any{"Variables": map[string]any{
		"DB_CA_BUNDLE": "/var/task/rds-global-bundle.pem", "DB_TLS": "required"}}) {
		t.Errorf("user function environment %s", got)
	}
	if relayProps["Timeout"] != float64(database.UserRelayTimeoutSeconds) || userProps["Timeout"] != float64(database.RotationTimeoutSeconds) ||
		database.UserRelayTimeoutSeconds <= database.RotationTimeoutSeconds || database.UserServiceTimeoutSeconds <= database.UserRelayTimeoutSeconds {
		t.Errorf("timeouts: relay %v, function %v, service %d; the relay must outlast the function, and CloudFormation the relay",
			relayProps["Timeout"], userProps["Timeout"], database.UserServiceTimeoutSeconds)
	}
}
