package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// trailResources are the alerts stack's trail, its buckets, their policies and its key, as
// synthesized (cdk.out/StrongroomAlerts.template.json), with drop's statement (by Sid) removed from
// the trail bucket's policy or the trail key's.
func trailResources(t *testing.T, drop string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../../cdk.out/StrongroomAlerts.template.json")
	if err != nil {
		t.Fatalf("read the synthesized alerts stack (make synth writes it): %v", err)
	}
	var tmpl struct{ Resources map[string]map[string]any }
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	keep := map[string]any{}
	for id, r := range tmpl.Resources {
		switch r["Type"] {
		case "AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::CloudTrail::Trail":
		case "AWS::KMS::Key":
			if !strings.HasPrefix(id, "TrailKey") {
				continue
			}
		default:
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		for _, field := range []string{"PolicyDocument", "KeyPolicy"} {
			if doc, ok := props[field].(map[string]any); ok {
				var kept []any
				for _, st := range doc["Statement"].([]any) {
					if st.(map[string]any)["Sid"] != drop {
						kept = append(kept, st)
					}
				}
				doc["Statement"] = kept
			}
		}
		keep[id] = r
	}
	return map[string]any{"Resources": keep}
}

// TestTrailAndBuckets deploys the alerts stack's trail, buckets, bucket policies and trail key
// under IAM enforcement: CloudFormation's generated lowercase bucket names, their configuration, the
// logging of the trail bucket into the access log bucket, and a logging trail, which CreateTrail
// accepted only because the synthesized policies allow CloudTrail. The same resources without
// the trail bucket's AllowCloudTrailWrite, or without the key's AllowCloudTrailToEncryptLogs, fail
// the deploy with CloudTrail's exception.
func TestTrailAndBuckets(t *testing.T) {
	ctx := sandboxtest.Context(t, time.Minute)
	judge, err := iamjudge.Start(ctx, iamjudge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = judge.Close() })
	for _, c := range []struct{ drop, want string }{
		{"", ""},
		{"AllowCloudTrailWrite", "InsufficientS3BucketPolicyException"},
		{"AllowCloudTrailToEncryptLogs", "InsufficientEncryptionPolicyException"},
	} {
		env := sandboxtest.New(t)
		env.EnforceIAM(judge)
		dir := t.TempDir()
		writeTemplate(t, dir, "StrongroomAlerts", trailResources(t, c.drop))
		d := &deploy.Deployer{SB: env.Sandbox, Cfg: env.NoRetryConfig(), CDKOut: dir}
		st, err := d.Deploy(ctx, "StrongroomAlerts")
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("without %s: deploy error %v, want %s", c.drop, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(st.NotEmulated) != 0 {
			t.Errorf("not emulated: %v", st.NotEmulated)
		}
		var trailBucket, logBucket string
		for id, name := range map[string]*string{"TrailBucketA831CE63": &trailBucket, "AccessLogsBucket83982689": &logBucket} {
			*name = st.Physical(id)
			if !regexp.MustCompile(`^strongroomalerts-` + strings.ToLower(id) + `-[a-z0-9]{12}$`).MatchString(*name) {
				t.Errorf("bucket %s is named %q, want CloudFormation's strongroomalerts-<logical id>-<random>", id, *name)
			}
		}
		if arn := st.Attr("TrailBucketA831CE63", "Arn"); arn != "arn:aws:s3:::"+trailBucket {
			t.Errorf("TrailBucket Arn %v", arn)
		}
		sc := s3.NewFromConfig(env.NoRetryConfig(), func(o *s3.Options) { o.UsePathStyle = true })
		lg, err := sc.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(trailBucket)})
		if err != nil || aws.ToString(lg.LoggingEnabled.TargetBucket) != logBucket || aws.ToString(lg.LoggingEnabled.TargetPrefix) != "trail-bucket/" {
			t.Errorf("trail bucket logging %+v %v", lg, err)
		}
		enc, err := sc.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(trailBucket)})
		if err != nil || aws.ToString(enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != st.Attr("TrailKey38EB2549", "Arn") {
			t.Errorf("trail bucket encryption %+v %v", enc, err)
		}
		status, err := cloudtrail.NewFromConfig(env.NoRetryConfig()).GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("StrongroomAlerts-trail")})
		if err != nil || !aws.ToBool(status.IsLogging) {
			t.Errorf("trail status %+v %v", status, err)
		}
	}
}
