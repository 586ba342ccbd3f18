// Package authz says what IAM authorizes each sandbox operation on: for a served operation and its
// decoded request, the IAM action(s), the resource ARN(s) built from the request and the sandbox's
// partition, region and account, the condition keys the request carries, and the additional
// permissions AWS documents for the operation (another service's action the caller needs, a call
// the service itself makes as its service principal). It follows AWS's Service Authorization
// Reference as iam-data carries it (pkg/sandbox/iamjudge's Judge.Action); authz_test.go checks
// every entry against it through the judge, and that every operation the sandbox serves
// (Server.ServedOperations) has an entry.
//
// Nothing here enforces yet: the sandbox's request path does not call it. The table takes requests
// as generic values (a JSON body as map[string]any, Query parameters as url.Values, REST path
// parameters) so it needs no service's internals; state a request does not carry (the key an alias
// names, a secret's full ARN or its KMS key, a topic's key) comes from Env.Lookup.
package authz

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Env is where a call is served and what the sandbox knows beyond the request.
type Env struct {
	// Partition defaults to "aws".
	Partition, Region, Account string
	// Lookup resolves a reference the request makes to a resource's ARN (see Kind), or returns ""
	// when it names nothing the sandbox knows; nil resolves nothing.
	Lookup func(kind Kind, ref string) string
}

// Kind is what Env.Lookup is asked to resolve.
type Kind string

// The references a request can make that only the sandbox's state resolves.
const (
	// KMSKey: a KeyId that is an alias name (alias/x) or alias ARN -> the ARN of the key it names.
	KMSKey Kind = "kms-key"
	// Secret: a SecretId (a name, a partial or full ARN), or CreateSecret's Name -> the secret's
	// full ARN (with Secrets Manager's 6-character suffix). Unresolved, the table builds
	// arn:...:secret:<name> (or <name>-?????? for CreateSecret: the name, a hyphen and the six
	// characters the new secret's ARN will end in), which a policy naming the full ARN does not match.
	Secret Kind = "secret"
	// SecretKMSKey: a secret's ARN -> the ARN of the customer managed key that encrypts it, "" for
	// the AWS managed key aws/secretsmanager (whose key policy allows every principal of the
	// account that may use Secrets Manager, so it needs no grant).
	SecretKMSKey Kind = "secret-kms-key"
	// TopicKMSKey: a topic's ARN -> the ARN of its KmsMasterKeyId's key, "" for an unencrypted topic.
	TopicKMSKey Kind = "topic-kms-key"
	// QueueKMSKey: an SQS queue's ARN -> its KmsMasterKeyId (a key id, ARN or alias), "" for a
	// queue with no customer managed key (SSE-SQS or none).
	QueueKMSKey Kind = "queue-kms-key"
	// CiphertextKey: a Decrypt request's CiphertextBlob (base64, as on the wire) -> the ARN of the
	// key that encrypted it (symmetric Decrypt need not name its key; it is authorized on that key).
	CiphertextKey Kind = "ciphertext-key"
	// Role: a RoleName -> the role's ARN (with its path). Unresolved, the table builds
	// arn:<partition>:iam::<account>:role/<name>, a role with the default path /.
	Role Kind = "role"
	// SubnetVPC: a subnet id -> the id of its VPC. ClusterVPC: a CloudHSM cluster id -> the id of
	// its VPC. GroupVPC: a security group id -> the id of its VPC. They give ec2:Vpc, which EC2
	// sets on a call on a security group from the group's VPC.
	SubnetVPC  Kind = "subnet-vpc"
	ClusterVPC Kind = "cluster-vpc"
	GroupVPC   Kind = "group-vpc"
	// BucketKMSKey: a bucket name -> the key of its default SSE-KMS encryption, "" for none.
	// ObjectKMSKey: <bucket>/<key> -> the key an SSE-KMS object is encrypted with, "" for none.
	BucketKMSKey Kind = "bucket-kms-key"
	ObjectKMSKey Kind = "object-kms-key"
)

// Request is one call's decoded request.
type Request struct {
	// JSON is a JSON-protocol call's body (and a REST call's JSON body, if any).
	JSON map[string]any
	// Query are a Query-protocol call's parameters (and a REST call's query string).
	Query url.Values
	// Path are a REST call's path parameters by the API model's name (Lambda's FunctionName).
	Path map[string]string
}

// Need is one authorization a call needs: Principal may perform Action on Resource with Context.
type Need struct {
	Action string
	// Resource is an ARN, or "*" for an action that takes no resource (or none this request names).
	// An ARN ending in "*" stands for a resource the call creates whose id is not known yet.
	Resource string
	// Context holds the condition keys the request carries, with their values.
	Context map[string][]string
	// Principal is "" for the caller, or the service principal (secretsmanager.amazonaws.com) that
	// makes a call on the caller's behalf; that call is authorized by the resource's policy.
	Principal string
	// Only says when the need applies, if not on every call ("when the role does not exist yet").
	Only string
	// ServiceLinkedRole, for iam:CreateServiceLinkedRole, is the service principal and the name of
	// the role the service creates on the call when the account does not have it yet.
	ServiceLinkedRole *ServiceLinkedRole
	// Source cites the AWS documentation of an additional permission (Special.Source); "" for the
	// operation's own action, which the Service Authorization Reference documents.
	Source string
}

