package s3

import (
	"encoding/json"
	"encoding/xml"
	"net/http"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

const ns = "http://s3.amazonaws.com/doc/2006-03-01/"

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

type bucketEntry struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

type listAllMyBucketsResult struct {
	XMLName xml.Name      `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   owner         `xml:"Owner"`
	Buckets []bucketEntry `xml:"Buckets>Bucket"`
}

type encryptionConfig struct {
	XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Rule    struct {
		Default struct {
			SSEAlgorithm   string `xml:"SSEAlgorithm"`
			KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
		} `xml:"ApplyServerSideEncryptionByDefault"`
		BucketKeyEnabled bool `xml:"BucketKeyEnabled"`
	} `xml:"Rule"`
}

type versioningConfig struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status,omitempty"`
}

type publicAccessBlock struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	Xmlns                 string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

type ownershipControls struct {
	Rules []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

type loggingEnabled struct {
	TargetBucket string `xml:"TargetBucket"`
	TargetPrefix string `xml:"TargetPrefix"`
}

type loggingStatus struct {
	XMLName        xml.Name        `xml:"BucketLoggingStatus"`
	Xmlns          string          `xml:"xmlns,attr,omitempty"`
	LoggingEnabled *loggingEnabled `xml:"LoggingEnabled"`
}

type grantee struct {
	XMLNS string `xml:"xmlns:xsi,attr"`
	Type  string `xml:"xsi:type,attr"`
	ID    string `xml:"ID"`
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   owner    `xml:"Owner"`
	Grants  []struct {
		Grantee    grantee `xml:"Grantee"`
		Permission string  `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

func malformed(what string, err error) *core.Error {
	return core.Errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema (%s: %v).", what, err)
}

// bucketOp answers the operations on a bucket and its subresources.
func (s *Service) bucketOp(op, name string, body []byte) (*core.RESTResponse, error) {
	return s.withBucket(name, func(b *bucket) (*core.RESTResponse, error) {
		switch op {
		case "HeadBucket":
			h := http.Header{}
			h.Set("x-amz-bucket-region", s.Region())
			return &core.RESTResponse{Status: http.StatusOK, Header: h}, nil
		case "DeleteBucket":
			if len(b.objects) > 0 {
				return nil, core.StatusErrorf(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
			}
			delete(s.buckets, name)
			delete(s.pending, name)
			return noContent()
		case "PutBucketPolicy":
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil || doc["Statement"] == nil {
				return nil, core.Errorf("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{' with a Statement")
			}
			b.policy = string(body)
			return noContent()
		case "GetBucketPolicy":
			if b.policy == "" {
				return nil, core.StatusErrorf(http.StatusNotFound, "NoSuchBucketPolicy", "The bucket policy does not exist")
			}
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			return &core.RESTResponse{Status: http.StatusOK, Header: h, Body: []byte(b.policy)}, nil
		case "DeleteBucketPolicy":
			b.policy = ""
			return noContent()
		case "PutBucketEncryption":
			var c encryptionConfig
			if err := xml.Unmarshal(body, &c); err != nil {
				return nil, malformed("ServerSideEncryptionConfiguration", err)
			}
			if a := c.Rule.Default.SSEAlgorithm; a != "AES256" && a != "aws:kms" && a != "aws:kms:dsse" {
				return nil, core.Errorf("InvalidArgument", "The encryption method specified is not supported: %q", a)
			}
			b.encryption = &c
			return &core.RESTResponse{Status: http.StatusOK}, nil
		case "GetBucketEncryption":
			c := encryptionConfig{}
			if b.encryption != nil {
				c = *b.encryption
			} else {
				c.Rule.Default.SSEAlgorithm = "AES256" // every bucket's default since January 2023
			}
			c.Xmlns = ns
			return xmlResponse(c)
		case "PutBucketVersioning":
			var c versioningConfig
			if err := xml.Unmarshal(body, &c); err != nil || (c.Status != "Enabled" && c.Status != "Suspended") {
				return nil, malformed("VersioningConfiguration", err)
			}
			b.versioning = c.Status
			return &core.RESTResponse{Status: http.StatusOK}, nil
		case "GetBucketVersioning":
			return xmlResponse(versioningConfig{Xmlns: ns, Status: b.versioning})
		case "PutPublicAccessBlock":
			var c publicAccessBlock
			if err := xml.Unmarshal(body, &c); err != nil {
				return nil, malformed("PublicAccessBlockConfiguration", err)
			}
			b.pab = &c
			return &core.RESTResponse{Status: http.StatusOK}, nil
		case "GetPublicAccessBlock":
			if b.pab == nil {
				return nil, core.StatusErrorf(http.StatusNotFound, "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found")
			}
			c := *b.pab
			c.Xmlns = ns
			return xmlResponse(c)
		case "PutBucketOwnershipControls":
			var c ownershipControls
			if err := xml.Unmarshal(body, &c); err != nil || len(c.Rules) != 1 {
				return nil, malformed("OwnershipControls", err)
			}
			switch o := c.Rules[0].ObjectOwnership; o {
			case "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter":
				b.ownership = o
			default:
				return nil, core.Errorf("InvalidArgument", "Invalid ObjectOwnership %q", o)
			}
			return &core.RESTResponse{Status: http.StatusOK}, nil
		case "PutBucketLogging":
			var c loggingStatus
			if err := xml.Unmarshal(body, &c); err != nil {
				return nil, malformed("BucketLoggingStatus", err)
			}
			if c.LoggingEnabled != nil && s.buckets[c.LoggingEnabled.TargetBucket] == nil {
				return nil, core.Errorf("InvalidTargetBucketForLogging", "The target bucket for logging does not exist")
			}
			b.logging = c.LoggingEnabled
			return &core.RESTResponse{Status: http.StatusOK}, nil
		case "GetBucketLogging":
			return xmlResponse(loggingStatus{Xmlns: ns, LoggingEnabled: b.logging})
		case "GetBucketAcl":
			acl := accessControlPolicy{Owner: owner{ID: s.owner(), DisplayName: "sandbox"}}
			acl.Grants = append(acl.Grants, struct {
				Grantee    grantee `xml:"Grantee"`
				Permission string  `xml:"Permission"`
			}{grantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: s.owner()}, "FULL_CONTROL"})
			return xmlResponse(acl)
		}
		return nil, core.Errorf("NotImplemented", "The sandbox's S3 does not implement %s", op)
	})
}
