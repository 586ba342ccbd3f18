package cloudhsm

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Wire shapes (member names as in the service model).

type wireHsm struct {
	AvailabilityZone string `json:"AvailabilityZone,omitempty"`
	ClusterId        string `json:"ClusterId,omitempty"`
	SubnetId         string `json:"SubnetId,omitempty"`
	EniId            string `json:"EniId,omitempty"`
	EniIp            string `json:"EniIp,omitempty"`
	EniIpV6          string `json:"EniIpV6,omitempty"`
	HsmId            string `json:"HsmId"`
	HsmType          string `json:"HsmType,omitempty"`
	State            string `json:"State,omitempty"`
	StateMessage     string `json:"StateMessage,omitempty"`
}

type wireCertificates struct {
	ClusterCsr                      string `json:"ClusterCsr,omitempty"`
	HsmCertificate                  string `json:"HsmCertificate,omitempty"`
	AwsHardwareCertificate          string `json:"AwsHardwareCertificate,omitempty"`
	ManufacturerHardwareCertificate string `json:"ManufacturerHardwareCertificate,omitempty"`
	ClusterCertificate              string `json:"ClusterCertificate,omitempty"`
}

type wireRetention struct {
	Type  string `json:"Type,omitempty"`
	Value string `json:"Value,omitempty"`
}

type wireCluster struct {
	BackupPolicy          string            `json:"BackupPolicy,omitempty"`
	BackupRetentionPolicy *wireRetention    `json:"BackupRetentionPolicy,omitempty"`
	ClusterId             string            `json:"ClusterId"`
	CreateTimestamp       core.EpochTime    `json:"CreateTimestamp"`
	Hsms                  []wireHsm         `json:"Hsms"`
	HsmType               string            `json:"HsmType,omitempty"`
	Mode                  string            `json:"Mode,omitempty"`
	NetworkType           string            `json:"NetworkType,omitempty"`
	SecurityGroup         string            `json:"SecurityGroup,omitempty"`
	SourceBackupId        string            `json:"SourceBackupId,omitempty"`
	State                 string            `json:"State"`
	StateMessage          string            `json:"StateMessage,omitempty"`
	SubnetMapping         map[string]string `json:"SubnetMapping,omitempty"`
	VpcId                 string            `json:"VpcId,omitempty"`
	Certificates          wireCertificates  `json:"Certificates"`
	TagList               []tag             `json:"TagList,omitempty"`
}

func (c *cluster) wire() wireCluster {
	w := wireCluster{
		BackupPolicy:          "DEFAULT",
		BackupRetentionPolicy: &wireRetention{Type: "DAYS", Value: c.retentionDays},
		ClusterId:             c.id, CreateTimestamp: core.EpochTime(c.created),
		Hsms: []wireHsm{}, HsmType: c.hsmType, Mode: c.mode, NetworkType: c.networkType,
		SecurityGroup: c.securityGroup, SourceBackupId: c.sourceBackupID,
		State: c.state, StateMessage: c.stateMessage, SubnetMapping: c.subnets, VpcId: c.vpcID,
		TagList: slices.Clone(c.tags),
	}
	for _, h := range c.hsms {
		w.Hsms = append(w.Hsms, c.wireHsm(h))
	}
	// The CSR exists only while UNINITIALIZED (API reference, Certificates.ClusterCsr).
	if c.state == StateUninitialized {
		w.Certificates.ClusterCsr = c.csr
	}
	w.Certificates.HsmCertificate = c.hsmCert
	w.Certificates.AwsHardwareCertificate = c.awsHwCert
	w.Certificates.ManufacturerHardwareCertificate = c.manufacturerCert
	w.Certificates.ClusterCertificate = c.clusterCert
	return w
}

func (c *cluster) wireHsm(h *hsm) wireHsm {
	return wireHsm{
		AvailabilityZone: h.az, ClusterId: c.id, SubnetId: h.subnetID, EniId: h.eniID, EniIp: h.eniIP, EniIpV6: h.eniIPv6,
		HsmId: h.id, HsmType: c.hsmType, State: h.state, StateMessage: h.stateMessage,
	}
}

