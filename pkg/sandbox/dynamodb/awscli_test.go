package dynamodb_test

import (
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestAWSCLIAgainstTheSandbox drives the sandbox's DynamoDB with the AWS CLI, an independent
// client (botocore's own model and serializers; sandboxtest.AWSCLIPath, installed by `make deps`):
// a table as infra/alerts declares it, a conditional write, an update returning values, a
// consistent read, and two exceptions the CLI must decode by name. Each call starts the CLI
// (a second or more), so the other operations and messages are left to the SDK tests.
func TestAWSCLIAgainstTheSandbox(t *testing.T) {
	env := sandboxtest.New(t)
	cli := sandboxtest.NewCLI(t, sandboxtest.Context(t, 2*time.Minute), env.URL)

	var created struct {
		TableDescription struct{ TableStatus, TableArn string }
	}
	cli.RunInto(&created, "dynamodb", "create-table", "--table-name", "alert-state",
		"--attribute-definitions", "AttributeName=pk,AttributeType=S", "--key-schema", "AttributeName=pk,KeyType=HASH",
		"--billing-mode", "PAY_PER_REQUEST", "--sse-specification", "Enabled=true,SSEType=KMS,KMSMasterKeyId=alias/alerts")
	if created.TableDescription.TableStatus != "CREATING" || created.TableDescription.TableArn != "arn:aws:dynamodb:us-east-1:123456789012:table/alert-state" {
		t.Fatalf("create-table: %+v", created)
	}
	var described struct {
		Table struct {
			TableStatus    string
			SSEDescription struct{ KMSMasterKeyArn string }
		}
	}
	cli.RunInto(&described, "dynamodb", "describe-table", "--table-name", "alert-state")
	if described.Table.TableStatus != "ACTIVE" || described.Table.SSEDescription.KMSMasterKeyArn != "arn:aws:kms:us-east-1:123456789012:alias/alerts" {
		t.Fatalf("describe-table: %+v", described)
	}

	put := []string{"dynamodb", "put-item", "--table-name", "alert-state",
		"--item", `{"pk":{"S":"status/db"},"status":{"S":"FAILING"},"expiresAt":{"N":"1800000000"}}`,
		"--condition-expression", "attribute_not_exists(#pk)", "--expression-attribute-names", `{"#pk":"pk"}`}
	cli.Run(put...)
	cli.WantError("ConditionalCheckFailedException", put...)

	var updated struct{ Attributes map[string]map[string]string }
	cli.RunInto(&updated, "dynamodb", "update-item", "--table-name", "alert-state", "--key", `{"pk":{"S":"status/db"}}`,
		"--update-expression", "SET #s = :ok ADD #n :one", "--expression-attribute-names", `{"#s":"status","#n":"changes"}`,
		"--expression-attribute-values", `{":ok":{"S":"OK"},":one":{"N":"1"}}`, "--return-values", "UPDATED_OLD")
	if len(updated.Attributes) != 1 || updated.Attributes["status"]["S"] != "FAILING" {
		t.Fatalf("update-item UPDATED_OLD: %+v", updated)
	}
	var got struct{ Item map[string]map[string]string }
	cli.RunInto(&got, "dynamodb", "get-item", "--table-name", "alert-state", "--key", `{"pk":{"S":"status/db"}}`, "--consistent-read")
	if got.Item["status"]["S"] != "OK" || got.Item["changes"]["N"] != "1" || got.Item["expiresAt"]["N"] != "1800000000" {
		t.Fatalf("get-item: %+v", got)
	}
	cli.WantError("ResourceNotFoundException", "dynamodb", "describe-table", "--table-name", "no-such-table")
}
