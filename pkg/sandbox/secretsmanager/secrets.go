package secretsmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Limits from the Secrets Manager API reference.
const (
	maxSecretValue      = 65536
	maxStagesPerVersion = 20
	minTokenLen         = 32
	maxTokenLen         = 64
)

var nameRe = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

type createSecretInput struct {
	Name               string
	ClientRequestToken *string
	Description        *string
	KmsKeyId           *string
	SecretString       *string
	SecretBinary       []byte
	Tags               []Tag
}

type createSecretOutput struct {
	ARN       string
	Name      string
	VersionId string `json:",omitempty"`
}

// checkValue validates the SecretString/SecretBinary pair; required says one must be present.
func checkValue(str *string, bin []byte, required bool) error {
	switch {
	case str != nil && bin != nil:
		return errInvalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	case required && str == nil && bin == nil:
		return errInvalidParam("You must provide either SecretString or SecretBinary.")
	case str != nil && len(*str) > maxSecretValue:
		return errInvalidParam("SecretString is %d bytes; the maximum is %d.", len(*str), maxSecretValue)
	case len(bin) > maxSecretValue:
		return errInvalidParam("SecretBinary is %d bytes; the maximum is %d.", len(bin), maxSecretValue)
	}
	return nil
}

// token returns the ClientRequestToken to use as a VersionId, generating one for raw callers (SDKs
// and the CLI always send one).
func token(t *string) (string, error) {
	if t == nil || *t == "" {
		return core.NewUUID(), nil
	}
	if n := len(*t); n < minTokenLen || n > maxTokenLen {
		return "", errInvalidParam("ClientRequestToken must be %d to %d characters long; got %d. Use a UUID.", minTokenLen, maxTokenLen, n)
	}
	return *t, nil
}

func sameValue(v *version, str *string, bin []byte) bool {
	if str != nil {
		return v.str != nil && *v.str == *str
	}
	return v.bin != nil && bytes.Equal(v.bin, bin)
}

