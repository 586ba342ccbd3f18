package kms_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/sandboxtest"
)

// awsCLI runs the AWS CLI (an independent client: botocore's own service models) against the
// sandbox and decodes its JSON output. wantErr, when set, is the error code the call must fail with.
func awsCLI(t *testing.T, url, wantErr string, out any, args ...string) {
	t.Helper()
	cmd := exec.Command("aws", append(args, "--endpoint-url", url, "--region", "us-east-1", "--output", "json")...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+sandbox.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+sandbox.SecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if wantErr != "" {
		if err == nil || !strings.Contains(stderr.String(), "("+wantErr+")") {
			t.Fatalf("aws %s: want error %s, got %v\n%s", strings.Join(args, " "), wantErr, err, stderr.String())
		}
		return
	}
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout.String()), out); err != nil {
			t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout.String())
		}
	}
}

// TestAWSCLIAgainstTheSandbox drives CloudHSM, KMS and SSM of the complete sandbox with the AWS
// CLI. It needs the `aws` command (Debian's awscli, or pip's): install it to run the suite.
func TestAWSCLIAgainstTheSandbox(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI is needed as an independent client: install awscli (apt-get install awscli)")
	}
	env := sandboxtest.New(t, sandboxtest.Scale(3000))
	url := env.URL

	var created struct {
		Cluster struct{ ClusterId, State string }
	}
	awsCLI(t, url, "", &created, "cloudhsmv2", "create-cluster", "--hsm-type", "hsm2m.medium", "--subnet-ids", ec2.DefaultSubnetIDs[0], ec2.DefaultSubnetIDs[1])
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
	awsCLI(t, url, "", &described, "cloudhsmv2", "describe-clusters", "--filters", "clusterIds="+created.Cluster.ClusterId)
	if len(described.Clusters) != 1 || described.Clusters[0].VpcId != ec2.DefaultVPCID || described.Clusters[0].CreateTimestamp == nil || len(described.Clusters[0].SubnetMapping) != 2 {
		t.Fatalf("describe-clusters: %+v", described)
	}
	awsCLI(t, url, "CloudHsmInvalidRequestException", nil, "cloudhsmv2", "create-cluster", "--hsm-type", "hsm1.medium", "--subnet-ids", ec2.DefaultSubnetIDs[0])

	var stores struct{ CustomKeyStores []any }
	awsCLI(t, url, "", &stores, "kms", "describe-custom-key-stores")
	awsCLI(t, url, "CustomKeyStoreNotFoundException", nil, "kms", "describe-custom-key-stores", "--custom-key-store-id", "cks-1234567890abcdef0")
	var key struct {
		KeyMetadata struct{ KeyId, KeyState string }
	}
	awsCLI(t, url, "", &key, "kms", "create-key", "--description", "cli")
	// fileb:// passes raw bytes with CLI v1 and v2 alike.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/plain", []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	var enc struct{ CiphertextBlob string }
	awsCLI(t, url, "", &enc, "kms", "encrypt", "--key-id", key.KeyMetadata.KeyId, "--plaintext", "fileb://"+dir+"/plain")
	blob, _ := base64.StdEncoding.DecodeString(enc.CiphertextBlob)
	if err := os.WriteFile(dir+"/blob", blob, 0o600); err != nil {
		t.Fatal(err)
	}
	var dec struct{ Plaintext string }
	awsCLI(t, url, "", &dec, "kms", "decrypt", "--ciphertext-blob", "fileb://"+dir+"/blob")
	if p, _ := base64.StdEncoding.DecodeString(dec.Plaintext); string(p) != "hello" {
		t.Fatalf("decrypt: %q", dec.Plaintext)
	}

	var doc struct {
		Document struct{ Name, Status, SchemaVersion string }
	}
	awsCLI(t, url, "", &doc, "ssm", "describe-document", "--name", hsmdocs.ActivateCluster)
	if doc.Document.Status != "Active" || doc.Document.SchemaVersion != "2.2" {
		t.Fatalf("describe-document: %+v", doc)
	}
	awsCLI(t, url, "InvalidInstanceId", nil, "ssm", "send-command", "--document-name", hsmdocs.DeleteCryptoUser, "--instance-ids", "i-0123456789abcdef0",
		"--parameters", "ClusterId="+created.Cluster.ClusterId+",HsmIp=10.0.0.4,Region=us-east-1,CustomerCaCertSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf,AdminPasswordSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:b-AbCdEf")
	var sent struct {
		Command struct{ CommandId, Status string }
	}
	awsCLI(t, url, "", &sent, "ssm", "send-command", "--document-name", hsmdocs.DeleteCryptoUser, "--instance-ids", ec2.DefaultInstanceID,
		"--parameters", "ClusterId="+created.Cluster.ClusterId+",HsmIp=10.0.0.4,Region=us-east-1,CustomerCaCertSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf,AdminPasswordSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:b-AbCdEf")
	if sent.Command.Status != "Pending" {
		t.Fatalf("send-command: %+v", sent)
	}
	var listed struct{ Commands []struct{ CommandId string } }
	awsCLI(t, url, "", &listed, "ssm", "list-commands", "--command-id", sent.Command.CommandId)
	if len(listed.Commands) != 1 {
		t.Fatalf("list-commands: %+v", listed)
	}
}
