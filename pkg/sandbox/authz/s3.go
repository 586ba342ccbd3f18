package authz

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ---- S3

// s3ARN is a bucket's ARN (arn:<partition>:s3:::bucket), or an object's with key.
func (e Env) s3ARN(bucket, key string) string {
	if key == "" {
		return fmt.Sprintf("arn:%s:s3:::%s", e.Partition, bucket)
	}
	return fmt.Sprintf("arn:%s:s3:::%s/%s", e.Partition, bucket, key)
}

// s3Transport adds the transport's keys: aws:SecureTransport and, over TLS, s3:TlsVersion. The
// sandbox's plain HTTP stands for the TLS 1.3 of S3's endpoint unless the request is marked plain
// HTTP (pkg/sandbox/s3's TransportHeader sets the path parameter SecureTransport to "false").
func s3Transport(r Request, ctx map[string][]string) {
	if r.Path["SecureTransport"] == "false" {
		ctx["aws:SecureTransport"] = []string{"false"}
		return
	}
	ctx["aws:SecureTransport"] = []string{"true"}
	ctx["s3:TlsVersion"] = []string{"1.3"}
}

// s3On is an S3 operation on its bucket (object false) or on the object its Key names; extra adds
// the request's own condition keys.
func s3On(action string, object bool, extra func(r Request, ctx map[string][]string)) operation {
	return func(e Env, r Request) ([]Need, error) {
		bucket := r.Path["Bucket"]
		if bucket == "" {
			return nil, fmt.Errorf("the request names no bucket")
		}
		key := ""
		if object {
			if key = r.Path["Key"]; key == "" {
				return nil, fmt.Errorf("the request names no object key")
			}
		}
		ctx := map[string][]string{}
		s3Transport(r, ctx)
		if extra != nil {
			extra(r, ctx)
		}
		return one(action, e.s3ARN(bucket, key), ctx)
	}
}

// fromPath copies the path parameters (by model name) to condition keys.
func fromPath(keys map[string]string) func(r Request, ctx map[string][]string) {
	return func(r Request, ctx map[string][]string) {
		for param, key := range keys {
			if v, ok := r.Path[param]; ok {
				ctx[key] = []string{v}
			}
		}
	}
}

var s3Ops = map[string]operation{
	"ListBuckets": func(_ Env, r Request) ([]Need, error) {
		ctx := map[string][]string{}
		s3Transport(r, ctx)
		return one("s3:ListAllMyBuckets", "*", ctx)
	},
	"CreateBucket":               s3On("s3:CreateBucket", false, fromPath(map[string]string{"ACL": "s3:x-amz-acl"})),
	"HeadBucket":                 s3On("s3:ListBucket", false, nil),
	"DeleteBucket":               s3On("s3:DeleteBucket", false, nil),
	"PutBucketPolicy":            s3On("s3:PutBucketPolicy", false, nil),
	"GetBucketPolicy":            s3On("s3:GetBucketPolicy", false, nil),
	"DeleteBucketPolicy":         s3On("s3:DeleteBucketPolicy", false, nil),
	"PutBucketEncryption":        s3On("s3:PutEncryptionConfiguration", false, nil),
	"GetBucketEncryption":        s3On("s3:GetEncryptionConfiguration", false, nil),
	"PutBucketVersioning":        s3On("s3:PutBucketVersioning", false, nil),
	"GetBucketVersioning":        s3On("s3:GetBucketVersioning", false, nil),
	"PutPublicAccessBlock":       s3On("s3:PutBucketPublicAccessBlock", false, nil),
	"GetPublicAccessBlock":       s3On("s3:GetBucketPublicAccessBlock", false, nil),
	"PutBucketOwnershipControls": s3On("s3:PutBucketOwnershipControls", false, nil),
	"PutBucketLogging":           s3On("s3:PutBucketLogging", false, nil),
	"GetBucketLogging":           s3On("s3:GetBucketLogging", false, nil),
	"GetBucketAcl":               s3On("s3:GetBucketAcl", false, nil),
	"PutObject": s3On("s3:PutObject", true, fromPath(map[string]string{"ACL": "s3:x-amz-acl",
		"ServerSideEncryption": "s3:x-amz-server-side-encryption", "SSEKMSKeyId": "s3:x-amz-server-side-encryption-aws-kms-key-id"})),
	"GetObject":     s3On("s3:GetObject", true, nil),
	"HeadObject":    s3On("s3:GetObject", true, nil),
	"DeleteObject":  s3On("s3:DeleteObject", true, nil),
	"ListObjectsV2": s3On("s3:ListBucket", false, fromPath(map[string]string{"Prefix": "s3:prefix", "Delimiter": "s3:delimiter"})),
}

// s3KMSNeeds are the KMS needs of S3 using an SSE-KMS object's key on the caller's behalf: the
// request's key, else the object's (reads) or the bucket's default (writes), with S3's encryption
// context (the request's SSEKMSEncryptionContext, a JSON object, else aws:s3:arn = the object).
func (e Env) s3KMSNeeds(r Request, write bool, action string) ([]Need, error) {
	bucket, key := r.Path["Bucket"], r.Path["Key"]
	ref := r.Path["SSEKMSKeyId"]
	switch {
	case !write:
		ref = e.lookup(ObjectKMSKey, bucket+"/"+key)
	case ref == "" && r.Path["ServerSideEncryption"] == "":
		ref = e.lookup(BucketKMSKey, bucket)
	}
	if ref == "" {
		return nil, nil // SSE-S3: no KMS key is used
	}
	arn, ctx, err := e.kmsKey(ref)
	if err != nil {
		return nil, err
	}
	ctx["kms:ViaService"] = []string{e.viaService("s3")}
	ec := map[string]string{"aws:s3:arn": e.s3ARN(bucket, key)}
	if c := r.Path["SSEKMSEncryptionContext"]; c != "" {
		ec = nil
		if err := json.Unmarshal([]byte(c), &ec); err != nil {
			return nil, fmt.Errorf("SSEKMSEncryptionContext is not a JSON object of strings: %w", err)
		}
	}
	for k, v := range ec {
		ctx["kms:EncryptionContext:"+k] = []string{v}
		ctx["kms:EncryptionContextKeys"] = append(ctx["kms:EncryptionContextKeys"], k)
	}
	return []Need{need(action, arn, ctx)}, nil
}

// ---- CloudTrail

// onTrail is a CloudTrail operation on the trail its field (Name or TrailName, a name or an ARN) names.
func onTrail(action, field string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.required(field)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(name, "arn:") {
			name = e.arn("cloudtrail", "trail/"+name)
		}
		return one(action, name, nil)
	}
}

var cloudtrailOps = map[string]operation{
	"CreateTrail":       onTrail("cloudtrail:CreateTrail", "Name"),
	"GetTrail":          onTrail("cloudtrail:GetTrail", "Name"),
	"DeleteTrail":       onTrail("cloudtrail:DeleteTrail", "Name"),
	"StartLogging":      onTrail("cloudtrail:StartLogging", "Name"),
	"StopLogging":       onTrail("cloudtrail:StopLogging", "Name"),
	"GetTrailStatus":    onTrail("cloudtrail:GetTrailStatus", "Name"),
	"PutEventSelectors": onTrail("cloudtrail:PutEventSelectors", "TrailName"),
	"GetEventSelectors": onTrail("cloudtrail:GetEventSelectors", "TrailName"),
	"DescribeTrails":    wildcard("cloudtrail:DescribeTrails"),
}
