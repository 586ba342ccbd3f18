package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// writeTemplate writes a stack's template into a cloud assembly directory, as `cdk synth` would.
func writeTemplate(t *testing.T, dir, stack string, tmpl map[string]any) {
	t.Helper()
	b, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stack+".template.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDynamoDBTable deploys AWS::DynamoDB::Table as CDK synthesizes the alert state table
// (infra/alerts): on demand, a TTL attribute, encrypted with the stack's KMS key. Ref gives the
// table's name and Fn::GetAtt Arn its ARN, to other resources and outputs alike.
func TestDynamoDBTable(t *testing.T) {
	env := sandboxtest.New(t)
	dir := t.TempDir()
	table := map[string]any{
		"KeySchema":                        []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
		"AttributeDefinitions":             []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"TimeToLiveSpecification":          map[string]any{"AttributeName": "expiresAt", "Enabled": true},
		"SSESpecification":                 map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": map[string]any{"Fn::GetAtt": []any{"StateKey", "Arn"}}},
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": false},
	}
	writeTemplate(t, dir, "Alerts", map[string]any{
		"Resources": map[string]any{
			"StateKey":   map[string]any{"Type": "AWS::KMS::Key", "Properties": map[string]any{"Description": "alert state"}},
			"StateTable": map[string]any{"Type": "AWS::DynamoDB::Table", "Properties": table},
			"Provisioned": map[string]any{"Type": "AWS::DynamoDB::Table", "Properties": map[string]any{
				"TableName":             "fixed-name",
				"KeySchema":             []any{map[string]any{"AttributeName": "id", "KeyType": "HASH"}, map[string]any{"AttributeName": "at", "KeyType": "RANGE"}},
				"AttributeDefinitions":  []any{map[string]any{"AttributeName": "id", "AttributeType": "S"}, map[string]any{"AttributeName": "at", "AttributeType": "N"}},
				"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": "2", "WriteCapacityUnits": 1},
			}},
		},
		"Outputs": map[string]any{
			"TableArn": map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"StateTable", "Arn"}}, "Export": map[string]any{"Name": "AlertStateTableArn"}},
		},
	})
	d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
	ctx := sandboxtest.Context(t, 30*time.Second)
	st, err := d.Deploy(ctx, "Alerts")
	if err != nil {
		t.Fatal(err)
	}
	name, err := st.Resolve(map[string]any{"Ref": "StateTable"})
	if err != nil || name != "Alerts-StateTable" {
		t.Fatalf("Ref StateTable = %v, %v", name, err)
	}
	arn, err := st.Resolve(map[string]any{"Fn::GetAtt": []any{"StateTable", "Arn"}})
	if err != nil || arn != "arn:aws:dynamodb:us-east-1:123456789012:table/Alerts-StateTable" {
		t.Fatalf("Fn::GetAtt StateTable.Arn = %v, %v", arn, err)
	}
	if len(st.NotEmulated) != 0 {
		t.Errorf("not emulated: %v", st.NotEmulated)
	}

	client := dynamodb.NewFromConfig(env.NoRetryConfig())
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("Alerts-StateTable")})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := st.Attr("StateKey", "Arn")
	if tbl := desc.Table; aws.ToString(tbl.TableArn) != arn || tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != types.BillingModePayPerRequest ||
		tbl.SSEDescription == nil || aws.ToString(tbl.SSEDescription.KMSMasterKeyArn) != keyARN || keyARN == nil {
		t.Fatalf("table %+v, want on demand and encrypted with %v", tbl, keyARN)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("Alerts-StateTable")})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
		t.Fatalf("time to live: %v %+v", err, ttl)
	}
	fixed, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("fixed-name")})
	if err != nil || len(fixed.Table.KeySchema) != 2 || aws.ToInt64(fixed.Table.ProvisionedThroughput.ReadCapacityUnits) != 2 || fixed.Table.SSEDescription != nil {
		t.Fatalf("provisioned table: %v %+v", err, fixed)
	}

	// A property the sandbox would silently drop fails the deploy, naming it.
	writeTemplate(t, dir, "Streams", map[string]any{"Resources": map[string]any{"T": map[string]any{"Type": "AWS::DynamoDB::Table", "Properties": map[string]any{
		"KeySchema": table["KeySchema"], "AttributeDefinitions": table["AttributeDefinitions"], "BillingMode": "PAY_PER_REQUEST",
		"StreamSpecification": map[string]any{"StreamViewType": "NEW_IMAGE"},
	}}}})
	if _, err := d.Deploy(ctx, "Streams"); err == nil || !strings.Contains(err.Error(), "StreamSpecification") {
		t.Fatalf("deploy of a table with a stream: %v", err)
	}
}

