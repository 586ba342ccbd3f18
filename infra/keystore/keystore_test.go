package keystore_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/strongroom/strongroom/infra/hsmcluster"
	"github.com/strongroom/strongroom/infra/keystore"
	"github.com/strongroom/strongroom/infra/templatetest"
	"github.com/strongroom/strongroom/pkg/nagreport"
)

func TestMain(m *testing.M) { templatetest.Main(m) }

// synth declares a cluster stack and the key store stack on it, with cdk-nag, as infra/main.go does.
func synth(t *testing.T) (*keystore.KeyStoreStack, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "cdk.out")
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	if _, err := hsmcluster.NewClusterStack(app, "Cluster", &hsmcluster.StackProps{}); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.NewKeyStoreStack(app, "KeyStore", &keystore.StackProps{ClusterStackName: "Cluster"})
	if err != nil {
		t.Fatal(err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return ks, out
}

func TestKeyStoreStack(t *testing.T) {
	ks, out := synth(t)
	// Read the report before assertions synthesize again (cdk-nag would append its rows twice).
	rep, err := nagreport.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	compliant := 0
	for _, r := range rep.Rows {
		if !strings.HasPrefix(r.ResourceID, "KeyStore/") {
			continue
		}
		if r.Compliance == nagreport.Compliant {
			compliant++
		}
		if r.Finding() {
			mine = append(mine, r.RuleID+" "+r.ResourceID+" "+r.Compliance)
		}
	}
	if len(mine) > 0 {
		t.Errorf("unsuppressed cdk-nag findings in the key store stack:\n%s", strings.Join(mine, "\n"))
	}
	if compliant < 15 {
		t.Errorf("only %d compliant checks on the key store stack: did cdk-nag run on it?", compliant)
	}

	tpl := assertions.Template_FromStack(ks.Stack, nil)
	tpl.ResourceCountIs(jsii.String("AWS::StepFunctions::StateMachine"), jsii.Number(4))
	tpl.ResourceCountIs(jsii.String("AWS::SSM::Document"), jsii.Number(3))
	tpl.ResourceCountIs(jsii.String("Custom::CloudHsmKeyStore"), jsii.Number(1))
	tpl.HasResourceProperties(jsii.String("Custom::CloudHsmKeyStore"), map[string]any{
		"KeyStoreName":                  keystore.DefaultKeyStoreName,
		"DeleteKeyStoreOnStackDeletion": "false",
		"KmsUserPasswordSecretName":     "strongroom/KeyStore/KeyStore/kmsuser-password",
		"ServiceTimeout":                fmt.Sprint(keystore.ServiceTimeoutSeconds),
	})
	// The Create's documents read the kmsuser password on the instance: the client role's grant
	// must exist before the Create starts.
	reads := tpl.FindResources(jsii.String("AWS::IAM::Policy"), &map[string]any{
		"Properties": map[string]any{"PolicyName": assertions.Match_StringLikeRegexp(jsii.String("ClientReadsKmsUserPassword"))},
	})
	stores := tpl.FindResources(jsii.String("Custom::CloudHsmKeyStore"), nil)
	for _, store := range *stores {
		deps, _ := (*store)["DependsOn"].([]any)
		found := false
		for id := range *reads {
			for _, d := range deps {
				found = found || d == id
			}
		}
		if len(*reads) != 1 || !found {
			t.Errorf("the key store does not depend on the client's read of the kmsuser password (%d policies, DependsOn %v)", len(*reads), deps)
		}
	}
	// The kmsuser rotation runs only on a schedule someone chose (each run disconnects the store).
	// The safety net's rule and the health check's rate() rule; no cron() rotation schedule.
	tpl.ResourceCountIs(jsii.String("AWS::Events::Rule"), jsii.Number(2))
	if rotations := tpl.FindResources(jsii.String("AWS::Events::Rule"), &map[string]any{
		"Properties": map[string]any{"ScheduleExpression": assertions.Match_StringLikeRegexp(jsii.String("^cron"))},
	}); len(*rotations) != 0 {
		t.Errorf("rotation schedules %v; want none by default", *rotations)
	}
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"CREATE_USER_DOCUMENT": assertions.Match_AnyValue(), "DELETE_USER_DOCUMENT": assertions.Match_AnyValue(), "CHANGE_PASSWORD_DOCUMENT": assertions.Match_AnyValue(),
		})},
		"TracingConfig": map[string]any{"Mode": "Active"},
	})

	// Each state machine's definition substitutes exactly its file's placeholders.
	sms := tpl.FindResources(jsii.String("AWS::StepFunctions::StateMachine"), nil)
	re := regexp.MustCompile(`\$\{([A-Za-z]+)\}`)
	for name, r := range *sms {
		b, _ := json.Marshal(r)
		var res struct {
			Properties struct {
				DefinitionString        any
				DefinitionSubstitutions map[string]any
				TracingConfiguration    struct{ Enabled bool }
			}
		}
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		def, _ := json.Marshal(res.Properties.DefinitionString)
		for _, m := range re.FindAllStringSubmatch(string(def), -1) {
			if _, ok := res.Properties.DefinitionSubstitutions[m[1]]; !ok {
				t.Errorf("%s: ${%s} has no substitution", name, m[1])
			}
		}
		if !res.Properties.TracingConfiguration.Enabled {
			t.Errorf("%s: tracing is off", name)
		}
	}

	// Least privilege: the KMS actions each role holds are those its step calls.
	want := map[string][]string{
		"KeystoreCreate":     {"kms:CreateCustomKeyStore", "kms:DescribeCustomKeyStores"},
		"KeystoreConnection": {"kms:ConnectCustomKeyStore", "kms:DescribeCustomKeyStores", "kms:DisconnectCustomKeyStore"},
		"KeystoreDescribe":   {"kms:DescribeCustomKeyStores"},
		"KeystoreUpdate":     {"kms:DescribeCustomKeyStores", "kms:UpdateCustomKeyStore"},
		"KeystoreDelete":     {"kms:DeleteCustomKeyStore"},
		"KeystorePlan":       {},
		"KeystoreUser":       {},
	}
	policies := tpl.FindResources(jsii.String("AWS::IAM::Policy"), nil)
	for step, actions := range want {
		var got []string
		for name, p := range *policies {
			if !strings.HasPrefix(name, "KeyStore"+step) {
				continue
			}
			b, _ := json.Marshal(p)
			for _, a := range regexp.MustCompile(`"(kms:[A-Za-z]+CustomKeyStores?)"`).FindAllStringSubmatch(string(b), -1) {
				got = append(got, a[1])
			}
		}
		sort.Strings(got)
		got = slices.Compact(got)
		if strings.Join(got, ",") != strings.Join(actions, ",") {
			t.Errorf("%s role has KMS key store actions %v; want %v", step, got, actions)
		}
	}

	// SendCommand reaches the client instance the cluster's stack exports, no other instance.
	sends := 0
	for name, p := range *policies {
		b, _ := json.Marshal(p)
		if !strings.Contains(string(b), `"ssm:SendCommand"`) {
			continue
		}
		sends++
		if strings.Contains(string(b), "instance/*") || !strings.Contains(string(b), ":instance/") {
			t.Errorf("%s: ssm:SendCommand reaches %s; want only the client instance", name, b)
		}
	}
	if sends == 0 {
		t.Error("no policy grants ssm:SendCommand: the kmsuser documents could not run")
	}
	t.Log(rep.Summary())
}
