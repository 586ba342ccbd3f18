package hsmdocs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
)

const (
	adminARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:strongroom/stack/admin-AbCdEf"
	caARN    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:strongroom/stack/ca-cert-AbCdEf"
	userARN  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:strongroom/stack/kmsuser-AbCdEf"
	adminPW  = "Adm1nPassw0rdXyz"
	userPW   = "Kms5userPassw0rd"
	caPEM    = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
)

func baseParams() map[string]string {
	return map[string]string{
		"ClusterId": "cluster-abcdefghij2", "HsmIp": "10.0.0.5", "Region": "us-east-1",
		"CustomerCaCertSecretArn": caARN, "AdminPasswordSecretArn": adminARN,
	}
}

func TestDocumentsAreWellFormed(t *testing.T) {
	for _, name := range hsmdocs.Names() {
		t.Run(name, func(t *testing.T) {
			content, err := hsmdocs.Content(name)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(content), &raw); err != nil {
				t.Fatalf("content is not JSON: %v", err)
			}
			if raw["schemaVersion"] != "2.2" {
				t.Fatalf("schemaVersion %v", raw["schemaVersion"])
			}
			steps := raw["mainSteps"].([]any)
			step := steps[0].(map[string]any)
			if len(steps) != 1 || step["action"] != "aws:runShellScript" {
				t.Fatalf("steps %v", steps)
			}
			pre := step["precondition"].(map[string]any)["StringEquals"].([]any)
			if pre[0] != "platformType" || pre[1] != "Linux" {
				t.Fatalf("precondition %v", pre)
			}
			// Every {{Param}} the script uses is declared, and every declared one is used.
			d, _ := hsmdocs.Get(name)
			script := strings.Join(d.MainSteps[0].Inputs.RunCommand, "\n")
			used := map[string]bool{}
			for _, m := range regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`).FindAllStringSubmatch(script, -1) {
				used[m[1]] = true
				if _, ok := d.Parameters[m[1]]; !ok {
					t.Errorf("script uses undeclared parameter %s", m[1])
				}
			}
			for p, def := range d.Parameters {
				if !used[p] {
					t.Errorf("parameter %s is declared but unused", p)
				}
				if def.AllowedPattern == "" || strings.Contains(strings.ToLower(p), "password") && !strings.HasSuffix(p, "SecretArn") {
					t.Errorf("parameter %s: every parameter needs an allowedPattern and none may carry a password", p)
				}
			}
			if !strings.Contains(script, "set +x") || strings.Contains(script, "set -x") {
				t.Error("script must turn tracing off")
			}
			if got, ok := hsmdocs.Identify(content); !ok || got != name {
				t.Errorf("Identify(own content) = %q %v", got, ok)
			}
			// bash -n: syntax of the rendered script.
			params := baseParams()
			params["UserName"], params["UserPasswordSecretArn"] = "kmsuser", userARN
			for k := range params {
				if _, ok := d.Parameters[k]; !ok {
					delete(params, k)
				}
			}
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(d.Script(params))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash -n: %v\n%s", err, out)
			}
		})
	}
}

func TestParameterPatternsRefuseInjection(t *testing.T) {
	d, _ := hsmdocs.Get(hsmdocs.CreateCryptoUser)
	good := baseParams()
	good["UserPasswordSecretArn"] = userARN
	if got, err := d.CheckParameters(good); err != nil || got["UserName"] != "kmsuser" {
		t.Fatalf("good parameters: %v %v", got, err)
	}
	cases := []struct{ name, param, value string }{
		{"quote in user name", "UserName", "kms'; rm -rf / #"},
		{"command substitution in ARN", "UserPasswordSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:$(id)"},
		{"space in cluster id", "ClusterId", "cluster-abc defghij"},
		{"hostname for IP", "HsmIp", "evil.example.com"},
		{"IP out of range", "HsmIp", "10.0.0.256"},
		{"newline in region", "Region", "us-east-1\nid"},
		{"password as ARN", "AdminPasswordSecretArn", adminPW},
		{"long user name", "UserName", strings.Repeat("a", 32)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]string{}
			for k, v := range good {
				p[k] = v
			}
			p[tc.param] = tc.value
			if _, err := d.CheckParameters(p); err == nil || !strings.Contains(err.Error(), tc.param) {
				t.Fatalf("value %q for %s accepted (err %v)", tc.value, tc.param, err)
			}
		})
	}
	if _, err := d.CheckParameters(map[string]string{"ClusterId": "cluster-abcdefghij2"}); err == nil {
		t.Fatal("missing required parameters accepted")
	}
	p := map[string]string{"AdminPassword": adminPW}
	for k, v := range good {
		p[k] = v
	}
	if _, err := d.CheckParameters(p); err == nil || !strings.Contains(err.Error(), "AdminPassword") {
		t.Fatalf("undeclared parameter accepted: %v", err)
	}
}

// stubEnv is a temp dir with stub aws/configure-cli/cloudhsm-cli executables and their data.
type stubEnv struct {
	dir, home string
}

func newStubEnv(t *testing.T, users []string, goodPins []string, secrets map[string]string) stubEnv {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "opt", "cloudhsm")
	for _, d := range []string{filepath.Join(dir, "bin"), filepath.Join(home, "bin"), filepath.Join(dir, "secrets")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyStub(t, "aws", filepath.Join(dir, "bin", "aws"))
	copyStub(t, "configure-cli", filepath.Join(home, "bin", "configure-cli"))
	copyStub(t, "cloudhsm-cli", filepath.Join(home, "bin", "cloudhsm-cli"))
	write(t, filepath.Join(dir, "users"), strings.Join(users, "\n")+"\n")
	write(t, filepath.Join(dir, "good_pins"), strings.Join(goodPins, "\n")+"\n")
	for id, v := range secrets {
		write(t, filepath.Join(dir, "secrets", strings.NewReplacer("/", "_", ":", "_").Replace(id)), v)
	}
	return stubEnv{dir: dir, home: home}
}

func copyStub(t *testing.T, name, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stubs", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run renders the document with params and runs it with real bash, stubs first on PATH.
func (e stubEnv) run(t *testing.T, name string, params map[string]string) (stdout, stderr, log string, exit int) {
	t.Helper()
	d, _ := hsmdocs.Get(name)
	vals, err := d.CheckParameters(params)
	if err != nil {
		t.Fatalf("parameters: %v", err)
	}
	cmd := exec.Command("bash", "-c", d.Script(vals))
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(e.dir, "bin")+":"+os.Getenv("PATH"), "CLOUDHSM_HOME="+e.home, "STUB_DIR="+e.dir)
	var o, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &se
	err = cmd.Run()
	exit = 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run bash: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(e.dir, "log"))
	return o.String(), se.String(), string(b), exit
}

func TestScriptsRunWithStubs(t *testing.T) {
	secrets := map[string]string{adminARN: adminPW, caARN: caPEM, userARN: userPW}
	fresh := []string{"admin unactivated-admin", "app_user internal(APPLIANCE_USER)"}
	active := []string{"admin admin", "app_user internal(APPLIANCE_USER)"}
	withKMS := append(active[:2:2], "kmsuser crypto-user")
	adminPin := "admin:" + adminPW
	userPin := "kmsuser:" + userPW
	withUser := func(p map[string]string, secretARN bool) map[string]string {
		p["UserName"] = "kmsuser"
		if secretARN {
			p["UserPasswordSecretArn"] = userARN
		}
		return p
	}
	cases := []struct {
		name        string
		doc         string
		params      map[string]string
		users, pins []string
		secrets     map[string]string
		wantExit    int
		wantLog     []string // lines (substrings) the stubs must have logged, in order
		notInLog    []string
		wantOut     string
	}{
		{"activate", hsmdocs.ActivateCluster, baseParams(), fresh, nil, secrets, 0,
			[]string{"configure-cli -a 10.0.0.5", "args=user list", "args=cluster activate --password " + adminPW}, nil, "activated"},
		{"activate again is a no-op", hsmdocs.ActivateCluster, baseParams(), active, []string{adminPin}, secrets, 0,
			[]string{"role=admin pin=" + adminPin + " args=user list"}, []string{"cluster activate"}, "already activated"},
		{"activate with another admin password", hsmdocs.ActivateCluster, baseParams(), active, nil, secrets, 1,
			[]string{"args=user list"}, []string{"cluster activate"}, ""},
		{"CA secret is not PEM", hsmdocs.ActivateCluster, baseParams(), fresh, nil, map[string]string{adminARN: adminPW, caARN: "not a cert"}, 1,
			nil, []string{"configure-cli", "cluster activate"}, ""},
		{"create kmsuser", hsmdocs.CreateCryptoUser, withUser(baseParams(), true), active, []string{adminPin}, secrets, 0,
			[]string{"role=admin pin=" + adminPin + " args=user create --username kmsuser --role crypto-user --password " + userPW}, nil, "created"},
		{"kmsuser exists with another password", hsmdocs.CreateCryptoUser, withUser(baseParams(), true), withKMS, []string{adminPin}, secrets, 1,
			[]string{"role=crypto-user pin=" + userPin + " args=user list"}, []string{"user create"}, ""},
		{"kmsuser exists from a retry", hsmdocs.CreateCryptoUser, withUser(baseParams(), true), withKMS, []string{adminPin, userPin}, secrets, 0,
			nil, []string{"user create"}, "already exists"},
		{"delete kmsuser", hsmdocs.DeleteCryptoUser, withUser(baseParams(), false), withKMS, []string{adminPin}, secrets, 0,
			[]string{"role=admin pin=" + adminPin + " args=user delete --username kmsuser --role crypto-user"}, nil, "deleted"},
		{"delete absent kmsuser", hsmdocs.DeleteCryptoUser, withUser(baseParams(), false), active, []string{adminPin}, secrets, 0,
			nil, []string{"user delete"}, "nothing to delete"},
		{"change kmsuser password", hsmdocs.ChangeCryptoUserPassword, withUser(baseParams(), true), withKMS, []string{adminPin}, secrets, 0,
			[]string{"role=admin pin=" + adminPin + " args=user change-password --username kmsuser --role crypto-user --password " + userPW}, nil, "changed"},
		{"admin secret unreadable", hsmdocs.CreateCryptoUser, withUser(baseParams(), true), active, nil, map[string]string{caARN: caPEM}, 1,
			nil, []string{"user create"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newStubEnv(t, tc.users, tc.pins, tc.secrets)
			out, errOut, log, exit := e.run(t, tc.doc, tc.params)
			if exit != tc.wantExit {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nlog:\n%s", exit, tc.wantExit, out, errOut, log)
			}
			rest := log
			for _, w := range tc.wantLog {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stub log lacks %q (in order)\nlog:\n%s", w, log)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.notInLog {
				if strings.Contains(log, w) {
					t.Fatalf("stub log has %q\nlog:\n%s", w, log)
				}
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("stdout lacks %q:\n%s", tc.wantOut, out)
			}
			// The secrets reach only the stubs, never the command's output.
			for _, secret := range []string{adminPW, userPW} {
				if strings.Contains(out, secret) || strings.Contains(errOut, secret) {
					t.Fatalf("a password reached the output\nstdout:\n%s\nstderr:\n%s", out, errOut)
				}
			}
			if tc.wantExit == 0 {
				ca, err := os.ReadFile(filepath.Join(e.home, "etc", "customerCA.crt"))
				if err != nil || string(ca) != caPEM {
					t.Fatalf("customerCA.crt not installed: %v %q", err, ca)
				}
				if !strings.Contains(log, "aws secretsmanager get-secret-value --region us-east-1 --secret-id "+caARN+" --query SecretString --output text") {
					t.Fatalf("CA not fetched with the AWS CLI on the instance:\n%s", log)
				}
			}
		})
	}
}

// TestIsSecretARNAgreesWithThePattern: the cheap check the key store's validation uses accepts
// exactly what the documents' allowedPattern accepts, at and around the length limit too.
func TestIsSecretARNAgreesWithThePattern(t *testing.T) {
	full := regexp.MustCompile(hsmdocs.SecretARNPattern)
	prefix := "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	cases := []string{adminARN, caARN, userARN, "",
		prefix, prefix + "a", prefix + strings.Repeat("n", 511), prefix + strings.Repeat("n", 512), prefix + strings.Repeat("n", 513),
		prefix + "name with space", prefix + "semi;colon", prefix + "dollar$", prefix + "line\nbreak",
		"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x-AbCdEf",
		"arn:aws:secretsmanager:us-east-1:12345678901:secret:x", "arn:aws:ssm:us-east-1:123456789012:secret:x",
		" " + adminARN, adminARN + "\n"}
	accepted := 0
	for _, c := range cases {
		want := full.MatchString(c)
		if got := hsmdocs.IsSecretARN(c); got != want {
			t.Errorf("IsSecretARN(%.80q...) = %v; SecretARNPattern says %v", c, got, want)
		}
		if want {
			accepted++
		}
	}
	if accepted < 5 {
		t.Fatalf("only %d cases match the pattern; the comparison needs both answers", accepted)
	}
}
