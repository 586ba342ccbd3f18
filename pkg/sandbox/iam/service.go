package iam

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Service is the emulated IAM of one account.
type Service struct {
	core.QueryProtocol
	clock   core.Clock
	account string

	mu       sync.Mutex
	roles    map[string]*role    // by name
	policies map[string]*policy  // customer managed, by ARN
	profiles map[string]*profile // by name
	gen      uint64
}

type role struct {
	name, path, id, description, trust string
	created                            time.Time
	inline                             map[string]string // policy name -> document
	attached                           []string          // policy ARNs, in attach order
}

type policy struct {
	name, path, id, document string
	created                  time.Time
	attachments              int
}

type profile struct {
	name, path, id string
	created        time.Time
	roles          []string
}

var identity = core.NewQueryProtocol("iam", "iam", "https://iam.amazonaws.com/doc/2010-05-08/", core.QueryAWS)

var _ core.QueryService = (*Service)(nil)

// New returns an IAM with no roles or policies for account.
func New(clock core.Clock, account string) *Service {
	return &Service{QueryProtocol: identity, clock: clock, account: account,
		roles: map[string]*role{}, policies: map[string]*policy{}, profiles: map[string]*profile{}}
}

// QueryOperations implements core.QueryService.
func (s *Service) QueryOperations() map[string]core.QueryOperation {
	return map[string]core.QueryOperation{
		"CreateRole": s.createRole, "GetRole": s.getRole, "DeleteRole": s.deleteRole,
		"PutRolePolicy": s.putRolePolicy, "GetRolePolicy": s.getRolePolicy, "ListRolePolicies": s.listRolePolicies,
		"DeleteRolePolicy": s.deleteRolePolicy, "AttachRolePolicy": s.attachRolePolicy,
		"DetachRolePolicy": s.detachRolePolicy, "ListAttachedRolePolicies": s.listAttachedRolePolicies,
		"CreatePolicy": s.createPolicy, "GetPolicy": s.getPolicy, "GetPolicyVersion": s.getPolicyVersion,
		"DeletePolicy": s.deletePolicy, "CreateInstanceProfile": s.createInstanceProfile,
		"GetInstanceProfile": s.getInstanceProfile, "AddRoleToInstanceProfile": s.addRoleToInstanceProfile,
		"RemoveRoleFromInstanceProfile": s.removeRoleFromInstanceProfile, "DeleteInstanceProfile": s.deleteInstanceProfile,
	}
}

// Quotas IAM applies by default (IAM and AWS STS quotas, "IAM object quotas" and "character limits").
const (
	maxTrustPolicy   = 2048
	maxInlinePerRole = 10240
	maxManagedPolicy = 6144
)

var (
	roleNameRe   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	pathRe       = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
)

func noSuchEntity(format string, args ...any) *core.Error {
	return core.StatusErrorf(http.StatusNotFound, "NoSuchEntity", format, args...)
}

func validation(format string, args ...any) *core.Error {
	return core.Errorf("ValidationError", format, args...)
}

// size counts a policy document as IAM's quotas do: every character but white space.
func size(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// checkDocument refuses what IAM refuses as MalformedPolicyDocument: not a JSON object, or one with
// no Statement.
func checkDocument(field, doc string) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return core.Errorf("MalformedPolicyDocument", "%s: the policy is not a JSON object: %v", field, err)
	}
	switch m["Statement"].(type) {
	case []any, map[string]any:
	default:
		return core.Errorf("MalformedPolicyDocument", "%s: the policy has no Statement", field)
	}
	if v, ok := m["Version"]; ok && v != "2012-10-17" && v != "2008-10-17" {
		return core.Errorf("MalformedPolicyDocument", "%s: Version %v is not 2012-10-17 or 2008-10-17", field, v)
	}
	return nil
}

func pathOf(p url.Values) (string, error) {
	path := p.Get("Path")
	if path == "" {
		return "/", nil
	}
	if len(path) > 512 || !pathRe.MatchString(path) {
		return "", validation("1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must begin and end with / and contain only printable ASCII characters", path)
	}
	return path, nil
}

