// Package hsmdocs holds the SSM Command documents that Strongroom runs on the CloudHSM client
// instance (schemaVersion 2.2, aws:runShellScript, Linux): activate a cluster, and create,
// delete or re-password a crypto user such as kmsuser. The CDK app creates AWS::SSM::Document
// resources from Content; the sandbox's SSM recognises the same content and emulates its effect.
//
// Secrets never travel as parameters (SSM keeps command parameters in its history, and SSM
// documents cannot reference secrets): parameters carry only ids, an HSM IP, a region, a user name
// and Secrets Manager ARNs, each constrained by an allowedPattern that admits no shell
// metacharacters, so the single-quoted substitutions in the scripts cannot be broken out of. The
// scripts fetch secret values on the instance with `aws secretsmanager get-secret-value` into
// shell variables, never echo them, run with tracing off, and hand credentials to cloudhsm-cli
// through CLOUDHSM_ROLE/CLOUDHSM_PIN in that one command's environment. Every secret's
// SecretString is the bare value: the password, or the PEM certificate.
//
// Known limit: cloudhsm-cli takes a new password only as --password (or from a terminal prompt),
// so the new user password is on that process's command line on the instance while it runs, as in
// AWS's own samples. The instance should be dedicated to Strongroom.
package hsmdocs

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// Document names. The CDK app may register the content under other names; Identify maps
// content back to one of these.
const (
	ActivateCluster          = "Strongroom-ActivateCluster"
	CreateCryptoUser         = "Strongroom-CreateCryptoUser"
	DeleteCryptoUser         = "Strongroom-DeleteCryptoUser"
	ChangeCryptoUserPassword = "Strongroom-ChangeCryptoUserPassword"
)

// Parameter patterns. None admits a quote, space, $, `, ; or newline.
const (
	ClusterIDPattern = `^cluster-[2-7a-zA-Z]{11,16}$`
	HsmIPPattern     = `^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$`
	SecretARNPattern = `^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`
	UserNamePattern  = `^[a-zA-Z0-9_]{1,31}$`
	RegionPattern    = `^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`
)

