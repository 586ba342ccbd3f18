package rotation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// This file creates the application user a user secret names, before its first rotation
// (lambdas/dbuser, the database stack's Custom::DatabaseUser). It shares the rotation's
// connection and account code: the same TLS settings, the same password hand-over through a
// session variable (withPassword), and the same grant reading and statements (account.go).

// Grant is one GRANT of privileges on a database's tables, or on one table, to the application
// user. Global privileges (ON *.*) and the grant option are not grants an application user needs,
// so ParseGrants refuses them.
type Grant struct {
	// Privileges are upper case with single spaces, sorted, as GRANT and information_schema
	// write them.
	Privileges []string
	Database   string
	// Table is "" for every table of Database (ON `db`.*).
	Table string
}

// on is the grant's ON clause, as readGrants keys the objects.
func (g Grant) on() string {
	if g.Table == "" {
		return quoteIdent(g.Database) + ".*"
	}
	return quoteIdent(g.Database) + "." + quoteIdent(g.Table)
}

// String writes the grant as ParseGrants reads it.
func (g Grant) String() string {
	t := g.Table
	if t == "" {
		t = "*"
	}
	return strings.Join(g.Privileges, ", ") + " ON " + g.Database + "." + t
}

// databasePrivileges are the privileges a grant on a database's tables may name; tablePrivileges
// the subset MariaDB accepts on one table.
var (
	databasePrivileges = []string{"ALTER", "ALTER ROUTINE", "CREATE", "CREATE ROUTINE", "CREATE TEMPORARY TABLES", "CREATE VIEW",
		"DELETE", "DELETE HISTORY", "DROP", "EVENT", "EXECUTE", "INDEX", "INSERT", "LOCK TABLES", "REFERENCES", "SELECT",
		"SHOW VIEW", "TRIGGER", "UPDATE"}
	tablePrivileges = []string{"ALTER", "CREATE", "CREATE VIEW", "DELETE", "DELETE HISTORY", "DROP", "INDEX", "INSERT",
		"REFERENCES", "SELECT", "SHOW VIEW", "TRIGGER", "UPDATE"}
)

// maxIdentifier is MariaDB's limit on database and table names.
const maxIdentifier = 64

// ParseGrants reads grants written as "SELECT, INSERT ON app.*" or "SELECT ON app.orders" (names
// in backticks or not, of letters, digits, _ and $). Two grants on the same object are merged.
// Errors name the grant by its position (from 1) and say what is accepted.
func ParseGrants(specs []string) ([]Grant, error) {
	if len(specs) == 0 {
		return nil, errors.New("no grant: give at least one, such as \"SELECT, INSERT, UPDATE, DELETE ON app.*\"")
	}
	byOn := map[string]*Grant{}
	var order []string
	for i, spec := range specs {
		g, err := parseGrant(spec)
		if err != nil {
			return nil, fmt.Errorf("grant %d (%q): %w", i+1, spec, err)
		}
		if prev, ok := byOn[g.on()]; ok {
			prev.Privileges = slices.Compact(slices.Sorted(slices.Values(append(prev.Privileges, g.Privileges...))))
			continue
		}
		byOn[g.on()] = &g
		order = append(order, g.on())
	}
	out := make([]Grant, 0, len(order))
	for _, on := range order {
		out = append(out, *byOn[on])
	}
	return out, nil
}

func parseGrant(spec string) (Grant, error) {
	fields := strings.Fields(spec)
	at := -1
	for i, f := range fields {
		if strings.EqualFold(f, "ON") {
			at = i
		}
	}
	if at < 1 || at != len(fields)-2 {
		return Grant{}, errors.New("write it as \"<privileges> ON <database>.*\" or \"<privileges> ON <database>.<table>\"")
	}
	var g Grant
	object := fields[at+1]
	db, table, ok := strings.Cut(object, ".")
	if !ok {
		return Grant{}, fmt.Errorf("%q: name the database and the tables, as app.* or app.orders", object)
	}
	var err error
	if g.Database, err = identifier(db); err != nil {
		if db == "*" {
			return Grant{}, errors.New("ON *.* grants global privileges, which an application user must not hold; name its database, as app.*")
		}
		return Grant{}, fmt.Errorf("database %w", err)
	}
	if table != "*" {
		if g.Table, err = identifier(table); err != nil {
			return Grant{}, fmt.Errorf("table %w", err)
		}
	}
	allowed, where := databasePrivileges, "on a database's tables ("+g.Database+".*)"
	if g.Table != "" {
		allowed, where = tablePrivileges, "on one table"
	}
	for _, p := range strings.Split(strings.Join(fields[:at], " "), ",") {
		p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
		switch {
		case p == "":
			return Grant{}, errors.New("an empty privilege between commas")
		case p == "ALL" || p == "ALL PRIVILEGES" || p == "GRANT OPTION":
			return Grant{}, fmt.Errorf("%s is refused: list the privileges the application needs, from %s", p, strings.Join(allowed, ", "))
		case !slices.Contains(allowed, p):
			return Grant{}, fmt.Errorf("privilege %q is not one granted %s: use %s", p, where, strings.Join(allowed, ", "))
		}
		g.Privileges = append(g.Privileges, p)
	}
	g.Privileges = slices.Compact(slices.Sorted(slices.Values(g.Privileges)))
	return g, nil
}

