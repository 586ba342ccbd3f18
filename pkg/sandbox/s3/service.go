package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// TransportHeader marks a request as made over plain HTTP (value "http"); see the package doc.
const TransportHeader = "X-Sandbox-Transport"

// LoggingPrincipal is the service principal S3 server access logging writes log objects as.
const LoggingPrincipal = "logging.s3.amazonaws.com"

// DeliveryAuthorizer judges principal (a service principal) writing the object bucket/key on
// behalf of source (aws:SourceArn) with the canned ACL acl; a non-nil error refuses the write.
type DeliveryAuthorizer func(ctx context.Context, principal, source, bucket, key, acl string) error

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the Region the service answers as.
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account that owns every bucket.
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Service is the sandbox's S3.
type Service struct {
	core.Place
	clock core.Clock
	// kms encrypts and decrypts SSE-KMS objects' data keys (the sandbox's KMS, as S3 calls it).
	kms core.JSONService

	mu        sync.Mutex
	buckets   map[string]*bucket
	authorize DeliveryAuthorizer
	requester func(r *http.Request) string
	// pending are the access log lines of each source bucket not delivered yet.
	pending map[string][]string
}

type bucket struct {
	name       string
	created    time.Time
	policy     string
	encryption *encryptionConfig
	versioning string
	pab        *publicAccessBlock
	ownership  string
	logging    *loggingEnabled
	objects    map[string]*object
}

type object struct {
	body        []byte // sealed (nonce and AES-GCM ciphertext) for SSE-KMS
	size        int64
	etag        string
	modified    time.Time
	contentType string
	sse         string
	kmsKey      string
	dataKey     []byte // the KMS-encrypted data key of an SSE-KMS object
	encCtx      map[string]string
	metadata    map[string]string
	versionID   string
}

// New returns an S3 with no buckets; kms is the KMS that SSE-KMS objects' data keys come from.
func New(clock core.Clock, kms core.JSONService, opts ...Option) *Service {
	s := &Service{clock: clock, kms: kms, Place: core.DefaultPlace, buckets: map[string]*bucket{}, pending: map[string][]string{}}
	return core.Configure(s, opts)
}

// SetDeliveryAuthorizer makes every access log delivery pass authorize first (Sandbox.EnforceIAM).
func (s *Service) SetDeliveryAuthorizer(authorize DeliveryAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = authorize
}

// SetRequester names the principal of a request in access log lines (the sandbox knows who signed).
func (s *Service) SetRequester(f func(r *http.Request) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requester = f
}

// BucketARN is arn:aws:s3:::name.
func BucketARN(name string) string { return "arn:aws:s3:::" + name }

// ObjectARN is arn:aws:s3:::bucket/key.
func ObjectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// owner is the account's canonical user id (S3's 64 hex digits), derived from the account id.
func (s *Service) owner() string {
	sum := sha256.Sum256([]byte("strongroom-sandbox-canonical-user:" + s.Account()))
	return hex.EncodeToString(sum[:])
}

var _ core.RESTService = (*Service)(nil)

// ServiceID implements core.RESTService.
func (s *Service) ServiceID() string { return "s3" }

// operations are every operation MatchREST returns.
var operations = []string{
	"ListBuckets", "CreateBucket", "HeadBucket", "DeleteBucket",
	"PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy",
	"PutBucketEncryption", "GetBucketEncryption", "PutBucketVersioning", "GetBucketVersioning",
	"PutPublicAccessBlock", "GetPublicAccessBlock", "PutBucketOwnershipControls",
	"PutBucketLogging", "GetBucketLogging", "GetBucketAcl",
	"PutObject", "GetObject", "HeadObject", "DeleteObject", "ListObjectsV2",
}

// RESTOperations implements core.RESTService.
func (s *Service) RESTOperations() []string { return append([]string(nil), operations...) }

// scopeService matches the service of a SigV4 credential scope: <key>/<date>/<region>/<service>/aws4_request.
var scopeService = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

// signedForS3 reports whether r is signed for the service s3 (header or pre-signed query).
func signedForS3(r *http.Request) bool {
	if m := scopeService.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1] == "s3"
	}
	parts := strings.Split(r.URL.Query().Get("X-Amz-Credential"), "/")
	return len(parts) == 5 && parts[3] == "s3"
}

