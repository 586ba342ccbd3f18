package keystore_test

import (
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/propstest"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/keystore"
)

// storeProperties are the documented properties of Custom::CloudHsmKeyStore (README), besides
// CloudFormation's own ServiceToken and ServiceTimeout.
var storeProperties = []string{"ClusterId", "KeyStoreName", "AdminPasswordSecretArn", "CustomerCaCertificateSecretArn",
	"ClientInstanceId", "KmsUserPasswordSecretName", "DeleteKeyStoreOnStackDeletion"}

// What the SSM documents the key store's steps run accept (hsmdocs), and the documented instance
// and secret-name shapes, compiled once.
var (
	docClusterRE   = regexp.MustCompile(hsmdocs.ClusterIDPattern)
	docSecretARNRE = regexp.MustCompile(hsmdocs.SecretARNPattern)
	storeInstRE    = regexp.MustCompile(`^(i|mi)-([0-9a-f]{8}|[0-9a-f]{17})$`)
	storeSecretRE  = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
)

const (
	storeStackID = "arn:aws:cloudformation:us-east-1:123456789012:stack/StrongroomKeyStore/5b3e1c70-cc5a-11f0-9e0a-0affd0c3a2b1"
	storeLogical = "KeyStore"
)

// FuzzParse decodes fuzzed ResourceProperties as the entry function's runtime decodes the event
// (encoding/json into cfn.Event's map[string]any) and checks Parse and ValidateRequest:
//
//   - ValidateRequest on a Create carrying the properties agrees with Parse; on an Update whose old
//     properties are the same, or differ only in KeyStoreName, it accepts what Parse accepts.
//   - A refusal is customresource.PropertyErrors (errors.Is ErrInvalidProperties) whose every entry
//     names a documented property or an input's unknown one, with a message; unknown properties
//     are refused exactly when present.
//   - An accepted Spec is within the documented bounds and what the SSM documents accept: ClusterId
//     and the two secret ARNs match hsmdocs' patterns, the instance id its shape, KeyStoreName is 1
//     to 256 bytes, KmsUserPasswordSecretName 1-512 of letters, digits and /_+=.@- (by default
//     <prefix>/kmsuser-password); strings are trimmed; DeleteKeyStoreOnStackDeletion is what
//     the property says (false when absent).
//   - Parse, format, parse: the Spec written back as properties (its JSON), or with every scalar
//     as a string as CloudFormation sends it, parses to the same Spec. Diff allows only renames.
func FuzzParse(f *testing.F) {
	const arnA = "arn:aws:secretsmanager:us-east-1:123456789012:secret:strongroom/StrongroomCluster/Cluster/admin-password-AbCdEf"
	const arnC = "arn:aws:secretsmanager:us-east-1:123456789012:secret:strongroom/StrongroomCluster/Cluster/customer-ca/certificate-GhIjKl"
	base := `"ClusterId":"cluster-igklspoyj5v","KeyStoreName":"strongroom","AdminPasswordSecretArn":"` + arnA +
		`","CustomerCaCertificateSecretArn":"` + arnC + `","ClientInstanceId":"i-0a5b0c1d2e3f40001"`
	for _, s := range []string{
		// Accepted.
		`{"ServiceToken":"arn:aws:lambda:us-east-1:123456789012:function:StrongroomKeyStore-Entry","ServiceTimeout":"3600",` + base + `,"DeleteKeyStoreOnStackDeletion":"false"}`,
		`{` + base + `,"DeleteKeyStoreOnStackDeletion":true,"KmsUserPasswordSecretName":"prod/kms/kmsuser"}`,
		`{"ClusterId":" cluster-ABCDEFGHIJKLMNOP ","KeyStoreName":" keys of prod ","AdminPasswordSecretArn":"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a","CustomerCaCertificateSecretArn":"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:c@d","ClientInstanceId":"mi-0123456789abcdef0","DeleteKeyStoreOnStackDeletion":" TRUE ","KmsUserPasswordSecretName":null}`,
		`{` + base + `,"DeleteKeyStoreOnStackDeletion":null,"KmsUserPasswordSecretName":""}`,
		// Refused, at least one per property.
		`null`, `{}`, `{"ClusterId":"cluster-1"}`, `{` + base + `,"ClusterId":5}`,
		`{` + base + `,"KeyStoreName":"` + strings.Repeat("k", 257) + `"}`, `{` + base + `,"KeyStoreName":"  "}`,
		`{` + base + `,"AdminPasswordSecretArn":"arn:aws:secretsmanager:us-east-1:123:secret:x"}`,
		`{` + base + `,"CustomerCaCertificateSecretArn":"strongroom/ca"}`,
		`{` + base + `,"ClientInstanceId":"instance-1"}`, `{` + base + `,"KmsUserPasswordSecretName":"kms user"}`,
		`{` + base + `,"DeleteKeyStoreOnStackDeletion":"yes"}`, `{` + base + `,"DeleteKeyStoreOnStackDeletion":1}`,
		`{` + base + `,"KeyStorName":"typo"}`, `{` + base + `,"Tags":{"a":"b"}}`,
	} {
		f.Add([]byte(s))
	}
	prefix := hsmcluster.SecretPrefix(storeStackID, storeLogical)
	f.Fuzz(func(t *testing.T, data []byte) {
		var props map[string]any
		if json.Unmarshal(data, &props) != nil {
			return
		}
		s, err := keystore.Parse(props, prefix)
		ev := cfn.Event{RequestType: cfn.RequestCreate, StackID: storeStackID, LogicalResourceID: storeLogical, ResourceProperties: props}
		if verr := keystore.ValidateRequest(&ev); (verr == nil) != (err == nil) {
			t.Fatalf("Parse: %v, but ValidateRequest of a Create: %v", err, verr)
		}
		if err != nil {
			checkStoreRefusal(t, props, err)
			return
		}
		checkStoreSpec(t, props, prefix, s)
		for what, p := range map[string]map[string]any{
			"the Spec's JSON":                          propstest.JSON(t, s),
			"the properties as CloudFormation strings": propstest.StringScalars(props).(map[string]any),
		} {
			got, err := keystore.Parse(p, prefix)
			if err != nil || got != s {
				t.Fatalf("%s of the accepted %s parses to %+v, %v; want %+v", what, data, got, err, s)
			}
		}
		// Updates: the same properties, or a rename, are accepted; any other change is refused
		// naming the property.
		renamed := maps.Clone(props)
		renamed["KeyStoreName"] = s.KeyStoreName + "-renamed"
		for _, old := range []map[string]any{props, renamed} {
			up := ev
			up.RequestType, up.OldResourceProperties = cfn.RequestUpdate, old
			if err := keystore.ValidateRequest(&up); err != nil {
				t.Fatalf("an Update from %v to the accepted %s is refused: %v", old, data, err)
			}
		}
		if rename, err := keystore.Diff(s, s); rename || err != nil {
			t.Fatalf("Diff of a Spec with itself = %t, %v", rename, err)
		}
		next := s
		next.KeyStoreName += "-renamed"
		next.DeleteKeyStoreOnStackDeletion = !s.DeleteKeyStoreOnStackDeletion
		if rename, err := keystore.Diff(s, next); !rename || err != nil {
			t.Fatalf("Diff of a rename = %t, %v", rename, err)
		}
		next.ClusterID = "cluster-" + strings.Repeat("z", 11)
		if next.ClusterID == s.ClusterID {
			next.ClusterID = "cluster-" + strings.Repeat("y", 11)
		}
		var es *customresource.PropertyErrors
		if _, err := keystore.Diff(s, next); !errors.As(err, &es) || len(es.List) != 1 || es.List[0].Property != "ClusterId" {
			t.Fatalf("Diff of a ClusterId change = %v; want one error naming ClusterId", err)
		}
	})
}