type createClusterInput struct {
	BackupRetentionPolicy *wireRetention `json:"BackupRetentionPolicy"`
	HsmType               string         `json:"HsmType"`
	Mode                  string         `json:"Mode"`
	NetworkType           string         `json:"NetworkType"`
	SourceBackupId        string         `json:"SourceBackupId"`
	SubnetIds             []string       `json:"SubnetIds"`
	TagList               []tag          `json:"TagList"`
}

var hsmTypePattern = regexp.MustCompile(`^((p|)hsm[0-9][a-z.]*\.[a-zA-Z]+)$`)

func (s *Service) createCluster(_ context.Context, in createClusterInput) (any, error) {
	switch {
	case in.HsmType == "":
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at 'hsmType' failed to satisfy constraint: Member must not be null")
	case !hsmTypePattern.MatchString(in.HsmType) || len(in.HsmType) > 32:
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'hsmType' failed to satisfy constraint: Member must satisfy regular expression pattern: ((p|)hsm[0-9][a-z.]*\\.[a-zA-Z]+)", in.HsmType)
	case in.HsmType == "hsm1.medium":
		// hsm1.medium is at end of support: "new clusters cannot be created with this type".
		return nil, invalid("HSM type hsm1.medium is no longer supported for new clusters. Use hsm2m.medium.")
	case in.HsmType != "hsm2m.medium":
		return nil, invalid("HSM type '%s' is not supported. Valid value: hsm2m.medium.", in.HsmType)
	}
	if in.Mode == "" {
		in.Mode = "FIPS"
	}
	if in.Mode != "FIPS" && in.Mode != "NON_FIPS" {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [FIPS, NON_FIPS]", in.Mode)
	}
	if in.NetworkType == "" {
		in.NetworkType = "IPV4"
	}
	if in.NetworkType != "IPV4" && in.NetworkType != "DUALSTACK" {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'networkType' failed to satisfy constraint: Member must satisfy enum value set: [IPV4, DUALSTACK]", in.NetworkType)
	}
	if len(in.SubnetIds) < 1 || len(in.SubnetIds) > 10 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'subnetIds' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	retention := "90"
	if p := in.BackupRetentionPolicy; p != nil {
		if err := checkRetention(p); err != nil {
			return nil, err
		}
		retention = p.Value
	}
	if err := checkTags(in.TagList); err != nil {
		return nil, err
	}

	// Subnets: one per AZ, all in one VPC.
	subnets := map[string]string{}
	vpc := ""
	for _, id := range in.SubnetIds {
		v, err := s.net.SubnetVPC(id)
		if err != nil {
			return nil, invalid("Subnet '%s' does not exist or is not accessible.", id)
		}
		az, err := s.net.SubnetAZ(id)
		if err != nil {
			return nil, invalid("Subnet '%s' does not exist or is not accessible.", id)
		}
		if vpc != "" && v != vpc {
			return nil, invalid("All subnets must be in the same VPC; '%s' is in %s, not %s.", id, v, vpc)
		}
		vpc = v
		if prev, dup := subnets[az]; dup {
			return nil, invalid("Subnets '%s' and '%s' are both in availability zone %s; specify at most one subnet per availability zone.", prev, id, az)
		}
		subnets[az] = id
		// A dual-stack cluster's HSMs take an IPv6 address too: every subnet needs an IPv6 block.
		if in.NetworkType == "DUALSTACK" {
			if v6, err := s.net.SubnetIPv6(id); err != nil || v6 == "" {
				return nil, invalid("Subnet '%s' has no IPv6 CIDR block; NetworkType DUALSTACK needs subnets with both IPv4 and IPv6 CIDR blocks.", id)
			}
		}
	}

	// The cluster key is made off the request path (keyGen); it stays internal until the first
	// HSM is ACTIVE.
	key := generateKey()
	if _, err := s.hardware(); err != nil {
		return nil, core.StatusErrorf(http.StatusInternalServerError, ErrInternalFailure, "make the hardware roots: %v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var src *backup
	if in.SourceBackupId != "" {
		b, ok := s.backups[in.SourceBackupId]
		if !ok || b.state == BackupDeleted {
			return nil, notFound("Backup", in.SourceBackupId)
		}
		if b.state != BackupReady {
			return nil, invalid("Backup '%s' is in state %s; only READY backups can be restored.", b.id, b.state)
		}
		src = b
	}
	c := &cluster{
		id: newID("cluster-"), vpcID: vpc, hsmType: in.HsmType, mode: in.Mode, networkType: in.NetworkType,
		state: StateCreateInProgress, created: s.clock.Now(), subnets: subnets, retentionDays: retention,
		tags: slices.Clone(in.TagList), users: initialUsers(), key: key,
	}
	c.lineage = c.id
	sg, err := s.net.CreateGroup(vpc, "cloudhsm-cluster-"+c.id+"-sg", "AWS CloudHSM cluster "+c.id)
	if err != nil {
		return nil, core.StatusErrorf(http.StatusInternalServerError, ErrInternalFailure, "create the security group of %s: %v", c.id, err)
	}
	c.securityGroup = sg
	// AWS's rules for the group: the HSMs' ports, from and to the group itself. A client outside
	// the group reaches the HSMs only once a rule lets its own group in.
	if err := s.net.SelfRules(sg, "tcp", 2223, 2225, "AWS CloudHSM cluster "+c.id); err != nil {
		_ = s.net.DeleteGroup(sg)
		return nil, core.StatusErrorf(http.StatusInternalServerError, ErrInternalFailure, "set the rules of the security group of %s: %v", c.id, err)
	}
	if src != nil {
		// A restored cluster carries its source's identity: certificates, users and lineage.
		c.sourceBackupID = src.id
		c.mode, c.hsmType = src.mode, src.hsmType
		c.clusterCert, c.trustAnchor, c.trustAnchorCert = src.clusterCert, src.trustAnchor, src.trustAnchorCert
		c.hsmCert, c.awsHwCert, c.manufacturerCert = src.hsmCert, src.awsHwCert, src.manufacturerCert
		c.users = cloneUsers(src.users)
		c.lineage = src.lineage
	}
	s.clusters[c.id] = c
	s.order = append(s.order, c.id)
	s.timers.Later(s.dur.ClusterCreate, func() {
		if c.state != StateCreateInProgress {
			return
		}
		if src != nil {
			c.state, c.stateMessage = StateActive, ""
			return
		}
		c.state, c.stateMessage = StateUninitialized, ""
	})
	return map[string]any{"Cluster": c.wire()}, nil
}

type describeClustersInput struct {
	Filters    map[string][]string `json:"Filters"`
	MaxResults *int                `json:"MaxResults"`
	NextToken  string              `json:"NextToken"`
}

func (s *Service) describeClusters(_ context.Context, in describeClustersInput) (any, error) {
	for k := range in.Filters {
		if k != "clusterIds" && k != "states" && k != "vpcIds" {
			return nil, invalid("Invalid filter '%s'. Valid filters: clusterIds, states, vpcIds.", k)
		}
	}
	start, limit, err := page(in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireDeletedLocked()
	var all []wireCluster
	for _, id := range s.order {
		c, ok := s.clusters[id]
		if !ok || !match(in.Filters["clusterIds"], c.id) || !match(in.Filters["states"], c.state) || !match(in.Filters["vpcIds"], c.vpcID) {
			continue
		}
		all = append(all, c.wire())
	}
	return cut(all, start, limit, "Clusters"), nil
}

// expireDeletedLocked forgets DELETED clusters older than the retention.
func (s *Service) expireDeletedLocked() {
	now := s.clock.Now()
	s.order = slices.DeleteFunc(s.order, func(id string) bool {
		c := s.clusters[id]
		if c.state == StateDeleted && now.Sub(c.deleted) > s.dur.DeletedRetention {
			delete(s.clusters, id)
			return true
		}
		return false
	})
}

func match(values []string, v string) bool {
	return len(values) == 0 || slices.Contains(values, v)
}

// page reads MaxResults (1-max, default all) and NextToken (an opaque offset).
func page(max *int, token string) (start, limit int, err error) {
	limit = 1 << 30
	if max != nil {
		if *max < 1 || *max > 25 {
			return 0, 0, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 25", *max)
		}
		limit = *max
	}
	if token != "" {
		n, ok := core.ParseOffsetToken(token)
		if !ok {
			return 0, 0, invalid("The NextToken '%s' is not valid.", token)
		}
		start = n
	}
	return start, limit, nil
}

// cut answers one page of a list: the page of all from start, named key, and NextToken when
// another page follows.
func cut[T any](all []T, start, limit int, key string) map[string]any {
	items, end := core.Window(all, start, limit)
	out := map[string]any{key: items}
	if end < len(all) {
		out["NextToken"] = core.OffsetToken(end)
	}
	return out
}

type clusterIDInput struct {
	ClusterId string `json:"ClusterId"`
}

// checkRetention refuses a backup retention policy CloudHSM would refuse.
func checkRetention(p *wireRetention) error {
	if p.Type != "" && p.Type != "DAYS" {
		return core.Errorf("ValidationException", "BackupRetentionPolicy.Type must be DAYS")
	}
	if n, err := strconv.Atoi(p.Value); err != nil || n < 7 || n > 379 {
		return invalid("Backup retention policy value '%s' is not valid. It must be a number of days between 7 and 379.", p.Value)
	}
	return nil
}

type modifyClusterInput struct {
	BackupRetentionPolicy *wireRetention `json:"BackupRetentionPolicy"`
	ClusterId             string         `json:"ClusterId"`
}

// modifyCluster changes a cluster's backup retention policy (ModifyCluster's one required
// setting), in any state but deleted or being deleted.
func (s *Service) modifyCluster(_ context.Context, in modifyClusterInput) (any, error) {
	if in.BackupRetentionPolicy == nil {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at 'backupRetentionPolicy' failed to satisfy constraint: Member must not be null")
	}
	if err := checkRetention(in.BackupRetentionPolicy); err != nil {
		return nil, err
	}
	return core.Locked(&s.mu, s.clusterLocked, in.ClusterId, func(c *cluster) (any, error) {
		if c.state == StateDeleteInProgress || c.state == StateDeleted {
			return nil, invalid("Cluster '%s' is in state %s and cannot be modified.", c.id, c.state)
		}
		c.retentionDays = in.BackupRetentionPolicy.Value
		return map[string]any{"Cluster": c.wire()}, nil
	})
}

func (s *Service) deleteCluster(_ context.Context, in clusterIDInput) (any, error) {
	return core.Locked(&s.mu, s.clusterLocked, in.ClusterId, func(c *cluster) (any, error) {
		if c.state == StateDeleteInProgress {
			return nil, invalid("Cluster '%s' is already being deleted.", c.id)
		}
		if c.state == StateCreateInProgress || c.state == StateInitializeInProgress {
			return nil, invalid("Cluster '%s' is in state %s and cannot be deleted now.", c.id, c.state)
		}
		if len(c.hsms) > 0 {
			return nil, invalid("Cluster '%s' still contains %d HSM(s). Delete all HSMs in the cluster before deleting the cluster.", c.id, len(c.hsms))
		}
		c.state, c.stateMessage = StateDeleteInProgress, "The cluster is being deleted."
		s.timers.Later(s.dur.ClusterDelete, func() {
			c.state, c.stateMessage, c.deleted = StateDeleted, "", s.clock.Now()
			c.key = nil
			_ = s.net.DeleteGroup(c.securityGroup)
		})
		return map[string]any{"Cluster": c.wire()}, nil
	})
}
