package keystore

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// ResourceType is the CloudFormation type of the resource.
const ResourceType = "Custom::CloudHsmKeyStore"

// KMSUser is the crypto user KMS logs in as; KMS requires exactly this name.
const KMSUser = "kmsuser"

// Spec is a validated Custom::CloudHsmKeyStore.
type Spec struct {
	ClusterID                      string `json:"ClusterId"`
	KeyStoreName                   string `json:"KeyStoreName"`
	AdminPasswordSecretARN         string `json:"AdminPasswordSecretArn"`
	CustomerCaCertificateSecretARN string `json:"CustomerCaCertificateSecretArn"`
	ClientInstanceID               string `json:"ClientInstanceId"`
	// KmsUserPasswordSecretName names the secret the kmsuser password is generated into.
	KmsUserPasswordSecretName string `json:"KmsUserPasswordSecretName"`
	// DeleteKeyStoreOnStackDeletion: when false (the default) a stack deletion only disconnects
	// the store, so the KMS keys in it stay recoverable.
	DeleteKeyStoreOnStackDeletion bool `json:"DeleteKeyStoreOnStackDeletion"`
}

var (
	clusterRe  = lazyregexp.New(hsmdocs.ClusterIDPattern)
	instanceRe = lazyregexp.New(`^(i|mi)-[0-9a-f]{8}([0-9a-f]{9})?$`)
	// Length is checked apart (hsmdocs.MaxSecretNameLength): a counted repetition would cost
	// milliseconds of init on every cold start.
	secretRe = lazyregexp.New(`^[A-Za-z0-9/_+=.@-]+$`)
)

// properties are the accepted property names; ServiceToken and ServiceTimeout are
// CloudFormation's own.
var properties = []string{"ClusterId", "KeyStoreName", "AdminPasswordSecretArn", "CustomerCaCertificateSecretArn",
	"ClientInstanceId", "KmsUserPasswordSecretName", "DeleteKeyStoreOnStackDeletion"}

// Parse validates ResourceProperties. secretPrefix names the kmsuser password secret when
// KmsUserPasswordSecretName is not given (for example "strongroom/MyStack/KeyStore").
func Parse(props map[string]any, secretPrefix string) (Spec, error) {
	errs := customresource.PropertyErrors{ResourceType: ResourceType}
	fail := errs.Add
	str := func(name string) string {
		v, ok := props[name]
		if !ok || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			fail(name, "must be a string, not %T", v)
		}
		return strings.TrimSpace(s)
	}
	s := Spec{
		ClusterID:                      str("ClusterId"),
		KeyStoreName:                   str("KeyStoreName"),
		AdminPasswordSecretARN:         str("AdminPasswordSecretArn"),
		CustomerCaCertificateSecretARN: str("CustomerCaCertificateSecretArn"),
		ClientInstanceID:               str("ClientInstanceId"),
		KmsUserPasswordSecretName:      str("KmsUserPasswordSecretName"),
	}
	switch v := props["DeleteKeyStoreOnStackDeletion"].(type) {
	case nil:
	case bool:
		s.DeleteKeyStoreOnStackDeletion = v
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			fail("DeleteKeyStoreOnStackDeletion", "%q is not a boolean: use true or false", v)
		}
		s.DeleteKeyStoreOnStackDeletion = b
	default:
		fail("DeleteKeyStoreOnStackDeletion", "must be true or false, not %T", v)
	}
	if s.KmsUserPasswordSecretName == "" {
		s.KmsUserPasswordSecretName = secretPrefix + "/kmsuser-password"
	}

	switch {
	case s.ClusterID == "":
		fail("ClusterId", "is required: the id of an ACTIVE CloudHSM cluster (for example the ClusterId of a Custom::CloudHsmCluster)")
	case !clusterRe.MatchString(s.ClusterID):
		fail("ClusterId", "%q is not a cluster id (cluster- followed by 11-16 letters and digits 2-7)", s.ClusterID)
	}
	switch {
	case s.KeyStoreName == "":
		fail("KeyStoreName", "is required: 1 to 256 characters, unique in the account and Region")
	case len(s.KeyStoreName) > 256:
		fail("KeyStoreName", "is %d characters; KMS accepts 1 to 256", len(s.KeyStoreName))
	}
	for _, f := range []struct{ name, v, what string }{
		{"AdminPasswordSecretArn", s.AdminPasswordSecretARN, "the cluster admin password (the cluster resource's AdminPasswordSecretArn)"},
		{"CustomerCaCertificateSecretArn", s.CustomerCaCertificateSecretARN, "the customer CA certificate, the cluster's trust anchor (the cluster resource's CustomerCaCertificateSecretArn)"},
	} {
		switch {
		case f.v == "":
			fail(f.name, "is required: the ARN of the secret holding %s", f.what)
		case !hsmdocs.IsSecretARN(f.v):
			fail(f.name, "%q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", f.v)
		}
	}
	switch {
	case s.ClientInstanceID == "":
		fail("ClientInstanceId", "is required: the SSM-managed EC2 instance with cloudhsm-cli (the cluster's client instance)")
	case !instanceRe.MatchString(s.ClientInstanceID):
		fail("ClientInstanceId", "%q is not an EC2 instance id (i-0123456789abcdef0)", s.ClientInstanceID)
	}
	if n := s.KmsUserPasswordSecretName; n == "" || len(n) > hsmdocs.MaxSecretNameLength || !secretRe.MatchString(n) {
		fail("KmsUserPasswordSecretName", "%q is not a secret name: 1-512 of letters, digits and /_+=.@-", s.KmsUserPasswordSecretName)
	}

	for _, k := range slices.Sorted(maps.Keys(props)) {
		if k != "ServiceToken" && k != "ServiceTimeout" && !slices.Contains(properties, k) {
			fail(k, "unknown property (accepted: %s)", strings.Join(properties, ", "))
		}
	}
	if err := errs.Err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// SpecOf parses an event's properties (new, or old when old is true) with the default secret
