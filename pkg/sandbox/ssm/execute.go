package ssm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
)

// run is one emulated execution of a Strongroom script: it prints what the script prints and
// stops at the first failure, as `set -e` and the script's fail() do.
type run struct {
	s        *Service
	ctx      context.Context
	v        map[string]string
	out, err strings.Builder
}

// failed ends the script: cloudhsm-cli's JSON (when a CLI call failed) on stdout and the script's
// "strongroom:" line on stderr.
type failed struct{}

func (r *run) fail(format string, args ...any) {
	fmt.Fprintf(&r.err, "strongroom: "+format+"\n", args...)
	panic(failed{})
}

// cliError prints cloudhsm-cli's error JSON for err, then fails the script with msg.
func (r *run) cliError(err error, msg string, args ...any) {
	fmt.Fprintf(&r.out, "{\n  \"error_code\": 1,\n  \"data\": %q\n}\n", cliMessage(err))
	r.fail(msg, args...)
}

// cliMessage words a cluster error as cloudhsm-cli would; no error carries a secret.
func cliMessage(err error) string {
	switch {
	case errors.Is(err, cloudhsm.ErrCAMismatch):
		return "Failed to connect to the cluster: the HSM's certificate does not verify against /opt/cloudhsm/etc/customerCA.crt"
	case errors.Is(err, cloudhsm.ErrNoActiveHsm), errors.Is(err, cloudhsm.ErrClusterNotFound):
		return "Failed to connect to the cluster: no HSM answered"
	case errors.Is(err, cloudhsm.ErrInvalidCredentials):
		return "Login failed: invalid username or password"
	case errors.Is(err, cloudhsm.ErrUserLockedOut):
		return "Login failed: the user is locked out"
	}
	msg := err.Error()
	return strings.ToUpper(msg[:1]) + msg[1:]
}

func (r *run) secret(arn string) string {
	v, err := r.s.secrets.SecretString(r.ctx, arn)
	if err != nil {
		fmt.Fprintf(&r.err, "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret.\n")
		r.fail("cannot read secret %s with the instance role", arn)
	}
	return strings.TrimRight(v, "\n")
}

// installCA is install_ca: the CA certificate the client will trust.
func (r *run) installCA() string {
	arn := r.v["CustomerCaCertSecretArn"]
	pem := r.secret(arn)
	if !strings.Contains(pem, "-----BEGIN CERTIFICATE-----") {
		r.fail("secret %s is not a PEM certificate", arn)
	}
	fmt.Fprintf(&r.out, "installed the customer CA certificate at /opt/cloudhsm/etc/customerCA.crt\n")
	return pem
}

// configure is configure-cli -a HsmIp. The CLI then reaches the cluster only through an ACTIVE
// HSM at that address, over TLS checked against the installed customerCA.crt.
func (r *run) configure(caPEM string) {
	fmt.Fprintf(&r.out, "cloudhsm-cli configured for cluster %s at %s\n", r.v["ClusterId"], r.v["HsmIp"])
	if err := r.s.hsm.ConnectClient(r.v["ClusterId"], r.v["HsmIp"], caPEM); err != nil {
		msg := cliMessage(err)
		if errors.Is(err, cloudhsm.ErrNoActiveHsm) || errors.Is(err, cloudhsm.ErrClusterNotFound) {
			msg = "Failed to connect to the cluster: no HSM answered at " + r.v["HsmIp"]
		}
		fmt.Fprintf(&r.out, "{\n  \"error_code\": 1,\n  \"data\": %q\n}\n", msg)
		if errors.Is(err, cloudhsm.ErrCAMismatch) {
			r.fail("cloudhsm-cli cannot verify the HSM of %s with the customer CA in %s", r.v["ClusterId"], r.v["CustomerCaCertSecretArn"])
		}
		r.fail("cloudhsm-cli cannot reach an ACTIVE HSM of %s at %s", r.v["ClusterId"], r.v["HsmIp"])
	}
}

func (r *run) users() []cloudhsm.User {
	users, err := r.s.hsm.Users(r.v["ClusterId"])
	if err != nil {
		r.cliError(err, "user list failed for %s", r.v["ClusterId"])
	}
	return users
}

func (r *run) find(name string) (cloudhsm.User, bool) {
	for _, u := range r.users() {
		if u.Name == strings.ToLower(name) {
			return u, true
		}
	}
	return cloudhsm.User{}, false
}

func (r *run) ok(format string, args ...any) {
	fmt.Fprintf(&r.out, "{\n  \"error_code\": 0,\n  \"data\": %q\n}\n", fmt.Sprintf(format, args...))
}