// identifier reads a database or table name, in backticks or not.
func identifier(s string) (string, error) {
	if t, ok := strings.CutPrefix(s, "`"); ok {
		if s, ok = strings.CutSuffix(t, "`"); !ok {
			return "", fmt.Errorf("name %q: an opening backtick without its closing one", "`"+t)
		}
	}
	if s == "" || len(s) > maxIdentifier || strings.IndexFunc(s, func(c rune) bool {
		return !(c == '_' || c == '$' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
	}) >= 0 {
		return "", fmt.Errorf("name %q: must be 1 to %d letters, digits, _ or $", s, maxIdentifier)
	}
	return s, nil
}

// grantsToSet is the grantSet holding exactly grants.
func grantsToSet(grants []Grant) *grantSet {
	g := &grantSet{objects: map[string]*objectGrants{}, roles: map[string]bool{}, proxies: map[string]bool{}}
	for _, gr := range grants {
		for _, p := range gr.Privileges {
			g.add(gr.on(), p, "")
		}
	}
	return g
}

// Provisioned says what ProvisionUser changed: nothing, on a user that was already as asked.
type Provisioned struct {
	// Created is true when the user did not exist.
	Created bool
	// Changes describe each change made, without any password: the statements, with the
	// password-setting ones named instead of quoted.
	Changes []string
}

// ProvisionUser makes the user that user names ('<username>'@'%', as RDS users are) exist with the
// secret's password, REQUIRE SSL, and at least grants, logged in as admin (the superuser secret)
// with t. It changes only what differs, so a retry or a second run changes nothing:
//
//   - a missing user is created with the password and REQUIRE SSL;
//   - an existing user without a TLS requirement gets REQUIRE SSL; one that requires a client
//     certificate (X509, ISSUER, SUBJECT) is refused, since the rotation's test logs in without one;
//     a locked user is refused rather than unlocked;
//   - the password is set to the secret's when the user's stored hash is not that password's;
//   - the privileges that previous granted and grants no longer does are revoked (only those:
//     privileges granted outside Strongroom stay), then what grants has and the user lacks is granted.
//
// Errors are TerminalError for what no retry fixes and name the fix; none quotes a password.
func ProvisionUser(ctx context.Context, t dbsecret.TLS, admin, user *dbsecret.Secret, grants, previous []Grant) (*Provisioned, error) {
	name := user.Username
	if err := checkUsername(name); err != nil {
		return nil, lambdaerr.Terminal("the user secret", err)
	}
	if len(grants) == 0 {
		return nil, lambdaerr.Terminal("no grants for user "+name+": give at least one", nil)
	}
	a := admin.Clone()
	a.DBName = "" // the superuser's own default database is irrelevant and may be absent
	db, err := open(a, t)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, classifyDB(fmt.Errorf("log in as the superuser %s at %s: %w", a.Username, a.Endpoint(), err))
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		return nil, classifyDB(fmt.Errorf("log in as the superuser %s at %s: %w", a.Username, a.Endpoint(), err))
	}
	out := &Provisioned{}
	acct := account(name)
	quotedAcct := strings.ReplaceAll(acct, "'", "''")
	props, err := readProps(ctx, conn, name)
	if err != nil {
		return nil, err
	}
	if props == nil {
		if err := withPassword(ctx, conn, user.Password, "EXECUTE IMMEDIATE CONCAT('CREATE USER IF NOT EXISTS "+quotedAcct+" IDENTIFIED BY ', QUOTE(@strongroom_pw), ' REQUIRE SSL')"); err != nil {
			return nil, fmt.Errorf("create user %s: %w", name, err)
		}
		out.Created = true
		out.Changes = append(out.Changes, "CREATE USER "+acct+" IDENTIFIED BY <the user secret's password> REQUIRE SSL")
		if props, err = readProps(ctx, conn, name); err != nil {
			return nil, err
		}
		if props == nil {
			return nil, fmt.Errorf("user %s does not exist right after CREATE USER; is another session dropping it?", name)
		}
	}
	switch {
	case props.locked:
		return nil, lambdaerr.Terminal(fmt.Sprintf("user %s exists and is locked (ACCOUNT LOCK); Strongroom does not unlock an account an operator locked: "+
			"unlock it (ALTER USER %s ACCOUNT UNLOCK) and retry, or drop it to have it created", name, acct), nil)
	case props.requiresClientCert():
		return nil, lambdaerr.Terminal(fmt.Sprintf("user %s exists and requires a client certificate, which the rotation function does not present: "+
			"set ALTER USER %s REQUIRE SSL and retry", name, acct), nil)
	case props.sslType == sslNone:
		stmt := "ALTER USER " + acct + " REQUIRE SSL"
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
		out.Changes = append(out.Changes, stmt)
	}
	same, err := passwordIs(ctx, conn, name, user.Password)
	if err != nil {
		return nil, err
	}
	if !same {
		if err := withPassword(ctx, conn, user.Password, "EXECUTE IMMEDIATE CONCAT('SET PASSWORD FOR "+quotedAcct+" = PASSWORD(', QUOTE(@strongroom_pw), ')')"); err != nil {
			return nil, fmt.Errorf("set the password of %s: %w", name, err)
		}
		out.Changes = append(out.Changes, "SET PASSWORD FOR "+acct+" = <the user secret's password>")
	}
	changes, err := applyGrants(ctx, conn, name, props.defaultRole, grants, previous)
	out.Changes = append(out.Changes, changes...)
	return out, err
}

