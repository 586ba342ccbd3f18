package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/keystore"
)

// Context keys that set the properties of the cluster stack's Custom::CloudHsmCluster and the key
// store stack's Custom::CloudHsmKeyStore (README, "The cluster resource" and "The key store
// resource"). Each is one property; unset (or "") leaves the property to its default.
const (
	KeyHsmCount                      = "strongroom:hsmCount"
	KeyHsmType                       = "strongroom:hsmType"
	KeyClusterMode                   = "strongroom:clusterMode"
	KeyClusterNetworkType            = "strongroom:clusterNetworkType"
	KeyClusterBackupRetentionDays    = "strongroom:clusterBackupRetentionDays"
	KeyClusterSourceBackupID         = "strongroom:clusterSourceBackupId"
	KeyAdoptClusterID                = "strongroom:adoptClusterId"
	KeyCustomerCaKeyType             = "strongroom:customerCaKeyType"
	KeyCustomerCaValidityDays        = "strongroom:customerCaValidityDays"
	KeyClusterTags                   = "strongroom:clusterTags"
	KeyIgnoreConnectedKeyStores      = "strongroom:ignoreConnectedKeyStores"
	KeyKeyStoreName                  = "strongroom:keyStoreName"
	KeyDeleteKeyStoreOnStackDeletion = "strongroom:deleteKeyStoreOnStackDeletion"
)

// resourceKey ties a context key to the custom resource property it sets; value renders the
// validated property as the template carries it (CloudFormation hands a custom resource every
// scalar as a string, so the template says so too).
type resourceKey[S any] struct {
	key, property string
	value         func(S) any
}

// ClusterKeys are the context keys of Custom::CloudHsmCluster's properties, in the README's order.
// The properties the stack sets itself (SubnetIds, ClientInstanceId, the secret names its IAM
// policies are scoped to) have none.
var ClusterKeys = []resourceKey[hsmcluster.Spec]{
	{KeyHsmCount, "HsmCount", func(s hsmcluster.Spec) any { return strconv.Itoa(s.HsmCount) }},
	{KeyHsmType, "HsmType", func(s hsmcluster.Spec) any { return s.HsmType }},
	{KeyClusterMode, "Mode", func(s hsmcluster.Spec) any { return s.Mode }},
	{KeyClusterNetworkType, "NetworkType", func(s hsmcluster.Spec) any { return s.NetworkType }},
	{KeyClusterBackupRetentionDays, "BackupRetentionDays", func(s hsmcluster.Spec) any { return strconv.Itoa(s.BackupRetentionDays) }},
	{KeyClusterSourceBackupID, "SourceBackupId", func(s hsmcluster.Spec) any { return s.SourceBackupID }},
	{KeyAdoptClusterID, "ClusterId", func(s hsmcluster.Spec) any { return s.ClusterID }},
	{KeyCustomerCaKeyType, "CustomerCaKeyType", func(s hsmcluster.Spec) any { return s.CAKeyType }},
	{KeyCustomerCaValidityDays, "CustomerCaValidityDays", func(s hsmcluster.Spec) any { return strconv.Itoa(s.CAValidityDays) }},
	{KeyClusterTags, "Tags", func(s hsmcluster.Spec) any { return s.Tags }},
	{KeyIgnoreConnectedKeyStores, "IgnoreConnectedKeyStores", func(s hsmcluster.Spec) any { return strconv.FormatBool(s.IgnoreConnectedKeyStores) }},
}

// KeyStoreKeys are the context keys of Custom::CloudHsmKeyStore's properties. The others are the
// cluster resource's attributes and names the stack sets.
var KeyStoreKeys = []resourceKey[keystore.Spec]{
	{KeyKeyStoreName, "KeyStoreName", func(s keystore.Spec) any { return s.KeyStoreName }},
	{KeyDeleteKeyStoreOnStackDeletion, "DeleteKeyStoreOnStackDeletion", func(s keystore.Spec) any { return strconv.FormatBool(s.DeleteKeyStoreOnStackDeletion) }},
}