func (s *Service) createSecret(_ context.Context, in createSecretInput) (any, error) {
	if !nameRe.MatchString(in.Name) {
		return nil, errInvalidParam("Invalid name %q. Name must be 1 to 512 characters: letters, digits and /_+=.@-.", in.Name)
	}
	if err := checkValue(in.SecretString, in.SecretBinary, false); err != nil {
		return nil, err
	}
	tok, err := token(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	if old, ok := s.byName[in.Name]; ok {
		if old.deleted() {
			return nil, errInvalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// A retried CreateSecret (same token, same value) answers as the first one did.
		if v, ok := old.versions[tok]; ok && in.ClientRequestToken != nil && (in.SecretString != nil || in.SecretBinary != nil) && sameValue(v, in.SecretString, in.SecretBinary) {
			return createSecretOutput{ARN: old.arn, Name: old.name, VersionId: v.id}, nil
		}
		return nil, core.Errorf("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	now := s.clock.Now()
	sec := &secret{
		arn: s.arnPrefix() + in.Name + "-" + randomString(6, alnum), name: in.Name,
		created: now, lastChanged: now, versions: map[string]*version{},
	}
	if in.Description != nil {
		sec.description = *in.Description
	}
	if in.KmsKeyId != nil {
		sec.kmsKeyID = *in.KmsKeyId
	}
	if err := mergeTags(sec, in.Tags); err != nil {
		return nil, err
	}
	out := createSecretOutput{ARN: sec.arn, Name: sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		v := s.newVersion(sec, tok, in.SecretString, in.SecretBinary)
		sec.attach(StageCurrent, v)
		out.VersionId = v.id
	}
	s.secrets[sec.arn] = sec
	s.byName[sec.name] = sec
	return out, nil
}

// newVersion adds a version with the given value (nil for an empty AWSPENDING placeholder).
// Caller holds s.mu.
func (s *Service) newVersion(sec *secret, id string, str *string, bin []byte) *version {
	v := &version{id: id, created: s.clock.Now()}
	s.setValue(sec, v, str, bin)
	sec.versions[id] = v
	sec.order = append(sec.order, id)
	return v
}

func (s *Service) setValue(sec *secret, v *version, str *string, bin []byte) {
	if str != nil {
		cp := *str
		v.str = &cp
		s.remember(cp)
	}
	if bin != nil {
		v.bin = slices.Clone(bin)
		s.remember(string(bin))
	}
	if sec.kmsKeyID != "" {
		v.kmsKeyIDs = []string{sec.kmsKeyID}
	} else {
		v.kmsKeyIDs = []string{"DefaultEncryptionKey"}
	}
}

func mergeTags(sec *secret, tags []Tag) error {
	for i, t := range tags {
		if t.Key == nil || *t.Key == "" {
			return errInvalidParam("Tags[%d].Key is missing: every tag needs a Key of 1 to 128 characters.", i)
		}
		if strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
			return errInvalidParam("Tags[%d].Key %q uses the reserved prefix aws:.", i, *t.Key)
		}
		val := ""
		if t.Value != nil {
			val = *t.Value
		}
		k := *t.Key
		idx := slices.IndexFunc(sec.tags, func(x Tag) bool { return *x.Key == k })
		if idx >= 0 {
			sec.tags[idx].Value = &val
		} else {
			sec.tags = append(sec.tags, Tag{Key: &k, Value: &val})
		}
	}
	if len(sec.tags) > 50 {
		return core.Errorf("LimitExceededException", "A secret can have at most 50 tags; this request would give it %d.", len(sec.tags))
	}
	return nil
}

type secretIDInput struct {
	SecretId string
}

// RotationRules is the rotation schedule as on the wire.
type RotationRules struct {
	AutomaticallyAfterDays *int64  `json:",omitempty"`
	Duration               *string `json:",omitempty"`
	ScheduleExpression     *string `json:",omitempty"`
}

type describeSecretOutput struct {
	ARN                string
	Name               string
	Description        string              `json:",omitempty"`
	KmsKeyId           string              `json:",omitempty"`
	RotationEnabled    *bool               `json:",omitempty"`
	RotationLambdaARN  string              `json:",omitempty"`
	RotationRules      *RotationRules      `json:",omitempty"`
	LastRotatedDate    *core.EpochTime     `json:",omitempty"`
	LastChangedDate    *core.EpochTime     `json:",omitempty"`
	LastAccessedDate   *core.EpochTime     `json:",omitempty"`
	DeletedDate        *core.EpochTime     `json:",omitempty"`
	NextRotationDate   *core.EpochTime     `json:",omitempty"`
	CreatedDate        *core.EpochTime     `json:",omitempty"`
	Tags               []Tag               `json:",omitempty"`
	VersionIdsToStages map[string][]string `json:",omitempty"`
	PrimaryRegion      string              `json:",omitempty"`
}

func epochPtr(t *time.Time) *core.EpochTime {
	if t == nil {
		return nil
	}
	return core.Epoch(*t)
}

func (sec *secret) stagesMap() map[string][]string {
	m := map[string][]string{}
	for _, id := range sec.order {
		if v := sec.versions[id]; len(v.stages) > 0 {
			m[id] = slices.Clone(v.stages)
		}
	}
	return m
}

func (s *Service) describe(sec *secret) describeSecretOutput {
	out := describeSecretOutput{
		ARN: sec.arn, Name: sec.name, Description: sec.description, KmsKeyId: sec.kmsKeyID,
		RotationLambdaARN: sec.rotationLambda,
		RotationRules:     sec.rules,
		LastRotatedDate:   epochPtr(sec.lastRotated), LastChangedDate: core.Epoch(sec.lastChanged),
		LastAccessedDate: epochPtr(sec.lastAccessed), DeletedDate: epochPtr(sec.deletedDate),
		CreatedDate: core.Epoch(sec.created), Tags: slices.Clone(sec.tags),
		VersionIdsToStages: sec.stagesMap(), PrimaryRegion: s.Region(),
	}
	// RotationEnabled appears once rotation was ever configured (false after CancelRotateSecret).
	if sec.rotationLambda != "" {
		out.RotationEnabled = ptr(sec.rotationEnabled)
	}
	if sec.rotationEnabled && sec.sched != nil {
		from := sec.created
		if sec.lastRotated != nil {
			from = *sec.lastRotated
		}
		if next, ok := sec.sched.next(from); ok {
			out.NextRotationDate = core.Epoch(next)
		}
	}
	return out
}

func (s *Service) describeSecret(_ context.Context, in secretIDInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		return s.describe(sec), nil
	})
}

type getSecretValueInput struct {
	SecretId     string
	VersionId    *string
	VersionStage *string
}

type getSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string `json:",omitempty"`
	SecretBinary  []byte  `json:",omitempty"`
	VersionStages []string
	CreatedDate   *core.EpochTime
}