// TestDatabaseResources deploys the database resources as infra/database synthesizes them: a
// secret CloudFormation generates from a template, an RDS instance whose master credentials are
// dynamic references to it (created on the Database the deployer is given), the secret's target
// attachment (host, port, engine, instance id added as a new current version) and a rotation
// schedule that only tests the function (RotateImmediatelyOnUpdate false: testSecret alone).
func TestDatabaseResources(t *testing.T) {
	env := sandboxtest.New(t)
	dir := t.TempDir()
	fn, err := env.Lambda.RegisterHandler("rotator", func(context.Context, []byte) ([]byte, error) { return []byte(`null`), nil })
	if err != nil {
		t.Fatal(err)
	}
	ref := func(id string) map[string]any { return map[string]any{"Ref": id} }
	resolve := func(key string) map[string]any {
		return map[string]any{"Fn::Join": []any{"", []any{"{{resolve:secretsmanager:", ref("Super"), ":SecretString:" + key + "::}}"}}}
	}
	writeTemplate(t, dir, "Database", map[string]any{
		"Resources": map[string]any{
			"Super": map[string]any{"Type": "AWS::SecretsManager::Secret", "Properties": map[string]any{"GenerateSecretString": map[string]any{
				"SecretStringTemplate": `{"username":"admin","dbname":"app"}`, "GenerateStringKey": "password", "PasswordLength": 30, "ExcludeCharacters": "\"@/\\'",
			}}},
			"DB": map[string]any{"Type": "AWS::RDS::DBInstance", "Properties": map[string]any{
				"Engine": "mariadb", "DBName": "app", "DBInstanceIdentifier": "My-DB", "MasterUsername": resolve("username"), "MasterUserPassword": resolve("password"),
			}},
			"Attach": map[string]any{"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": map[string]any{
				"SecretId": ref("Super"), "TargetId": ref("DB"), "TargetType": "AWS::RDS::DBInstance",
			}},
			"Schedule": map[string]any{"Type": "AWS::SecretsManager::RotationSchedule", "Properties": map[string]any{
				"SecretId": ref("Attach"), "RotationLambdaARN": fn, "RotateImmediatelyOnUpdate": false,
				"RotationRules": map[string]any{"ScheduleExpression": "rate(30 days)", "Duration": "4h"},
			}},
		},
	})
	var master []string
	d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir, DB: &deploy.Database{Host: "127.0.0.1", Port: 13306,
		CreateMaster: func(_ context.Context, user, password, dbName string) error {
			master = append(master, user, password, dbName)
			return nil
		}}}
	ctx := sandboxtest.Context(t, 30*time.Second)
	st, err := d.Deploy(ctx, "Database")
	if err != nil {
		t.Fatal(err)
	}
	smc := secretsmanager.NewFromConfig(env.NoRetryConfig())
	arn := st.Physical("Super")
	if !strings.Contains(arn, ":secret:Super-") || st.Physical("Attach") != arn || st.Physical("Schedule") != arn {
		t.Fatalf("physical ids: secret %q, attachment %q, schedule %q; want the secret's ARN, named Super-<random>", arn, st.Physical("Attach"), st.Physical("Schedule"))
	}
	prev, err := smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn, VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil {
		t.Fatalf("the generated version, now AWSPREVIOUS: %v", err)
	}
	var generated map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(prev.SecretString)), &generated); err != nil {
		t.Fatal(err)
	}
	pw, _ := generated["password"].(string)
	if len(pw) != 30 || strings.ContainsAny(pw, "\"@/\\'") || generated["username"] != "admin" || len(generated) != 3 {
		t.Errorf("generated secret has keys %d, username %v, a password of %d characters (excluded ones: %v)", len(generated), generated["username"], len(pw), strings.ContainsAny(pw, "\"@/\\'"))
	}
	if len(master) != 3 || master[0] != "admin" || master[1] != pw || master[2] != "app" {
		t.Errorf("CreateMaster got user %v, the generated password %v, database %v", master[0], len(master) > 1 && master[1] == pw, master[len(master)-1])
	}
	cur, err := smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		t.Fatal(err)
	}
	var attached map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &attached); err != nil {
		t.Fatal(err)
	}
	if attached["host"] != "127.0.0.1" || attached["port"] != float64(13306) || attached["engine"] != "mariadb" || attached["dbInstanceIdentifier"] != "my-db" || attached["password"] != pw {
		t.Errorf("attached secret: host %v port %v engine %v id %v, password kept %v", attached["host"], attached["port"], attached["engine"], attached["dbInstanceIdentifier"], attached["password"] == pw)
	}
	desc, err := smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &arn})
	if err != nil || !aws.ToBool(desc.RotationEnabled) || aws.ToString(desc.RotationLambdaARN) != fn || aws.ToString(desc.RotationRules.Duration) != "4h" {
		t.Fatalf("rotation configuration: %v %+v", err, desc)
	}
	for ctx.Err() == nil {
		if busy, _ := env.SecretsManager.Rotating(arn); !busy {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var steps []string
	for _, inv := range env.Lambda.History("rotator") {
		var ev struct{ Step string }
		_ = json.Unmarshal(inv.Payload, &ev)
		steps = append(steps, ev.Step)
	}
	if strings.Join(steps, ",") != "testSecret" {
		t.Errorf("the schedule's first rotation ran %v; want testSecret alone (RotateImmediatelyOnUpdate false)", steps)
	}

	// Without a database server the instance cannot stand, and the error says what to set.
	d.DB = nil
	if _, err := d.Deploy(ctx, "Database"); err == nil || !strings.Contains(err.Error(), "Deployer.DB") {
		t.Fatalf("deploy with no database server: %v", err)
	}
}