// Stand-ins for the properties the stacks set at deploy time (tokens at synth), well-formed so the
// resources' validators judge only what the context sets.
var (
	placeholderCluster = map[string]any{
		"SubnetIds":        []any{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"},
		"ClientInstanceId": "i-0123456789abcdef0",
	}
	placeholderKeyStore = map[string]any{
		"ClusterId":                      "cluster-abcdefghijk",
		"AdminPasswordSecretArn":         "arn:aws:secretsmanager:us-east-1:111122223333:secret:strongroom/admin-password-AbCdEf",
		"CustomerCaCertificateSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:strongroom/customer-ca/certificate-AbCdEf",
		"ClientInstanceId":               "i-0123456789abcdef0",
		"KeyStoreName":                   "strongroom",
	}
)

// readResources reads the cluster's and the key store's context keys and checks them with the
// resources' own validators (pkg/hsmcluster.Parse, pkg/keystore.Parse), which the workflows' entry
// functions run on the same properties: synthesis refuses exactly what the resource would answer
// FAILED. Only the keys that are set become properties (ClusterProperties, KeyStoreProperties).
func (s *Settings) readResources(ctx Lookup) error {
	var errs []error
	props, err := contextProperties(ctx, ClusterKeys, placeholderCluster)
	if err != nil {
		errs = append(errs, err)
	} else if spec, err := hsmcluster.Parse(props, hsmcluster.Defaults{SecretPrefix: "strongroom/settings/Cluster"}); err != nil {
		errs = append(errs, contextErrors(err, ClusterKeys, hsmcluster.ResourceType))
	} else {
		s.ClusterProperties = propertiesOf(ctx, ClusterKeys, spec)
	}

	props, err = contextProperties(ctx, KeyStoreKeys, placeholderKeyStore)
	if err != nil {
		errs = append(errs, err)
	} else if spec, err := keystore.Parse(props, "strongroom/settings/KeyStore"); err != nil {
		errs = append(errs, contextErrors(err, KeyStoreKeys, keystore.ResourceType))
	} else {
		s.KeyStoreProperties = propertiesOf(ctx, KeyStoreKeys, spec)
	}
	return errors.Join(errs...)
}

// isSet: a key that is missing, null or only spaces leaves its property to the default.
func isSet(v any) bool {
	if str, ok := v.(string); ok {
		return strings.TrimSpace(str) != ""
	}
	return v != nil
}

// contextProperties is base plus each set key's value as its property, in the shapes the
// resource's parser takes: cdk.json gives numbers, booleans and objects, `-c` gives strings (an
// object, the tags, as its JSON text).
func contextProperties[S any](ctx Lookup, keys []resourceKey[S], base map[string]any) (map[string]any, error) {
	props := map[string]any{}
	for k, v := range base {
		props[k] = v
	}
	for _, k := range keys {
		v := ctx(k.key)
		if !isSet(v) {
			continue
		}
		switch t := v.(type) {
		case int:
			v = float64(t)
		case string:
			t = strings.TrimSpace(t)
			v = t
			if k.key == KeyClusterTags {
				var tags any
				if err := json.Unmarshal([]byte(t), &tags); err != nil {
					return nil, fmt.Errorf("context %s: %q is not JSON (%v); give an object of tag keys to values such as {\"team\": \"payments\"}, or remove the key for the default (no tags)", k.key, t, err)
				}
				v = tags
			}
		}
		props[k.property] = v
	}
	return props, nil
}

// contextErrors turns the validator's property errors into errors that name the context key that
// set the property (a tag's error, Tags.<key>, belongs to the tags' key), keep the validator's
// reason, and say how to fix it.
func contextErrors[S any](err error, keys []resourceKey[S], resourceType string) error {
	var pe *customresource.PropertyErrors
	if !errors.As(err, &pe) {
		return fmt.Errorf("context (%s properties): %w", resourceType, err)
	}
	var out []error
	for _, e := range pe.List {
		property, _, _ := strings.Cut(e.Property, ".")
		property, _, _ = strings.Cut(property, "[")
		key := ""
		for _, k := range keys {
			if k.property == property {
				key = k.key
			}
		}
		if key == "" {
			// Not a property a key sets: a stand-in the validator no longer accepts (a bug here).
			out = append(out, fmt.Errorf("context (%s properties): %s: %s", resourceType, e.Property, e.Msg))
			continue
		}
		out = append(out, fmt.Errorf("context %s: %s (the %s property %s); set a value it accepts, or remove the key for the default (README, the context-key table)", key, e.Msg, resourceType, e.Property))
	}
	return errors.Join(out...)
}

// propertiesOf is the validated value of each key that is set, by property name; nil when none is.
func propertiesOf[S any](ctx Lookup, keys []resourceKey[S], spec S) map[string]any {
	var out map[string]any
	for _, k := range keys {
		if !isSet(ctx(k.key)) {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k.property] = k.value(spec)
	}
	return out
}