// names of its stack and logical id.
func SpecOf(ev *cfn.Event, old bool) (Spec, error) {
	props := ev.ResourceProperties
	if old {
		props = ev.OldResourceProperties
	}
	return Parse(props, hsmcluster.SecretPrefix(ev.StackID, ev.LogicalResourceID))
}

// Diff checks an update: only KeyStoreName changes in place (KMS renames a CONNECTED or
// DISCONNECTED store), and DeleteKeyStoreOnStackDeletion is read only at deletion. Any other change
// is refused naming the property, because it would mean a different key store.
func Diff(old, next Spec) (rename bool, err error) {
	errs := customresource.PropertyErrors{ResourceType: ResourceType}
	for _, f := range []struct{ name, a, b string }{
		{"ClusterId", old.ClusterID, next.ClusterID},
		{"AdminPasswordSecretArn", old.AdminPasswordSecretARN, next.AdminPasswordSecretARN},
		{"CustomerCaCertificateSecretArn", old.CustomerCaCertificateSecretARN, next.CustomerCaCertificateSecretARN},
		{"ClientInstanceId", old.ClientInstanceID, next.ClientInstanceID},
		{"KmsUserPasswordSecretName", old.KmsUserPasswordSecretName, next.KmsUserPasswordSecretName},
	} {
		if f.a != f.b {
			errs.Add(f.name, "cannot change in place (from %q to %q): only KeyStoreName and DeleteKeyStoreOnStackDeletion can; give the resource a new logical id to make another key store", f.a, f.b)
		}
	}
	if err := errs.Err(); err != nil {
		return false, err
	}
	return old.KeyStoreName != next.KeyStoreName, nil
}

// ValidateRequest is the entry step's check of Create and Update requests (no AWS call), so bad
// properties are answered before any workflow starts and nothing is created.
func ValidateRequest(ev *cfn.Event) error {
	next, err := SpecOf(ev, false)
	if err != nil {
		return err
	}
	if ev.RequestType == cfn.RequestUpdate {
		old, err := SpecOf(ev, true)
		if err != nil {
			// Old properties that no longer parse: compare nothing rather than block the update.
			return nil
		}
		if _, err := Diff(old, next); err != nil {
			return err
		}
	}
	return nil
}
