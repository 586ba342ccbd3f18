package cloudhsm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Cluster states, as the API names them.
const (
	StateCreateInProgress     = "CREATE_IN_PROGRESS"
	StateUninitialized        = "UNINITIALIZED"
	StateInitializeInProgress = "INITIALIZE_IN_PROGRESS"
	StateInitialized          = "INITIALIZED"
	StateActive               = "ACTIVE"
	StateUpdateInProgress     = "UPDATE_IN_PROGRESS"
	StateModifyInProgress     = "MODIFY_IN_PROGRESS"
	StateRollbackInProgress   = "ROLLBACK_IN_PROGRESS"
	StateDeleteInProgress     = "DELETE_IN_PROGRESS"
	StateDeleted              = "DELETED"
	StateDegraded             = "DEGRADED"
)

// HSM states.
const (
	HsmCreateInProgress = "CREATE_IN_PROGRESS"
	HsmActive           = "ACTIVE"
	HsmDegraded         = "DEGRADED"
	HsmDeleteInProgress = "DELETE_IN_PROGRESS"
	HsmDeleted          = "DELETED"
)

// Exception names (all carry only Message; InternalFailure is the one 5xx).
const (
	ErrAccessDenied     = "CloudHsmAccessDeniedException"
	ErrInternalFailure  = "CloudHsmInternalFailureException"
	ErrInvalidRequest   = "CloudHsmInvalidRequestException"
	ErrResourceNotFound = "CloudHsmResourceNotFoundException"
	ErrService          = "CloudHsmServiceException"
	ErrTag              = "CloudHsmTagException"
	ErrResourceLimit    = "CloudHsmResourceLimitExceededException"
)

// Durations are how long each asynchronous step takes in sandbox time. AWS publishes no figures:
// an AWS sample says a cluster with HSMs takes "~10 to ~20 minutes", and a Terraform acceptance
// test created and deleted an empty cluster in 5.4 minutes. The
// defaults add up to about 20 minutes for create, first HSM, initialize and a second HSM, the
// upper end of that range.
type Durations struct {
	ClusterCreate time.Duration // CREATE_IN_PROGRESS -> UNINITIALIZED (or ACTIVE for a restore)
	HsmCreate     time.Duration // HSM CREATE_IN_PROGRESS -> ACTIVE
	Initialize    time.Duration // INITIALIZE_IN_PROGRESS -> INITIALIZED
	HsmDelete     time.Duration // HSM DELETE_IN_PROGRESS -> removed from the cluster
	ClusterDelete time.Duration // DELETE_IN_PROGRESS -> DELETED
	// DeletedRetention is how long a DELETED cluster stays listed by DescribeClusters (AWS keeps
	// them visible for a while; the length is undocumented).
	DeletedRetention time.Duration
	BackupCreate     time.Duration // backup CREATE_IN_PROGRESS -> READY
}

// DefaultDurations are the durations New uses.
var DefaultDurations = Durations{
	ClusterCreate:    3 * time.Minute,
	HsmCreate:        6 * time.Minute,
	Initialize:       5 * time.Minute,
	HsmDelete:        3 * time.Minute,
	ClusterDelete:    2 * time.Minute,
	DeletedRetention: 24 * time.Hour,
	BackupCreate:     4 * time.Minute,
}

// Network is the part of the sandbox's EC2 that CloudHSM needs: subnet facts, the cluster's
// security group and elastic network interfaces with a private IP from the subnet's CIDR. The
// method set copies *ec2.Service's, which satisfies it.
type Network interface {
	SubnetAZ(subnetID string) (string, error)
	SubnetVPC(subnetID string) (string, error)
	// AllocateENI creates a service-managed interface in the subnet, in the given security
	// groups, and returns its id, private IP and AZ.
	AllocateENI(subnetID, description string, groupIDs ...string) (eniID, ip, az string, err error)
	// ReleaseENI deletes an interface made by AllocateENI, returning its address to the subnet.
	ReleaseENI(eniID string) error
	// SubnetIPv6 is the subnet's IPv6 block, "" when it has none: a DUALSTACK cluster needs one
	// in every subnet.
	SubnetIPv6(subnetID string) (string, error)
	// AssignIPv6 gives an interface the next IPv6 address of its subnet (a DUALSTACK cluster's HSMs).
	AssignIPv6(eniID string) (string, error)
	// CreateGroup makes the cluster's security group (cloudhsm-cluster-<id>-sg).
	CreateGroup(vpcID, name, description string) (string, error)
	// DeleteGroup removes it when the cluster is deleted.
	DeleteGroup(groupID string) error
	// SelfRules gives the group its only rules: protocol from-to in from and out to itself.
	SelfRules(groupID, protocol string, from, to int32, description string) error
}

// Option configures a Service.
type Option func(*Service)

// WithDurations replaces the default durations.
func WithDurations(d Durations) Option { return func(s *Service) { s.dur = d } }

