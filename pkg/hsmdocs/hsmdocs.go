// Package hsmdocs holds the SSM Command documents that Strongroom runs on the CloudHSM client
// instance (schemaVersion 2.2, aws:runShellScript, Linux): activate a cluster, and create,
// delete or re-password a crypto user such as kmsuser. The CDK app creates AWS::SSM::Document
// resources from Content; the sandbox's SSM runs the same scripts under bash on its emulated
// client instance, against stand-ins of cloudhsm-cli and configure-cli (pkg/sandbox/hsmclient)
// and the AWS CLI, exactly as written.
//
// Secrets never travel as parameters (SSM keeps command parameters in its history, and SSM
// documents cannot reference secrets): parameters carry only ids, an HSM IP, a region, a user name
// and Secrets Manager ARNs, each constrained by an allowedPattern that admits no shell
// metacharacters, so the single-quoted substitutions in the scripts cannot be broken out of. The
// scripts fetch secret values on the instance with `aws secretsmanager get-secret-value` into
// shell variables, never echo them, and run with tracing off. The customer CA certificate is read
// once per cluster and secret: the instance keeps it with a marker of where it came from (the
// cluster's trust anchor cannot change), and each script reads the admin password only when it
// acts as the admin. Every secret's SecretString is the
// bare value: the password, or the PEM certificate.
//
// No password is ever on a process's command line (which `ps` shows to every user of the
// instance) or in a process's environment: the scripts run cloudhsm-cli in interactive mode and
// write its command lines (login --password, user create --password, cluster activate --password)
// to its stdin from a bash here-string, which bash writes to a pipe or a private temporary file,
// not to an argv. A password must therefore be one word; the scripts refuse a secret that is not
// letters and digits only (Strongroom generates such passwords: pkg/hsmcluster/password). A
// command's success is read from the CLI's JSON (every command must report "error_code": 0), and
// a failure puts the CLI's own output on stderr, which the workflow's FAILED reason carries.
package hsmdocs

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// Document names. The CDK app registers the content under names CloudFormation chooses; the
// functions learn them from their environment (pkg/resourcedef).
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
// the helpers. CLOUDHSM_HOME exists so a sandbox instance can root the client elsewhere; SSM runs
// the script as root with /opt/cloudhsm.
const prologue = `#!/bin/bash
set -euo pipefail
set +x
umask 077
# One failed read fails the whole workflow (a cluster create rolls back), so the AWS CLI retries a
# throttled or failed call more than its default 3 attempts, with its standard backoff and jitter.
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=8
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
# password reads the password secret $1 into the variable named $2. It must be one word of letters
# and digits: it travels inside a cloudhsm-cli command line on stdin. The value is never printed.
password() {
  local value
  value="$(secret "$1")" || exit 1
  [[ "$value" =~ ^[A-Za-z0-9]+$ ]] || fail "secret $1 must hold a password of letters and digits only"
  printf -v "$2" '%s' "$value"
}
# install_ca installs the customer CA certificate, the cluster's trust anchor, from its secret. The
# anchor is fixed when the cluster is initialized, so a later document for the same cluster and
# secret skips the read when the installed file is the one this instance wrote (the marker holds
# the cluster, the secret ARN and the file's SHA-256): one Secrets Manager call less per document.
install_ca() {
  local ca="$CLOUDHSM_HOME/etc/customerCA.crt" marker="$CLOUDHSM_HOME/etc/strongroom-ca.installed" tmp
  if [[ -f "$marker" && -f "$ca" ]] &&
    [[ "$(cat "$marker")" == "$CLUSTER_ID {{CustomerCaCertSecretArn}} $(sha256sum < "$ca" | cut -d ' ' -f 1)" ]]; then
    echo "the customer CA certificate of cluster $CLUSTER_ID is installed at $ca"
    return 0
  fi
  tmp="$(mktemp)"
  secret '{{CustomerCaCertSecretArn}}' > "$tmp"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$tmp" || { rm -f "$tmp"; fail "secret {{CustomerCaCertSecretArn}} is not a PEM certificate"; }
  mkdir -p "$CLOUDHSM_HOME/etc"
  rm -f "$marker"
  install -m 0644 "$tmp" "$ca"
  rm -f "$tmp"
  printf '%s %s %s' "$CLUSTER_ID" '{{CustomerCaCertSecretArn}}' "$(sha256sum < "$ca" | cut -d ' ' -f 1)" > "$marker"
  echo "installed the customer CA certificate at $ca"
}
configure() {
  "$CLOUDHSM_HOME/bin/configure-cli" -a "$HSM_IP" || fail "configure-cli -a $HSM_IP failed"
  echo "cloudhsm-cli configured for cluster $CLUSTER_ID at $HSM_IP"
}
# session runs cloudhsm-cli in interactive mode with the command lines in $1 (then quit) on its
# stdin, so the passwords in them never reach a command line or an environment. It succeeds when
# $2 commands reported "error_code": 0, printing the CLI's output; otherwise it prints that output
# on one line to stderr (the CLI's own errors then reach the workflow's reason) and fails.
session() {
  local out
  out="$("$CLI" interactive <<< "$1"$'\nquit')" || true
  if [[ "$(grep -c '"error_code": 0' <<< "$out")" == "$2" ]]; then
    printf '%s\n' "$out"
    return 0
  fi
  printf 'cloudhsm-cli: %s\n' "$(tr -s ' \n' ' ' <<< "$out")" >&2
  return 1
}
# as_user logs in as user $2 in role $1 with the password in the variable named $3, then runs the
# command line $4, in one session.
as_user() {
  session "login --username $2 --role $1 --password ${!3}"$'\n'"$4" 2
}
# user_list prints cloudhsm-cli's user list (no login needed) without whitespace. The output is
# captured before it is matched: grep -q in a pipeline could end it early and fail it under pipefail.
user_list() {
  local users
  users="$("$CLI" user list)" || { printf 'cloudhsm-cli: %s\n' "$(tr -s ' \n' ' ' <<< "$users")" >&2; fail "cloudhsm-cli user list failed"; }
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
password '{{AdminPasswordSecretArn}}' ADMIN_PW
USERS="$(user_list)" || exit 1
if [[ "$USERS" == *'"username":"admin","role":"admin"'* ]]; then
  if as_user admin admin ADMIN_PW "user list" > /dev/null; then
    echo "cluster $CLUSTER_ID is already activated with this admin password"
    exit 0
  fi
  fail "cluster $CLUSTER_ID is already activated and the admin password in {{AdminPasswordSecretArn}} does not log in"
fi
session "cluster activate --password $ADMIN_PW" 1 || fail "cluster activate failed for $CLUSTER_ID"
echo "cluster $CLUSTER_ID activated"
`

