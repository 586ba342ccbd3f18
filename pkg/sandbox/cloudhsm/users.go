package cloudhsm

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// HSM user roles as cloudhsm-cli's `user list` shows them.
const (
	RoleUnactivatedAdmin = "unactivated-admin"
	RoleAdmin            = "admin"
	RoleCryptoUser       = "crypto-user"
	RoleAppliance        = "internal(APPLIANCE_USER)"
)

// maxFailedLogins locks a user out (cloudhsm-cli login documentation: five attempts).
const maxFailedLogins = 5

// Errors of the Go API, for callers (the SSM and KMS emulators) to branch on. The texts follow
// cloudhsm-cli's where it has one.
var (
	ErrClusterNotFound    = errors.New("cluster not found")
	ErrInvalidState       = errors.New("cluster is not in a state that allows this")
	ErrNoActiveHsm        = errors.New("no active HSM is reachable in the cluster")
	ErrCAMismatch         = errors.New("the customer CA certificate does not match the cluster's trust anchor")
	ErrUserNotFound       = errors.New("user not found")
	ErrUserExists         = errors.New("user already exists")
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrUserLockedOut      = errors.New("user is locked out")
	ErrUserLoggedIn       = errors.New("user is logged in on the cluster")
	ErrUserOwnsKeys       = errors.New("user owns keys")
	ErrPermissionDenied   = errors.New("the logged-in role may not do this")
	ErrInvalidPassword    = errors.New("password must be 8 to 32 characters")
	ErrInvalidUserName    = errors.New("user name must be 1 to 31 characters: letters, digits and _")
)

// user is one HSM user. The password is kept only as a salted PBKDF2-SHA256 hash.
type user struct {
	name, role string
	salt, hash []byte
	failed     int
	locked     bool
	sessions   int // open logins (KMS stays logged in as kmsuser while connected)
	keys       int // keys the user owns (KMS keys of a custom key store belong to kmsuser)
}

// User is what `cloudhsm-cli user list` shows about a user.
type User struct {
	Name      string
	Role      string
	LockedOut bool
	LoggedIn  bool
	Keys      int
}

// Credentials log in to the cluster as cloudhsm-cli does with CLOUDHSM_ROLE and CLOUDHSM_PIN.
type Credentials struct {
	Role     string
	User     string
	Password string
}

func initialUsers() map[string]*user {
	return map[string]*user{
		"admin":    {name: "admin", role: RoleUnactivatedAdmin},
		"app_user": {name: "app_user", role: RoleAppliance},
	}
}

func cloneUsers(in map[string]*user) map[string]*user {
	out := make(map[string]*user, len(in))
	for k, u := range in {
		c := *u
		c.sessions = 0
		out[k] = &c
	}
	return out
}

func hashPassword(salt []byte, password string) []byte {
	h, err := pbkdf2.Key(sha256.New, password, salt, 4096, 32)
	if err != nil {
		panic("pbkdf2: " + err.Error()) // only for invalid parameters, which are constant here
	}
	return h
}

func (u *user) setPassword(password string) {
	u.salt = make([]byte, 16)
	_, _ = rand.Read(u.salt)
	u.hash = hashPassword(u.salt, password)
}

func (u *user) check(password string) bool {
	return u.hash != nil && subtle.ConstantTimeCompare(hashPassword(u.salt, password), u.hash) == 1
}

var userNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_]{1,31}$`)

// checkPassword applies the current HSM password rule (8-32 characters).
func checkPassword(p string) error {
	if len(p) < 8 || len(p) > 32 {
		return ErrInvalidPassword
	}
	return nil
}

// liveCluster finds a cluster for the Go API. Caller holds s.mu.
func (s *Service) liveCluster(id string) (*cluster, error) {
	c, ok := s.clusters[id]
	if !ok || c.state == StateDeleted || c.state == StateDeleteInProgress {
		return nil, fmt.Errorf("%w: %s", ErrClusterNotFound, id)
	}
	if !slices.ContainsFunc(c.hsms, func(h *hsm) bool { return h.state == HsmActive }) {
		return nil, fmt.Errorf("%w: cluster %s", ErrNoActiveHsm, id)
	}
	return c, nil
}

// Activate is cloudhsm-cli's `cluster activate`, run on a client whose customerCA.crt is caCertPEM:
// the unactivated admin gets the password, the cluster becomes ACTIVE and a backup is taken.
func (s *Service) Activate(clusterID, caCertPEM, adminPassword string) error {
	return core.LockedDo(&s.mu, s.liveCluster, clusterID, func(c *cluster) error {
		if err := s.checkCA(c, caCertPEM); err != nil {
			return err
		}
		if c.state != StateInitialized {
			if c.state == StateActive {
				return fmt.Errorf("%w: cluster %s is already activated", ErrInvalidState, c.id)
			}
			return fmt.Errorf("%w: cluster %s is %s, activation needs INITIALIZED", ErrInvalidState, c.id, c.state)
		}
		if err := checkPassword(adminPassword); err != nil {
			return err
		}
		admin := c.users["admin"]
		admin.role = RoleAdmin
		admin.setPassword(adminPassword)
		c.state, c.stateMessage = StateActive, ""
		s.newBackupLocked(c)
		return nil
	})
}

// checkCA is what the client's TLS to the HSM decides: the HSM presents the cluster certificate,
// which must verify against the client's customerCA.crt.
func (s *Service) checkCA(c *cluster, caCertPEM string) error {
	if c.trustAnchorCert == nil {
		return fmt.Errorf("%w: cluster %s is not initialized", ErrInvalidState, c.id)
	}
	ca, err := parseOneCert(caCertPEM, "customerCA.crt")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCAMismatch, err)
	}
	if !bytes.Equal(ca.Raw, c.trustAnchorCert.Raw) {
		return ErrCAMismatch
	}
	return nil
}

// ConnectClient is what a client's first cloudhsm-cli command does after `configure-cli -a
// hsmIP`: reach that HSM (it must be ACTIVE in the cluster) and verify its certificate against
// the client's customerCA.crt (caCertPEM), which must be the cluster's trust anchor.
func (s *Service) ConnectClient(clusterID, hsmIP, caCertPEM string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterID]
	if !ok || c.state == StateDeleted {
		return fmt.Errorf("%w: %s", ErrClusterNotFound, clusterID)
	}
	if !slices.ContainsFunc(c.hsms, func(h *hsm) bool { return h.eniIP == hsmIP && h.state == HsmActive }) {
		return fmt.Errorf("%w: no ACTIVE HSM of %s at %s", ErrNoActiveHsm, clusterID, hsmIP)
	}
	return s.checkCA(c, caCertPEM)
}

