package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func (d *Deployer) s3Client() *s3.Client {
	return s3.NewFromConfig(d.Cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// bucket creates an AWS::S3::Bucket with CreateBucket and its BucketEncryption,
// VersioningConfiguration, PublicAccessBlockConfiguration, OwnershipControls and
// LoggingConfiguration. With no BucketName, CloudFormation names it
// <stack>-<logical id>-<random>, lowercase, at most 63 characters. Ref is its name; Fn::GetAtt
// Arn, DomainName, RegionalDomainName, DualStackDomainName and WebsiteURL as S3 names them.
func (d *Deployer) bucket(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	name := str(p["BucketName"])
	if name == "" {
		suffix := strings.ToLower(randomSuffix(12))
		base := strings.ToLower(st.Name + "-" + id)
		name = base[:min(len(base), 63-len(suffix)-1)] + "-" + suffix
	}
	c := d.s3Client()
	b := aws.String(name)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		return err
	}
	if enc, ok := p["BucketEncryption"].(map[string]any); ok {
		cfg := &s3types.ServerSideEncryptionConfiguration{}
		for _, r := range list(enc["ServerSideEncryptionConfiguration"]) {
			def, _ := r["ServerSideEncryptionByDefault"].(map[string]any)
			rule := s3types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
				SSEAlgorithm: s3types.ServerSideEncryption(str(def["SSEAlgorithm"])), KMSMasterKeyID: optional(def["KMSMasterKeyID"])}}
			if v, ok := r["BucketKeyEnabled"]; ok {
				rule.BucketKeyEnabled = aws.Bool(boolean(v))
			}
			cfg.Rules = append(cfg.Rules, rule)
		}
		if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: cfg}); err != nil {
			return fmt.Errorf("BucketEncryption: %w", err)
		}
	}
	if v, ok := p["VersioningConfiguration"].(map[string]any); ok {
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatus(str(v["Status"]))}}); err != nil {
			return fmt.Errorf("VersioningConfiguration: %w", err)
		}
	}
	if v, ok := p["PublicAccessBlockConfiguration"].(map[string]any); ok {
		if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(boolean(v["BlockPublicAcls"])), BlockPublicPolicy: aws.Bool(boolean(v["BlockPublicPolicy"])),
			IgnorePublicAcls: aws.Bool(boolean(v["IgnorePublicAcls"])), RestrictPublicBuckets: aws.Bool(boolean(v["RestrictPublicBuckets"]))}}); err != nil {
			return fmt.Errorf("PublicAccessBlockConfiguration: %w", err)
		}
	}
	if v, ok := p["OwnershipControls"].(map[string]any); ok {
		oc := &s3types.OwnershipControls{}
		for _, r := range list(v["Rules"]) {
			oc.Rules = append(oc.Rules, s3types.OwnershipControlsRule{ObjectOwnership: s3types.ObjectOwnership(str(r["ObjectOwnership"]))})
		}
		if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: oc}); err != nil {
			return fmt.Errorf("OwnershipControls: %w", err)
		}
	}
	if v, ok := p["LoggingConfiguration"].(map[string]any); ok {
		if _, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: b, BucketLoggingStatus: &s3types.BucketLoggingStatus{
			LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: optional(v["DestinationBucketName"]), TargetPrefix: aws.String(str(v["LogFilePrefix"]))}}}); err != nil {
			return fmt.Errorf("LoggingConfiguration: %w", err)
		}
	}
	region := d.SB.Region
	set(name, map[string]any{"Arn": "arn:aws:s3:::" + name, "DomainName": name + ".s3.amazonaws.com",
		"RegionalDomainName": name + ".s3." + region + ".amazonaws.com", "DualStackDomainName": name + ".s3.dualstack." + region + ".amazonaws.com",
		"WebsiteURL": "http://" + name + ".s3-website-" + region + ".amazonaws.com"})
	d.progress("S3 bucket %s", name)
	return nil
}

// bucketPolicy puts an AWS::S3::BucketPolicy's PolicyDocument on its Bucket.
func (d *Deployer) bucketPolicy(ctx context.Context, _ *Stack, _ string, p map[string]any, set func(string, map[string]any)) error {
	doc, err := document(p["PolicyDocument"])
	if err != nil {
		return err
	}
	if _, err := d.s3Client().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(str(p["Bucket"])), Policy: aws.String(doc)}); err != nil {
		return err
	}
	set(str(p["Bucket"]), nil)
	return nil
}

// trail creates an AWS::CloudTrail::Trail: CreateTrail (which checks the bucket's and key's
// policies), PutEventSelectors for its EventSelectors, StartLogging when IsLogging. With no
// TrailName CloudFormation names it <stack>-<logical id>-<random>. Ref is its name; Fn::GetAtt Arn.
func (d *Deployer) trail(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	name := str(p["TrailName"])
	if name == "" {
		name = st.Name + "-" + id + "-" + randomSuffix(12)
	}
	c := cloudtrail.NewFromConfig(d.Cfg)
	in := &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: optional(p["S3BucketName"]), S3KeyPrefix: optional(p["S3KeyPrefix"]),
		KmsKeyId: optional(p["KMSKeyId"]), IsMultiRegionTrail: aws.Bool(boolean(p["IsMultiRegionTrail"])),
		EnableLogFileValidation: aws.Bool(boolean(p["EnableLogFileValidation"])), IsOrganizationTrail: aws.Bool(boolean(p["IsOrganizationTrail"]))}
	if v, ok := p["IncludeGlobalServiceEvents"]; ok {
		in.IncludeGlobalServiceEvents = aws.Bool(boolean(v))
	}
	out, err := c.CreateTrail(ctx, in)
	if err != nil {
		return err
	}
	if sels := list(p["EventSelectors"]); len(sels) > 0 {
		var es []cttypes.EventSelector
		for _, s := range sels {
			e := cttypes.EventSelector{ReadWriteType: cttypes.ReadWriteType(str(s["ReadWriteType"]))}
			if v, ok := s["IncludeManagementEvents"]; ok {
				e.IncludeManagementEvents = aws.Bool(boolean(v))
			}
			es = append(es, e)
		}
		if _, err := c.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String(name), EventSelectors: es}); err != nil {
			return fmt.Errorf("EventSelectors: %w", err)
		}
	}
	if boolean(p["IsLogging"]) {
		if _, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)}); err != nil {
			return err
		}
	}
	set(name, map[string]any{"Arn": aws.ToString(out.TrailARN)})
	d.progress("CloudTrail trail %s", aws.ToString(out.TrailARN))
	return nil
}
