// Package iammutation is the mutation proof of the stacks' permissions (issue 13): it lists every
// grant a cloud assembly (cdk.out) makes, and writes a copy of the assembly with exactly one of
// them removed, so a test can deploy the copy, run the workflow that needs the grant, and show
// that it fails with an AccessDenied naming the action (cmd/strongroom's iam_mutation_test.go).
//
// The grants are every Allow statement of an AWS::IAM::Policy, an AWS::IAM::ManagedPolicy and a
// role's inline Policies, every Allow statement of an AWS::KMS::Key's KeyPolicy, of an
// AWS::SNS::TopicPolicy, of an AWS::SQS::QueuePolicy and of an AWS::S3::BucketPolicy, and every AWS::Lambda::Permission (one
// statement each).
package iammutation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Kinds of grant.
const (
	KindPolicy           = "policy"            // AWS::IAM::Policy
	KindManagedPolicy    = "managed policy"    // AWS::IAM::ManagedPolicy
	KindRolePolicy       = "role inline"       // an AWS::IAM::Role's Policies
	KindKeyPolicy        = "key policy"        // AWS::KMS::Key KeyPolicy
	KindTopicPolicy      = "topic policy"      // AWS::SNS::TopicPolicy
	KindQueuePolicy      = "queue policy"      // AWS::SQS::QueuePolicy
	KindBucketPolicy     = "bucket policy"     // AWS::S3::BucketPolicy
	KindLambdaPermission = "lambda permission" // AWS::Lambda::Permission
)

// Statement is one grant of one stack's template.
type Statement struct {
	// ID names it: "<stack>/<logical id>#<number>", the number being the statement's place in its
	// document from 1 (as sandbox.Decision's Grants number them), and for a role's inline policy
	// "<stack>/<role logical id>/<policy name>#<number>". A Lambda::Permission is "#1".
	ID       string
	Stack    string
	Resource string // the logical id of the resource holding it
	Kind     string
	// PolicyName is a role inline policy's name ("" otherwise).
	PolicyName string
	Number     int
	// Actions are the statement's actions as written ("kms:GenerateDataKey*", "lambda:InvokeFunction").
	Actions []string
	// Principal is a resource policy's principal as JSON ("" for identity policies).
	Principal string
	// Grant is how sandbox.Decision's Grants name an identity policy's statement,
	// "<policy name>#<number>" ("" for other kinds).
	Grant string
}