// passwordIs reports whether user's stored credential is the mysql_native_password hash of
// password (the plugin CREATE USER ... IDENTIFIED BY and SET PASSWORD use); any other plugin
// counts as different, so the password is set.
func passwordIs(ctx context.Context, s session, user, password string) (bool, error) {
	if _, err := s.ExecContext(ctx, "SET @strongroom_pw = ?", password); err != nil {
		return false, fmt.Errorf("pass the password to compare: %w", err)
	}
	defer s.ExecContext(context.WithoutCancel(ctx), "SET @strongroom_pw = NULL")
	var same sql.NullBool
	err := s.QueryRowContext(ctx, `SELECT JSON_VALUE(Priv, '$.plugin') = 'mysql_native_password'
	AND JSON_VALUE(Priv, '$.authentication_string') = PASSWORD(@strongroom_pw)
	FROM mysql.global_priv WHERE User = ? AND Host = '%'`, user).Scan(&same)
	if err != nil {
		return false, fmt.Errorf("compare the password of %s with the user secret's (the superuser needs SELECT on the mysql database): %w", user, err)
	}
	return same.Valid && same.Bool, nil
}

// applyGrants revokes from name what previous granted and grants no longer does (when name holds
// it), then grants what grants has and name lacks, and checks the result. It returns the
// statements it ran.
func applyGrants(ctx context.Context, s session, name, defaultRole string, grants, previous []Grant) ([]string, error) {
	quote, err := stringQuoter(ctx, s)
	if err != nil {
		return nil, err
	}
	want, dropped := grantsToSet(grants), grantsToSet(previous)
	for on, o := range dropped.objects {
		if w := want.objects[on]; w != nil {
			for p := range w.privs {
				delete(o.privs, p)
			}
		}
	}
	have, err := readGrants(ctx, s, name, defaultRole, quote)
	if err != nil {
		return nil, err
	}
	// Revoke only what the user holds: REVOKE of a privilege it lacks is an error.
	for on, o := range dropped.objects {
		h := have.objects[on]
		for p := range o.privs {
			if h == nil || !h.privs[p] {
				delete(o.privs, p)
			}
		}
	}
	acct := account(name)
	var ran []string
	for _, stmt := range revokeStatements(dropped, grantsToSet(nil), acct) {
		if _, err := s.ExecContext(ctx, stmt); err != nil {
			return ran, fmt.Errorf("revoke from %s what the grants no longer name (%s): %w", name, stmt, err)
		}
		ran = append(ran, stmt)
	}
	if have, err = readGrants(ctx, s, name, defaultRole, quote); err != nil {
		return ran, err
	}
	// Leave the user's roles, proxies and default role as they are: only the objects are asked for.
	want.defaultRole = have.storedDefaultRole
	for _, stmt := range grantStatements(have, want, acct) {
		if _, err := s.ExecContext(ctx, stmt); err != nil {
			return ran, fmt.Errorf("grant %s (%s; the superuser must hold each privilege WITH GRANT OPTION): %w", name, stmt, err)
		}
		ran = append(ran, stmt)
	}
	if have, err = readGrants(ctx, s, name, defaultRole, quote); err != nil {
		return ran, err
	}
	for _, on := range slices.Sorted(maps.Keys(want.objects)) {
		if lacking := missing(want.objects[on], have.objects[on]); len(lacking) > 0 {
			return ran, fmt.Errorf("user %s still lacks %s ON %s after granting it", name, privList(lacking), on)
		}
	}
	for _, on := range slices.Sorted(maps.Keys(dropped.objects)) {
		if h := have.objects[on]; h != nil {
			for p := range dropped.objects[on].privs {
				if h.privs[p] {
					return ran, fmt.Errorf("user %s still holds %s ON %s after revoking it", name, p.name, on)
				}
			}
		}
	}
	return ran, nil
}
