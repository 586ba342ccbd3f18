package rotation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

// This file makes the alternate user an exact copy of the AWSCURRENT user (everything but the
// password and the account lock, which rotation owns): the TLS requirement, resource limits and
// password expiry policy (ALTER USER), and every grant, with those the user lacks revoked.
//
// Grants are read from information_schema (global, database, table and column privileges, with
// ALL PRIVILEGES already expanded into its privileges, under the names GRANT takes) and from the
// grant tables of the mysql database (grant options of tables, routine privileges, roles,
// proxies), so the comparison is privilege by privilege and never goes through ALL PRIVILEGES.
// The alternate user may still have live sessions (clients holding AWSPREVIOUS), so it never
// loses a privilege that both users hold: the revokes take only what the current user lacks,
// then the grants add what it has. Two exceptions MariaDB imposes, each closed by the next
// statements: a table privilege revoked while a column privilege of the same name stays (REVOKE
// takes both; the grants put the column back), and a proxy grant losing its grant option (only
// REVOKE PROXY takes it; the grants put the proxy back). The superuser needs SELECT on the mysql
// database, CREATE USER, and every privilege it copies WITH GRANT OPTION (roles WITH ADMIN
// OPTION), as the RDS master user has.

// session is a database session; *sql.Conn is one. Session variables and sql_mode are per
// session, so one account copy runs on one session.
type session interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SSL requirement types as MariaDB stores them in mysql.global_priv.
const (
	sslNone      = 0
	sslAny       = 1
	sslX509      = 2
	sslSpecified = 3
)

// accountProps are the account properties of a user that the alternate user mirrors, plus the
// lock, which it does not.
type accountProps struct {
	sslType                 int
	cipher, issuer, subject string
	// maxQuestions, maxUpdates, maxConnections and maxUserConnections are the resource limits
	// (0: none); maxStatementTime is a decimal number of seconds as the server prints it.
	maxQuestions, maxUpdates, maxConnections, maxUserConnections int64
	maxStatementTime                                             string
	// passwordLifetime is -1 for the server's default_password_lifetime, 0 for never, else days.
	passwordLifetime int64
	locked           bool
	defaultRole      string
}

// requiresClientCert reports whether logins need a client certificate, which this function does
// not present.
func (p *accountProps) requiresClientCert() bool {
	return p.sslType == sslX509 || (p.sslType == sslSpecified && (p.issuer != "" || p.subject != ""))
}

// decimalRE is compiled on first use: its counted repetitions compile into copies of the class,
// which every cold start of the rotation and database user functions paid at init.
var decimalRE = lazyregexp.New(`^[0-9]{1,12}(\.[0-9]{1,6})?$`)

// readProps reads the account properties of 'user'@'%'; nil when there is no such user.
func readProps(ctx context.Context, s session, user string) (*accountProps, error) {
	var v [12]sql.NullString
	err := s.QueryRowContext(ctx, `SELECT JSON_VALUE(Priv, '$.ssl_type'), JSON_VALUE(Priv, '$.ssl_cipher'),
	JSON_VALUE(Priv, '$.x509_issuer'), JSON_VALUE(Priv, '$.x509_subject'), JSON_VALUE(Priv, '$.max_questions'),
	JSON_VALUE(Priv, '$.max_updates'), JSON_VALUE(Priv, '$.max_connections'), JSON_VALUE(Priv, '$.max_user_connections'),
	JSON_VALUE(Priv, '$.max_statement_time'), JSON_VALUE(Priv, '$.password_lifetime'), JSON_VALUE(Priv, '$.account_locked'),
	JSON_VALUE(Priv, '$.default_role')
	FROM mysql.global_priv WHERE User = ? AND Host = '%'`, user).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the account of %s from mysql.global_priv (the superuser needs SELECT on the mysql database): %w", user, err)
	}
	str := func(i int, def string) string {
		if v[i].Valid {
			return v[i].String
		}
		return def
	}
	p := &accountProps{cipher: str(1, ""), issuer: str(2, ""), subject: str(3, ""), maxStatementTime: str(8, "0"),
		locked: str(10, "0") == "1" || str(10, "") == "true", defaultRole: str(11, "")}
	ints := []struct {
		dst *int64
		i   int
		def string
	}{{&p.maxQuestions, 4, "0"}, {&p.maxUpdates, 5, "0"}, {&p.maxConnections, 6, "0"}, {&p.maxUserConnections, 7, "0"}, {&p.passwordLifetime, 9, "-1"}}
	for _, f := range ints {
		n, err := strconv.ParseInt(str(f.i, f.def), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read the account of %s: unexpected value in mysql.global_priv: %w", user, err)
		}
		*f.dst = n
	}
	t, err := strconv.Atoi(str(0, "0"))
	if err != nil {
		return nil, fmt.Errorf("read the account of %s: unexpected ssl_type in mysql.global_priv: %w", user, err)
	}
	p.sslType = t
	if !decimalRE.MatchString(p.maxStatementTime) {
		return nil, fmt.Errorf("read the account of %s: unexpected max_statement_time %q in mysql.global_priv", user, p.maxStatementTime)
	}
	return p, nil
}

