// Package iam is the sandbox's AWS Identity and Access Management over the Query protocol
// (signing name "iam", namespace https://iam.amazonaws.com/doc/2010-05-08/): the roles, inline and
// managed policies and instance profiles a stack deploys, held so that the sandbox can judge every
// call a role's session makes (package authorize) as IAM would.
//
// Operations: CreateRole, GetRole, DeleteRole, PutRolePolicy, GetRolePolicy, ListRolePolicies,
// DeleteRolePolicy, AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies, CreatePolicy,
// GetPolicy, GetPolicyVersion, DeletePolicy, CreateInstanceProfile, GetInstanceProfile,
// AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile, DeleteInstanceProfile.
//
// IAM's checks that a deploy can trip are kept: names (1-64 characters of [\w+=,.@-] for roles
// and instance profiles, 1-128 for policies), paths, policy documents that are JSON objects with a
// Statement, and the default size quotas counted as IAM counts them (characters other than white
// space): 2,048 for a trust policy, 10,240 for all of a role's inline policies together, 6,144 for a
// managed policy. Deleting a role that still has policies or an instance profile is refused with
// DeleteConflict, as IAM refuses it. Policy documents come back URL-encoded, as IAM returns them.
//
// Differences from AWS, on purpose: no users, groups, policy versions beyond v1 (CreatePolicyVersion),
// permissions boundaries, tags on their own operations, or service-linked roles; AWS managed policies
// are the few Strongroom's stacks attach (managed.go), each with its document as AWS publishes it.
// Changes are visible at once (IAM is eventually consistent).
package iam
