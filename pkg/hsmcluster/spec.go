// Custom::CloudHsmCluster properties: Parse reads and validates them.
//
// CloudFormation hands a custom resource its properties as JSON in which every scalar may arrive
// as a string ("2" for 2, "true" for true), so numbers and booleans are accepted in both forms.
// Every error names the property and says what would be accepted, because its text becomes the
// FAILED reason the stack shows. Parse only checks what can be known from the properties
// themselves; facts about the account (do the subnets exist, in which AZs, is the instance managed
// by SSM) are checked by the workflow's validation step against the AWS APIs.

package hsmcluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// Limits from the CloudHSM quotas (the CloudHSM User Guide, "Quotas").
const (
	MaxHsmsPerCluster  = 28
	MinBackupRetention = 7
	MaxBackupRetention = 379
	DefaultHsmCount    = 2
	DefaultHsmType     = "hsm2m.medium"
	DefaultBackupDays  = 90
	DefaultCAValidity  = 3652
)

// maxSecretNameLength is Secrets Manager's limit on a secret name (hsmdocs.MaxSecretNameLength
// too; this package does not link hsmdocs, which only the activation step needs).
const maxSecretNameLength = 512

// ResourceType is the CloudFormation type of the resource.
const ResourceType = "Custom::CloudHsmCluster"

// Spec is a validated Custom::CloudHsmCluster.
type Spec struct {
	SubnetIDs           []string          `json:"SubnetIds"`
	HsmCount            int               `json:"HsmCount"`
	HsmType             string            `json:"HsmType"`
	Mode                string            `json:"Mode"`
	NetworkType         string            `json:"NetworkType"`
	BackupRetentionDays int               `json:"BackupRetentionDays"`
	SourceBackupID      string            `json:"SourceBackupId,omitempty"`
	ClusterID           string            `json:"ClusterId,omitempty"`
	ClientInstanceID    string            `json:"ClientInstanceId"`
	AdminSecretName     string            `json:"AdminPasswordSecretName"`
	CAKeySecretName     string            `json:"CustomerCaKeySecretName"`
	CACertSecretName    string            `json:"CustomerCaCertificateSecretName"`
	CAKeyType           string            `json:"CustomerCaKeyType"`
	CAValidityDays      int               `json:"CustomerCaValidityDays"`
	Tags                map[string]string `json:"Tags,omitempty"`
	// IgnoreConnectedKeyStores lets a Delete, or an HsmCount below 2, go ahead while a KMS custom
	// key store on the cluster is CONNECTED (its keys become unusable); false refuses it.
	IgnoreConnectedKeyStores bool `json:"IgnoreConnectedKeyStores,omitempty"`
}