// RoleARN is the ARN of a role with this path and name.
func (s *Service) RoleARN(path, name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", s.account, path, name)
}

func (s *Service) policyARN(path, name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:policy%s%s", s.account, path, name)
}

func newID(prefix string) string {
	// IAM's unique ids are a 4-letter type prefix and 17 upper-case letters and digits.
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return prefix + base32.StdEncoding.EncodeToString(b)[:17]
}

// roleXML is the Role shape.
type roleXML struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

// roleResult is the result of CreateRole and GetRole.
type roleResult struct {
	Role roleXML `xml:"Role"`
}

func (s *Service) roleXML(r *role) roleXML {
	return roleXML{Path: r.path, RoleName: r.name, RoleID: r.id, Arn: s.RoleARN(r.path, r.name),
		CreateDate: r.created.UTC().Format(time.RFC3339), AssumeRolePolicyDocument: url.QueryEscape(r.trust),
		Description: r.description, MaxSessionDuration: 3600}
}

// withRole runs op on the role the request's RoleName names, under s.mu.
func (s *Service) withRole(p url.Values, op func(*role) (any, error)) (any, error) {
	return core.Locked(&s.mu, s.findRole, p.Get("RoleName"), op)
}

// findRole finds a role by name. Caller holds s.mu.
func (s *Service) findRole(name string) (*role, error) {
	if r, ok := s.roles[name]; ok {
		return r, nil
	}
	return nil, noSuchEntity("The role with name %s cannot be found.", name)
}

