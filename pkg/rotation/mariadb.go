package rotation

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// cloneSuffix is appended to the user name for the alternate user, as the AWS templates do.
const cloneSuffix = "_clone"

// maxUsernameLength is MariaDB's limit on user names.
const maxUsernameLength = 80

// alternate returns the other user of an alternating pair: app <-> app_clone.
func alternate(username string) string {
	if base, ok := strings.CutSuffix(username, cloneSuffix); ok {
		return base
	}
	return username + cloneSuffix
}

// checkUsername refuses names this package would have to escape: accounts are written into SQL
// text (MariaDB cannot take them as parameters), so only names that need no escaping are allowed.
func checkUsername(u string) error {
	if u == "" || utf8.RuneCountInString(u) > maxUsernameLength {
		return &dbsecret.FieldError{Field: "username", Problem: fmt.Sprintf("%q must be 1 to %d characters (MariaDB's limit, including the %q suffix of the alternate user)", u, maxUsernameLength, cloneSuffix)}
	}
	if i := strings.IndexFunc(u, func(c rune) bool {
		return c == '\'' || c == '\\' || c == '`' || c == '"' || c == '%' || unicode.IsControl(c)
	}); i >= 0 {
		return &dbsecret.FieldError{Field: "username", Problem: fmt.Sprintf("%q has a quote, backslash, %% or control character; rotation supports names without them", u)}
	}
	return nil
}

// account is the quoted MariaDB account of a rotated user. RDS users are 'name'@'%'.
func account(user string) string { return "'" + user + "'@'%'" }

func (rt *Rotator) open(s *dbsecret.Secret) (*sql.DB, error) {
	c, err := s.Connector(rt.cfg.TLS)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	return db, nil
}