var (
	subnetRe   = lazyregexp.New(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
	instanceRe = lazyregexp.New(`^(i|mi)-[0-9a-f]{8}([0-9a-f]{9})?$`)
	clusterRe  = lazyregexp.New(`^cluster-[2-7a-zA-Z]{11,16}$`)
	backupRe   = lazyregexp.New(`^backup-[2-7a-zA-Z]{11,16}$`)
	hsmTypeRe  = lazyregexp.New(`^((p|)hsm[0-9][a-z.]*\.[a-zA-Z]+)$`)
	secretRe   = lazyregexp.New(`^[A-Za-z0-9/_+=.@-]+$`)
	// A name ending in a hyphen and six characters is mistaken for a secret ARN's random suffix
	// when used as a partial ARN; Secrets Manager's docs advise against it.
	secretSuffixRe = lazyregexp.New(`-[A-Za-z0-9]{6}$`)
	// The 1-128 length is checked apart: a counted repetition costs init time on every cold start.
	tagKeyRe = lazyregexp.New(`^[a-zA-Z0-9_.:/=+\-@ ]+$`)
)

// Defaults name the secrets when the properties do not; they come from the stack and logical id.
type Defaults struct {
	SecretPrefix string // for example "strongroom/MyStack/Cluster"
}

// Parse validates raw ResourceProperties. ServiceToken and ServiceTimeout are CloudFormation's own
// and ignored; any other unknown property is an error (a typo would otherwise be silently dropped).
func Parse(props map[string]any, d Defaults) (Spec, error) {
	p := parser{props: props, errs: customresource.PropertyErrors{ResourceType: ResourceType}}
	s := Spec{
		SubnetIDs:                p.strings("SubnetIds"),
		HsmCount:                 p.integer("HsmCount", DefaultHsmCount),
		HsmType:                  p.str("HsmType", DefaultHsmType),
		Mode:                     p.str("Mode", "FIPS"),
		NetworkType:              p.str("NetworkType", "IPV4"),
		BackupRetentionDays:      p.integer("BackupRetentionDays", DefaultBackupDays),
		SourceBackupID:           p.str("SourceBackupId", ""),
		ClusterID:                p.str("ClusterId", ""),
		ClientInstanceID:         p.str("ClientInstanceId", ""),
		AdminSecretName:          p.str("AdminPasswordSecretName", d.SecretPrefix+"/admin-password"),
		CAKeySecretName:          p.str("CustomerCaKeySecretName", d.SecretPrefix+"/customer-ca/private-key"),
		CACertSecretName:         p.str("CustomerCaCertificateSecretName", d.SecretPrefix+"/customer-ca/certificate"),
		CAKeyType:                p.str("CustomerCaKeyType", "RSA_2048"),
		CAValidityDays:           p.integer("CustomerCaValidityDays", DefaultCAValidity),
		Tags:                     p.tags("Tags"),
		IgnoreConnectedKeyStores: p.boolean("IgnoreConnectedKeyStores"),
	}
	known := map[string]bool{"ServiceToken": true, "ServiceTimeout": true}
	for _, k := range []string{"SubnetIds", "HsmCount", "HsmType", "Mode", "NetworkType", "BackupRetentionDays",
		"SourceBackupId", "ClusterId", "ClientInstanceId", "AdminPasswordSecretName", "CustomerCaKeySecretName",
		"CustomerCaCertificateSecretName", "CustomerCaKeyType", "CustomerCaValidityDays", "Tags", "IgnoreConnectedKeyStores"} {
		known[k] = true
	}
	var unknown []string
	for k := range props {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		p.fail(k, "unknown property (check its spelling; see the README for the accepted properties)")
	}
	p.validate(&s)
	if err := p.errs.Err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

type parser struct {
	props map[string]any
	errs  customresource.PropertyErrors
	// listIndex maps a list property's kept items to their positions in the input (items that
	// were not strings are dropped), so an error names the item the user wrote.
	listIndex map[string][]int
}

// at is the input position of the i-th kept item of list property field.
func (p *parser) at(field string, i int) string {
	if idx := p.listIndex[field]; i < len(idx) {
		i = idx[i]
	}
	return fmt.Sprintf("%s[%d]", field, i)
}

func (p *parser) fail(field, format string, args ...any) {
	p.errs.Add(field, format, args...)
}

func (p *parser) str(field, def string) string {
	v, ok := p.props[field]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		p.fail(field, "must be a string")
		return def
	}
	if s == "" {
		return def
	}
	return s
}

// boolean reads a true/false property (CloudFormation sends "true" and "false" as strings); absent
// is false.
func (p *parser) boolean(field string) bool {
	switch v := p.props[field].(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		switch strings.TrimSpace(strings.ToLower(v)) {
		case "true":
			return true
		case "false", "":
			return false
		}
	}
	p.fail(field, "must be true or false, got %v", p.props[field])
	return false
}

func (p *parser) integer(field string, def int) int {
	v, ok := p.props[field]
	if !ok || v == nil {
		return def
	}
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) {
			return int(n)
		}
	case json.Number:
		if i, err := strconv.Atoi(n.String()); err == nil {
			return i
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i
		}
	}
	p.fail(field, "must be a whole number, got %v", v)
	return def
}

func (p *parser) strings(field string) []string {
	v, ok := p.props[field]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		if s, isStr := v.(string); isStr {
			// A CommaDelimitedList parameter passed straight through arrives as one string; an
			// empty one is an empty list.
			list = nil
			if strings.TrimSpace(s) == "" {
				return nil
			}
			for _, part := range strings.Split(s, ",") {
				list = append(list, strings.TrimSpace(part))
			}
		} else {
			p.fail(field, "must be a list of strings")
			return nil
		}
	}
	out := make([]string, 0, len(list))
	var idx []int
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", field, i), "must be a string")
			continue
		}
		out = append(out, s)
		idx = append(idx, i)
	}
	if p.listIndex == nil {
		p.listIndex = map[string][]int{}
	}
	p.listIndex[field] = idx
	return out
}

