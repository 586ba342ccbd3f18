package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/s3"
)

// Principal is the service principal CloudTrail delivers log files as.
const Principal = "cloudtrail.amazonaws.com"

// Authorizer judges CloudTrail's access on behalf of a trail (Sandbox.EnforceIAM sets it).
type Authorizer interface {
	// Bucket judges s3:GetBucketAcl on bucket and s3:PutObject of key with
	// bucket-owner-full-control, as cloudtrail.amazonaws.com for the trail.
	Bucket(ctx context.Context, trailARN, bucket, key string) error
	// Key judges kms:GenerateDataKey on kmsKey with the encryption context aws:cloudtrail:arn (and,
	// when describe, kms:DescribeKey), as cloudtrail.amazonaws.com for the trail, for the object key of bucket.
	Key(ctx context.Context, trailARN, kmsKey, bucket, key string, describe bool) error
}

// Records returns the CloudTrail records of the events after seq (the source's own sequence), and
// the sequence of the last event recorded so far.
type Records func(after int) (records []map[string]any, last int)

// Keys resolves a KMS key reference (id, ARN, alias) to its ARN, "" when there is none.
type Keys func(ref string) string

// Service is the sandbox's CloudTrail.
type Service struct {
	core.JSONProtocol
	core.Place
	clock   core.Clock
	s3      *s3.Service
	records Records
	keys    Keys

	mu        sync.Mutex
	trails    map[string]*trail
	authorize Authorizer
}

type trail struct {
	name, bucket, prefix, kmsKey    string
	global, multiRegion, validation bool
	selectors                       []map[string]any
	custom                          bool
	logging                         bool
	started, stopped                time.Time
	cursor                          int
	deliveryError                   string
	deliveryTime, attemptTime       time.Time
	attemptOK                       bool
	lastKey                         string
}

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the Region the service answers as.
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account whose trails these are.
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// New returns a CloudTrail with no trails, delivering to store the records source gives; keys resolves KMSKeyId.
func New(clock core.Clock, store *s3.Service, records Records, keys Keys, opts ...Option) *Service {
	s := &Service{JSONProtocol: core.NewJSONProtocol("cloudtrail", "CloudTrail_20131101", "1.1"), Place: core.DefaultPlace,
		clock: clock, s3: store, records: records, keys: keys, trails: map[string]*trail{}}
	return core.Configure(s, opts)
}

// SetAuthorizer makes CreateTrail and every delivery pass authorize (Sandbox.EnforceIAM).
func (s *Service) SetAuthorizer(a Authorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = a
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateTrail":       core.Handler(s.createTrail),
		"GetTrail":          core.Handler(s.getTrail),
		"DescribeTrails":    core.Handler(s.describeTrails),
		"DeleteTrail":       core.Handler(s.deleteTrail),
		"StartLogging":      core.Handler(s.startLogging),
		"StopLogging":       core.Handler(s.stopLogging),
		"GetTrailStatus":    core.Handler(s.getTrailStatus),
		"PutEventSelectors": core.Handler(s.putEventSelectors),
		"GetEventSelectors": core.Handler(s.getEventSelectors),
	}
}

// TrailARN is the ARN of the trail named name.
func (s *Service) TrailARN(name string) string {
	return fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", s.Region(), s.Account(), name)
}

