package cloudtrail_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// The SDK's CloudTrail client against a sandbox without IAM enforcement: trails are created on an
// existing bucket only, described, given event selectors, started and stopped, deliver the calls
// recorded since the last delivery that their selectors take, and are deleted, with CloudTrail's
// errors.
func TestTrailsOverTheWire(t *testing.T) {
	sb := sandboxtest.New(t)
	ctx := context.Background()
	ct := awsct.NewFromConfig(sb.NoRetryConfig())
	s3c := awss3.NewFromConfig(sb.NoRetryConfig(), func(o *awss3.Options) { o.UsePathStyle = true })
	_, err := ct.CreateTrail(ctx, &awsct.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("logs")})
	sandboxtest.WantCode(t, err, "S3BucketDoesNotExistException")
	if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	_, err = ct.CreateTrail(ctx, &awsct.CreateTrailInput{Name: aws.String("-bad"), S3BucketName: aws.String("logs")})
	sandboxtest.WantCode(t, err, "InvalidTrailNameException")
	_, err = ct.CreateTrail(ctx, &awsct.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("logs"), KmsKeyId: aws.String("alias/none")})
	sandboxtest.WantCode(t, err, "KmsKeyNotFoundException")
	out, err := ct.CreateTrail(ctx, &awsct.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("logs"), S3KeyPrefix: aws.String("org"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TrailARN)
	if arn != "arn:aws:cloudtrail:us-east-1:"+sb.Account+":trail/main" || !aws.ToBool(out.LogFileValidationEnabled) {
		t.Fatalf("CreateTrail: %+v", out)
	}
	_, err = ct.CreateTrail(ctx, &awsct.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("logs")})
	sandboxtest.WantCode(t, err, "TrailAlreadyExistsException")
	got, err := ct.GetTrail(ctx, &awsct.GetTrailInput{Name: aws.String(arn)})
	if err != nil || aws.ToString(got.Trail.S3KeyPrefix) != "org" || !aws.ToBool(got.Trail.IsMultiRegionTrail) {
		t.Fatalf("GetTrail: %+v %v", got, err)
	}
	if d, err := ct.DescribeTrails(ctx, &awsct.DescribeTrailsInput{}); err != nil || len(d.TrailList) != 1 {
		t.Fatalf("DescribeTrails: %+v %v", d, err)
	}
	if _, err := ct.PutEventSelectors(ctx, &awsct.PutEventSelectorsInput{TrailName: aws.String("main"), EventSelectors: []types.EventSelector{
		{IncludeManagementEvents: aws.Bool(true), ReadWriteType: types.ReadWriteTypeWriteOnly}}}); err != nil {
		t.Fatalf("PutEventSelectors: %v", err)
	}
	sel, err := ct.GetEventSelectors(ctx, &awsct.GetEventSelectorsInput{TrailName: aws.String("main")})
	if err != nil || len(sel.EventSelectors) != 1 || sel.EventSelectors[0].ReadWriteType != types.ReadWriteTypeWriteOnly {
		t.Fatalf("GetEventSelectors: %+v %v", sel, err)
	}
	if d := sb.CloudTrail.Deliver(ctx); len(d) != 0 {
		t.Fatalf("a trail not logging delivered %+v", d)
	}
	if _, err := ct.StartLogging(ctx, &awsct.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("logs"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	d := sb.CloudTrail.Deliver(ctx)
	if len(d) != 1 || d[0].Err != nil {
		t.Fatalf("Deliver: %+v", d)
	}
	obj, err := s3c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(d[0].Key)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(obj.Body)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Records []map[string]any }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range file.Records {
		names = append(names, r["eventName"].(string))
	}
	// WriteOnly: GetTrail, DescribeTrails and GetEventSelectors are left out; the refused second
	// CreateTrail is recorded with its error code, as CloudTrail records failed calls.
	if len(names) != 5 || names[0] != "CreateTrail" || names[1] != "CreateTrail" || names[2] != "PutEventSelectors" || names[3] != "StartLogging" || names[4] != "PutBucketVersioning" {
		t.Fatalf("records %v", names)
	}
	if file.Records[1]["errorCode"] != "TrailAlreadyExistsException" {
		t.Errorf("the refused CreateTrail's record: %v", file.Records[1])
	}
	if r := file.Records[0]; r["eventSource"] != "cloudtrail.amazonaws.com" || r["recipientAccountId"] != sb.Account || r["eventType"] != "AwsApiCall" {
		t.Errorf("record %v", r)
	}
	if d := sb.CloudTrail.Deliver(ctx); len(d) != 0 {
		t.Errorf("a second delivery with no new writes: %+v", d)
	}
	status, err := ct.GetTrailStatus(ctx, &awsct.GetTrailStatusInput{Name: aws.String("main")})
	if err != nil || !aws.ToBool(status.IsLogging) || status.LatestDeliveryTime == nil || status.LatestDeliveryError != nil {
		t.Fatalf("GetTrailStatus: %+v %v", status, err)
	}
	if _, err := ct.StopLogging(ctx, &awsct.StopLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.DeleteTrail(ctx, &awsct.DeleteTrailInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	_, err = ct.GetTrailStatus(ctx, &awsct.GetTrailStatusInput{Name: aws.String("main")})
	sandboxtest.WantCode(t, err, "TrailNotFoundException")
}
