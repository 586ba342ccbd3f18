// Package mariadbtest starts a real MariaDB server for tests: a fresh data directory in a temporary
// directory, a free loopback port, a Unix socket for the root account, and TLS with a certificate
// issued by a throw-away CA that tests trust (or, to prove verification, do not trust).
//
// One server per test binary is the intended use (see Main): mariadb-install-db plus start-up takes
// about a second, and tests isolate themselves with their own users and databases.
//
// A missing MariaDB binary is a failure, never a skip: `make deps` installs Debian's mariadb-server.
package mariadbtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Options change how the server starts.
type Options struct {
	// RequireSecureTransport starts the server with require_secure_transport=ON, so TCP clients
	// without TLS are refused (as an RDS parameter group can enforce).
	RequireSecureTransport bool
	// StartTimeout bounds install plus start-up; 0 means 60 s.
	StartTimeout time.Duration
}

// Server is a running mariadbd owned by the test process.
type Server struct {
	// Host is the loopback address the server listens on, "127.0.0.1"; the certificate covers it.
	Host string
	// Port is the TCP port.
	Port int
	// CA signed the server certificate; CAFile is its PEM bundle on disk.
	CA     *CA
	CAFile string
	// Dir holds the data directory, the socket, the certificates and the error log.
	Dir string

	socket  string
	errLog  string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped atomic.Bool
	seq     atomic.Int64
}

// Binaries returns the paths of mariadbd and mariadb-install-db, or an error saying how to install them.
func Binaries() (server, installDB string, err error) {
	server = find("/usr/sbin/mariadbd", "/usr/sbin/mysqld", "mariadbd", "mysqld")
	installDB = find("/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db", "mariadb-install-db", "mysql_install_db")
	if server == "" || installDB == "" {
		return "", "", errors.New("mariadbtest: mariadbd or mariadb-install-db not found; install Debian's mariadb-server (run `make deps` as root)")
	}
	return server, installDB, nil
}

func find(candidates ...string) string {
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// Start installs a fresh data directory and starts mariadbd on a free loopback port with TLS.
// The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	server, installDB, err := Binaries()
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	// A short path: the Unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "mariadbtest-")
	if err != nil {
		return nil, fmt.Errorf("mariadbtest: create temp dir: %w", err)
	}
	s := &Server{Host: "127.0.0.1", Dir: dir, CAFile: filepath.Join(dir, "ca.pem"),
		socket: filepath.Join(dir, "mysqld.sock"), errLog: filepath.Join(dir, "error.log")}
	if err := s.writeCerts(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Small InnoDB files keep the data directory around 25 MB and the install under a second.
	// A private tmpdir: servers of test binaries running in parallel otherwise share /tmp and
	// collide on the bootstrap's temporary table names (seen as "Error on delete of
	// '/tmp/#sql-temptable-...'").
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadbtest: create tmpdir: %w", err)
	}
	small := []string{"--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M", "--tmpdir=" + tmp}
	install := exec.CommandContext(ctx, installDB, append([]string{"--no-defaults",
		"--auth-root-authentication-method=normal", "--skip-test-db",
		"--datadir=" + filepath.Join(dir, "data"), "--user=" + currentUser()}, small...)...)
	if out, err := install.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadbtest: %s: %w\n%s", installDB, err, tail(out, 2000))
	}

	// A port picked by the kernel may be taken by someone else before mariadbd binds it: retry.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.Port = port
		args := append([]string{"--no-defaults",
			"--datadir=" + filepath.Join(dir, "data"),
			"--user=" + currentUser(),
			"--bind-address=127.0.0.1", "--port=" + strconv.Itoa(port), "--skip-networking=0",
			"--socket=" + s.socket, "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
			"--log-error=" + s.errLog,
			// Accounts are 'user'@'%' as on RDS; no DNS look-ups for 127.0.0.1.
			"--skip-name-resolve", "--skip-log-bin", "--max-connections=500",
			"--ssl-ca=" + s.CAFile,
			"--ssl-cert=" + filepath.Join(dir, "server-cert.pem"),
			"--ssl-key=" + filepath.Join(dir, "server-key.pem"),
			"--require-secure-transport=" + onOff(opts.RequireSecureTransport),
		}, small...)
		if lastErr = s.launch(ctx, server, args); lastErr == nil {
			return s, nil
		}
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// launch starts mariadbd and waits until root can log in over the socket.
func (s *Server) launch(ctx context.Context, bin string, args []string) error {
	s.cmd = exec.Command(bin, args...)
	// Pdeathsig kills the server if the test binary dies (a panic or a -timeout); it is tied to the
	// OS thread that forked, so that thread stays locked until the server exits.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.exited = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			close(s.exited)
			return
		}
		started <- nil
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("mariadbtest: start %s: %w", bin, err)
	}
	root, err := s.Root()
	if err != nil {
		s.kill()
		return err
	}
	defer root.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := root.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("mariadbtest: mariadbd exited during start-up (%v); error log:\n%s", s.waitErr, s.logTail())
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("mariadbtest: mariadbd not ready: %w; last ping: %v; error log:\n%s", ctx.Err(), err, s.logTail())
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and removes its directory.
// It is safe to call more than once.
func (s *Server) Stop() error {
	if s == nil || s.stopped.Swap(true) {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.kill()
	}
	return os.RemoveAll(s.Dir)
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Addr is host:port for TCP clients.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Root opens a pool to the server as root over the Unix socket (no password, no TLS needed).
func (s *Server) Root() (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", s.socket
	cfg.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mariadbtest: root connector: %w", err)
	}
	return sql.OpenDB(conn), nil
}