// alterStatement is the ALTER USER that gives acct p's TLS requirement, resource limits and
// password expiry policy. quote writes string literals.
func alterStatement(acct string, p *accountProps, quote func(string) (string, error)) (string, error) {
	var req string
	switch p.sslType {
	case sslNone:
		req = "NONE"
	case sslAny:
		req = "SSL"
	case sslX509:
		req = "X509"
	case sslSpecified:
		var parts []string
		for _, c := range []struct{ kw, v string }{{"ISSUER", p.issuer}, {"SUBJECT", p.subject}, {"CIPHER", p.cipher}} {
			if c.v == "" {
				continue
			}
			q, err := quote(c.v)
			if err != nil {
				return "", fmt.Errorf("REQUIRE %s: %w", c.kw, err)
			}
			parts = append(parts, c.kw+" "+q)
		}
		req = strings.Join(parts, " AND ")
		if req == "" {
			req = "SSL" // SPECIFIED with nothing specified still means TLS
		}
	default:
		return "", fmt.Errorf("unknown ssl_type %d in mysql.global_priv", p.sslType)
	}
	expire := "DEFAULT"
	switch {
	case p.passwordLifetime == 0:
		expire = "NEVER"
	case p.passwordLifetime > 0:
		expire = fmt.Sprintf("INTERVAL %d DAY", p.passwordLifetime)
	}
	return fmt.Sprintf("ALTER USER %s REQUIRE %s WITH MAX_QUERIES_PER_HOUR %d MAX_UPDATES_PER_HOUR %d MAX_CONNECTIONS_PER_HOUR %d MAX_USER_CONNECTIONS %d MAX_STATEMENT_TIME %s PASSWORD EXPIRE %s",
		acct, req, p.maxQuestions, p.maxUpdates, p.maxConnections, p.maxUserConnections, p.maxStatementTime, expire), nil
}

// quoteIdent writes a MariaDB identifier in backticks (any sql_mode).
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// stringQuoter returns the function that writes string literals for this session: a quote is
// doubled, and a backslash too unless sql_mode has NO_BACKSLASH_ESCAPES.
func stringQuoter(ctx context.Context, s session) (func(string) (string, error), error) {
	var mode string
	if err := s.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
		return nil, fmt.Errorf("read sql_mode: %w", err)
	}
	return quoter(slices.Contains(strings.Split(strings.ToUpper(mode), ","), "NO_BACKSLASH_ESCAPES")), nil
}

