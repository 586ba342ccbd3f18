package resourcedef

import (
	"encoding/json"
	"strings"
	"testing"
)

func testNames() Names {
	return Names{Partition: "aws", Region: "eu-west-1", Account: "111122223333", SecretPrefix: "strongroom/S/Cluster",
		KeyARN: "arn:aws:kms:eu-west-1:111122223333:key/k", Documents: map[string]string{"Doc": "S-Doc-1"},
		ClientInstanceID: "i-1", VpcID: "vpc-1",
		StateMachines: map[string]StateMachineName{"Create": {ARN: "arn:aws:states:eu-west-1:111122223333:stateMachine:S-Create", Name: "S-Create"}},
		Inputs:        map[string][]string{"In": {"arn:a", "arn:b"}}}
}

// TestNamesResolveEveryRef: each kind to the ARN the construct grants, and an error naming what is
// missing.
func TestNamesResolveEveryRef(t *testing.T) {
	n := testNames()
	for _, tc := range []struct {
		ref  Ref
		want string
	}{
		{on(Any), "*"},
		{on(Clusters), "arn:aws:cloudhsm:eu-west-1:111122223333:cluster/*"},
		{on(Secret, "admin-password"), "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongroom/S/Cluster/admin-password-??????"},
		{on(MissingSecret, "x"), "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongroom/S/Cluster/x"},
		{on(Key), "arn:aws:kms:eu-west-1:111122223333:key/k"},
		{on(Document, "Doc"), "arn:aws:ssm:eu-west-1:111122223333:document/S-Doc-1"},
		{on(ClientInstance), "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"},
		{on(Vpc), "arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-1"},
		{on(NewSecurityGroups), "arn:aws:ec2:eu-west-1:111122223333:security-group/*"},
		{on(ServiceLinkedRole, "cloudhsm"), "arn:aws:iam::111122223333:role/aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM"},
		{on(ServiceLinkedRole, "cks.kms"), "arn:aws:iam::111122223333:role/aws-service-role/cks.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceCustomKeyStores"},
		{on(DefaultEventBus), "arn:aws:events:eu-west-1:111122223333:event-bus/default"},
		{on(Input, "In"), "arn:a,arn:b"},
		{on(StateMachine, "Create"), "arn:aws:states:eu-west-1:111122223333:stateMachine:S-Create"},
		{on(Executions, "Create"), "arn:aws:states:eu-west-1:111122223333:execution:S-Create:*"},
	} {
		got, err := n.ARNs(tc.ref)
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%s = %v, %v; want %s", tc.ref, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		ref  Ref
		want string
	}{
		{on(Document, "Other"), "document Other"},
		{on(Input, "Missing"), "input Missing"},
		{on(StateMachine, "Delete"), "no Delete workflow"},
		{Ref{Kind: "bogus"}, "unknown ref kind"},
	} {
		if _, err := n.ARNs(tc.ref); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want one naming %q", tc.ref, err, tc.want)
		}
	}
	n.VpcID, n.ClientInstanceID = "", ""
	for _, ref := range []Ref{on(Vpc), on(VpcSecurityGroups), on(ClientInstance)} {
		if _, err := n.ARNs(ref); err == nil {
			t.Errorf("%s with no id given: no error", ref)
		}
	}
}

// TestPolicyKeepsSecurityGroupsToTheVpc: a VpcSecurityGroups grant carries the ec2:Vpc condition;
// the document is what IAM accepts.
func TestPolicyKeepsSecurityGroupsToTheVpc(t *testing.T) {
	p, err := testNames().Policy([]Grant{
		grant(acts("ec2:AuthorizeSecurityGroupIngress"), "why", on(VpcSecurityGroups)),
		grant(acts("kms:Decrypt"), "", on(Key)),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	want := `{"Statement":[{"Action":["ec2:AuthorizeSecurityGroupIngress"],"Condition":{"ArnEquals":{"ec2:Vpc":"arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-1"}},"Effect":"Allow","Resource":["arn:aws:ec2:eu-west-1:111122223333:security-group/*"]},{"Action":["kms:Decrypt"],"Effect":"Allow","Resource":["arn:aws:kms:eu-west-1:111122223333:key/k"]}],"Version":"2012-10-17"}`
	if string(b) != want {
		t.Errorf("policy =\n%s\nwant\n%s", b, want)
	}
	if _, err := testNames().Policy([]Grant{grant(acts("ssm:SendCommand"), "", on(Document, "Nope"))}); err == nil || !strings.Contains(err.Error(), "ssm:SendCommand") {
		t.Errorf("unresolvable grant: err = %v; want one naming the grant's action", err)
	}
}
