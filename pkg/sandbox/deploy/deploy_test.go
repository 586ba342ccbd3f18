package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