// Exec runs statements as root, in order, stopping at the first error.
func (s *Server) Exec(ctx context.Context, stmts ...string) error {
	db, err := s.Root()
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadbtest: exec %q: %w", q, err)
		}
	}
	return nil
}

// UniqueName returns prefix followed by a number unique within this server's lifetime, for test
// users and databases (MariaDB user names may be up to 80 characters).
func (s *Server) UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, s.seq.Add(1))
}

// CreateDatabase creates a database with one table t(id INT PRIMARY KEY, v VARCHAR(64)) and one row.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	return s.Exec(ctx,
		"CREATE DATABASE `"+name+"`",
		"CREATE TABLE `"+name+"`.t (id INT PRIMARY KEY, v VARCHAR(64))",
		"INSERT INTO `"+name+"`.t VALUES (1, 'one')")
}

// CreateUser creates 'name'@'%' with the password and runs each grant, written as the part between
// GRANT and TO, for example "SELECT, INSERT ON `app`.*", optionally followed by a WITH clause
// ("ALL PRIVILEGES ON *.* WITH GRANT OPTION"). name and grants are test-controlled text.
func (s *Server) CreateUser(ctx context.Context, name, password string, grants ...string) error {
	db, err := s.Root()
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE USER '"+name+"'@'%'"); err != nil {
		return fmt.Errorf("mariadbtest: create user %s: %w", name, err)
	}
	if err := SetPassword(ctx, db, "'"+name+"'@'%'", password); err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	for _, g := range grants {
		priv, with, _ := strings.Cut(g, " WITH ")
		if with != "" {
			with = " WITH " + with
		}
		if _, err := db.ExecContext(ctx, "GRANT "+priv+" TO '"+name+"'@'%'"+with); err != nil {
			return fmt.Errorf("mariadbtest: grant %s to %s: %w", g, name, err)
		}
	}
	return nil
}

// RDSMasterPrivileges are the privileges RDS for MariaDB gives an instance's master user, on *.*
// with the grant option (Amazon RDS User Guide, "Master user account privileges").
const RDSMasterPrivileges = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, " +
	"CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, " +
	"CREATE USER, EVENT, TRIGGER, REPLICATION SLAVE"

// CreateMaster sets the server up as RDS sets up a new instance: the master user with password and
// RDSMasterPrivileges, and the database dbName (none when empty). user and dbName are the
// template's text.
func (s *Server) CreateMaster(ctx context.Context, user, password, dbName string) error {
	if err := s.CreateUser(ctx, user, password, RDSMasterPrivileges+" ON *.* WITH GRANT OPTION"); err != nil {
		return err
	}
	if dbName == "" {
		return nil
	}
	return s.Exec(ctx, "CREATE DATABASE `"+strings.ReplaceAll(dbName, "`", "``")+"`")
}

// SetPassword sets the password of account (a quoted account name such as 'app'@'%') without the
// password ever being part of SQL text the client sends: MariaDB cannot prepare SET PASSWORD or
// ALTER USER, so the password goes to a session variable as a prepared-statement parameter and the
// server builds the statement with QUOTE(). A failure message therefore cannot echo the password.
func SetPassword(ctx context.Context, db *sql.DB, account, password string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("set password of %s: connect: %w", account, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET @strongroom_pw = ?", password); err != nil {
		return fmt.Errorf("set password of %s: %w", account, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET @strongroom_pw = NULL")
	stmt := "EXECUTE IMMEDIATE CONCAT('ALTER USER " + strings.ReplaceAll(account, "'", "''") + " IDENTIFIED BY ', QUOTE(@strongroom_pw))"
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("set password of %s: %w", account, err)
	}
	return nil
}

// TLSConfig is a client configuration that trusts the server's CA and checks its address.
func (s *Server) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CA.PEM)
	return &tls.Config{RootCAs: pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// Login connects over TCP with TLS as user and runs SELECT 1, returning the error if any. Tests use
// it to prove which credentials work.
func (s *Server) Login(ctx context.Context, user, password, dbname string) error {
	db, err := s.open(user, password, dbname, s.TLSConfig())
	if err != nil {
		return err
	}
	defer db.Close()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// open returns a handle that connects over TCP to dbname (none when empty) as user, with tlsConf
// (plain TCP when nil) and a 5 s dial timeout. The caller closes it.
func (s *Server) open(user, password, dbname string, tlsConf *tls.Config) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", s.Addr(), dbname
	cfg.TLS = tlsConf
	cfg.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// Main starts one server for a test binary, stores it in *srv, runs the tests and stops the server.
// Use it from TestMain: os.Exit(mariadbtest.Main(m, mariadbtest.Options{}, &srv)).
func Main(m *testing.M, opts Options, srv **Server) int {
	s, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "mariadbtest: stop:", err)
	}
	return code
}

func (s *Server) writeCerts() error {
	ca, err := NewCA("mariadbtest CA")
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.IssueServer([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"})
	if err != nil {
		return err
	}
	s.CA = ca
	if err := ca.WriteFile(s.CAFile); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "server-cert.pem"), certPEM, 0o644); err != nil {
		return fmt.Errorf("mariadbtest: write server certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "server-key.pem"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("mariadbtest: write server key: %w", err)
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.errLog)
	return tail(b, 3000)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mariadbtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func currentUser() string {
	if os.Geteuid() == 0 {
		return "root" // mariadbd refuses to run as root unless told to.
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Geteuid())
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