func (s *Service) createRole(_ context.Context, p url.Values) (any, error) {
	name, trust := p.Get("RoleName"), p.Get("AssumeRolePolicyDocument")
	if !roleNameRe.MatchString(name) {
		return nil, validation("1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must have length between 1 and 64 and match [\\w+=,.@-]+", name)
	}
	path, err := pathOf(p)
	if err != nil {
		return nil, err
	}
	if err := checkDocument("AssumeRolePolicyDocument", trust); err != nil {
		return nil, err
	}
	if n := size(trust); n > maxTrustPolicy {
		return nil, core.StatusErrorf(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicy)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roles[name]; ok {
		return nil, core.StatusErrorf(http.StatusConflict, "EntityAlreadyExists", "Role with name %s already exists.", name)
	}
	r := &role{name: name, path: path, id: newID("AROA"), description: p.Get("Description"), trust: trust,
		created: s.clock.Now(), inline: map[string]string{}}
	s.roles[name] = r
	s.gen++
	return roleResult{s.roleXML(r)}, nil
}

func (s *Service) getRole(_ context.Context, p url.Values) (any, error) {
	return s.withRole(p, func(r *role) (any, error) {
		return roleResult{s.roleXML(r)}, nil
	})
}

func (s *Service) deleteRole(_ context.Context, p url.Values) (any, error) {
	return s.withRole(p, func(r *role) (any, error) {
		if len(r.inline) > 0 || len(r.attached) > 0 {
			return nil, core.StatusErrorf(http.StatusConflict, "DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		for _, pr := range s.profiles {
			for _, rn := range pr.roles {
				if rn == r.name {
					return nil, core.StatusErrorf(http.StatusConflict, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")
				}
			}
		}
		delete(s.roles, r.name)
		s.gen++
		return nil, nil
	})
}

func (s *Service) putRolePolicy(_ context.Context, p url.Values) (any, error) {
	name, doc := p.Get("PolicyName"), p.Get("PolicyDocument")
	if !policyNameRe.MatchString(name) {
		return nil, validation("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must have length between 1 and 128 and match [\\w+=,.@-]+", name)
	}
	if err := checkDocument("PolicyDocument", doc); err != nil {
		return nil, err
	}
	return s.withRole(p, func(r *role) (any, error) {
		total := size(doc)
		for n, d := range r.inline {
			if n != name {
				total += size(d)
			}
		}
		if total > maxInlinePerRole {
			return nil, core.StatusErrorf(http.StatusConflict, "LimitExceeded", "Maximum policy size of %d bytes exceeded for role %s", maxInlinePerRole, r.name)
		}
		r.inline[name] = doc
		s.gen++
		return nil, nil
	})
}

func (s *Service) getRolePolicy(_ context.Context, p url.Values) (any, error) {
	return s.withRole(p, func(r *role) (any, error) {
		doc, ok := r.inline[p.Get("PolicyName")]
		if !ok {
			return nil, noSuchEntity("The role policy with name %s cannot be found.", p.Get("PolicyName"))
		}
		return struct {
			RoleName       string `xml:"RoleName"`
			PolicyName     string `xml:"PolicyName"`
			PolicyDocument string `xml:"PolicyDocument"`
		}{r.name, p.Get("PolicyName"), url.QueryEscape(doc)}, nil
	})
}

func (s *Service) listRolePolicies(_ context.Context, p url.Values) (any, error) {
	return s.withRole(p, func(r *role) (any, error) {
		names := make([]string, 0, len(r.inline))
		for n := range r.inline {
			names = append(names, n)
		}
		sort.Strings(names)
		return struct {
			PolicyNames []string `xml:"PolicyNames>member"`
			IsTruncated bool     `xml:"IsTruncated"`
		}{PolicyNames: names}, nil
	})
}

func (s *Service) deleteRolePolicy(_ context.Context, p url.Values) (any, error) {
	return s.withRole(p, func(r *role) (any, error) {
		if _, ok := r.inline[p.Get("PolicyName")]; !ok {
			return nil, noSuchEntity("The role policy with name %s cannot be found.", p.Get("PolicyName"))
		}
		delete(r.inline, p.Get("PolicyName"))
		s.gen++
		return nil, nil
	})
}

// managed returns a managed policy's name and document: a customer managed policy of this
// account, or an AWS managed policy of managed.go.
func (s *Service) managed(arn string) (name, doc string, err error) {
	if pol, ok := s.policies[arn]; ok {
		return pol.name, pol.document, nil
	}
	if rest, ok := strings.CutPrefix(arn, "arn:aws:iam::aws:policy/"); ok {
		if m, ok := awsManaged[rest]; ok {
			return rest[strings.LastIndex(rest, "/")+1:], m.document, nil
		}
	}
	return "", "", noSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

func (s *Service) attachRolePolicy(_ context.Context, p url.Values) (any, error) {
	arn := p.Get("PolicyArn")
	return s.withRole(p, func(r *role) (any, error) {
		if _, _, err := s.managed(arn); err != nil {
			return nil, err
		}
		for _, a := range r.attached {
			if a == arn {
				return nil, nil
			}
		}
		if len(r.attached) >= 10 {
			return nil, core.StatusErrorf(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10")
		}
		r.attached = append(r.attached, arn)
		if pol, ok := s.policies[arn]; ok {
			pol.attachments++
		}
		s.gen++
		return nil, nil
	})
}

func (s *Service) detachRolePolicy(_ context.Context, p url.Values) (any, error) {
	arn := p.Get("PolicyArn")
	return s.withRole(p, func(r *role) (any, error) {
		for i, a := range r.attached {
			if a == arn {
				r.attached = append(r.attached[:i], r.attached[i+1:]...)
				if pol, ok := s.policies[arn]; ok {
					pol.attachments--
				}
				s.gen++
				return nil, nil
			}
		}
		return nil, noSuchEntity("Policy %s was not found.", arn)
	})
}

type attachedXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

func (s *Service) listAttachedRolePolicies(_ context.Context, p url.Values) (any, error) {
	return s.withRole(p, func(r *role) (any, error) {
		out := []attachedXML{}
		for _, a := range r.attached {
			name, _, _ := s.managed(a)
			out = append(out, attachedXML{name, a})
		}
		return struct {
			AttachedPolicies []attachedXML `xml:"AttachedPolicies>member"`
			IsTruncated      bool          `xml:"IsTruncated"`
		}{AttachedPolicies: out}, nil
	})
}

type policyXML struct {
	PolicyName       string `xml:"PolicyName"`
	PolicyID         string `xml:"PolicyId"`
	Arn              string `xml:"Arn"`
	Path             string `xml:"Path"`
	DefaultVersionID string `xml:"DefaultVersionId"`
	AttachmentCount  int    `xml:"AttachmentCount"`
	IsAttachable     bool   `xml:"IsAttachable"`
	CreateDate       string `xml:"CreateDate"`
	UpdateDate       string `xml:"UpdateDate"`
}

func (s *Service) policyXML(pol *policy) policyXML {
	at := pol.created.UTC().Format(time.RFC3339)
	return policyXML{PolicyName: pol.name, PolicyID: pol.id, Arn: s.policyARN(pol.path, pol.name), Path: pol.path,
		DefaultVersionID: "v1", AttachmentCount: pol.attachments, IsAttachable: true, CreateDate: at, UpdateDate: at}
}

func (s *Service) createPolicy(_ context.Context, p url.Values) (any, error) {
	name, doc := p.Get("PolicyName"), p.Get("PolicyDocument")
	if !policyNameRe.MatchString(name) {
		return nil, validation("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must have length between 1 and 128 and match [\\w+=,.@-]+", name)
	}
	path, err := pathOf(p)
	if err != nil {
		return nil, err
	}
	if err := checkDocument("PolicyDocument", doc); err != nil {
		return nil, err
	}
	if size(doc) > maxManagedPolicy {
		return nil, core.StatusErrorf(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for PolicySize: %d", maxManagedPolicy)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := s.policyARN(path, name)
	if _, ok := s.policies[arn]; ok {
		return nil, core.StatusErrorf(http.StatusConflict, "EntityAlreadyExists", "A policy called %s already exists. Duplicate names are not allowed.", name)
	}
	pol := &policy{name: name, path: path, id: newID("ANPA"), document: doc, created: s.clock.Now()}
	s.policies[arn] = pol
	s.gen++
	return struct {
		Policy policyXML `xml:"Policy"`
	}{s.policyXML(pol)}, nil
}

func (s *Service) getPolicy(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.policies[p.Get("PolicyArn")]
	if !ok {
		return nil, noSuchEntity("Policy %s was not found.", p.Get("PolicyArn"))
	}
	return struct {
		Policy policyXML `xml:"Policy"`
	}{s.policyXML(pol)}, nil
}

func (s *Service) getPolicyVersion(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, doc, err := s.managed(p.Get("PolicyArn"))
	if err != nil {
		return nil, err
	}
	version := "v1"
	if rest, ok := strings.CutPrefix(p.Get("PolicyArn"), "arn:aws:iam::aws:policy/"); ok {
		version = awsManaged[rest].version
	}
	if p.Get("VersionId") != version {
		return nil, noSuchEntity("Policy %s version %s does not exist or is not attachable.", p.Get("PolicyArn"), p.Get("VersionId"))
	}
	return struct {
		Document         string `xml:"PolicyVersion>Document"`
		VersionID        string `xml:"PolicyVersion>VersionId"`
		IsDefaultVersion bool   `xml:"PolicyVersion>IsDefaultVersion"`
	}{url.QueryEscape(doc), version, true}, nil
}

func (s *Service) deletePolicy(_ context.Context, p url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.policies[p.Get("PolicyArn")]
	if !ok {
		return nil, noSuchEntity("Policy %s was not found.", p.Get("PolicyArn"))
	}
	if pol.attachments > 0 {
		return nil, core.StatusErrorf(http.StatusConflict, "DeleteConflict", "Cannot delete a policy attached to entities.")
	}
	delete(s.policies, p.Get("PolicyArn"))
	s.gen++
	return nil, nil
}

type profileXML struct {
	Path                string    `xml:"Path"`
	InstanceProfileName string    `xml:"InstanceProfileName"`
	InstanceProfileID   string    `xml:"InstanceProfileId"`
	Arn                 string    `xml:"Arn"`
	CreateDate          string    `xml:"CreateDate"`
	Roles               []roleXML `xml:"Roles>member"`
}

// profileResult is the result of CreateInstanceProfile and GetInstanceProfile.
type profileResult struct {
	InstanceProfile profileXML `xml:"InstanceProfile"`
}

func (s *Service) profileXML(pr *profile) profileXML {
	out := profileXML{Path: pr.path, InstanceProfileName: pr.name, InstanceProfileID: pr.id,
		Arn: fmt.Sprintf("arn:aws:iam::%s:instance-profile%s%s", s.account, pr.path, pr.name), CreateDate: pr.created.UTC().Format(time.RFC3339), Roles: []roleXML{}}
	for _, rn := range pr.roles {
		if r, ok := s.roles[rn]; ok {
			out.Roles = append(out.Roles, s.roleXML(r))
		}
	}
	return out
}

// withProfile runs op on the instance profile the request's InstanceProfileName names, under s.mu.
func (s *Service) withProfile(p url.Values, op func(*profile) (any, error)) (any, error) {
	return core.Locked(&s.mu, s.findProfile, p.Get("InstanceProfileName"), op)
}

// findProfile finds an instance profile by name. Caller holds s.mu.
func (s *Service) findProfile(name string) (*profile, error) {
	if pr, ok := s.profiles[name]; ok {
		return pr, nil
	}
	return nil, noSuchEntity("Instance Profile %s cannot be found.", name)
}

func (s *Service) createInstanceProfile(_ context.Context, p url.Values) (any, error) {
	name := p.Get("InstanceProfileName")
	if !roleNameRe.MatchString(name) {
		return nil, validation("1 validation error detected: Value '%s' at 'instanceProfileName' failed to satisfy constraint: Member must have length between 1 and 128 and match [\\w+=,.@-]+", name)
	}
	path, err := pathOf(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.profiles[name]; ok {
		return nil, core.StatusErrorf(http.StatusConflict, "EntityAlreadyExists", "Instance Profile %s already exists.", name)
	}
	pr := &profile{name: name, path: path, id: newID("AIPA"), created: s.clock.Now()}
	s.profiles[name] = pr
	s.gen++
	return profileResult{s.profileXML(pr)}, nil
}

func (s *Service) getInstanceProfile(_ context.Context, p url.Values) (any, error) {
	return s.withProfile(p, func(pr *profile) (any, error) {
		return profileResult{s.profileXML(pr)}, nil
	})
}

func (s *Service) addRoleToInstanceProfile(_ context.Context, p url.Values) (any, error) {
	return s.withProfile(p, func(pr *profile) (any, error) {
		r, err := s.findRole(p.Get("RoleName"))
		if err != nil {
			return nil, err
		}
		if len(pr.roles) > 0 {
			return nil, core.StatusErrorf(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
		}
		pr.roles = append(pr.roles, r.name)
		s.gen++
		return nil, nil
	})
}

func (s *Service) removeRoleFromInstanceProfile(_ context.Context, p url.Values) (any, error) {
	return s.withProfile(p, func(pr *profile) (any, error) {
		for i, rn := range pr.roles {
			if rn == p.Get("RoleName") {
				pr.roles = append(pr.roles[:i], pr.roles[i+1:]...)
				s.gen++
				return nil, nil
			}
		}
		return nil, noSuchEntity("The role with name %s cannot be found.", p.Get("RoleName"))
	})
}

func (s *Service) deleteInstanceProfile(_ context.Context, p url.Values) (any, error) {
	return s.withProfile(p, func(pr *profile) (any, error) {
		if len(pr.roles) > 0 {
			return nil, core.StatusErrorf(http.StatusConflict, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")
		}
		delete(s.profiles, pr.name)
		s.gen++
		return nil, nil
	})
}
