package hsmcluster_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
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
)

const (
	fuzzStackID = "arn:aws:cloudformation:us-east-1:123456789012:stack/StrongroomCluster/5b3e1c70-cc5a-11f0-9e0a-0affd0c3a2b1"
	fuzzLogical = "Cluster"
)

// clusterProperties are the documented properties of Custom::CloudHsmCluster (README), besides
// CloudFormation's own ServiceToken and ServiceTimeout.
var clusterProperties = []string{"SubnetIds", "HsmCount", "HsmType", "Mode", "NetworkType", "BackupRetentionDays",
	"SourceBackupId", "ClusterId", "ClientInstanceId", "AdminPasswordSecretName", "CustomerCaKeySecretName",
	"CustomerCaCertificateSecretName", "CustomerCaKeyType", "CustomerCaValidityDays", "Tags", "IgnoreConnectedKeyStores"}

// The documented shapes, written apart from the package's own patterns.
var (
	fuzzSubnetRE   = regexp.MustCompile(`^subnet-([0-9a-f]{8}|[0-9a-f]{17})$`)
	fuzzInstanceRE = regexp.MustCompile(`^(i|mi)-([0-9a-f]{8}|[0-9a-f]{17})$`)
	fuzzClusterRE  = regexp.MustCompile(hsmdocs.ClusterIDPattern) // what the SSM documents accept
	fuzzBackupRE   = regexp.MustCompile(`^backup-[2-7a-zA-Z]{11,16}$`)
	fuzzSecretRE   = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
	fuzzARNSuffix  = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)
	fuzzTagKeyRE   = regexp.MustCompile(`^[a-zA-Z0-9_.:/=+\-@ ]+$`)
)