// pick resolves VersionId and VersionStage (AWSCURRENT when neither is given). When both are given
// they must name the same version.
func pick(sec *secret, versionID, stage *string) (*version, error) {
	if versionID == nil && stage == nil {
		stage = ptr(StageCurrent)
	}
	var v *version
	if versionID != nil {
		v = sec.versions[*versionID]
		if v == nil {
			return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", *versionID)
		}
		if stage != nil && !v.has(*stage) {
			return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", *versionID, *stage)
		}
	} else {
		v = sec.holder(*stage)
		if v == nil {
			return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", *stage)
		}
	}
	return v, nil
}

func ptr[T any](v T) *T { return &v }

func (s *Service) getSecretValue(_ context.Context, in getSecretValueInput) (any, error) {
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		v, err := pick(sec, in.VersionId, in.VersionStage)
		if err != nil {
			return nil, err
		}
		if !v.hasValue() {
			label := v.id
			if in.VersionStage != nil {
				return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", *in.VersionStage)
			}
			return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", label)
		}
		day := s.clock.Now().UTC().Truncate(24 * time.Hour)
		sec.lastAccessed, v.lastAccessed = &day, &day
		return getSecretValueOutput{
			ARN: sec.arn, Name: sec.name, VersionId: v.id, SecretString: v.str, SecretBinary: v.bin,
			VersionStages: slices.Clone(v.stages), CreatedDate: core.Epoch(v.created),
		}, nil
	})
}

type putSecretValueInput struct {
	SecretId           string
	ClientRequestToken *string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
	RotationToken      *string
}

type putSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	VersionStages []string
}

func checkStages(stages []string) error {
	if len(stages) > maxStagesPerVersion {
		return errInvalidParam("VersionStages has %d labels; a version can have at most %d.", len(stages), maxStagesPerVersion)
	}
	for i, l := range stages {
		if l == "" || len(l) > 256 {
			return errInvalidParam("VersionStages[%d] must be 1 to 256 characters.", i)
		}
	}
	return nil
}

// writeVersion is the shared core of PutSecretValue and UpdateSecret: it creates (or, for a
// retried token, reuses) a version and attaches stages. Caller holds s.mu.
func (s *Service) writeVersion(sec *secret, tok string, str *string, bin []byte, stages []string) (*version, error) {
	if v, ok := sec.versions[tok]; ok {
		if v.hasValue() {
			if sameValue(v, str, bin) {
				return v, nil // a retry of the same request: ignored, as documented
			}
			return nil, core.Errorf("ResourceExistsException", "A version with ClientRequestToken %s already exists with a different value. You can't modify an existing version; create a new version with a new ClientRequestToken.", tok)
		}
		// The empty AWSPENDING version RotateSecret created: the rotation function fills it in.
		s.setValue(sec, v, str, bin)
		s.applyStages(sec, v, stages)
		sec.lastChanged = s.clock.Now()
		return v, nil
	}
	v := s.newVersion(sec, tok, str, bin)
	s.applyStages(sec, v, stages)
	sec.lastChanged = s.clock.Now()
	sec.dropDeprecated()
	return v, nil
}

// maxVersions is the number of versions above which the service removes deprecated (unlabelled)
// versions, oldest first.
const maxVersions = 100

func (sec *secret) dropDeprecated() {
	for i := 0; len(sec.order) > maxVersions && i < len(sec.order); {
		id := sec.order[i]
		if len(sec.versions[id].stages) > 0 {
			i++
			continue
		}
		delete(sec.versions, id)
		sec.order = slices.Delete(sec.order, i, i+1)
	}
}

