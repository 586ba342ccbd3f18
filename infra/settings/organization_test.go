package settings

import (
	"strings"
	"testing"
)

func TestOrganization(t *testing.T) {
	const bus = "arn:aws:events:eu-west-1:111122223333:event-bus/strongroom-alerts"
	s, err := Read(MapLookup(nil), MapLookup(nil))
	if err != nil || s.Organization != (Organization{}) {
		t.Errorf("absent: %+v, %v; want single-account mode", s.Organization, err)
	}
	s, err = Read(MapLookup(map[string]any{KeyOrganization: map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5"}}), MapLookup(nil))
	if err != nil || s.Organization != (Organization{Mode: OrgModeCentral, OrganizationID: "o-a1b2c3d4e5"}) {
		t.Errorf("central: %+v, %v", s.Organization, err)
	}
	// Deployed in a CloudTrail delegated administrator: the management account owns the trail.
	s, err = Read(MapLookup(map[string]any{KeyOrganization: `{"mode":"central","organizationId":"o-a1b2c3d4e5","managementAccountId":"444455556666"}`}), MapLookup(nil))
	if err != nil || s.Organization != (Organization{Mode: OrgModeCentral, OrganizationID: "o-a1b2c3d4e5", ManagementAccountID: "444455556666"}) {
		t.Errorf("central in a delegated administrator: %+v, %v", s.Organization, err)
	}
	// As -c gives it: JSON text.
	s, err = Read(MapLookup(map[string]any{KeyOrganization: `{"mode":"member","centralBusArn":"` + bus + `"}`}), MapLookup(nil))
	if err != nil || s.Organization != (Organization{Mode: OrgModeMember, CentralBusArn: bus}) {
		t.Errorf("member: %+v, %v", s.Organization, err)
	}
	central := func(id string) map[string]any { return map[string]any{"mode": "central", "organizationId": id} }
	member := func(arn string) map[string]any { return map[string]any{"mode": "member", "centralBusArn": arn} }
	for _, c := range []struct {
		name  string
		value any
		want  []string
	}{
		{"not an object", []any{"central"}, []string{"want an object"}},
		{"broken JSON", `{"mode":`, []string{"is not JSON"}},
		{"unknown field", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5", "accounts": []any{}}, []string{"accounts", "want only mode"}},
		{"no mode", map[string]any{"organizationId": "o-a1b2c3d4e5"}, []string{"mode", `""`}},
		{"bad mode", map[string]any{"mode": "delegated"}, []string{"mode", `"delegated"`, "central or member"}},
		{"central without id", map[string]any{"mode": "central"}, []string{"organizationId", "not an organization id"}},
		{"id too short", central("o-abc123"), []string{"organizationId", `"o-abc123"`}},
		{"id upper case", central("o-A1B2C3D4E5"), []string{"organizationId"}},
		{"id without o-", central("a1b2c3d4e5f6"), []string{"organizationId"}},
		{"central with a bus", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5", "centralBusArn": bus}, []string{"centralBusArn", "only member mode"}},
		{"member without bus", map[string]any{"mode": "member"}, []string{"centralBusArn", "not the central bus"}},
		{"member default bus", member("arn:aws:events:eu-west-1:111122223333:event-bus/default"), []string{"centralBusArn", "strongroom-alerts"}},
		{"member bad account", member("arn:aws:events:eu-west-1:1111:event-bus/strongroom-alerts"), []string{"centralBusArn"}},
		{"member bad region", member("arn:aws:events:europe:111122223333:event-bus/strongroom-alerts"), []string{"centralBusArn"}},
		{"management account too short", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5", "managementAccountId": "44445555666"},
			[]string{"managementAccountId", `"44445555666"`, "12 digits", "delegated administrator"}},
		{"management account not digits", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5", "managementAccountId": "4444-5555-6666"},
			[]string{"managementAccountId", "12 digits"}},
		{"management account a number", map[string]any{"mode": "central", "organizationId": "o-a1b2c3d4e5", "managementAccountId": 444455556666.0},
			[]string{"managementAccountId"}},
		{"member with a management account", map[string]any{"mode": "member", "centralBusArn": bus, "managementAccountId": "444455556666"},
			[]string{"managementAccountId", "only central mode"}},
		{"member with an org id", map[string]any{"mode": "member", "centralBusArn": bus, "organizationId": "o-a1b2c3d4e5"}, []string{"organizationId", "only central mode"}},
	} {
		_, err := Read(MapLookup(map[string]any{KeyOrganization: c.value}), MapLookup(nil))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range append([]string{KeyOrganization}, c.want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", c.name, err, w)
			}
		}
	}
}
