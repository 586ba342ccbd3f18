package cloudhsm

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Backup states.
const (
	BackupCreateInProgress = "CREATE_IN_PROGRESS"
	BackupReady            = "READY"
	BackupDeleted          = "DELETED"
	BackupPendingDeletion  = "PENDING_DELETION"
)

// backup is a snapshot of a cluster's identity and users, enough to restore from.
type backup struct {
	id, arn, clusterID, state, hsmType, mode string
	created                                  time.Time
	tags                                     []tag

	clusterCert, trustAnchor, lineage    string
	hsmCert, awsHwCert, manufacturerCert string
	trustAnchorCert                      *x509.Certificate
	users                                map[string]*user
}

// newBackupLocked snapshots c now; the backup becomes READY after Durations.BackupCreate.
func (s *Service) newBackupLocked(c *cluster) *backup {
	id := newID("backup-")
	b := &backup{
		id: id, arn: fmt.Sprintf("arn:aws:cloudhsm:%s:%s:backup/%s", s.Region(), s.Account(), id),
		clusterID: c.id, state: BackupCreateInProgress, hsmType: c.hsmType, mode: c.mode,
		created: s.clock.Now(), clusterCert: c.clusterCert, trustAnchor: c.trustAnchor, lineage: c.lineage,
		hsmCert: c.hsmCert, awsHwCert: c.awsHwCert, manufacturerCert: c.manufacturerCert,
		trustAnchorCert: c.trustAnchorCert, users: cloneUsers(c.users),
	}
	s.backups[id] = b
	s.border = append(s.border, id)
	s.timers.Later(s.dur.BackupCreate, func() {
		if b.state == BackupCreateInProgress {
			b.state = BackupReady
		}
	})
	return b
}

type wireBackup struct {
	BackupArn       string         `json:"BackupArn"`
	BackupId        string         `json:"BackupId"`
	BackupState     string         `json:"BackupState"`
	ClusterId       string         `json:"ClusterId"`
	CreateTimestamp core.EpochTime `json:"CreateTimestamp"`
	HsmType         string         `json:"HsmType,omitempty"`
	Mode            string         `json:"Mode,omitempty"`
	NeverExpires    bool           `json:"NeverExpires"`
	TagList         []tag          `json:"TagList,omitempty"`
}

type describeBackupsInput struct {
	Filters       map[string][]string `json:"Filters"`
	MaxResults    *int                `json:"MaxResults"`
	NextToken     string              `json:"NextToken"`
	SortAscending bool                `json:"SortAscending"`
}

func (s *Service) describeBackups(_ context.Context, in describeBackupsInput) (any, error) {
	for k := range in.Filters {
		switch k {
		case "backupIds", "sourceBackupIds", "clusterIds", "states", "neverExpires":
		default:
			return nil, invalid("Invalid filter '%s'. Valid filters: backupIds, sourceBackupIds, clusterIds, states, neverExpires.", k)
		}
	}
	start, limit, err := page(nil, in.NextToken)
	if err != nil {
		return nil, err
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []wireBackup
	for _, id := range s.border {
		b := s.backups[id]
		if !match(in.Filters["backupIds"], b.id) || !match(in.Filters["clusterIds"], b.clusterID) ||
			!match(in.Filters["states"], b.state) || !match(in.Filters["neverExpires"], "false") ||
			len(in.Filters["sourceBackupIds"]) > 0 {
			continue
		}
		all = append(all, wireBackup{
			BackupArn: b.arn, BackupId: b.id, BackupState: b.state, ClusterId: b.clusterID,
			CreateTimestamp: core.EpochTime(b.created), HsmType: b.hsmType, Mode: b.mode, TagList: slices.Clone(b.tags),
		})
	}
	if !in.SortAscending {
		slices.Reverse(all)
	}
	return cut(all, start, limit, "Backups"), nil
}

// Tags.

func checkTags(tags []tag) error {
	if len(tags) > 50 {
		return core.Errorf("ValidationException", "1 validation error detected: Value at 'tagList' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return core.Errorf(ErrTag, "Tag key must be 1-128 characters and value at most 256 characters (key %q).", t.Key)
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return core.Errorf(ErrTag, "Tag keys starting with 'aws:' are reserved (key %q).", t.Key)
		}
	}
	return nil
}

// tagsLocked returns the tag list of a cluster or backup by id.
func (s *Service) tagsLocked(id string) (*[]tag, error) {
	if id == "" {
		return nil, invalid("ResourceId is required.")
	}
	if c, ok := s.clusters[id]; ok && c.state != StateDeleted {
		return &c.tags, nil
	}
	if b, ok := s.backups[id]; ok && b.state != BackupDeleted {
		return &b.tags, nil
	}
	return nil, notFound("Resource", id)
}

type tagResourceInput struct {
	ResourceId string   `json:"ResourceId"`
	TagList    []tag    `json:"TagList"`
	TagKeyList []string `json:"TagKeyList"`
	MaxResults *int     `json:"MaxResults"`
	NextToken  string   `json:"NextToken"`
}

func (s *Service) tagResource(_ context.Context, in tagResourceInput) (any, error) {
	if len(in.TagList) == 0 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'tagList' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if err := checkTags(in.TagList); err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.tagsLocked, in.ResourceId, func(tags *[]tag) (any, error) {
		for _, t := range in.TagList {
			if i := slices.IndexFunc(*tags, func(x tag) bool { return x.Key == t.Key }); i >= 0 {
				(*tags)[i].Value = t.Value
			} else {
				*tags = append(*tags, t)
			}
		}
		if len(*tags) > 50 {
			return nil, core.Errorf(ErrResourceLimit, "Resource '%s' would have more than 50 tags.", in.ResourceId)
		}
		return struct{}{}, nil
	})
}

func (s *Service) untagResource(_ context.Context, in tagResourceInput) (any, error) {
	if len(in.TagKeyList) == 0 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'tagKeyList' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	return core.Locked(&s.mu, s.tagsLocked, in.ResourceId, func(tags *[]tag) (any, error) {
		*tags = slices.DeleteFunc(*tags, func(t tag) bool { return slices.Contains(in.TagKeyList, t.Key) })
		return struct{}{}, nil
	})
}

func (s *Service) listTags(_ context.Context, in tagResourceInput) (any, error) {
	start, limit, err := page(nil, in.NextToken)
	if err != nil {
		return nil, err
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, core.Errorf("ValidationException", "maxResults must be between 1 and 100")
		}
		limit = *in.MaxResults
	}
	return core.Locked(&s.mu, s.tagsLocked, in.ResourceId, func(tags *[]tag) (any, error) {
		return cut(slices.Clone(*tags), start, limit, "TagList"), nil
	})
}
