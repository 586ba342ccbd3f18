// Package s3 is the sandbox's Amazon S3 over its REST-XML protocol, as aws-sdk-go-v2's service/s3
// (path-style addressing, UsePathStyle) and the AWS CLI with --endpoint-url speak it, registered with
// Server.RegisterREST. A request is S3's when its SigV4 credential scope names the service s3 (an
// Authorization header or a pre-signed URL's X-Amz-Credential): the path alone cannot tell a bucket
// from another REST service's path. Payloads signed in any of S3's forms are accepted (a payload hash,
// UNSIGNED-PAYLOAD, and the aws-chunked streaming forms, signed or unsigned with trailers, whose
// chunks are decoded); signatures are not verified, as nowhere in the sandbox.
//
// Operations: CreateBucket, HeadBucket, DeleteBucket (only an empty bucket), ListBuckets,
// Put/Get/DeleteBucketPolicy (the bucket policy, a JSON policy document, which the sandbox's IAM
// enforcement reads as the bucket's and its objects' resource policy), Put/GetBucketEncryption,
// Put/GetBucketVersioning, Put/GetPublicAccessBlock, PutBucketOwnershipControls,
// Put/GetBucketLogging, GetBucketAcl (the owner's FULL_CONTROL grant), PutObject, GetObject,
// HeadObject, DeleteObject and ListObjectsV2 (prefix, delimiter with common prefixes, max-keys,
// continuation token, start-after). Errors are S3's XML <Error> with its codes (NoSuchBucket,
// NoSuchKey, BucketAlreadyOwnedByYou, BucketNotEmpty, NoSuchBucketPolicy, AccessDenied, ...).
//
// Objects are kept in memory. An object stored with SSE-KMS (the request's
// x-amz-server-side-encryption: aws:kms, or the bucket's default encryption) is encrypted for real:
// a data key per object from the sandbox's KMS (GenerateDataKey with the encryption context S3 uses,
// aws:s3:arn = the object's ARN, or the request's x-amz-server-side-encryption-context), the body
// sealed with AES-GCM under it and only the encrypted data key kept; GetObject asks KMS to decrypt
// the data key with the same context. SSE-S3 (AES256) objects are stored as given.
//
// Server access logging: a bucket with a LoggingConfiguration records a log line in S3's access
// log format for each request to it; DeliverAccessLogs writes the pending lines as one object per
// source bucket under the target prefix (<prefix>YYYY-mm-DD-HH-MM-SS-<unique>), as
// logging.s3.amazonaws.com with the source bucket's ARN as aws:SourceArn and the account as
// aws:SourceAccount, each write first judged by the authorizer the sandbox sets
// (SetDeliveryAuthorizer) against the target bucket's policy. S3 delivers access logs on a best-effort
// cadence of minutes to hours; here delivery is on demand (DeliverAccessLogs, which the demo and tests
// call), as events.FireSchedule stands in for a schedule. A refused delivery drops the lines, as S3
// does, and is reported to the caller.
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - One account and region; path-style addressing only (virtual-hosted names are not resolved);
//     bucket names are global to the sandbox, as they are to a partition.
//   - Versioning's status is kept and each write of a versioned bucket answers a new version id,
//     but only the latest version of an object is kept; no lifecycle, replication, object lock,
//     multipart upload, tagging, CORS, website or ACL grants beyond the owner's.
//   - Public access block and object ownership settings are stored and answered, not applied (the
//     sandbox has no public or cross-account principal that they would refuse).
//   - Transport: the sandbox serves plain HTTP on loopback, standing in for the TLS endpoint every
//     AWS SDK and the CLI use by default, so a call is authorized as one over TLS 1.3
//     (aws:SecureTransport true, s3:TlsVersion 1.3). A request carrying the header
//     X-Sandbox-Transport: http is authorized as S3's plain-HTTP endpoint would authorize it
//     (aws:SecureTransport false, no s3:TlsVersion), so a bucket policy's Deny on insecure transport
//     can be shown to work.
package s3
