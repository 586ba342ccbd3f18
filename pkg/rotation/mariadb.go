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

func (rt *Rotator) open(s *dbsecret.Secret) (*sql.DB, error) { return open(s, rt.cfg.TLS) }

// open returns a pool of one connection as s's user, protected by t.
func open(s *dbsecret.Secret, t dbsecret.TLS) (*sql.DB, error) {
	c, err := s.Connector(t)
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

// withPassword runs stmt on session s with the session variable @strongroom_pw set to password.
// MariaDB cannot prepare SET PASSWORD or ALTER USER, so statements build the password in with
// QUOTE(@strongroom_pw) inside EXECUTE IMMEDIATE: the password travels only as a prepared-statement
// parameter and never appears in SQL text a server error could quote.
func withPassword(ctx context.Context, s session, password, stmt string) error {
	if _, err := s.ExecContext(ctx, "SET @strongroom_pw = ?", password); err != nil {
		return fmt.Errorf("pass the new password: %w", err)
	}
	defer s.ExecContext(context.WithoutCancel(ctx), "SET @strongroom_pw = NULL")
	_, err := s.ExecContext(ctx, stmt)
	return err
}

// setOwnPassword logs in as s's user and sets that user's password.
func (rt *Rotator) setOwnPassword(ctx context.Context, s *dbsecret.Secret, password string) error {
	db, err := rt.open(s)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return withPassword(ctx, conn, password, "EXECUTE IMMEDIATE CONCAT('SET PASSWORD = PASSWORD(', QUOTE(@strongroom_pw), ')')")
}

// cloneUser logs in as the superuser and makes 'to'@'%' a copy of 'from'@'%' with the given
// password: the same TLS requirement, resource limits, password expiry policy and grants, with
// whatever 'to' holds beyond them revoked (see account.go). What it does not copy: the password
// (each user has its own), an expired password (to gets a new one), and the account lock (to ends
// unlocked; a locked from is refused). Re-running it is harmless. It returns from's properties.
func (rt *Rotator) cloneUser(ctx context.Context, master *dbsecret.Secret, from, to, password string) (*accountProps, error) {
	admin := master.Clone()
	admin.DBName = "" // the superuser's own default database is irrelevant and may be absent
	db, err := rt.open(admin)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// One session: the string quoting follows its sql_mode, and the password its variable.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("log in at %s: %w", admin.Endpoint(), err)
	}
	defer conn.Close()
	src, err := readProps(ctx, conn, from)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, lambdaerr.Terminal(fmt.Sprintf("user %s (AWSCURRENT) does not exist on the database, so there are no grants to copy; "+
			"recreate it with the AWSCURRENT password, or put a working user in AWSCURRENT", from), nil)
	}
	if src.locked {
		// Rotation would otherwise unlock the copy and make it AWSCURRENT: the application of an
		// account an operator locked would log in again.
		return nil, lambdaerr.Terminal(fmt.Sprintf("user %s (AWSCURRENT) is locked (ACCOUNT LOCK); rotating it would give its application a working login as %s: "+
			"unlock it (ALTER USER ... ACCOUNT UNLOCK) to rotate again", from, to), nil)
	}
	quote, err := stringQuoter(ctx, conn)
	if err != nil {
		return nil, err
	}
	dst, err := readProps(ctx, conn, to)
	if err != nil {
		return nil, err
	}
	quoted := strings.ReplaceAll(account(to), "'", "''")
	if dst == nil {
		// Created locked and with the new password: never an account without a password, and
		// never one that logs in before it has its grants (setSecret's "already done?" check
		// treats a locked account as not done).
		if err := withPassword(ctx, conn, password, "EXECUTE IMMEDIATE CONCAT('CREATE USER "+quoted+" IDENTIFIED BY ', QUOTE(@strongroom_pw), ' ACCOUNT LOCK')"); err != nil {
			return nil, fmt.Errorf("create user %s: %w", to, err)
		}
	}
	// The TLS requirement first: an existing 'to' may still take logins with its old password.
	alter, err := alterStatement(account(to), src, quote)
	if err != nil {
		return nil, fmt.Errorf("copy the account of %s to %s: %w", from, to, err)
	}
	if _, err := conn.ExecContext(ctx, alter); err != nil {
		return nil, fmt.Errorf("copy the TLS requirement, resource limits and password expiry of %s to %s (%s): %w", from, to, alter, err)
	}
	if err := syncGrants(ctx, conn, from, to, src.defaultRole, quote); err != nil {
		return nil, err
	}
	// The password last: until it is set, the AWSPENDING credentials do not log in, so a crash
	// before this point makes the retried setSecret do the whole job again.
	if err := withPassword(ctx, conn, password, "EXECUTE IMMEDIATE CONCAT('SET PASSWORD FOR "+quoted+" = PASSWORD(', QUOTE(@strongroom_pw), ')')"); err != nil {
		return nil, fmt.Errorf("set the password of %s: %w", to, err)
	}
	if _, err := conn.ExecContext(ctx, "ALTER USER "+account(to)+" ACCOUNT UNLOCK"); err != nil {
		return nil, fmt.Errorf("unlock user %s: %w", to, err)
	}
	return src, nil
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