func checkStoreRefusal(t *testing.T, props map[string]any, err error) {
	var es *customresource.PropertyErrors
	if !errors.Is(err, customresource.ErrInvalidProperties) || !errors.As(err, &es) || es.ResourceType != keystore.ResourceType || len(es.List) == 0 {
		t.Fatalf("refusal %v (%T) is not a Custom::CloudHsmKeyStore PropertyErrors with entries", err, err)
	}
	parts := make([]string, len(es.List))
	unknown := map[string]bool{}
	for i, e := range es.List {
		parts[i] = e.Property + ": " + e.Msg
		_, given := props[e.Property]
		switch {
		case e.Msg == "":
			t.Fatalf("%s: an empty message in %v", e.Property, err)
		case strings.HasPrefix(e.Msg, "unknown property"):
			if !given || slices.Contains(storeProperties, e.Property) || e.Property == "ServiceToken" || e.Property == "ServiceTimeout" {
				t.Fatalf("%q refused as unknown: %v", e.Property, err)
			}
			unknown[e.Property] = true
		case !slices.Contains(storeProperties, e.Property):
			t.Fatalf("%s is not a documented property: %v", e.Property, err)
		}
	}
	if want := "invalid " + keystore.ResourceType + " properties: " + strings.Join(parts, "; "); err.Error() != want {
		t.Fatalf("error text %q; want %q", err.Error(), want)
	}
	for k := range props {
		if k != "ServiceToken" && k != "ServiceTimeout" && !slices.Contains(storeProperties, k) && !unknown[k] {
			t.Fatalf("unknown property %q is not refused: %v", k, err)
		}
	}
}

