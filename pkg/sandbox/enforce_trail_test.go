package sandbox_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	sbs3 "github.com/strongroom/strongroom/pkg/sandbox/s3"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// trailPolicies are the alerts stack's trail bucket, access log bucket and trail key policies
// (cdk.out/StrongroomAlerts.template.json), each statement by its Sid so a case can leave one out.
func trailPolicies(account, region, trailName string) (bucket, logs, key map[string]string) {
	trail := fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", region, account, trailName)
	transport := func(b string) map[string]string {
		r := fmt.Sprintf(`["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]`, b, b)
		return map[string]string{
			"DenyInsecure": `{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":` + r + `,"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
			"DenyOldTLS":   `{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":` + r + `,"Condition":{"NumericLessThan":{"s3:TlsVersion":1.2}}}`,
		}
	}
	bucket, logs = transport("trail"), transport("logs")
	bucket["AllowCloudTrailAclCheck"] = `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::trail","Condition":{"StringEquals":{"aws:SourceArn":"` + trail + `"}}}`
	bucket["AllowCloudTrailWrite"] = `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::trail/AWSLogs/` + account + `/*",` +
		`"Condition":{"StringEquals":{"aws:SourceArn":"` + trail + `","s3:x-amz-acl":"bucket-owner-full-control"}}}`
	logs["AllowLogging"] = `{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/trail-bucket/*",` +
		`"Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::trail"},"StringEquals":{"aws:SourceAccount":"` + account + `"}}}`
	key = map[string]string{
		"Root": `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}`,
		"AllowCloudTrailToEncryptLogs": `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*",` +
			`"Condition":{"StringEquals":{"aws:SourceArn":"` + trail + `"},"StringLike":{"kms:EncryptionContext:aws:cloudtrail:arn":"arn:aws:cloudtrail:*:` + account + `:trail/*"}}}`,
		"AllowCloudTrailToDescribeKey": `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:DescribeKey","Resource":"*","Condition":{"StringEquals":{"aws:SourceArn":"` + trail + `"}}}`,
	}
	return bucket, logs, key
}

// policyWithout is the policy of statements without the one named without.
func policyWithout(statements map[string]string, without string) string {
	var list []string
	for sid, st := range statements {
		if sid != without {
			list = append(list, st)
		}
	}
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(list, ",") + `]}`
}

// TestEnforceIAMTrailDelivery: CloudTrail checks the trail bucket's policy and the trail key's on
// CreateTrail, refusing with InsufficientS3BucketPolicyException or
// InsufficientEncryptionPolicyException when CloudTrail's statement is missing; with both, the
// trail delivers the recorded calls as an SSE-KMS gzip log file that the account reads back; a
// statement removed afterwards refuses the next delivery (LatestDeliveryError AccessDenied, a
// denied Decision). S3 access logs of the trail bucket are written to the log bucket as
// logging.s3.amazonaws.com only while its policy allows it, and the policies' Deny on insecure
// transport refuses a role's request marked plain HTTP while the same request over the
// sandbox's stand-in for TLS is allowed.
func TestEnforceIAMTrailDelivery(t *testing.T) {
	ctx := sandboxtest.Context(t, 3*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	sc := s3.NewFromConfig(op, func(o *s3.Options) { o.UsePathStyle = true })
	ct, kc := cloudtrail.NewFromConfig(op), kms.NewFromConfig(op)
	bucketStmts, logStmts, keyStmts := trailPolicies(env.Account, env.Region, "main")

	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policyWithout(keyStmts, "AllowCloudTrailToEncryptLogs"))})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	for _, b := range []string{"trail", "logs"} {
		if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	putPolicy := func(bucket, policy string) {
		t.Helper()
		if _, err := sc.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
	}
	putPolicy("logs", policyWithout(logStmts, ""))
	if _, err := sc.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String("trail"), BucketLoggingStatus: &s3types.BucketLoggingStatus{
		LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: aws.String("logs"), TargetPrefix: aws.String("trail-bucket/")}}}); err != nil {
		t.Fatal(err)
	}
	create := &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("trail"), KmsKeyId: aws.String(keyARN), IsMultiRegionTrail: aws.Bool(true)}

	putPolicy("trail", policyWithout(bucketStmts, "AllowCloudTrailWrite"))
	_, err = ct.CreateTrail(ctx, create)
	sandboxtest.WantCode(t, err, "InsufficientS3BucketPolicyException")
	putPolicy("trail", policyWithout(bucketStmts, ""))
	_, err = ct.CreateTrail(ctx, create)
	sandboxtest.WantCode(t, err, "InsufficientEncryptionPolicyException")
	if _, err := kc.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default"), Policy: aws.String(policyWithout(keyStmts, ""))}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, create); err != nil {
		t.Fatalf("CreateTrail with both statements: %v", err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	deliveries := env.CloudTrail.Deliver(ctx)
	if len(deliveries) != 1 || deliveries[0].Err != nil {
		t.Fatalf("deliveries %+v, want one log file", deliveries)
	}
	d := deliveries[0]
	if !strings.HasPrefix(d.Key, "AWSLogs/"+env.Account+"/CloudTrail/"+env.Region+"/") || !strings.HasSuffix(d.Key, ".json.gz") {
		t.Errorf("log file key %s", d.Key)
	}
	obj, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(d.Key)})
	if err != nil {
		t.Fatalf("GetObject of the log file: %v", err)
	}
	if obj.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(obj.SSEKMSKeyId) != keyARN {
		t.Errorf("log file encryption %s %s, want SSE-KMS with the trail's key", obj.ServerSideEncryption, aws.ToString(obj.SSEKMSKeyId))
	}
	zr, err := gzip.NewReader(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Records []map[string]any }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range file.Records {
		names[fmt.Sprint(r["eventSource"], " ", r["eventName"])] = true
	}
	if !names["cloudtrail.amazonaws.com StartLogging"] || !names["kms.amazonaws.com DescribeKey"] {
		t.Errorf("log file records %v: want StartLogging and DescribeKey", names)
	}
	decided := func(action string, allowed bool) bool {
		for _, dec := range env.Decisions() {
			if dec.Role == "cloudtrail.amazonaws.com" && dec.Action == action && dec.Allowed == allowed {
				return true
			}
		}
		return false
	}
	for _, a := range []string{"s3:GetBucketAcl", "s3:PutObject", "kms:GenerateDataKey", "kms:DescribeKey"} {
		if !decided(a, true) {
			t.Errorf("no allowed decision of %s for cloudtrail.amazonaws.com", a)
		}
	}

	// The bucket's write statement removed after creation: the next delivery is refused.
	putPolicy("trail", policyWithout(bucketStmts, "AllowCloudTrailWrite"))
	if _, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if deliveries = env.CloudTrail.Deliver(ctx); len(deliveries) != 1 || deliveries[0].Err == nil {
		t.Fatalf("deliveries %+v, want one refused", deliveries)
	}
	status, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
	if err != nil || aws.ToString(status.LatestDeliveryError) != "AccessDenied" || !aws.ToBool(status.IsLogging) {
		t.Fatalf("GetTrailStatus: %+v %v, want LatestDeliveryError AccessDenied", status, err)
	}
	if !decided("s3:PutObject", false) {
		t.Error("the refused delivery is not a denied Decision")
	}
	// And the key's statement: refused too.
	putPolicy("trail", policyWithout(bucketStmts, ""))
	if _, err := kc.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default"), Policy: aws.String(policyWithout(keyStmts, "AllowCloudTrailToEncryptLogs"))}); err != nil {
		t.Fatal(err)
	}
	if deliveries = env.CloudTrail.Deliver(ctx); len(deliveries) != 1 || deliveries[0].Err == nil || !decided("kms:GenerateDataKey", false) {
		t.Fatalf("deliveries %+v, want one refused by the key policy", deliveries)
	}

	// Access logs of the trail bucket (the GetObject above and the policy changes).
	logged := env.S3.DeliverAccessLogs(ctx)
	if len(logged) != 1 || logged[0].Err != nil || !strings.HasPrefix(logged[0].Key, "trail-bucket/") {
		t.Fatalf("access log deliveries %+v, want one written under trail-bucket/", logged)
	}
	lo, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logged[0].Key)})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(lo.Body)
	if !bytes.Contains(text, []byte(" trail [")) || !bytes.Contains(text, []byte("REST.GET.OBJECT "+d.Key)) {
		t.Errorf("access log:\n%s", text)
	}
	putPolicy("logs", policyWithout(logStmts, "AllowLogging"))
	if _, err := sc.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	if logged = env.S3.DeliverAccessLogs(ctx); len(logged) != 1 || logged[0].Err == nil {
		t.Fatalf("access log deliveries %+v, want one refused without the log bucket's statement", logged)
	}

	// A role allowed s3:* is denied by the log bucket's policy only over plain HTTP.
	_, fn := roleSession(ctx, t, env, op, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	reader := s3.NewFromConfig(fn, func(o *s3.Options) { o.UsePathStyle = true })
	get := &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(firstKey(t, ctx, sc))}
	if _, err := reader.GetObject(ctx, get); err != nil {
		t.Fatalf("GetObject by a role allowed s3:*, over the sandbox's stand-in for TLS: %v", err)
	}
	insecure := func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("plainHTTP", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Header.Set(sbs3.TransportHeader, "http")
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		})
	}
	_, err = reader.GetObject(ctx, get, insecure)
	if msg := sandboxtest.WantCode(t, err, "AccessDenied"); !strings.Contains(msg, "explicit deny in a resource-based policy") {
		t.Errorf("insecure GetObject denial: %s", msg)
	}
}

// firstKey returns the key of the first object in the log bucket.
func firstKey(t *testing.T, ctx context.Context, sc *s3.Client) string {
	t.Helper()
	l, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs")})
	if err != nil || len(l.Contents) == 0 {
		t.Fatalf("ListObjectsV2 of the log bucket: %+v %v", l, err)
	}
	return aws.ToString(l.Contents[0].Key)
}