func (p *parser) tags(field string) map[string]string {
	v, ok := p.props[field]
	if !ok || v == nil {
		return nil
	}
	out := map[string]string{}
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			s, ok := val.(string)
			if !ok {
				p.fail(field+"."+k, "tag value must be a string")
				continue
			}
			out[k] = s
		}
	case []any:
		// The CloudFormation [{Key, Value}] form.
		for i, item := range t {
			m, ok := item.(map[string]any)
			k, kok := m["Key"].(string)
			val, vok := m["Value"].(string)
			if !ok || !kok || !vok {
				p.fail(fmt.Sprintf("%s[%d]", field, i), "must be {\"Key\": string, \"Value\": string}")
				continue
			}
			out[k] = val
		}
	default:
		p.fail(field, "must be a map of tag keys to values or a list of {Key, Value}")
	}
	return out
}

func (p *parser) validate(s *Spec) {
	adopt := s.ClusterID != ""
	switch {
	case len(s.SubnetIDs) < 2 && !adopt:
		p.fail("SubnetIds", "give at least two private subnets in different Availability Zones (got %d)", len(s.SubnetIDs))
	}
	seen := map[string]bool{}
	for i, id := range s.SubnetIDs {
		if !subnetRe.MatchString(id) {
			p.fail(p.at("SubnetIds", i), "%q is not a subnet id (subnet-0123456789abcdef0)", id)
		}
		if seen[id] {
			p.fail(p.at("SubnetIds", i), "%s is listed twice; each subnet must be in its own Availability Zone", id)
		}
		seen[id] = true
	}
	if s.HsmCount < 1 || s.HsmCount > MaxHsmsPerCluster {
		p.fail("HsmCount", "must be between 1 and %d (the CloudHSM limit of HSMs per cluster), got %d", MaxHsmsPerCluster, s.HsmCount)
	}
	switch {
	case s.HsmType == "hsm1.medium":
		p.fail("HsmType", "hsm1.medium can no longer be used for new clusters; use hsm2m.medium")
	case !hsmTypeRe.MatchString(s.HsmType) || len(s.HsmType) > 32:
		p.fail("HsmType", "%q is not an HSM type (use hsm2m.medium)", s.HsmType)
	}
	if s.Mode != "FIPS" && s.Mode != "NON_FIPS" {
		p.fail("Mode", "must be FIPS or NON_FIPS, got %q", s.Mode)
	}
	if s.NetworkType != "IPV4" && s.NetworkType != "DUALSTACK" {
		p.fail("NetworkType", "must be IPV4 or DUALSTACK, got %q", s.NetworkType)
	}
	if s.BackupRetentionDays < MinBackupRetention || s.BackupRetentionDays > MaxBackupRetention {
		p.fail("BackupRetentionDays", "must be between %d and %d days, got %d", MinBackupRetention, MaxBackupRetention, s.BackupRetentionDays)
	}
	if s.SourceBackupID != "" && !backupRe.MatchString(s.SourceBackupID) {
		p.fail("SourceBackupId", "%q is not a backup id (backup-xxxxxxxxxxx)", s.SourceBackupID)
	}
	if adopt && !clusterRe.MatchString(s.ClusterID) {
		p.fail("ClusterId", "%q is not a cluster id (cluster-xxxxxxxxxxx)", s.ClusterID)
	}
	if adopt && s.SourceBackupID != "" {
		p.fail("SourceBackupId", "cannot be combined with ClusterId: adopt an existing cluster or restore a backup, not both")
	}
	switch {
	case s.ClientInstanceID == "":
		p.fail("ClientInstanceId", "required: the SSM-managed EC2 instance with cloudhsm-cli that activates the cluster")
	case !instanceRe.MatchString(s.ClientInstanceID):
		p.fail("ClientInstanceId", "%q is not an instance id (i-0123456789abcdef0)", s.ClientInstanceID)
	}
	for _, f := range []struct{ field, name string }{
		{"AdminPasswordSecretName", s.AdminSecretName},
		{"CustomerCaKeySecretName", s.CAKeySecretName},
		{"CustomerCaCertificateSecretName", s.CACertSecretName},
	} {
		if msg := secretNameProblem(f.name); msg != "" {
			p.fail(f.field, "%s", msg)
		}
	}
	if s.CAKeyType != "RSA_2048" && s.CAKeyType != "RSA_4096" {
		p.fail("CustomerCaKeyType", "must be RSA_2048 or RSA_4096 (a CloudHSM trust anchor is RSA), got %q", s.CAKeyType)
	}
	if s.CAValidityDays < 1 || s.CAValidityDays > 30*365 {
		p.fail("CustomerCaValidityDays", "must be between 1 and %d, got %d", 30*365, s.CAValidityDays)
	}
	if len(s.Tags) > 50 {
		p.fail("Tags", "at most 50 tags, got %d", len(s.Tags))
	}
	// In key order, so the FAILED reason is the same on every run.
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		v := s.Tags[k]
		if len(k) > 128 || !tagKeyRe.MatchString(k) || strings.HasPrefix(strings.ToLower(k), "aws:") {
			p.fail("Tags."+k, "tag keys are 1-128 characters of letters, digits, spaces and _.:/=+-@, not starting with aws:")
		} else if strings.HasPrefix(strings.ToLower(k), TagPrefix) {
			p.fail("Tags."+k, "tag keys starting with %s are Strongroom's own (it finds and checks clusters by them); use another prefix", TagPrefix)
		}
		if len(v) > 256 {
			p.fail("Tags."+k, "tag values are at most 256 characters")
		}
	}
}