// login opens a session as s's user to its database.
func (rt *Rotator) login(ctx context.Context, s *dbsecret.Secret) error {
	db, err := rt.open(s)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// check logs in and runs a query, as the templates' testSecret does.
func (rt *Rotator) check(ctx context.Context, s *dbsecret.Secret) error {
	db, err := rt.open(s)
	if err != nil {
		return err
	}
	defer db.Close()
	var now string
	return db.QueryRowContext(ctx, "SELECT NOW()").Scan(&now)
}

// withPassword runs stmt on one connection with the session variable @strongroom_pw set to
// password. MariaDB cannot prepare SET PASSWORD or ALTER USER, so statements build the password
// in with QUOTE(@strongroom_pw) inside EXECUTE IMMEDIATE: the password travels only as a
// prepared-statement parameter and never appears in SQL text a server error could quote.
func withPassword(ctx context.Context, db *sql.DB, password, stmt string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET @strongroom_pw = ?", password); err != nil {
		return fmt.Errorf("pass the new password: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET @strongroom_pw = NULL")
	_, err = conn.ExecContext(ctx, stmt)
	return err
}

// setOwnPassword logs in as s's user and sets that user's password.
func (rt *Rotator) setOwnPassword(ctx context.Context, s *dbsecret.Secret, password string) error {
	db, err := rt.open(s)
	if err != nil {
		return err
	}
	defer db.Close()
	return withPassword(ctx, db, password, "EXECUTE IMMEDIATE CONCAT('SET PASSWORD = PASSWORD(', QUOTE(@strongroom_pw), ')')")
}

// cloneUser logs in as the superuser and makes 'to'@'%' exist with every grant of 'from'@'%' and the
// given password. Re-running it is harmless: an existing user is kept, grants are additive.
func (rt *Rotator) cloneUser(ctx context.Context, master *dbsecret.Secret, from, to, password string) error {
	admin := master.Clone()
	admin.DBName = "" // the superuser's own default database is irrelevant and may be absent
	db, err := rt.open(admin)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("log in at %s: %w", admin.Endpoint(), err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '%'", from).Scan(&n); err != nil {
		return fmt.Errorf("look up user %s: %w", from, err)
	}
	if n == 0 {
		return lambdaerr.Terminal(fmt.Sprintf("user %s (AWSCURRENT) does not exist on the database, so there are no grants to copy; "+
			"recreate it with the AWSCURRENT password, or put a working user in AWSCURRENT", from), nil)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '%'", to).Scan(&n); err != nil {
		return fmt.Errorf("look up user %s: %w", to, err)
	}
	quoted := strings.ReplaceAll(account(to), "'", "''")
	if n == 0 {
		// Created locked and with the new password: never an account without a password, and
		// never one that logs in before it has its grants (setSecret's "already done?" check
		// treats a locked account as not done).
		if err := withPassword(ctx, db, password, "EXECUTE IMMEDIATE CONCAT('CREATE USER "+quoted+" IDENTIFIED BY ', QUOTE(@strongroom_pw), ' ACCOUNT LOCK')"); err != nil {
			return fmt.Errorf("create user %s: %w", to, err)
		}
	}
	grants, err := showGrants(ctx, db, from)
	if err != nil {
		return err
	}
	for _, g := range grants {
		stmt, ok := retarget(g, from, to)
		if !ok {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			// The statement holds no password: retarget drops IDENTIFIED BY clauses.
			return fmt.Errorf("copy grant to %s (%s; the superuser must hold each privilege WITH GRANT OPTION and each role WITH ADMIN OPTION): %w", to, stmt, err)
		}
	}
	// The password last: until it is set, the AWSPENDING credentials do not log in, so a crash
	// before this point makes the retried setSecret do the whole job again.
	if err := withPassword(ctx, db, password, "EXECUTE IMMEDIATE CONCAT('SET PASSWORD FOR "+quoted+" = PASSWORD(', QUOTE(@strongroom_pw), ')')"); err != nil {
		return fmt.Errorf("set the password of %s: %w", to, err)
	}
	if _, err := db.ExecContext(ctx, "ALTER USER "+account(to)+" ACCOUNT UNLOCK"); err != nil {
		return fmt.Errorf("unlock user %s: %w", to, err)
	}
	return nil
}

func showGrants(ctx context.Context, db *sql.DB, user string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR "+account(user))
	if err != nil {
		return nil, fmt.Errorf("read the grants of %s: %w", user, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("read the grants of %s: %w", user, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the grants of %s: %w", user, err)
	}
	return out, nil
}

// retarget rewrites one line of SHOW GRANTS for 'from'@'%' into the same grant to 'to'@'%'. It keeps
// WITH GRANT OPTION / WITH ADMIN OPTION and resource limits, drops IDENTIFIED BY PASSWORD '<hash>'
// (the alternate user gets its own password), and replays SET DEFAULT ROLE. ok is false for lines
// that are not grants.
func retarget(line, from, to string) (string, bool) {
	target := "`" + from + "`@`%`"
	if rest, ok := strings.CutPrefix(line, "SET DEFAULT ROLE "); ok {
		role, _, found := strings.Cut(rest, " FOR ")
		if !found {
			return "", false
		}
		return "SET DEFAULT ROLE " + role + " FOR " + account(to), true
	}
	if !strings.HasPrefix(line, "GRANT ") {
		return "", false
	}
	i := strings.LastIndex(line, " TO "+target)
	if i < 0 {
		return "", false
	}
	head, tail := line[:i], line[i+len(" TO "+target):]
	suffix := ""
	if j := strings.Index(tail, " WITH "); j >= 0 {
		suffix = tail[j:]
	}
	return head + " TO " + account(to) + suffix, true
}

// MariaDB error numbers that mean "these credentials do not (yet) give a session": wrong password
// (1045), no access to the database (1044, an alternate user still without its grants) and a
// locked account (4151, an alternate user still being set up).
const (
	erDBAccessDenied = 1044
	erAccountLocked  = 4151
)

// refused reports whether err is the database refusing a login rather than failing to answer.
func refused(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == dbsecret.ErAccessDenied || me.Number == erDBAccessDenied || me.Number == erAccountLocked)
}

// classifyDB marks database failures: refused credentials and untrusted certificates are terminal
// (a retry cannot fix them), network failures retryable. Others keep Classify's rules.
func classifyDB(err error) error {
	var (
		uae  x509.UnknownAuthorityError
		hne  x509.HostnameError
		cie  x509.CertificateInvalidError
		nerr net.Error
	)
	switch {
	case err == nil:
		return nil
	case refused(err):
		return lambdaerr.Terminal("login refused", err)
	case errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		return lambdaerr.Terminal("TLS: the database's certificate is not trusted by the configured CA bundle", err)
	case errors.As(err, &nerr):
		return lambdaerr.Retryable("database unreachable", err)
	}
	return err
}
