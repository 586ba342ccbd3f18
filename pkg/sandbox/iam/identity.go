package iam

import (
	"fmt"
	"sort"
	"strings"
)

// Document is one identity policy of a role: its name (an inline policy's name, or a managed
// policy's ARN) and its JSON.
type Document struct {
	Name, JSON string
}

// Identity is what IAM knows of a role for a decision: the role's ARN and every policy that
// applies to its sessions, inline and attached.
type Identity struct {
	RoleARN  string
	Policies []Document
}

// RoleIdentity returns the identity of the role a role ARN (arn:aws:iam::<account>:role/<path><name>)
// names, with its policies in a stable order (inline by name, then attached in attach order).
func (s *Service) RoleIdentity(roleARN string) (Identity, error) {
	name := roleARN[strings.LastIndex(roleARN, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[name]
	if !ok || s.RoleARN(r.path, r.name) != roleARN {
		return Identity{}, fmt.Errorf("iam: no role %s", roleARN)
	}
	id := Identity{RoleARN: roleARN}
	names := make([]string, 0, len(r.inline))
	for n := range r.inline {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		id.Policies = append(id.Policies, Document{Name: n, JSON: r.inline[n]})
	}
	for _, a := range r.attached {
		_, doc, err := s.managed(a)
		if err != nil {
			return Identity{}, err
		}
		id.Policies = append(id.Policies, Document{Name: a, JSON: doc})
	}
	return id, nil
}

// ProfileRole returns the ARN of the role an instance profile (its name or ARN) holds.
func (s *Service) ProfileRole(profile string) (string, error) {
	name := profile[strings.LastIndex(profile, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.profiles[name]
	if !ok || len(pr.roles) == 0 {
		return "", fmt.Errorf("iam: instance profile %s holds no role", profile)
	}
	r := s.roles[pr.roles[0]]
	return s.RoleARN(r.path, r.name), nil
}

// Generation changes whenever a role, policy or instance profile changes, so a cache of decisions
// knows when to forget them.
func (s *Service) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// RoleARNByName returns the ARN of the role with this name, "" for none.
func (s *Service) RoleARNByName(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.roles[name]; ok {
		return s.RoleARN(r.path, r.name)
	}
	return ""
}

// EnsureServiceLinkedRole creates the service-linked role name of servicePrincipal (path
// /aws-service-role/<principal>/, trusting the principal) unless it exists, as a service does on
// the first call that needs it, and returns its ARN. A fresh sandbox account has none.
func (s *Service) EnsureServiceLinkedRole(servicePrincipal, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.roles[name]; ok {
		return s.RoleARN(r.path, r.name)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + servicePrincipal + `"},"Action":"sts:AssumeRole"}]}`
	r := &role{name: name, path: "/aws-service-role/" + servicePrincipal + "/", id: newID("AROA"),
		description: "service-linked role of " + servicePrincipal, trust: trust, created: s.clock.Now(), inline: map[string]string{}}
	s.roles[name] = r
	s.gen++
	return s.RoleARN(r.path, r.name)
}

// RoleTrust returns the trust policy (AssumeRolePolicyDocument) of the role a role ARN names.
func (s *Service) RoleTrust(roleARN string) (string, error) {
	name := roleARN[strings.LastIndex(roleARN, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[name]
	if !ok || s.RoleARN(r.path, r.name) != roleARN {
		return "", fmt.Errorf("iam: no role %s", roleARN)
	}
	return r.trust, nil
}