// secretARNShape is SecretARNPattern with the name's length left to IsSecretARN: Go's regexp
// compiles a counted repetition such as {1,512} into that many copies of the class, which took
// about 2 ms to compile (measured at init by make bench); compiled lazily, a step that never
// validates an ARN pays nothing.
var secretARNShape = lazyregexp.New(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:([A-Za-z0-9/_+=.@-]+)$`)

// MaxSecretNameLength is Secrets Manager's limit on a secret name (the part of the ARN after
// "secret:", suffix included).
const MaxSecretNameLength = 512

// IsSecretARN reports whether s matches SecretARNPattern, the pattern the documents' secret ARN
// parameters allow (hsmdocs_test.go checks the two agree).
func IsSecretARN(s string) bool {
	m := secretARNShape.FindStringSubmatch(s)
	return m != nil && len(m[1]) <= MaxSecretNameLength
}

// Document is an SSM Command document (schema 2.2) as JSON content.
type Document struct {
	SchemaVersion string               `json:"schemaVersion"`
	Description   string               `json:"description"`
	Parameters    map[string]Parameter `json:"parameters"`
	MainSteps     []Step               `json:"mainSteps"`
}

// Parameter is one document parameter.
type Parameter struct {
	Type           string `json:"type"`
	Description    string `json:"description"`
	AllowedPattern string `json:"allowedPattern,omitempty"`
	Default        string `json:"default,omitempty"`
}

// Step is one plugin step.
type Step struct {
	Action       string              `json:"action"`
	Name         string              `json:"name"`
	Precondition map[string][]string `json:"precondition,omitempty"`
	Inputs       StepInputs          `json:"inputs"`
}

// StepInputs are aws:runShellScript's inputs.
type StepInputs struct {
	TimeoutSeconds string   `json:"timeoutSeconds"`
	RunCommand     []string `json:"runCommand"`
}

var params = map[string]Parameter{
	"ClusterId":               {Type: "String", Description: "The CloudHSM cluster id.", AllowedPattern: ClusterIDPattern},
	"HsmIp":                   {Type: "String", Description: "The IPv4 address of an ACTIVE HSM of the cluster.", AllowedPattern: HsmIPPattern},
	"Region":                  {Type: "String", Description: "The region of the secrets and the cluster.", AllowedPattern: RegionPattern},
	"AdminPasswordSecretArn":  {Type: "String", Description: "ARN of the secret whose SecretString is the cluster admin password.", AllowedPattern: SecretARNPattern},
	"CustomerCaCertSecretArn": {Type: "String", Description: "ARN of the secret whose SecretString is the customer CA certificate (PEM), the cluster's trust anchor.", AllowedPattern: SecretARNPattern},
	"UserName":                {Type: "String", Description: "The crypto user (for a KMS key store: kmsuser).", AllowedPattern: UserNamePattern, Default: "kmsuser"},
	"UserPasswordSecretArn":   {Type: "String", Description: "ARN of the secret whose SecretString is the crypto user's (new) password.", AllowedPattern: SecretARNPattern},
}

// CheckValue reports whether value is acceptable for the Strongroom document parameter name, by
// the parameter's allowedPattern, without echoing the value. A name no Strongroom document defines
// is an error.
func CheckValue(name, value string) error {
	p, ok := params[name]
	if !ok {
		return fmt.Errorf("parameter %q is not a parameter of Strongroom's documents", name)
	}
	re, err := regexp.Compile(p.AllowedPattern)
	if err != nil {
		return fmt.Errorf("parameter %q: bad pattern: %w", name, err)
	}
	if !re.MatchString(value) {
		return fmt.Errorf("parameter %q value does not match its allowed pattern %s", name, p.AllowedPattern)
	}
	return nil
}

// prologue is shared by every script: strict mode, no tracing, private files, the CLI paths and
// the helpers. CLOUDHSM_HOME exists so tests can point the paths at stubs; SSM runs the script as
// root with /opt/cloudhsm.
const prologue = `#!/bin/bash
set -euo pipefail
set +x
umask 077
CLOUDHSM_HOME="${CLOUDHSM_HOME:-/opt/cloudhsm}"
CLI="$CLOUDHSM_HOME/bin/cloudhsm-cli"
CLUSTER_ID='{{ClusterId}}'
HSM_IP='{{HsmIp}}'
REGION='{{Region}}'
fail() { echo "strongroom: $*" >&2; exit 1; }
secret() {
  aws secretsmanager get-secret-value --region "$REGION" --secret-id "$1" --query SecretString --output text \
    || fail "cannot read secret $1 with the instance role"
}
install_ca() {
  local tmp
  tmp="$(mktemp)"
  secret '{{CustomerCaCertSecretArn}}' > "$tmp"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$tmp" || { rm -f "$tmp"; fail "secret {{CustomerCaCertSecretArn}} is not a PEM certificate"; }
  mkdir -p "$CLOUDHSM_HOME/etc"
  install -m 0644 "$tmp" "$CLOUDHSM_HOME/etc/customerCA.crt"
  rm -f "$tmp"
  echo "installed the customer CA certificate at $CLOUDHSM_HOME/etc/customerCA.crt"
}
configure() {
  "$CLOUDHSM_HOME/bin/configure-cli" -a "$HSM_IP" || fail "configure-cli -a $HSM_IP failed"
  echo "cloudhsm-cli configured for cluster $CLUSTER_ID at $HSM_IP"
}
# user_list prints cloudhsm-cli's user list without whitespace. The output is captured before it
# is matched: grep -q in a pipeline could end it early and fail it under pipefail.
user_list() {
  local users
  users="$("$CLI" user list)" || fail "cloudhsm-cli user list failed"
  printf '%s' "$users" | tr -d ' \n\t'
}
user_exists() {
  local users
  users="$(user_list)" || exit 1
  [[ "$users" == *"\"username\":\"$1\""* ]]
}
`

const activateScript = prologue + `install_ca
configure
ADMIN_PW="$(secret '{{AdminPasswordSecretArn}}')"
USERS="$(user_list)" || exit 1
if [[ "$USERS" == *'"username":"admin","role":"admin"'* ]]; then
  if CLOUDHSM_ROLE=admin CLOUDHSM_PIN="admin:$ADMIN_PW" "$CLI" user list > /dev/null; then
    echo "cluster $CLUSTER_ID is already activated with this admin password"
    exit 0
  fi
  fail "cluster $CLUSTER_ID is already activated and the admin password in {{AdminPasswordSecretArn}} does not log in"
fi
"$CLI" cluster activate --password "$ADMIN_PW" || fail "cluster activate failed for $CLUSTER_ID"
echo "cluster $CLUSTER_ID activated"
`

// userPrologue starts the crypto-user scripts: the customer CA installed, cloudhsm-cli pointed at
// the HSM, the user name as cloudhsm-cli stores it and the admin password.
const userPrologue = prologue + `install_ca
configure
USER_NAME="$(printf '%s' '{{UserName}}' | tr 'A-Z' 'a-z')" # cloudhsm-cli lower-cases user names
ADMIN_PW="$(secret '{{AdminPasswordSecretArn}}')"
`

const createUserScript = userPrologue + `USER_PW="$(secret '{{UserPasswordSecretArn}}')"
if user_exists "$USER_NAME"; then
  # A retry of this same command finds the user it made: its password still logs in.
  if CLOUDHSM_ROLE=crypto-user CLOUDHSM_PIN="$USER_NAME:$USER_PW" "$CLI" user list > /dev/null; then
    echo "crypto user $USER_NAME already exists with the password in {{UserPasswordSecretArn}}"
    exit 0
  fi
  fail "crypto user $USER_NAME already exists in cluster $CLUSTER_ID"
fi
CLOUDHSM_ROLE=admin CLOUDHSM_PIN="admin:$ADMIN_PW" "$CLI" user create --username "$USER_NAME" --role crypto-user --password "$USER_PW" \
  || fail "user create $USER_NAME failed"
echo "crypto user $USER_NAME created"
`

const deleteUserScript = userPrologue + `if ! user_exists "$USER_NAME"; then
  echo "crypto user $USER_NAME does not exist; nothing to delete"
  exit 0
fi
CLOUDHSM_ROLE=admin CLOUDHSM_PIN="admin:$ADMIN_PW" "$CLI" user delete --username "$USER_NAME" --role crypto-user \
  || fail "user delete $USER_NAME failed"
echo "crypto user $USER_NAME deleted"
`

const changePasswordScript = userPrologue + `USER_PW="$(secret '{{UserPasswordSecretArn}}')"
user_exists "$USER_NAME" || fail "crypto user $USER_NAME does not exist in cluster $CLUSTER_ID"
CLOUDHSM_ROLE=admin CLOUDHSM_PIN="admin:$ADMIN_PW" "$CLI" user change-password --username "$USER_NAME" --role crypto-user --password "$USER_PW" \
  || fail "user change-password $USER_NAME failed"
echo "password of crypto user $USER_NAME changed"
`

func doc(description, step, script string, names ...string) Document {
	d := Document{SchemaVersion: "2.2", Description: description, Parameters: map[string]Parameter{}}
	for _, n := range names {
		d.Parameters[n] = params[n]
	}
	d.MainSteps = []Step{{
		Action: "aws:runShellScript", Name: step,
		Precondition: map[string][]string{"StringEquals": {"platformType", "Linux"}},
		Inputs:       StepInputs{TimeoutSeconds: "600", RunCommand: strings.Split(strings.TrimSuffix(script, "\n"), "\n")},
	}}
	return d
}

var common = []string{"ClusterId", "HsmIp", "Region", "CustomerCaCertSecretArn", "AdminPasswordSecretArn"}

var documents = map[string]Document{
	ActivateCluster: doc("Strongroom: install the customer CA certificate, point cloudhsm-cli at an HSM and activate the cluster with the admin password read from Secrets Manager on this instance.",
		"activateCluster", activateScript, common...),
	CreateCryptoUser: doc("Strongroom: create a crypto user (kmsuser) with the password read from Secrets Manager on this instance. A user that exists with another password fails.",
		"createCryptoUser", createUserScript, append(common[:5:5], "UserName", "UserPasswordSecretArn")...),
	DeleteCryptoUser: doc("Strongroom: delete a crypto user (kmsuser); a user that is already gone succeeds.",
		"deleteCryptoUser", deleteUserScript, append(common[:5:5], "UserName")...),
	ChangeCryptoUserPassword: doc("Strongroom: set a crypto user's password to the one read from Secrets Manager on this instance.",
		"changeCryptoUserPassword", changePasswordScript, append(common[:5:5], "UserName", "UserPasswordSecretArn")...),
}

// Names lists the documents, sorted.
func Names() []string { return slices.Sorted(maps.Keys(documents)) }

// Get returns a copy of the named document.
func Get(name string) (Document, bool) {
	d, ok := documents[name]
	if !ok {
		return Document{}, false
	}
	b, _ := json.Marshal(d)
	var c Document
	_ = json.Unmarshal(b, &c)
	return c, true
}

// Content returns the named document as the JSON content of an AWS::SSM::Document.
func Content(name string) (string, error) {
	d, ok := documents[name]
	if !ok {
		return "", fmt.Errorf("hsmdocs: no document %q (have %s)", name, strings.Join(Names(), ", "))
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("hsmdocs: encode %s: %w", name, err)
	}
	return string(b), nil
}

// Identify returns the name of the Strongroom document whose content equals content (compared
// as JSON values, so formatting does not matter).
func Identify(content string) (string, bool) {
	var got any
	if err := json.Unmarshal([]byte(content), &got); err != nil {
		return "", false
	}
	for _, n := range Names() {
		c, _ := Content(n)
		var want any
		_ = json.Unmarshal([]byte(c), &want)
		if jsonEqual(got, want) {
			return n, true
		}
	}
	return "", false
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// CheckParameters validates values as SSM does before it runs a command: every parameter without
// a default is given, no unknown parameter, every value matches its allowedPattern. It returns the
// values with defaults filled in.
func (d Document) CheckParameters(values map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for name := range values {
		if _, ok := d.Parameters[name]; !ok {
			return nil, fmt.Errorf("parameter %q is not defined by the document", name)
		}
	}
	for name, p := range d.Parameters {
		v, ok := values[name]
		if !ok {
			if p.Default == "" {
				return nil, fmt.Errorf("parameter %q is required", name)
			}
			v = p.Default
		}
		if p.AllowedPattern != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(v) {
			// The value is not echoed: a secret passed by mistake would land in SSM's history and logs.
			return nil, fmt.Errorf("parameter %q value does not match the allowed pattern %s", name, p.AllowedPattern)
		}
		out[name] = v
	}
	return out, nil
}

// Script returns the step's shell script with {{Name}} replaced by values, as the SSM agent
// renders it on the instance.
func (d Document) Script(values map[string]string) string {
	s := strings.Join(d.MainSteps[0].Inputs.RunCommand, "\n") + "\n"
	for k, v := range values {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}