// FuzzParse decodes fuzzed ResourceProperties as the entry function's runtime decodes the event
// (encoding/json into cfn.Event's map[string]any) and checks Parse:
//
//   - ValidateRequest on a Create carrying the properties agrees with Parse.
//   - A refusal is customresource.PropertyErrors (errors.Is ErrInvalidProperties) whose every entry
//     names a property the input has or a documented one (SubnetIds[i] and Tags[i] within the
//     input's list, Tags.<key> a key of the input), with a message; unknown properties are
//     refused exactly when present.
//   - An accepted Spec is within the documented bounds (HsmCount 1-28, BackupRetentionDays
//     7-379, subnet, instance, cluster and backup ids, secret names, tags), takes the documented
//     default for each absent property and keeps each given string as given.
//   - Parse, format, parse: the Spec written back as properties (its JSON), with every scalar as a
//     string as CloudFormation sends it, or with SubnetIds as one comma-separated string, parses
//     to the same Spec; Diff of the Spec with itself or its subnets reordered is no change, and
//     ImmutableHash ignores subnet order.
func FuzzParse(f *testing.F) {
	const subnets = `"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`
	const inst = `"ClientInstanceId":"i-0123456789abcdef0"`
	for _, s := range []string{
		// Accepted.
		`{"ServiceToken":"arn:aws:lambda:us-east-1:123456789012:function:entry","ServiceTimeout":"3600",` + subnets + `,` + inst + `}`,
		`{` + subnets + `,` + inst + `,"HsmCount":"3","BackupRetentionDays":"30","Tags":[{"Key":"team","Value":"sec"}]}`,
		`{"SubnetIds":["subnet-01234567","subnet-89abcdef","subnet-0123456789abcdef2"],"ClientInstanceId":"mi-0123456789abcdef0","HsmCount":28,"HsmType":"hsm2m.medium","Mode":"NON_FIPS","NetworkType":"DUALSTACK","BackupRetentionDays":379,"CustomerCaKeyType":"RSA_4096","CustomerCaValidityDays":"10950","Tags":{"env":"prod","cost-center":"1234"}}`,
		`{"ClusterId":"cluster-igklspoyj5v",` + inst + `,"AdminPasswordSecretName":"prod/hsm/admin","CustomerCaKeySecretName":"prod/hsm/ca.key","CustomerCaCertificateSecretName":"prod/hsm/ca@cert"}`,
		`{"SubnetIds":"subnet-0123456789abcdef0, subnet-0123456789abcdef1",` + inst + `,"SourceBackupId":"backup-abcdefghijk","HsmCount":1.0,"BackupRetentionDays":" 7 "}`,
		`{` + subnets + `,` + inst + `,"HsmType":null,"Mode":"","Tags":{}}`,
		// Refused, at least one per property.
		`null`, `{}`, `{"SubnetIds":["subnet-0123456789abcdef0"],` + inst + `}`,
		`{"SubnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef0"],` + inst + `}`,
		`{"SubnetIds":["subnet-zz",7,"subnet-0123456789abcdef0"],` + inst + `}`,
		`{"SubnetIds":[7,"subnet-0123456789abcdef0","subnet-0123456789abcdef0"],` + inst + `}`,
		`{"SubnetIds":[7,"subnet-0123456789abcdef0","subnet-x"],` + inst + `}`,
		`{"SubnetIds":{"a":"subnet-0123456789abcdef0"},` + inst + `}`,
		`{` + subnets + `,` + inst + `,"HsmCount":0}`, `{` + subnets + `,` + inst + `,"HsmCount":"29"}`,
		`{` + subnets + `,` + inst + `,"HsmCount":"two"}`, `{` + subnets + `,` + inst + `,"HsmCount":2.5}`,
		`{` + subnets + `,` + inst + `,"HsmCount":1e300}`, `{` + subnets + `,` + inst + `,"HsmCount":true}`,
		`{` + subnets + `,` + inst + `,"HsmType":"hsm1.medium"}`, `{` + subnets + `,` + inst + `,"HsmType":5}`,
		`{` + subnets + `,` + inst + `,"Mode":"fips","NetworkType":"IPV6"}`,
		`{` + subnets + `,` + inst + `,"BackupRetentionDays":"400","CustomerCaValidityDays":0}`,
		`{` + subnets + `,` + inst + `,"SourceBackupId":"bkp-1"}`, `{` + subnets + `}`,
		`{` + subnets + `,"ClientInstanceId":"instance-1"}`,
		`{` + subnets + `,` + inst + `,"AdminPasswordSecretName":"admin password!","CustomerCaKeySecretName":"ca-key-abcdef","CustomerCaCertificateSecretName":"/abs"}`,
		`{` + subnets + `,` + inst + `,"CustomerCaKeyType":"EC_P256"}`, `{` + subnets + `,` + inst + `,"HsmCuont":3}`,
		`{"ClusterId":"cluster-abcdefghijk","SourceBackupId":"backup-abcdefghijk",` + inst + `}`,
		`{"ClusterId":"cluster-1",` + inst + `}`,
		`{` + subnets + `,` + inst + `,"Tags":{"aws:x":"y","":"z","k":5}}`,
		`{` + subnets + `,` + inst + `,"Tags":[{"Key":"a"},{"Key":"b","Value":"c"},"x"]}`,
		`{` + subnets + `,` + inst + `,"Tags":"team=sec"}`,
	} {
		f.Add([]byte(s))
	}
	defaults := hsmcluster.Defaults{SecretPrefix: hsmcluster.SecretPrefix(fuzzStackID, fuzzLogical)}
	f.Fuzz(func(t *testing.T, data []byte) {
		var props map[string]any
		if json.Unmarshal(data, &props) != nil {
			return
		}
		s, err := hsmcluster.Parse(props, defaults)
		ev := cfn.Event{RequestType: cfn.RequestCreate, StackID: fuzzStackID, LogicalResourceID: fuzzLogical, ResourceProperties: props}
		if verr := hsmcluster.ValidateRequest(&ev); (verr == nil) != (err == nil) {
			t.Fatalf("Parse: %v, but ValidateRequest: %v", err, verr)
		}
		if err != nil {
			checkClusterRefusal(t, props, err)
			return
		}
		checkClusterSpec(t, props, defaults, s)
		reparse := func(what string, p map[string]any) {
			t.Helper()
			got, err := hsmcluster.Parse(p, defaults)
			if err != nil {
				t.Fatalf("%s of the accepted %s is refused: %v", what, data, err)
			}
			if !sameSpec(got, s) {
				t.Fatalf("%s of %s parses to\n%+v\nnot\n%+v", what, data, got, s)
			}
		}
		reparse("the Spec's JSON", propstest.JSON(t, s))
		reparse("the properties as CloudFormation strings", propstest.StringScalars(props).(map[string]any))
		if len(s.SubnetIDs) > 0 {
			p := maps.Clone(props)
			p["SubnetIds"] = strings.Join(s.SubnetIDs, ",")
			reparse("SubnetIds as a comma-delimited string", p)
		}
		if c, err := hsmcluster.Diff(s, s); err != nil || c.HsmDelta != 0 || len(c.Others) != 0 {
			t.Fatalf("Diff of a Spec with itself = %+v, %v", c, err)
		}
		moved := s
		moved.SubnetIDs = slices.Clone(s.SubnetIDs)
		slices.Reverse(moved.SubnetIDs)
		moved.HsmCount = s.HsmCount%hsmcluster.MaxHsmsPerCluster + 1
		if c, err := hsmcluster.Diff(s, moved); err != nil || c.HsmDelta != moved.HsmCount-s.HsmCount || len(c.Others) != 0 {
			t.Fatalf("Diff with subnets reordered and HsmCount %d = %+v, %v", moved.HsmCount, c, err)
		}
		if hsmcluster.ImmutableHash(s) != hsmcluster.ImmutableHash(moved) {
			t.Fatalf("ImmutableHash changes with subnet order or HsmCount")
		}
	})
}