func checkStoreSpec(t *testing.T, props map[string]any, prefix string, s keystore.Spec) {
	fail := func(what string, v any) {
		t.Helper()
		t.Fatalf("accepted %+v: %s %#v", s, what, v)
	}
	if !docClusterRE.MatchString(s.ClusterID) {
		fail("ClusterId does not match the documents' pattern:", s.ClusterID)
	}
	if n := len(s.KeyStoreName); n < 1 || n > 256 {
		fail("KeyStoreName is not 1 to 256 bytes:", s.KeyStoreName)
	}
	for _, arn := range []string{s.AdminPasswordSecretARN, s.CustomerCaCertificateSecretARN} {
		if !docSecretARNRE.MatchString(arn) {
			fail("a secret ARN does not match the documents' pattern:", arn)
		}
	}
	if !storeInstRE.MatchString(s.ClientInstanceID) {
		fail("ClientInstanceId is not an instance id:", s.ClientInstanceID)
	}
	if !storeSecretRE.MatchString(s.KmsUserPasswordSecretName) {
		fail("KmsUserPasswordSecretName is not a secret name:", s.KmsUserPasswordSecretName)
	}
	for _, v := range []string{s.ClusterID, s.KeyStoreName, s.AdminPasswordSecretARN, s.CustomerCaCertificateSecretARN, s.ClientInstanceID, s.KmsUserPasswordSecretName} {
		if v != strings.TrimSpace(v) {
			fail("a value is not trimmed:", v)
		}
	}
	given, _ := props["KmsUserPasswordSecretName"].(string)
	if given = strings.TrimSpace(given); given == "" {
		given = prefix + "/kmsuser-password"
	}
	if s.KmsUserPasswordSecretName != given {
		fail("KmsUserPasswordSecretName is neither the one given nor the default:", s.KmsUserPasswordSecretName)
	}
	want := false
	switch v := props["DeleteKeyStoreOnStackDeletion"].(type) {
	case bool:
		want = v
	case string:
		want, _ = strconv.ParseBool(strings.TrimSpace(v))
	}
	if s.DeleteKeyStoreOnStackDeletion != want {
		fail("DeleteKeyStoreOnStackDeletion is not the property's value:", props["DeleteKeyStoreOnStackDeletion"])
	}
}