// applyStages attaches each label to v. A new value made AWSCURRENT outside a rotation abandons a
// pending rotation: AWSPENDING is removed from the pending version (RotationAbandoned).
func (s *Service) applyStages(sec *secret, v *version, stages []string) {
	for _, l := range stages {
		sec.attach(l, v)
	}
	if slices.Contains(stages, StageCurrent) && !sec.rotating {
		if p := sec.holder(StagePending); p != nil && p != v {
			sec.detach(StagePending, p)
			s.emitLater(RotationEvent{Name: EventRotationAbandoned, SecretARN: sec.arn, Token: p.id, Time: s.clock.Now()})
		}
	}
}

func (s *Service) putSecretValue(_ context.Context, in putSecretValueInput) (any, error) {
	if err := checkValue(in.SecretString, in.SecretBinary, true); err != nil {
		return nil, err
	}
	stages := in.VersionStages
	if stages == nil {
		stages = []string{StageCurrent}
	}
	if err := checkStages(stages); err != nil {
		return nil, err
	}
	tok, err := token(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		v, err := s.writeVersion(sec, tok, in.SecretString, in.SecretBinary, stages)
		if err != nil {
			return nil, err
		}
		return putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
	})
}

type updateSecretInput struct {
	SecretId           string
	ClientRequestToken *string
	Description        *string
	KmsKeyId           *string
	SecretString       *string
	SecretBinary       []byte
}

func (s *Service) updateSecret(_ context.Context, in updateSecretInput) (any, error) {
	if err := checkValue(in.SecretString, in.SecretBinary, false); err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		if in.Description != nil {
			sec.description = *in.Description
		}
		if in.KmsKeyId != nil {
			sec.kmsKeyID = *in.KmsKeyId
		}
		sec.lastChanged = s.clock.Now()
		out := createSecretOutput{ARN: sec.arn, Name: sec.name}
		if in.SecretString != nil || in.SecretBinary != nil {
			tok, err := token(in.ClientRequestToken)
			if err != nil {
				return nil, err
			}
			v, err := s.writeVersion(sec, tok, in.SecretString, in.SecretBinary, []string{StageCurrent})
			if err != nil {
				return nil, err
			}
			out.VersionId = v.id
		}
		return out, nil
	})
}

type updateStageInput struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     *string
	RemoveFromVersionId *string
}

type nameARN struct {
	ARN  string
	Name string
}

// updateSecretVersionStage follows the documented checks: a label attached to a version can only
// move when RemoveFromVersionId names that version; AWSCURRENT can only move, never just go.
func (s *Service) updateSecretVersionStage(_ context.Context, in updateStageInput) (any, error) {
	if in.VersionStage == "" || len(in.VersionStage) > 256 {
		return nil, errInvalidParam("VersionStage must be 1 to 256 characters: the staging label to move or remove.")
	}
	if in.MoveToVersionId == nil && in.RemoveFromVersionId == nil {
		return nil, errInvalidParam("Specify MoveToVersionId, RemoveFromVersionId, or both.")
	}
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		label := in.VersionStage
		cur := sec.holder(label)
		var from, to *version
		if in.RemoveFromVersionId != nil {
			from = sec.versions[*in.RemoveFromVersionId]
			if from == nil {
				return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", *in.RemoveFromVersionId)
			}
			if cur != from {
				return nil, errInvalidParam("The staging label %s is not attached to version %s, so it can't be removed from it.", label, from.id)
			}
		}
		if in.MoveToVersionId != nil {
			to = sec.versions[*in.MoveToVersionId]
			if to == nil {
				return nil, core.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", *in.MoveToVersionId)
			}
			if cur != nil && cur != to && from == nil {
				return nil, errInvalidParam("The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, cur.id)
			}
			if len(to.stages) >= maxStagesPerVersion && !to.has(label) {
				return nil, core.Errorf("LimitExceededException", "Version %s already has %d staging labels, the maximum.", to.id, maxStagesPerVersion)
			}
		}
		if to == nil && label == StageCurrent {
			return nil, errInvalidParam("You can't remove the staging label AWSCURRENT from version %s without moving it: specify MoveToVersionId.", from.id)
		}
		if to != nil {
			sec.attach(label, to)
		} else {
			sec.detach(label, from)
		}
		sec.lastChanged = s.clock.Now()
		return nameARN{ARN: sec.arn, Name: sec.name}, nil
	})
}

