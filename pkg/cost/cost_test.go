package cost

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clusterTemplate is what the cluster stack creates that is billed by the hour: the cluster
// resource with hsmCount and hsmType ("" leaves the property out), a NAT gateway with its Elastic
// IP and the t3.micro client instance.
func clusterTemplate(hsmCount any, hsmType string) map[string]any {
	props := map[string]any{"SubnetIds": []any{"subnet-1", "subnet-2"}}
	if hsmCount != nil {
		props["HsmCount"] = hsmCount
	}
	if hsmType != "" {
		props["HsmType"] = hsmType
	}
	return map[string]any{"Resources": map[string]any{
		"ClusterResource": map[string]any{"Type": "Custom::CloudHsmCluster", "Properties": props},
		"VpcNat":          map[string]any{"Type": "AWS::EC2::NatGateway", "Properties": map[string]any{}},
		"VpcEIP":          map[string]any{"Type": "AWS::EC2::EIP", "Properties": map[string]any{"Domain": "vpc"}},
		"Client":          map[string]any{"Type": "AWS::EC2::Instance", "Properties": map[string]any{"InstanceType": "t3.micro"}},
		"Key":             map[string]any{"Type": "AWS::KMS::Key", "Properties": map[string]any{}},
	}}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestKnownContext: HsmCount 2 of hsm2m.medium in us-east-1, with the stack's NAT gateway, its
// address and the client instance, at the table's prices: 3.2604 USD an hour, 2,380.09 a month.
func TestKnownContext(t *testing.T) {
	s := Template("StrongroomCluster", "us-east-1", clusterTemplate("2", "hsm2m.medium"))
	if !s.Complete() {
		t.Fatalf("lines without a price: %+v", s.Lines)
	}
	if want := 2*1.60 + 0.045 + 0.005 + 0.0104; !near(s.USDPerHour(), want) {
		t.Errorf("USDPerHour = %v, want %v", s.USDPerHour(), want)
	}
	if want := (2*1.60 + 0.045 + 0.005 + 0.0104) * 730; !near(s.USDPerMonth(), want) {
		t.Errorf("USDPerMonth = %v, want %v", s.USDPerMonth(), want)
	}
	out := Format([]Stack{s})
	for _, want := range []string{
		"StrongroomCluster (us-east-1): 3.26 USD/h, 2,380.09 USD/month",
		"2 x CloudHSM HSM hsm2m.medium", "3.20 USD/h (1.60 each)",
		"1 x NAT gateway", "1 x public IPv4 address", "1 x EC2 instance t3.micro", PricesTaken,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The resource's defaults when the properties leave them out: two HSMs of hsm2m.medium.
	if d := Template("c", "us-east-1", clusterTemplate(nil, "")); !near(d.USDPerHour(), s.USDPerHour()) {
		t.Errorf("defaults: %v USD/h, want %v", d.USDPerHour(), s.USDPerHour())
	}
	// A count as a number (cdk.json) is read like its text.
	if n := Template("c", "us-east-1", clusterTemplate(3.0, "hsm2m.medium")); !near(n.USDPerHour()-s.USDPerHour(), 1.60) {
		t.Errorf("a third HSM adds %v USD/h, want 1.60", n.USDPerHour()-s.USDPerHour())
	}
}

// TestNoPriceKnown: a region or an HSM type the table lacks says "no price known" and is left out
// of the total, which is then a lower bound or not known, never another region's figure.
func TestNoPriceKnown(t *testing.T) {
	region := Template("StrongroomCluster", "eu-west-1", clusterTemplate("2", "hsm2m.medium"))
	if region.Complete() || region.USDPerHour() != 0 {
		t.Errorf("eu-west-1: complete %v, %v USD/h; want no price at all", region.Complete(), region.USDPerHour())
	}
	out := Format([]Stack{region})
	for _, want := range []string{"total not known", "2 x CloudHSM HSM hsm2m.medium", "no price known for eu-west-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1.60") || strings.Contains(out, "USD/month") {
		t.Errorf("eu-west-1 priced from another region:\n%s", out)
	}

	typ := Template("StrongroomCluster", "us-east-1", clusterTemplate("2", "hsm9.large"))
	if want := 0.045 + 0.005 + 0.0104; typ.Complete() || !near(typ.USDPerHour(), want) {
		t.Errorf("unknown type: complete %v, %v USD/h; want incomplete, %v", typ.Complete(), typ.USDPerHour(), want)
	}
	out = Format([]Stack{typ})
	for _, want := range []string{"at least 0.0604 USD/h", "2 x CloudHSM HSM hsm9.large", "no price known for us-east-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDatabaseStack: a Multi-AZ instance is billed as two, an interface endpoint per subnet (zone).
func TestDatabaseStack(t *testing.T) {
	tmpl := map[string]any{"Resources": map[string]any{
		"Db": map[string]any{"Type": "AWS::RDS::DBInstance", "Properties": map[string]any{"DBInstanceClass": "db.t4g.micro", "Engine": "mariadb", "MultiAZ": true}},
		"Ep": map[string]any{"Type": "AWS::EC2::VPCEndpoint", "Properties": map[string]any{"VpcEndpointType": "Interface",
			"SubnetIds": []any{map[string]any{"Ref": "A"}, map[string]any{"Ref": "B"}}}},
		"Gw": map[string]any{"Type": "AWS::EC2::VPCEndpoint", "Properties": map[string]any{"VpcEndpointType": "Gateway"}},
	}}
	s := Template("StrongroomDatabase", "us-east-1", tmpl)
	if want := 2*0.016 + 2*0.01; !s.Complete() || !near(s.USDPerHour(), want) {
		t.Errorf("%+v: %v USD/h, want %v", s.Lines, s.USDPerHour(), want)
	}
}

// TestAssembly: a pinned stack is priced in its own region, an environment-agnostic one in the
// region given, and -stacks limits the estimate.
func TestAssembly(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Pinned.template.json", clusterTemplate("2", ""))
	write("Agnostic.template.json", clusterTemplate("4", ""))
	write("manifest.json", map[string]any{"artifacts": map[string]any{
		"Pinned":   map[string]any{"type": "aws:cloudformation:stack", "environment": "aws://123456789012/eu-west-1", "properties": map[string]any{"templateFile": "Pinned.template.json"}},
		"Agnostic": map[string]any{"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region", "properties": map[string]any{"templateFile": "Agnostic.template.json"}},
		"Tree":     map[string]any{"type": "cdk:tree"},
	}})
	got, err := Assembly(dir, "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "Agnostic" || got[0].Region != "us-east-1" || !got[0].RegionAssumed ||
		got[1].Name != "Pinned" || got[1].Region != "eu-west-1" || got[1].RegionAssumed {
		t.Fatalf("stacks = %+v", got)
	}
	if !near(got[0].USDPerHour(), 4*1.60+0.045+0.005+0.0104) || got[1].Complete() {
		t.Errorf("Agnostic %v USD/h, Pinned complete %v", got[0].USDPerHour(), got[1].Complete())
	}
	only, err := Assembly(dir, "us-east-1", []string{"Pinned"})
	if err != nil || len(only) != 1 || only[0].Name != "Pinned" {
		t.Errorf("only Pinned: %+v, %v", only, err)
	}
	if _, err := Assembly(dir, "us-east-1", []string{"Pinned", "Nope"}); err == nil || !strings.Contains(err.Error(), "no stack Nope") {
		t.Errorf("unknown stack: %v", err)
	}
	if _, err := Assembly(t.TempDir(), "us-east-1", nil); err == nil || !strings.Contains(err.Error(), "make synth") {
		t.Errorf("no assembly: %v", err)
	}
}