var trailName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`)

type createInput struct {
	Name                       string
	S3BucketName               string
	S3KeyPrefix                string
	KmsKeyId                   string
	IncludeGlobalServiceEvents *bool
	IsMultiRegionTrail         bool
	EnableLogFileValidation    bool
	IsOrganizationTrail        bool
}

func (s *Service) createTrail(ctx context.Context, in createInput) (any, error) {
	if !trailName.MatchString(in.Name) || strings.Contains(in.Name, "..") || strings.Contains(in.Name, "--") {
		return nil, core.Errorf("InvalidTrailNameException", "Trail name must start with a letter or number, be 3-128 characters of letters, numbers, periods, underscores and dashes, without adjacent periods or dashes: %s", in.Name)
	}
	if in.IsOrganizationTrail {
		return nil, core.Errorf("OrganizationsNotInUseException", "The sandbox has no AWS Organization: an organization trail cannot be created.")
	}
	s.mu.Lock()
	_, exists := s.trails[in.Name]
	authorize := s.authorize
	s.mu.Unlock()
	if exists {
		return nil, core.Errorf("TrailAlreadyExistsException", "Trail %s already exists for customer: %s", in.Name, s.Account())
	}
	if in.S3BucketName == "" {
		return nil, core.Errorf("InvalidParameterCombinationException", "S3BucketName is required")
	}
	if !s.s3.BucketExists(in.S3BucketName) {
		return nil, core.Errorf("S3BucketDoesNotExistException", "S3 bucket %s does not exist.", in.S3BucketName)
	}
	t := &trail{name: in.Name, bucket: in.S3BucketName, prefix: in.S3KeyPrefix, multiRegion: in.IsMultiRegionTrail,
		validation: in.EnableLogFileValidation, global: in.IncludeGlobalServiceEvents == nil || *in.IncludeGlobalServiceEvents,
		selectors: []map[string]any{{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": []any{}, "ExcludeManagementEventSources": []any{}}}}
	if in.KmsKeyId != "" {
		if t.kmsKey = s.keys(in.KmsKeyId); t.kmsKey == "" {
			return nil, core.Errorf("KmsKeyNotFoundException", "KMS key %s does not exist or is not in the trail's region.", in.KmsKeyId)
		}
	}
	arn := s.TrailARN(in.Name)
	if authorize != nil {
		probe := s.logKey(t, s.clock.Now())
		if err := authorize.Bucket(ctx, arn, t.bucket, probe); err != nil {
			return nil, core.Errorf("InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: %s", t.bucket)
		}
		if t.kmsKey != "" {
			if err := authorize.Key(ctx, arn, t.kmsKey, t.bucket, probe, true); err != nil {
				return nil, core.Errorf("InsufficientEncryptionPolicyException", "Insufficient permissions to access S3 bucket %s or KMS key %s.", t.bucket, t.kmsKey)
			}
		}
	}
	// A new trail records the events from its creation on.
	_, t.cursor = s.records(math.MaxInt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trails[in.Name] != nil {
		return nil, core.Errorf("TrailAlreadyExistsException", "Trail %s already exists for customer: %s", in.Name, s.Account())
	}
	s.trails[in.Name] = t
	return s.describe(t), nil
}

// find returns the trail a Name (a name or an ARN) names. Caller holds s.mu.
func (s *Service) find(name string) (*trail, error) {
	if i := strings.LastIndex(name, ":trail/"); i >= 0 {
		name = name[i+len(":trail/"):]
	}
	t := s.trails[name]
	if t == nil {
		return nil, core.Errorf("TrailNotFoundException", "Unknown trail: %s for the user: %s", name, s.Account())
	}
	return t, nil
}

func (s *Service) describe(t *trail) map[string]any {
	out := map[string]any{
		"Name": t.name, "S3BucketName": t.bucket, "IncludeGlobalServiceEvents": t.global, "IsMultiRegionTrail": t.multiRegion,
		"HomeRegion": s.Region(), "TrailARN": s.TrailARN(t.name), "LogFileValidationEnabled": t.validation,
		"HasCustomEventSelectors": t.custom, "HasInsightSelectors": false, "IsOrganizationTrail": false,
	}
	if t.prefix != "" {
		out["S3KeyPrefix"] = t.prefix
	}
	if t.kmsKey != "" {
		out["KmsKeyId"] = t.kmsKey
	}
	return out
}

type nameInput struct{ Name string }

func (s *Service) withTrail(name string, f func(t *trail) (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.find(name)
	if err != nil {
		return nil, err
	}
	return f(t)
}

func (s *Service) getTrail(_ context.Context, in nameInput) (any, error) {
	return s.withTrail(in.Name, func(t *trail) (any, error) { return map[string]any{"Trail": s.describe(t)}, nil })
}

func (s *Service) describeTrails(_ context.Context, in struct{ TrailNameList []string }) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []map[string]any{}
	names := in.TrailNameList
	if len(names) == 0 {
		for n := range s.trails {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	for _, n := range names {
		if t, err := s.find(n); err == nil {
			list = append(list, s.describe(t))
		}
	}
	return map[string]any{"trailList": list}, nil
}

func (s *Service) deleteTrail(_ context.Context, in nameInput) (any, error) {
	return s.withTrail(in.Name, func(t *trail) (any, error) {
		delete(s.trails, t.name)
		return nil, nil
	})
}

func (s *Service) startLogging(_ context.Context, in nameInput) (any, error) {
	return s.withTrail(in.Name, func(t *trail) (any, error) {
		if !t.logging {
			t.logging, t.started = true, s.clock.Now()
		}
		return nil, nil
	})
}

func (s *Service) stopLogging(_ context.Context, in nameInput) (any, error) {
	return s.withTrail(in.Name, func(t *trail) (any, error) {
		if t.logging {
			t.logging, t.stopped = false, s.clock.Now()
		}
		return nil, nil
	})
}

func epoch(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixMilli()) / 1000
}

func (s *Service) getTrailStatus(_ context.Context, in nameInput) (any, error) {
	return s.withTrail(in.Name, func(t *trail) (any, error) {
		out := map[string]any{"IsLogging": t.logging}
		for k, v := range map[string]any{"StartLoggingTime": epoch(t.started), "StopLoggingTime": epoch(t.stopped),
			"LatestDeliveryTime": epoch(t.deliveryTime)} {
			if v != nil {
				out[k] = v
			}
		}
		if t.deliveryError != "" {
			out["LatestDeliveryError"] = t.deliveryError
		}
		if !t.attemptTime.IsZero() {
			out["LatestDeliveryAttemptTime"] = t.attemptTime.UTC().Format("2006-01-02T15:04:05Z")
			out["LatestDeliveryAttemptSucceeded"] = ""
			if t.attemptOK {
				out["LatestDeliveryAttemptSucceeded"] = out["LatestDeliveryAttemptTime"]
			}
		}
		if !t.started.IsZero() {
			out["TimeLoggingStarted"] = t.started.UTC().Format("2006-01-02T15:04:05Z")
		}
		return out, nil
	})
}

func (s *Service) putEventSelectors(_ context.Context, in struct {
	TrailName      string
	EventSelectors []map[string]any
}) (any, error) {
	return s.withTrail(in.TrailName, func(t *trail) (any, error) {
		if len(in.EventSelectors) == 0 || len(in.EventSelectors) > 5 {
			return nil, core.Errorf("InvalidEventSelectorsException", "A trail has 1 to 5 event selectors.")
		}
		for _, sel := range in.EventSelectors {
			if rw, _ := sel["ReadWriteType"].(string); rw != "" && rw != "All" && rw != "ReadOnly" && rw != "WriteOnly" {
				return nil, core.Errorf("InvalidEventSelectorsException", "ReadWriteType %q is not ReadOnly, WriteOnly or All.", rw)
			}
			if dr, ok := sel["DataResources"].([]any); ok && len(dr) > 0 {
				return nil, core.Errorf("InvalidEventSelectorsException", "The sandbox records no data events: DataResources is not supported.")
			}
		}
		t.selectors, t.custom = in.EventSelectors, true
		return map[string]any{"TrailARN": s.TrailARN(t.name), "EventSelectors": t.selectors}, nil
	})
}

func (s *Service) getEventSelectors(_ context.Context, in struct{ TrailName string }) (any, error) {
	return s.withTrail(in.TrailName, func(t *trail) (any, error) {
		return map[string]any{"TrailARN": s.TrailARN(t.name), "EventSelectors": t.selectors}, nil
	})
}

// selects reports whether the trail's event selectors take a management event.
func (t *trail) selects(rec map[string]any) bool {
	readOnly, _ := rec["readOnly"].(bool)
	for _, sel := range t.selectors {
		if inc, ok := sel["IncludeManagementEvents"].(bool); ok && !inc {
			continue
		}
		switch sel["ReadWriteType"] {
		case "ReadOnly":
			if !readOnly {
				continue
			}
		case "WriteOnly":
			if readOnly {
				continue
			}
		}
		return true
	}
	return false
}

// logKey is the object key of a log file delivered at now.
func (s *Service) logKey(t *trail, now time.Time) string {
	now = now.UTC()
	key := fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", s.Account(), s.Region(), now.Format("2006/01/02"),
		s.Account(), s.Region(), now.Format("20060102T1504Z"), core.RandomHex(8))
	if t.prefix != "" {
		key = strings.TrimSuffix(t.prefix, "/") + "/" + key
	}
	return key
}

// Delivery is one trail's log file written, or refused, by Deliver.
type Delivery struct {
	Trail, Bucket, Key string
	Records            int
	// Err is why nothing was written (the trail's LatestDeliveryError says it as CloudTrail does).
	Err error
}

// Deliver writes, for every logging trail, the events recorded since its last delivery as one log
// file (none when there are no events), and returns what it wrote or was refused.
func (s *Service) Deliver(ctx context.Context) []Delivery {
	s.mu.Lock()
	var names []string
	for n, t := range s.trails {
		if t.logging {
			names = append(names, n)
		}
	}
	authorize := s.authorize
	s.mu.Unlock()
	sort.Strings(names)
	var out []Delivery
	for _, n := range names {
		s.mu.Lock()
		t := s.trails[n]
		if t == nil {
			s.mu.Unlock()
			continue
		}
		snapshot := *t
		s.mu.Unlock()
		recs, last := s.records(snapshot.cursor)
		var selected []map[string]any
		for _, r := range recs {
			if snapshot.selects(r) {
				selected = append(selected, r)
			}
		}
		if len(selected) == 0 {
			continue
		}
		now := s.clock.Now()
		d := Delivery{Trail: s.TrailARN(n), Bucket: snapshot.bucket, Key: s.logKey(&snapshot, now), Records: len(selected)}
		d.Err = s.write(ctx, authorize, &snapshot, d, selected)
		s.mu.Lock()
		if t := s.trails[n]; t != nil {
			t.attemptTime, t.attemptOK = now, d.Err == nil
			if d.Err == nil {
				t.cursor, t.deliveryTime, t.deliveryError, t.lastKey = last, now, "", d.Key
			} else {
				t.deliveryError = deliveryError(d.Err)
			}
		}
		s.mu.Unlock()
		out = append(out, d)
	}
	return out
}

// deliveryError is how GetTrailStatus names a failed delivery: the S3 error CloudTrail got.
func deliveryError(err error) string {
	var ce *core.Error
	if errors.As(err, &ce) && ce.Code == "NoSuchBucket" {
		return "NoSuchBucket"
	}
	return "AccessDenied"
}

func (s *Service) write(ctx context.Context, authorize Authorizer, t *trail, d Delivery, records []map[string]any) error {
	if authorize != nil {
		if err := authorize.Bucket(ctx, d.Trail, t.bucket, d.Key); err != nil {
			return err
		}
		if t.kmsKey != "" {
			if err := authorize.Key(ctx, d.Trail, t.kmsKey, t.bucket, d.Key, false); err != nil {
				return err
			}
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(map[string]any{"Records": records}); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	opt := s3.WriteOptions{ACL: "bucket-owner-full-control", ContentType: "application/json"}
	if t.kmsKey != "" {
		opt.ServerSideEncryption, opt.KMSKeyID = "aws:kms", t.kmsKey
		opt.EncryptionContext = map[string]string{"aws:cloudtrail:arn": d.Trail, "aws:s3:arn": s3.ObjectARN(t.bucket, d.Key)}
	}
	_, err := s.s3.Write(ctx, t.bucket, d.Key, buf.Bytes(), opt)
	return err
}

// LatestLogFile returns the key of the trail's last delivered log file ("" for none).
func (s *Service) LatestLogFile(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.trails[name]; t != nil {
		return t.lastKey
	}
	return ""
}
