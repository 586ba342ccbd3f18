package kms_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestAWSCLIAgainstTheSandbox drives CloudHSM, KMS and SSM of the complete sandbox with the AWS
// CLI, an independent client (sandboxtest.AWSCLIPath: install it with `make deps` to run the suite).
func TestAWSCLIAgainstTheSandbox(t *testing.T) {
	env := sandboxtest.New(t, sandboxtest.Scale(3000))
	cli := sandboxtest.NewCLI(t, sandboxtest.Context(t, 3*time.Minute), env.URL)

	var created struct {
		Cluster struct{ ClusterId, State string }
	}
	cli.RunInto(&created, "cloudhsmv2", "create-cluster", "--hsm-type", "hsm2m.medium", "--subnet-ids", ec2.DefaultSubnetIDs[0], ec2.DefaultSubnetIDs[1])
	if created.Cluster.State != "CREATE_IN_PROGRESS" || !strings.HasPrefix(created.Cluster.ClusterId, "cluster-") {
		t.Fatalf("create-cluster: %+v", created)
	}
	var described struct {
		Clusters []struct {
			ClusterId, State, VpcId string
			CreateTimestamp         any
			SubnetMapping           map[string]string
		}
	}
	cli.RunInto(&described, "cloudhsmv2", "describe-clusters", "--filters", "clusterIds="+created.Cluster.ClusterId)
	if len(described.Clusters) != 1 || described.Clusters[0].VpcId != ec2.DefaultVPCID || described.Clusters[0].CreateTimestamp == nil || len(described.Clusters[0].SubnetMapping) != 2 {
		t.Fatalf("describe-clusters: %+v", described)
	}
	cli.WantError("CloudHsmInvalidRequestException", "cloudhsmv2", "create-cluster", "--hsm-type", "hsm1.medium", "--subnet-ids", ec2.DefaultSubnetIDs[0])

	var stores struct{ CustomKeyStores []any }
	cli.RunInto(&stores, "kms", "describe-custom-key-stores")
	cli.WantError("CustomKeyStoreNotFoundException", "kms", "describe-custom-key-stores", "--custom-key-store-id", "cks-1234567890abcdef0")
	var key struct {
		KeyMetadata struct{ KeyId, KeyState string }
	}
	cli.RunInto(&key, "kms", "create-key", "--description", "cli")
	// fileb:// passes raw bytes with CLI v1 and v2 alike.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/plain", []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	var enc struct{ CiphertextBlob string }
	cli.RunInto(&enc, "kms", "encrypt", "--key-id", key.KeyMetadata.KeyId, "--plaintext", "fileb://"+dir+"/plain")
	blob, _ := base64.StdEncoding.DecodeString(enc.CiphertextBlob)
	if err := os.WriteFile(dir+"/blob", blob, 0o600); err != nil {
		t.Fatal(err)
	}
	var dec struct{ Plaintext string }
	cli.RunInto(&dec, "kms", "decrypt", "--ciphertext-blob", "fileb://"+dir+"/blob")
	if p, _ := base64.StdEncoding.DecodeString(dec.Plaintext); string(p) != "hello" {
		t.Fatalf("decrypt: %q", dec.Plaintext)
	}

	var doc struct {
		Document struct{ Name, Status, SchemaVersion string }
	}
	cli.RunInto(&doc, "ssm", "describe-document", "--name", hsmdocs.ActivateCluster)
	if doc.Document.Status != "Active" || doc.Document.SchemaVersion != "2.2" {
		t.Fatalf("describe-document: %+v", doc)
	}
	cli.WantError("InvalidInstanceId", "ssm", "send-command", "--document-name", hsmdocs.DeleteCryptoUser, "--instance-ids", "i-0123456789abcdef0",
		"--parameters", "ClusterId="+created.Cluster.ClusterId+",HsmIp=10.0.0.4,Region=us-east-1,CustomerCaCertSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf,AdminPasswordSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:b-AbCdEf")
	var sent struct {
		Command struct{ CommandId, Status string }
	}
	cli.RunInto(&sent, "ssm", "send-command", "--document-name", hsmdocs.DeleteCryptoUser, "--instance-ids", ec2.DefaultInstanceID,
		"--parameters", "ClusterId="+created.Cluster.ClusterId+",HsmIp=10.0.0.4,Region=us-east-1,CustomerCaCertSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf,AdminPasswordSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:b-AbCdEf")
	if sent.Command.Status != "Pending" {
		t.Fatalf("send-command: %+v", sent)
	}
	var listed struct{ Commands []struct{ CommandId string } }
	cli.RunInto(&listed, "ssm", "list-commands", "--command-id", sent.Command.CommandId)
	if len(listed.Commands) != 1 {
		t.Fatalf("list-commands: %+v", listed)
	}
}