func checkClusterRefusal(t *testing.T, props map[string]any, err error) {
	var es *customresource.PropertyErrors
	if !errors.Is(err, customresource.ErrInvalidProperties) || !errors.As(err, &es) || es.ResourceType != hsmcluster.ResourceType || len(es.List) == 0 {
		t.Fatalf("refusal %v (%T) is not a Custom::CloudHsmCluster PropertyErrors with entries", err, err)
	}
	parts := make([]string, len(es.List))
	unknown := map[string]bool{}
	for i, e := range es.List {
		parts[i] = e.Property + ": " + e.Msg
		if e.Msg == "" {
			t.Fatalf("%s: an empty message in %v", e.Property, err)
		}
		if strings.HasPrefix(e.Msg, "unknown property") {
			unknown[e.Property] = true
		}
		if _, given := props[e.Property]; slices.Contains(clusterProperties, e.Property) || given {
			continue
		}
		name, idx, isIndex := cutIndex(e.Property)
		switch {
		case isIndex && (name == "SubnetIds" || name == "Tags"):
			if n := listLen(props[name]); idx >= n {
				t.Fatalf("%s names item %d of a %d-item %s: %v", e.Property, idx, n, name, err)
			}
			// The item named is the item at fault: a string when the error is about its value,
			// and the value the message quotes.
			if name == "SubnetIds" {
				item, isString := listItem(props[name], idx)
				notString := e.Msg == "must be a string"
				wrong := isString == notString || (isString && !strings.Contains(e.Msg, strconv.Quote(item)) && !strings.HasPrefix(e.Msg, item+" "))
				if wrong {
					t.Fatalf("%s is %#v, but the error is about another item: %s", e.Property, listRaw(props[name], idx), parts[i])
				}
			}
		case strings.HasPrefix(e.Property, "Tags."):
			if !hasTagKey(props["Tags"], strings.TrimPrefix(e.Property, "Tags.")) {
				t.Fatalf("%s names a tag the input does not have: %v", e.Property, err)
			}
		default:
			t.Fatalf("%s is neither a property of the input nor a documented one: %v", e.Property, err)
		}
	}
	if want := "invalid " + hsmcluster.ResourceType + " properties: " + strings.Join(parts, "; "); err.Error() != want {
		t.Fatalf("error text %q; want %q", err.Error(), want)
	}
	for k := range props {
		if k != "ServiceToken" && k != "ServiceTimeout" && !slices.Contains(clusterProperties, k) && !unknown[k] {
			t.Fatalf("unknown property %q is not refused: %v", k, err)
		}
	}
	for k := range unknown {
		if _, given := props[k]; !given || slices.Contains(clusterProperties, k) {
			t.Fatalf("%q refused as unknown: %v", k, err)
		}
	}
}

