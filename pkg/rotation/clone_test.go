package rotation_test

import (
	"database/sql"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/rotation"
)

// The alternate user (<user>_clone) must end every setSecret as the AWSCURRENT user is: the same
// grants (revoked ones revoked), the same TLS requirement, the same resource limits and password
// expiry policy. These tests change the AWSCURRENT account between rotations, as an operator
// would, and compare both accounts on the real server.

// rootQuery runs a query as root and returns every row, each column as a string.
func rootQuery(t *testing.T, q string, args ...any) [][]string {
	t.Helper()
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rows, err := root.QueryContext(ctx(t), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var passwordHash = regexp.MustCompile(` IDENTIFIED BY PASSWORD '[^']*'`)

// normalise replaces the account name in a line of SHOW GRANTS or SHOW CREATE USER by USER and
// cuts the password hash (each user has its own password).
func normalise(line, name string) string {
	line = strings.ReplaceAll(line, "`"+name+"`@`%`", "USER")
	return passwordHash.ReplaceAllString(line, "")
}

// showGrants is SHOW GRANTS for the user, normalised and sorted (the server's line order is not
// part of the grants).
func showGrants(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, r := range rootQuery(t, "SHOW GRANTS FOR '"+name+"'@'%'") {
		out = append(out, normalise(r[0], name))
	}
	slices.Sort(out)
	return out
}

// storedGrants returns the privileges the grant tables hold for the user that SHOW GRANTS does not
// print: column privileges under a table privilege of the same name.
func storedGrants(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, r := range rootQuery(t, "SELECT Db, Table_name, Column_name, Column_priv FROM mysql.columns_priv WHERE User = ? AND Host = '%' ORDER BY 1, 2, 3", name) {
		out = append(out, strings.Join(r, " "))
	}
	for _, r := range rootQuery(t, "SELECT Db, Table_name, Table_priv, Column_priv FROM mysql.tables_priv WHERE User = ? AND Host = '%' ORDER BY 1, 2", name) {
		out = append(out, strings.Join(r, " "))
	}
	return out
}

// createUserLine is SHOW CREATE USER for the user (one or two statements), normalised, without
// the parts rotation owns: the password (each user has its own), whether it has expired, and the
// account lock.
func createUserLine(t *testing.T, name string) string {
	t.Helper()
	var parts []string
	for _, r := range rootQuery(t, "SHOW CREATE USER '"+name+"'@'%'") {
		line := strings.ReplaceAll(normalise(r[0], name), " ACCOUNT LOCK", "")
		parts = append(parts, strings.TrimSuffix(line, " PASSWORD EXPIRE"))
	}
	return strings.Join(parts, "; ")
}

// sameAccount reports (t.Errorf) every difference between the two users' grants and account
// properties.
func sameAccount(t *testing.T, what, got, want string) {
	t.Helper()
	if g, w := createUserLine(t, got), createUserLine(t, want); g != w {
		t.Errorf("%s: SHOW CREATE USER differs:\n  %s: %s\n  %s: %s", what, got, g, want, w)
	}
	g, w := showGrants(t, got), showGrants(t, want)
	if !slices.Equal(g, w) {
		var extra, missing []string
		for _, l := range g {
			if !slices.Contains(w, l) {
				extra = append(extra, l)
			}
		}
		for _, l := range w {
			if !slices.Contains(g, l) {
				missing = append(missing, l)
			}
		}
		t.Errorf("%s: SHOW GRANTS differs: %s keeps %q and lacks %q (%s has %q)", what, got, extra, missing, want, w)
	}
	if g, w := storedGrants(t, got), storedGrants(t, want); !slices.Equal(g, w) {
		t.Errorf("%s: stored table and column privileges differ:\n  %s: %q\n  %s: %q", what, got, g, want, w)
	}
}

// plainLogin logs in over TCP without TLS.
func plainLogin(t *testing.T, s *dbsecret.Secret) error {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = s.Username, s.Password, "tcp", db.Addr(), s.DBName
	cfg.Timeout = 5 * time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(ctx(t))
	if err != nil {
		return err
	}
	return conn.Close()
}

// asRoot runs statements as root, failing the test on the first error.
func asRoot(t *testing.T, stmts ...string) {
	t.Helper()
	if err := db.Exec(ctx(t), stmts...); err != nil {
		t.Fatal(err)
	}
}

// pendingOrCurrent returns the credentials of the version the last rotation worked on: AWSPENDING
// when the rotation stopped before finishSecret, else AWSCURRENT.
func (h *harness) pendingOrCurrent(t *testing.T, arn string) *dbsecret.Secret {
	t.Helper()
	if h.pendingVersion(t, arn) != "" {
		s, _ := h.value(t, arn, "AWSPENDING")
		return s
	}
	s, _ := h.value(t, arn, "AWSCURRENT")
	return s
}

// TestCloneMirrorsTLSRequirement: the clone requires what the user requires. REQUIRE SSL rotates
// (the function logs in over TLS) and both users are refused without TLS; the requirement is also
// dropped from the clone when dropped from the user. A requirement of a client certificate
// (X509, ISSUER, SUBJECT) reaches the clone too, so testSecret is refused (the function presents
// no client certificate) and AWSCURRENT stays on the user: a weaker clone must never be made
// current.
func TestCloneMirrorsTLSRequirement(t *testing.T) {
	t.Run("REQUIRE SSL", func(t *testing.T) {
		h := newHarness(t)
		u, arn := h.newUserSecret(t, true)
		clone := u.name + "_clone"
		asRoot(t, "ALTER USER '"+u.name+"'@'%' REQUIRE SSL")
		h.mustRotate(t, arn)
		cur, _ := h.value(t, arn, "AWSCURRENT")
		prev, _ := h.value(t, arn, "AWSPREVIOUS")
		if cur.Username != clone {
			t.Fatalf("AWSCURRENT user %s, want %s", cur.Username, clone)
		}
		sameAccount(t, "after the first rotation", clone, u.name)
		if !strings.Contains(createUserLine(t, clone), "REQUIRE SSL") {
			t.Errorf("the clone: %s, want REQUIRE SSL", createUserLine(t, clone))
		}
		for _, s := range []*dbsecret.Secret{cur, prev} {
			if err := plainLogin(t, s); !dbsecret.IsAccessDenied(err) {
				t.Errorf("%s without TLS: got %v, want access denied", s.Username, err)
			}
			logsIn(t, s, s.Username+" over TLS")
		}

		// The requirement dropped from the current user (the clone) is dropped from the user.
		asRoot(t, "ALTER USER '"+clone+"'@'%' REQUIRE NONE")
		h.mustRotate(t, arn)
		cur, _ = h.value(t, arn, "AWSCURRENT")
		sameAccount(t, "after REQUIRE NONE and the second rotation", u.name, clone)
		if err := plainLogin(t, cur); err != nil {
			t.Errorf("%s without TLS after REQUIRE NONE: %v", cur.Username, err)
		}
	})

	for _, req := range []string{
		"X509",
		// A quote in the subject: the clone's statement must quote it.
		"ISSUER '/O=Strongroom tests/CN=mariadbtest CA' AND SUBJECT '/O=O''Reilly/CN=app' AND CIPHER 'ECDHE-ECDSA-AES256-GCM-SHA384'",
	} {
		t.Run("REQUIRE "+strings.Fields(req)[0], func(t *testing.T) {
			h := newHarness(t)
			u, arn := h.newUserSecret(t, true)
			clone := u.name + "_clone"
			asRoot(t, "ALTER USER '"+u.name+"'@'%' REQUIRE "+req)
			fnErr, _ := h.rotate(t, arn)
			t.Logf("function error: %s", fnErr)
			sameAccount(t, "after the rotation", clone, u.name)
			pending := h.pendingOrCurrent(t, arn)
			if pending.Username != clone {
				t.Fatalf("rotated user %s, want %s", pending.Username, clone)
			}
			if err := db.Login(ctx(t), clone, pending.Password, pending.DBName); !dbsecret.IsAccessDenied(err) {
				t.Errorf("the clone over TLS without a client certificate: got %v, want access denied", err)
			}
			if err := plainLogin(t, pending); !dbsecret.IsAccessDenied(err) {
				t.Errorf("the clone without TLS: got %v, want access denied", err)
			}
			if !strings.HasPrefix(fnErr, rotation.StepTest+": ") || !strings.Contains(fnErr, "Access denied") {
				t.Errorf("function error %q, want testSecret refused", fnErr)
			}
			if cur, _ := h.value(t, arn, "AWSCURRENT"); cur.Username != u.name {
				t.Errorf("AWSCURRENT moved to %s, a user this function cannot log in as", cur.Username)
			}
		})
	}
}

// TestCloneEndsWithExactlyTheUsersGrants changes the grants of the AWSCURRENT user between
// rotations, revoking and adding at every level (global, database, table, column, routine, grant
// option, role, admin option, default role, proxy): after each rotation the new AWSCURRENT user
// has exactly the grants of the previous one.
func TestCloneEndsWithExactlyTheUsersGrants(t *testing.T) {
	h := newHarness(t)
	admin := newAdmin(t)
	master := h.createSecret(t, admin.secret(""))
	u := newUser(t) // SELECT, INSERT, UPDATE ON appdb.*, PROCESS ON *.*
	clone := u.name + "_clone"
	other := db.UniqueName("otherdb")
	r1, r2, r3 := db.UniqueName("role"), db.UniqueName("role"), db.UniqueName("role")
	d := "`" + u.dbname + "`"
	acct := func(n string) string { return "'" + n + "'@'%'" }
	if err := db.CreateDatabase(ctx(t), other); err != nil {
		t.Fatal(err)
	}
	asRoot(t,
		"CREATE TABLE "+d+".t2 (a INT, b INT, c INT)",
		"CREATE PROCEDURE "+d+".p() SELECT 1",
		"CREATE FUNCTION "+d+".f() RETURNS INT RETURN 1",
		"CREATE ROLE `"+r1+"`", "CREATE ROLE `"+r2+"`", "CREATE ROLE `"+r3+"`",
		"GRANT `"+r1+"` TO "+acct(admin.name)+" WITH ADMIN OPTION",
		"GRANT `"+r2+"` TO "+acct(admin.name)+" WITH ADMIN OPTION",
		"GRANT `"+r3+"` TO "+acct(admin.name)+" WITH ADMIN OPTION",
		"GRANT SELECT ON `"+other+"`.* TO `"+r1+"`",
		"GRANT RELOAD ON *.* TO "+acct(u.name)+" WITH GRANT OPTION",
		"GRANT DELETE ON "+d+".t TO "+acct(u.name)+" WITH GRANT OPTION",
		"GRANT UPDATE (v), SELECT (id) ON "+d+".t TO "+acct(u.name),
		"GRANT ALL PRIVILEGES ON "+d+".t2 TO "+acct(u.name),
		"GRANT SELECT (a) ON "+d+".t2 TO "+acct(u.name),
		"GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE "+d+".p TO "+acct(u.name),
		"GRANT EXECUTE ON FUNCTION "+d+".f TO "+acct(u.name)+" WITH GRANT OPTION",
		"GRANT `"+r1+"` TO "+acct(u.name)+" WITH ADMIN OPTION",
		"GRANT `"+r2+"` TO "+acct(u.name),
		"SET DEFAULT ROLE `"+r1+"` FOR "+acct(u.name),
		"GRANT PROXY ON 'proxied'@'%' TO "+acct(admin.name)+" WITH GRANT OPTION",
		"GRANT PROXY ON 'proxied'@'%' TO "+acct(u.name)+" WITH GRANT OPTION",
	)
	arn := h.createSecret(t, u.secret(master))

	h.mustRotate(t, arn) // the clone is made from the user
	sameAccount(t, "round 1 (a new clone)", clone, u.name)

	// Revoke from the clone, now AWSCURRENT, at every level; add a few grants.
	asRoot(t,
		"REVOKE PROCESS ON *.* FROM "+acct(clone),
		"REVOKE GRANT OPTION ON *.* FROM "+acct(clone),
		"REVOKE INSERT ON "+d+".* FROM "+acct(clone),
		"REVOKE GRANT OPTION ON "+d+".t FROM "+acct(clone),
		"REVOKE UPDATE (v) ON "+d+".t FROM "+acct(clone),
		// ALL PRIVILEGES down to a subset.
		"REVOKE ALL PRIVILEGES ON "+d+".t2 FROM "+acct(clone),
		"GRANT SELECT, INSERT ON "+d+".t2 TO "+acct(clone),
		"GRANT SELECT (a) ON "+d+".t2 TO "+acct(clone),
		"REVOKE ALTER ROUTINE ON PROCEDURE "+d+".p FROM "+acct(clone),
		"REVOKE GRANT OPTION ON FUNCTION "+d+".f FROM "+acct(clone),
		"REVOKE `"+r2+"` FROM "+acct(clone),
		"REVOKE ADMIN OPTION FOR `"+r1+"` FROM "+acct(clone),
		"SET DEFAULT ROLE NONE FOR "+acct(clone),
		"REVOKE PROXY ON 'proxied'@'%' FROM "+acct(clone),
		"GRANT PROXY ON 'proxied'@'%' TO "+acct(clone),
		// Additions.
		"GRANT SELECT ON `"+other+"`.* TO "+acct(clone)+" WITH GRANT OPTION",
		"GRANT INSERT (v) ON "+d+".t TO "+acct(clone),
		"GRANT `"+r3+"` TO "+acct(clone),
	)
	h.mustRotate(t, arn) // the user is made from the clone
	if cur, _ := h.value(t, arn, "AWSCURRENT"); cur.Username != u.name {
		t.Fatalf("AWSCURRENT user %s, want %s", cur.Username, u.name)
	}
	sameAccount(t, "round 2 (grants revoked from the clone)", u.name, clone)

	// Revoke from the user, now AWSCURRENT; the table privilege goes while the column privilege of
	// the same name stays, and a default role is set again.
	asRoot(t,
		"REVOKE SELECT, INSERT ON "+d+".t2 FROM "+acct(u.name),
		"GRANT SELECT (b) ON "+d+".t2 TO "+acct(u.name),
		"REVOKE `"+r1+"` FROM "+acct(u.name),
		"REVOKE EXECUTE ON FUNCTION "+d+".f FROM "+acct(u.name),
		"REVOKE SELECT, UPDATE ON "+d+".* FROM "+acct(u.name),
		"SET DEFAULT ROLE `"+r3+"` FOR "+acct(u.name),
		"REVOKE PROXY ON 'proxied'@'%' FROM "+acct(u.name),
	)
	h.mustRotate(t, arn) // the clone is made from the user again
	sameAccount(t, "round 3 (grants revoked from the user)", clone, u.name)
	for _, s := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
		cur, _ := h.value(t, arn, s)
		logsIn(t, cur, s)
	}
	h.scanForSecrets(t, u.password, admin.password)
}

// TestCloneMirrorsAccountProperties: resource limits and the password expiry policy follow the
// user, limits dropped from the user are dropped from the clone; a password the user let expire
// is not copied (the clone has a new one); a locked user is not rotated, so rotation never hands
// out a working login for an account an operator locked.
func TestCloneMirrorsAccountProperties(t *testing.T) {
	t.Run("limits and expiry policy", func(t *testing.T) {
		h := newHarness(t)
		u, arn := h.newUserSecret(t, true)
		clone := u.name + "_clone"
		asRoot(t, "ALTER USER '"+u.name+"'@'%' WITH MAX_QUERIES_PER_HOUR 1000 MAX_UPDATES_PER_HOUR 900 MAX_CONNECTIONS_PER_HOUR 800 "+
			"MAX_USER_CONNECTIONS 7 MAX_STATEMENT_TIME 2.5 PASSWORD EXPIRE INTERVAL 90 DAY")
		h.mustRotate(t, arn)
		sameAccount(t, "round 1", clone, u.name)

		asRoot(t, "ALTER USER '"+clone+"'@'%' WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 "+
			"MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 0 PASSWORD EXPIRE NEVER")
		h.mustRotate(t, arn)
		sameAccount(t, "round 2 (limits lowered on the clone)", u.name, clone)

		asRoot(t, "ALTER USER '"+u.name+"'@'%' WITH MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE DEFAULT")
		h.mustRotate(t, arn)
		sameAccount(t, "round 3 (limits dropped on the user)", clone, u.name)
		if line := createUserLine(t, clone); strings.Contains(line, " WITH ") || strings.Contains(line, "PASSWORD EXPIRE") {
			t.Errorf("the clone: %s, want no limits and the default expiry policy", line)
		}
	})

	t.Run("expired password", func(t *testing.T) {
		h := newHarness(t)
		u, arn := h.newUserSecret(t, true)
		asRoot(t, "ALTER USER '"+u.name+"'@'%' PASSWORD EXPIRE")
		h.mustRotate(t, arn)
		cur, _ := h.value(t, arn, "AWSCURRENT")
		logsIn(t, cur, "the clone of a user whose password expired")
	})

	t.Run("locked user", func(t *testing.T) {
		h := newHarness(t)
		u, arn := h.newUserSecret(t, true)
		asRoot(t, "ALTER USER '"+u.name+"'@'%' ACCOUNT LOCK")
		fnErr, _ := h.rotate(t, arn)
		t.Logf("function error: %s", fnErr)
		if !strings.HasPrefix(fnErr, rotation.StepSet+": ") || !strings.Contains(fnErr, "locked") {
			t.Errorf("function error %q, want setSecret refusing a locked user", fnErr)
		}
		if cur, _ := h.value(t, arn, "AWSCURRENT"); cur.Username != u.name {
			t.Errorf("AWSCURRENT moved to %s: the locked user's application has a working login again", cur.Username)
		}
		if n := rootQuery(t, "SELECT COUNT(*) FROM mysql.user WHERE User = ?", u.name+"_clone")[0][0]; n != "0" {
			t.Errorf("the clone of a locked user was created")
		}
	})
}

// TestCloneNeedsToSeeTheGrants: a superuser that can read the grant tables it is given but not
// the mysql database sees no account's privileges in information_schema; the copy must stop
// rather than take that for "no grants" and revoke everything from the clone.
func TestCloneNeedsToSeeTheGrants(t *testing.T) {
	h := newHarness(t)
	u := newUser(t)
	admin := user{name: db.UniqueName("admin"), password: "Adm-" + db.UniqueName("pw") + "-Qz7wE2"}
	grants := []string{"CREATE USER ON *.*", "PROCESS ON *.* WITH GRANT OPTION", "SELECT, INSERT, UPDATE ON `" + u.dbname + "`.* WITH GRANT OPTION"}
	for _, tbl := range []string{"global_priv", "tables_priv", "procs_priv", "roles_mapping", "proxies_priv"} {
		grants = append(grants, "SELECT ON mysql."+tbl)
	}
	if err := db.CreateUser(ctx(t), admin.name, admin.password, grants...); err != nil {
		t.Fatal(err)
	}
	master := h.createSecret(t, admin.secret(""))
	clone := u.name + "_clone"
	// A clone that already holds the user's grants, as after an earlier rotation.
	asRoot(t, "CREATE USER '"+clone+"'@'%' ACCOUNT LOCK",
		"GRANT PROCESS ON *.* TO '"+clone+"'@'%'",
		"GRANT SELECT, INSERT, UPDATE ON `"+u.dbname+"`.* TO '"+clone+"'@'%'")
	before := showGrants(t, clone)
	arn := h.createSecret(t, u.secret(master))
	fnErr, _ := h.rotate(t, arn)
	t.Logf("function error: %s", fnErr)
	if !strings.HasPrefix(fnErr, rotation.StepSet+": ") || !strings.Contains(fnErr, "SELECT on the mysql database") {
		t.Errorf("function error %q, want setSecret asking for SELECT on the mysql database", fnErr)
	}
	if got := showGrants(t, clone); !slices.Equal(got, before) {
		t.Errorf("the clone's grants changed from %q to %q", before, got)
	}
}