// userPrologue starts the crypto-user scripts: the customer CA installed, cloudhsm-cli pointed at
// the HSM and the user name as cloudhsm-cli stores it. Each script reads the admin password only
// once it knows it needs it.
const userPrologue = prologue + `install_ca
configure
USER_NAME="$(printf '%s' '{{UserName}}' | tr 'A-Z' 'a-z')" # cloudhsm-cli lower-cases user names
`

const createUserScript = userPrologue + `password '{{UserPasswordSecretArn}}' USER_PW
if user_exists "$USER_NAME"; then
  # A retry of this same command finds the user it made: its password still logs in.
  if as_user crypto-user "$USER_NAME" USER_PW "user list" > /dev/null 2>&1; then
    echo "crypto user $USER_NAME already exists with the password in {{UserPasswordSecretArn}}"
    exit 0
  fi
  fail "crypto user $USER_NAME already exists in cluster $CLUSTER_ID"
fi
password '{{AdminPasswordSecretArn}}' ADMIN_PW
as_user admin admin ADMIN_PW "user create --username $USER_NAME --role crypto-user --password $USER_PW" \
  || fail "user create $USER_NAME failed"
echo "crypto user $USER_NAME created"
`

const deleteUserScript = userPrologue + `if ! user_exists "$USER_NAME"; then
  echo "crypto user $USER_NAME does not exist; nothing to delete"
  exit 0
fi
password '{{AdminPasswordSecretArn}}' ADMIN_PW
as_user admin admin ADMIN_PW "user delete --username $USER_NAME --role crypto-user" \
  || fail "user delete $USER_NAME failed"
echo "crypto user $USER_NAME deleted"
`

const changePasswordScript = userPrologue + `password '{{UserPasswordSecretArn}}' USER_PW
user_exists "$USER_NAME" || fail "crypto user $USER_NAME does not exist in cluster $CLUSTER_ID"
password '{{AdminPasswordSecretArn}}' ADMIN_PW
as_user admin admin ADMIN_PW "user change-password --username $USER_NAME --role crypto-user --password $USER_PW" \
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

// documents builds the documents on first use: the key store and cluster steps link this package
// for its patterns and names only (the CDK app and the sandbox read the documents), so no
// function's cold start builds them (make bench measures each function's cold start).
var documents = sync.OnceValue(func() map[string]Document {
	return map[string]Document{
		ActivateCluster: doc("Strongroom: install the customer CA certificate, point cloudhsm-cli at an HSM and activate the cluster with the admin password read from Secrets Manager on this instance.",
			"activateCluster", activateScript, common...),
		CreateCryptoUser: doc("Strongroom: create a crypto user (kmsuser) with the password read from Secrets Manager on this instance. A user that exists with another password fails.",
			"createCryptoUser", createUserScript, append(common[:5:5], "UserName", "UserPasswordSecretArn")...),
		DeleteCryptoUser: doc("Strongroom: delete a crypto user (kmsuser); a user that is already gone succeeds.",
			"deleteCryptoUser", deleteUserScript, append(common[:5:5], "UserName")...),
		ChangeCryptoUserPassword: doc("Strongroom: set a crypto user's password to the one read from Secrets Manager on this instance.",
			"changeCryptoUserPassword", changePasswordScript, append(common[:5:5], "UserName", "UserPasswordSecretArn")...),
	}
})

// Names lists the documents, sorted.
func Names() []string { return slices.Sorted(maps.Keys(documents())) }

// Contents maps every document's name to its content (Content), as a deployment registers them.
func Contents() map[string]string {
	out := map[string]string{}
	for _, n := range Names() {
		out[n], _ = Content(n)
	}
	return out
}

// Get returns a copy of the named document.
func Get(name string) (Document, bool) {
	d, ok := documents()[name]
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
	d, ok := documents()[name]
	if !ok {
		return "", fmt.Errorf("hsmdocs: no document %q (have %s)", name, strings.Join(Names(), ", "))
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("hsmdocs: encode %s: %w", name, err)
	}
	return string(b), nil
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

// placeholder is a parameter reference in a document, as SSM reads it: {{Name}}, spaces allowed
// inside the braces.
var placeholder = lazyregexp.New(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)

// Script returns the step's shell script (its runCommand lines joined) with each {{Name}} of a
// parameter in values replaced by the value, as the SSM agent renders it on the instance; a
// reference to no parameter is left as it is.
func (d Document) Script(values map[string]string) string {
	s := strings.Join(d.MainSteps[0].Inputs.RunCommand, "\n") + "\n"
	re := placeholder.Compiled()
	return re.ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := values[re.FindStringSubmatch(ref)[1]]; ok {
			return v
		}
		return ref
	})
}