// ClusterAt names the cluster whose HSM has the ENI address hsmIP, as a client configured with
// `configure-cli -a <ip>` finds it: the real client learns nothing else. An address no HSM of a
// live cluster has is ErrNoActiveHsm.
func (s *Service) ClusterAt(hsmIP string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.clusters {
		if c.state != StateDeleted && slices.ContainsFunc(c.hsms, func(h *hsm) bool { return h.eniIP == hsmIP }) {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: no HSM answers at %s", ErrNoActiveHsm, hsmIP)
}

// user finds a user of the cluster by name (user names are lower-case) and, unless role is "",
// role. Caller holds s.mu.
func (c *cluster) user(name, role string) (*user, error) {
	name = strings.ToLower(name)
	u, ok := c.users[name]
	if !ok || (role != "" && u.role != role) {
		return nil, fmt.Errorf("%w: %s", ErrUserNotFound, name)
	}
	return u, nil
}

// loginLocked checks credentials as a cloudhsm-cli login does, counting failures.
func loginLocked(c *cluster, cr Credentials) (*user, error) {
	u, ok := c.users[strings.ToLower(cr.User)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUserNotFound, cr.User)
	}
	if u.locked {
		return nil, fmt.Errorf("%w: %s", ErrUserLockedOut, u.name)
	}
	if cr.Role != "" && cr.Role != u.role {
		return nil, fmt.Errorf("%w: %s is not a %s", ErrInvalidCredentials, u.name, cr.Role)
	}
	if !u.check(cr.Password) {
		u.failed++
		if u.failed >= maxFailedLogins {
			u.locked = true
		}
		return nil, fmt.Errorf("%w (user %s)", ErrInvalidCredentials, u.name)
	}
	u.failed = 0
	return u, nil
}

// adminLocked logs in and requires the admin role for user management.
func (s *Service) adminLocked(clusterID string, login Credentials) (*cluster, error) {
	c, err := s.liveCluster(clusterID)
	if err != nil {
		return nil, err
	}
	if c.state != StateActive && c.state != StateDegraded {
		return nil, fmt.Errorf("%w: cluster %s is %s, user management needs ACTIVE", ErrInvalidState, c.id, c.state)
	}
	u, err := loginLocked(c, login)
	if err != nil {
		return nil, err
	}
	if u.role != RoleAdmin {
		return nil, fmt.Errorf("%w: %s has role %s", ErrPermissionDenied, u.name, u.role)
	}
	return c, nil
}

// asAdmin is adminLocked as a lookup by cluster id, logging in with login.
func (s *Service) asAdmin(login Credentials) func(clusterID string) (*cluster, error) {
	return func(clusterID string) (*cluster, error) { return s.adminLocked(clusterID, login) }
}

// CreateUser is `user create --username name --role role --password pw`, run as login.
func (s *Service) CreateUser(clusterID string, login Credentials, name, role, password string) error {
	return core.LockedDo(&s.mu, s.asAdmin(login), clusterID, func(c *cluster) error {
		if !userNamePattern.MatchString(name) {
			return ErrInvalidUserName
		}
		if role != RoleAdmin && role != RoleCryptoUser {
			return fmt.Errorf("%w: role %q (use admin or crypto-user)", ErrPermissionDenied, role)
		}
		if err := checkPassword(password); err != nil {
			return err
		}
		name = strings.ToLower(name) // cloudhsm-cli lower-cases user names
		if _, ok := c.users[name]; ok {
			return fmt.Errorf("%w: %s", ErrUserExists, name)
		}
		u := &user{name: name, role: role}
		u.setPassword(password)
		c.users[name] = u
		return nil
	})
}

// DeleteUser is `user delete --username name --role role`, run as login. A user who owns keys or
// is logged in cannot be deleted.
func (s *Service) DeleteUser(clusterID string, login Credentials, name, role string) error {
	return core.LockedDo(&s.mu, s.asAdmin(login), clusterID, func(c *cluster) error {
		u, err := c.user(name, role)
		if err != nil {
			return err
		}
		name = u.name
		if u.role == RoleAppliance || name == strings.ToLower(login.User) {
			return fmt.Errorf("%w: cannot delete %s", ErrPermissionDenied, name)
		}
		if u.keys > 0 {
			return fmt.Errorf("%w: %s owns %d key(s)", ErrUserOwnsKeys, name, u.keys)
		}
		if u.sessions > 0 {
			return fmt.Errorf("%w: %s", ErrUserLoggedIn, name)
		}
		delete(c.users, name)
		return nil
	})
}

// ChangePassword is `user change-password --username name --role role --password new`: an admin
// may change anyone's, any user their own. It also clears a lock-out, as an admin reset does.
func (s *Service) ChangePassword(clusterID string, login Credentials, name, role, newPassword string) error {
	return core.LockedDo(&s.mu, s.liveCluster, clusterID, func(c *cluster) error {
		if c.state != StateActive && c.state != StateDegraded {
			return fmt.Errorf("%w: cluster %s is %s", ErrInvalidState, c.id, c.state)
		}
		who, err := loginLocked(c, login)
		if err != nil {
			return err
		}
		u, err := c.user(name, role)
		if err != nil {
			return err
		}
		if who.role != RoleAdmin && who != u {
			return fmt.Errorf("%w: %s may change only its own password", ErrPermissionDenied, who.name)
		}
		if u.sessions > 0 {
			// "You cannot change the password of a user who is currently logged in to the cluster."
			return fmt.Errorf("%w: %s", ErrUserLoggedIn, u.name)
		}
		if err := checkPassword(newPassword); err != nil {
			return err
		}
		u.setPassword(newPassword)
		u.failed, u.locked = 0, false
		return nil
	})
}

// Login checks a user's password on the cluster as a client login does (failures count towards
// the lock-out). It needs an ACTIVE HSM. It opens no session; see OpenSession.
func (s *Service) Login(clusterID string, cr Credentials) error {
	return core.LockedDo(&s.mu, s.liveCluster, clusterID, func(c *cluster) error {
		_, err := loginLocked(c, cr)
		return err
	})
}

// OpenSession logs a user in and keeps the session open, as KMS does with kmsuser while a key
// store is connected. It fails with ErrUserLoggedIn when the user already has a session.
func (s *Service) OpenSession(clusterID string, cr Credentials) error {
	return core.LockedDo(&s.mu, s.liveCluster, clusterID, func(c *cluster) error {
		if u, ok := c.users[strings.ToLower(cr.User)]; ok && u.sessions > 0 {
			return fmt.Errorf("%w: %s", ErrUserLoggedIn, u.name)
		}
		u, err := loginLocked(c, cr)
		if err != nil {
			return err
		}
		u.sessions++
		return nil
	})
}

// CloseSession ends a session opened by OpenSession. Unknown clusters or users are ignored: the
// cluster may be gone already.
func (s *Service) CloseSession(clusterID, userName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clusters[clusterID]; ok {
		if u, ok := c.users[strings.ToLower(userName)]; ok && u.sessions > 0 {
			u.sessions--
		}
	}
}

// SetOwnPassword changes a logged-in user's password with its current one, as KMS rotates
// kmsuser's password on connect.
func (s *Service) SetOwnPassword(clusterID, userName, current, next string) error {
	return s.ChangePassword(clusterID, Credentials{User: userName, Password: current}, userName, "", next)
}

// AdjustKeys records keys created (delta > 0) or destroyed (delta < 0) on the HSMs for owner.
func (s *Service) AdjustKeys(clusterID, owner string, delta int) error {
	return core.LockedDo(&s.mu, s.knownCluster, clusterID, func(c *cluster) error {
		u, err := c.user(owner, "")
		if err != nil {
			return err
		}
		u.keys = max(0, u.keys+delta)
		return nil
	})
}

// Users is `user list`: every user of the cluster, sorted by name.
func (s *Service) Users(clusterID string) ([]User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterID]
	if !ok || c.state == StateDeleted {
		return nil, fmt.Errorf("%w: %s", ErrClusterNotFound, clusterID)
	}
	var out []User
	for _, u := range c.users {
		out = append(out, User{Name: u.name, Role: u.role, LockedOut: u.locked, LoggedIn: u.sessions > 0, Keys: u.keys})
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
