package deploy_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestLogGroup deploys AWS::Logs::LogGroup under IAM enforcement as CDK synthesizes it: one with
// no LogGroupName (CloudFormation names it <stack>-<logical id>-<random>) and a retention, one named
// and encrypted with a key whose policy lets logs.<region>.amazonaws.com use it for that group's
// ARN (kms:EncryptionContext:aws:logs:arn, as the CloudWatch Logs User Guide writes it). Ref is the
// name, Fn::GetAtt Arn the ARN with ":*". Without the key's statement for CloudWatch Logs the
// deploy fails with CloudWatch Logs' InvalidParameterException.
func TestLogGroup(t *testing.T) {
	ctx := sandboxtest.Context(t, time.Minute)
	judge, err := iamjudge.Start(ctx, iamjudge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = judge.Close() })
	for _, withLogsStatement := range []bool{true, false} {
		env := sandboxtest.New(t)
		env.EnforceIAM(judge)
		statements := []any{map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + env.Account + ":root"}, "Action": "kms:*", "Resource": "*"}}
		if withLogsStatement {
			statements = append(statements, map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "logs.us-east-1.amazonaws.com"},
				"Action": []any{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"}, "Resource": "*",
				"Condition": map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:" + env.Account + ":log-group:/strongroom/*"}}})
		}
		dir := t.TempDir()
		writeTemplate(t, dir, "Logs", map[string]any{
			"Resources": map[string]any{
				"Key":       map[string]any{"Type": "AWS::KMS::Key", "Properties": map[string]any{"KeyPolicy": map[string]any{"Version": "2012-10-17", "Statement": statements}}},
				"RelayLogs": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{"RetentionInDays": 90}},
				"AuditLogs": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{
					"LogGroupName": "/strongroom/audit", "KmsKeyId": map[string]any{"Fn::GetAtt": []any{"Key", "Arn"}},
					"Tags": []any{map[string]any{"Key": "team", "Value": "vault"}}}},
			},
			"Outputs": map[string]any{"RelayLogsArn": map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"RelayLogs", "Arn"}}}},
		})
		d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
		st, err := d.Deploy(ctx, "Logs")
		if !withLogsStatement {
			if err == nil || !strings.Contains(err.Error(), "InvalidParameterException") || !strings.Contains(err.Error(), "log-group:/strongroom/audit") {
				t.Errorf("without the key's statement for CloudWatch Logs: deploy error %v, want InvalidParameterException naming the group", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(st.NotEmulated) != 0 {
			t.Errorf("not emulated: %v", st.NotEmulated)
		}
		name, err := st.Resolve(map[string]any{"Ref": "RelayLogs"})
		if err != nil || !regexp.MustCompile(`^Logs-RelayLogs-[A-Za-z0-9]{12}$`).MatchString(name.(string)) {
			t.Fatalf("Ref RelayLogs = %v, %v; want Logs-RelayLogs-<random>", name, err)
		}
		if arn, err := st.Output("RelayLogsArn"); err != nil || arn != "arn:aws:logs:us-east-1:"+env.Account+":log-group:"+name.(string)+":*" {
			t.Errorf("RelayLogs Arn %v %v", arn, err)
		}
		groups, err := cwl.NewFromConfig(env.NoRetryConfig()).DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
		if err != nil || len(groups.LogGroups) != 2 {
			t.Fatalf("DescribeLogGroups: %+v %v", groups, err)
		}
		for _, g := range groups.LogGroups {
			switch aws.ToString(g.LogGroupName) {
			case "/strongroom/audit":
				if aws.ToString(g.KmsKeyId) != st.Attr("Key", "Arn") {
					t.Errorf("audit log group key %q, want %v", aws.ToString(g.KmsKeyId), st.Attr("Key", "Arn"))
				}
			case name:
				if aws.ToInt32(g.RetentionInDays) != 90 {
					t.Errorf("relay log group retention %d, want 90", aws.ToInt32(g.RetentionInDays))
				}
			}
		}
		var decided bool
		for _, dec := range env.Decisions() {
			decided = decided || dec.Allowed && dec.Role == "logs.us-east-1.amazonaws.com" && dec.Action == "kms:GenerateDataKey"
		}
		if !decided {
			t.Error("no allowed kms:GenerateDataKey Decision for logs.us-east-1.amazonaws.com")
		}
	}
}
