package keystoretest_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/keystoretest"
)

// TestDocumentMistakesFailWithTheToolsOwnError deploys the key store with a kmsuser document
// that has a mistake in it, as a hand edit of pkg/hsmdocs could make: a cloudhsm-cli flag that
// does not exist, or the password read from the wrong secret parameter. The client instance runs
// the script as written, so the Create answers FAILED with the tool's own refusal (the CLI's
// usage error, the AWS CLI's error with IAM's refusal) in its reason, and the rollback leaves
// nothing behind.
func TestDocumentMistakesFailWithTheToolsOwnError(t *testing.T) {
	content, err := hsmdocs.Content(hsmdocs.CreateCryptoUser)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new string
		want           []string
		denied         bool // IAM refuses a call of the mistaken document
	}{
		{name: "unknown cloudhsm-cli flag",
			old:  "--role crypto-user --password $USER_PW",
			new:  "--role crypto-user --pasword $USER_PW",
			want: []string{"unexpected argument '--pasword' found", "user create kmsuser failed"}},
		{name: "wrong secret ARN parameter",
			old: "password '{{UserPasswordSecretArn}}' USER_PW",
			new: "password '{{UserName}}' USER_PW",
			// The instance's role may read only the secrets it is granted, so Secrets Manager refuses
			// the read of a secret named kmsuser before it looks for one, as on AWS.
			want: []string{"AccessDeniedException", "is not authorized to perform: secretsmanager:GetSecretValue", "secret:kmsuser "}, denied: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if strings.Count(content, tc.old) != 1 {
				t.Fatalf("the document no longer has %q once: the mistake cannot be made", tc.old)
			}
			const name = "strongroom-keystore-e2e-CreateCryptoUserDocument-MISTAKE"
			r := newRig(t, keystoretest.Options{DocumentNames: map[string]string{hsmdocs.CreateCryptoUser: name}}, 2)
			if tc.denied {
				r.dep.ExpectDenials()
			}
			if _, err := ssm.NewFromConfig(r.env.AWSConfig()).CreateDocument(r.ctx, &ssm.CreateDocumentInput{
				Name: aws.String(name), Content: aws.String(strings.Replace(content, tc.old, tc.new, 1)),
			}); err != nil {
				t.Fatal(err)
			}
			out, err := r.dep.Create(r.ctx, "KeyStore", r.dep.Properties(r.cluster, "KeyStore", "strongroom-mistake", false))
			if err != nil {
				t.Fatal(err)
			}
			requireFailedSaying(t, out, tc.want)
			if r.env.Recorder.Count("ssm", "SendCommand") == 0 {
				t.Error("the workflow never sent the document")
			}
			if out.Rollback == nil || out.Rollback.Status != cloudformation.StatusSuccess {
				t.Errorf("rollback delete = %+v; want SUCCESS", out.Rollback)
			}
			if n := r.stores(t); n != 0 {
				t.Errorf("%d key stores remain after the failed create", n)
			}
			if r.kmsUser(t) {
				t.Error("kmsuser exists after the failed create")
			}
			r.env.CheckNoSecrets(t)
		})
	}
}