type listVersionsInput struct {
	SecretId          string
	IncludeDeprecated *bool
	MaxResults        *int
	NextToken         *string
}

type versionEntry struct {
	VersionId        string
	VersionStages    []string `json:",omitempty"`
	CreatedDate      *core.EpochTime
	LastAccessedDate *core.EpochTime `json:",omitempty"`
	KmsKeyIds        []string        `json:",omitempty"`
}

type listVersionsOutput struct {
	ARN       string
	Name      string
	Versions  []versionEntry
	NextToken *string `json:",omitempty"`
}

func pageBounds(total int, maxResults *int, nextToken *string) (start, end int, next *string, err error) {
	size := 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 100 {
			return 0, 0, nil, errInvalidParam("MaxResults must be between 1 and 100; got %d.", *maxResults)
		}
		size = *maxResults
	}
	if nextToken != nil && *nextToken != "" {
		n, convErr := strconv.Atoi(*nextToken)
		if convErr != nil || n < 0 || n > total {
			return 0, 0, nil, errInvalidParam("NextToken %q is not a token this service returned.", *nextToken)
		}
		start = n
	}
	end = min(start+size, total)
	if end < total {
		next = ptr(strconv.Itoa(end))
	}
	return start, end, next, nil
}

func (s *Service) listSecretVersionIds(_ context.Context, in listVersionsInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		var all []versionEntry
		for _, id := range sec.order {
			v := sec.versions[id]
			if len(v.stages) == 0 && (in.IncludeDeprecated == nil || !*in.IncludeDeprecated) {
				continue
			}
			all = append(all, versionEntry{
				VersionId: v.id, VersionStages: slices.Clone(v.stages), CreatedDate: core.Epoch(v.created),
				LastAccessedDate: epochPtr(v.lastAccessed), KmsKeyIds: slices.Clone(v.kmsKeyIDs),
			})
		}
		start, end, next, err := pageBounds(len(all), in.MaxResults, in.NextToken)
		if err != nil {
			return nil, err
		}
		return listVersionsOutput{ARN: sec.arn, Name: sec.name, Versions: all[start:end], NextToken: next}, nil
	})
}

type listSecretsInput struct {
	IncludePlannedDeletion *bool
	MaxResults             *int
	NextToken              *string
	Filters                []struct {
		Key    string
		Values []string
	}
}

type listSecretEntry struct {
	describeSecretOutput
	SecretVersionsToStages map[string][]string `json:",omitempty"`
}

type listSecretsOutput struct {
	SecretList []listSecretEntry
	NextToken  *string `json:",omitempty"`
}

