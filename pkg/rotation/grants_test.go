package rotation_test

import (
	"strings"
	"testing"

	"github.com/strongroom/strongroom/pkg/rotation"
)

func TestParseGrants(t *testing.T) {
	got, err := rotation.ParseGrants([]string{
		"select, insert ,UPDATE,  delete ON app.*",
		"SELECT ON `app`.`orders`",
		"create temporary   tables ON app.*",
		"show view on reports.v1",
	})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, g := range got {
		s = append(s, g.String())
	}
	want := "CREATE TEMPORARY TABLES, DELETE, INSERT, SELECT, UPDATE ON app.* | SELECT ON app.orders | SHOW VIEW ON reports.v1"
	if strings.Join(s, " | ") != want {
		t.Errorf("got %q\nwant %q", strings.Join(s, " | "), want)
	}
}

func TestParseGrantsRefuses(t *testing.T) {
	cases := []struct {
		name  string
		specs []string
		want  []string
	}{
		{"none", nil, []string{"no grant", "at least one"}},
		{"global", []string{"SELECT ON *.*"}, []string{"grant 1", "global privileges", "app.*"}},
		{"all privileges", []string{"ALL PRIVILEGES ON app.*"}, []string{"ALL PRIVILEGES is refused", "SELECT"}},
		{"grant option", []string{"SELECT, GRANT OPTION ON app.*"}, []string{"GRANT OPTION is refused"}},
		{"with grant option", []string{"SELECT ON app.* WITH GRANT OPTION"}, []string{"<privileges> ON <database>.*"}},
		{"unknown privilege", []string{"SELECT ON app.*", "SUPER ON app.*"}, []string{"grant 2", `"SUPER"`, "UPDATE"}},
		{"database-only privilege on a table", []string{"EXECUTE ON app.t"}, []string{`"EXECUTE"`, "on one table"}},
		{"no ON", []string{"SELECT app.*"}, []string{"<privileges> ON <database>.*"}},
		{"no privilege", []string{"ON app.*"}, []string{"<privileges> ON"}},
		{"empty privilege", []string{"SELECT,,INSERT ON app.*"}, []string{"empty privilege"}},
		{"no table part", []string{"SELECT ON app"}, []string{"app.* or app.orders"}},
		{"quote in a name", []string{"SELECT ON app'x.*"}, []string{"letters, digits, _ or $"}},
		{"unclosed backtick", []string{"SELECT ON `app.*"}, []string{"closing one"}},
		{"a user clause", []string{"SELECT ON app.* TO x"}, []string{"<privileges> ON <database>.*"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rotation.ParseGrants(c.specs)
			if err == nil {
				t.Fatalf("%q accepted", c.specs)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