// WithRegion sets the region used in backup ARNs (default us-east-1).
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account used in backup ARNs (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Service is the emulated CloudHSM. It is safe for concurrent use.
type Service struct {
	core.JSONProtocol
	clock core.Clock
	net   Network
	dur   Durations
	core.Place

	mu       sync.Mutex
	clusters map[string]*cluster
	order    []string // cluster ids in creation order, for stable listing
	backups  map[string]*backup
	border   []string
	timers   *core.Timers

	rootsOnce sync.Once
	roots     *hardwareRoots
	rootsErr  error
}

// New returns an empty CloudHSM on the sandbox clock, taking HSM network interfaces from net.
func New(clock core.Clock, net Network, opts ...Option) *Service {
	s := &Service{
		JSONProtocol: identity, clock: clock, net: net, dur: DefaultDurations, Place: core.DefaultPlace,
		clusters: map[string]*cluster{}, backups: map[string]*backup{},
	}
	s.timers = core.NewTimers(clock, &s.mu)
	return core.Configure(s, opts)
}

// Close stops every pending state change. The service keeps its state but nothing moves after.
func (s *Service) Close() { s.timers.Close() }

// identity is how CloudHSM is addressed on the wire.
var identity = core.NewJSONProtocol("cloudhsmv2", "BaldrApiService", "1.1")

var (
	_ core.JSONService = (*Service)(nil)
	_ core.FaultCodes  = (*Service)(nil)
)

// InternalError implements core.FaultCodes.
func (s *Service) InternalError() *core.Error {
	return core.StatusErrorf(http.StatusInternalServerError, ErrInternalFailure, "The request was rejected because of an AWS CloudHSM internal failure. The request can be retried.")
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateCluster":     core.Handler(s.createCluster),
		"DescribeClusters":  core.Handler(s.describeClusters),
		"DeleteCluster":     core.Handler(s.deleteCluster),
		"ModifyCluster":     core.Handler(s.modifyCluster),
		"CreateHsm":         core.Handler(s.createHsm),
		"DeleteHsm":         core.Handler(s.deleteHsm),
		"InitializeCluster": core.Handler(s.initializeCluster),
		"DescribeBackups":   core.Handler(s.describeBackups),
		"TagResource":       core.Handler(s.tagResource),
		"UntagResource":     core.Handler(s.untagResource),
		"ListTags":          core.Handler(s.listTags),
	}
}

// cluster is one cluster's whole state. Guarded by Service.mu.
type cluster struct {
	id, vpcID, hsmType, mode, networkType string
	securityGroup, sourceBackupID         string
	state, stateMessage                   string
	created                               time.Time
	deleted                               time.Time
	subnets                               map[string]string // AZ -> subnet id
	retentionDays                         string
	hsms                                  []*hsm
	tags                                  []tag

	// key is the cluster's own key pair (made by the first HSM); csr, hsmCert and the hardware
	// certificates are its PEM outputs; clusterCert and trustAnchor are set by InitializeCluster.
	key                                       *keyGen
	csr, hsmCert, awsHwCert, manufacturerCert string
	clusterCert, trustAnchor                  string
	trustAnchorCert                           *x509.Certificate
	users                                     map[string]*user
	lineage                                   string // shared with clusters restored from its backups
}

type hsm struct {
	id, az, subnetID, eniID, eniIP, eniIPv6, state, stateMessage string
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// newID returns prefix + 11 characters of the base32 alphabet AWS ids use ([2-7a-z]).
func newID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [11]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b[:])
}

func notFound(kind, id string) *core.Error {
	return core.Errorf(ErrResourceNotFound, "%s '%s' not found.", kind, id)
}

func invalid(format string, args ...any) *core.Error {
	return core.Errorf(ErrInvalidRequest, format, args...)
}

// clusterLocked returns a live (not DELETED) cluster or CloudHsmResourceNotFoundException. Caller
// holds s.mu.
func (s *Service) clusterLocked(id string) (*cluster, error) {
	if id == "" {
		return nil, invalid("ClusterId is required.")
	}
	c, ok := s.clusters[id]
	if !ok || c.state == StateDeleted {
		return nil, notFound("Cluster", id)
	}
	return c, nil
}

// keyGen is a cluster key being generated off the request path: CreateCluster answers (and lists
// the cluster) at once, as AWS's does, instead of after an RSA key generation, which on a loaded
// machine took long enough that a create attempt whose caller had timed out registered its cluster
// after the retry had looked for it (a second cluster of one request, pkg/hsmcluster/delete). The
// key is needed only when the first HSM becomes ACTIVE, minutes of sandbox time later.
type keyGen struct {
	done chan struct{}
	key  *rsa.PrivateKey
	err  error
}

// generateKey starts generating an RSA 2048 key.
func generateKey() *keyGen {
	g := &keyGen{done: make(chan struct{})}
	go func() {
		defer close(g.done)
		g.key, g.err = rsa.GenerateKey(rand.Reader, 2048)
	}()
	return g
}

// wait returns the key once it is made.
func (g *keyGen) wait() (*rsa.PrivateKey, error) {
	<-g.done
	return g.key, g.err
}