// Stacks returns the stack names of the assembly's *.template.json files, in the order a deploy
// must take them: each after the stacks manifest.json says it depends on (name order otherwise).
func Stacks(cdkOut string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(cdkOut, "*.template.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s holds no *.template.json: pass the directory cdk synth wrote (make synth writes cdk.out)", cdkOut)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".template.json"))
	}
	sort.Strings(names)
	deps := map[string][]string{}
	if b, err := os.ReadFile(filepath.Join(cdkOut, "manifest.json")); err == nil {
		var m struct {
			Artifacts map[string]struct {
				Type         string   `json:"type"`
				Dependencies []string `json:"dependencies"`
			} `json:"artifacts"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(cdkOut, "manifest.json"), err)
		}
		for name, a := range m.Artifacts {
			if a.Type == "aws:cloudformation:stack" {
				deps[name] = a.Dependencies
			}
		}
	}
	var order []string
	done := map[string]bool{}
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		if done[n] {
			return nil
		}
		if slices.Contains(path, n) {
			return fmt.Errorf("manifest.json: stacks depend on each other in a cycle: %s", strings.Join(append(path, n), " -> "))
		}
		for _, dep := range deps[n] {
			if slices.Contains(names, dep) {
				if err := visit(dep, append(path, n)); err != nil {
					return err
				}
			}
		}
		done[n] = true
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// template is a template read for rewriting: every key kept as it is.
type template map[string]any

func readTemplate(cdkOut, stack string) (template, error) {
	path := filepath.Join(cdkOut, stack+".template.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return t, nil
}

func (t template) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	rs, _ := t["Resources"].(map[string]any)
	for id, r := range rs {
		if m, ok := r.(map[string]any); ok {
			out[id] = m
		}
	}
	return out
}

// document returns the policy document a resource of a kind holds (nil for a Lambda::Permission
// and a role: a role's documents are its Policies).
func document(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	switch r["Type"] {
	case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy":
		d, _ := p["PolicyDocument"].(map[string]any)
		return d
	case "AWS::KMS::Key":
		d, _ := p["KeyPolicy"].(map[string]any)
		return d
	}
	return nil
}

var kinds = map[string]string{
	"AWS::IAM::Policy": KindPolicy, "AWS::IAM::ManagedPolicy": KindManagedPolicy,
	"AWS::SNS::TopicPolicy": KindTopicPolicy, "AWS::SQS::QueuePolicy": KindQueuePolicy, "AWS::KMS::Key": KindKeyPolicy, "AWS::S3::BucketPolicy": KindBucketPolicy,
}

// List returns every grant of the stacks' templates in cdkOut, by ID.
func List(cdkOut string, stacks []string) ([]Statement, error) {
	var out []Statement
	for _, stack := range stacks {
		t, err := readTemplate(cdkOut, stack)
		if err != nil {
			return nil, err
		}
		for id, r := range t.resources() {
			typ, _ := r["Type"].(string)
			props, _ := r["Properties"].(map[string]any)
			add := func(kind, policyName string, doc map[string]any) {
				sts, _ := doc["Statement"].([]any)
				for i, s := range sts {
					m, _ := s.(map[string]any)
					if m["Effect"] != "Allow" {
						continue
					}
					st := Statement{Stack: stack, Resource: id, Kind: kind, PolicyName: policyName, Number: i + 1, Actions: strs(m["Action"])}
					if m["Principal"] != nil {
						b, _ := json.Marshal(m["Principal"])
						st.Principal = string(b)
					}
					st.ID = fmt.Sprintf("%s/%s#%d", stack, id, i+1)
					if kind == KindRolePolicy {
						st.ID = fmt.Sprintf("%s/%s/%s#%d", stack, id, policyName, i+1)
						st.Grant = fmt.Sprintf("%s#%d", policyName, i+1)
					}
					if kind == KindPolicy {
						st.PolicyName = ""
						st.Grant = fmt.Sprintf("%s#%d", policyName, i+1)
					}
					out = append(out, st)
				}
			}
			switch typ {
			case "AWS::IAM::Role":
				pols, _ := props["Policies"].([]any)
				for _, p := range pols {
					m, _ := p.(map[string]any)
					doc, _ := m["PolicyDocument"].(map[string]any)
					add(KindRolePolicy, fmt.Sprint(m["PolicyName"]), doc)
				}
			case "AWS::Lambda::Permission":
				// A permission's Principal is a service ("events.amazonaws.com") or an account or ARN.
				key := "AWS"
				if p, ok := props["Principal"].(string); ok && strings.HasSuffix(p, ".amazonaws.com") {
					key = "Service"
				}
				b, _ := json.Marshal(map[string]any{key: props["Principal"]})
				out = append(out, Statement{ID: fmt.Sprintf("%s/%s#1", stack, id), Stack: stack, Resource: id, Kind: KindLambdaPermission,
					Number: 1, Actions: strs(props["Action"]), Principal: string(b)})
			default:
				if kind, ok := kinds[typ]; ok {
					name := ""
					if kind == KindPolicy {
						name = fmt.Sprint(props["PolicyName"])
					}
					add(kind, name, document(r))
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Write writes to dst (a new or empty directory) a copy of the assembly cdkOut with statement s
// removed, and returns what it removed, for the matrix. s.Stack's template is rewritten; every
// other entry of cdkOut (the other templates, manifest.json, the function assets the deployer
// reads) is a symbolic link to the original.
//
// Removing a statement removes exactly that statement from its document, except where the document
// would be left with none, which IAM, KMS and SNS refuse: a Lambda::Permission, and an IAM policy
// or topic policy of one statement, is removed as a resource (and from every DependsOn that names
// it); a key policy of one statement keeps a statement that lets the account's root only read the
// key (kms:DescribeKey), so what the removed statement granted is gone.
func Write(cdkOut, dst string, s Statement) (string, error) {
	src, err := filepath.Abs(cdkOut)
	if err != nil {
		return "", err
	}
	t, err := readTemplate(src, s.Stack)
	if err != nil {
		return "", err
	}
	what, err := remove(t, s)
	if err != nil {
		return "", fmt.Errorf("remove %s: %w", s.ID, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	name := s.Stack + ".template.json"
	for _, e := range entries {
		if e.Name() == name {
			continue
		}
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return "", err
		}
	}
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return "", err
	}
	return what, os.WriteFile(filepath.Join(dst, name), b, 0o644)
}

// remove removes s from t and says what it removed.
func remove(t template, s Statement) (string, error) {
	rs, _ := t["Resources"].(map[string]any)
	r, _ := rs[s.Resource].(map[string]any)
	if r == nil {
		return "", fmt.Errorf("stack %s has no resource %s", s.Stack, s.Resource)
	}
	dropResource := func() string {
		delete(rs, s.Resource)
		for _, other := range rs {
			m, _ := other.(map[string]any)
			switch d := m["DependsOn"].(type) {
			case string:
				if d == s.Resource {
					delete(m, "DependsOn")
				}
			case []any:
				m["DependsOn"] = slices.DeleteFunc(d, func(x any) bool { return x == s.Resource })
			}
		}
		return fmt.Sprintf("resource %s (%s) removed", s.Resource, r["Type"])
	}
	if s.Kind == KindLambdaPermission {
		return dropResource(), nil
	}
	doc := document(r)
	if s.Kind == KindRolePolicy {
		props, _ := r["Properties"].(map[string]any)
		pols, _ := props["Policies"].([]any)
		for _, p := range pols {
			m, _ := p.(map[string]any)
			if fmt.Sprint(m["PolicyName"]) == s.PolicyName {
				doc, _ = m["PolicyDocument"].(map[string]any)
			}
		}
	}
	sts, _ := doc["Statement"].([]any)
	if doc == nil || s.Number < 1 || s.Number > len(sts) {
		return "", fmt.Errorf("%s has no statement %d", s.Resource, s.Number)
	}
	if len(sts) > 1 {
		doc["Statement"] = slices.Delete(slices.Clone(sts), s.Number-1, s.Number)
		return fmt.Sprintf("statement %d of %d removed", s.Number, len(sts)), nil
	}
	switch s.Kind {
	case KindPolicy, KindTopicPolicy, KindQueuePolicy, KindBucketPolicy:
		return dropResource(), nil
	case KindKeyPolicy:
		doc["Statement"] = []any{map[string]any{
			"Sid": "MutationLeavesOnlyDescribeKey", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*",
			"Principal": map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::", map[string]any{"Ref": "AWS::AccountId"}, ":root"}}}},
		}}
		return "the only statement replaced by one letting the account's root only kms:DescribeKey", nil
	}
	return "", errors.New("the only statement of a " + s.Kind + " cannot be removed: its resource would be refused")
}

// Matches reports whether action (as a decision names it, "kms:GenerateDataKey") is one of the
// statement's actions, which may hold IAM's wildcards (* and ?), case-insensitively as IAM matches
// actions.
func (s Statement) Matches(action string) bool {
	for _, a := range s.Actions {
		if ok, _ := filepath.Match(strings.ToLower(a), strings.ToLower(action)); ok {
			return true
		}
	}
	return false
}