// subresources are the bucket subresources an operation is chosen by, with the operation per method.
var subresources = map[string]map[string]string{
	"policy":            {http.MethodPut: "PutBucketPolicy", http.MethodGet: "GetBucketPolicy", http.MethodDelete: "DeleteBucketPolicy"},
	"encryption":        {http.MethodPut: "PutBucketEncryption", http.MethodGet: "GetBucketEncryption"},
	"versioning":        {http.MethodPut: "PutBucketVersioning", http.MethodGet: "GetBucketVersioning"},
	"publicAccessBlock": {http.MethodPut: "PutPublicAccessBlock", http.MethodGet: "GetPublicAccessBlock"},
	"ownershipControls": {http.MethodPut: "PutBucketOwnershipControls"},
	"logging":           {http.MethodPut: "PutBucketLogging", http.MethodGet: "GetBucketLogging"},
	"acl":               {http.MethodGet: "GetBucketAcl"},
}

// MatchREST implements core.RESTService: a request signed for s3, by method, path and subresource.
func (s *Service) MatchREST(r *http.Request) string {
	if !signedForS3(r) {
		return ""
	}
	bucket, key := split(r)
	q := r.URL.Query()
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case key != "":
		return map[string]string{http.MethodPut: "PutObject", http.MethodGet: "GetObject", http.MethodHead: "HeadObject", http.MethodDelete: "DeleteObject"}[r.Method]
	default:
		for sub, ops := range subresources {
			if q.Has(sub) {
				return ops[r.Method]
			}
		}
		if r.Method == http.MethodGet && q.Get("list-type") == "2" {
			return "ListObjectsV2"
		}
		return map[string]string{http.MethodPut: "CreateBucket", http.MethodHead: "HeadBucket", http.MethodDelete: "DeleteBucket"}[r.Method]
	}
	return ""
}

// split returns a path-style request's bucket and key.
func split(r *http.Request) (bucket, key string) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	b, k, _ := strings.Cut(p, "/")
	bucket, _ = url.PathUnescape(b)
	key, _ = url.PathUnescape(k)
	return bucket, key
}

var _ core.RESTPathParams = (*Service)(nil)

// PathParams implements core.RESTPathParams: Bucket and Key by the API model's names, the request
// headers IAM conditions read (ACL: x-amz-acl, ServerSideEncryption, SSEKMSKeyId), ListObjectsV2's
// Prefix and Delimiter, and SecureTransport, "false" for a request marked plain HTTP
// (TransportHeader), else "true".
func (s *Service) PathParams(_ string, r *http.Request) map[string]string {
	bucket, key := split(r)
	p := map[string]string{"Bucket": bucket, "Key": key, "SecureTransport": "true"}
	if strings.EqualFold(r.Header.Get(TransportHeader), "http") {
		p["SecureTransport"] = "false"
	}
	for name, h := range map[string]string{"ACL": "x-amz-acl", "ServerSideEncryption": "x-amz-server-side-encryption", "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id"} {
		if v := r.Header.Get(h); v != "" {
			p[name] = v
		}
	}
	q := r.URL.Query()
	for name, k := range map[string]string{"Prefix": "prefix", "Delimiter": "delimiter"} {
		if q.Has(k) {
			p[name] = q.Get(k)
		}
	}
	return p
}

// RESTError implements core.RESTErrorBody: S3's XML error (no body for HEAD, as S3 answers).
func (s *Service) RESTError(e *core.Error, requestID string, r *http.Request) (string, []byte) {
	if r.Method == http.MethodHead {
		return "application/xml", nil
	}
	bucket, key := split(r)
	var b strings.Builder
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, "<Error><Code>%s</Code><Message>%s</Message>", esc(e.Code), esc(e.Message))
	if bucket != "" && strings.HasPrefix(e.Code, "NoSuchBucket") || e.Code == "BucketNotEmpty" || e.Code == "BucketAlreadyOwnedByYou" {
		fmt.Fprintf(&b, "<BucketName>%s</BucketName>", esc(bucket))
	}
	if e.Code == "NoSuchKey" {
		fmt.Fprintf(&b, "<Key>%s</Key>", esc(key))
	}
	fmt.Fprintf(&b, "<RequestId>%s</RequestId><HostId>%s</HostId></Error>", esc(requestID), esc(requestID))
	return "application/xml", []byte(b.String())
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ServeREST implements core.RESTService.
func (s *Service) ServeREST(ctx context.Context, op string, r *http.Request, body []byte) (*core.RESTResponse, error) {
	start := s.clock.Now()
	if isChunked(r) {
		decoded, err := decodeChunked(body)
		if err != nil {
			return nil, core.Errorf("IncompleteBody", "The aws-chunked request body could not be decoded: %v", err)
		}
		body = decoded
	}
	bucket, key := split(r)
	resp, err := s.serve(ctx, op, r, bucket, key, body)
	s.logAccess(r, op, bucket, key, resp, err, start, len(body))
	return resp, err
}

