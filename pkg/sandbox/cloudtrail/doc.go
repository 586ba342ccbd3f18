// Package cloudtrail is the sandbox's AWS CloudTrail trails over JSON 1.1 (X-Amz-Target
// CloudTrail_20131101.<Operation>, as aws-sdk-go-v2 sends it; the AWS CLI's
// com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Operation> is routed to the same service):
// CreateTrail, GetTrail, DescribeTrails, DeleteTrail, StartLogging, StopLogging, GetTrailStatus,
// PutEventSelectors and GetEventSelectors.
//
// CreateTrail checks what AWS checks (CloudTrail User Guide, "Amazon S3 bucket policy for
// CloudTrail" and "Configure AWS KMS key policies for CloudTrail"): the bucket exists
// (S3BucketDoesNotExistException), its policy lets cloudtrail.amazonaws.com call s3:GetBucketAcl on
// the bucket and s3:PutObject on AWSLogs/<account>/... with x-amz-acl bucket-owner-full-control for
// this trail (aws:SourceArn), else InsufficientS3BucketPolicyException; with a KMSKeyId, the key
// exists (KmsKeyNotFoundException) and its policy lets cloudtrail.amazonaws.com call
// kms:GenerateDataKey with the encryption context aws:cloudtrail:arn and kms:DescribeKey, else
// InsufficientEncryptionPolicyException. Those policy checks are the Authorizer the sandbox sets
// under Sandbox.EnforceIAM (the IAM judge, each a recorded Decision); without it only existence is
// checked.
//
// Delivery: while a trail is logging, Deliver writes the management events recorded since its last
// delivery (the records source the sandbox gives, in CloudTrail's record shape) as one gzip JSON log
// file {"Records":[...]} to
// AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 characters>.json.gz
// (under S3KeyPrefix when set), as cloudtrail.amazonaws.com with x-amz-acl bucket-owner-full-control
// and, with a KMSKeyId, SSE-KMS under that key with the encryption context aws:cloudtrail:arn = the
// trail's ARN, each judged first by the Authorizer. A refused or failed delivery writes nothing, keeps
// the events for the next delivery, and is the trail's LatestDeliveryError (AccessDenied, as S3
// answers CloudTrail, or NoSuchBucket). CloudTrail delivers about every five minutes; here delivery is
// on demand (Deliver, which the demo and tests call), as events.FireSchedule stands in for a rule's
// schedule. Event selectors apply: IncludeManagementEvents false delivers nothing, ReadWriteType
// ReadOnly or WriteOnly only those events.
//
// Sandbox behaviour that differs from AWS, on purpose:
//   - No digest files: EnableLogFileValidation is stored and answered (LogFileValidationEnabled) but
//     no digest is written, so log file validation cannot be run against the sandbox's trails.
//   - One account and region: a multi-region trail records the sandbox's one region; no organization
//     trails, CloudWatch Logs delivery, SNS notifications, Insights, data events or event data stores.
//   - Records carry no requestParameters or responseElements (the sandbox keeps request bodies, which
//     may hold secrets that CloudTrail would redact); userIdentity is the role session for a bound
//     role's call, else the account's root.
package cloudtrail