func checkClusterSpec(t *testing.T, props map[string]any, d hsmcluster.Defaults, s hsmcluster.Spec) {
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("accepted %+v: %s", s, fmt.Sprintf(format, args...))
	}
	if s.ClusterID == "" && len(s.SubnetIDs) < 2 {
		fail("fewer than two subnets and no ClusterId")
	}
	for i, id := range s.SubnetIDs {
		if !fuzzSubnetRE.MatchString(id) || slices.Contains(s.SubnetIDs[:i], id) {
			fail("subnet %q is malformed or listed twice", id)
		}
	}
	if s.HsmCount < 1 || s.HsmCount > hsmcluster.MaxHsmsPerCluster {
		fail("HsmCount %d", s.HsmCount)
	}
	if s.BackupRetentionDays < hsmcluster.MinBackupRetention || s.BackupRetentionDays > hsmcluster.MaxBackupRetention {
		fail("BackupRetentionDays %d", s.BackupRetentionDays)
	}
	if s.CAValidityDays < 1 || s.CAValidityDays > 30*365 {
		fail("CustomerCaValidityDays %d", s.CAValidityDays)
	}
	if s.HsmType == "hsm1.medium" || len(s.HsmType) > 32 || !strings.Contains(s.HsmType, "hsm") {
		fail("HsmType %q", s.HsmType)
	}
	if (s.Mode != "FIPS" && s.Mode != "NON_FIPS") || (s.NetworkType != "IPV4" && s.NetworkType != "DUALSTACK") ||
		(s.CAKeyType != "RSA_2048" && s.CAKeyType != "RSA_4096") {
		fail("Mode, NetworkType or CustomerCaKeyType")
	}
	if !fuzzInstanceRE.MatchString(s.ClientInstanceID) {
		fail("ClientInstanceId %q", s.ClientInstanceID)
	}
	if s.ClusterID != "" && (!fuzzClusterRE.MatchString(s.ClusterID) || s.SourceBackupID != "") {
		fail("ClusterId %q (the documents' pattern), or with a SourceBackupId", s.ClusterID)
	}
	if s.SourceBackupID != "" && !fuzzBackupRE.MatchString(s.SourceBackupID) {
		fail("SourceBackupId %q", s.SourceBackupID)
	}
	for _, n := range []string{s.AdminSecretName, s.CAKeySecretName, s.CACertSecretName} {
		if len(n) > 512 || strings.HasPrefix(n, "/") || !fuzzSecretRE.MatchString(n) || fuzzARNSuffix.MatchString(n) {
			fail("secret name %q", n)
		}
	}
	if len(s.Tags) > 50 {
		fail("%d tags", len(s.Tags))
	}
	for k, v := range s.Tags {
		if len(k) > 128 || !fuzzTagKeyRE.MatchString(k) || strings.HasPrefix(strings.ToLower(k), "aws:") || len(v) > 256 {
			fail("tag %q=%q", k, v)
		}
	}
	// Absent (or null or empty) properties take the documented defaults; given strings are kept.
	for _, c := range []struct {
		prop, got, def string
	}{
		{"HsmType", s.HsmType, hsmcluster.DefaultHsmType}, {"Mode", s.Mode, "FIPS"}, {"NetworkType", s.NetworkType, "IPV4"},
		{"AdminPasswordSecretName", s.AdminSecretName, d.SecretPrefix + "/admin-password"},
		{"CustomerCaKeySecretName", s.CAKeySecretName, d.SecretPrefix + "/customer-ca/private-key"},
		{"CustomerCaCertificateSecretName", s.CACertSecretName, d.SecretPrefix + "/customer-ca/certificate"},
		{"CustomerCaKeyType", s.CAKeyType, "RSA_2048"}, {"ClusterId", s.ClusterID, ""}, {"SourceBackupId", s.SourceBackupID, ""},
		{"ClientInstanceId", s.ClientInstanceID, ""},
	} {
		want := c.def
		if v, _ := props[c.prop].(string); v != "" {
			want = v
		}
		if c.got != want {
			fail("%s is %q; want %q", c.prop, c.got, want)
		}
	}
	for _, c := range []struct {
		prop     string
		got, def int
	}{
		{"HsmCount", s.HsmCount, hsmcluster.DefaultHsmCount}, {"BackupRetentionDays", s.BackupRetentionDays, hsmcluster.DefaultBackupDays},
		{"CustomerCaValidityDays", s.CAValidityDays, hsmcluster.DefaultCAValidity},
	} {
		if props[c.prop] == nil && c.got != c.def {
			fail("%s is %d without the property; want the default %d", c.prop, c.got, c.def)
		}
	}
}

// sameSpec compares two Specs, an empty Tags map or SubnetIDs list equal to none.
func sameSpec(a, b hsmcluster.Spec) bool {
	for _, s := range []*hsmcluster.Spec{&a, &b} {
		if len(s.Tags) == 0 {
			s.Tags = nil
		}
		if len(s.SubnetIDs) == 0 {
			s.SubnetIDs = nil
		}
	}
	return reflect.DeepEqual(a, b)
}

// cutIndex splits "Name[i]".
func cutIndex(p string) (string, int, bool) {
	name, rest, ok := strings.Cut(p, "[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	return name, i, err == nil && i >= 0
}

// listLen is the number of items of a list property: a JSON list, or a comma-delimited string.
func listLen(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case string:
		return strings.Count(x, ",") + 1
	}
	return 0
}

// listItem is item i of a list property when it is a string (trimmed, from a comma-delimited one).
func listItem(v any, i int) (string, bool) {
	switch x := v.(type) {
	case []any:
		s, ok := x[i].(string)
		return s, ok
	case string:
		return strings.TrimSpace(strings.Split(x, ",")[i]), true
	}
	return "", false
}

func listRaw(v any, i int) any {
	if x, ok := v.([]any); ok {
		return x[i]
	}
	s, _ := listItem(v, i)
	return s
}

func hasTagKey(tags any, key string) bool {
	switch x := tags.(type) {
	case map[string]any:
		_, ok := x[key]
		return ok
	case []any:
		for _, item := range x {
			if m, ok := item.(map[string]any); ok && m["Key"] == key {
				return true
			}
		}
	}
	return false
}
