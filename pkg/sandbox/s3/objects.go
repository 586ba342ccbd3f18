package s3

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// WriteOptions are how an object is stored: its canned ACL, server-side encryption (aws:kms with
// KMSKeyID and an optional EncryptionContext, or AES256; "" for the bucket's default) and type.
type WriteOptions struct {
	ACL, ServerSideEncryption, KMSKeyID, ContentType string
	EncryptionContext                                map[string]string
	Metadata                                         map[string]string
}

// Written is a stored object's answer: its ETag, version id (versioned buckets) and encryption.
type Written struct {
	ETag, VersionID, ServerSideEncryption, KMSKeyID string
}

// Write stores an object as a service writes one on its own behalf (CloudTrail's log files, access
// logs): the caller has already authorized it. SSE-KMS data keys come from KMS as for a PutObject.
func (s *Service) Write(ctx context.Context, bucket, key string, body []byte, opt WriteOptions) (Written, error) {
	s.mu.Lock()
	b := s.buckets[bucket]
	var def *encryptionConfig
	if b != nil {
		def = b.encryption
	}
	s.mu.Unlock()
	if b == nil {
		return Written{}, noSuchBucket(bucket)
	}
	if opt.ServerSideEncryption == "" && def != nil {
		opt.ServerSideEncryption = def.Rule.Default.SSEAlgorithm
		if opt.KMSKeyID == "" {
			opt.KMSKeyID = def.Rule.Default.KMSMasterKeyID
		}
	}
	sum := md5.Sum(body)
	o := &object{size: int64(len(body)), etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: s.clock.Now(),
		contentType: opt.ContentType, sse: opt.ServerSideEncryption, metadata: opt.Metadata, body: body}
	if o.contentType == "" {
		o.contentType = "binary/octet-stream"
	}
	if o.sse == "" {
		o.sse = "AES256"
	}
	if strings.HasPrefix(o.sse, "aws:kms") {
		o.encCtx = opt.EncryptionContext
		if o.encCtx == nil {
			o.encCtx = map[string]string{"aws:s3:arn": ObjectARN(bucket, key)}
		}
		if opt.KMSKeyID == "" {
			return Written{}, core.Errorf("InvalidArgument", "The sandbox has no AWS managed key aws/s3: name a customer managed key (x-amz-server-side-encryption-aws-kms-key-id or the bucket's default)")
		}
		if err := s.seal(ctx, o, opt.KMSKeyID); err != nil {
			return Written{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b = s.buckets[bucket]; b == nil {
		return Written{}, noSuchBucket(bucket)
	}
	if b.versioning == "Enabled" {
		o.versionID = core.RandomHex(16)
	}
	b.objects[key] = o
	return Written{ETag: o.etag, VersionID: o.versionID, ServerSideEncryption: o.sse, KMSKeyID: o.kmsKey}, nil
}

// kmsCall runs a KMS operation in process and decodes its answer into out.
func (s *Service) kmsCall(ctx context.Context, op string, in, out any) error {
	f := s.kms.Operations()[op]
	if f == nil {
		return fmt.Errorf("the sandbox's KMS has no %s", op)
	}
	req, err := json.Marshal(in)
	if err != nil {
		return err
	}
	res, err := f(ctx, req)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// seal encrypts o.body under a new data key of keyID, keeping the encrypted data key.
func (s *Service) seal(ctx context.Context, o *object, keyID string) error {
	var dk struct {
		CiphertextBlob, Plaintext []byte
		KeyId                     string
	}
	if err := s.kmsCall(ctx, "GenerateDataKey", map[string]any{"KeyId": keyID, "KeySpec": "AES_256", "EncryptionContext": o.encCtx}, &dk); err != nil {
		return err
	}
	gcm, err := newGCM(dk.Plaintext)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	o.body = gcm.Seal(nonce, nonce, o.body, nil)
	o.kmsKey, o.dataKey = dk.KeyId, dk.CiphertextBlob
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return cipher.NewGCM(block)
}

// open decrypts an SSE-KMS object's body: KMS decrypts its data key with the object's context.
func (s *Service) open(ctx context.Context, o *object) ([]byte, error) {
	if o.dataKey == nil {
		return o.body, nil
	}
	var dk struct{ Plaintext []byte }
	if err := s.kmsCall(ctx, "Decrypt", map[string]any{"CiphertextBlob": o.dataKey, "KeyId": o.kmsKey, "EncryptionContext": o.encCtx}, &dk); err != nil {
		return nil, err
	}
	gcm, err := newGCM(dk.Plaintext)
	if err != nil {
		return nil, err
	}
	n := gcm.NonceSize()
	if len(o.body) < n {
		return nil, fmt.Errorf("sealed object too short")
	}
	return gcm.Open(nil, o.body[:n], o.body[n:], nil)
}

func (s *Service) putObject(ctx context.Context, r *http.Request, bucket, key string, body []byte) (*core.RESTResponse, error) {
	opt := WriteOptions{ACL: r.Header.Get("x-amz-acl"), ServerSideEncryption: r.Header.Get("x-amz-server-side-encryption"),
		KMSKeyID: r.Header.Get("x-amz-server-side-encryption-aws-kms-key-id"), ContentType: r.Header.Get("Content-Type")}
	if c := r.Header.Get("x-amz-server-side-encryption-context"); c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		if err != nil || json.Unmarshal(raw, &opt.EncryptionContext) != nil {
			return nil, core.Errorf("InvalidArgument", "x-amz-server-side-encryption-context must be base64 of a JSON object of strings")
		}
	}
	for k, vs := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			if opt.Metadata == nil {
				opt.Metadata = map[string]string{}
			}
			opt.Metadata[name] = vs[0]
		}
	}
	w, err := s.Write(ctx, bucket, key, body, opt)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("ETag", w.ETag)
	setSSE(h, w.ServerSideEncryption, w.KMSKeyID)
	if w.VersionID != "" {
		h.Set("x-amz-version-id", w.VersionID)
	}
	return &core.RESTResponse{Status: http.StatusOK, Header: h}, nil
}

func setSSE(h http.Header, sse, key string) {
	h.Set("x-amz-server-side-encryption", sse)
	if key != "" {
		h.Set("x-amz-server-side-encryption-aws-kms-key-id", key)
	}
}

func noSuchKey() *core.Error {
	return core.StatusErrorf(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
}

func (s *Service) getObject(ctx context.Context, bucket, key string, head bool) (*core.RESTResponse, error) {
	s.mu.Lock()
	b := s.buckets[bucket]
	var o *object
	if b != nil {
		o = b.objects[key]
	}
	s.mu.Unlock()
	switch {
	case b == nil:
		return nil, noSuchBucket(bucket)
	case o == nil:
		return nil, noSuchKey()
	}
	h := http.Header{}
	h.Set("ETag", o.etag)
	h.Set("Content-Type", o.contentType)
	h.Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(o.size, 10))
	setSSE(h, o.sse, o.kmsKey)
	if o.versionID != "" {
		h.Set("x-amz-version-id", o.versionID)
	}
	for k, v := range o.metadata {
		h.Set("x-amz-meta-"+k, v)
	}
	if head {
		return &core.RESTResponse{Status: http.StatusOK, Header: h}, nil
	}
	body, err := s.open(ctx, o)
	if err != nil {
		return nil, err
	}
	return &core.RESTResponse{Status: http.StatusOK, Header: h, Body: body}, nil
}

func (s *Service) deleteObject(name, key string) (*core.RESTResponse, error) {
	return s.withBucket(name, func(b *bucket) (*core.RESTResponse, error) {
		delete(b.objects, key)
		return noContent()
	})
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string   `xml:"Name"`
	Prefix                string   `xml:"Prefix"`
	Delimiter             string   `xml:"Delimiter,omitempty"`
	StartAfter            string   `xml:"StartAfter,omitempty"`
	ContinuationToken     string   `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string   `xml:"NextContinuationToken,omitempty"`
	KeyCount              int      `xml:"KeyCount"`
	MaxKeys               int      `xml:"MaxKeys"`
	IsTruncated           bool     `xml:"IsTruncated"`
	Contents              []struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

// listObjects answers ListObjectsV2: keys in UTF-8 binary order after the continuation token (an
// opaque base64 of the last key returned) or start-after, rolled up to common prefixes at the
// delimiter, at most max-keys entries (keys and prefixes) a page.
func (s *Service) listObjects(r *http.Request, bucket string) (*core.RESTResponse, error) {
	q := r.URL.Query()
	out := listResult{Name: bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), StartAfter: q.Get("start-after"),
		ContinuationToken: q.Get("continuation-token"), MaxKeys: 1000}
	if m := q.Get("max-keys"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return nil, core.Errorf("InvalidArgument", "max-keys must be a non-negative integer")
		}
		out.MaxKeys = min(n, 1000)
	}
	after := out.StartAfter
	if out.ContinuationToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(out.ContinuationToken)
		if err != nil {
			return nil, core.Errorf("InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(raw)
	}
	s.mu.Lock()
	b := s.buckets[bucket]
	if b == nil {
		s.mu.Unlock()
		return nil, noSuchBucket(bucket)
	}
	keys := make([]string, 0, len(b.objects))
	objs := maps.Clone(b.objects)
	s.mu.Unlock()
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	last := ""
	for _, k := range keys {
		if !strings.HasPrefix(k, out.Prefix) || k <= after {
			continue
		}
		entry := k
		if out.Delimiter != "" {
			if i := strings.Index(k[len(out.Prefix):], out.Delimiter); i >= 0 {
				entry = k[:len(out.Prefix)+i+len(out.Delimiter)]
				if seen[entry] || entry <= after {
					continue
				}
			}
		}
		if out.KeyCount == out.MaxKeys {
			out.IsTruncated = true
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		out.KeyCount++
		if entry != k {
			seen[entry] = true
			out.CommonPrefixes = append(out.CommonPrefixes, struct {
				Prefix string `xml:"Prefix"`
			}{entry})
			// Continue after every key under this prefix: the token's key sorts after them.
			last = entry + "\U0010FFFF"
			continue
		}
		o := objs[k]
		out.Contents = append(out.Contents, struct {
			Key          string `xml:"Key"`
			LastModified string `xml:"LastModified"`
			ETag         string `xml:"ETag"`
			Size         int64  `xml:"Size"`
			StorageClass string `xml:"StorageClass"`
		}{k, o.modified.UTC().Format(time.RFC3339Nano), o.etag, o.size, "STANDARD"})
		last = k
	}
	return xmlResponse(out)
}