// ServiceLinkedRole is a service's service-linked role.
type ServiceLinkedRole struct{ Principal, Name string }

// operation builds the needs of one operation's own action(s).
type operation func(e Env, r Request) ([]Need, error)

// Covered reports whether the table has an entry for service (a sandbox service id, as
// Record.Service and Server.ServedOperations name it) and operation.
func Covered(service, op string) bool {
	_, ok := table[service][op]
	return ok
}

// Operations lists the table's entries by service id, each list sorted.
func Operations() map[string][]string {
	out := map[string][]string{}
	for svc, ops := range table {
		for op := range ops {
			out[svc] = append(out[svc], op)
		}
		sort.Strings(out[svc])
	}
	return out
}

// Needs returns every authorization the call needs: its own action(s), then the additional
// permissions of Specials that apply to it. An error names the request field that is missing or
// the reference Env.Lookup did not resolve; an operation with no entry is an error too.
func Needs(e Env, service, op string, r Request) ([]Need, error) {
	f, ok := table[service][op]
	if !ok {
		return nil, fmt.Errorf("authz: %s %s has no entry in the operation table: add one to pkg/sandbox/authz", service, op)
	}
	if e.Partition == "" {
		e.Partition = "aws"
	}
	needs, err := f(e, r)
	if err != nil {
		return nil, fmt.Errorf("authz: %s %s: %w", service, op, err)
	}
	for _, s := range Specials {
		if s.Service != service || s.Operation != op {
			continue
		}
		more, err := s.Needs(e, r)
		if err != nil {
			return nil, fmt.Errorf("authz: %s %s (%s): %w", service, op, s.Source, err)
		}
		for i := range more {
			more[i].Source = s.Source
		}
		needs = append(needs, more...)
	}
	return needs, nil
}

// arn builds arn:<partition>:<service>:<region>:<account>:<resource>.
func (e Env) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", e.Partition, service, e.Region, e.Account, resource)
}

func (e Env) lookup(kind Kind, ref string) string {
	if e.Lookup == nil {
		return ""
	}
	return e.Lookup(kind, ref)
}

// need is a Need for the caller on resource, with ctx's non-empty keys.
func need(action, resource string, ctx map[string][]string) Need {
	n := Need{Action: action, Resource: resource}
	for k, vs := range ctx {
		if len(vs) == 0 {
			continue
		}
		if n.Context == nil {
			n.Context = map[string][]string{}
		}
		n.Context[k] = vs
	}
	return n
}

// one is the needs of an operation with one action on one resource.
func one(action, resource string, ctx map[string][]string) ([]Need, error) {
	return []Need{need(action, resource, ctx)}, nil
}

// wildcard is an operation whose action takes no resource.
func wildcard(action string) operation {
	return func(Env, Request) ([]Need, error) { return one(action, "*", nil) }
}

// str returns the JSON body's string field name ("" if absent or not a string).
func (r Request) str(name string) string {
	s, _ := r.JSON[name].(string)
	return s
}

// required returns the JSON body's string field name, or an error naming it.
func (r Request) required(name string) (string, error) {
	if s := r.str(name); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("the request has no %s: the table cannot name the resource without it", name)
}

// strs returns the JSON body's string-list field name.
func (r Request) strs(name string) []string {
	list, _ := r.JSON[name].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// has reports whether the JSON body carries field name.
func (r Request) has(name string) bool {
	_, ok := r.JSON[name]
	return ok
}

// scalar returns a JSON field as text (strings as they are, numbers and booleans formatted), "" if
// absent.
func (r Request) scalar(name string) string {
	switch v := r.JSON[name].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// tags returns the aws:RequestTag/<key> and aws:TagKeys context of a JSON tag list field, whose
// elements are {keyField: ..., valueField: ...}.
func tags(list any, keyField, valueField string, ctx map[string][]string) {
	items, _ := list.([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		k, _ := m[keyField].(string)
		v, _ := m[valueField].(string)
		if k == "" {
			continue
		}
		ctx["aws:RequestTag/"+k] = []string{v}
		ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
	}
}

// members returns a Query list parameter's values: name.1, name.2, ... or name.member.1, ...
func (r Request) members(name string) []string {
	var out []string
	for _, prefix := range []string{name + ".", name + ".member."} {
		for i := 1; ; i++ {
			v, ok := r.Query[prefix+fmt.Sprint(i)]
			if !ok {
				break
			}
			out = append(out, v...)
		}
	}
	return out
}

// queryRequired returns a Query parameter, or an error naming it.
func (r Request) queryRequired(name string) (string, error) {
	if v := r.Query.Get(name); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("the request has no %s parameter: the table cannot name the resource without it", name)
}

// lastSegment returns what follows the last sep in s (s itself if there is none).
func lastSegment(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}
