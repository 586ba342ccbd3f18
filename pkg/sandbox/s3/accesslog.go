package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// logOperations are the access log's OPERATION field per operation (REST.<method>.<resource type>).
var logOperations = map[string]string{
	"ListBuckets": "REST.GET.SERVICE", "CreateBucket": "REST.PUT.BUCKET", "HeadBucket": "REST.HEAD.BUCKET", "DeleteBucket": "REST.DELETE.BUCKET",
	"PutBucketPolicy": "REST.PUT.BUCKETPOLICY", "GetBucketPolicy": "REST.GET.BUCKETPOLICY", "DeleteBucketPolicy": "REST.DELETE.BUCKETPOLICY",
	"PutBucketEncryption": "REST.PUT.ENCRYPTION", "GetBucketEncryption": "REST.GET.ENCRYPTION",
	"PutBucketVersioning": "REST.PUT.VERSIONING", "GetBucketVersioning": "REST.GET.VERSIONING",
	"PutPublicAccessBlock": "REST.PUT.PUBLIC_ACCESS_BLOCK", "GetPublicAccessBlock": "REST.GET.PUBLIC_ACCESS_BLOCK",
	"PutBucketOwnershipControls": "REST.PUT.OWNERSHIP_CONTROLS", "PutBucketLogging": "REST.PUT.LOGGING_STATUS",
	"GetBucketLogging": "REST.GET.LOGGING_STATUS", "GetBucketAcl": "REST.GET.ACL",
	"PutObject": "REST.PUT.OBJECT", "GetObject": "REST.GET.OBJECT", "HeadObject": "REST.HEAD.OBJECT", "DeleteObject": "REST.DELETE.OBJECT",
	"ListObjectsV2": "REST.GET.BUCKET",
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// logAccess queues the access log line of a request to a bucket with logging enabled, in S3's
// format: owner, bucket, [time], remote IP, requester, request id, operation, key, "request URI",
// status, error code, bytes sent, object size, total time, turn-around time, "referer",
// "user agent", version id, host id, signature version, cipher suite, authentication type, host
// header, TLS version, access point ARN, ACL required.
func (s *Service) logAccess(r *http.Request, op, bucket, key string, resp *core.RESTResponse, err error, start time.Time, size int) {
	if bucket == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil || b.logging == nil {
		return
	}
	status, code, sent, version := http.StatusOK, "-", 0, "-"
	var ce *core.Error
	switch {
	case errors.As(err, &ce):
		status, code = ce.Status, ce.Code
	case err != nil:
		status, code = http.StatusInternalServerError, "InternalError"
	case resp != nil:
		if resp.Status != 0 {
			status = resp.Status
		}
		sent = len(resp.Body)
		version = dash(resp.Header.Get("x-amz-version-id"))
	}
	requester := "-"
	if s.requester != nil {
		requester = dash(s.requester(r))
	}
	elapsed := s.clock.Now().Sub(start).Milliseconds()
	ip, _, _ := strings.Cut(r.RemoteAddr, ":")
	line := fmt.Sprintf(`%s %s [%s] %s %s %s %s %s "%s %s %s" %d %s %s %s %d %d "-" "%s" %s %s SigV4 %s AuthHeader %s %s - -`,
		s.owner(), bucket, start.UTC().Format("02/Jan/2006:15:04:05 -0700"), dash(ip), requester, strings.ToUpper(core.RandomHex(8)),
		logOperations[op], dash(key), r.Method, r.URL.RequestURI(), r.Proto, status, code, dashInt(sent), dashInt(size), elapsed, elapsed,
		dash(r.UserAgent()), version, core.RandomHex(16), "TLS_AES_128_GCM_SHA256", dash(r.Host), "TLSv1.3")
	s.pending[bucket] = append(s.pending[bucket], line)
}

func dashInt(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// AccessLogDelivery is one log object written, or refused, by DeliverAccessLogs.
type AccessLogDelivery struct {
	Source, Bucket, Key string
	Lines               int
	// Err is the refusal (the target bucket's policy does not allow logging.s3.amazonaws.com for
	// this source) or the write's failure; the lines are then dropped, as S3 drops them.
	Err error
}

// DeliverAccessLogs writes every source bucket's pending access log lines as one object in its
// target bucket, <TargetPrefix><YYYY-mm-DD-HH-MM-SS>-<16 hex digits>, as logging.s3.amazonaws.com
// on behalf of the source bucket (judged by the delivery authorizer, when set), and returns what
// it wrote or was refused, by source bucket.
func (s *Service) DeliverAccessLogs(ctx context.Context) []AccessLogDelivery {
	s.mu.Lock()
	type batch struct {
		source string
		target loggingEnabled
		lines  []string
	}
	var batches []batch
	for source, lines := range s.pending {
		if b := s.buckets[source]; b != nil && b.logging != nil && len(lines) > 0 {
			batches = append(batches, batch{source, *b.logging, lines})
		}
		delete(s.pending, source)
	}
	authorize := s.authorize
	s.mu.Unlock()
	sort.Slice(batches, func(i, j int) bool { return batches[i].source < batches[j].source })
	var out []AccessLogDelivery
	for _, bt := range batches {
		d := AccessLogDelivery{Source: bt.source, Bucket: bt.target.TargetBucket, Lines: len(bt.lines),
			Key: bt.target.TargetPrefix + s.clock.Now().UTC().Format("2006-01-02-15-04-05") + "-" + strings.ToUpper(core.RandomHex(8))}
		if authorize != nil {
			d.Err = authorize(ctx, LoggingPrincipal, BucketARN(bt.source), d.Bucket, d.Key, "")
		}
		if d.Err == nil {
			_, d.Err = s.Write(ctx, d.Bucket, d.Key, []byte(strings.Join(bt.lines, "\n")+"\n"), WriteOptions{ContentType: "text/plain"})
		}
		out = append(out, d)
	}
	return out
}
