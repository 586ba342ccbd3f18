package hsmdocs_test

import (
	"encoding/json"
	"os/exec"
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

// TestScriptSubstitutesAsSSM: {{Name}} and {{ Name }} are replaced by the parameter's value, a
// reference to no parameter stays, and no value is substituted twice.
func TestScriptSubstitutesAsSSM(t *testing.T) {
	d := hsmdocs.Document{MainSteps: []hsmdocs.Step{{Inputs: hsmdocs.StepInputs{RunCommand: []string{
		"A='{{ClusterId}}' B='{{ ClusterId }}'", "C='{{Other}}' D='{{Region}}'",
	}}}}}
	got := d.Script(map[string]string{"ClusterId": "cluster-abcdefghij2", "Region": "{{ClusterId}}"})
	want := "A='cluster-abcdefghij2' B='cluster-abcdefghij2'\nC='{{Other}}' D='{{ClusterId}}'\n"
	if got != want {
		t.Fatalf("Script = %q, want %q", got, want)
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