// listSecrets supports the "name", "description", "tag-key", "tag-value" and "all" filters as
// prefix matches, which is how the service documents them.
func (s *Service) listSecrets(_ context.Context, in listSecretsInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	var all []listSecretEntry
	for _, sec := range s.secrets {
		if sec.deleted() && (in.IncludePlannedDeletion == nil || !*in.IncludePlannedDeletion) {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			var fields []string
			switch f.Key {
			case "name":
				fields = []string{sec.name}
			case "description":
				fields = []string{sec.description}
			case "tag-key", "tag-value":
				for _, t := range sec.tags {
					if f.Key == "tag-key" {
						fields = append(fields, *t.Key)
					} else {
						fields = append(fields, *t.Value)
					}
				}
			case "all":
				fields = []string{sec.name, sec.description}
				for _, t := range sec.tags {
					fields = append(fields, *t.Key, *t.Value)
				}
			default:
				return nil, errInvalidParam("Filters key %q is not supported: use name, description, tag-key, tag-value or all.", f.Key)
			}
			if !anyPrefix(fields, f.Values) {
				ok = false
			}
		}
		if ok {
			d := s.describe(sec)
			all = append(all, listSecretEntry{describeSecretOutput: d, SecretVersionsToStages: d.VersionIdsToStages})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	for i := range all {
		all[i].VersionIdsToStages = nil
	}
	start, end, next, err := pageBounds(len(all), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return listSecretsOutput{SecretList: all[start:end], NextToken: next}, nil
}

func anyPrefix(fields, prefixes []string) bool {
	for _, f := range fields {
		for _, p := range prefixes {
			if neg, ok := strings.CutPrefix(p, "!"); ok {
				if !strings.HasPrefix(f, neg) {
					return true
				}
			} else if strings.HasPrefix(f, p) {
				return true
			}
		}
	}
	return false
}

type deleteSecretInput struct {
	SecretId                   string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

type deleteSecretOutput struct {
	ARN          string
	Name         string
	DeletionDate *core.EpochTime
}

func (s *Service) deleteSecret(_ context.Context, in deleteSecretInput) (any, error) {
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, errInvalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, errInvalidParam("RecoveryWindowInDays must be between 7 and 30 days; got %d.", days)
		}
	}
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		now := s.clock.Now()
		if force {
			sec.rotationEnabled = false
			s.scheduleNext(sec)
			delete(s.secrets, sec.arn)
			if s.byName[sec.name] == sec {
				delete(s.byName, sec.name)
			}
			return deleteSecretOutput{ARN: sec.arn, Name: sec.name, DeletionDate: core.Epoch(now)}, nil
		}
		if sec.deleted() {
			return nil, errInvalidRequest(msgDeleted)
		}
		sec.deletedDate = &now
		sec.deletionDate = now.Add(time.Duration(days) * 24 * time.Hour)
		s.scheduleNext(sec)
		return deleteSecretOutput{ARN: sec.arn, Name: sec.name, DeletionDate: core.Epoch(sec.deletionDate)}, nil
	})
}

func (s *Service) restoreSecret(_ context.Context, in secretIDInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		sec.deletedDate, sec.deletionDate = nil, time.Time{}
		s.scheduleNext(sec)
		return nameARN{ARN: sec.arn, Name: sec.name}, nil
	})
}

type tagInput struct {
	SecretId string
	Tags     []Tag
	TagKeys  []string
}

type empty struct{}

func (s *Service) tagResource(_ context.Context, in tagInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		backup := slices.Clone(sec.tags)
		if err := mergeTags(sec, in.Tags); err != nil {
			sec.tags = backup
			return nil, err
		}
		return empty{}, nil
	})
}

func (s *Service) untagResource(_ context.Context, in tagInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		sec.tags = slices.DeleteFunc(sec.tags, func(t Tag) bool { return slices.Contains(in.TagKeys, *t.Key) })
		return empty{}, nil
	})
}

type policyInput struct {
	SecretId          string
	ResourcePolicy    string
	BlockPublicPolicy *bool
}

type policyOutput struct {
	ARN            string
	Name           string
	ResourcePolicy string `json:",omitempty"`
}

func (s *Service) putResourcePolicy(_ context.Context, in policyInput) (any, error) {
	if in.ResourcePolicy == "" || len(in.ResourcePolicy) > 20480 {
		return nil, errInvalidParam("ResourcePolicy must be a JSON policy document of 1 to 20480 characters.")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(in.ResourcePolicy), &doc); err != nil {
		return nil, core.Errorf("MalformedPolicyDocumentException", "ResourcePolicy is not valid JSON: %v", err)
	}
	if _, ok := doc["Statement"]; !ok {
		return nil, core.Errorf("MalformedPolicyDocumentException", "ResourcePolicy has no Statement.")
	}
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		sec.policy = in.ResourcePolicy
		return nameARN{ARN: sec.arn, Name: sec.name}, nil
	})
}

func (s *Service) getResourcePolicy(_ context.Context, in secretIDInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		return policyOutput{ARN: sec.arn, Name: sec.name, ResourcePolicy: sec.policy}, nil
	})
}

func (s *Service) deleteResourcePolicy(_ context.Context, in secretIDInput) (any, error) {
	return core.Locked(&s.mu, s.find, in.SecretId, func(sec *secret) (any, error) {
		sec.policy = ""
		return nameARN{ARN: sec.arn, Name: sec.name}, nil
	})
}