// execute runs c's document on the instance and reports its output and success.
func (s *Service) execute(c *command) (stdout, stderr string, ok bool) {
	r := &run{s: s, v: c.values}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.ctx = ctx
	defer func() {
		if p := recover(); p != nil {
			if _, isFail := p.(failed); !isFail {
				panic(p)
			}
			stdout, stderr, ok = r.out.String(), r.err.String(), false
		}
	}()
	cluster := r.v["ClusterId"]
	switch c.doc.strongroom {
	case hsmdocs.ActivateCluster:
		ca := r.installCA()
		r.configure(ca)
		pw := r.secret(r.v["AdminPasswordSecretArn"])
		if admin, found := r.find("admin"); found && admin.Role == cloudhsm.RoleAdmin {
			if err := s.hsm.Login(cluster, cloudhsm.Credentials{Role: cloudhsm.RoleAdmin, User: "admin", Password: pw}); err != nil {
				r.cliError(err, "cluster %s is already activated and the admin password in %s does not log in", cluster, r.v["AdminPasswordSecretArn"])
			}
			fmt.Fprintf(&r.out, "cluster %s is already activated with this admin password\n", cluster)
			return r.out.String(), r.err.String(), true
		}
		if err := s.hsm.Activate(cluster, ca, pw); err != nil {
			r.cliError(err, "cluster activate failed for %s", cluster)
		}
		r.ok("Cluster activation successful")
		fmt.Fprintf(&r.out, "cluster %s activated\n", cluster)
	case hsmdocs.CreateCryptoUser, hsmdocs.DeleteCryptoUser, hsmdocs.ChangeCryptoUserPassword:
		r.cryptoUser(c.doc.strongroom, cluster)
	default:
		fmt.Fprintf(&r.err, "sandbox: the emulated instance runs only Strongroom's documents (package hsmdocs); %s has other content\n", c.docName)
		return "", r.err.String(), false
	}
	return r.out.String(), r.err.String(), true
}

// cryptoUser runs the documents that manage a crypto user as the scripts do: configure the
// client, read the admin password and (to create a user or change its password) the user's, and
// act only when the user's existence calls for it.
func (r *run) cryptoUser(doc, cluster string) {
	s := r.s
	r.configure(r.installCA())
	name := r.v["UserName"]
	adminPW := r.secret(r.v["AdminPasswordSecretArn"])
	var userPW string
	if doc != hsmdocs.DeleteCryptoUser {
		userPW = r.secret(r.v["UserPasswordSecretArn"])
	}
	_, found := r.find(name)
	switch doc {
	case hsmdocs.CreateCryptoUser:
		if found {
			if err := s.hsm.Login(cluster, cloudhsm.Credentials{Role: cloudhsm.RoleCryptoUser, User: name, Password: userPW}); err != nil {
				r.cliError(err, "crypto user %s already exists in cluster %s", name, cluster)
			}
			fmt.Fprintf(&r.out, "crypto user %s already exists with the password in %s\n", name, r.v["UserPasswordSecretArn"])
			return
		}
		r.userCommand(s.hsm.CreateUser(cluster, admin(adminPW), name, cloudhsm.RoleCryptoUser, userPW), "create", name, "created")
		fmt.Fprintf(&r.out, "crypto user %s created\n", name)
	case hsmdocs.DeleteCryptoUser:
		if !found {
			fmt.Fprintf(&r.out, "crypto user %s does not exist; nothing to delete\n", name)
			return
		}
		r.userCommand(s.hsm.DeleteUser(cluster, admin(adminPW), name, cloudhsm.RoleCryptoUser), "delete", name, "deleted")
		fmt.Fprintf(&r.out, "crypto user %s deleted\n", name)
	case hsmdocs.ChangeCryptoUserPassword:
		if !found {
			r.fail("crypto user %s does not exist in cluster %s", name, cluster)
		}
		r.userCommand(s.hsm.ChangePassword(cluster, admin(adminPW), name, cloudhsm.RoleCryptoUser, userPW), "change-password", name, "password changed")
		fmt.Fprintf(&r.out, "password of crypto user %s changed\n", name)
	}
}

// userCommand reports cloudhsm-cli's `user <command>` on name: the failure err says, or the
// success message ("User <name> <done>").
func (r *run) userCommand(err error, command, name, done string) {
	if err != nil {
		r.cliError(err, "user %s %s failed", command, name)
	}
	r.ok("User %s %s", strings.ToLower(name), done)
}

func admin(pw string) cloudhsm.Credentials {
	return cloudhsm.Credentials{Role: cloudhsm.RoleAdmin, User: "admin", Password: pw}
}
