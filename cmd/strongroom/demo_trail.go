package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// showTrail delivers the alerts stack's trail's log file, as CloudTrail does about every five minutes
// (the sandbox delivers on demand), as cloudtrail.amazonaws.com under the trail bucket's and the
// trail key's policies; reads it back through S3 as the account (SSE-KMS: S3 asks KMS to decrypt its
// data key); prints the calls it records; then delivers the trail bucket's server access logs into
// the access log bucket as logging.s3.amazonaws.com and prints the line of that read.
func (d *demo) showTrail(ctx context.Context) error {
	p := d.p
	trails, err := cloudtrail.NewFromConfig(d.aws).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		return fmt.Errorf("describe the alerts stack's trail: %w", err)
	}
	if len(trails.TrailList) != 1 {
		return fmt.Errorf("the sandbox has %d trails, want the alerts stack's one", len(trails.TrailList))
	}
	trail := trails.TrailList[0]
	bucket := aws.ToString(trail.S3BucketName)
	var delivered string
	for _, dl := range d.sb.CloudTrail.Deliver(ctx) {
		if dl.Err != nil {
			return fmt.Errorf("the trail's delivery to %s was refused: %w (its bucket's or key's policy does not allow cloudtrail.amazonaws.com)", dl.Bucket, dl.Err)
		}
		if dl.Trail == aws.ToString(trail.TrailARN) {
			delivered = dl.Key
		}
	}
	if delivered == "" {
		return fmt.Errorf("the trail %s delivered no log file", aws.ToString(trail.TrailARN))
	}
	p.line("CloudTrail delivered s3://%s/%s (as cloudtrail.amazonaws.com, SSE-KMS with the trail key)", bucket, delivered)
	sc := s3.NewFromConfig(d.aws, func(o *s3.Options) { o.UsePathStyle = true })
	obj, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(delivered)})
	if err != nil {
		return fmt.Errorf("read the trail's log file: %w", err)
	}
	raw, err := io.ReadAll(obj.Body)
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("the trail's log file is not gzip: %w", err)
	}
	var file struct{ Records []map[string]any }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		return fmt.Errorf("the trail's log file is not CloudTrail JSON: %w", err)
	}
	counts := map[string]int{}
	for _, r := range file.Records {
		who := "root"
		if id, _ := r["userIdentity"].(map[string]any); id["type"] == "AssumedRole" {
			arn, _ := id["arn"].(string)
			who = arn[strings.Index(arn, "assumed-role/")+len("assumed-role/"):]
			who = who[:strings.Index(who, "/")]
		}
		counts[fmt.Sprintf("%s:%s by %s", strings.TrimSuffix(fmt.Sprint(r["eventSource"]), ".amazonaws.com"), r["eventName"], who)]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	p.line("GetObject as the account (%s, key %s): %d bytes of gzip, %d records of the demo's calls since the trail was created:",
		obj.ServerSideEncryption, aws.ToString(obj.SSEKMSKeyId), len(raw), len(file.Records))
	for i, n := range names {
		if i == 6 {
			p.plain("      ... and %d more kinds of call", len(names)-i)
			break
		}
		p.plain("      %dx %s", counts[n], n)
	}
	logging, err := sc.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(bucket)})
	if err != nil || logging.LoggingEnabled == nil {
		return fmt.Errorf("the trail bucket's access logging: %v", err)
	}
	for _, dl := range d.sb.S3.DeliverAccessLogs(ctx) {
		if dl.Err != nil {
			return fmt.Errorf("the access log delivery to %s was refused: %w (its policy does not allow logging.s3.amazonaws.com for %s)", dl.Bucket, dl.Err, dl.Source)
		}
		if dl.Source != bucket {
			continue
		}
		logObj, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(dl.Bucket), Key: aws.String(dl.Key)})
		if err != nil {
			return fmt.Errorf("read the access log: %w", err)
		}
		text, _ := io.ReadAll(logObj.Body)
		p.line("S3 access log s3://%s/%s (as logging.s3.amazonaws.com), %d line(s):", dl.Bucket, dl.Key, dl.Lines)
		for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
			f := strings.Fields(line)
			// operation, key, status, error code, bytes sent (S3's access log fields 8, 9, 13-15)
			if len(f) > 14 {
				p.plain("      %s %s %s %s %s bytes", f[7], f[8], f[12], f[13], f[14])
			}
		}
		return nil
	}
	return fmt.Errorf("no access log was delivered for %s", bucket)
}
