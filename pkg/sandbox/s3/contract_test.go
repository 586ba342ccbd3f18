package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func client(e *sandboxtest.Env) *awss3.Client {
	return awss3.NewFromConfig(e.NoRetryConfig(), func(o *awss3.Options) { o.UsePathStyle = true })
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// The SDK's S3 client (path-style, REST-XML) against the sandbox: buckets and their configuration,
// objects written (signed payloads and aws-chunked streams), read, listed by prefix, delimiter and
// page, an SSE-KMS object encrypted for real through KMS, and S3's XML errors.
func TestS3OverTheWire(t *testing.T) {
	sb := sandboxtest.New(t)
	ctx := context.Background()
	c := client(sb)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("Bad_Name")}); err == nil {
		t.Fatal("CreateBucket accepted an invalid name")
	}
	for _, b := range []string{"trail", "logs"} {
		if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("CreateBucket %s: %v", b, err)
		}
	}
	if _, err := c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	var nf *types.NotFound
	if _, err := c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("none")}); !errors.As(err, &nf) {
		t.Fatalf("HeadBucket of a missing bucket: %v, want NotFound", err)
	}
	lb, err := c.ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 2 || aws.ToString(lb.Buckets[0].Name) != "logs" {
		t.Fatalf("ListBuckets: %+v %v", lb, err)
	}

	key, err := awskms.NewFromConfig(sb.NoRetryConfig()).CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	if _, err := c.PutBucketEncryption(ctx, &awss3.PutBucketEncryptionInput{Bucket: aws.String("trail"),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(keyARN)},
			BucketKeyEnabled:                   aws.Bool(false)}}}}); err != nil {
		t.Fatalf("PutBucketEncryption: %v", err)
	}
	enc, err := c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("trail")})
	if err != nil || aws.ToString(enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != keyARN {
		t.Fatalf("GetBucketEncryption: %+v %v", enc, err)
	}
	if _, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("trail"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("PutBucketVersioning: %v", err)
	}
	if v, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("trail")}); err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning: %+v %v", v, err)
	}
	if _, err := c.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: aws.String("trail")}); err == nil {
		t.Fatal("GetPublicAccessBlock before any: no error")
	}
	if _, err := c.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("trail"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		t.Fatalf("PutPublicAccessBlock: %v", err)
	}
	if p, err := c.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: aws.String("trail")}); err != nil ||
		!aws.ToBool(p.PublicAccessBlockConfiguration.BlockPublicAcls) || aws.ToBool(p.PublicAccessBlockConfiguration.BlockPublicPolicy) {
		t.Fatalf("GetPublicAccessBlock: %+v %v", p, err)
	}
	if _, err := c.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("trail"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}}); err != nil {
		t.Fatalf("PutBucketOwnershipControls: %v", err)
	}
	if _, err := c.PutBucketLogging(ctx, &awss3.PutBucketLoggingInput{Bucket: aws.String("trail"), BucketLoggingStatus: &types.BucketLoggingStatus{
		LoggingEnabled: &types.LoggingEnabled{TargetBucket: aws.String("logs"), TargetPrefix: aws.String("trail-bucket/")}}}); err != nil {
		t.Fatalf("PutBucketLogging: %v", err)
	}
	if l, err := c.GetBucketLogging(ctx, &awss3.GetBucketLoggingInput{Bucket: aws.String("trail")}); err != nil || aws.ToString(l.LoggingEnabled.TargetPrefix) != "trail-bucket/" {
		t.Fatalf("GetBucketLogging: %+v %v", l, err)
	}
	if acl, err := c.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("trail")}); err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("GetBucketAcl: %+v %v", acl, err)
	}
	_, err = c.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("trail")})
	wantCode(t, err, "NoSuchBucketPolicy")
	_, err = c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("trail"), Policy: aws.String("not json")})
	wantCode(t, err, "MalformedPolicy")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::trail"}]}`
	if _, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("trail"), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("PutBucketPolicy: %v", err)
	}
	if p, err := c.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("trail")}); err != nil || aws.ToString(p.Policy) != policy {
		t.Fatalf("GetBucketPolicy: %+v %v", p, err)
	}

	secret := "the object's plaintext, which S3 stores only encrypted"
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("AWSLogs/x/one.json"), Body: strings.NewReader(secret),
		ContentType: aws.String("application/json"), Metadata: map[string]string{"origin": "test"}})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if put.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(put.SSEKMSKeyId) != keyARN || aws.ToString(put.VersionId) == "" {
		t.Fatalf("PutObject: SSE %s key %s version %q: want the bucket's default key, versioned", put.ServerSideEncryption, aws.ToString(put.SSEKMSKeyId), aws.ToString(put.VersionId))
	}
	if n := sb.Recorder.Count("kms", "GenerateDataKey"); n != 1 {
		t.Fatalf("%d GenerateDataKey calls for one SSE-KMS object, want 1", n)
	}
	got, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String("AWSLogs/x/one.json")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, _ := io.ReadAll(got.Body)
	if string(body) != secret || aws.ToString(got.ContentType) != "application/json" || got.Metadata["origin"] != "test" {
		t.Fatalf("GetObject: %q %s %v", body, aws.ToString(got.ContentType), got.Metadata)
	}
	if n := sb.Recorder.Count("kms", "Decrypt"); n != 1 {
		t.Fatalf("%d Decrypt calls for one SSE-KMS read, want 1", n)
	}
	// Payloads signed as UNSIGNED-PAYLOAD, and an aws-chunked stream (as a client streaming over TLS
	// sends, with chunk signatures and a trailing checksum), are accepted and decoded.
	for i, k := range []string{"AWSLogs/x/two.json", "AWSLogs/y/three.json", "top.txt"} {
		in := &awss3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String(k), Body: bytes.NewReader([]byte(k))}
		var opts []func(*awss3.Options)
		if i == 0 {
			opts = append(opts, awss3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
		}
		if _, err := c.PutObject(ctx, in, opts...); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	chunked := "4;chunk-signature=" + strings.Repeat("a", 64) + "\r\nAWSL\r\nf;chunk-signature=" + strings.Repeat("b", 64) +
		"\r\nogs/x/four.json\r\n0;chunk-signature=" + strings.Repeat("c", 64) + "\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
	req, _ := http.NewRequest(http.MethodPut, sb.URL+"/logs/AWSLogs/x/four.json", strings.NewReader(chunked))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIASANDBOX000000000/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+strings.Repeat("0", 64))
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
	req.Header.Set("Content-Encoding", "aws-chunked")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("aws-chunked PutObject: %v %v", resp, err)
	}
	if o, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("AWSLogs/x/four.json")}); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(o.Body); string(b) != "AWSLogs/x/four.json" {
		t.Fatalf("aws-chunked object decoded to %q", b)
	}
	if h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String("AWSLogs/x/two.json")}); err != nil ||
		aws.ToInt64(h.ContentLength) != int64(len("AWSLogs/x/two.json")) || h.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("HeadObject: %+v %v", h, err)
	}
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("none")})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Fatalf("GetObject of a missing key: %v, want NoSuchKey", err)
	}
	l, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("logs"), Prefix: aws.String("AWSLogs/"), Delimiter: aws.String("/")})
	if err != nil || len(l.Contents) != 0 || len(l.CommonPrefixes) != 2 || aws.ToString(l.CommonPrefixes[1].Prefix) != "AWSLogs/y/" {
		t.Fatalf("ListObjectsV2 with a delimiter: %+v %v", l, err)
	}
	var keys []string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String("logs"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if strings.Join(keys, ",") != "AWSLogs/x/four.json,AWSLogs/x/two.json,AWSLogs/y/three.json,top.txt" {
		t.Fatalf("paged listing: %v", keys)
	}
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("logs")})
	wantCode(t, err, "BucketNotEmpty")
	for _, k := range keys {
		if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("logs"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatalf("DeleteBucket of an empty bucket: %v", err)
	}
	_, err = c.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("logs")})
	wantCode(t, err, "NoSuchBucket")
}