func quoter(noBackslashEscapes bool) func(string) (string, error) {
	return func(v string) (string, error) {
		if strings.ContainsRune(v, 0) {
			return "", errors.New("a NUL character in a string this function would write into SQL")
		}
		if !noBackslashEscapes {
			v = strings.ReplaceAll(v, `\`, `\\`)
		}
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	}
}

// privilege is one privilege on an object, on one of its columns when column is set (quoted).
type privilege struct{ name, column string }

// objectGrants are the privileges held on one object.
type objectGrants struct {
	privs       map[privilege]bool
	grantOption bool
}

// grantSet is everything granted to one account, independent of the account's name.
type grantSet struct {
	// objects is keyed by the ON clause as GRANT takes it: *.*, `db`.*, `db`.`t`, PROCEDURE `db`.`p`.
	objects map[string]*objectGrants
	// roles maps a granted role to whether it is WITH ADMIN OPTION.
	roles map[string]bool
	// proxies maps a proxied account, quoted, to whether it is WITH GRANT OPTION.
	proxies map[string]bool
	// defaultRole is the default role when the account holds it, else "" (a default role that is
	// no longer granted does nothing, and SET DEFAULT ROLE cannot set it); storedDefaultRole is
	// the one the account has, held or not.
	defaultRole, storedDefaultRole string
}

func (g *grantSet) object(on string) *objectGrants {
	o := g.objects[on]
	if o == nil {
		o = &objectGrants{privs: map[privilege]bool{}}
		g.objects[on] = o
	}
	return o
}

func (g *grantSet) add(on, name, column string) { g.object(on).privs[privilege{name, column}] = true }

// readGrants reads everything granted to 'user'@'%', which exists. defaultRole comes from its
// accountProps.
func readGrants(ctx context.Context, s session, user, defaultRole string, quote func(string) (string, error)) (*grantSet, error) {
	g := &grantSet{objects: map[string]*objectGrants{}, roles: map[string]bool{}, proxies: map[string]bool{}, storedDefaultRole: defaultRole}
	grantee := "'" + user + "'@'%'" // checkUsername: no quote in user names
	type query struct {
		what, sql string
		row       func(v []string) error
	}
	globalRows := 0
	queries := []query{
		{"global privileges", "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?", func(v []string) error {
			globalRows++
			o := g.object("*.*")
			if v[0] != "USAGE" {
				o.privs[privilege{name: v[0]}] = true
			}
			o.grantOption = o.grantOption || v[1] == "YES"
			return nil
		}},
		{"database privileges", "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?", func(v []string) error {
			o := g.object(quoteIdent(v[0]) + ".*")
			if v[1] != "USAGE" {
				o.privs[privilege{name: v[1]}] = true
			}
			o.grantOption = o.grantOption || v[2] == "YES"
			return nil
		}},
		{"table privileges", "SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ?", func(v []string) error {
			if v[2] != "USAGE" {
				g.add(quoteIdent(v[0])+"."+quoteIdent(v[1]), v[2], "")
			}
			return nil
		}},
		{"column privileges", "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = ?", func(v []string) error {
			g.add(quoteIdent(v[0])+"."+quoteIdent(v[1]), v[3], quoteIdent(v[2]))
			return nil
		}},
		{"table grant options", "SELECT Db, Table_name FROM mysql.tables_priv WHERE User = ? AND Host = '%' AND FIND_IN_SET('Grant', Table_priv) > 0", func(v []string) error {
			g.object(quoteIdent(v[0]) + "." + quoteIdent(v[1])).grantOption = true
			return nil
		}},
		{"routine privileges", "SELECT Db, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv WHERE User = ? AND Host = '%'", func(v []string) error {
			o := g.object(v[2] + " " + quoteIdent(v[0]) + "." + quoteIdent(v[1]))
			for _, p := range strings.Split(v[3], ",") {
				switch p = strings.ToUpper(p); p {
				case "":
				case "GRANT":
					o.grantOption = true
				default:
					o.privs[privilege{name: p}] = true
				}
			}
			return nil
		}},
		{"roles", "SELECT Role, Admin_option FROM mysql.roles_mapping WHERE User = ? AND Host = '%'", func(v []string) error {
			g.roles[v[0]] = v[1] == "Y"
			return nil
		}},
		{"proxy privileges", "SELECT Proxied_user, Proxied_host, With_grant FROM mysql.proxies_priv WHERE User = ? AND Host = '%'", func(v []string) error {
			u, err := quote(v[0])
			if err != nil {
				return err
			}
			h, err := quote(v[1])
			if err != nil {
				return err
			}
			g.proxies[u+"@"+h] = v[2] != "0"
			return nil
		}},
	}
	for _, q := range queries {
		arg := user
		if strings.Contains(q.sql, "GRANTEE") {
			arg = grantee
		}
		if err := eachRow(ctx, s, q.sql, arg, q.row); err != nil {
			return nil, fmt.Errorf("read the %s of %s: %w", q.what, user, err)
		}
	}
	if globalRows == 0 {
		// information_schema shows other accounts' privileges only to a user with SELECT on the
		// mysql database: without it every set would look empty and be "copied" as nothing.
		return nil, fmt.Errorf("read the privileges of %s: information_schema shows none, not even USAGE; the superuser needs SELECT on the mysql database", user)
	}
	for on, o := range g.objects {
		if len(o.privs) == 0 && !o.grantOption && on != "*.*" {
			delete(g.objects, on)
		}
	}
	if _, ok := g.roles[defaultRole]; ok {
		g.defaultRole = defaultRole
	}
	return g, nil
}

// eachRow runs q with arg and calls row with each row's columns as strings (NULL as "").
func eachRow(ctx context.Context, s session, q, arg string, row func([]string) error) error {
	rows, err := s.QueryContext(ctx, q, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			out[i] = v.String
		}
		if err := row(out); err != nil {
			return err
		}
	}
	return rows.Err()
}

// privList writes privileges as GRANT and REVOKE take them: SELECT, UPDATE (`a`, `b`).
func privList(privs []privilege) string {
	cols := map[string][]string{}
	whole := map[string]bool{}
	for _, p := range privs {
		if p.column == "" {
			whole[p.name] = true
		} else {
			cols[p.name] = append(cols[p.name], p.column)
		}
	}
	names := slices.Sorted(maps.Keys(whole))
	for n := range cols {
		if !whole[n] {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var items []string
	for _, n := range names {
		if whole[n] {
			items = append(items, n)
		}
		if c := cols[n]; len(c) > 0 {
			slices.Sort(c)
			items = append(items, n+" ("+strings.Join(c, ", ")+")")
		}
	}
	return strings.Join(items, ", ")
}

// missing returns the privileges of a that b lacks, sorted.
func missing(a, b *objectGrants) []privilege {
	var out []privilege
	for p := range a.privs {
		if b == nil || !b.privs[p] {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y privilege) int {
		if c := strings.Compare(x.name, y.name); c != 0 {
			return c
		}
		return strings.Compare(x.column, y.column)
	})
	return out
}

var emptyObject = &objectGrants{}

// revokeStatements returns what takes from an account holding have everything want lacks.
func revokeStatements(have, want *grantSet, acct string) []string {
	var out []string
	for _, role := range slices.Sorted(maps.Keys(have.roles)) {
		admin, ok := want.roles[role]
		switch {
		case !ok:
			out = append(out, "REVOKE "+quoteIdent(role)+" FROM "+acct)
		case have.roles[role] && !admin:
			out = append(out, "REVOKE ADMIN OPTION FOR "+quoteIdent(role)+" FROM "+acct)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(have.proxies)) {
		// A proxy grant loses its grant option only by being revoked; the grants put it back.
		if withGrant, ok := want.proxies[p]; !ok || (have.proxies[p] && !withGrant) {
			out = append(out, "REVOKE PROXY ON "+p+" FROM "+acct)
		}
	}
	for _, on := range slices.Sorted(maps.Keys(have.objects)) {
		h, w := have.objects[on], want.objects[on]
		if w == nil {
			w = emptyObject
		}
		if extra := missing(h, w); len(extra) > 0 {
			out = append(out, "REVOKE "+privList(extra)+" ON "+on+" FROM "+acct)
		}
		if h.grantOption && !w.grantOption {
			out = append(out, "REVOKE GRANT OPTION ON "+on+" FROM "+acct)
		}
	}
	return out
}

// grantStatements returns what gives an account holding have everything want has, its default
// role last (it must be granted first).
func grantStatements(have, want *grantSet, acct string) []string {
	var out []string
	for _, on := range slices.Sorted(maps.Keys(want.objects)) {
		w, h := want.objects[on], have.objects[on]
		if h == nil {
			h = emptyObject
		}
		add := missing(w, h)
		withGrant := w.grantOption && !h.grantOption
		if len(add) == 0 && !withGrant {
			continue
		}
		list := "USAGE"
		if len(add) > 0 {
			list = privList(add)
		}
		stmt := "GRANT " + list + " ON " + on + " TO " + acct
		if withGrant {
			stmt += " WITH GRANT OPTION"
		}
		out = append(out, stmt)
	}
	for _, role := range slices.Sorted(maps.Keys(want.roles)) {
		admin := want.roles[role]
		if hadAdmin, ok := have.roles[role]; !ok || (admin && !hadAdmin) {
			stmt := "GRANT " + quoteIdent(role) + " TO " + acct
			if admin {
				stmt += " WITH ADMIN OPTION"
			}
			out = append(out, stmt)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(want.proxies)) {
		withGrant := want.proxies[p]
		if hadGrant, ok := have.proxies[p]; !ok || (withGrant && !hadGrant) {
			stmt := "GRANT PROXY ON " + p + " TO " + acct
			if withGrant {
				stmt += " WITH GRANT OPTION"
			}
			out = append(out, stmt)
		}
	}
	if have.storedDefaultRole != want.defaultRole {
		role := "NONE"
		if want.defaultRole != "" {
			role = quoteIdent(want.defaultRole)
		}
		out = append(out, "SET DEFAULT ROLE "+role+" FOR "+acct)
	}
	return out
}

// MariaDB errors a copied grant can meet on objects the user holds privileges on but that no
// longer exist (GRANT, unlike REVOKE, needs the object).
const (
	erNoSuchTable    = 1146
	erSPDoesNotExist = 1305
)

// syncGrants makes the existing account 'to'@'%' hold exactly what 'from'@'%' holds: first the
// revokes of what from lacks, then the grants of what to lacks, then a check that nothing differs.
func syncGrants(ctx context.Context, s session, from, to, fromDefaultRole string, quote func(string) (string, error)) error {
	want, err := readGrants(ctx, s, from, fromDefaultRole, quote)
	if err != nil {
		return err
	}
	read := func() (*grantSet, error) {
		p, err := readProps(ctx, s, to)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("user %s disappeared while its grants were copied", to)
		}
		return readGrants(ctx, s, to, p.defaultRole, quote)
	}
	have, err := read()
	if err != nil {
		return err
	}
	acct := account(to)
	for _, stmt := range revokeStatements(have, want, acct) {
		if _, err := s.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("revoke from %s what %s lacks (%s): %w", to, from, stmt, err)
		}
	}
	// Read again: a table privilege's REVOKE also took the column privileges of the same name.
	if have, err = read(); err != nil {
		return err
	}
	for _, stmt := range grantStatements(have, want, acct) {
		if _, err := s.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("copy grant to %s (%s; the superuser must hold each privilege WITH GRANT OPTION and each role WITH ADMIN OPTION%s): %w",
				to, stmt, hint(err, from), err)
		}
	}
	if have, err = read(); err != nil {
		return err
	}
	if rest := append(revokeStatements(have, want, acct), grantStatements(have, want, acct)...); len(rest) > 0 {
		return fmt.Errorf("the grants of %s still differ from those of %s after copying; still needed: %s", to, from, strings.Join(rest, "; "))
	}
	return nil
}

// hint explains a GRANT failing on an object that no longer exists.
func hint(err error, from string) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == erNoSuchTable || me.Number == erSPDoesNotExist) {
		return "; " + from + " holds privileges on a table or routine that no longer exists: revoke them from it, or recreate the object"
	}
	return ""
}