func (s *Service) serve(ctx context.Context, op string, r *http.Request, bucket, key string, body []byte) (*core.RESTResponse, error) {
	switch op {
	case "ListBuckets":
		return s.listBuckets()
	case "CreateBucket":
		return s.createBucket(bucket)
	case "PutObject":
		return s.putObject(ctx, r, bucket, key, body)
	case "GetObject", "HeadObject":
		return s.getObject(ctx, bucket, key, op == "HeadObject")
	case "DeleteObject":
		return s.deleteObject(bucket, key)
	case "ListObjectsV2":
		return s.listObjects(r, bucket)
	}
	return s.bucketOp(op, bucket, body)
}

func noSuchBucket(name string) *core.Error {
	return core.StatusErrorf(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
}

// withBucket runs f on the bucket under the lock, or answers NoSuchBucket.
func (s *Service) withBucket(name string, f func(b *bucket) (*core.RESTResponse, error)) (*core.RESTResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[name]
	if b == nil {
		return nil, noSuchBucket(name)
	}
	return f(b)
}

// bucketName checks S3's general purpose bucket naming rules.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func (s *Service) createBucket(name string) (*core.RESTResponse, error) {
	if !bucketName.MatchString(name) || strings.Contains(name, "..") {
		return nil, core.Errorf("InvalidBucketName", "The specified bucket is not valid.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] != nil && s.Region() != "us-east-1" {
		// us-east-1 answers 200 to the owner's repeated CreateBucket, every other Region this.
		return nil, core.StatusErrorf(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	}
	if s.buckets[name] == nil {
		s.buckets[name] = &bucket{name: name, created: s.clock.Now(), objects: map[string]*object{}}
	}
	h := http.Header{}
	h.Set("Location", "/"+name)
	return &core.RESTResponse{Status: http.StatusOK, Header: h}, nil
}

func xmlResponse(v any) (*core.RESTResponse, error) {
	out, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode S3 response: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	return &core.RESTResponse{Status: http.StatusOK, Header: h, Body: append([]byte(xml.Header), out...)}, nil
}

func noContent() (*core.RESTResponse, error) {
	return &core.RESTResponse{Status: http.StatusNoContent}, nil
}

func (s *Service) listBuckets() (*core.RESTResponse, error) {
	s.mu.Lock()
	out := listAllMyBucketsResult{Owner: owner{ID: s.owner(), DisplayName: "sandbox"}}
	for _, b := range s.buckets {
		out.Buckets = append(out.Buckets, bucketEntry{Name: b.name, CreationDate: b.created.UTC().Format(time.RFC3339)})
	}
	s.mu.Unlock()
	sort.Slice(out.Buckets, func(i, j int) bool { return out.Buckets[i].Name < out.Buckets[j].Name })
	return xmlResponse(out)
}

// BucketExists reports whether the bucket exists.
func (s *Service) BucketExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[name] != nil
}

// BucketPolicy returns the bucket's policy ("" for none or no bucket).
func (s *Service) BucketPolicy(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[name]; b != nil {
		return b.policy
	}
	return ""
}

// BucketKMSKey returns the key of the bucket's default SSE-KMS encryption ("" for none).
func (s *Service) BucketKMSKey(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[name]; b != nil && b.encryption != nil && b.encryption.Rule.Default.SSEAlgorithm == "aws:kms" {
		return b.encryption.Rule.Default.KMSMasterKeyID
	}
	return ""
}

// ObjectKMSKey returns the key an SSE-KMS object's data key is encrypted with ("" for none).
func (s *Service) ObjectKMSKey(bucket, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucket]; b != nil && b.objects[key] != nil {
		return b.objects[key].kmsKey
	}
	return ""
}