func secretNameProblem(name string) string {
	switch {
	case name == "" || strings.HasPrefix(name, "/"):
		return fmt.Sprintf("%q is not a usable secret name: give a name such as strongroom/prod/admin-password", name)
	case len(name) > maxSecretNameLength:
		return fmt.Sprintf("secret names are at most %d characters", maxSecretNameLength)
	case !secretRe.MatchString(name):
		return fmt.Sprintf("%q: secret names use only letters, digits and /_+=.@-", name)
	case secretSuffixRe.MatchString(name):
		return fmt.Sprintf("%q ends in a hyphen and six characters, which Secrets Manager confuses with an ARN suffix; rename it", name)
	}
	return ""
}

// Immutable lists the properties an update cannot change in place, with the reason a FAILED
// answer gives.
var Immutable = map[string]string{
	"SubnetIds":                       "the cluster's subnets are fixed at creation; create a new resource (or restore a backup) to move it",
	"HsmType":                         "changing the HSM type is a migration (ModifyCluster), which Strongroom does not run from an update",
	"Mode":                            "a cluster's FIPS mode is fixed at creation",
	"NetworkType":                     "a cluster's network type is fixed at creation",
	"SourceBackupId":                  "a cluster is restored from a backup only when it is created",
	"ClusterId":                       "the adopted cluster cannot change; create a new resource",
	"AdminPasswordSecretName":         "the admin password is bound to the activated cluster",
	"CustomerCaKeySecretName":         "the customer CA is the cluster's trust anchor since initialization",
	"CustomerCaCertificateSecretName": "the customer CA is the cluster's trust anchor since initialization",
	"CustomerCaKeyType":               "the customer CA is the cluster's trust anchor since initialization",
	"CustomerCaValidityDays":          "the customer CA is the cluster's trust anchor since initialization",
}

// Change is what an update asks for.
type Change struct {
	// HsmDelta is how many HSMs to add (positive) or remove (negative).
	HsmDelta int
	// Mutable changes applied without touching HSMs: BackupRetentionDays and Tags (by the
	// cluster-settings step, pkg/hsmcluster/settings) and ClientInstanceId (read by the steps).
	Others []string
}

// Diff compares old and new properties. A change to an immutable property is an error naming it
// and why; everything else is returned as a Change.
func Diff(oldSpec, newSpec Spec) (Change, error) {
	errs := customresource.PropertyErrors{ResourceType: ResourceType}
	o, n := fields(oldSpec), fields(newSpec)
	keys := make([]string, 0, len(Immutable))
	for k := range Immutable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if o[k] != n[k] {
			errs.Add(k, "cannot be changed by an update: %s", Immutable[k])
		}
	}
	if err := errs.Err(); err != nil {
		return Change{}, err
	}
	c := Change{HsmDelta: newSpec.HsmCount - oldSpec.HsmCount}
	for _, k := range []string{"BackupRetentionDays", "Tags", "ClientInstanceId"} {
		if o[k] != n[k] {
			c.Others = append(c.Others, k)
		}
	}
	return c, nil
}

// ImmutableHash fingerprints the properties an update cannot change (Immutable), so a cluster can
// carry what it was created with as a tag. An update is then judged against the deployed cluster,
// not only against OldResourceProperties: CloudFormation's rollback of a refused update (the refused
// properties as old, the original ones as new) matches the cluster and must succeed, or the stack
// would end UPDATE_ROLLBACK_FAILED.
func ImmutableHash(s Spec) string {
	f := fields(s)
	keys := make([]string, 0, len(Immutable))
	for k := range Immutable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, f[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func fields(s Spec) map[string]string {
	// Subnet order carries no meaning; only the set is compared.
	s.SubnetIDs = append([]string(nil), s.SubnetIDs...)
	sort.Strings(s.SubnetIDs)
	b, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := map[string]string{}
	for k, v := range m {
		vb, _ := json.Marshal(v)
		out[k] = string(vb)
	}
	return out
}
